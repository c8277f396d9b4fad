//! Delivery to files: whether an export's PEM files are written (first time, a new
//! certificate, files missing or changed on disk) or only its hook runs again.

use certplan_core::{DeliveryWork, ExportReason, ExportSpec, ExportsSeen, FilesSeen};

use super::Planned;

/// Plans the export `spec`: its work, if any, and whether that waits for the new
/// certificate's issuance.
pub(super) fn plan(
    spec: &ExportSpec,
    files: &ExportsSeen,
    at: &Planned<'_>,
) -> Option<(DeliveryWork, bool)> {
    let Planned { recorded, prior, new_certificate, issued, .. } = *at;
    let path = spec.path.clone();
    let written = recorded.and_then(|r| r.exports.iter().find(|e| e.path == spec.path));
    let current = prior.map(|p| p.id.as_str());
    let reason = match written {
        None => Some(ExportReason::FirstTime),
        Some(e) if new_certificate || Some(e.certificate_id.as_str()) != current => {
            Some(ExportReason::NewCertificate { from: e.certificate_id.clone() })
        }
        Some(_) => match files.get(&spec.path) {
            Some(FilesSeen::Missing(missing)) => Some(ExportReason::FilesMissing(missing.clone())),
            Some(FilesSeen::Changed(changed)) => Some(ExportReason::FilesChanged(changed.clone())),
            Some(FilesSeen::Intact) | None => None,
        },
    };
    match (reason, written) {
        (Some(reason), _) => {
            Some((DeliveryWork::Export { path, reason }, new_certificate || !issued))
        }
        // The files are in place; a hook that failed, or never ran for them, runs.
        (None, Some(e)) if spec.on_change.is_some() => {
            let error = match &e.hook {
                Some(h) if h.error.is_none() => return None,
                Some(h) => h.error.clone(),
                None => None,
            };
            Some((DeliveryWork::Hook { path, error }, false))
        }
        (None, _) => None,
    }
}
