//! Retries of API requests: the one place that decides whether a failed request is tried again,
//! and when (docs/reliability.md, "Faults and retries").
//!
//! Transient failures are retried: the connection could not be made or was dropped, an attempt
//! got no answer in time, or the server answered 429, 500, 502, 503 or 504. Waits grow
//! exponentially with jitter, a `Retry-After` from the server is honoured (capped), and every
//! request has a bounded number of attempts and a bounded time. Once one request has given up
//! on a transient failure, the server is taken to be down for the rest of the run: later
//! requests get a single attempt, so a run against a dead server ends in bounded time.
//!
//! Only idempotent requests go through [`run`]: reads, dry-runs and server-side applies (the same
//! apply twice gives the same object). Deletes use [`Attempts`] themselves and re-read the object
//! before trying again (see `objects::delete`).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::HeaderMap;

/// How hard a request is tried. The defaults are documented in docs/reliability.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for every further one...
    pub base_delay: Duration,
    /// ...up to this.
    pub max_delay: Duration,
    /// No attempt of a request starts later than this after its first one.
    pub budget: Duration,
    /// A longer `Retry-After` from the server is cut to this.
    pub max_retry_after: Duration,
    /// One attempt that has no answer after this long is abandoned (and may be retried).
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            // Long enough to ride through an API server restart (a few seconds to start and
            // become ready), short enough that a run against a dead server ends soon.
            budget: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(10),
            // The API server's own default request timeout (--request-timeout=1m0s): an answer
            // that takes longer is not coming.
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// Environment variable that overrides [`RetryPolicy::attempt_timeout`] (`10s`, `2m`).
pub const REQUEST_TIMEOUT_ENV: &str = "GITOPS_REQUEST_TIMEOUT";

impl RetryPolicy {
    /// The defaults, with the attempt timeout from `GITOPS_REQUEST_TIMEOUT` when set.
    pub fn from_env() -> Result<Self, String> {
        let mut policy = RetryPolicy::default();
        if let Some(text) = std::env::var_os(REQUEST_TIMEOUT_ENV) {
            let text = text.to_string_lossy();
            let timeout = crate::clock::parse_duration(text.trim())
                .map_err(|e| format!("{REQUEST_TIMEOUT_ENV}={text}: {e}"))?;
            if timeout.is_zero() {
                return Err(format!(
                    "{REQUEST_TIMEOUT_ENV}={text}: must be more than 0s"
                ));
            }
            policy.attempt_timeout = timeout;
        }
        Ok(policy)
    }

    /// The backoff before attempt `next` (2, 3, …) without jitter.
    fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(20);
        self.base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// The retry state of one run, shared by all of its requests.
#[derive(Debug)]
pub struct Retries {
    pub policy: RetryPolicy,
    /// Set when a request gave up on a transient failure: the server is down.
    gave_up: AtomicBool,
    /// Set once the server answered anything in this run. Until then a refused or failed
    /// connection is more likely a wrong address than a restart, and is given up on quickly.
    answered: AtomicBool,
    /// Requests in flight to this server, whichever target sends them: the bound is per
    /// cluster, so targets planned in parallel share it.
    in_flight: tokio::sync::Semaphore,
    /// The number of permits `in_flight` was last set to.
    limit: AtomicUsize,
}

impl Retries {
    pub fn new(policy: RetryPolicy, limit: usize) -> Self {
        Retries {
            policy,
            gave_up: AtomicBool::new(false),
            answered: AtomicBool::new(false),
            in_flight: tokio::sync::Semaphore::new(limit.max(1)),
            limit: AtomicUsize::new(limit.max(1)),
        }
    }

    /// At most `limit` requests in flight from now on.
    pub fn set_limit(&self, limit: usize) {
        let limit = limit.max(1);
        let before = self.limit.swap(limit, Ordering::SeqCst);
        if limit > before {
            self.in_flight.add_permits(limit - before);
        } else if limit < before {
            // Only free permits can be forgotten (set while requests are in flight, the bound
            // comes down as far as it can now).
            let forgotten = self.in_flight.forget_permits(before - limit);
            self.limit.store(before - forgotten, Ordering::SeqCst);
        }
    }

    /// Whether a request of this run already gave up on the server.
    pub fn server_given_up(&self) -> bool {
        self.gave_up.load(Ordering::Relaxed)
    }

    /// The server answered after a request gave up on it: it is up, and later requests get
    /// their whole budget again.
    pub fn server_is_up(&self) {
        self.gave_up.store(false, Ordering::Relaxed);
    }
}

/// No answer to one attempt within the policy's attempt timeout.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {}s", .0.as_secs_f64())]
pub struct AttemptTimedOut(pub Duration);

/// One failed attempt: the error and the server's `Retry-After`, if it sent one.
#[derive(Debug)]
pub struct Failure {
    pub error: kube::Error,
    pub retry_after: Option<Duration>,
}

impl From<kube::Error> for Failure {
    /// Without the response's headers, a `Retry-After` can still come in the Status' details.
    fn from(error: kube::Error) -> Self {
        let retry_after = match &error {
            kube::Error::Api(status) => status
                .details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(u64::from(s))),
            _ => None,
        };
        Failure { error, retry_after }
    }
}

/// A `Retry-After` header in seconds (the API server never sends the HTTP-date form).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether a failed request may succeed when tried again.
pub fn is_transient(error: &kube::Error) -> bool {
    // A credential plugin that failed to refresh the token fails the same way next time (and
    // would run again on every attempt).
    if super::exec_auth::explain(error, super::exec_auth::Plugin::default).is_some() {
        return false;
    }
    match error {
        // Server-side apply of an object that does not fit the schema (a map where a string
        // belongs): v1.20 answers 500, but no attempt will ever succeed.
        kube::Error::Api(status)
            if status.code == 500
                && status
                    .message
                    .contains("failed to create typed patch object") =>
        {
            false
        }
        kube::Error::Api(status) => {
            matches!(status.code, 429 | 500 | 502 | 503 | 504)
                || matches!(
                    status.reason.as_str(),
                    "ServerTimeout" | "Timeout" | "TooManyRequests"
                )
        }
        // The transport: refused, reset, closed before the answer was complete, timed out.
        kube::Error::HyperError(_) | kube::Error::Service(_) => !is_permanent_transport(error),
        // The body of an answer stopped half-way.
        kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Attempts a request gets when the server answers 500: an internal error is often
/// deterministic (a webhook or conversion failing on this object), so it is tried again only
/// briefly.
const INTERNAL_ERROR_ATTEMPTS: u32 = 3;

/// Attempts a request gets when it could not connect while the server has not answered once in
/// this run (a wrong server address fails in about a second, not after the whole budget).
const NEVER_ANSWERED_ATTEMPTS: u32 = 3;

/// Whether no connection was made at all: refused, no route, a name that does not resolve, or
/// nothing answered within the attempt timeout.
/// Only these are given up on quickly before the server's first answer; a connection that was
/// made and then reset or closed early (a load balancer shedding connections) is a transient
/// failure like any other and gets the whole budget.
fn is_connect_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionRefused | AddrNotAvailable | HostUnreachable | NetworkUnreachable
            ) {
                return true;
            }
        }
        // No answer at all within the attempt timeout: as likely a wrong address.
        if e.downcast_ref::<AttemptTimedOut>().is_some() {
            return true;
        }
        // hyper-util says "dns error" (the resolver's own error is an io::Error of kind Other).
        if e.to_string().starts_with("dns error") {
            return true;
        }
        current = e.source();
    }
    false
}

/// A 500 without a reason that says "try again later".
fn is_internal_error(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 500
        && !matches!(status.reason.as_str(), "ServerTimeout" | "Timeout" | "TooManyRequests"))
}

/// Transport failures that another attempt cannot fix: TLS and certificate errors (rustls
/// reports them as `InvalidData`), and requests the client refuses to send.
fn is_permanent_transport(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(io.kind(), InvalidData | InvalidInput | PermissionDenied) {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// A short account of a failure for `-v` lines: a status code and reason, or the transport's
/// innermost message. Never a server message (it may quote a Secret's values) or a header.
pub fn short_reason(error: &kube::Error) -> String {
    // Never a credential plugin's own message: kube's quotes the plugin's output.
    if let Some(plugin) = super::exec_auth::explain(error, super::exec_auth::Plugin::default) {
        return plugin;
    }
    match error {
        kube::Error::Api(status) if status.reason.is_empty() => status.code.to_string(),
        kube::Error::Api(status) => format!("{} {}", status.code, status.reason),
        other => {
            let mut current: &(dyn std::error::Error + 'static) = other;
            while let Some(next) = current.source() {
                current = next;
            }
            current.to_string()
        }
    }
}

/// The attempts of one request.
pub struct Attempts<'a> {
    retries: &'a Retries,
    started: Instant,
    attempt: u32,
}

impl<'a> Attempts<'a> {
    /// Before the first attempt.
    pub fn new(retries: &'a Retries) -> Self {
        Attempts {
            retries,
            started: Instant::now(),
            attempt: 1,
        }
    }

    /// The attempt about to be made or just made (1 for the first).
    pub fn number(&self) -> u32 {
        self.attempt
    }

    /// After a failed attempt: how long to wait before the next one, or None to give up.
    /// `what` names the request in the `-v` line.
    pub fn next_delay(&mut self, failure: &Failure, what: &str) -> Option<Duration> {
        if !is_transient(&failure.error) {
            return None;
        }
        let policy = &self.retries.policy;
        let reason = short_reason(&failure.error);
        let delay = match failure.retry_after {
            Some(asked) => asked.min(policy.max_retry_after),
            None => jitter(policy.backoff(self.attempt + 1)),
        };
        let elapsed = self.started.elapsed();
        let why_not = if self.retries.server_given_up() {
            Some("an earlier request already gave up on the server".to_owned())
        } else if self.attempt >= policy.max_attempts
            || (is_internal_error(&failure.error) && self.attempt >= INTERNAL_ERROR_ATTEMPTS)
            || (!self.retries.answered.load(Ordering::Relaxed)
                && is_connect_failure(&failure.error)
                && self.attempt >= NEVER_ANSWERED_ATTEMPTS)
        {
            Some(format!("{} attempts made", self.attempt))
        } else if elapsed + delay > policy.budget {
            Some(format!(
                "the next attempt would start after {}s",
                policy.budget.as_secs()
            ))
        } else {
            None
        };
        if let Some(why_not) = why_not {
            if self.attempt > 1 || self.retries.server_given_up() {
                crate::log::verbose(&format!(
                    "{what}: attempt {} failed ({reason}); giving up: {why_not}",
                    self.attempt
                ));
            }
            // A server that answers (500) is not down: later requests keep their retries.
            if !is_internal_error(&failure.error) {
                self.retries.gave_up.store(true, Ordering::Relaxed);
            }
            return None;
        }
        crate::log::verbose(&format!(
            "{what}: attempt {} of {} failed ({reason}); retrying in {:.1}s{}",
            self.attempt,
            policy.max_attempts,
            delay.as_secs_f64(),
            if failure.retry_after.is_some() {
                " (Retry-After)"
            } else {
                ""
            }
        ));
        self.attempt += 1;
        Some(delay)
    }

    /// Runs one attempt, abandoned after the policy's attempt timeout.
    pub async fn attempt<T, Fut>(&self, future: Fut) -> Result<T, Failure>
    where
        Fut: Future<Output = Result<T, Failure>>,
    {
        let timeout = self.retries.policy.attempt_timeout;
        // Waiting for a permit is not part of the attempt's time: only the request is.
        let _permit = self.retries.in_flight.acquire().await.ok();
        match tokio::time::timeout(timeout, future).await {
            Ok(result) => {
                if matches!(
                    &result,
                    Ok(_)
                        | Err(Failure {
                            error: kube::Error::Api(_),
                            ..
                        })
                ) {
                    self.retries.answered.store(true, Ordering::Relaxed);
                }
                result
            }
            Err(_) => Err(Failure {
                error: kube::Error::Service(Box::new(AttemptTimedOut(timeout))),
                retry_after: None,
            }),
        }
    }
}

/// Runs an idempotent request until it succeeds, fails for good, or its retries are spent.
pub async fn run<T, F, Fut>(
    retries: &Retries,
    what: impl Fn() -> String,
    mut once: F,
) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempts = Attempts::new(retries);
    loop {
        match attempts.attempt(once()).await {
            Ok(value) => return Ok(value),
            Err(failure) => match attempts.next_delay(&failure, &what()) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(failure.error),
            },
        }
    }
}

/// Equal jitter: half the delay, plus a random part of the other half, so that many requests
/// failing together do not all come back at the same moment.
fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use std::sync::atomic::AtomicU32;

    fn api(code: u16, reason: &str) -> kube::Error {
        let mut status = Status::failure("message", reason).with_code(code);
        status.reason = reason.to_owned();
        kube::Error::Api(status.boxed())
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn what_is_transient() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_transient(&api(code, "")), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 410, 422] {
            assert!(!is_transient(&api(code, "")), "{code}");
        }
        assert!(is_transient(&api(500, "ServerTimeout")));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_transient(&kube::Error::Service(Box::new(reset))));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_transient(&kube::Error::Service(Box::new(refused))));
        let timed_out = AttemptTimedOut(Duration::from_secs(1));
        assert!(is_transient(&kube::Error::Service(Box::new(timed_out))));
        let tls = std::io::Error::new(std::io::ErrorKind::InvalidData, "invalid peer certificate");
        assert!(!is_transient(&kube::Error::Service(Box::new(tls))));
        let serde = serde_json::from_str::<u8>("x").unwrap_err();
        assert!(!is_transient(&kube::Error::SerdeError(serde)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_its_half() {
        let policy = RetryPolicy::default();
        let waits: Vec<u128> = (2..=10).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000]);
        assert_eq!(policy.backoff(200), Duration::from_secs(5));
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(1000));
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_millis(1000));
        }
        // The longest a request can wait in total stays under the budget.
        let worst: Duration = (2..=policy.max_attempts).map(|n| policy.backoff(n)).sum();
        assert!(worst < policy.budget, "{worst:?}");
    }

    #[test]
    fn retry_after_comes_from_the_header_or_the_status_and_is_capped() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);

        let status: Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "code": 429, "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 2}
        }))
        .unwrap();
        let failure = Failure::from(kube::Error::Api(status.boxed()));
        assert_eq!(failure.retry_after, Some(Duration::from_secs(2)));

        let retries = Retries::new(RetryPolicy::default(), 8);
        let mut attempts = Attempts::new(&retries);
        let failure = Failure {
            error: api(429, "TooManyRequests"),
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            attempts.next_delay(&failure, "test"),
            Some(Duration::from_secs(10))
        );
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let retries = Retries::new(fast(), 8);
        let calls = AtomicU32::new(0);
        let result = run(
            &retries,
            || "get x".into(),
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(Failure::from(api(503, "ServiceUnavailable"))),
                    1 => Err(Failure::from(kube::Error::Service(Box::new(
                        std::io::Error::from(std::io::ErrorKind::ConnectionReset),
                    )))),
                    _ => Ok(7),
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(!retries.server_given_up());
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let retries = Retries::new(fast(), 8);
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = run(
            &retries,
            || "get x".into(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Failure::from(api(422, "Invalid")))
            },
        )
        .await;
        assert!(matches!(result, Err(kube::Error::Api(s)) if s.code == 422));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!retries.server_given_up());
    }

    #[tokio::test]
    async fn internal_errors_get_three_attempts_and_do_not_mark_the_server_down() {
        let retries = Retries::new(fast(), 8);
        let calls = AtomicU32::new(0);
        let internal = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Failure::from(api(500, "")))
        };
        assert!(run(&retries, || "apply x".into(), internal).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(!retries.server_given_up());
        // v1.20's answer to an object that does not fit the schema: never retried.
        let mut status = Status::failure(
            "failed to create typed patch object: .stringData.x: expected string",
            "",
        )
        .with_code(500);
        status.reason = String::new();
        assert!(!is_transient(&kube::Error::Api(status.boxed())));
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_a_server_given_up_on_gets_one_attempt_per_request() {
        let retries = Retries::new(fast(), 8);
        let calls = AtomicU32::new(0);
        let down = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Failure::from(api(503, "ServiceUnavailable")))
        };
        assert!(run(&retries, || "get x".into(), down).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 10);
        assert!(retries.server_given_up());
        assert!(run(&retries, || "get y".into(), down).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 11);
    }

    #[tokio::test]
    async fn the_budget_bounds_a_request_in_time() {
        let policy = RetryPolicy {
            budget: Duration::from_millis(50),
            base_delay: Duration::from_millis(20),
            max_attempts: 1000,
            ..RetryPolicy::default()
        };
        let retries = Retries::new(policy, 8);
        let started = Instant::now();
        let result: Result<(), _> = run(
            &retries,
            || "get x".into(),
            || async { Err(Failure::from(api(504, "Timeout"))) },
        )
        .await;
        assert!(result.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn an_attempt_without_an_answer_is_abandoned_and_retried() {
        let policy = RetryPolicy {
            attempt_timeout: Duration::from_millis(50),
            ..fast()
        };
        let retries = Retries::new(policy, 8);
        let calls = AtomicU32::new(0);
        let result = run(
            &retries,
            || "get x".into(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                Ok::<_, Failure>(1)
            },
        )
        .await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
