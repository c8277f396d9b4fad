//! Terraform's acme provider as certplan reads it: `provider "acme" { server_url }`, the
//! account (`resource "acme_registration"`) and the certificates (`resource "acme_certificate"`),
//! with the provider's argument names, so that a block moves in unchanged — and what certplan
//! does not support refused with what to write instead.
//!
//! A registration is no resource of the state: the account is found again, or made, from its
//! key whenever a certificate is ordered. Its key is a secret, read from a sensitive value
//! (`account_key_pem = var.acme_account_key`) or kept in a file made on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use certplan_core::{
    ACME_RESOURCE_TYPE, AcmeArgs, Address, CertificateArgs, Challenge, DnsProvider, KeyType,
    LETS_ENCRYPT, Sensitive,
};
use hcl::Value;
use hcl_edit::Span as _;
use hcl_edit::structure::Block;

use crate::eval::{Arguments, as_string, missing_argument};
use crate::{Diagnostic, Reader, Span, blocks, domain};

/// The resource type of an ACME account.
pub const REGISTRATION_TYPE: &str = "acme_registration";

/// What the `acme` provider and the `acme_registration` blocks declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The CA's directory (`server_url`): Let's Encrypt's production one by default.
    pub server_url: String,
    pub registrations: BTreeMap<String, Registration>,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig { server_url: LETS_ENCRYPT.to_owned(), registrations: BTreeMap::new() }
    }
}

/// An `acme_registration`: the CA account certificates are ordered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub email_address: Option<String>,
    pub account_key: AccountKey,
    /// Where the block is: `file:line:col`.
    pub location: String,
}

/// Where an account's key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKey {
    /// Given as a (sensitive) value: `account_key_pem = var.acme_account_key`.
    Pem(Sensitive),
    /// In a file of its own (mode 0600), made on first use when missing.
    File(PathBuf),
}

/// Where a registration's key file is when the block names none.
pub fn default_key_file(registration: &str) -> PathBuf {
    PathBuf::from(".certplan/acme").join(format!("{registration}.key"))
}

/// Reads `provider "acme" { server_url = "..." }`, unless one was read already.
pub(crate) fn read_provider(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    read: &mut Option<(String, Span)>,
) {
    let here = reader.header_span(file, block);
    if let Some((_, first)) = read {
        reader.push(Diagnostic::duplicate(
            "duplicate provider \"acme\" block",
            here,
            first.clone(),
            "keep one provider \"acme\" block",
        ));
        return;
    }
    let mut args = Arguments::read(reader, file, &block.body, &["server_url"], &[]);
    let server_url = match args.string(reader, "server_url") {
        Some((url, span)) if !url.starts_with("https://") => {
            reader.push(
                Diagnostic::error(format!("server_url {url:?} is not an https URL"))
                    .at(span, "an ACME directory is served over https")
                    .help(format!(
                        "e.g. server_url = \"{LETS_ENCRYPT}\" (or Let's Encrypt's staging: \"{}\")",
                        certplan_core::LETS_ENCRYPT_STAGING
                    )),
            );
            return;
        }
        Some((url, _)) => url,
        None => LETS_ENCRYPT.to_owned(),
    };
    *read = Some((server_url, here));
}

/// Reads `resource "acme_registration" "NAME" { email_address, account_key_pem }` into
/// `registrations`.
pub(crate) fn read_registration(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    name: &str,
    registrations: &mut BTreeMap<String, (Registration, Span)>,
) {
    let here = reader.header_span(file, block);
    // Terraform makes the key with another resource (`tls_private_key.NAME.private_key_pem`),
    // which certplan does not manage: said as such, not as an expression it cannot evaluate.
    let from_resource = block.body.get_attribute("account_key_pem").and_then(|a| {
        let refers = crate::expr::references(&a.value, "tls_private_key");
        (!refers.is_empty()).then(|| reader.span(file, a.value.span()))
    });
    let references: &[&str] = if from_resource.is_some() { &["account_key_pem"] } else { &[] };
    let mut args = Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &["email_address", "account_key_pem", "account_key_file"],
        references,
        &["external_account_binding"],
    );
    if let Some(span) = from_resource {
        reader.push(
            Diagnostic::error("account_key_pem comes from a tls_private_key, which certplan does not manage")
                .at(span, "a key made by another resource")
                .help("remove account_key_pem: certplan makes the account key on first use and keeps it in a file of its own (account_key_file, .certplan/acme/NAME.key by default); or give the key from a variable declared `sensitive = true`"),
        );
        return;
    }
    if let Some(eab) = blocks(&block.body, "external_account_binding").next() {
        reader.push(
            Diagnostic::error("external_account_binding is not supported yet")
                .at(reader.header_span(file, eab), "CAs that need it (ZeroSSL, Google) cannot be used")
                .help("use a CA without external account binding, such as Let's Encrypt, and remove the block"),
        );
    }
    let email_address = args.string(reader, "email_address").map(|(email, span)| {
        if !email.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
        {
            reader.push(
                Diagnostic::error(format!("email_address {email:?} is not an email address"))
                    .at(span, "expected user@host"),
            );
        }
        email
    });
    let tainted = block
        .body
        .get_attribute("account_key_pem")
        .is_some_and(|a| reader.sensitivity.taints(&a.value));
    let pem = args.string(reader, "account_key_pem");
    let key_file = args.string(reader, "account_key_file");
    let account_key = match (pem, key_file) {
        (Some((_, span)), Some(_)) => {
            reader.push(
                Diagnostic::error("account_key_pem and account_key_file are both set")
                    .at(span, "the key would come from two places")
                    .help("keep one of them"),
            );
            return;
        }
        (Some((pem, span)), None) => {
            if !tainted {
                reader.push(
                    Diagnostic::error("account_key_pem is not sensitive")
                        .at(span, "the account key would show in plans and logs")
                        .help("take it from a variable declared `sensitive = true` (e.g. set by TF_VAR_acme_account_key), or leave it out: certplan then keeps the key in a file of its own"),
                );
                return;
            }
            AccountKey::Pem(Sensitive::new(pem))
        }
        (None, Some((path, _))) => AccountKey::File(PathBuf::from(path)),
        (None, None) => AccountKey::File(default_key_file(name)),
    };
    let registration =
        Registration { email_address, account_key, location: reader.location(&here) };
    crate::reader::insert_once(
        reader,
        registrations,
        name.to_owned(),
        registration,
        here,
        format!("duplicate resource {REGISTRATION_TYPE}.{name}"),
        "resource names must be unique within a configuration; rename one of them",
    );
}

/// Every argument an `acme_certificate` block takes, those refused included (to name them).
pub(crate) const CERTIFICATE_ARGUMENTS: &[&str] = &[
    "for_each",
    "count",
    "common_name",
    "subject_alternative_names",
    "key_type",
    "min_days_remaining",
    "recursive_nameservers",
    "profile",
    "revoke_certificate_on_destroy",
    "preferred_chain",
    "certificate_request_pem",
    "must_staple",
    "pre_check_delay",
    "disable_complete_propagation",
    "cert_timeout",
    "certificate_p12_password",
    "use_renewal_info",
];

/// The blocks an `acme_certificate` takes, those refused included.
pub(crate) const CERTIFICATE_BLOCKS: &[&str] = &[
    "lifecycle",
    "deploy",
    "export",
    "dns_challenge",
    "http_webroot_challenge",
    "http_challenge",
    "tls_challenge",
    "http_memcached_challenge",
    "http_s3_challenge",
];

/// Arguments of the acme provider certplan refuses, with what to do.
const REFUSED: &[(&str, &str)] = &[
    (
        "certificate_request_pem",
        "certplan makes the key and its CSR itself (the key never leaves the account and the exported files); remove it and set key_type",
    ),
    ("must_staple", "OCSP must-staple is not supported; remove it"),
    (
        "preferred_chain",
        "alternate chains are not supported: the CA's default chain is uploaded; remove it",
    ),
    (
        "pre_check_delay",
        "certplan checks that the records are visible on the zone's authoritative servers before the CA looks; remove it",
    ),
    (
        "disable_complete_propagation",
        "certplan always checks propagation (against recursive_nameservers when set); remove it",
    ),
    ("cert_timeout", "the wait for issuance is the provider's; remove it"),
    (
        "certificate_p12_password",
        "certplan writes PEM files (export blocks), not PKCS#12; remove it",
    ),
    (
        "use_renewal_info",
        "ACME renewal information (ARI) is not supported yet: certplan renews at min_days_remaining; remove it",
    ),
];

/// Reads one instance of an `acme_certificate` block, with `count`/`each` in the context, into
/// its arguments (the CA's `server_url` is the provider's, filled in once all is read).
pub(crate) fn read_certificate(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    header: &Span,
) -> Option<CertificateArgs> {
    let mut args = Arguments::read_with_references(
        reader,
        file,
        &block.body,
        CERTIFICATE_ARGUMENTS,
        &["count", "for_each", "account_key_pem", "provider"],
        CERTIFICATE_BLOCKS,
    );
    // The Tencent Cloud account the certificate is uploaded to, and delivered in.
    let provider = crate::provider::read_reference(reader, &mut args);
    for (name, why) in REFUSED {
        if let Some(value) = args.take_value(name) {
            let span = value_span(reader, file, block, name);
            reader.push(
                Diagnostic::error(format!("{name} is not supported"))
                    .at(span, format!("{name} = {value}"))
                    .help(*why),
            );
        }
    }
    let registration = read_registration_reference(reader, &mut args);
    if !args.is_written("common_name") {
        reader.push(missing_argument(
            header.clone(),
            ACME_RESOURCE_TYPE,
            "common_name",
            "\"example.com\"",
        ));
    }
    let common_name = args.string(reader, "common_name").and_then(|(name, span)| {
        check_name(reader, &name, span)?;
        Some(name)
    });
    let mut subject_alternative_names = Vec::new();
    if let Some((names, span)) = args.strings(reader, "subject_alternative_names") {
        for name in names {
            if check_name(reader, &name, span.clone()).is_some()
                && !subject_alternative_names.contains(&name)
            {
                subject_alternative_names.push(name);
            }
        }
    }
    let key_type = match args.string(reader, "key_type") {
        None => Some(KeyType::P256),
        Some((text, span)) => KeyType::parse(&text).or_else(|| {
            let rsa = matches!(text.as_str(), "2048" | "3072" | "4096" | "8192");
            let why = if rsa {
                "certplan makes elliptic-curve keys only (it derives the key again when it resumes an interrupted order, which it cannot do for RSA): write key_type = \"P256\" or \"P384\""
            } else {
                "key_type is \"P256\" or \"P384\""
            };
            reader.push(
                Diagnostic::error(format!("key_type \"{text}\" is not supported"))
                    .at(span, "not a key type certplan makes")
                    .help(why),
            );
            None
        }),
    };
    let min_days_remaining =
        args.integer(reader, "min_days_remaining").and_then(|(days, span)| match days {
            1..=3650 => Some(days as i64),
            _ => {
                reader.push(
                    Diagnostic::error(format!("min_days_remaining = {days} is out of range"))
                        .at(span, "expected 1 or more days")
                        .help("leave it out to renew with a third of the lifetime left"),
                );
                None
            }
        });
    let profile = args.string(reader, "profile").map(|(p, _)| p);
    if let Some((true, span)) = args.boolean(reader, "revoke_certificate_on_destroy") {
        reader.push(
            Diagnostic::error("revoke_certificate_on_destroy = true is not supported")
                .at(span, "certplan deletes a destroyed certificate from the account; it does not revoke it")
                .help("write revoke_certificate_on_destroy = false, or remove it"),
        );
    }
    let nameservers = args.strings(reader, "recursive_nameservers");
    let challenge = read_challenge(reader, file, block, header, nameservers);
    let wildcard =
        subject_alternative_names.iter().chain(&common_name).find(|n| n.starts_with("*."));
    if let (Some(Challenge::Http { .. }), Some(name)) = (&challenge, wildcard) {
        reader.push(
            Diagnostic::error(format!("{name} cannot be validated over HTTP"))
                .at(header.clone(), "a wildcard needs DNS-01")
                .help("use dns_challenge { provider = \"tencentcloud\" } (or \"exec\") for a certificate with a wildcard"),
        );
        return None;
    }
    if blocks(&block.body, "lifecycle").any(|l| l.body.get_attribute("renew_before").is_some()) {
        reader.push(
            Diagnostic::error("an acme_certificate renews at min_days_remaining")
                .at(header.clone(), "lifecycle { renew_before } is for free certificates")
                .help("remove renew_before from the lifecycle block and set min_days_remaining"),
        );
    }
    let acme = AcmeArgs {
        server_url: String::new(),
        registration: registration?,
        subject_alternative_names,
        key_type: key_type?,
        challenge: challenge?,
        min_days_remaining,
        profile,
    };
    Some(CertificateArgs { provider, ..CertificateArgs::acme(common_name?, acme) })
}

/// Checks one name the certificate is for: a domain, or a wildcard (`*.` and a domain).
fn check_name(reader: &mut Reader<'_>, name: &str, span: Span) -> Option<()> {
    let base = name.strip_prefix("*.").unwrap_or(name);
    match domain::check(base) {
        Ok(()) => Some(()),
        Err((problem, help)) => {
            reader.push(Diagnostic::error(problem).at(span, "invalid name").help(help));
            None
        }
    }
}

/// Reads `account_key_pem = acme_registration.NAME.account_key_pem`: which registration
/// orders the certificate. Left out, the one registration of the configuration does (checked
/// once all is read).
fn read_registration_reference(reader: &mut Reader<'_>, args: &mut Arguments) -> Option<String> {
    let Some((text, span)) = args.reference("account_key_pem") else {
        return Some(String::new());
    };
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [REGISTRATION_TYPE, name, "account_key_pem"] => Some((*name).to_owned()),
        _ => {
            reader.push(
                Diagnostic::error("account_key_pem must name an acme_registration's key")
                    .at(span, format!("this is {text}"))
                    .help(format!(
                        "write account_key_pem = {REGISTRATION_TYPE}.NAME.account_key_pem, naming a `resource \"{REGISTRATION_TYPE}\" \"NAME\"` block (its key comes from that block, never from here)"
                    )),
            );
            None
        }
    }
}

/// Reads the challenge: one `dns_challenge` or `http_webroot_challenge` block.
fn read_challenge(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    header: &Span,
    nameservers: Option<(Vec<String>, Span)>,
) -> Option<Challenge> {
    for (kind, why) in [
        (
            "http_challenge",
            "certplan serves no HTTP itself: use http_webroot_challenge { directory = \"...\" } with the directory your web server serves, or dns_challenge",
        ),
        (
            "tls_challenge",
            "TLS-ALPN-01 is not supported: use dns_challenge or http_webroot_challenge",
        ),
        ("http_memcached_challenge", "use http_webroot_challenge or dns_challenge"),
        ("http_s3_challenge", "use http_webroot_challenge or dns_challenge"),
    ] {
        if let Some(inner) = blocks(&block.body, kind).next() {
            reader.push(
                Diagnostic::error(format!("{kind} is not supported"))
                    .at(reader.header_span(file, inner), "not a challenge certplan answers")
                    .help(why),
            );
        }
    }
    let dns: Vec<&Block> = blocks(&block.body, "dns_challenge").collect();
    let webroot: Vec<&Block> = blocks(&block.body, "http_webroot_challenge").collect();
    let recursive_nameservers = match nameservers {
        Some((servers, span)) => {
            for server in &servers {
                if server.rsplit_once(':').is_none_or(|(_, port)| port.parse::<u16>().is_err()) {
                    reader.push(
                        Diagnostic::error(format!(
                            "recursive_nameservers: {server:?} is not host:port"
                        ))
                        .at(span.clone(), "expected \"host:port\"")
                        .help("e.g. recursive_nameservers = [\"8.8.8.8:53\"]"),
                    );
                    return None;
                }
            }
            servers
        }
        None => Vec::new(),
    };
    match (dns.as_slice(), webroot.as_slice()) {
        ([one], []) => {
            let provider = read_dns_provider(reader, file, one)?;
            Some(Challenge::Dns { provider, recursive_nameservers })
        }
        ([], [one]) => {
            let mut args = Arguments::read(reader, file, &one.body, &["directory"], &[]);
            let Some((directory, _)) = args.string(reader, "directory") else {
                reader.push(missing_argument(
                    reader.header_span(file, one),
                    "http_webroot_challenge",
                    "directory",
                    "\"/var/www/html\"",
                ));
                return None;
            };
            Some(Challenge::Http { webroot: PathBuf::from(directory) })
        }
        ([], []) => {
            reader.push(
                Diagnostic::error("an acme_certificate needs a challenge")
                    .at(header.clone(), "no dns_challenge or http_webroot_challenge block")
                    .help("add `dns_challenge { provider = \"tencentcloud\" }` for a domain on Tencent Cloud DNS, `dns_challenge { provider = \"exec\"  config = { EXEC_PATH = \"./hook.sh\" } }` for any other DNS, or `http_webroot_challenge { directory = \"/var/www/html\" }`"),
            );
            None
        }
        (_, _) => {
            reader.push(
                Diagnostic::error("an acme_certificate takes one challenge block")
                    .at(header.clone(), "several challenge blocks")
                    .help("keep one dns_challenge or one http_webroot_challenge block"),
            );
            None
        }
    }
}

/// Reads `dns_challenge { provider = "tencentcloud" | "exec"  config = { ... } }`.
pub(crate) fn read_dns_provider(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<DnsProvider> {
    let header = reader.header_span(file, block);
    let mut args = Arguments::read(reader, file, &block.body, &["provider", "config"], &[]);
    let Some((provider, span)) = args.string(reader, "provider") else {
        reader.push(missing_argument(header, "dns_challenge", "provider", "\"tencentcloud\""));
        return None;
    };
    let config: BTreeMap<String, Value> =
        args.map(reader, "config").map(|(m, _)| m.into_iter().collect()).unwrap_or_default();
    match provider.as_str() {
        "tencentcloud" => {
            if let Some(key) = config.keys().next() {
                reader.push(
                    Diagnostic::error(format!("dns_challenge config {key:?} is not used"))
                        .at(span, "Tencent Cloud DNS is reached with the tencentcloud provider's credentials")
                        .help("remove the config map: the records are made with the credentials of the provider \"tencentcloud\" block, the environment or the tccli profile"),
                );
                return None;
            }
            Some(DnsProvider::TencentCloud)
        }
        "exec" => match config.get("EXEC_PATH").and_then(as_string) {
            Some(path) => Some(DnsProvider::Exec { path: PathBuf::from(path) }),
            None => {
                reader.push(
                    Diagnostic::error("dns_challenge \"exec\" needs config.EXEC_PATH")
                        .at(span, "no program to run")
                        .help("add `config = { EXEC_PATH = \"./dns-hook.sh\" }`: it is run as `EXEC_PATH present|cleanup FQDN VALUE`, as lego runs it"),
                );
                None
            }
        },
        other => {
            reader.push(
                Diagnostic::error(format!("dns_challenge provider \"{other}\" is not supported"))
                    .at(span, "certplan publishes records itself with two providers")
                    .help("use provider = \"tencentcloud\" (Tencent Cloud DNS), or provider = \"exec\" with config = { EXEC_PATH = \"./hook.sh\" } — a program that publishes and removes the record in your DNS"),
            );
            None
        }
    }
}

/// Where `name` is written in `block`, for a diagnostic about its value.
fn value_span(reader: &Reader<'_>, file: usize, block: &Block, name: &str) -> Span {
    let range = block.body.get_attribute(name).and_then(|a| a.value.span());
    reader.span(file, range)
}

/// Completes every ACME certificate once the whole configuration is read: the CA is the
/// provider's, and the registration named (or the only one) must be declared.
pub(crate) fn complete(
    reader: &mut Reader<'_>,
    acme: &AcmeConfig,
    resources: &mut BTreeMap<Address, crate::ResourceConfig>,
    spans: &BTreeMap<Address, Span>,
) {
    let only = match acme.registrations.keys().collect::<Vec<_>>().as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    };
    for (address, resource) in resources.iter_mut() {
        let Some(args) = resource.args.acme.as_mut() else { continue };
        args.server_url = acme.server_url.clone();
        let Some(span) = spans.get(&address.resource()).cloned() else { continue };
        if args.registration.is_empty() {
            match &only {
                Some(one) => args.registration = one.clone(),
                None => {
                    reader.push(
                        Diagnostic::error(format!("{address} names no acme_registration"))
                            .at(span, "which account orders it?")
                            .help(format!(
                                "declare `resource \"{REGISTRATION_TYPE}\" \"NAME\" {{ email_address = \"...\" }}` and write account_key_pem = {REGISTRATION_TYPE}.NAME.account_key_pem here"
                            )),
                    );
                }
            }
        } else if !acme.registrations.contains_key(&args.registration) {
            reader.push(
                Diagnostic::error(format!(
                    "{address} names {REGISTRATION_TYPE}.{}, which is not declared",
                    args.registration
                ))
                .at(span, "unknown registration")
                .help(format!(
                    "declare `resource \"{REGISTRATION_TYPE}\" \"{}\" {{ email_address = \"...\" }}`",
                    args.registration
                )),
            );
        }
    }
}
