//! Bringing a certificate from elsewhere (an ACME CA) into the account: `UploadCertificate`,
//! never repeated, so that an upload whose answer was lost is simply sent again. What to upload
//! when is the engine's business.

use certplan_core::{CertificateId, Sensitive};

use crate::wire::{UploadCertificateRequest, UploadCertificateResponse};
use crate::{Client, Error};

/// What `UploadCertificate` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The certificate's id: the one this upload made, or the one the account held already.
    pub certificate_id: CertificateId,
    /// Whether the account held the certificate already (`RepeatCertId`), so that the upload
    /// made nothing: uploaded before by anyone — or by this very call, in an attempt whose
    /// answer was lost.
    pub repeat: bool,
}

impl Client {
    /// Uploads a server certificate — `chain_pem` is the certificate followed by its chain —
    /// with its private key, `alias` and `project_id`; returns its id.
    ///
    /// The upload is never repeated (`Repeatable` false): when the account holds the
    /// certificate already, the service answers that one's id (`RepeatCertId`) and makes no
    /// other. That makes the call safe to send again, so unlike the SSL service's other writes
    /// the client sends it again after a transient failure: an upload whose answer was lost
    /// finds the first one instead of making a second.
    ///
    /// The key travels in the request only: no error, log line or `Debug` shows it.
    pub async fn upload_certificate(
        &self,
        chain_pem: &str,
        private_key: &Sensitive,
        alias: Option<&str>,
        project_id: Option<u64>,
    ) -> Result<Uploaded, Error> {
        const ACTION: &str = "UploadCertificate";
        let req = UploadCertificateRequest::server(chain_pem, private_key, alias, project_id);
        let (resp, request_id): (UploadCertificateResponse, _) =
            self.call_answered(ACTION, &req).await?;
        read_upload(resp).ok_or_else(|| {
            let detail = "the answer has neither CertificateId nor RepeatCertId".to_owned();
            self.malformed_answer(ACTION, &request_id, detail)
        })
    }
}

/// Reads an answer: the certificate held already (`RepeatCertId`) when it names one, else the
/// new one; `None` when it names neither.
fn read_upload(resp: UploadCertificateResponse) -> Option<Uploaded> {
    let named = |id: Option<String>| id.filter(|id| !id.trim().is_empty());
    if let Some(held) = named(resp.repeat_cert_id) {
        return Some(Uploaded { certificate_id: held.into(), repeat: true });
    }
    let made = named(resp.certificate_id)?;
    Some(Uploaded { certificate_id: made.into(), repeat: false })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(value: serde_json::Value) -> Option<Uploaded> {
        read_upload(serde_json::from_value(value).expect("an answer"))
    }

    #[test]
    fn a_repeat_names_the_certificate_held_already() {
        let made = answer(json!({ "CertificateId": "a9TsmZkL", "RepeatCertId": "" }));
        assert_eq!(made, Some(Uploaded { certificate_id: "a9TsmZkL".into(), repeat: false }));
        let made = answer(json!({ "CertificateId": "a9TsmZkL", "RepeatCertId": null }));
        assert_eq!(made.map(|u| u.repeat), Some(false));
        // Reported of the service: a repeat names the held certificate in both fields; it is
        // a repeat whatever `CertificateId` says.
        for held in [
            json!({ "CertificateId": "zYrIXwpu", "RepeatCertId": "zYrIXwpu" }),
            json!({ "CertificateId": "", "RepeatCertId": "zYrIXwpu" }),
        ] {
            assert_eq!(
                answer(held),
                Some(Uploaded { certificate_id: "zYrIXwpu".into(), repeat: true })
            );
        }
        assert_eq!(answer(json!({ "CertificateId": " ", "RepeatCertId": "" })), None);
    }
}
