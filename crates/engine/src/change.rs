//! The changes a plan makes to certificates, as methods on the run: apply for one (create,
//! renew, replace), update one in place, delete or forget one, and delete what a replacement
//! left behind. Every call that is not idempotent is journaled first.

use certplan_core::{Action, Argument, CertStatus, CertificateId, Prior, Reason, ResourceChange};
use certplan_provider::backoff;
use certplan_state::{Deposed, Intent, IntentKind};
use chrono::Utc;

use crate::acme;
use crate::error::{ChangeError, ObtainError};
use crate::event::Event;
use crate::read::find_applied;
use crate::run::{Done, Failure, Run};
use crate::step::{Step, known_ids};

/// How many times an application is tried when the service fails transiently.
const APPLY_ATTEMPTS: u32 = 4;

impl Run<'_, '_> {
    /// Makes one change.
    pub(crate) async fn make_change(&self, change: &ResourceChange) -> Result<Done, Failure> {
        if let Some(id) = &change.deposed {
            return self.delete_deposed(change, id).await;
        }
        match change.action {
            Action::Create | Action::Renew | Action::Replace => self.apply_for(change).await,
            Action::Update => self.update(change).await,
            Action::Delete => self.delete(change).await,
            Action::Forget => {
                let id = change.before.as_ref().map(|p| p.id.clone());
                let address = change.address.clone();
                self.ledger.record(Step::Remove { address, id: id.clone() }).await?;
                Ok(Done { id, ..Done::default() })
            }
            Action::NoOp => Ok(Done::default()),
        }
    }

    /// Applies for the change's new certificate (a renewal of the one before, or its
    /// replacement), records it, and deletes a replaced one unless its resources must move
    /// first.
    async fn apply_for(&self, change: &ResourceChange) -> Result<Done, Failure> {
        let address = &change.address;
        let Some(args) = &change.after else {
            return Err(incomplete("declared arguments").into());
        };
        let Some(mut kind) = IntentKind::of(change.action) else {
            return Err(incomplete("application").into());
        };
        // An ACME certificate is renewed by a new order: the new certificate replaces the old,
        // which is deleted once nothing serves it.
        if args.acme.is_some() && kind == IntentKind::Renew {
            kind = IntentKind::Replace;
        }
        let prior = change.before.as_ref();
        // Nor is a certificate renewed into another account: a new one is applied for there.
        if prior.is_some_and(|p| p.args.provider != args.provider) && kind == IntentKind::Renew {
            kind = IntentKind::Replace;
        }
        let account = self.account(&args.provider)?;
        let renewing = prior.filter(|_| kind == IntentKind::Renew);
        let replacing = prior.filter(|p| kind == IntentKind::Replace && p.exists);
        // The certificate whose cloud resources the new one takes over, as recorded now.
        let serving = self.ledger.read(|s| s.resources.get(address).and_then(|r| r.serving()));
        // Failed validations in a row are counted, so that the planner can stop applying
        // again for a domain whose validation cannot succeed.
        let validation_failures = match &change.reason {
            Reason::ValidationTimedOut { .. }
            | Reason::Unusable { status: CertStatus::Failed, .. } => {
                self.ledger.read(|s| s.resources.get(address).map_or(0, |r| r.validation_failures))
                    + 1
            }
            _ => 0,
        };
        // Why the certificate it replaces had to go, when the cloud lost it or made it
        // unusable: the planner stops a second replacement for the same reason before this
        // one was ever issued (a loop that would spend the quota on every run).
        let replaces_because = match &change.reason {
            Reason::Gone { .. } => Some("gone".to_owned()),
            Reason::Unusable { status, .. } if *status != CertStatus::Failed => {
                Some(status.name().to_owned())
            }
            _ => None,
        };
        let domain_lock = self.ledger.domain_lock(&args.domain);
        let _one_application_per_domain = domain_lock.lock().await;
        let intent = Intent {
            address: address.clone(),
            action: kind,
            args: args.clone(),
            prevent_destroy: change.prevent_destroy,
            sensitive: change.sensitive.clone(),
            validation_failures,
            old_certificate_id: renewing.or(replacing).map(|p| p.id.clone()),
            old_provider: replacing
                .map(|p| &p.args.provider)
                .filter(|p| **p != args.provider)
                .cloned(),
            supersedes: prior.map(|p| p.id.clone()),
            started_at: Utc::now(),
            replaces_because,
            order: None,
            retry_after: None,
        };
        let (id, intent) = match args.acme {
            Some(_) => self.order(intent).await?,
            None => self.send_application(change, intent, renewing).await?,
        };
        // Record the new certificate with its status in one save — and a replaced one as
        // deposed in the same step, so that no crash or failure between here and its delete
        // leaves it recorded nowhere. Until then the journaled intent covers both.
        let detail = account.ssl.certificate(&id).await;
        let remote = detail.as_ref().ok().cloned().map(Box::new);
        self.ledger.record(Step::Adopt { intent, id: id.clone(), remote }).await?;
        // The certificate exists and is recorded; the next refresh reads its status.
        let remote = detail.map_err(|error| ChangeError::StatusUnread { id: id.clone(), error })?;
        if remote.status.is_pending()
            && let Some(publisher) = &args.publish_validation
        {
            acme::publish_validation(&account.dns, publisher, &remote.validation)
                .await
                .map_err(ChangeError::Obtain)?;
        }

        let mut deleted_old = false;
        if let Some(old) = replacing {
            let same_account = old.args.provider == args.provider;
            if change.delivery.deploy.is_some()
                && same_account
                && serving.as_deref() == Some(old.id.as_str())
            {
                // The service refuses to delete a certificate that still serves: the old one
                // stays deposed until the deployment has moved its cloud resources to the new.
                let error = format!("kept until its cloud resources have moved to {id}");
                self.ledger.record(Step::DeleteFailed { id: old.id.clone(), error }).await?;
            } else {
                deleted_old = self.delete_old(change, old).await?;
            }
        }
        let pending = remote.status.is_pending().then_some(remote);
        Ok(Done { id: Some(id), pending, deleted_old, deferred: false })
    }

    /// Sends the application `intent` describes until it is answered with a certificate, the
    /// service refuses it for good, or its outcome is unknown; returns the certificate's id
    /// and the intent it settles.
    async fn send_application(
        &self,
        change: &ResourceChange,
        mut intent: Intent,
        renewing: Option<&Prior>,
    ) -> Result<(CertificateId, Intent), Failure> {
        let address = &change.address;
        let password = self.inputs.csr_key_passwords.get(address).map(|p| p.expose());
        let renews = renewing.map(|p| p.id.as_str());
        let timing = self.options.timing;
        let ssl = &self.account(&intent.args.provider)?.ssl;
        let mut attempt = 0;
        loop {
            attempt += 1;
            intent.started_at = Utc::now();
            // ApplyCertificate is not idempotent: journal the intent first, so that a response
            // lost to a crash or a dropped connection is found, not applied twice.
            self.ledger.record(Step::Journal(intent.clone())).await?;
            let failed = match ssl.apply_for_certificate(&intent.args, password, renews).await {
                Ok(id) => return Ok((id, intent)),
                // The service refused before acting: nothing was created.
                Err(refused) if refused.proves_nothing_done() => refused,
                // No answer, a broken one, or an error the service also gives after it created
                // the certificate: it may have acted. Look before anything else.
                Err(lost) => {
                    let known = self.ledger.read(known_ids);
                    return match find_applied(ssl, &known, &intent).await {
                        Ok(Some(found)) => {
                            let id = &found.id;
                            (self.on_event)(Event::Recovered { address, id, error: &lost });
                            Ok((found.id, intent))
                        }
                        // Not visible yet is not "never created": the service may still be
                        // working on the request. Sending it again now could make a second
                        // certificate, so the intent stays journaled and the next run looks
                        // again before anything else.
                        Ok(None) => Err(ChangeError::NotVisibleYet { error: lost }.into()),
                        Err(lookup) => Err(ChangeError::Unknown { error: lost, lookup }.into()),
                    };
                }
            };
            // Known not to have created anything: the intent is settled.
            self.ledger.record(Step::Settle(intent.clone())).await?;
            if !(attempt < APPLY_ATTEMPTS && failed.is_transient()) {
                return Err(failed.into());
            }
            let pause = backoff(attempt - 1, timing.apply_backoff, timing.apply_backoff_cap);
            tokio::time::sleep(pause).await;
        }
    }

    /// Obtains the certificate of an ACME `intent` and uploads it — resuming the order an
    /// interrupted run placed for the resource, if there is one, rather than placing another.
    async fn order(&self, intent: Intent) -> Result<(CertificateId, Intent), Failure> {
        let open: Vec<Intent> = self.ledger.read(|s| {
            (s.intents.iter())
                .filter(|i| i.address == intent.address)
                .filter(|i| i.order.is_some() || i.retry_after.is_some())
                .cloned()
                .collect()
        });
        let resumable = (open.iter())
            .find(|o| o.order.is_some() && acme::same_certificate(&o.args, &intent.args));
        let held = open.iter().find(|o| o.order.is_none());
        let intent = match (resumable, held) {
            (Some(order), _) => order.clone(),
            // Held back by the CA's rate limits: no order before then.
            (None, Some(held)) => match held.retry_after {
                Some(until) if until > Utc::now() => {
                    return Err(ChangeError::Obtain(ObtainError::RateLimited { until }).into());
                }
                _ => {
                    self.ledger.record(Step::Settle(held.clone())).await?;
                    self.ledger.record(Step::Journal(intent.clone())).await?;
                    intent
                }
            },
            // None, or orders for other names, key or CA than declared now: those are left to
            // the reconciliation that finishes them, and deposed once recorded.
            (None, None) => {
                self.ledger.record(Step::Journal(intent.clone())).await?;
                intent
            }
        };
        let waits = acme::Waits { timing: &self.options.timing, cancel: self.cancel };
        let account = self.account(&intent.args.provider)?;
        match acme::obtain(account, &self.inputs.acme, self.ledger, intent, waits).await {
            Ok(obtained) => Ok(obtained),
            Err((ObtainError::State(e), _)) => Err(Failure::State(e)),
            Err((error, intent)) => {
                match error.rate_limited_until() {
                    // Refused before an order was placed: held back until the CA says.
                    Some(until) if intent.order.is_none() => {
                        self.ledger.record(Step::Held { intent, until }).await?;
                    }
                    _ if error.settles(intent.order.is_some()) => {
                        self.ledger.record(Step::Settle(intent)).await?;
                    }
                    _ => {}
                }
                Err(ChangeError::Obtain(error).into())
            }
        }
    }

    /// Deletes the certificate a replacement replaced; returns whether it is gone. One that
    /// cannot be deleted stays deposed, with why, for the next apply.
    async fn delete_old(&self, change: &ResourceChange, old: &Prior) -> Result<bool, Failure> {
        match self.delete_certificate(&old.args.provider, &old.id).await {
            Ok(()) => {
                self.ledger.record(Step::Deleted { id: old.id.clone() }).await?;
                Ok(true)
            }
            Err(e) => {
                let error = e.to_string();
                self.ledger.record(Step::DeleteFailed { id: old.id.clone(), error }).await?;
                let (address, id) = (&change.address, &old.id);
                (self.on_event)(Event::Deposed { address, id, error: &e });
                Ok(false)
            }
        }
    }

    /// Updates the certificate's alias and project in place.
    async fn update(&self, change: &ResourceChange) -> Result<Done, Failure> {
        let address = &change.address;
        let (Some(p), Some(args), Reason::AttributesChanged { changed }) =
            (&change.before, &change.after, &change.reason)
        else {
            return Err(incomplete("attributes to update").into());
        };
        let ssl = &self.account(&p.args.provider)?.ssl;
        if changed.contains(&Argument::Alias) {
            let alias = args.alias.as_deref().unwrap_or("");
            ssl.modify_certificate_alias(&p.id, alias).await?;
            let (alias, id) = (args.alias.clone(), p.id.clone());
            self.ledger.record(Step::SetAlias { address: address.clone(), id, alias }).await?;
        }
        if changed.contains(&Argument::ProjectId) {
            let ids = [p.id.clone()];
            let project = args.project_id.unwrap_or(certplan_core::DEFAULT_PROJECT);
            let failed = ssl.modify_certificate_project(&ids, project).await?;
            if !failed.is_empty() {
                return Err(ChangeError::ProjectNotChanged { id: p.id.clone() }.into());
            }
            let (project_id, id) = (args.project_id, p.id.clone());
            let step = Step::SetProject { address: address.clone(), id, project_id };
            self.ledger.record(step).await?;
        }
        Ok(Done { id: Some(p.id.clone()), ..Done::default() })
    }

    /// Deletes the resource's certificate and stops recording it.
    async fn delete(&self, change: &ResourceChange) -> Result<Done, Failure> {
        let address = &change.address;
        let prior = change.before.as_ref();
        if let Some(old) = prior.filter(|p| p.exists) {
            match self.delete_certificate(&old.args.provider, &old.id).await {
                Ok(()) => {}
                // Free certificates cannot be deleted in their first hour: the delete waits
                // for a later apply, recorded as deposed (in the same step that stops
                // recording it as the resource's), and this run goes on.
                Err(e) if e.is_too_young_to_delete() => {
                    let applied_at = self
                        .ledger
                        .read(|s| s.resources.get(address).map(|r| r.applied_at))
                        .unwrap_or_else(Utc::now);
                    let possible = applied_at + chrono::Duration::hours(1);
                    let shown = possible.format("%Y-%m-%d %H:%M UTC");
                    let deposed = Deposed {
                        address: address.clone(),
                        certificate_id: old.id.clone(),
                        provider: old.args.provider.clone(),
                        since: Utc::now(),
                        last_error: format!("{e}; it can be deleted from {shown}"),
                    };
                    self.ledger.record(Step::Defer(deposed)).await?;
                    let id = &old.id;
                    (self.on_event)(Event::DeleteDeferred { address, id, error: &e, possible });
                    return Ok(Done { deferred: true, ..Done::default() });
                }
                Err(e) => return Err(e.into()),
            }
        }
        let id = prior.map(|p| p.id.clone());
        self.ledger.record(Step::Remove { address: address.clone(), id }).await?;
        Ok(Done::default())
    }

    /// Deletes a certificate a replacement left behind; on failure it stays deposed, with the
    /// error.
    async fn delete_deposed(
        &self,
        change: &ResourceChange,
        id: &CertificateId,
    ) -> Result<Done, Failure> {
        let gone = matches!(change.reason, Reason::Deposed { gone: true, .. });
        let provider = self
            .ledger
            .read(|s| {
                s.deposed.iter().find(|d| d.certificate_id == *id).map(|d| d.provider.clone())
            })
            .ok_or_else(|| incomplete("deposed certificate in the state"))?;
        let outcome = if gone { Ok(()) } else { self.delete_certificate(&provider, id).await };
        match outcome {
            Ok(()) => {
                self.ledger.record(Step::Deleted { id: id.clone() }).await?;
                Ok(Done { id: Some(id.clone()), ..Done::default() })
            }
            // Too young to delete: kept for a later apply, and not a failure of this one.
            Err(e) if e.is_too_young_to_delete() => {
                let error = format!("{e}; it can be deleted an hour after it was applied for");
                self.ledger.record(Step::DeleteFailed { id: id.clone(), error }).await?;
                (self.on_event)(Event::Deposed { address: &change.address, id, error: &e });
                Ok(Done { deferred: true, ..Done::default() })
            }
            Err(e) => {
                let error = e.to_string();
                self.ledger.record(Step::DeleteFailed { id: id.clone(), error }).await?;
                Err(e.into())
            }
        }
    }
}

/// A plan that lacks what its change needs: made by another version, or edited.
fn incomplete(what: &'static str) -> ChangeError {
    ChangeError::IncompletePlan { what }
}
