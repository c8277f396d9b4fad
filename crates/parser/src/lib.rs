//! Reads a certplan configuration — every `*.hcl` file of a directory — into a validated
//! [`Config`]: the `provider "tencentcloud"` block and the `tencentcloud_ssl_free_certificate`
//! resources, with every argument typed and checked as the API would check it.
//!
//! Every problem is a [`Diagnostic`] with the file, line, column and source excerpt, and all of
//! them are reported at once. [`load_settings`] reads only the `certplan` block, for commands
//! that must find the state while the rest of the configuration does not load. This crate reads
//! the config files and nothing else: it knows neither state nor the cloud.

mod acme;
mod delivery;
mod diagnostic;
mod domain;
mod duration;
mod eval;
mod expr;
mod format;
mod functions;
mod generate;
mod imports;
mod load;
mod locals;
mod moves;
mod notify;
mod output;
mod parse;
mod provider;
mod reader;
mod region;
mod resource;
mod sensitive;
mod settings;
mod variables;

use std::collections::BTreeMap;

use certplan_core::{
    Address, Backend, CertificateArgs, CertificateId, Delivery, ProviderRef, Sensitive,
};

pub use acme::{AccountKey, AcmeConfig, REGISTRATION_TYPE, Registration, default_key_file};
pub use diagnostic::{
    ConfigError, Diagnostic, Severity, Source, Span, diagnostics_json, render_diagnostics,
};
pub use duration::RenewBefore;
pub use format::format_source;
pub use generate::{GeneratedBlock, generate_config};
pub use load::{
    CONFIG_EXTENSION, LoadOptions, VARIABLES_FILE, VarFlag, load_dir, load_dir_with, load_settings,
};
pub use notify::{NotifyConfig, NotifyFormat};
pub use parse::{parse_sources, parse_sources_with};
pub(crate) use reader::{Reader, blocks};
pub use variables::VarInput;

/// The configuration: what is declared.
#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Vec<Source>,
    /// Problems that do not stop certplan, to show the user.
    pub warnings: Vec<Diagnostic>,
    /// The `provider "tencentcloud"` blocks, one per account.
    pub providers: Providers,
    pub resources: BTreeMap<Address, ResourceConfig>,
    /// `removed { from = ADDR }` blocks: resources to stop managing.
    pub removed: BTreeMap<Address, Removed>,
    /// The value of every declared variable.
    pub variables: BTreeMap<String, hcl::Value>,
    /// `moved { from = ADDR  to = ADDR }` blocks: renames, in declaration order.
    pub moved: Vec<Moved>,
    /// `import { to = ADDR  id = "..." }` blocks: existing certificates to record as declared
    /// instances, in declaration order.
    pub imports: Vec<Import>,
    /// `output` blocks, evaluated after apply against what was applied.
    pub outputs: BTreeMap<String, OutputConfig>,
    /// The evaluation context of outputs: the built-in functions, `var` and `local`.
    pub context: hcl::eval::Context<'static>,
    /// The `certplan { ... }` block's settings.
    pub settings: CertplanBlock,
    /// The `acme` provider and its `acme_registration` accounts.
    pub acme: AcmeConfig,
    /// The `notify` blocks: where a run says what needs a person.
    pub notify: Vec<NotifyConfig>,
}

/// The `certplan { required_version = "..."  backend "local" | "pg" { ... } }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertplanBlock {
    /// Where state is kept, as the block declares it: the local default without a `backend`.
    pub backend: Backend,
}

/// An `output "name" { value, description, sensitive }` block.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub value: hcl_edit::expr::Expression,
    pub description: Option<String>,
    pub sensitive: bool,
    pub location: String,
}

impl Config {
    /// Evaluates every output, with `resources` as the value of the resource type's name (an
    /// object of name => attributes, or of name => instances for `for_each`/`count`). Returns
    /// each output's value, or the reason it has none.
    pub fn evaluate_outputs(
        &self,
        resources: hcl::Value,
    ) -> BTreeMap<String, Result<hcl::Value, String>> {
        let mut ctx = self.context.clone();
        ctx.declare_var(certplan_core::RESOURCE_TYPE, resources);
        self.outputs
            .iter()
            .map(|(name, o)| {
                (name.clone(), expr::evaluate(&o.value, &ctx).map_err(|e| expr::describe(&e)))
            })
            .collect()
    }
}

/// A `moved` block: what state records as `from` is now `to` (no new application). Without
/// an instance key, every instance moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: Address,
    pub to: Address,
    pub location: String,
}

/// An `import` block: the existing certificate `id` is to be recorded as `to`, a declared
/// instance, without a new application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub to: Address,
    pub id: CertificateId,
    /// The provider the block names (`provider = tencentcloud.ALIAS`); the resource's own
    /// otherwise, which is what it must be when written.
    pub provider: Option<ProviderRef>,
    /// Where the block is: `file:line:col`.
    pub location: String,
}

/// A `removed` block: stop managing a resource without deleting its certificate (unless
/// `lifecycle { destroy = true }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub destroy: bool,
    /// Where the block is: `file:line:col`.
    pub location: String,
}

impl Config {
    /// Digests every configuration file (name and content) and the variables' values, so that a
    /// saved plan can tell whether it is applied to the configuration it was made from.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut files: Vec<&Source> = self.sources.iter().collect();
        files.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        let mut hasher = Sha256::new();
        for f in files {
            let name =
                f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for part in [name.as_bytes(), f.text.as_bytes()] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
        }
        let variables = serde_json::to_vec(&self.variables).unwrap_or_default();
        hasher.update((variables.len() as u64).to_le_bytes());
        hasher.update(&variables);
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }
}

/// The `provider "tencentcloud"` blocks: the default configuration (as declared, or empty when
/// no block without an alias is) and one per alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Providers {
    default: ProviderConfig,
    aliased: BTreeMap<String, ProviderConfig>,
}

impl Providers {
    /// Returns the configuration `provider` names; `None` for an alias no block declares.
    pub fn get(&self, provider: &ProviderRef) -> Option<&ProviderConfig> {
        match provider.alias() {
            None => Some(&self.default),
            Some(alias) => self.aliased.get(alias),
        }
    }

    /// Returns the default configuration.
    pub fn default_config(&self) -> &ProviderConfig {
        &self.default
    }

    /// Every configuration, the default one first.
    pub fn iter(&self) -> impl Iterator<Item = (ProviderRef, &ProviderConfig)> {
        let aliased = self.aliased.iter().map(|(a, c)| (ProviderRef::aliased(a.as_str()), c));
        std::iter::once((ProviderRef::DEFAULT, &self.default)).chain(aliased)
    }

    /// The providers a block declares: the default one when its block is written, and every
    /// alias.
    pub fn declared(&self) -> Vec<ProviderRef> {
        let default = (!self.default.location.is_empty()).then_some(ProviderRef::DEFAULT);
        default.into_iter().chain(self.aliases().map(ProviderRef::aliased)).collect()
    }

    /// The aliases declared.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.aliased.keys().map(String::as_str)
    }

    /// Builds the configurations from the blocks read, by what they are referred to as.
    pub fn from_blocks(blocks: impl IntoIterator<Item = (ProviderRef, ProviderConfig)>) -> Self {
        let mut providers = Providers::default();
        for (provider, config) in blocks {
            match provider.alias() {
                None => providers.default = config,
                Some(alias) => {
                    providers.aliased.insert(alias.to_owned(), config);
                }
            }
        }
        providers
    }
}

/// One `provider "tencentcloud"` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The tccli profile whose credentials it uses (`~/.tccli/NAME.credential`).
    pub profile: Option<String>,
    /// The API endpoint, with where it was set (`file:line:col`) for error messages.
    pub endpoint: Option<(String, String)>,
    /// How long apply waits for new certificates to be issued, unless a resource says otherwise.
    pub wait_for_issuance: Option<std::time::Duration>,
    /// Calls per second per action the account may make (the API documents 10).
    pub requests_per_second: Option<u32>,
    /// The account's yearly limit of free certificates, when it is not the 50 widely reported.
    pub free_per_year: Option<u64>,
    /// How long one API request may take before it is given up (and retried, if it reads).
    pub request_timeout: Option<std::time::Duration>,
    /// Credentials written in the block (discouraged: the environment or a tccli profile is
    /// the place for them): SecretId, SecretKey, token.
    pub credentials: Option<(String, Sensitive, Option<Sensitive>)>,
    /// Where the block is: `file:line:col` (empty for the implicit default configuration).
    pub location: String,
}

/// One declared certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceConfig {
    pub address: Address,
    pub args: CertificateArgs,
    /// The CSR key password itself; `args` holds only its digest.
    pub csr_key_password: Option<String>,
    pub lifecycle: Lifecycle,
    /// Where each new certificate goes: `deploy` blocks (merged into one target) and `export`
    /// blocks, in declaration order.
    pub delivery: Delivery,
    /// Where the resource is declared: `file:line:col`.
    pub location: String,
    /// The arguments whose values come from sensitive variables, shown as `(sensitive value)`.
    pub sensitive: std::collections::BTreeSet<String>,
}

/// A resource's `lifecycle` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub renew_before: RenewBefore,
    pub prevent_destroy: bool,
    /// How long apply waits for this certificate to be issued.
    pub wait_for_issuance: Option<std::time::Duration>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            renew_before: RenewBefore::DEFAULT,
            prevent_destroy: false,
            wait_for_issuance: None,
        }
    }
}
