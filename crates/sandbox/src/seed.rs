//! Seeding an account's inventory directly, without the API: one certificate of each kind a
//! real account holds — a free one applied for, a paid one, an uploaded one — issued, with the
//! end date a test needs (one that expires in 5 days, or expired yesterday). This module builds
//! the certificate as the API would have left it; it neither stores it nor checks quotas (a
//! seed is what the account holds already, not an application).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::store::{StoredCertificate, Upload, VALIDITY_DAYS};
use crate::x509::{self, KeyKind};

/// A certificate to seed: its domain, its kind and when it expires. Also the body of the
/// control API's `POST /_sandbox/seed-certificate`:
/// `{"Domain": "www.example.com", "Kind": "paid", "ExpiresInDays": 5}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeedCertificate {
    pub domain: String,
    pub kind: SeedKind,
    /// Days from now to its end (`CertEndTime`); 0 or less for one expired already. At most
    /// its kind's validity ([`SeedKind::validity_days`]): it began at most now.
    pub expires_in_days: i64,
}

/// What kind of certificate to seed, as `DescribeCertificates` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedKind {
    /// A free certificate applied for: `PackageType` "83", `From` "trustasia", `IsDv` true;
    /// 90 days of validity. It counts against the free quotas, as one applied for would.
    Free,
    /// A paid DV certificate: `PackageType` "2" (TrustAsia TLS RSA CA), `From` "trustasia",
    /// `IsDv` true; a year of validity.
    Paid,
    /// A certificate uploaded (`UploadCertificate`): `From` "upload", `PackageType` null,
    /// `IsDv` false; 90 days of validity, as an ACME CA's. Its PEM and ECDSA P-256 key are
    /// real, signed by a CA of its own, not the sandbox's.
    Upload,
}

impl SeedKind {
    /// Returns how long a certificate of this kind is valid, in days.
    pub fn validity_days(self) -> i64 {
        match self {
            SeedKind::Free | SeedKind::Upload => VALIDITY_DAYS,
            SeedKind::Paid => 365,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SeedKind::Free => "free",
            SeedKind::Paid => "paid",
            SeedKind::Upload => "upload",
        }
    }
}

/// Why a certificate cannot be seeded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "a {kind} certificate is valid for {validity} days; one that expires in {days} days would begin in the future",
        kind = kind.name()
    )]
    TooLong { kind: SeedKind, validity: i64, days: i64 },
    #[error("cannot mint the uploaded certificate for {domain}")]
    Mint {
        domain: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds certificate `id` as `seed` asks, issued and ending `seed.expires_in_days` after
/// `now`: a free or paid one applied for (and issued) when its validity began, an uploaded one
/// uploaded `now`.
pub(crate) fn certificate(
    id: &str,
    seed: &SeedCertificate,
    now: DateTime<Utc>,
) -> Result<StoredCertificate, SeedError> {
    let validity = seed.kind.validity_days();
    if seed.expires_in_days > validity {
        return Err(SeedError::TooLong { kind: seed.kind, validity, days: seed.expires_in_days });
    }
    // Seconds only, as the API's times are.
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let end = now + Duration::days(seed.expires_in_days);
    let mut cert = StoredCertificate::seeded(id, &seed.domain, end - Duration::days(validity));
    cert.not_after = Some(end);
    match seed.kind {
        SeedKind::Free => {}
        SeedKind::Paid => cert.paid = true,
        SeedKind::Upload => {
            cert.inserted_at = now;
            uploaded(&mut cert)
                .map_err(|source| SeedError::Mint { domain: seed.domain.clone(), source })?;
        }
    }
    Ok(cert)
}

/// Turns an issued certificate into one uploaded: a key and a certificate for its dates,
/// signed by a CA minted for it, read back as `UploadCertificate` reads what it is given.
fn uploaded(cert: &mut StoredCertificate) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let issuer_key = x509::new_key_pem(KeyKind::EcdsaP256)?;
    cert.key_pem = Some(x509::new_key_pem(KeyKind::EcdsaP256)?);
    let leaf = x509::leaf(cert, &issuer_key)?;
    let chain = x509::ca_certificate(&issuer_key)?;
    let read = x509::read_upload(&format!("{leaf}{chain}"))?;
    (cert.csr_encrypt_algo, cert.csr_key_parameter) = read.key_algorithm.clone();
    cert.dv_auth_method = String::new();
    cert.validation_token = String::new();
    cert.upload = Some(Upload {
        certificate_type: "SVR".to_owned(),
        names: read.names.clone(),
        fingerprint: read.fingerprint.clone(),
        encrypt_algorithm: read.encrypt_algorithm(),
        chain_pem: read.chain,
    });
    cert.cert_pem = Some(read.leaf);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(kind: SeedKind, expires_in_days: i64) -> SeedCertificate {
        SeedCertificate { domain: "www.example.com".into(), kind, expires_in_days }
    }

    #[test]
    fn each_kind_ends_when_asked_and_began_at_most_now() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        for kind in [SeedKind::Free, SeedKind::Paid, SeedKind::Upload] {
            let cert = certificate("seed0001", &seed(kind, 5), now).expect("seeded");
            assert_eq!(cert.not_after, Some(now + Duration::days(5)), "{kind:?}");
            assert_eq!(cert.status_at(now), crate::store::status::ISSUED, "{kind:?}");
            assert!(cert.not_before.is_some_and(|begin| begin <= now), "{kind:?}");
            assert_eq!(cert.is_free(), kind == SeedKind::Free, "{kind:?}");
        }
        let too_long = certificate("seed0001", &seed(SeedKind::Free, 91), now);
        assert!(matches!(too_long, Err(SeedError::TooLong { validity: 90, .. })), "{too_long:?}");
        assert!(certificate("seed0001", &seed(SeedKind::Paid, 300), now).is_ok());
    }

    #[test]
    fn an_uploaded_seed_holds_the_pem_of_its_dates() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let cert = certificate("seed0001", &seed(SeedKind::Upload, -1), now).expect("seeded");
        let upload = cert.upload.as_ref().expect("uploaded");
        let read = x509::read_upload(&format!(
            "{}{}",
            cert.cert_pem.as_deref().unwrap_or_default(),
            upload.chain_pem
        ))
        .expect("readable");
        assert_eq!(Some(read.not_after), cert.not_after);
        assert_eq!(read.names, ["www.example.com"]);
        assert_eq!(cert.status_at(now), crate::store::status::EXPIRED);
        assert_eq!(cert.inserted_at, now, "uploaded now");
    }
}
