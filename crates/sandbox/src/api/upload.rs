//! `UploadCertificate`: a certificate from elsewhere (an ACME CA) brought into the account, with
//! the request fields of the SDK's model. Once stored it is an id like any other — described,
//! listed, downloaded, deployed and deleted by the other actions — issued (status 1), with the
//! dates, names and PEM it was uploaded with.
//!
//! | parameter | in the sandbox |
//! |---|---|
//! | `CertificatePublicKey` | required: the certificate, then its chain (PEM). One that cannot be read is refused with `FailedOperation.CertificateParseError` |
//! | `CertificatePrivateKey` | required for `SVR`: an unencrypted PKCS#8 or PKCS#1 key. Unreadable: `FailedOperation.CertificateParseError`; another certificate's: `FailedOperation.CertificateMismatch` |
//! | `CertificateType` | `SVR` (default) or `CA`, whose key is neither needed nor kept |
//! | `Alias`, `ProjectId` | kept, as an order's are |
//! | `Repeatable` | default true: every upload is a new certificate. False: an upload whose certificate (by SHA-1 fingerprint) the account holds already answers that one's id, as both `CertificateId` and `RepeatCertId` |
//! | `CertificateUse` | accepted, changes nothing |
//! | `Tags` | an empty list only: the sandbox's certificates have no tags |
//! | `KeyPassword` | refused with `InvalidParameter`: the sandbox does not read encrypted keys |
//!
//! No answer or message quotes the private key.

use chrono::DateTime;
use serde_json::json;

use super::params::Params;
use super::{Failure, Outcome, fail, internal, missing_parameter};
use crate::Account;
use crate::store::{StoredCertificate, Upload, status};
use crate::x509::{self, UploadError};

const SERVER: &str = "SVR";
const CA: &str = "CA";

pub(super) fn upload_certificate(account: &Account<'_>, mut p: Params) -> Outcome {
    let public_pem = p.required_string("CertificatePublicKey")?;
    let private_pem = p.string("CertificatePrivateKey")?.filter(|k| !k.trim().is_empty());
    let certificate_type =
        p.string("CertificateType")?.filter(|t| !t.is_empty()).unwrap_or_else(|| SERVER.into());
    let alias = p.string("Alias")?.unwrap_or_default();
    let project_id = p.integer("ProjectId")?.unwrap_or(0);
    let repeatable = p.boolean("Repeatable")?.unwrap_or(true);
    let _use = p.string("CertificateUse")?;
    let tagged = p.list("Tags", |tag| Some(tag.clone()))?.is_some_and(|tags| !tags.is_empty());
    let key_password = p.given("KeyPassword");
    p.finish()?;

    if tagged {
        return Err(fail(
            "InvalidParameter",
            "The parameter `Tags` is not supported by the sandbox, whose certificates have no tags.",
        ));
    }
    if key_password {
        return Err(fail(
            "InvalidParameter",
            "The parameter `KeyPassword` is not supported by the sandbox, which does not read encrypted keys.",
        ));
    }
    let private_pem = match certificate_type.as_str() {
        SERVER => Some(private_pem.ok_or_else(|| missing_parameter("CertificatePrivateKey"))?),
        // A CA certificate verifies clients; its key stays with whoever issues with it.
        CA => None,
        other => {
            return Err(fail(
                "InvalidParameterValue",
                format!("CertificateType `{other}` is not one of SVR, CA."),
            ));
        }
    };
    let read = x509::read_upload(&public_pem).map_err(refused)?;
    if let Some(key) = &private_pem {
        x509::check_key(key, &read).map_err(refused)?;
    }

    let (mut store, now) = account.advanced().map_err(internal)?;
    if !repeatable {
        let held =
            store.find(|c| c.upload.as_ref().is_some_and(|u| u.fingerprint == read.fingerprint));
        if let Some(held) = held {
            return Ok(json!({ "CertificateId": held.id, "RepeatCertId": held.id }));
        }
    }
    let id = store.unused_id();
    let (csr_encrypt_algo, csr_key_parameter) = read.key_algorithm.clone();
    let upload = Upload {
        certificate_type,
        names: read.names.clone(),
        fingerprint: read.fingerprint.clone(),
        encrypt_algorithm: read.encrypt_algorithm(),
        chain_pem: read.chain,
    };
    store.insert(StoredCertificate {
        id: id.clone(),
        sequence: 0,
        domain: read.domain,
        alias,
        project_id,
        dv_auth_method: String::new(),
        csr_encrypt_algo,
        csr_key_parameter,
        contact_email: None,
        status: status::ISSUED,
        inserted_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
        not_before: Some(read.not_before),
        not_after: Some(read.not_after),
        origin_certificate_id: None,
        renewed_by: None,
        replaced_by: None,
        replaced_for: None,
        validation_token: String::new(),
        key_pem: private_pem,
        cert_pem: Some(read.leaf),
        csr_pem: None,
        upload: Some(upload),
        paid: false,
        ignore_expiry: false,
    });
    account.persist(&store).map_err(internal)?;
    Ok(json!({ "CertificateId": id, "RepeatCertId": "" }))
}

/// The error the service answers for PEM material it refuses.
fn refused(error: UploadError) -> Failure {
    let code = match error {
        UploadError::Mismatch => "FailedOperation.CertificateMismatch",
        UploadError::NoCertificate | UploadError::Certificate(_) | UploadError::Key => {
            "FailedOperation.CertificateParseError"
        }
    };
    fail(code, format!("The certificate cannot be uploaded: {error}."))
}
