//! The `provider "tencentcloud" { ... }` block: how to reach the API, read into
//! [`ProviderConfig`].
//!
//! It checks what can be checked without a connection (a URL, a rate in range, credentials
//! given in pairs) and warns about credentials written into a file. It neither connects nor
//! reads the environment or a tccli profile.

use hcl_edit::structure::Block;

use certplan_core::Sensitive;

use crate::{Diagnostic, ProviderConfig, Reader, Span, eval};

/// Reads a `provider` block into `read`, unless one was read already: one is allowed.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    read: &mut Option<(ProviderConfig, Span)>,
) {
    let here = reader.header_span(file, block);
    if let Some((_, first)) = read {
        reader.push(Diagnostic::duplicate(
            "duplicate provider \"tencentcloud\" block",
            here,
            first.clone(),
            "keep one provider \"tencentcloud\" block",
        ));
    } else if let Some(provider) = read_block(reader, file, block) {
        *read = Some((provider, here));
    }
}

/// Reads `provider "tencentcloud" { endpoint, wait_for_issuance, requests_per_second, ... }`.
fn read_block(reader: &mut Reader<'_>, file: usize, block: &Block) -> Option<ProviderConfig> {
    let header = reader.header_span(file, block);
    let name = match block.labels.as_slice() {
        [label] => label.as_str().to_owned(),
        _ => {
            reader.push(
                Diagnostic::error("a provider block takes one label, the provider's name")
                    .at(header, "expected `provider \"tencentcloud\"`"),
            );
            return None;
        }
    };
    if name != "tencentcloud" {
        reader.push(
            Diagnostic::error(format!("unsupported provider \"{name}\""))
                .at(header, "certplan talks to Tencent Cloud only")
                .help("use `provider \"tencentcloud\" { ... }`"),
        );
        return None;
    }
    let mut args = eval::Arguments::read(
        reader,
        file,
        &block.body,
        &[
            "endpoint",
            "region",
            "wait_for_issuance",
            "requests_per_second",
            "request_timeout",
            "secret_id",
            "secret_key",
            "security_token",
        ],
        &[],
    );
    let endpoint = args.string(reader, "endpoint").map(|(value, span)| {
        let location = reader.location(&span);
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            reader.push(
                Diagnostic::error(format!("endpoint {value:?} is not an http(s) URL"))
                    .at(span, "expected a URL")
                    .help("e.g. endpoint = \"https://ssl.intl.tencentcloudapi.com\""),
            );
        }
        (value, location)
    });
    // The SSL API is not regional; `region` is accepted so Terraform provider blocks read
    // as-is, and checked, as a typo there is one everywhere.
    if let Some((region, span)) = args.string(reader, "region") {
        crate::region::check(&region, span).into_iter().for_each(|d| reader.push(d));
    }
    let wait_for_issuance = args.duration(reader, "wait_for_issuance").map(|(d, _)| d);
    let requests_per_second = args.integer(reader, "requests_per_second").and_then(|(n, span)| {
        match u32::try_from(n) {
            Ok(n @ 1..=1000) => Some(n),
            _ => {
                reader.push(
                    Diagnostic::error(format!("requests_per_second = {n} is out of range"))
                        .at(span, "expected 1 to 1000")
                        .help("the API documents 10 per second per action; raise it only if your account allows more"),
                );
                None
            }
        }
    });
    let request_timeout = args.duration(reader, "request_timeout").and_then(|(d, span)| {
        if (std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(300)).contains(&d) {
            Some(d)
        } else {
            reader.push(
                Diagnostic::error("request_timeout is out of range")
                    .at(span, "expected 1s to 5m")
                    .help("the API answers in well under a second; the default is 20s"),
            );
            None
        }
    });
    let secret_id = args.string(reader, "secret_id");
    let secret_key = args.string(reader, "secret_key");
    let token = args.string(reader, "security_token").map(|(t, _)| Sensitive::new(t));
    let credentials = match (secret_id, secret_key) {
        (Some((id, span)), Some((key, _))) => {
            reader.push(
                Diagnostic::warning("credentials in the configuration")
                    .at(span, "anyone who can read this file can use them")
                    .help("set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or use a tccli profile (--profile), and remove them from the file"),
            );
            Some((id, Sensitive::new(key), token))
        }
        (Some((_, span)), None) | (None, Some((_, span))) => {
            reader.push(
                Diagnostic::error("secret_id and secret_key go together")
                    .at(span, "the other one is missing")
                    .help("better: remove both and set TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY"),
            );
            None
        }
        (None, None) => None,
    };
    Some(ProviderConfig {
        endpoint,
        wait_for_issuance,
        requests_per_second,
        request_timeout,
        credentials,
    })
}
