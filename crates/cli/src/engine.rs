//! The apply engine: reads the cloud for what state records (refresh), and executes a plan
//! through the provider, saving state after every step so that a failure or crash loses
//! nothing already done. It decides nothing: the plan says what to do.

use std::time::Instant;

use certplan_core::{Address, CertStatus, RemoteCertificate};
use certplan_parser::Config;
use certplan_planner::{Action, Observed, Plan, Prior, ResourceChange};
use certplan_provider::wire::ApplyCertificateRequest;
use certplan_provider::{Client, Error as ProviderError};
use certplan_state::{ResourceState, State, StateError, StateStore};
use chrono::Utc;

/// Reads every certificate recorded in `state` from the cloud, in as few calls as the API allows.
pub async fn refresh(client: &Client, state: &State) -> Result<Observed, ProviderError> {
    let ids: Vec<String> = state.resources.values().map(|r| r.certificate_id.clone()).collect();
    if ids.is_empty() {
        return Ok(Observed::new());
    }
    let found = client.certificates_by_id(&ids).await?;
    Ok(found.into_iter().map(|c| (c.id.clone(), c)).collect())
}

/// Something the engine did, for the caller to show.
#[derive(Debug)]
pub enum Event<'a> {
    Started {
        address: &'a Address,
        action: Action,
    },
    Completed {
        address: &'a Address,
        action: Action,
        id: Option<&'a str>,
        elapsed: f64,
    },
    Failed {
        address: &'a Address,
        action: Action,
        error: &'a anyhow::Error,
    },
    /// The old certificate of a replacement could not be deleted; the new one is in place.
    OldNotDeleted {
        address: &'a Address,
        id: &'a str,
        error: &'a ProviderError,
    },
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub added: usize,
    pub renewed: usize,
    pub destroyed: usize,
    pub failed: Vec<(Address, anyhow::Error)>,
    /// Certificates applied for and recorded, but not issued yet.
    pub pending: Vec<(Address, String)>,
}

/// Executes `plan` in address order. Every change that completes is saved before the next
/// starts; a failed change is reported and the others go on.
pub async fn apply(
    plan: &Plan,
    config: &Config,
    state: &mut State,
    store: &mut dyn StateStore,
    client: &Client,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Report, StateError> {
    let mut report = Report::default();
    for change in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let address = &change.address;
        on_event(Event::Started { address, action: change.action });
        let started = Instant::now();
        let outcome = execute(change, config, state, store, client, &mut on_event).await;
        match outcome {
            Ok(id) => {
                match change.action {
                    Action::Create => report.added += 1,
                    Action::Renew => report.renewed += 1,
                    Action::Replace => {
                        report.added += 1;
                        report.destroyed +=
                            usize::from(change.before.as_ref().is_some_and(|b| b.exists));
                    }
                    Action::Delete => report.destroyed += 1,
                    Action::NoOp => {}
                }
                if let Some(r) = state.resources.get(address)
                    && r.status.is_pending()
                {
                    report.pending.push((address.clone(), r.certificate_id.clone()));
                }
                on_event(Event::Completed {
                    address,
                    action: change.action,
                    id: id.as_deref(),
                    elapsed: started.elapsed().as_secs_f64(),
                });
            }
            Err(Failure::State(e)) => return Err(e),
            Err(Failure::Change(error)) => {
                on_event(Event::Failed { address, action: change.action, error: &error });
                report.failed.push((address.clone(), error));
            }
        }
    }
    Ok(report)
}

enum Failure {
    /// The change could not be made; other changes go on.
    Change(anyhow::Error),
    /// State could not be saved: stop at once, nothing more may be done unrecorded.
    State(StateError),
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        Failure::State(e)
    }
}

/// Makes one change; returns the resulting certificate id (none for a delete).
async fn execute(
    change: &ResourceChange,
    config: &Config,
    state: &mut State,
    store: &mut dyn StateStore,
    client: &Client,
    on_event: &mut impl FnMut(Event<'_>),
) -> Result<Option<String>, Failure> {
    let address = &change.address;
    let prior = change.before.as_ref();
    match change.action {
        Action::Create | Action::Renew | Action::Replace => {
            let (Some(args), Some(resource)) = (&change.after, config.resources.get(address))
            else {
                return Err(Failure::Change(anyhow::anyhow!(
                    "{address} is not in the configuration this plan was made from"
                )));
            };
            let renewing = prior.filter(|_| change.action == Action::Renew);
            let request = ApplyCertificateRequest::new(
                args,
                resource.csr_key_password.as_deref(),
                renewing.map(|p| p.id.as_str()),
            );
            let id =
                client.apply_certificate(&request).await.map_err(|e| Failure::Change(e.into()))?;
            let mut renewed_from = Vec::new();
            if let Some(p) = renewing {
                renewed_from.push(p.id.clone());
                if let Some(old) = state.resources.get(address) {
                    renewed_from.extend(old.renewed_from.iter().cloned());
                }
            }
            // Record the new id before anything else can fail: a certificate applied for but
            // not recorded is one nobody will renew.
            let recorded = ResourceState {
                certificate_id: id.clone(),
                args: args.clone(),
                status: CertStatus::Pending,
                not_before: None,
                not_after: None,
                renewed_from,
                prevent_destroy: resource.lifecycle.prevent_destroy,
                applied_at: Utc::now(),
            };
            state.resources.insert(address.clone(), recorded);
            store.save(state)?;

            match client.describe_certificate_detail(&id).await {
                Ok(detail) => {
                    let remote = detail.to_remote();
                    if let Some(r) = state.resources.get_mut(address) {
                        update_from_remote(r, &remote);
                    }
                    store.save(state)?;
                }
                // The certificate exists and is recorded; the next refresh reads its status.
                Err(e) => return Err(Failure::Change(anyhow::Error::new(e).context(format!(
                    "certificate {id} was applied for and recorded, but reading its status failed"
                )))),
            }
            if change.action == Action::Replace
                && let Some(old) = prior.filter(|p| p.exists)
                && let Err(e) = delete(client, &old.id).await
            {
                on_event(Event::OldNotDeleted { address, id: &old.id, error: &e });
            }
            Ok(Some(id))
        }
        Action::Delete => {
            if let Some(old) = prior.filter(|p| p.exists) {
                delete(client, &old.id).await.map_err(|e| Failure::Change(e.into()))?;
            }
            state.resources.remove(address);
            store.save(state)?;
            Ok(None)
        }
        Action::NoOp => Ok(prior.map(|p: &Prior| p.id.clone())),
    }
}

/// Deletes a certificate; one that is already gone counts as deleted.
async fn delete(client: &Client, id: &str) -> Result<(), ProviderError> {
    match client.delete_certificate(id).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("FailedOperation.CertificateNotFound") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Brings the recorded status and dates of every certificate up to what the cloud reported;
/// returns whether anything changed.
pub fn record_observed(state: &mut State, observed: &Observed) -> bool {
    let mut changed = false;
    for r in state.resources.values_mut() {
        if let Some(remote) = observed.get(&r.certificate_id) {
            let before = (r.status, r.not_before, r.not_after);
            update_from_remote(r, remote);
            changed |= before != (r.status, r.not_before, r.not_after);
        }
    }
    changed
}

fn update_from_remote(r: &mut ResourceState, remote: &RemoteCertificate) {
    r.status = remote.status;
    r.not_before = remote.not_before.or(r.not_before);
    r.not_after = remote.not_after.or(r.not_after);
}
