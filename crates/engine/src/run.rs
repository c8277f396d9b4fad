//! One apply's context — what it carries out and with what: the plan, the inputs, the ledger,
//! the accounts' clients, the cancellation token, the events, the options and their timing — and what a
//! change ends with ([`Done`] or [`Failure`]). The operations (`change`, `wait`, `import`,
//! `deliver`) are methods on it.

use std::time::Duration;

use certplan_core::{CertificateId, Observed, Plan, ProviderRef, RemoteCertificate};
use certplan_provider::{Account, Accounts, Error as ProviderError};
use certplan_state::StateError;
use tokio_util::sync::CancellationToken;

use crate::error::ChangeError;
use crate::event::Event;
use crate::ledger::Ledger;
use crate::options::{ApplyOptions, Inputs};

/// One apply: what it carries out, and with what.
pub(crate) struct Run<'a, 'l> {
    pub(crate) plan: &'a Plan,
    pub(crate) inputs: &'a Inputs,
    pub(crate) ledger: &'a Ledger<'l>,
    /// The clients of the accounts the plan's certificates are in.
    pub(crate) accounts: &'a Accounts,
    /// Cancelled by an interrupt (or a closed standard output): no new work starts, and waits
    /// end at once; work in flight finishes and is recorded.
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) options: ApplyOptions,
    pub(crate) on_event: &'a (dyn Fn(Event<'_>) + Sync),
    /// The certificates the plan's imports record, read ahead for all of them at once.
    pub(crate) read_ahead: Observed,
}

impl Run<'_, '_> {
    /// Returns true once the run is cancelled, or a save failed: no new work may start.
    pub(crate) fn stopping(&self) -> bool {
        self.cancel.is_cancelled() || self.ledger.is_broken()
    }

    /// Sleeps for `duration` unless the run is cancelled first; returns whether it was.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = self.cancel.cancelled() => true,
            () = tokio::time::sleep(duration) => self.cancel.is_cancelled(),
        }
    }

    /// Returns the account `provider` names: where its resources' certificates are.
    pub(crate) fn account(&self, provider: &ProviderRef) -> Result<&Account, ProviderError> {
        self.accounts.get(provider)
    }

    /// Returns the account of the certificate recorded for `address` (the default one's when
    /// nothing is recorded, and so nothing is there to deliver).
    pub(crate) fn account_of(
        &self,
        address: &certplan_core::Address,
    ) -> Result<&Account, ProviderError> {
        let provider = (self.ledger)
            .read(|s| s.resources.get(address).map(|r| r.args.provider.clone()))
            .unwrap_or_default();
        self.account(&provider)
    }

    /// Publishes `records`, the DNS validation records of `address`'s certificate, through the
    /// `dns_challenge` the plan declares for it; false when it declares none.
    pub(crate) async fn publish_validation(
        &self,
        address: &certplan_core::Address,
        records: &[certplan_core::ValidationRecord],
    ) -> Result<bool, crate::error::ObtainError> {
        let args = self.plan.change_of(address).and_then(|c| c.after.as_ref());
        let Some((publisher, args)) = args.and_then(|a| Some((a.publish_validation.as_ref()?, a)))
        else {
            return Ok(false);
        };
        let account = self.account(&args.provider).map_err(|e| crate::error::ObtainError::Dns {
            what: "publishing".to_owned(),
            error: e.to_string(),
        })?;
        crate::acme::publish_validation(&account.dns, publisher, records).await?;
        Ok(true)
    }

    /// Deletes a certificate from `provider`'s account; one that is already gone counts as
    /// deleted.
    pub(crate) async fn delete_certificate(
        &self,
        provider: &ProviderRef,
        id: &str,
    ) -> Result<(), ProviderError> {
        match self.account(provider)?.ssl.delete_certificate(id).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What one change left behind.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub(crate) id: Option<CertificateId>,
    /// The new certificate, when it is not issued yet.
    pub(crate) pending: Option<RemoteCertificate>,
    pub(crate) deleted_old: bool,
    /// A delete the service refused for now: recorded as deposed, not counted as destroyed.
    pub(crate) deferred: bool,
}

/// Why one change ended without being made.
pub(crate) enum Failure {
    /// The change could not be made; other changes go on.
    Change(ChangeError),
    /// State could not be saved: stop at once, nothing more may be done unrecorded.
    State(StateError),
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::State(e)
    }
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Change(e.into())
    }
}

impl From<ChangeError> for Failure {
    fn from(e: ChangeError) -> Self {
        Failure::Change(e)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use certplan_core::Plan;
    use certplan_provider::{Client, Credentials, Endpoint};
    use certplan_state::State;
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::Run;
    use crate::ledger::Ledger;
    use crate::options::{ApplyOptions, Inputs};

    /// Runs `check` with a run that makes no call (its client points nowhere).
    async fn with_run(cancel: &CancellationToken, check: impl AsyncFnOnce(&Run<'_, '_>)) {
        let plan = Plan {
            created_at: chrono::Utc::now(),
            moved: Vec::new(),
            refreshed: false,
            drift: Vec::new(),
            changes: Vec::new(),
            delivery: Vec::new(),
            attention: Vec::new(),
            quota: Vec::new(),
        };
        let mut state = State::new();
        let ledger = Ledger::new(&mut state, None);
        let endpoint = Endpoint::parse("http://127.0.0.1:9").expect("loopback");
        let client = Client::new(endpoint, Credentials::new("AKID", "key"));
        let accounts = certplan_provider::Accounts::single(client);
        let run = Run {
            plan: &plan,
            inputs: &Inputs::default(),
            ledger: &ledger,
            accounts: &accounts,
            cancel,
            options: ApplyOptions::default(),
            on_event: &|_| {},
            read_ahead: Default::default(),
        };
        check(&run).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_lasts_its_interval_on_the_injected_clock_and_ends_at_once_when_cancelled() {
        let cancel = CancellationToken::new();
        with_run(&cancel, async |run| {
            let started = Instant::now();
            assert!(!run.sleep(Duration::from_secs(3600)).await, "not cancelled");
            assert_eq!(started.elapsed(), Duration::from_secs(3600), "the paused clock's hour");

            let started = Instant::now();
            let cancelling = async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                run.cancel.cancel();
            };
            let (cancelled, ()) = tokio::join!(run.sleep(Duration::from_secs(3600)), cancelling);
            assert!(cancelled);
            assert_eq!(started.elapsed(), Duration::from_secs(5), "ended when cancelled");
            assert!(run.stopping(), "no new work starts");
        })
        .await;
    }
}
