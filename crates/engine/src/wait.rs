//! Waiting for new certificates to be issued: one batched describe call per poll for all of
//! them, each with its own time limit, stopped at once by an interrupt (state is recorded).

use std::collections::BTreeMap;
use std::time::Duration;

use certplan_core::{Address, CertStatus, CertificateId, ProviderRef, RemoteCertificate};
use certplan_state::StateError;
use tokio::time::Instant;

use crate::error::ChangeError;
use crate::event::Event;
use crate::run::Run;
use crate::step::Step;

/// What waiting ended with.
#[derive(Debug, Default)]
pub(crate) struct WaitOutcome {
    /// Certificates that failed, vanished or were not issued in time.
    pub failed: Vec<(Address, ChangeError)>,
    /// Certificates still pending when an interrupt stopped the wait.
    pub pending: Vec<(Address, RemoteCertificate)>,
    /// Certificates issued while waited for.
    pub issued: Vec<Address>,
    pub interrupted: bool,
}

impl Run<'_, '_> {
    /// Reads the certificates waited for: one listing per account that holds some, all at once.
    async fn read_waiting(
        &self,
        waiting: &BTreeMap<CertificateId, (Address, RemoteCertificate, Duration)>,
    ) -> Result<Vec<RemoteCertificate>, certplan_provider::Error> {
        let mut by_account: BTreeMap<ProviderRef, Vec<CertificateId>> = BTreeMap::new();
        for (id, (address, _, _)) in waiting {
            let provider = (self.ledger)
                .read(|s| s.resources.get(address).map(|r| r.args.provider.clone()))
                .unwrap_or_default();
            by_account.entry(provider).or_default().push(id.clone());
        }
        // The accounts at once: a poll costs one round trip, however many there are.
        let read = by_account.iter().map(|(provider, ids)| async {
            self.account(provider)?.ssl.certificates_by_id(ids).await
        });
        let mut seen = Vec::new();
        for read in futures_util::future::join_all(read).await {
            seen.extend(read?);
        }
        Ok(seen)
    }

    /// Polls until every certificate in `waits` is issued, its own time runs out, or the run is
    /// cancelled, recording each status change in state as it is seen.
    pub(crate) async fn wait_for_issuance(
        &self,
        waits: Vec<(Address, RemoteCertificate, Duration)>,
    ) -> Result<WaitOutcome, StateError> {
        let Run { ledger, on_event, .. } = *self;
        let timing = self.options.timing;
        let started = Instant::now();
        for (address, remote, limit) in &waits {
            let records = publishable(remote);
            on_event(Event::Waiting { address, id: &remote.id, limit: *limit, records });
        }
        let mut waiting: BTreeMap<CertificateId, (Address, RemoteCertificate, Duration)> = waits
            .into_iter()
            .map(|(address, remote, limit)| (remote.id.clone(), (address, remote, limit)))
            .collect();
        let mut outcome = WaitOutcome::default();
        let mut last_progress = Instant::now();
        while !waiting.is_empty() {
            if self.sleep(timing.issuance_poll).await {
                outcome.interrupted = true;
                outcome
                    .pending
                    .extend(waiting.into_values().map(|(address, remote, _)| (address, remote)));
                break;
            }
            let elapsed = started.elapsed();
            let seen = match self.read_waiting(&waiting).await {
                Ok(seen) => seen,
                // A failed poll is not a failed certificate; the next poll tries again.
                Err(_) if waiting.values().any(|(_, _, limit)| elapsed < *limit) => continue,
                Err(e) => {
                    let error = std::sync::Arc::new(e);
                    for (_, (address, _, _)) in std::mem::take(&mut waiting) {
                        outcome.failed.push((address, ChangeError::Poll(error.clone())));
                    }
                    break;
                }
            };
            let report_progress = last_progress.elapsed() >= timing.progress;
            if report_progress {
                last_progress = Instant::now();
            }
            let gone: Vec<CertificateId> =
                waiting.keys().filter(|id| !seen.iter().any(|r| r.id == *id)).cloned().collect();
            for id in gone {
                if let Some((address, _, _)) = waiting.remove(&id) {
                    outcome.failed.push((address, ChangeError::Vanished { id }));
                }
            }
            for remote in seen {
                let Some((address, _, limit)) = waiting.get(&remote.id).cloned() else { continue };
                let remote_now = Box::new(remote.clone());
                let observed = Step::Observe { address: address.clone(), remote: remote_now };
                match remote.status {
                    CertStatus::Issued => {
                        ledger.record(observed).await?;
                        waiting.remove(&remote.id);
                        let elapsed = elapsed.as_secs_f64();
                        on_event(Event::Issued { address: &address, id: &remote.id, elapsed });
                        outcome.issued.push(address);
                    }
                    status if status.is_pending() && elapsed < limit => {
                        if report_progress {
                            let elapsed = elapsed.as_secs_f64();
                            on_event(Event::StillWaiting {
                                address: &address,
                                id: &remote.id,
                                elapsed,
                                status,
                            });
                        }
                        // The list answer has no validation records: keep those the detail gave.
                        if let Some(entry) = waiting.get_mut(&remote.id) {
                            let validation = std::mem::take(&mut entry.1.validation);
                            let method = entry.1.dv_auth_method;
                            entry.1 = RemoteCertificate {
                                validation,
                                dv_auth_method: remote.dv_auth_method.or(method),
                                ..remote
                            };
                        }
                    }
                    status => {
                        ledger.record(observed).await?;
                        let waited = waiting.remove(&remote.id);
                        let records = waited
                            .map(|(_, first, _)| publishable(&first).to_vec())
                            .unwrap_or_default();
                        let id = remote.id;
                        let error = if status.is_pending() {
                            ChangeError::NotIssued { id, limit, records }
                        } else {
                            ChangeError::Unissuable { id, status }
                        };
                        outcome.failed.push((address, error));
                    }
                }
            }
        }
        Ok(outcome)
    }
}

/// What the user must publish for `remote` to be validated: nothing when the CA adds the
/// record itself (`DNS_AUTO`).
fn publishable(remote: &RemoteCertificate) -> &[certplan_core::ValidationRecord] {
    if remote.dv_auth_method == Some(certplan_core::DvAuthMethod::DnsAuto) {
        &[]
    } else {
        &remote.validation
    }
}
