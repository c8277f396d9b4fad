//! What the API has served ([`Stats`]) and the rate limit it enforces, as the real service
//! enforces it: per action and per account — one account calling at its limit takes nothing
//! from another's. Time is an argument, so that the limit is tested without waiting.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// What the sandbox has served, for tests and benchmarks to count calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stats {
    /// API requests by action, refused ones included.
    pub requests: BTreeMap<String, u64>,
    /// Requests refused with `RequestLimitExceeded`.
    pub rate_limited: u64,
    /// The same counts for each account, by SecretId: how a benchmark checks that each was
    /// served at its own limit.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountStats>,
}

/// What the sandbox has served one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountStats {
    /// API requests by action, refused ones included.
    pub requests: BTreeMap<String, u64>,
    /// Requests refused with `RequestLimitExceeded`.
    pub rate_limited: u64,
}

/// Request counts and the token buckets that enforce the rate limit.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    stats: Stats,
    /// By SecretId and action: the tokens left, and when they were counted.
    buckets: HashMap<(String, String), (f64, Instant)>,
}

impl Traffic {
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Counts a request of account `secret_id` for `action` at `now` and decides whether the
    /// rate limit admits it: each account has, for each action, a bucket of `limit` tokens
    /// refilled at `limit` per second. A `limit` of 0 admits everything.
    pub(crate) fn admit(
        &mut self,
        secret_id: &str,
        action: &str,
        limit: u32,
        now: Instant,
    ) -> bool {
        let Traffic { stats, buckets } = self;
        let account = stats.accounts.entry(secret_id.to_owned()).or_default();
        *stats.requests.entry(action.to_owned()).or_default() += 1;
        *account.requests.entry(action.to_owned()).or_default() += 1;
        if limit == 0 {
            return true;
        }
        let limit = f64::from(limit);
        let key = (secret_id.to_owned(), action.to_owned());
        let (tokens, counted) = buckets.entry(key).or_insert((limit, now));
        let refilled = now.saturating_duration_since(*counted).as_secs_f64() * limit;
        *tokens = (*tokens + refilled).min(limit);
        *counted = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            stats.rate_limited += 1;
            account.rate_limited += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Sends `n` requests of `secret_id` for `action` at `at`; returns how many were admitted.
    fn burst(traffic: &mut Traffic, secret_id: &str, action: &str, n: u32, at: Instant) -> u32 {
        (0..n).map(|_| u32::from(traffic.admit(secret_id, action, 10, at))).sum()
    }

    #[test]
    fn each_account_has_its_own_limit_for_each_action() {
        let mut traffic = Traffic::default();
        let start = Instant::now();
        assert_eq!(burst(&mut traffic, "AKIDa", "ApplyCertificate", 10, start), 10);
        assert_eq!(burst(&mut traffic, "AKIDb", "ApplyCertificate", 10, start), 10, "its own");
        assert_eq!(burst(&mut traffic, "AKIDa", "DescribeCertificates", 10, start), 10);
        assert_eq!(burst(&mut traffic, "AKIDa", "ApplyCertificate", 5, start), 0, "spent");

        // A tenth of a second refills one token.
        let later = start + Duration::from_millis(100);
        assert_eq!(burst(&mut traffic, "AKIDa", "ApplyCertificate", 3, later), 1);

        let stats = traffic.stats();
        assert_eq!(stats.requests["ApplyCertificate"], 28);
        assert_eq!(stats.rate_limited, 7);
        let of = |secret_id: &str| &stats.accounts[secret_id];
        assert_eq!((of("AKIDa").requests["ApplyCertificate"], of("AKIDa").rate_limited), (18, 7));
        assert_eq!((of("AKIDb").requests["ApplyCertificate"], of("AKIDb").rate_limited), (10, 0));
    }

    #[test]
    fn a_limit_of_zero_admits_everything_and_still_counts() {
        let mut traffic = Traffic::default();
        let now = Instant::now();
        assert!((0..100).all(|_| traffic.admit("AKIDa", "ApplyCertificate", 0, now)));
        assert_eq!(traffic.stats().accounts["AKIDa"].requests["ApplyCertificate"], 100);
    }
}
