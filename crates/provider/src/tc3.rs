//! TC3-HMAC-SHA256, Tencent Cloud's request signature (API 3.0), as pure functions.
//!
//! The client signs with it and the sandbox verifies with it; the four test vectors of the API
//! reference pin every intermediate value, so neither side can drift from the real service.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The value of `X-TC-Content-SHA256` that exempts the body from the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What the signature covers of a request's body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The body's bytes are hashed into the signature (what the SDKs do).
    Signed(&'a [u8]),
    /// `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`: the literal string is hashed instead.
    Unsigned,
}

impl Payload<'_> {
    /// Returns the lower-case hex SHA-256 that goes into the canonical request.
    pub fn hash(self) -> String {
        match self {
            Payload::Signed(body) => sha256_hex(body),
            Payload::Unsigned => sha256_hex(UNSIGNED_PAYLOAD.as_bytes()),
        }
    }
}

/// Everything a signature is computed from.
#[derive(Debug, Clone)]
pub struct SigningInput<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub service: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub query: &'a str,
    /// The headers to sign, as `(name, value)`; names in any case, values untrimmed.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: Payload<'a>,
    /// Seconds since the Unix epoch, as sent in `X-TC-Timestamp`.
    pub timestamp: i64,
}

/// A signature with every intermediate value, so each step can be checked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub signed_headers: String,
    pub string_to_sign: String,
    pub credential_scope: String,
    /// Lower-case hex HMAC-SHA256 of the string to sign.
    pub signature: String,
    /// The complete `Authorization` header value.
    pub authorization: String,
}

/// Signs a request.
pub fn sign(input: &SigningInput<'_>) -> Signature {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    headers.sort();
    let canonical_headers: String =
        headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let signed_headers =
        headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = [
        input.method,
        input.uri,
        input.query,
        &canonical_headers,
        &signed_headers,
        &input.payload.hash(),
    ]
    .join("\n");

    let date = utc_date(input.timestamp);
    let credential_scope = format!("{date}/{}/tc3_request", input.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{credential_scope}\n{}",
        input.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(input.secret_key, &date, input.service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        input.secret_id
    );
    Signature {
        canonical_request,
        signed_headers,
        string_to_sign,
        credential_scope,
        signature,
        authorization,
    }
}

/// Derives the signing key: `HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request")`.
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    hmac(&k_service, b"tc3_request")
}

/// Returns the UTC date (`YYYY-MM-DD`) of a Unix timestamp. The credential scope uses the UTC
/// date even though the API reports every other time in GMT+8.
pub fn utc_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Returns the lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The parts of an `Authorization: TC3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub secret_id: &'a str,
    pub date: &'a str,
    pub service: &'a str,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

/// Parses an `Authorization` header; `None` when it is not a well-formed TC3 authorization.
pub fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let rest = header.strip_prefix(ALGORITHM)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.splitn(4, '/');
    let (secret_id, date, service, terminator) =
        (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
    if terminator != "tc3_request" {
        return None;
    }
    Some(Authorization {
        secret_id,
        date,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY_A: &str = r#"{"DvAuthMethod":"DNS_AUTO","DomainName":"example.com"}"#;

    fn ssl_input<'a>(headers: &'a [(&'a str, &'a str)], payload: Payload<'a>) -> SigningInput<'a> {
        SigningInput {
            secret_id: "AKIDEXAMPLE",
            secret_key: "SECRETEXAMPLE",
            service: "ssl",
            method: "POST",
            uri: "/",
            query: "",
            headers,
            payload,
            timestamp: 1_700_000_000,
        }
    }

    const SSL_HEADERS: &[(&str, &str)] =
        &[("Content-Type", "application/json"), ("Host", "ssl.tencentcloudapi.com")];

    #[test]
    fn vector_a_compact_body() {
        let sig = sign(&ssl_input(SSL_HEADERS, Payload::Signed(BODY_A.as_bytes())));
        let payload_hash = "6095c72076c833629d00305785a2525eb6a99632b2f0cae188638b1d4a5b15b1";
        assert_eq!(
            sig.canonical_request,
            format!(
                "POST\n/\n\ncontent-type:application/json\nhost:ssl.tencentcloudapi.com\n\ncontent-type;host\n{payload_hash}"
            )
        );
        assert_eq!(
            sha256_hex(sig.canonical_request.as_bytes()),
            "90f33118f15e283cf29fed5f67cb0050e063032a959419f5c4ddf723ef843109"
        );
        assert_eq!(
            sig.string_to_sign,
            "TC3-HMAC-SHA256\n1700000000\n2023-11-14/ssl/tc3_request\n90f33118f15e283cf29fed5f67cb0050e063032a959419f5c4ddf723ef843109"
        );
        let k_date = hmac(b"TC3SECRETEXAMPLE", b"2023-11-14");
        assert_eq!(
            hex::encode(k_date),
            "627f442b7b172f3e6919fc3a3d962a33c3586a855323015e7a8b795092a41af8"
        );
        assert_eq!(
            hex::encode(hmac(&k_date, b"ssl")),
            "bb8bb4651bee6d5dcda98a9f30589197eae54cfcd251176de349994878a25b2e"
        );
        assert_eq!(
            hex::encode(signing_key("SECRETEXAMPLE", "2023-11-14", "ssl")),
            "6510131f8e3c3db09ce8feee39f4ec4be2ee90917aa2d1812061c45d958aa816"
        );
        assert_eq!(
            sig.signature,
            "974096526f6825b511d05a2b9ccadc731e0a8262ecac05c21bb006bd933162e9"
        );
        assert_eq!(
            sig.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2023-11-14/ssl/tc3_request, SignedHeaders=content-type;host, Signature=974096526f6825b511d05a2b9ccadc731e0a8262ecac05c21bb006bd933162e9"
        );
    }

    #[test]
    fn vector_b_spaced_body() {
        let body = r#"{"DvAuthMethod": "DNS_AUTO", "DomainName": "example.com"}"#;
        let sig = sign(&ssl_input(SSL_HEADERS, Payload::Signed(body.as_bytes())));
        assert_eq!(
            sig.signature,
            "a170d3929b20eb4d4b398232440ddbccbf1937ce5b536dfa055eb30e77b54993"
        );
    }

    #[test]
    fn vector_c_unsigned_payload() {
        let sig = sign(&ssl_input(SSL_HEADERS, Payload::Unsigned));
        assert!(sig.canonical_request.ends_with(&sha256_hex(b"UNSIGNED-PAYLOAD")));
        assert_eq!(
            sig.signature,
            "dad22a3629383689cd15c7c3c8ef30ddf5267976ffb6a9ae173ebbf06311a127"
        );
    }

    #[test]
    fn vector_d_signature_guide_example() {
        let body = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Host", "cvm.tencentcloudapi.com"),
        ];
        let sig = sign(&SigningInput {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service: "cvm",
            method: "POST",
            uri: "/",
            query: "",
            headers: &headers,
            payload: Payload::Signed(body.as_bytes()),
            timestamp: 1_551_113_065,
        });
        assert_eq!(
            Payload::Signed(body.as_bytes()).hash(),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            sig.canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            sha256_hex(sig.canonical_request.as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            sig.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            sig.signature,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn header_order_and_case_do_not_matter() {
        let shuffled =
            [("host", " ssl.tencentcloudapi.com "), ("CONTENT-TYPE", "application/json")];
        let a = sign(&ssl_input(SSL_HEADERS, Payload::Signed(BODY_A.as_bytes())));
        let b = sign(&ssl_input(&shuffled, Payload::Signed(BODY_A.as_bytes())));
        assert_eq!(a.signature, b.signature);
    }

    #[test]
    fn authorization_parses_back() {
        let sig = sign(&ssl_input(SSL_HEADERS, Payload::Signed(BODY_A.as_bytes())));
        let auth = parse_authorization(&sig.authorization).expect("well formed");
        assert_eq!(auth.secret_id, "AKIDEXAMPLE");
        assert_eq!(auth.date, "2023-11-14");
        assert_eq!(auth.service, "ssl");
        assert_eq!(auth.signed_headers, ["content-type", "host"]);
        assert_eq!(auth.signature, sig.signature);
        assert_eq!(parse_authorization("Basic abc"), None);
        assert_eq!(parse_authorization("TC3-HMAC-SHA256 Credential=a/b, Signature=x"), None);
    }
}
