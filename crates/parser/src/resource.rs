//! `resource "tencentcloud_ssl_free_certificate" "NAME" { ... }`: the Terraform provider's
//! arguments, typed and validated as the API validates them, plus certplan's `lifecycle` settings
//! and the `deploy`/`export` blocks (read by `delivery`).

use std::collections::BTreeSet;

use certplan_core::{
    ACME_RESOURCE_TYPE, Address, Argument, CertificateArgs, CsrEncryptAlgo, DvAuthMethod,
    InstanceKey, RESOURCE_TYPE,
};
use hcl::Value;
use hcl_edit::Span as _;
use hcl_edit::structure::Block;
use sha2::{Digest, Sha256};

use crate::acme::REGISTRATION_TYPE;
use crate::eval::{Arguments, closest, evaluate_attribute, missing_argument, suggestion};
use crate::{
    Diagnostic, Lifecycle, Reader, RenewBefore, ResourceConfig, Span, blocks, delivery, domain,
};

/// Every argument a resource block takes: `for_each`, `count` and the certificate's.
fn arguments() -> Vec<&'static str> {
    let free = Argument::ALL.into_iter().filter(|a| !a.acme_only()).map(Argument::name);
    let free = free.filter(|a| *a != Argument::Provider.name());
    ["for_each", "count"].into_iter().chain(free).collect()
}
const LIFECYCLE_ARGUMENTS: &[&str] = &["renew_before", "prevent_destroy", "wait_for_issuance"];

/// One instance of a resource block as read.
pub(crate) struct Instance {
    pub(crate) config: ResourceConfig,
    /// Where each of `config.delivery.exports` writes its `path`, in the same order: two
    /// instances exporting to one directory are reported once the whole configuration is read.
    pub(crate) export_spans: Vec<Span>,
}

/// Reads one resource block: its address, and one configuration per instance (one without
/// `count`/`for_each`). `None` (with diagnostics pushed) when the block is not usable.
pub(crate) fn read(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<(Address, Vec<Instance>)> {
    let header = reader.header_span(file, block);
    let (resource_type, name) = match block.labels.as_slice() {
        [t, n] => {
            ((t.as_str(), reader.span(file, t.span())), (n.as_str(), reader.span(file, n.span())))
        }
        _ => {
            reader.push(
                Diagnostic::error("a resource block takes two labels: the type and the name").at(
                    header,
                    "expected `resource \"tencentcloud_ssl_free_certificate\" \"NAME\"`",
                ),
            );
            return None;
        }
    };
    const MANAGED: [&str; 2] = [RESOURCE_TYPE, ACME_RESOURCE_TYPE];
    if !MANAGED.contains(&resource_type.0) {
        let mut d = Diagnostic::error(format!("unsupported resource type \"{}\"", resource_type.0))
            .at(resource_type.1, "certplan does not manage this type");
        // A type is named after its provider: only the same provider's types are suggested
        // (`aws_acm_certificate` is not a misspelt `acme_certificate`).
        let provider = |t: &str| t.split('_').next().unwrap_or_default().to_owned();
        let same_provider: Vec<&str> = [RESOURCE_TYPE, ACME_RESOURCE_TYPE, REGISTRATION_TYPE]
            .into_iter()
            .filter(|t| provider(t) == provider(resource_type.0))
            .collect();
        d = match closest(resource_type.0, &same_provider) {
            Some(close) => d.help(format!("did you mean \"{close}\"?")),
            None => d.help(format!(
                "certplan manages \"{RESOURCE_TYPE}\" and \"{ACME_RESOURCE_TYPE}\" resources (with \"{REGISTRATION_TYPE}\" accounts)"
            )),
        };
        reader.push(d);
        return None;
    }
    let valid_name = name.0.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.0.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        reader.push(
            Diagnostic::error(format!("invalid resource name \"{}\"", name.0))
                .at(name.1, "not a valid name")
                .help("a name starts with a letter or underscore and has only letters, digits, underscores and hyphens"),
        );
        return None;
    }

    let resource =
        Address { resource_type: resource_type.0.to_owned(), ..Address::certificate(name.0) };
    let instances = instances(reader, file, block)?;
    let sensitive: BTreeSet<String> = block
        .body
        .attributes()
        .filter(|a| !matches!(a.key.as_str(), "count" | "for_each"))
        .filter(|a| reader.sensitivity.taints(&a.value))
        .map(|a| a.key.as_str().to_owned())
        .collect();
    // `count` and `each` are declared over one copy of the context, each instance replacing
    // the last one's: a copy per instance would cost the size of every variable each time.
    let base = reader.ctx.clone();
    let mut configs = Vec::with_capacity(instances.len());
    for (key, each) in instances {
        let ctx = &mut reader.ctx;
        match (&key, each) {
            (Some(InstanceKey::Index(i)), _) => {
                ctx.declare_var(
                    "count",
                    Value::Object([("index".to_owned(), Value::from(*i))].into_iter().collect()),
                );
            }
            (Some(InstanceKey::Key(k)), Some(value)) => {
                let each =
                    [("key".to_owned(), Value::from(k.as_str())), ("value".to_owned(), value)];
                ctx.declare_var("each", Value::Object(each.into_iter().collect()));
            }
            _ => {}
        }
        let address = match key {
            Some(key) => resource.instance(key),
            None => resource.clone(),
        };
        let instance = read_instance(reader, file, block, address, header.clone()).map(|i| {
            Instance { config: ResourceConfig { sensitive: sensitive.clone(), ..i.config }, ..i }
        });
        let failed = instance.is_none();
        configs.extend(instance);
        // The same mistake in every instance is reported once.
        if failed {
            break;
        }
    }
    reader.ctx = base;
    Some((resource, configs))
}

/// The most instances one resource block may have. Free certificates are a quota of a few
/// dozen per domain, so no real account comes near; a typo (`count = 1000000000`) is refused
/// before it allocates anything.
pub const MAX_INSTANCES: usize = 100_000;

fn too_many(span: Span, n: u64) -> Diagnostic {
    Diagnostic::error(format!(
        "{n} instances is more than certplan manages in one resource block ({MAX_INSTANCES})"
    ))
    .at(span, "too many instances")
    .help("check the value; split the certificates over several resource blocks if they are real")
}

/// Evaluates `count` or `for_each`: the instances' keys, with `each.value` for `for_each`.
fn instances(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
) -> Option<Vec<(Option<InstanceKey>, Option<Value>)>> {
    let count = block.body.get_attribute("count");
    let for_each = block.body.get_attribute("for_each");
    match (count, for_each) {
        (Some(c), Some(_)) => {
            reader.push(
                Diagnostic::error("a resource takes count or for_each, not both")
                    .at(reader.span(file, c.key.span()), "count here")
                    .help("keep one of them"),
            );
            None
        }
        (Some(c), None) => {
            let (value, span) = evaluate_attribute(reader, file, c)?;
            match value.as_u64() {
                Some(n) if n > MAX_INSTANCES as u64 => {
                    reader.push(too_many(span, n));
                    None
                }
                Some(n) => Some((0..n).map(|i| (Some(InstanceKey::Index(i)), None)).collect()),
                None => {
                    reader.push(
                        Diagnostic::error("count must be a whole number")
                            .at(span, format!("this is {value}"))
                            .help("e.g. count = 2, or count = length(var.domains)"),
                    );
                    None
                }
            }
        }
        (None, Some(f)) if reader.sensitivity.taints(&f.value) => {
            reader.push(
                Diagnostic::error("for_each cannot use sensitive values")
                    .at(reader.span(file, f.value.span()), "derived from a sensitive variable")
                    .help("instance keys appear in every address, plan and state: take them from a value that is not sensitive"),
            );
            None
        }
        (None, Some(f)) => {
            let (value, span) = evaluate_attribute(reader, file, f)?;
            let unsuitable = |reader: &mut Reader<'_>, why: String| {
                reader.push(
                    Diagnostic::error(format!("for_each needs a map or a set of strings: {why}"))
                        .at(span.clone(), "this value")
                        .help("e.g. for_each = toset([\"www.example.com\"]) or for_each = { www = \"www.example.com\" }"),
                );
                None
            };
            let size = match &value {
                Value::Object(map) => map.len(),
                Value::Array(items) => items.len(),
                _ => 0,
            };
            if size > MAX_INSTANCES {
                reader.push(too_many(span, size as u64));
                return None;
            }
            match value {
                Value::Object(map) => {
                    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    Some(
                        entries
                            .into_iter()
                            .map(|(k, v)| (Some(InstanceKey::Key(k)), Some(v)))
                            .collect(),
                    )
                }
                Value::Array(items) => {
                    let mut keys: Vec<String> = Vec::with_capacity(items.len());
                    for item in items {
                        let Value::String(key) = item else {
                            return unsuitable(reader, format!("it holds {item}, not a string"));
                        };
                        keys.push(key);
                    }
                    keys.sort();
                    if let Some(twice) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
                        let why = format!("{:?} appears twice (use toset(...))", twice[0]);
                        return unsuitable(reader, why);
                    }
                    Some(
                        keys.into_iter()
                            .map(|k| (Some(InstanceKey::Key(k.clone())), Some(Value::from(k))))
                            .collect(),
                    )
                }
                other => unsuitable(reader, format!("it is {other}")),
            }
        }
        (None, None) => Some(vec![(None, None)]),
    }
}

/// Reads one instance of a resource block, with `count`/`each` already in the context.
fn read_instance(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    address: Address,
    header: Span,
) -> Option<Instance> {
    let errors_before = reader.diagnostics.len();
    if address.resource_type == ACME_RESOURCE_TYPE {
        let args = crate::acme::read_certificate(reader, file, block, &header);
        let lifecycle = read_lifecycle(reader, file, block);
        let (delivery, export_spans) = delivery::read(reader, file, block);
        if reader.diagnostics.len() > errors_before {
            return None;
        }
        let config = ResourceConfig {
            address,
            args: args?,
            csr_key_password: None,
            lifecycle,
            delivery,
            location: reader.location(&header),
            sensitive: BTreeSet::new(),
        };
        return Some(Instance { config, export_spans });
    }
    // `count` and `for_each` were evaluated once for the whole block: evaluating them again
    // for every instance would cost the size of the collection each time.
    let mut args = Arguments::read_with_references(
        reader,
        file,
        &block.body,
        &arguments(),
        &["count", "for_each", "provider"],
        &["lifecycle", "deploy", "export", "dns_challenge"],
    );
    let provider = crate::provider::read_reference(reader, &mut args);
    for (arg, example) in [("domain", "\"www.example.com\""), ("dv_auth_method", "\"DNS_AUTO\"")] {
        if !args.is_written(arg) {
            reader.push(missing_argument(header.clone(), RESOURCE_TYPE, arg, example));
        }
    }
    let domain = read_domain(reader, &mut args);

    let dv_auth_method =
        enum_arg(reader, &mut args, "dv_auth_method", &DvAuthMethod::ALL.map(DvAuthMethod::as_str))
            .and_then(|(s, span)| DvAuthMethod::parse(&s).map(|m| (m, span)));
    let package_type = fixed_arg(
        reader,
        &mut args,
        "package_type",
        "83",
        "the API accepts only \"83\" (TrustAsia C1 DV Free) for free certificates today; the \"2\" of the provider's documented example is a package no longer offered free. Write \"83\", or leave the argument out: 83 is what the API uses without it",
    );
    let validity_period = fixed_arg(
        reader,
        &mut args,
        "validity_period",
        "3",
        "the API issues free certificates for 3 months only today (the 12 of the provider's documented example is from when they lasted a year). Write 3, or leave the argument out: certplan renews every certificate before it expires",
    );
    let contact_email = read_contact_email(reader, &mut args);
    let contact_phone = read_contact_phone(reader, &mut args);

    let (algo, key_parameter) = read_key(reader, &mut args);
    let csr_key_password = args.string(reader, "csr_key_password").map(|(p, _)| p);
    let alias = args.string(reader, "alias").map(|(a, _)| a);
    let project_id =
        args.integer(reader, "project_id").and_then(|(p, _)| certplan_core::project_id(p));
    let old_certificate_id = args.string(reader, "old_certificate_id").map(|(o, _)| o);
    let method = dv_auth_method.as_ref().map(|(m, _)| *m);
    let delete_dns_auto_record = read_delete_dns_auto_record(reader, &mut args, method);
    let publish_validation = read_publish_validation(reader, file, block, method);

    let lifecycle = read_lifecycle(reader, file, block);
    let (delivery, export_spans) = delivery::read(reader, file, block);
    if reader.diagnostics.len() > errors_before {
        return None;
    }
    let (domain, _) = domain?;
    let (dv_auth_method, _) = dv_auth_method?;
    let config = ResourceConfig {
        address,
        args: CertificateArgs {
            domain,
            dv_auth_method: Some(dv_auth_method),
            package_type,
            contact_email,
            contact_phone,
            validity_period,
            csr_encrypt_algo: algo,
            csr_key_parameter: key_parameter,
            csr_key_password_digest: csr_key_password.as_deref().map(password_digest),
            alias,
            project_id,
            old_certificate_id,
            delete_dns_auto_record,
            acme: None,
            publish_validation,
            provider,
        },
        csr_key_password,
        lifecycle,
        delivery,
        location: reader.location(&header),
        sensitive: BTreeSet::new(),
    };
    Some(Instance { config, export_spans })
}

/// Reads `domain`, checked as the API checks it.
fn read_domain(reader: &mut Reader<'_>, args: &mut Arguments) -> Option<(String, Span)> {
    let domain = args.string(reader, "domain");
    if let Some((d, span)) = &domain
        && let Err((problem, help)) = domain::check(d)
    {
        reader.push(Diagnostic::error(problem).at(span.clone(), "invalid domain").help(help));
    }
    domain
}

/// Reads `contact_email`: an address of the form user@host.
fn read_contact_email(reader: &mut Reader<'_>, args: &mut Arguments) -> Option<String> {
    args.string(reader, "contact_email").map(|(email, span)| {
        let parts = email.split_once('@');
        if !parts.is_some_and(|(user, host)| !user.is_empty() && host.contains('.')) {
            reader.push(
                Diagnostic::error(format!("contact_email {email:?} is not an email address"))
                    .at(span, "expected user@host"),
            );
        }
        email
    })
}

/// Reads `contact_phone`: digits, optionally with +, - and spaces.
fn read_contact_phone(reader: &mut Reader<'_>, args: &mut Arguments) -> Option<String> {
    args.string(reader, "contact_phone").map(|(phone, span)| {
        if phone.is_empty() || !phone.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) {
            reader.push(
                Diagnostic::error(format!("contact_phone {phone:?} is not a phone number"))
                    .at(span, "expected digits, optionally with +, - and spaces"),
            );
        }
        phone
    })
}

/// Reads `csr_encrypt_algo` and `csr_key_parameter`, which must go together (RSA 2048, ECC
/// with a curve).
fn read_key(
    reader: &mut Reader<'_>,
    args: &mut Arguments,
) -> (Option<CsrEncryptAlgo>, Option<String>) {
    let algo = enum_arg(
        reader,
        args,
        "csr_encrypt_algo",
        &CsrEncryptAlgo::ALL.map(CsrEncryptAlgo::as_str),
    )
    .and_then(|(s, span)| CsrEncryptAlgo::parse(&s).map(|a| (a, span)));
    let key_parameter = args.string(reader, "csr_key_parameter");
    let effective_algo = algo.as_ref().map_or(CsrEncryptAlgo::Rsa, |(a, _)| *a);
    match (&key_parameter, &algo) {
        (Some((param, span)), _) if param != effective_algo.key_parameter() => reader.push(
            Diagnostic::error(format!(
                "csr_key_parameter \"{param}\" does not go with csr_encrypt_algo \"{}\"",
                effective_algo.as_str()
            ))
            .at(span.clone(), "mismatched key parameter")
            .help(format!(
                "{} keys take csr_key_parameter = \"{}\"",
                effective_algo.as_str(),
                effective_algo.key_parameter()
            )),
        ),
        (None, Some((CsrEncryptAlgo::Ecc, span))) => reader.push(
            Diagnostic::error("csr_encrypt_algo \"ECC\" needs csr_key_parameter")
                .at(span.clone(), "ECC without a curve")
                .help("add `csr_key_parameter = \"prime256v1\"`"),
        ),
        _ => {}
    }
    (algo.map(|(a, _)| a), key_parameter.map(|(p, _)| p))
}

/// Reads `delete_dns_auto_record`, which only automatic DNS validation (`method`) has.
fn read_delete_dns_auto_record(
    reader: &mut Reader<'_>,
    args: &mut Arguments,
    method: Option<DvAuthMethod>,
) -> Option<bool> {
    args.boolean(reader, "delete_dns_auto_record").map(|(d, span)| {
        if d && method.is_some_and(|m| m != DvAuthMethod::DnsAuto) {
            reader.push(
                Diagnostic::error("delete_dns_auto_record applies to DNS_AUTO validation only")
                    .at(span, "no automatic record to delete")
                    .help("remove it, or use dv_auth_method = \"DNS_AUTO\""),
            );
        }
        d
    })
}

/// Reads `dns_challenge { provider = "tencentcloud" | "exec" ... }`: who publishes the record of
/// DNS validation (`method` DNS), as an `acme_certificate` names who publishes its DNS-01 ones.
fn read_publish_validation(
    reader: &mut Reader<'_>,
    file: usize,
    block: &Block,
    method: Option<DvAuthMethod>,
) -> Option<certplan_core::DnsProvider> {
    let mut found = blocks(&block.body, "dns_challenge");
    let first = found.next()?;
    if let Some(second) = found.next() {
        reader.push(Diagnostic::duplicate(
            "duplicate dns_challenge block",
            reader.header_span(file, second),
            reader.header_span(file, first),
            "keep one dns_challenge block",
        ));
        return None;
    }
    if method.is_some_and(|m| m != DvAuthMethod::Dns) {
        reader.push(
            Diagnostic::error("dns_challenge publishes the record of DNS validation")
                .at(reader.header_span(file, first), "no record to publish for this dv_auth_method")
                .help("use it with dv_auth_method = \"DNS\" (DNS_AUTO publishes its record itself), or remove it"),
        );
        return None;
    }
    crate::acme::read_dns_provider(reader, file, first)
}

fn read_lifecycle(reader: &mut Reader<'_>, file: usize, block: &Block) -> Lifecycle {
    let mut lifecycle = Lifecycle::default();
    let mut seen: Option<Span> = None;
    for inner in blocks(&block.body, "lifecycle") {
        let here = reader.header_span(file, inner);
        if let Some(first) = &seen {
            reader.push(Diagnostic::duplicate(
                "duplicate lifecycle block",
                here,
                first.clone(),
                "merge the settings into one lifecycle block",
            ));
            continue;
        }
        seen = Some(here);
        let mut args = Arguments::read(reader, file, &inner.body, LIFECYCLE_ARGUMENTS, &[]);
        if let Some((text, span)) = args.string(reader, "renew_before") {
            match RenewBefore::parse(&text) {
                Ok(r) if r > RenewBefore::MAX => reader.push(
                    Diagnostic::error(format!("renew_before = \"{text}\" is longer than 30 days"))
                        .at(span, "too early to renew")
                        .help("the API links a renewal only within 30 days of expiry; use at most \"30d\""),
                ),
                Ok(r) => lifecycle.renew_before = r,
                Err(problem) => reader.push(
                    Diagnostic::error(format!("invalid renew_before: {problem}"))
                        .at(span, "expected a duration")
                        .help("write a number of days or hours, e.g. \"30d\" or \"36h\""),
                ),
            }
        }
        if let Some((prevent, _)) = args.boolean(reader, "prevent_destroy") {
            lifecycle.prevent_destroy = prevent;
        }
        lifecycle.wait_for_issuance = args.duration(reader, "wait_for_issuance").map(|(d, _)| d);
    }
    lifecycle
}

/// Takes a string argument that must be one of `allowed`, suggesting the right spelling.
fn enum_arg(
    reader: &mut Reader<'_>,
    args: &mut Arguments,
    name: &str,
    allowed: &[&str],
) -> Option<(String, Span)> {
    let (value, span) = args.string(reader, name)?;
    if allowed.contains(&value.as_str()) {
        return Some((value, span));
    }
    let listed = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    let help = match suggestion(&value, allowed) {
        Some(s) => format!("did you mean \"{s}\"? ({name} is one of {listed})"),
        None => format!("{name} is one of {listed}"),
    };
    reader.push(
        Diagnostic::error(format!("invalid {name} \"{value}\""))
            .at(span, "not an accepted value")
            .help(help),
    );
    None
}

/// Takes an argument that has only one accepted value.
fn fixed_arg(
    reader: &mut Reader<'_>,
    args: &mut Arguments,
    name: &str,
    only: &str,
    why: &str,
) -> Option<String> {
    let (value, span) = args.string(reader, name)?;
    if value != only {
        reader.push(
            Diagnostic::error(format!("invalid {name} \"{value}\""))
                .at(span, format!("expected \"{only}\""))
                .help(why.to_owned()),
        );
        return None;
    }
    Some(value)
}

/// Digests the CSR key password so state can notice a change without holding the password.
fn password_digest(password: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"certplan csr_key_password\0");
    hasher.update(password.as_bytes());
    format!("sha256:{}", hex::encode(hasher.finalize()))
}
