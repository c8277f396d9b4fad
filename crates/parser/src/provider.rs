//! The `provider "tencentcloud" { ... }` blocks — the default one and those with an `alias`,
//! one per account — read into [`Providers`], and the `provider = tencentcloud.ALIAS`
//! meta-argument that picks one for a resource or an import.
//!
//! It checks what can be checked without a connection (a URL, a rate in range, credentials
//! given in pairs, an aliased block that says whose credentials it uses, an alias that names a
//! block) and warns about credentials written into a file. It neither connects nor reads the
//! environment or a tccli profile.

use std::collections::BTreeMap;

use hcl_edit::structure::Block;

use certplan_core::{ProviderRef, Sensitive};

use crate::{Diagnostic, ProviderConfig, Providers, Reader, Span, eval};

/// Reads a `provider "tencentcloud"` block into `read`, unless one with the same alias (or
/// none) was read already.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    read: &mut BTreeMap<ProviderRef, (ProviderConfig, Span)>,
) {
    let here = reader.header_span(file, block);
    let Some((provider, config)) = read_block(reader, file, block) else { return };
    if let Some((_, first)) = read.get(&provider) {
        let (message, help) = match provider.alias() {
            None => (
                "duplicate provider \"tencentcloud\" block".to_owned(),
                "keep one default provider block; give every other one an alias = \"NAME\" (one per account) and pick it with provider = tencentcloud.NAME".to_owned(),
            ),
            Some(alias) => (
                format!("two provider \"tencentcloud\" blocks have alias = \"{alias}\""),
                "an alias names one account: rename one of them".to_owned(),
            ),
        };
        reader.push(Diagnostic::duplicate(message, here, first.clone(), &help));
    } else {
        read.insert(provider, (config, here));
    }
}

/// Checks the `provider = tencentcloud.ALIAS` references read against the blocks: each alias
/// names one.
pub(crate) fn check_references(reader: &mut Reader<'_>, providers: &Providers) {
    let aliases: Vec<&str> = providers.aliases().collect();
    let mut seen = std::collections::BTreeSet::new();
    for (provider, span) in std::mem::take(&mut reader.provider_references) {
        // `for_each` instances share their block's reference: one report.
        if providers.get(&provider).is_some() || !seen.insert((span.file, span.range.start)) {
            continue;
        }
        let alias = provider.alias().unwrap_or_default();
        let help = match crate::eval::closest(alias, &aliases) {
            Some(close) => format!("did you mean tencentcloud.{close}?"),
            None => format!(
                "declare it: provider \"tencentcloud\" {{ alias = \"{alias}\"  profile = \"{alias}\" }} (a tccli profile, or secret_id/secret_key from variables)"
            ),
        };
        reader.push(
            Diagnostic::error(format!(
                "no provider \"tencentcloud\" block has alias = \"{alias}\""
            ))
            .at(span, "unknown provider")
            .help(help),
        );
    }
}

/// Reads the `provider = tencentcloud.ALIAS` meta-argument `args` kept as source text: the
/// default configuration when it is not written.
pub(crate) fn read_reference(reader: &mut Reader<'_>, args: &mut eval::Arguments) -> ProviderRef {
    let Some((text, span)) = args.reference("provider") else { return ProviderRef::DEFAULT };
    match text.parse::<ProviderRef>() {
        Ok(provider) => {
            if !provider.is_default() {
                reader.provider_references.push((provider.clone(), span));
            }
            provider
        }
        Err(_) => {
            let unquoted = text.trim_matches('"');
            let help = if unquoted != text && unquoted.parse::<ProviderRef>().is_ok() {
                format!("a provider is named, not quoted: write provider = {unquoted}")
            } else {
                "write provider = tencentcloud.ALIAS, where ALIAS is a provider \"tencentcloud\" block's alias".to_owned()
            };
            reader.push(
                Diagnostic::error(format!("provider = {text} does not name a provider"))
                    .at(span, "expected tencentcloud or tencentcloud.ALIAS")
                    .help(help),
            );
            ProviderRef::DEFAULT
        }
    }
}

/// Reads `provider "tencentcloud" { alias, profile, endpoint, wait_for_issuance, ... }`.
fn read_block(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(ProviderRef, ProviderConfig)> {
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
            "alias",
            "profile",
            "endpoint",
            "region",
            "wait_for_issuance",
            "requests_per_second",
            "request_timeout",
            "free_certificates_per_year",
            "secret_id",
            "secret_key",
            "security_token",
        ],
        &[],
    );
    let provider = match args.string(reader, "alias") {
        None => ProviderRef::DEFAULT,
        Some((alias, _)) if ProviderRef::valid_alias(&alias) => ProviderRef::aliased(alias),
        Some((alias, span)) => {
            reader.push(
                Diagnostic::error(format!("invalid alias {alias:?}"))
                    .at(span, "not a name")
                    .help("an alias starts with a letter and has only letters, digits, underscores and hyphens, e.g. alias = \"prod\""),
            );
            return None;
        }
    };
    let profile = args.string(reader, "profile").map(|(p, _)| p);
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
    let free_per_year = args.integer(reader, "free_certificates_per_year").and_then(|(n, span)| {
        match n {
            1..=10_000 => Some(n),
            _ => {
                reader.push(
                    Diagnostic::error(format!("free_certificates_per_year = {n} is out of range"))
                        .at(span, "expected 1 to 10000")
                        .help("the account's yearly limit of free certificates; leave it out for the 50 widely reported"),
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
            // From a variable, the key is not in the file; written there, anyone can read it.
            let written = crate::expr::written_in_file(&block.body, "secret_key");
            if written {
                reader.push(
                    Diagnostic::warning("credentials in the configuration")
                        .at(span, "anyone who can read this file can use them")
                        .help("set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, use a tccli profile (profile = \"NAME\" or --profile), or take them from sensitive variables, and remove them from the file"),
                );
            }
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
    // The environment's credentials are the default provider's: another account's provider
    // that fell back on them would reach the default account under another name.
    if let Some(alias) = provider.alias().filter(|_| credentials.is_none() && profile.is_none()) {
        reader.push(
            Diagnostic::error(format!("provider tencentcloud.{alias} does not say whose credentials it uses"))
                .at(header.clone(), "no profile, no secret_id/secret_key")
                .help(format!("add profile = \"{alias}\" (a tccli profile, ~/.tccli/{alias}.credential), or secret_id and secret_key from sensitive variables; the TENCENTCLOUD_* variables are the default provider's")),
        );
    }
    let config = ProviderConfig {
        profile,
        endpoint,
        wait_for_issuance,
        requests_per_second,
        free_per_year,
        request_timeout,
        credentials,
        location: reader.location(&header),
    };
    Some((provider, config))
}
