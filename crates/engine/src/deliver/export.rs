//! Delivery to files: the certificate's PEM files written atomically at an export's path, then
//! its `on_change` hook run with certbot-compatible variables.

use std::path::Path;

use certplan_core::{Address, ExportRecord, ExportSpec, HookOutcome};
use certplan_state::ResourceState;
use chrono::Utc;

use super::{Failure, Outcome};
use crate::error::{DeliveryError, ExportError};
use crate::event::Event;
use crate::run::Run;
use crate::step::Step;

impl Run<'_, '_> {
    /// Writes the certificate's PEM files at the export's path, records them, and runs the hook.
    pub(super) async fn export(
        &self,
        address: &Address,
        record: &ResourceState,
        spec: &ExportSpec,
    ) -> Result<Outcome, Failure> {
        let id = &record.certificate_id;
        let failed = |cause: ExportError| DeliveryError::Export { path: spec.path.clone(), cause };
        let pems = (self.account_of(address)?.ssl)
            .certificate_pems(id)
            .await
            .map_err(|error| failed(ExportError::Download { id: id.clone(), error }))?;
        let Some(key) = &pems.private_key else {
            return Err(failed(ExportError::NoPrivateKey { id: id.clone() }).into());
        };
        let expected =
            certplan_export::Expected { domain: &record.args.domain, not_after: record.not_after };
        let checked = certplan_export::check(&pems.chain, key, &expected)
            .map_err(|error| failed(ExportError::Unusable { id: id.clone(), error }))?;
        let path = spec.path.clone();
        let written = {
            let (path, checked) = (path.clone(), checked.clone());
            tokio::task::spawn_blocking(move || certplan_export::write(&path, &checked))
                .await
                .map_err(|e| failed(ExportError::Aborted(e)))?
                .map_err(|e| failed(e.into()))?
        };
        // Files written again for the same certificate still replaced what they replaced.
        let previous = record.exports.iter().find(|e| e.path == spec.path);
        let replaced = previous.and_then(|e| {
            if e.certificate_id == *id {
                e.replaced.clone()
            } else {
                Some(e.certificate_id.clone())
            }
        });
        let export = ExportRecord {
            path,
            certificate_id: id.clone(),
            fingerprint: checked.fingerprint().to_owned(),
            files: written.digests,
            written_at: Utc::now(),
            hook: None,
            replaced,
        };
        self.ledger
            .record(Step::Export { address: address.clone(), export: Box::new(export.clone()) })
            .await?;
        let warnings = &written.warnings;
        (self.on_event)(Event::Exported { address, path: &spec.path, id, warnings });
        self.hook(address, record, spec, export).await
    }

    /// Runs the export's `on_change` hook, if it has one, and records how it ended. A hook that
    /// failed runs again on the next apply; the files stay.
    pub(super) async fn hook(
        &self,
        address: &Address,
        record: &ResourceState,
        spec: &ExportSpec,
        mut export: ExportRecord,
    ) -> Result<Outcome, Failure> {
        let Some(hook) = export_hook(address, record, spec, &export) else {
            return Ok(Outcome::Done);
        };
        let on_line = |stream, line: &str| {
            (self.on_event)(Event::HookOutput { address, stream, line });
        };
        let outcome = certplan_export::run_hook(&hook, &on_line).await;
        let error = outcome.as_ref().err().map(ToString::to_string);
        export.hook = Some(HookOutcome { ran_at: Utc::now(), error: error.clone() });
        self.ledger
            .record(Step::Export { address: address.clone(), export: Box::new(export) })
            .await?;
        (self.on_event)(Event::HookRan { address, path: &spec.path, error: error.as_deref() });
        match error {
            None => Ok(Outcome::Done),
            Some(error) => Err(DeliveryError::Hook { path: spec.path.clone(), error }.into()),
        }
    }
}

/// The `on_change` hook of `spec` for the files `export` wrote of `record`'s certificate, with
/// its variables (the old certificate: the one those files replaced); `None` without a hook.
pub fn export_hook<'s>(
    address: &Address,
    record: &ResourceState,
    spec: &'s ExportSpec,
    export: &ExportRecord,
) -> Option<certplan_export::Hook<'s>> {
    let command = spec.on_change.as_deref()?;
    let path = std::path::absolute(&spec.path).unwrap_or_else(|_| spec.path.clone());
    let env = certplan_export::hook_env(&certplan_export::HookEnv {
        address: &address.to_string(),
        domain: &record.args.domain,
        certificate_id: &export.certificate_id,
        old_certificate_id: export.replaced.as_deref(),
        export_path: &path,
        not_after: record.not_after.unwrap_or_else(Utc::now),
    });
    Some(certplan_export::Hook {
        command,
        dir: Path::new("."),
        timeout: spec.on_change_timeout,
        env,
        // A hook that logs its environment must not print the cloud's secrets.
        env_remove: certplan_export::SECRET_ENV,
    })
}

/// Reads what is on disk at every recorded export's path, for the planner.
pub fn inspect_exports(state: &certplan_state::State) -> certplan_core::ExportsSeen {
    state
        .resources
        .values()
        .flat_map(|r| &r.exports)
        .map(|e| (e.path.clone(), certplan_export::inspect(&e.path, e)))
        .collect()
}
