//! An HTTP-aware fault-injecting reverse proxy between gitops and the API server.
//!
//! The API server speaks TLS, so a TCP proxy cannot answer 429 or 503 in its name. This one
//! serves plain HTTP/1.1 on a loopback port (gitops gets a kubeconfig with
//! `server: http://127.0.0.1:PORT` and its usual bearer token) and forwards every request over
//! TLS to the real API server with gitops' own `Authorization` header, so the server
//! authenticates and authorises gitops exactly as without the proxy. Between the two it can,
//! per request, answer a status (429 with `Retry-After`, 503, …), drop the connection before or
//! after forwarding (the write happened, the answer is lost), stall (never answer), or add
//! latency. Rules are consumed in order; everything it saw is logged for assertions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

/// What the proxy does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status (a Kubernetes Status body) without forwarding.
    Status(u16),
    /// Answers 429 with a `Retry-After` header (and no retryAfterSeconds in the body, so that
    /// only the header says how long to wait).
    TooManyRequests { retry_after_seconds: u64 },
    /// Reads the request, then closes the connection without forwarding or answering.
    Drop,
    /// Reads the request, then resets the connection (TCP RST, as a load balancer shedding
    /// connections does) without forwarding or answering.
    Reset,
    /// Forwards the request (the server acts on it), then closes without answering.
    DropAfterForward,
    /// Never answers (until the proxy stops).
    Stall,
    /// Forwards after this delay.
    Latency(Duration),
}

/// Which requests a rule applies to.
#[derive(Debug, Clone, Default)]
pub struct When {
    pub method: Option<&'static str>,
    /// A substring of the path and query.
    pub path_contains: Option<String>,
    /// Some(true): only server dry-runs; Some(false): only real requests.
    pub dry_run: Option<bool>,
}

impl When {
    pub fn any() -> Self {
        When::default()
    }

    pub fn method(method: &'static str) -> Self {
        When {
            method: Some(method),
            ..When::default()
        }
    }

    /// Only requests that are not server dry-runs (real writes).
    pub fn real(mut self) -> Self {
        self.dry_run = Some(false);
        self
    }

    pub fn dry_run(mut self) -> Self {
        self.dry_run = Some(true);
        self
    }

    pub fn path(mut self, part: &str) -> Self {
        self.path_contains = Some(part.to_owned());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && self
                .dry_run
                .is_none_or(|d| d == path.contains("dryRun=All"))
    }
}

struct Rule {
    when: When,
    fault: Fault,
    /// None: forever.
    left: Option<u32>,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub fault: Option<Fault>,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

pub struct HttpFaultProxy {
    pub address: SocketAddr,
    state: Arc<State>,
    /// The test kubeconfig, admin context: the token gitops sends.
    token: String,
}

impl HttpFaultProxy {
    /// Proxies to the server of `context` in `kubeconfig`.
    pub fn start(kubeconfig: &Path, context: &str) -> Self {
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        );
        let file = Kubeconfig::read_from(kubeconfig).expect("the test kubeconfig");
        let token = bearer_token(kubeconfig, context);
        let options = KubeConfigOptions {
            context: Some(context.to_owned()),
            ..KubeConfigOptions::default()
        };
        let upstream = runtime.block_on(async {
            let mut config = kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .expect("a client configuration for the test cluster");
            // No credentials of its own: gitops' Authorization header is passed on.
            config.auth_info = AuthInfo::default();
            // Transparent: kube's own retries would hide what the server answered.
            config.default_retry = false;
            kube::Client::try_from(config).expect("a client for the test cluster")
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if let Ok(clone) = client.try_clone() {
                    shared.open.lock().unwrap().push(clone);
                }
                let (state, upstream, runtime) =
                    (shared.clone(), upstream.clone(), runtime.clone());
                std::thread::spawn(move || serve(client, &state, &upstream, &runtime));
            }
        });
        HttpFaultProxy {
            address,
            state,
            token,
        }
    }

    /// The next `times` requests matching `when` get `fault`.
    pub fn inject(&self, when: When, fault: Fault, times: u32) {
        self.state.rules.lock().unwrap().push(Rule {
            when,
            fault,
            left: Some(times),
        });
    }

    /// Every request matching `when` gets `fault` until [`Self::clear`].
    pub fn inject_forever(&self, when: When, fault: Fault) {
        self.state.rules.lock().unwrap().push(Rule {
            when,
            fault,
            left: None,
        });
    }

    /// No more faults.
    pub fn clear(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    /// Faults injected but not yet used up (a test asserts they all happened).
    pub fn faults_left(&self) -> Vec<String> {
        self.state
            .rules
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.left != Some(0))
            .map(|r| format!("{:?} on {:?} ({:?} left)", r.fault, r.when, r.left))
            .collect()
    }

    /// Every request seen so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The bearer token gitops sends (so that a test can assert it is never printed).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig for gitops: the test kubeconfig with `server: http://<proxy>` and without
    /// the server's CA.
    pub fn kubeconfig(&self, kubeconfig: &Path, dir: &Path) -> PathBuf {
        let text = std::fs::read_to_string(kubeconfig).expect("the test kubeconfig");
        let rewritten: Vec<String> = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("certificate-authority"))
            .map(|line| match line.split_once("server:") {
                Some((indent, _)) => format!("{indent}server: http://{}", self.address),
                None => line.to_owned(),
            })
            .collect();
        let path = dir.join("through-http-proxy.kubeconfig");
        std::fs::write(&path, rewritten.join("\n")).unwrap();
        path
    }
}

impl Drop for HttpFaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        for stream in self.state.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.address);
    }
}

/// The bearer token of `context`'s user.
fn bearer_token(kubeconfig: &Path, context: &str) -> String {
    let text = std::fs::read_to_string(kubeconfig).expect("the test kubeconfig");
    let config: serde_yaml::Value = serde_yaml::from_str(&text).expect("a YAML kubeconfig");
    let named = |list: &str, name: &str| -> serde_yaml::Value {
        config[list]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|entry| entry["name"].as_str() == Some(name))
            .cloned()
            .unwrap_or_default()
    };
    let context = named("contexts", context);
    let user = context["context"]["user"].as_str().unwrap_or_default();
    named("users", user)["user"]["token"]
        .as_str()
        .expect("the test context authenticates with a bearer token")
        .to_owned()
}

/// One request read off the wire.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Serves one client connection: requests one after the other (keep-alive).
fn serve(
    client: TcpStream,
    state: &State,
    upstream: &kube::Client,
    runtime: &tokio::runtime::Runtime,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    while let Some(request) = read_request(&mut reader) {
        let fault = {
            let mut rules = state.rules.lock().unwrap();
            let rule = rules
                .iter_mut()
                .find(|r| r.left != Some(0) && r.when.matches(&request.method, &request.path));
            rule.map(|r| {
                if let Some(left) = &mut r.left {
                    *left -= 1;
                }
                r.fault.clone()
            })
        };
        state.seen.lock().unwrap().push(Seen {
            method: request.method.clone(),
            path: request.path.clone(),
            fault: fault.clone(),
            at: Instant::now(),
        });
        let answer = match &fault {
            Some(Fault::Status(code)) => status_answer(*code, None),
            Some(Fault::TooManyRequests {
                retry_after_seconds,
            }) => status_answer(429, Some(*retry_after_seconds)),
            Some(Fault::Drop) => break,
            Some(Fault::Reset) => {
                reset(&writer, state, runtime);
                // The last descriptors of the socket close here: the reset goes out.
                return;
            }
            Some(Fault::DropAfterForward) => {
                let _ = forward(upstream, runtime, request);
                break;
            }
            Some(Fault::Stall) => {
                while !state.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                break;
            }
            Some(Fault::Latency(delay)) => {
                std::thread::sleep(*delay);
                forward(upstream, runtime, request)
            }
            None => forward(upstream, runtime, request),
        };
        if writer.write_all(&answer).is_err() {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Sets SO_LINGER 0 and forgets the proxy's own copy of the socket, so that closing the
/// connection's last descriptors sends the peer a reset, not an orderly end of stream.
fn reset(stream: &TcpStream, state: &State, runtime: &tokio::runtime::Runtime) {
    let peer = stream.peer_addr().ok();
    state
        .open
        .lock()
        .unwrap()
        .retain(|open| open.peer_addr().ok() != peer);
    let _entered = runtime.enter();
    if let Ok(copy) = stream.try_clone() {
        if copy.set_nonblocking(true).is_ok() {
            if let Ok(copy) = tokio::net::TcpStream::from_std(copy) {
                #[allow(deprecated)]
                let _ = copy.set_linger(Some(Duration::ZERO));
            }
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length") {
        body.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Incoming {
        method,
        path,
        headers,
        body,
    })
}

/// Forwards a request to the API server; the serialised HTTP answer (empty when the server
/// could not be reached: the connection is then closed).
fn forward(
    upstream: &kube::Client,
    runtime: &tokio::runtime::Runtime,
    request: Incoming,
) -> Vec<u8> {
    const HOP_BY_HOP: [&str; 6] = [
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
    ];
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.path.as_str());
    for (name, value) in &request.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let outgoing = builder
        .body(kube::client::Body::from(request.body))
        .expect("a valid request");
    let answer = runtime.block_on(async {
        let response = upstream.send(outgoing).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect_bytes().await?;
        Ok::<_, kube::Error>((parts, body))
    });
    let Ok((parts, body)) = answer else {
        return Vec::new();
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.push_str(&format!(
                "{name}: {}\r\n",
                value.to_str().unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

fn status_answer(code: u16, retry_after: Option<u64>) -> Vec<u8> {
    let reason = match code {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    };
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("injected by the test proxy ({code})"), "reason": reason, "code": code,
    })
    .to_string();
    let phrase = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut head = format!(
        "HTTP/1.1 {code} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(seconds) = retry_after {
        head.push_str(&format!("retry-after: {seconds}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}
