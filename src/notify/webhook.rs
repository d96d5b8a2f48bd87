//! Posting a JSON body to an incoming webhook, with bounded retries.
//!
//! The webhook URL is a credential (whoever has it may post to the channel): it, its host and
//! its path never appear in an error or a log line. Errors are built from what went wrong, not
//! from reqwest's text, and whatever text of a lower layer is kept is scrubbed of the URL's
//! parts.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{redirect, Client, StatusCode, Url};
use serde_json::Value;

/// Longest `Retry-After` obeyed; a longer one waits this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Bytes of an error answer read, to quote a short one (`no_service`, `invalid_payload`).
const MAX_ANSWER_READ: usize = 1024;
/// Longest error answer quoted, in chars.
const MAX_ANSWER_SHOWN: usize = 200;

/// How to post to a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Per attempt: connecting, sending and reading the answer (default 10 s).
    pub timeout: Duration,
    /// Attempts in all, at least one (default 3).
    pub attempts: u32,
    /// Wait before the second attempt, doubled before each next one (default 1 s). A 429's
    /// `Retry-After` (up to 30 s) is waited instead when longer.
    pub backoff: Duration,
}

impl Default for Webhook {
    fn default() -> Self {
        Webhook {
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Why a post failed. No variant holds or shows the URL.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the webhook URL is not a valid http(s) URL")]
    InvalidUrl,
    #[error("could not set up the HTTP client for the webhook: {detail}")]
    Client { detail: String },
    #[error(
        "the webhook answered HTTP {status}{}, a redirect: redirects are not followed, give the \
         webhook's final URL",
        with_space(reason)
    )]
    Redirect { status: u16, reason: String },
    #[error("{}", status_message(*status, reason, answer.as_deref(), *attempts))]
    Status {
        status: u16,
        reason: String,
        /// The start of the answer's body, when short, on one line and free of the URL's parts.
        answer: Option<String>,
        attempts: u32,
    },
    #[error(
        "the webhook did not answer within {} ({})",
        show_duration(*timeout),
        count_attempts(*attempts)
    )]
    Timeout { timeout: Duration, attempts: u32 },
    #[error("could not connect to the webhook: {detail} ({})", count_attempts(*attempts))]
    Connect { detail: String, attempts: u32 },
    #[error("the request to the webhook failed: {detail} ({})", count_attempts(*attempts))]
    Request { detail: String, attempts: u32 },
}

impl NotifyError {
    /// The HTTP status the webhook answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            NotifyError::Redirect { status, .. } | NotifyError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

fn with_space(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

fn status_message(status: u16, reason: &str, answer: Option<&str>, attempts: u32) -> String {
    let mut out = format!("the webhook answered HTTP {status}{}", with_space(reason));
    if let Some(answer) = answer {
        out.push_str(&format!(" ({answer})"));
    }
    if attempts > 1 {
        out.push_str(&format!(" after {attempts} attempts"));
    }
    out
}

fn count_attempts(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    }
}

/// `10s`, `300ms`, `1.5s`.
fn show_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What one attempt came to, short of success.
enum Failure {
    Status {
        status: StatusCode,
        answer: Option<String>,
        retry_after: Option<Duration>,
    },
    Redirect(StatusCode),
    Timeout,
    Connect(String),
    Request(String),
    /// Not worth another attempt (the request could not even be built).
    Fatal(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
            }
            Failure::Timeout | Failure::Connect(_) | Failure::Request(_) => true,
            Failure::Redirect(_) | Failure::Fatal(_) => false,
        }
    }

    fn into_error(self, timeout: Duration, attempts: u32) -> NotifyError {
        let reason = |s: StatusCode| s.canonical_reason().unwrap_or_default().to_owned();
        match self {
            Failure::Status { status, answer, .. } => NotifyError::Status {
                status: status.as_u16(),
                reason: reason(status),
                answer,
                attempts,
            },
            Failure::Redirect(status) => NotifyError::Redirect {
                status: status.as_u16(),
                reason: reason(status),
            },
            Failure::Timeout => NotifyError::Timeout { timeout, attempts },
            Failure::Connect(detail) => NotifyError::Connect { detail, attempts },
            Failure::Request(detail) | Failure::Fatal(detail) => {
                NotifyError::Request { detail, attempts }
            }
        }
    }
}

impl Webhook {
    /// POSTs `body` as JSON to `url`. Success is a 2xx answer. Connection errors, timeouts,
    /// 429 and 5xx are tried again, up to `attempts` in all; a redirect or another 4xx is an
    /// error at once (redirects are never followed).
    pub async fn post(&self, url: &str, body: &Value) -> Result<(), NotifyError> {
        let parsed = Url::parse(url).map_err(|_| NotifyError::InvalidUrl)?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none_or(str::is_empty)
        {
            return Err(NotifyError::InvalidUrl);
        }
        let secrets = Secrets::of(url, &parsed);
        let client = self.client(&parsed, &secrets)?;
        let payload = body.to_string();
        let attempts = self.attempts.max(1);
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(&client, &parsed, &payload, &secrets).await {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if attempt >= attempts || !failure.retryable() {
                return Err(failure.into_error(self.timeout, attempt));
            }
            let pause = match &failure {
                Failure::Status {
                    retry_after: Some(after),
                    ..
                } => wait.max((*after).min(MAX_RETRY_AFTER)),
                _ => wait,
            };
            crate::log::verbose(&format!(
                "{}; trying again in {} (attempt {} of {attempts})",
                failure.into_error(self.timeout, 1),
                show_duration(pause),
                attempt + 1
            ));
            tokio::time::sleep(pause).await;
            wait = wait.saturating_mul(2);
            attempt += 1;
        }
    }

    fn client(&self, url: &Url, secrets: &Secrets) -> Result<Client, NotifyError> {
        // reqwest uses the process's rustls provider: ring, as kube does. Installing it twice is
        // harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            Client::builder()
                .redirect(redirect::Policy::none())
                .connect_timeout(self.timeout)
                .user_agent(concat!("gitops/", env!("CARGO_PKG_VERSION")))
        };
        // HTTPS checks the server with the system's roots (rustls-platform-verifier: the
        // native certificate store, or SSL_CERT_FILE / SSL_CERT_DIR). Without any, building
        // fails; a plain-http webhook needs none, so it is built without them.
        match builder().build() {
            Ok(client) => Ok(client),
            Err(_) if url.scheme() == "http" => builder()
                .tls_certs_only(std::iter::empty())
                .build()
                .map_err(|e| NotifyError::Client {
                    detail: secrets.scrub(&detail(e.without_url())),
                }),
            Err(e) => {
                let mut detail = secrets.scrub(&detail(e.without_url()));
                if detail.contains("CA certificates") {
                    detail.push_str(
                        " (install the system's CA certificates, or point SSL_CERT_FILE at a \
                         bundle)",
                    );
                }
                Err(NotifyError::Client { detail })
            }
        }
    }

    async fn attempt(
        &self,
        client: &Client,
        url: &Url,
        payload: &str,
        secrets: &Secrets,
    ) -> Result<(), Failure> {
        let sent = client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(payload.to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => {
                let e = e.without_url();
                return Err(if e.is_timeout() {
                    Failure::Timeout
                } else if e.is_builder() {
                    Failure::Fatal(secrets.scrub(&detail(e)))
                } else if e.is_connect() {
                    Failure::Connect(secrets.scrub(&detail(e)))
                } else {
                    Failure::Request(secrets.scrub(&detail(e)))
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            return Err(Failure::Redirect(status));
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut read = Vec::new();
        while read.len() < MAX_ANSWER_READ {
            match response.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Err(Failure::Status {
            status,
            answer: answer(&read, secrets),
            retry_after,
        })
    }
}

/// A short error answer worth quoting (`no_service`, `{"message": "…"}`), or nothing: not
/// HTML, not long, and not naming any part of the URL.
fn answer(read: &[u8], secrets: &Secrets) -> Option<String> {
    let text = String::from_utf8_lossy(read);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let fine = !text.is_empty()
        && text.chars().count() <= MAX_ANSWER_SHOWN
        && !text.starts_with('<')
        && !text.chars().any(char::is_control)
        && !secrets.named_in(&text);
    fine.then_some(text)
}

/// The innermost cause of a reqwest error, in words (no URL: reqwest's own is stripped, the
/// rest is scrubbed by the caller).
fn detail(error: reqwest::Error) -> String {
    let mut innermost: &dyn std::error::Error = &error;
    let mut io_kind = None;
    while let Some(next) = innermost.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        innermost = next;
    }
    use std::io::ErrorKind;
    match io_kind {
        Some(ErrorKind::ConnectionRefused) => return "connection refused".to_owned(),
        Some(ErrorKind::ConnectionReset) => return "connection reset".to_owned(),
        Some(ErrorKind::ConnectionAborted) => return "connection aborted".to_owned(),
        _ => {}
    }
    let text = innermost.to_string();
    // rustls' `Error::General`.
    let text = match text.strip_prefix("unexpected error: ") {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    let text = match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            first.to_lowercase().chain(text.chars().skip(1)).collect()
        }
        _ => text,
    }
}

/// The parts of the webhook URL that must not be shown: the whole of it, its host, its path
/// and the longer path segments, its query and its password.
struct Secrets(Vec<String>);

impl Secrets {
    fn of(raw: &str, url: &Url) -> Secrets {
        let mut parts = vec![raw.to_owned(), url.as_str().to_owned()];
        parts.extend(url.host_str().map(str::to_owned));
        if url.path().len() > 1 {
            parts.push(url.path().to_owned());
        }
        parts.extend(
            url.path()
                .split('/')
                .filter(|segment| segment.len() >= 6)
                .map(str::to_owned),
        );
        parts.extend(url.query().map(str::to_owned));
        parts.extend(url.password().map(str::to_owned));
        if !url.username().is_empty() {
            parts.push(url.username().to_owned());
        }
        parts.retain(|p| !p.is_empty());
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts.dedup();
        Secrets(parts)
    }

    fn named_in(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.0
            .iter()
            .any(|secret| lower.contains(&secret.to_lowercase()))
    }

    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.0 {
            out = out.replace(secret.as_str(), "(redacted)");
        }
        if self.named_in(&out) {
            // A case variant survived the replacement; say nothing rather than risk it.
            return "(details withheld: they name the webhook URL)".to_owned();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const SECRET_PATH: &str = "/hooks/T000/SECRET123";

    /// Each request's head and body, as received.
    type Requests = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    /// What the receiver answers.
    #[derive(Clone)]
    enum Answer {
        Status(u16, Vec<(&'static str, String)>, &'static str),
        Hang,
    }

    /// A loopback HTTP/1.1 receiver: reads each request's head and Content-Length body,
    /// records them, and answers as configured (one request per connection).
    struct Receiver {
        port: u16,
        count: Arc<AtomicUsize>,
        requests: Requests,
    }

    impl Receiver {
        async fn start(answer: Answer) -> Receiver {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let count = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let (c, r) = (count.clone(), requests.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (c, r, answer) = (c.clone(), r.clone(), answer.clone());
                    tokio::spawn(async move { serve(stream, answer, c, r).await });
                }
            });
            Receiver {
                port,
                count,
                requests,
            }
        }

        fn url(&self) -> String {
            format!("http://127.0.0.1:{}{SECRET_PATH}", self.port)
        }

        fn count(&self) -> usize {
            self.count.load(Ordering::SeqCst)
        }

        fn requests(&self) -> Vec<(String, Vec<u8>)> {
            self.requests.lock().unwrap().clone()
        }
    }

    async fn serve(
        mut stream: TcpStream,
        answer: Answer,
        count: Arc<AtomicUsize>,
        requests: Requests,
    ) {
        let mut read = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&read[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while read.len() < head_end + length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&buf[..n]),
            }
        }
        count.fetch_add(1, Ordering::SeqCst);
        requests
            .lock()
            .unwrap()
            .push((head, read[head_end..head_end + length].to_vec()));
        match answer {
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Answer::Status(status, headers, body) => {
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (name, value) in headers {
                    out.push_str(&format!("{name}: {value}\r\n"));
                }
                out.push_str("Connection: close\r\n\r\n");
                out.push_str(body);
                let _ = stream.write_all(out.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        }
    }

    fn quick() -> Webhook {
        Webhook {
            timeout: Duration::from_millis(300),
            attempts: 3,
            backoff: Duration::from_millis(10),
        }
    }

    fn assert_no_url(error: &NotifyError) {
        for shown in [
            error.to_string(),
            format!("{error:?}"),
            format!("{error:#?}"),
        ] {
            for secret in ["SECRET123", "/hooks/", "T000", "127.0.0.1", "http://"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    #[tokio::test]
    async fn a_2xx_answer_is_success_and_the_body_arrives_as_json() {
        let receiver = Receiver::start(Answer::Status(200, vec![], "ok")).await;
        let body = serde_json::json!({"text": "hello", "drift": [{"name": "api"}]});
        quick().post(&receiver.url(), &body).await.unwrap();
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        let (head, got) = &requests[0];
        assert!(
            head.starts_with(&format!("POST {SECRET_PATH} HTTP/1.1")),
            "{head}"
        );
        assert!(
            head.to_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let got: Value = serde_json::from_slice(got).unwrap();
        assert_eq!(got, body);
    }

    #[tokio::test]
    async fn a_5xx_answer_is_tried_three_times_and_named_without_the_url() {
        let receiver = Receiver::start(Answer::Status(500, vec![], "")).await;
        let error = quick()
            .post(&receiver.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(receiver.count(), 3);
        assert_eq!(
            error.to_string(),
            "the webhook answered HTTP 500 Internal Server Error after 3 attempts"
        );
        assert_eq!(error.status(), Some(500));
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn a_429_is_tried_again() {
        let receiver = Receiver::start(Answer::Status(
            429,
            vec![("Retry-After", "0".into())],
            "rate_limited",
        ))
        .await;
        let error = quick()
            .post(&receiver.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(receiver.count(), 3);
        assert_eq!(
            error.to_string(),
            "the webhook answered HTTP 429 Too Many Requests (rate_limited) after 3 attempts"
        );
    }

    #[tokio::test]
    async fn a_4xx_answer_is_not_tried_again() {
        let receiver = Receiver::start(Answer::Status(404, vec![], "no_service")).await;
        let error = quick()
            .post(&receiver.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(receiver.count(), 1);
        assert_eq!(
            error.to_string(),
            "the webhook answered HTTP 404 Not Found (no_service)"
        );
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn an_answer_naming_the_url_is_not_quoted() {
        let receiver = Receiver::start(Answer::Status(
            404,
            vec![],
            "The requested URL /hooks/T000/SECRET123 was not found",
        ))
        .await;
        let error = quick()
            .post(&receiver.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "the webhook answered HTTP 404 Not Found");
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let receiver = Receiver::start(Answer::Status(302, vec![], "")).await;
        let elsewhere = format!("http://127.0.0.1:{}/elsewhere", receiver.port);
        let redirecting =
            Receiver::start(Answer::Status(302, vec![("Location", elsewhere)], "")).await;
        let error = quick()
            .post(&redirecting.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        assert_eq!(redirecting.count(), 1);
        assert_eq!(receiver.count(), 0, "the redirect was followed");
        let shown = error.to_string();
        assert!(shown.contains("HTTP 302 Found"), "{shown}");
        assert!(shown.contains("redirects are not followed"), "{shown}");
        assert!(shown.contains("final URL"), "{shown}");
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_times_out() {
        let receiver = Receiver::start(Answer::Hang).await;
        let webhook = Webhook {
            attempts: 2,
            ..quick()
        };
        let started = Instant::now();
        let error = webhook
            .post(&receiver.url(), &serde_json::json!({}))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "took {took:?}");
        assert!(took >= Duration::from_millis(600), "took {took:?}");
        assert_eq!(receiver.count(), 2);
        assert_eq!(
            error.to_string(),
            "the webhook did not answer within 300ms (2 attempts)"
        );
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn a_refused_connection_is_tried_again_then_reported() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let webhook = Webhook {
            attempts: 2,
            ..quick()
        };
        let error = webhook
            .post(
                &format!("http://127.0.0.1:{port}{SECRET_PATH}"),
                &serde_json::json!({}),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, NotifyError::Connect { attempts: 2, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "could not connect to the webhook: connection refused (2 attempts)"
        );
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn an_https_url_gets_a_client_with_the_system_roots() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let webhook = Webhook {
            attempts: 1,
            ..quick()
        };
        let error = webhook
            .post(
                &format!("https://127.0.0.1:{port}{SECRET_PATH}"),
                &serde_json::json!({}),
            )
            .await
            .unwrap_err();
        // Building the client loaded the roots; only the connection failed.
        assert!(
            matches!(error, NotifyError::Connect { attempts: 1, .. }),
            "{error:?}"
        );
        assert_no_url(&error);
    }

    #[tokio::test]
    async fn an_invalid_url_is_refused_without_repeating_it() {
        for url in [
            "not a url/SECRET",
            "ftp://example.com/SECRET",
            "http://",
            "https://:443/SECRET",
            "file:///SECRET",
            "",
        ] {
            let error = quick().post(url, &serde_json::json!({})).await.unwrap_err();
            assert!(matches!(error, NotifyError::InvalidUrl), "{url}: {error:?}");
            assert_eq!(
                error.to_string(),
                "the webhook URL is not a valid http(s) URL"
            );
            assert!(!format!("{error:?}").contains("SECRET"));
        }
    }

    #[test]
    fn scrubbing_removes_every_part_of_the_url() {
        let raw =
            "https://user:pw-secret@hooks.example.com/services/T000/B000/XXXXSECRET?token=abc";
        let secrets = Secrets::of(raw, &Url::parse(raw).unwrap());
        let scrubbed = secrets.scrub(
            "certificate not valid for name \"hooks.example.com\"; tried /services/T000/B000/XXXXSECRET",
        );
        assert!(!scrubbed.contains("hooks.example.com"), "{scrubbed}");
        assert!(!scrubbed.contains("XXXXSECRET"), "{scrubbed}");
        assert!(secrets.named_in("HOOKS.EXAMPLE.COM"));
        assert!(!secrets.named_in("invalid_payload"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(show_duration(Duration::from_secs(10)), "10s");
        assert_eq!(show_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn defaults_are_10s_3_attempts_1s_backoff() {
        assert_eq!(
            Webhook::default(),
            Webhook {
                timeout: Duration::from_secs(10),
                attempts: 3,
                backoff: Duration::from_secs(1),
            }
        );
    }
}
