//! The shapes of `UploadCertificate`, as the SDK's model names them. The private key is
//! wrapped from the moment the request is built: no `Debug` of it shows the key.

use certplan_core::Sensitive;
use serde::{Deserialize, Serialize, Serializer};

/// `UploadCertificate` parameters: a certificate from elsewhere (an ACME CA) brought into the
/// account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadCertificateRequest {
    /// The certificate, then its chain (PEM).
    pub certificate_public_key: String,
    /// Required for a server certificate (`SVR`).
    #[serde(serialize_with = "expose", skip_serializing_if = "Option::is_none")]
    pub certificate_private_key: Option<Sensitive>,
    /// `SVR` (the default) or `CA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<u64>,
    /// True (the service's default): the same certificate may be uploaded again, as another
    /// id. False: an upload of a certificate the account holds already answers that one's id
    /// in `RepeatCertId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeatable: Option<bool>,
}

impl UploadCertificateRequest {
    /// Builds the upload of a server certificate — `chain_pem` is the certificate followed by
    /// its chain — with its key, never repeated (`Repeatable` false): uploading it again
    /// answers the first upload's id.
    pub fn server(
        chain_pem: &str,
        private_key: &Sensitive,
        alias: Option<&str>,
        project_id: Option<u64>,
    ) -> Self {
        UploadCertificateRequest {
            certificate_public_key: chain_pem.to_owned(),
            certificate_private_key: Some(private_key.clone()),
            certificate_type: Some("SVR".to_owned()),
            alias: alias.map(str::to_owned),
            project_id,
            repeatable: Some(false),
        }
    }
}

fn expose<S: Serializer>(key: &Option<Sensitive>, s: S) -> Result<S::Ok, S::Error> {
    match key {
        Some(key) => s.serialize_str(key.expose()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadCertificateResponse {
    #[serde(default)]
    pub certificate_id: Option<String>,
    /// With `Repeatable` false, the certificate the account held already; empty or null when
    /// the upload made a new one.
    #[serde(default)]
    pub repeat_cert_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_server_upload_is_never_repeated_and_hides_its_key_from_debug() {
        let req = UploadCertificateRequest::server(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            &Sensitive::new(KEY),
            Some("www"),
            None,
        );
        assert_eq!(
            serde_json::to_value(&req).expect("serialises"),
            json!({
                "CertificatePublicKey": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                "CertificatePrivateKey": KEY,
                "CertificateType": "SVR",
                "Alias": "www",
                "Repeatable": false
            })
        );
        let shown = format!("{req:?}");
        assert!(!shown.contains("MIGHAgEAMBMGByqGSM49"), "{shown}");
    }
}
