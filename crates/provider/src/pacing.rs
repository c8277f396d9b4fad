//! Client-side rate limiting and retries: what keeps certplan at the API's limit without
//! crossing it, and what it does when the service or the network hiccups.
//!
//! The limiter keeps an interval between the calls it lets go, scheduled on tokio's clock, so
//! that its properties are tested deterministically on tokio's paused time. governor's GCRA
//! waits on its own timer, which paused time cannot drive, and books slots ahead, which a
//! process that stalls then sends at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;
use crate::error::is_in_family;

/// Paces calls to one per `interval`, spreading them evenly (a burst of one).
///
/// The interval is kept between the moments calls are let go, not between the slots they were
/// given: callers queue in order (a fair lock), and each waits until `interval` after the one
/// before it actually went. A process that stalls (a loaded machine, a suspended VM) therefore
/// resumes at its pace instead of sending every overdue call at once, which the service would
/// count as a burst over its limit. A call let go within a tolerance of its time (a tenth of
/// the interval, at least 2 ms) keeps the cadence, so that the timer's lateness is not lost
/// on every call; two calls are therefore never closer than the interval less that tolerance,
/// and a second holds at most the rate and one more call (two more above 500 a second).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    /// When the last call was let go (when it was due, if it went within the tolerance of
    /// that); held by the caller whose turn it is while it waits.
    last: tokio::sync::Mutex<Option<Instant>>,
    /// Nothing is let go before this: the service said we were too fast.
    paused_until: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Creates a pacer for `per_second` calls per second (at least one).
    pub fn per_second(per_second: u32) -> Self {
        Pacer {
            interval: Duration::from_secs(1) / per_second.max(1),
            last: tokio::sync::Mutex::new(None),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until the next call may be sent: its turn, `interval` after the call before it
    /// went, and past any pause.
    pub async fn acquire(&self) {
        let mut last = self.last.lock().await;
        let due = loop {
            let paused = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            let due = [last.map(|at| at + self.interval), paused].into_iter().flatten().max();
            match due {
                // A pause asked for while this caller slept is seen when it wakes.
                Some(due) if due > Instant::now() => tokio::time::sleep_until(due).await,
                _ => break due,
            }
        };
        // A call let go a moment after it was due keeps the cadence, or pacing would lose that
        // moment on every call; one held longer counts from when it went.
        let now = Instant::now();
        *last = Some(match due {
            Some(due) if now - due <= self.tolerance() => due,
            _ => now,
        });
    }

    /// How late after its time a call may go and still keep the cadence: a tenth of the
    /// interval, and at least two of the timer's milliseconds, by which any sleep may wake late.
    fn tolerance(&self) -> Duration {
        (self.interval / 10).max(Duration::from_millis(2))
    }

    /// Sends nothing for `pause`: the service said we were too fast.
    pub fn slow_down(&self, pause: Duration) {
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        let resume = Instant::now() + pause;
        *paused = Some(paused.map_or(resume, |p| p.max(resume)));
    }
}

/// One pacer per action, all at the same rate.
#[derive(Debug)]
pub struct Pacers {
    per_second: u32,
    by_action: Mutex<HashMap<&'static str, std::sync::Arc<Pacer>>>,
}

impl Pacers {
    pub fn new(per_second: u32) -> Self {
        Pacers { per_second, by_action: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, action: &'static str) -> std::sync::Arc<Pacer> {
        let mut map = self.by_action.lock().unwrap_or_else(|p| p.into_inner());
        std::sync::Arc::clone(
            map.entry(action)
                .or_insert_with(|| std::sync::Arc::new(Pacer::per_second(self.per_second))),
        )
    }
}

/// API error codes (and their families) that mean "try again later"; anything else about the
/// request is final.
const TRANSIENT_CODES: [&str; 7] = [
    "InternalError",
    "FailedOperation.NetworkError",
    "LimitExceeded.RateLimitExceeded",
    "RequestLimitExceeded",
    "ResourceUnavailable",
    "ResourceInUse",
    // DNSPod's "you operate too often, try again later".
    "FailedOperation.FrequencyLimit",
];

impl Error {
    /// Returns true when trying again later may succeed: network errors, timeouts, HTTP 5xx,
    /// rate limiting, and the service's transient error codes.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::TimedOut { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            Error::Api(api) => TRANSIENT_CODES.iter().any(|family| is_in_family(&api.code, family)),
            Error::Decode { .. }
            | Error::TooLarge { .. }
            | Error::NoPem { .. }
            | Error::NoProvider { .. } => false,
        }
    }

    /// Returns true when the service said we called too fast.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Error::Api(api) => {
                api.code.starts_with("RequestLimitExceeded")
                    || api.code == "LimitExceeded.RateLimitExceeded"
            }
            Error::HttpStatus { status, .. } => *status == 429,
            _ => false,
        }
    }
}

/// Exponential backoff with full jitter: a random wait up to `base * 2^attempt`, capped.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(attempt)).min(cap);
    ceiling.mul_f64(jitter())
}

/// A number in [0.5, 1): jitter that still waits at least half the ceiling.
fn jitter() -> f64 {
    rand::random_range(0.5..1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;

    /// A caller in a task of its own: when it was let go.
    fn acquire_in_a_task(pacer: &std::sync::Arc<Pacer>) -> tokio::task::JoinHandle<Instant> {
        let pacer = std::sync::Arc::clone(pacer);
        tokio::spawn(async move {
            pacer.acquire().await;
            Instant::now()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_its_rate() {
        let pacer = std::sync::Arc::new(Pacer::per_second(10));
        let start = Instant::now();
        let mut sent = Vec::new();
        let tasks: Vec<_> = (0..50).map(|_| acquire_in_a_task(&pacer)).collect();
        for t in tasks {
            sent.push(t.await.expect("task"));
        }
        sent.sort();
        // In every window of one second, at most 10 calls.
        for (i, at) in sent.iter().enumerate() {
            let within =
                sent[i..].iter().take_while(|t| **t - *at < Duration::from_secs(1)).count();
            assert!(within <= 10, "{within} calls within a second from {:?}", *at - start);
        }
        // And no slower than the limit: 50 calls take 4.9 s.
        assert_eq!(*sent.last().expect("50") - start, Duration::from_millis(4900));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_process_resumes_at_its_pace_not_in_a_burst() {
        let pacer = std::sync::Arc::new(Pacer::per_second(10));
        pacer.acquire().await;
        let tasks: Vec<_> = (0..5).map(|_| acquire_in_a_task(&pacer)).collect();
        tokio::task::yield_now().await;
        // Half a second passes with nobody running: every queued call is overdue at once.
        tokio::time::advance(Duration::from_millis(500)).await;
        let mut sent = Vec::new();
        for t in tasks {
            sent.push(t.await.expect("task"));
        }
        sent.sort();
        for pair in sent.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(100), "a burst: {sent:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_let_go_a_moment_late_keeps_the_cadence_one_held_longer_counts_from_then() {
        let pacer = Pacer::per_second(10);
        let start = Instant::now();
        pacer.acquire().await;
        // Due at 100 ms, it goes at 109 ms, within a tenth of the interval: the next is due at
        // 200 ms.
        tokio::time::advance(Duration::from_millis(109)).await;
        pacer.acquire().await;
        pacer.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_millis(200));
        // Due at 300 ms, it goes at 311 ms: the next is due 100 ms after that.
        tokio::time::advance(Duration::from_millis(111)).await;
        pacer.acquire().await;
        pacer.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_millis(411));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_asked_for_while_a_call_waits_holds_it_back() {
        let pacer = std::sync::Arc::new(Pacer::per_second(10));
        let start = Instant::now();
        pacer.acquire().await;
        let waiting = acquire_in_a_task(&pacer);
        tokio::task::yield_now().await;
        pacer.slow_down(Duration::from_secs(2));
        assert_eq!(waiting.await.expect("task") - start, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_given_up_while_it_waits_leaves_the_next_its_time() {
        let pacer = std::sync::Arc::new(Pacer::per_second(10));
        let start = Instant::now();
        pacer.acquire().await;
        let given_up = acquire_in_a_task(&pacer);
        tokio::task::yield_now().await;
        given_up.abort();
        assert!(given_up.await.expect_err("aborted").is_cancelled());
        // Neither sooner than the interval after the last call that went, nor later.
        pacer.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn slows_down_when_told() {
        let pacer = Pacer::per_second(10);
        pacer.acquire().await;
        let start = Instant::now();
        pacer.slow_down(Duration::from_secs(2));
        pacer.acquire().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }

    fn api(code: &str) -> Error {
        Error::Api(ApiError {
            action: "ApplyCertificate",
            code: code.into(),
            message: String::new(),
            request_id: String::new(),
        })
    }

    #[test]
    fn retry_classification() {
        let table = [
            ("InternalError", true),
            ("InternalError.DbError", true),
            ("RequestLimitExceeded", true),
            ("RequestLimitExceeded.UinLimitExceeded", true),
            ("LimitExceeded.RateLimitExceeded", true),
            ("FailedOperation.NetworkError", true),
            ("ResourceUnavailable", true),
            ("ResourceInUse", true),
            ("FailedOperation.FrequencyLimit", true),
            ("AuthFailure.SignatureFailure", false),
            ("AuthFailure.SignatureExpire", false),
            ("AuthFailure.SecretIdNotFound", false),
            ("InvalidParameter", false),
            ("InvalidParameterValue", false),
            ("MissingParameter", false),
            ("UnknownParameter", false),
            ("FailedOperation.ExceedsFreeLimit", false),
            ("FailedOperation.MainDomainCertificateCountLimit", false),
            ("FailedOperation.CannotBeDeletedWithinHour", false),
            ("FailedOperation.CertificateNotFound", false),
            ("UnauthorizedOperation", false),
            ("ResourceNotFound.NoDataOfRecord", false),
            ("InvalidParameter.DomainRecordExist", false),
        ];
        for (code, transient) in table {
            assert_eq!(api(code).is_transient(), transient, "{code}");
        }
        let http = |status| Error::HttpStatus {
            action: "X",
            endpoint: String::new(),
            status,
            excerpt: String::new(),
        };
        assert!(http(502).is_transient() && http(503).is_transient() && http(429).is_transient());
        assert!(!http(404).is_transient() && !http(400).is_transient());
        assert!(api("RequestLimitExceeded").is_rate_limited());
        assert!(!api("InternalError").is_rate_limited());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(200);
        let cap = Duration::from_secs(5);
        for attempt in 0..10 {
            let wait = backoff(attempt, base, cap);
            let ceiling = (base * 2u32.pow(attempt)).min(cap);
            assert!(wait >= ceiling / 2 && wait <= ceiling, "{attempt}: {wait:?}");
        }
    }
}
