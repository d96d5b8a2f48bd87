//! The one request path: every request of the cluster layer is sent here, retried while it
//! fails transiently (see `retry`), and answered as bytes.

use kube::client::Body;
use kube::core::Status;

use super::client::Cluster;
use super::retry::{self, Failure};

/// Sends a request, retried while it fails transiently (see `retry`), and gives the body of
/// the answer. Every request of the cluster layer but deletes and the lease's goes through here.
pub(super) async fn send_bytes(
    cluster: &Cluster,
    request: http::Request<Vec<u8>>,
    what: impl Fn() -> String,
) -> Result<Vec<u8>, kube::Error> {
    let (parts, body) = request.into_parts();
    retry::run(&cluster.retries, what, || {
        send_once(&cluster.client, copy_request(&parts, &body))
    })
    .await
}

pub(super) fn copy_request(parts: &http::request::Parts, body: &[u8]) -> http::Request<Body> {
    let mut copy = http::Request::new(Body::from(body.to_vec()));
    *copy.method_mut() = parts.method.clone();
    *copy.uri_mut() = parts.uri.clone();
    *copy.version_mut() = parts.version;
    *copy.headers_mut() = parts.headers.clone();
    copy
}

/// One attempt. An error answer becomes `kube::Error::Api` as kube makes it, and keeps the
/// server's `Retry-After` (kube's own request functions drop the headers).
pub(super) async fn send_once(
    client: &kube::Client,
    request: http::Request<Body>,
) -> Result<Vec<u8>, Failure> {
    let response = client.send(request).await?;
    let code = response.status();
    let retry_after = retry::retry_after(response.headers());
    let body = response.into_body().collect_bytes().await?.to_vec();
    if !(code.is_client_error() || code.is_server_error()) {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body);
    let mut status = serde_json::from_str::<Status>(&text).unwrap_or_else(|_| {
        Status::failure(text.trim(), "Failed to parse error data").with_code(code.as_u16())
    });
    if status.code == 0 {
        status.code = code.as_u16();
    }
    let mut failure = Failure::from(kube::Error::Api(status.boxed()));
    failure.retry_after = retry_after.or(failure.retry_after);
    Err(failure)
}
