//! Moving certificates in from a Terraform state (`certplan import --from-terraform`): what
//! becomes of each `tencentcloud_ssl_free_certificate` instance — adopted where the
//! configuration declares it or in a block written for it, already certplan's, gone, or left in
//! Terraform's hands with the reason — and the blocks to write. Decided here, without IO: the
//! CLI reads the files and the cloud, the engine records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use certplan_core::{Address, CertificateId, Observed, ProviderRef, RemoteCertificate};
use certplan_parser::{Config, GeneratedBlock, Source};
use certplan_state::{State, TerraformCertificate, TerraformState};

/// One certificate of the Terraform state, and what becomes of it.
#[derive(Debug)]
pub struct Instance<'t> {
    pub terraform: &'t TerraformCertificate,
    /// The provider whose account holds it: Terraform's, or where Terraform does not say
    /// (`show -json`), the declared resource's, else the default one.
    pub provider: ProviderRef,
    pub fate: Fate,
}

#[derive(Debug)]
pub enum Fate {
    /// To adopt at `address`: declared there, or in a block written for it (`block`). Until
    /// the cloud is read, `remote` is `None`; then it is the certificate to record — the one
    /// named, or the newest that renewed it outside Terraform.
    Adopt { address: Address, block: bool, remote: Option<Box<RemoteCertificate>> },
    /// certplan holds it already, at this address.
    Managed(Address),
    /// Left in Terraform's hands, for this reason.
    Left(String),
    /// The cloud no longer has it.
    Gone,
}

/// Decides what becomes of each certificate of the Terraform state, before the cloud is read.
pub fn classify<'t>(
    config: &Config,
    state: &State,
    terraform: &'t TerraformState,
    generate: bool,
) -> Vec<Instance<'t>> {
    // Names a block written now must not take: declared, recorded, or named by a moved block.
    let moved = config.moved.iter().flat_map(|m| [&m.from, &m.to]);
    let mut names: BTreeSet<String> = config
        .resources
        .keys()
        .chain(state.resources.keys())
        .chain(moved)
        .map(|a| a.name.clone())
        .collect();
    let mut seen: Vec<(&str, Address)> = Vec::new();
    let mut instances = Vec::new();
    for c in &terraform.certificates {
        let held = state.resources.iter().find(|(_, r)| r.holds(&c.id)).map(|(a, _)| a.clone());
        let held = held.or_else(|| seen.iter().find(|(id, _)| *id == c.id).map(|(_, a)| a.clone()));
        let deposed = state.deposed.iter().find(|d| d.certificate_id == c.id);
        let declared = c.address.to_certplan().ok().and_then(|a| config.resources.get(&a));
        let provider = (c.provider.clone())
            .or_else(|| declared.map(|d| d.args.provider.clone()))
            .unwrap_or_default();
        let fate = match (deposed, held, c.address.to_certplan()) {
            (Some(d), ..) => Fate::Left(format!(
                "certplan replaced certificate {} of {} and is to delete it; remove it from Terraform's state too",
                c.id, d.address
            )),
            (None, Some(at), _) => Fate::Managed(at),
            (None, None, Err(why)) => Fate::Left(why),
            (None, None, Ok(address)) => match state.resources.get(&address) {
                Some(r) => Fate::Left(format!(
                    "{address} holds certificate {} in certplan's state; `certplan state rm '{address}'` first to adopt this one there",
                    r.certificate_id
                )),
                None if config.removed.contains_key(&address)
                    || config.removed.contains_key(&address.resource()) =>
                {
                    Fate::Left(format!("a removed block says certplan does not manage {address}"))
                }
                None => match config.resources.get(&address) {
                    Some(declared) if declared.args.provider != provider => Fate::Left(format!(
                        "Terraform holds it with provider {provider}, but {address} is declared with {}: declare it with provider = {provider} (the account that holds it)",
                        declared.args.provider
                    )),
                    Some(_) => Fate::Adopt { address, block: false, remote: None },
                    None if generate => match generated_address(c, &mut names) {
                        Ok(address) => Fate::Adopt { address, block: true, remote: None },
                        Err(why) => Fate::Left(why),
                    },
                    None => {
                        let named = if address.to_string() == c.address.to_string() {
                            String::new()
                        } else {
                            format!(" (as {address})")
                        };
                        Fate::Left(format!(
                            "not declared in the configuration{named}: add its resource block, or run again with --generate-config FILE to have it written"
                        ))
                    }
                },
            },
        };
        if let Fate::Adopt { address, .. } = &fate {
            seen.push((&c.id, address.clone()));
        }
        instances.push(Instance { terraform: c, provider, fate });
    }
    instances
}

/// The address of a block of its own for `c`, with a name no other resource has.
fn generated_address(
    c: &TerraformCertificate,
    names: &mut BTreeSet<String>,
) -> Result<Address, String> {
    for required in ["domain", "dv_auth_method"] {
        if c.withheld.contains(&required) {
            return Err(format!(
                "its {required} is marked sensitive in the Terraform state, so no block can be written for it: declare it yourself, then import again"
            ));
        }
    }
    let base = c.address.block_name()?;
    let name = (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}_{n}") })
        .find(|name| !names.contains(name))
        .expect("an unused name");
    names.insert(name.clone());
    Ok(Address::certificate(name))
}

/// What becomes of each certificate to adopt once the cloud is read (`found`, which
/// [`to_look_up`] lists): see [`settle`]. Two instances whose certificates are one (one renewed
/// the other) adopt it once.
pub fn look_up(config: &Config, state: &State, instances: &mut [Instance<'_>], found: &Observed) {
    let mut chosen: BTreeMap<CertificateId, Address> = BTreeMap::new();
    for instance in instances.iter_mut() {
        if let Fate::Adopt { address, block, .. } = &instance.fate {
            let id = &instance.terraform.id;
            instance.fate = settle(config, state, address, *block, id, found);
        }
        if let Fate::Adopt { address, remote: Some(remote), .. } = &instance.fate {
            if let Some(first) = chosen.get(&remote.id) {
                instance.fate = Fate::Managed(first.clone());
            } else {
                chosen.insert(remote.id.clone(), address.clone());
            }
        }
    }
}

/// The certificates to look up in the cloud: those of the instances to adopt.
pub fn to_look_up(instances: &[Instance<'_>]) -> BTreeMap<ProviderRef, Vec<CertificateId>> {
    let mut ids: BTreeMap<ProviderRef, Vec<CertificateId>> = BTreeMap::new();
    for i in instances.iter().filter(|i| matches!(i.fate, Fate::Adopt { .. })) {
        ids.entry(i.provider.clone()).or_default().push(i.terraform.id.clone());
    }
    ids
}

/// What becomes of a certificate to adopt once the cloud is read (`found`): gone, refused (for
/// another domain than its block declares), or adopted as the newest certificate of its
/// renewal chain.
fn settle(
    config: &Config,
    state: &State,
    address: &Address,
    block: bool,
    id: &str,
    found: &Observed,
) -> Fate {
    let Some(named) = found.get(id) else {
        return Fate::Gone;
    };
    let remote = certplan_core::successor(found, id).map_or(named, |(_, newest)| newest);
    if let Some((other, _)) = state.resources.iter().find(|(_, r)| r.holds(&remote.id)) {
        return Fate::Managed(other.clone());
    }
    if state.deposed.iter().any(|d| d.certificate_id == remote.id) {
        return Fate::Left(format!(
            "it was renewed as {}, which certplan replaced and is to delete",
            remote.id
        ));
    }
    let declared = config.resources.get(address).map(|r| r.args.domain.as_str());
    match declared {
        Some(domain) if domain != remote.domain => Fate::Left(format!(
            "certificate {} is for {}, but {address} declares domain = \"{domain}\"",
            remote.id, remote.domain
        )),
        _ => {
            Fate::Adopt { address: address.clone(), block, remote: Some(Box::new(remote.clone())) }
        }
    }
}

/// The blocks to write (in `file`) for the certificates to adopt that have none. A block certplan
/// would refuse (arguments the provider takes and the API no longer does) leaves its
/// certificate behind, with the reason.
pub fn blocks(file: &Path, instances: &mut [Instance<'_>]) -> Vec<GeneratedBlock> {
    let mut blocks = Vec::new();
    for i in instances.iter_mut() {
        let Fate::Adopt { address, block: true, .. } = &i.fate else { continue };
        let block = block(&address.name, i.terraform, &i.provider);
        let resource = GeneratedBlock { import_id: None, ..block.clone() };
        let mut alone = certplan_parser::generate_config("", &[resource]);
        // The block alone, with the provider it names (declared elsewhere in the end).
        if let Some(alias) = block.provider.alias() {
            alone.push_str(&format!(
                "provider \"tencentcloud\" {{\n  alias   = \"{alias}\"\n  profile = \"{alias}\"\n}}\n"
            ));
        }
        match certplan_parser::parse_sources(vec![Source::new(file, alone.as_str())]) {
            Ok(_) => blocks.push(block),
            Err(e) => {
                let why: Vec<String> = e
                    .diagnostics
                    .iter()
                    .map(|d| match &d.help {
                        Some(help) => format!("{} ({help})", d.message),
                        None => d.message.clone(),
                    })
                    .collect();
                i.fate = Fate::Left(format!(
                    "certplan would refuse the block written for it: {}; declare it yourself, then import again",
                    why.join("; ")
                ));
            }
        }
    }
    blocks
}

/// A resource block for `c`, with the arguments Terraform set and comments for what is left out.
fn block(name: &str, c: &TerraformCertificate, provider: &ProviderRef) -> GeneratedBlock {
    let mut comments = vec![format!("From Terraform: {} (certificate {})", c.address, c.id)];
    let mut arguments = Vec::new();
    for (argument, value) in &c.arguments {
        // Values today's API refuses (the provider's documented example has both) are left out:
        // without them, the API uses the only value it accepts.
        let only = match *argument {
            "package_type" => Some("83"),
            "validity_period" => Some("3"),
            _ => None,
        };
        let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
        if let Some(only) = only.filter(|only| text != *only) {
            comments.push(format!(
                "{argument} = {value} in Terraform is left out: the API accepts only \"{only}\" today, and uses it without the argument."
            ));
            continue;
        }
        arguments.push(((*argument).to_owned(), value.clone()));
    }
    for (argument, value) in &c.left_out {
        comments.push(format!(
            "{argument} = {value} in Terraform is left out: certplan renews certificates itself."
        ));
    }
    for argument in &c.withheld {
        comments.push(format!(
            "{argument} is marked sensitive in the Terraform state and is not copied: declare it from a sensitive variable."
        ));
    }
    if c.password_set {
        comments.push(
            "csr_key_password was set in Terraform and is not copied. It only matters for JKS/PFX"
                .into(),
        );
        comments.push(
            "downloads and the cloud does not report it, so leaving it out plans no change. To"
                .into(),
        );
        comments.push("declare it: csr_key_password = var.csr_key_password, with".into());
        comments.push("variable \"csr_key_password\" { sensitive = true } (its value from CERTPLAN_VAR_csr_key_password).".into());
    }
    GeneratedBlock {
        name: name.to_owned(),
        provider: provider.clone(),
        comments,
        arguments,
        import_id: Some(c.id.to_string()),
    }
}
