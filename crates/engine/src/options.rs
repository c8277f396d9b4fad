//! What an apply is given besides the plan: the secrets a plan file must not hold ([`Inputs`]),
//! how much runs at once, and how long it waits between the things it repeats ([`Timing`]).

use std::collections::BTreeMap;
use std::time::Duration;

use certplan_core::{Address, Sensitive};

/// What an apply needs besides the plan: values a plan file must not hold.
#[derive(Debug, Default)]
pub struct Inputs {
    /// The declared `csr_key_password` of each resource that has one (the plan holds only its
    /// digest).
    pub csr_key_passwords: BTreeMap<Address, Sensitive>,
    /// What ordering from an ACME CA needs.
    pub acme: AcmeInputs,
}

/// What ordering from an ACME CA needs that a plan must not hold, or cannot.
#[derive(Debug, Default, Clone)]
pub struct AcmeInputs {
    /// Each `acme_registration`'s account key, by the registration's name.
    pub account_keys: BTreeMap<String, Sensitive>,
    /// PEM roots to trust for the CA besides the public ones (a test CA's).
    pub roots: Option<Vec<u8>>,
}

/// How to carry out a plan.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// How many changes run at once in each account (each account's pacer is the real bound).
    pub parallelism: usize,
    /// How long to wait for new certificates to be issued, overriding each change's
    /// configured `wait_for_issuance`.
    pub wait: Option<Duration>,
    pub timing: Timing,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 10, wait: None, timing: Timing::default() }
    }
}

/// How long the engine waits between the things it repeats. The defaults suit the real
/// service; tests scale them down ([`Timing::scaled`]) so that a poll takes milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// How often a change still running is reported (and a wait for issuance).
    pub progress: Duration,
    /// How often waiting for issuance asks the cloud.
    pub issuance_poll: Duration,
    /// How often a running deployment task is read.
    pub deploy_follow: Duration,
    /// How long a deployment task is followed before a later apply is left to follow it.
    pub deploy_follow_limit: Duration,
    /// How often a deployment task is asked for again while the API answers that it is still
    /// creating it (record id 0), which takes seconds.
    pub task_creation_retry: Duration,
    /// The first pause before an application that failed transiently is sent again (once the
    /// journal shows it created nothing); each retry doubles it, up to `apply_backoff_cap`.
    pub apply_backoff: Duration,
    pub apply_backoff_cap: Duration,
    /// How long after its request's timeout an interrupted run's application may still create
    /// a certificate, for the clocks of two machines and the service.
    pub in_flight_margin: Duration,
    /// How often the service's queries of where certificates are bound are read while they
    /// run, and how long they are waited for.
    pub bind_query_poll: Duration,
    pub bind_query_limit: Duration,
    /// How often an ACME order (and its challenges) is read while the CA works on it, and how
    /// long it is waited for before a later apply resumes it.
    pub order_poll: Duration,
    pub order_limit: Duration,
    /// How often DNS-01 records are looked for on the zone's servers before the CA is asked
    /// to check them, and for how long.
    pub propagation_poll: Duration,
    pub propagation_limit: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            progress: Duration::from_secs(10),
            issuance_poll: Duration::from_secs(2),
            deploy_follow: Duration::from_secs(2),
            deploy_follow_limit: Duration::from_secs(15 * 60),
            task_creation_retry: Duration::from_secs(1),
            apply_backoff: Duration::from_millis(500),
            apply_backoff_cap: Duration::from_secs(8),
            in_flight_margin: Duration::from_secs(5),
            bind_query_poll: Duration::from_secs(1),
            bind_query_limit: Duration::from_secs(120),
            order_poll: Duration::from_secs(1),
            order_limit: Duration::from_secs(10 * 60),
            propagation_poll: Duration::from_secs(2),
            propagation_limit: Duration::from_secs(10 * 60),
        }
    }
}

impl Timing {
    /// Returns every interval multiplied by `factor` (their proportions kept), none shorter
    /// than a millisecond.
    pub fn scaled(self, factor: f64) -> Self {
        let f = |d: Duration| d.mul_f64(factor.max(0.0)).max(Duration::from_millis(1));
        Timing {
            progress: f(self.progress),
            issuance_poll: f(self.issuance_poll),
            deploy_follow: f(self.deploy_follow),
            deploy_follow_limit: f(self.deploy_follow_limit),
            task_creation_retry: f(self.task_creation_retry),
            apply_backoff: f(self.apply_backoff),
            apply_backoff_cap: f(self.apply_backoff_cap),
            in_flight_margin: f(self.in_flight_margin),
            bind_query_poll: f(self.bind_query_poll),
            bind_query_limit: f(self.bind_query_limit),
            order_poll: f(self.order_poll),
            order_limit: f(self.order_limit),
            propagation_poll: f(self.propagation_poll),
            propagation_limit: f(self.propagation_limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Timing;

    #[test]
    fn the_defaults_are_what_the_real_service_needs_and_scaling_keeps_them_usable() {
        let t = Timing::default();
        let secs = Duration::from_secs;
        assert_eq!(
            (t.progress, t.issuance_poll, t.deploy_follow, t.task_creation_retry),
            (secs(10), secs(2), secs(2), secs(1))
        );
        assert_eq!((t.deploy_follow_limit, t.in_flight_margin), (secs(15 * 60), secs(5)));
        assert_eq!((t.apply_backoff, t.apply_backoff_cap), (Duration::from_millis(500), secs(8)));
        assert_eq!((t.bind_query_poll, t.bind_query_limit), (secs(1), secs(120)));
        assert_eq!(t.scaled(0.01).issuance_poll, Duration::from_millis(20));
        // A period of zero would make tokio's interval panic.
        assert_eq!(t.scaled(1e-12).progress, Duration::from_millis(1));
        assert_eq!(t.scaled(-1.0).progress, Duration::from_millis(1));
    }
}
