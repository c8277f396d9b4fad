//! `check`: what it accepts, and that it refuses each inconsistency a server would trip on —
//! without ever quoting the key.

use certplan_core::Sensitive;
use certplan_export::{CheckError, Expected, check};
use rcgen::KeyPair;
use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
use rsa::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};

use crate::support::{Ca, Material, assert_no_key_material, not_after, other_key};

fn expect_www() -> Expected<'static> {
    Expected { domain: "www.example.com", not_after: Some(not_after()) }
}

/// Checks `chain` and `key`, expecting a refusal; asserts its message quotes no key.
fn refused(chain: &str, key: &Sensitive, expect: &Expected<'_>) -> CheckError {
    let err = check(chain, key, expect).expect_err("refused");
    assert_no_key_material(&err.to_string(), key);
    assert_no_key_material(&format!("{err:?}"), key);
    err
}

#[test]
fn a_good_chain_is_split_into_the_four_files() {
    let m = Material::new();
    let pems = check(&m.chain(), &m.key, &expect_www()).expect("accepted");
    assert_eq!(pems.cert(), m.leaf);
    assert_eq!(pems.chain(), m.ca.pem);
    assert_eq!(pems.fullchain(), m.chain());
    assert_eq!(pems.key().expose(), m.key.expose());
    assert_eq!(pems.not_after(), not_after());

    let der = pem::parse(&m.leaf).expect("leaf PEM");
    assert_eq!(pems.fingerprint(), hex::encode(Sha256::digest(der.contents())));
    assert!(!format!("{pems:?}").contains(crate::support::body_lines(m.key.expose())[0]));
}

#[test]
fn crlf_input_is_written_with_lf_and_a_leaf_alone_has_an_empty_chain() {
    let m = Material::new();
    let crlf = m.leaf.replace('\n', "\r\n");
    let key = Sensitive::new(m.key.expose().replace('\n', "\r\n"));
    let pems = check(&crlf, &key, &Expected { not_after: None, ..expect_www() }).expect("accepted");
    assert_eq!(pems.cert(), m.leaf);
    assert_eq!(pems.chain(), "");
    assert_eq!(pems.fullchain(), m.leaf);
    assert!(!pems.key().expose().contains('\r'));
}

#[test]
fn a_key_for_another_certificate_is_refused() {
    let m = Material::new();
    let key = other_key();
    let err = refused(&m.chain(), &key, &expect_www());
    assert!(matches!(err, CheckError::KeyMismatch { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "the private key does not belong to the certificate (CN=www.example.com)"
    );
}

#[test]
fn a_leaf_not_signed_by_the_next_certificate_is_refused() {
    let m = Material::new();
    let stranger = Ca::new("another CA");
    let err = refused(&format!("{}{}", m.leaf, stranger.pem), &m.key, &expect_www());
    assert!(matches!(err, CheckError::ChainBroken { position: 1, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "certificate 1 of the chain (CN=www.example.com) is not signed by certificate 2 \
         (CN=another CA)"
    );
}

#[test]
fn a_leaf_expiring_at_another_time_is_refused() {
    let m = Material::new();
    let expected = not_after() + chrono::Duration::seconds(1);
    let err = refused(&m.chain(), &m.key, &Expected { not_after: Some(expected), ..expect_www() });
    assert!(matches!(err, CheckError::NotAfter { found, .. } if found == not_after()), "{err}");
}

#[test]
fn a_domain_the_leaf_does_not_name_is_refused_and_a_wildcard_covers_one_label() {
    let m = Material::new();
    let err = refused(&m.chain(), &m.key, &Expected { domain: "example.com", ..expect_www() });
    assert_eq!(
        err.to_string(),
        "the certificate does not cover example.com (it names www.example.com)"
    );

    let wild = Material::for_names(&["*.example.com"]);
    check(&wild.chain(), &wild.key, &expect_www()).expect("*.example.com covers www");
    let err = refused(
        &wild.chain(),
        &wild.key,
        &Expected { domain: "a.www.example.com", ..expect_www() },
    );
    assert!(matches!(err, CheckError::DomainNotCovered { .. }), "{err}");
}

#[test]
fn garbage_is_refused_without_quoting_the_key() {
    let m = Material::new();
    let err = refused("hello", &m.key, &expect_www());
    assert!(matches!(err, CheckError::NoCertificate), "{err}");

    let cut = &m.chain()[..m.chain().len() - 30];
    let err = refused(cut, &m.key, &expect_www());
    assert!(matches!(err, CheckError::Pem { .. }), "{err}");

    let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let err = refused(bad, &m.key, &expect_www());
    assert!(matches!(err, CheckError::Certificate { position: 1, .. }), "{err}");

    // The key pasted into the chain: named by its tag, never quoted.
    let err = refused(&format!("{}{}", m.leaf, m.key.expose()), &m.key, &expect_www());
    assert!(matches!(err, CheckError::Certificate { position: 2, .. }), "{err}");

    let key = Sensitive::new("not a key");
    let err = refused(&m.chain(), &key, &expect_www());
    assert!(matches!(err, CheckError::KeyUnreadable { .. }), "{err}");

    // A key whose base64 is damaged: the decoder's complaint would quote a byte of it.
    let damaged = Sensitive::new(m.key.expose().replacen("\n", "\n#", 2));
    let err = refused(&m.chain(), &damaged, &expect_www());
    assert!(matches!(err, CheckError::KeyUnreadable { .. }), "{err}");
    assert_no_key_material(&err.to_string(), &m.key);
    let err = refused(&format!("{}{}", m.leaf, damaged.expose()), &m.key, &expect_www());
    assert!(matches!(err, CheckError::Pem { .. }), "{err}");
    assert_no_key_material(&err.to_string(), &damaged);
}

/// Tencent Cloud returns an RSA order's key as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
#[test]
fn a_pkcs1_rsa_key_is_accepted_and_kept_as_pkcs1() {
    let rsa = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key generated");
    let pkcs8 = rsa.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8");
    let signing = KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .expect("ring reads the RSA key");
    let ca = Ca::new("certplan test CA");
    let leaf = ca.leaf(&["www.example.com"], &signing);
    let chain = format!("{leaf}{}", ca.pem);

    let pkcs1 = Sensitive::new(rsa.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1").to_string());
    let pems = check(&chain, &pkcs1, &expect_www()).expect("accepted");
    assert!(pems.key().expose().starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));

    let err = refused(&chain, &other_key(), &expect_www());
    assert!(matches!(err, CheckError::KeyMismatch { .. }), "{err}");
    // An RSA key offered for an ECDSA certificate.
    let m = Material::new();
    let err = refused(&m.chain(), &pkcs1, &expect_www());
    assert!(matches!(err, CheckError::KeyMismatch { .. }), "{err}");
}
