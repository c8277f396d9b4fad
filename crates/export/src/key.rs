//! Private keys: reading one from PEM and telling whether it belongs to a certificate.
//!
//! Accepts unencrypted PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`, what Tencent Cloud
//! returns for RSA orders) and SEC1 (`EC PRIVATE KEY`, for ECC orders). ring, rcgen's backend,
//! reads only PKCS#8, so the other two are wrapped in a PKCS#8 envelope first — a few bytes of
//! DER, rather than a second crypto library. ring then checks that the key's parts are
//! consistent (an RSA key's primes, an EC key's public point), so a damaged key is refused even
//! when its public half still matches.
//!
//! Nothing here may put key bytes into an error: the reasons are fixed strings.

use certplan_core::Sensitive;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Why a private key cannot be used with a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyProblem {
    Encrypted,
    Unreadable(&'static str),
    Mismatch,
}

/// `AlgorithmIdentifier { rsaEncryption, NULL }`.
const RSA_ALGORITHM: &[u8] =
    &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
/// The OID `id-ecPublicKey` (1.2.840.10045.2.1), tag and length included.
const EC_PUBLIC_KEY_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
/// SEC1's `[0] parameters`: the curve.
const CONTEXT_0: u8 = 0xa0;

/// Reads the private key in `key_pem` and checks it is the one whose public half is `spki`.
/// Returns the key's PEM block, re-encoded with LF line endings, for writing out.
pub(crate) fn read_matching(
    key_pem: &Sensitive,
    spki: &SubjectPublicKeyInfo<'_>,
) -> Result<Sensitive, KeyProblem> {
    // The pem crate's errors may quote a decoded byte and its offset: never pass them on.
    let blocks = pem::parse_many(key_pem.expose())
        .map_err(|_| KeyProblem::Unreadable("the key is not valid PEM"))?;
    // `openssl ecparam -genkey` puts an `EC PARAMETERS` block first: skip anything but a key.
    let block = blocks
        .iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or(KeyProblem::Unreadable("no PRIVATE KEY block"))?;
    let legacy_encrypted =
        block.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED"));
    if block.tag() == "ENCRYPTED PRIVATE KEY" || legacy_encrypted {
        return Err(KeyProblem::Encrypted);
    }
    let der = block.contents();
    let pkcs8 = match block.tag() {
        "PRIVATE KEY" => der.to_vec(),
        "RSA PRIVATE KEY" => pkcs8(RSA_ALGORITHM, der),
        "EC PRIVATE KEY" => pkcs8(&ec_algorithm(der, spki)?, der),
        _ => return Err(KeyProblem::Unreadable("an unknown kind of PRIVATE KEY block")),
    };
    let pair = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|_| {
        KeyProblem::Unreadable("not an RSA (2048 to 8192 bits) or ECDSA P-256/P-384 key")
    })?;
    // The BIT STRING contents compare the same whatever the certificate's AlgorithmIdentifier
    // spells (an RSA key's modulus and exponent, an EC key's point).
    if pair.public_key_raw() != spki.subject_public_key.data.as_ref() {
        return Err(KeyProblem::Mismatch);
    }
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(Sensitive::new(pem::encode_config(&pem::Pem::new(block.tag(), der), config)))
}

/// Returns the PKCS#8 AlgorithmIdentifier for a SEC1 key: its own curve when it names one (as
/// OpenSSL writes it), else the certificate's when that is an EC key.
fn ec_algorithm(sec1: &[u8], spki: &SubjectPublicKeyInfo<'_>) -> Result<Vec<u8>, KeyProblem> {
    const MALFORMED: KeyProblem = KeyProblem::Unreadable("a malformed EC PRIVATE KEY");
    let (tag, body, _) = tlv(sec1).ok_or(MALFORMED)?;
    let (version_tag, _, rest) = tlv(body).ok_or(MALFORMED)?;
    let (scalar_tag, _, rest) = tlv(rest).ok_or(MALFORMED)?;
    if tag != SEQUENCE || version_tag != INTEGER || scalar_tag != OCTET_STRING {
        return Err(MALFORMED);
    }
    let mut params = EC_PUBLIC_KEY_OID.to_vec();
    match tlv(rest) {
        Some((CONTEXT_0, curve, _)) => params.extend_from_slice(curve),
        _ => {
            let cert_algorithm = tlv(spki.raw).and_then(|(_, body, _)| tlv(body));
            match cert_algorithm.and_then(|(_, alg, _)| alg.strip_prefix(EC_PUBLIC_KEY_OID)) {
                Some(curve) if !curve.is_empty() => params.extend_from_slice(curve),
                // An EC key without a curve cannot belong to an RSA certificate.
                _ => return Err(KeyProblem::Mismatch),
            }
        }
    }
    let mut algorithm = Vec::new();
    encode_tlv(SEQUENCE, &params, &mut algorithm);
    Ok(algorithm)
}

/// Wraps a PKCS#1 or SEC1 key in `PrivateKeyInfo { version 0, algorithm, OCTET STRING key }`.
fn pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut body = vec![INTEGER, 0x01, 0x00];
    body.extend_from_slice(algorithm);
    encode_tlv(OCTET_STRING, key, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    encode_tlv(SEQUENCE, &body, &mut out);
    out
}

/// Splits one DER tag-length-value off the front of `input`: `(tag, value, rest)`.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Appends `value` with its DER tag and length to `out`.
fn encode_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, KeyPair};
    use x509_parser::prelude::{FromDer, X509Certificate};

    use super::*;

    /// Returns a self-signed certificate's DER for `key`.
    fn cert_der(key: &KeyPair) -> Vec<u8> {
        let params =
            CertificateParams::new(vec!["www.example.com".to_owned()]).expect("valid name");
        params.self_signed(key).expect("signed").der().to_vec()
    }

    fn check(key_pem: &str, cert: &[u8]) -> Result<Sensitive, KeyProblem> {
        let (_, cert) = X509Certificate::from_der(cert).expect("parses");
        read_matching(&Sensitive::new(key_pem), cert.public_key())
    }

    /// Returns the SEC1 key inside ring's PKCS#8, as OpenSSL writes it: with its curve as
    /// `[0] parameters` when `with_curve`.
    fn sec1_pem(key: &KeyPair, with_curve: bool) -> String {
        let (_, info, _) = tlv(key.serialized_der()).expect("well-formed test DER");
        let (_, _, rest) = tlv(info).expect("well-formed test DER"); // version
        let (_, algorithm, rest) = tlv(rest).expect("well-formed test DER");
        let (_, sec1, _) = tlv(rest).expect("well-formed test DER");
        let sec1 = if with_curve {
            let (_, curve_oid) = algorithm.split_at(EC_PUBLIC_KEY_OID.len());
            let (_, body, _) = tlv(sec1).expect("well-formed test DER");
            let (_, _, after_version) = tlv(body).expect("well-formed test DER");
            let (_, _, public) = tlv(after_version).expect("well-formed test DER");
            let mut inner = body[..body.len() - public.len()].to_vec();
            encode_tlv(CONTEXT_0, curve_oid, &mut inner);
            inner.extend_from_slice(public);
            let mut out = Vec::new();
            encode_tlv(SEQUENCE, &inner, &mut out);
            out
        } else {
            sec1.to_vec()
        };
        pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1))
    }

    #[test]
    fn tlv_round_trips_long_lengths() {
        let value = vec![7u8; 300];
        let mut out = Vec::new();
        encode_tlv(OCTET_STRING, &value, &mut out);
        assert_eq!(&out[..4], &[OCTET_STRING, 0x82, 0x01, 0x2c]);
        assert_eq!(tlv(&out), Some((OCTET_STRING, value.as_slice(), &[][..])));
        assert_eq!(tlv(&out[..100]), None, "a truncated value is refused");
    }

    #[test]
    fn sec1_keys_match_with_and_without_their_curve() {
        let key = KeyPair::generate().expect("key generated");
        let cert = cert_der(&key);
        for with_curve in [true, false] {
            let pem = sec1_pem(&key, with_curve);
            let written = check(&pem, &cert).expect("the key matches");
            assert!(written.expose().starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        }
        let other = KeyPair::generate().expect("key generated");
        assert_eq!(
            check(&sec1_pem(&other, true), &cert).expect_err("refused"),
            KeyProblem::Mismatch
        );
    }

    #[test]
    fn openssl_ecparam_output_skips_the_parameters_block() {
        let key = KeyPair::generate().expect("key generated");
        let pem = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            sec1_pem(&key, true)
        );
        check(&pem, &cert_der(&key)).expect("the key matches");
    }

    #[test]
    fn encrypted_keys_are_named_as_such() {
        let cert = cert_der(&KeyPair::generate().expect("key generated"));
        let pkcs8 =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(check(pkcs8, &cert).expect_err("refused"), KeyProblem::Encrypted);
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(check(legacy, &cert).expect_err("refused"), KeyProblem::Encrypted);
    }

    #[test]
    fn a_key_of_the_wrong_kind_is_a_mismatch_or_unreadable_never_a_panic() {
        let ec = KeyPair::generate().expect("key generated");
        let ec_cert = cert_der(&ec);
        let garbage = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", vec![0x30, 0x03, 1, 2, 3]));
        assert!(matches!(check(&garbage, &ec_cert), Err(KeyProblem::Unreadable(_))));
        let truncated = pem::encode(&pem::Pem::new("EC PRIVATE KEY", vec![0x30, 0x10, 2, 1]));
        assert!(matches!(check(&truncated, &ec_cert), Err(KeyProblem::Unreadable(_))));
    }
}
