//! What a command that works on state opens: the configuration, the state (locked for the whole
//! run when the command writes it) and, once needed, the connection to the cloud.

use anyhow::{Context as _, bail};
use certplan_core::ProviderRef;
use certplan_core::{Action, CertificateId, Observed, Plan};
use certplan_engine::{AcmeInputs, Inputs};
use certplan_parser::{AccountKey, Config};
use certplan_planner::PlanOptions;
use certplan_provider::Accounts;
use certplan_state::{Cloud, Clouds, LocalStore, State, StateError, StateLock, StateStore};
use certplan_state_pg::{PgConfig, PgStore};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use certplan_core::Backend;

use crate::settings::{Connection, DEFAULT_PG_SCHEMA, Remote, Settings};
use crate::ui;

/// The state of the configuration directory, loaded, and locked when written.
pub struct StateAccess {
    pub store: Box<dyn StateStore>,
    /// `None` when nothing has been saved yet.
    pub state: Option<State>,
    _lock: Option<StateLock>,
}

impl StateAccess {
    /// Loads the state; `operation` names a writer, which holds the state lock for the whole
    /// run (unless `--lock=false`).
    pub fn open(settings: &Settings, operation: Option<&str>) -> anyhow::Result<Self> {
        let mut store = open_store(settings)?;
        let lock = match operation {
            Some(op) if settings.lock => {
                Some(take_lock(store.as_ref(), op, settings.lock_timeout)?)
            }
            _ => None,
        };
        let state = store.load()?;
        Ok(StateAccess { store, state, _lock: lock })
    }
}

/// How often a run waiting for the state lock says so, and how often it asks for it.
const LOCK_NOTICE_EVERY: Duration = Duration::from_secs(5);
const LOCK_POLL: Duration = Duration::from_millis(200);

/// Takes the state lock for `operation`, waiting up to `timeout` while another run holds it,
/// and saying so, with who holds it, when it starts waiting and every few seconds after.
fn take_lock(
    store: &dyn StateStore,
    operation: &str,
    timeout: Duration,
) -> anyhow::Result<StateLock> {
    let deadline = Instant::now() + timeout;
    let mut said: Option<Instant> = None;
    loop {
        match store.lock(operation, Duration::ZERO) {
            Err(StateError::Locked { store: name, holder }) if Instant::now() < deadline => {
                if said.is_none_or(|at| at.elapsed() >= LOCK_NOTICE_EVERY) {
                    let by = holder.map_or("another run".to_owned(), |h| h.to_string());
                    let left = humantime::format_duration(Duration::from_secs(
                        deadline.saturating_duration_since(Instant::now()).as_secs(),
                    ));
                    eprintln!(
                        "Waiting for the state lock of {name}, held by {by}: up to {left} more (--lock-timeout)"
                    );
                    said = Some(Instant::now());
                }
                std::thread::sleep(
                    LOCK_POLL.min(deadline.saturating_duration_since(Instant::now())),
                );
            }
            taken => return Ok(taken?),
        }
    }
}

/// Opens the store the settings name, for their workspace.
pub fn open_store(settings: &Settings) -> anyhow::Result<Box<dyn StateStore>> {
    certplan_state::valid_workspace_name(&settings.workspace)
        .map_err(|why| anyhow::anyhow!("invalid workspace name {:?}: {why}", settings.workspace))?;
    Ok(match &settings.backend {
        Backend::Local { path } => Box::new(LocalStore::for_workspace(path, &settings.workspace)),
        Backend::Pg { conn_str, schema_name } => {
            let Some(conn_str) = conn_str else {
                bail!(
                    "the pg backend needs a connection string: set conn_str in its block, or {}",
                    crate::settings::PG_CONN_STR_VAR
                );
            };
            let config = PgConfig {
                conn_str: conn_str.clone(),
                schema_name: schema_name.clone().unwrap_or_else(|| DEFAULT_PG_SCHEMA.to_owned()),
                workspace: settings.workspace.clone(),
            };
            Box::new(PgStore::connect(config, &|name| settings.env.get(name))?)
        }
    })
}

/// Warns when a local state file with certificates sits beside a configuration whose state
/// lives elsewhere, and was not pushed there: they are not managed from there until it is. A
/// file pushed already (`backend` holds its lineage, at its serial or later) is left alone.
fn warn_of_local_state(backend: &str, stored: Option<&State>) {
    let local = std::path::Path::new(certplan_state::DEFAULT_STATE_FILE);
    let Ok(bytes) = std::fs::read(local) else { return };
    let Ok(file) = State::from_json(&bytes) else { return };
    let pushed = stored.is_some_and(|s| s.lineage == file.lineage && s.serial >= file.serial);
    let recorded = file.resources.len() + file.deposed.len();
    if recorded > 0 && !pushed {
        eprintln!(
            "warning: {} records {} but state is kept in {backend}; they are not managed from there until you push them: certplan state push {}",
            local.display(),
            ui::plural(recorded, "certificate"),
            local.display()
        );
    }
}

/// Refuses a state that records certificates of `provider` in another cloud or account than
/// `cloud`: planned against this one, every certificate would look deleted and be applied for
/// again — in another account.
fn check_cloud(
    state: &State,
    provider: &ProviderRef,
    cloud: &Cloud,
    store: &str,
) -> anyhow::Result<()> {
    let Some(recorded) = state.clouds.get(provider).filter(|c| !c.matches(cloud)) else {
        return Ok(());
    };
    if !records_of(state, provider) {
        return Ok(());
    }
    if recorded.endpoint == cloud.endpoint && recorded.sandbox == cloud.sandbox {
        bail!(
            "state {store} records the certificates of provider {provider} in {recorded}, but its credentials now reach account {}: a plan with them would apply for every certificate again in the wrong account; give {provider} the credentials of account {} again (its profile, or secret_id/secret_key)",
            cloud.account.as_deref().unwrap_or("?"),
            recorded.account.as_deref().unwrap_or("?"),
        );
    }
    let hint = match (recorded.sandbox, cloud.sandbox) {
        (true, false) => " (add --sandbox to work with the sandbox's certificates)",
        (false, true) => " (drop --sandbox, or give the sandbox a state of its own with --state)",
        _ => "",
    };
    bail!(
        "state {store} records the certificates of provider {provider} in {recorded}, but this run talks to {cloud}{hint}; use that cloud's state with --state FILE or the certplan block's backend, or point CERTPLAN_ENDPOINT back at {recorded}"
    )
}

/// Says what the state records in the account of `provider`, which the configuration no
/// longer declares, and what to do: a run that reads or writes cannot go on without it.
fn undeclared(state: &State, provider: &ProviderRef) -> String {
    let resources = (state.resources.iter())
        .filter(|(_, r)| r.args.provider == *provider)
        .map(|(address, r)| format!("{address} (certificate {})", r.certificate_id));
    let deposed = (state.deposed.iter()).filter(|d| d.provider == *provider).map(|d| {
        format!(
            "certificate {}, which {} no longer uses, still to delete",
            d.certificate_id, d.address
        )
    });
    let intents = (state.intents.iter())
        .filter(|i| i.args.provider == *provider)
        .map(|i| format!("an interrupted application for {}", i.address));
    let held: Vec<String> = resources.chain(deposed).chain(intents).collect();
    let alias = provider.alias().unwrap_or_default();
    format!(
        "no provider \"tencentcloud\" block declares {provider}, but the state records in its account: {}. Declare provider \"tencentcloud\" {{ alias = \"{alias}\" ... }} again, with that account's credentials: certplan needs them to read, renew or delete what it holds there, and until an apply has settled what is left over from a replacement or an interrupted run. (A resource there that is to stay without certplan managing it: a removed block, applied while the provider is still declared.)",
        held.join("; ")
    )
}

/// Returns true when `state` records a certificate, deposed one or application in `provider`'s
/// account.
fn records_of(state: &State, provider: &ProviderRef) -> bool {
    state.resources.values().any(|r| r.args.provider == *provider)
        || state.deposed.iter().any(|d| d.provider == *provider)
        || state.intents.iter().any(|i| i.args.provider == *provider)
}

/// The providers a run with `config` and `state` works with: those its resources use, and
/// those of what the state records.
fn providers_in_use(config: &Config, state: &State) -> BTreeSet<ProviderRef> {
    let declared = config.resources.values().map(|r| &r.args.provider);
    let recorded = (state.resources.values().map(|r| &r.args.provider))
        .chain(state.deposed.iter().map(|d| &d.provider))
        .chain(state.intents.iter().map(|i| &i.args.provider));
    declared.chain(recorded).cloned().collect()
}

/// The configuration, the state and the cloud a plan, apply, refresh or import works on: the
/// project, opened (a workspace is something else: one of its states, `--workspace`).
pub struct Project {
    pub settings: Settings,
    pub config: Config,
    pub store: Box<dyn StateStore>,
    pub state: State,
    /// Whether a state file existed when loaded.
    pub state_existed: bool,
    connection: Option<Connection>,
    /// Providers to connect besides those in use (see [`Project::also_use`]).
    also: BTreeSet<ProviderRef>,
    _lock: Option<StateLock>,
}

impl Project {
    /// Opens the state for `config` (see [`StateAccess::open`] for `operation`).
    pub fn open(
        settings: Settings,
        config: Config,
        operation: Option<&str>,
    ) -> anyhow::Result<Self> {
        if let Remote::EmbeddedSandbox { data } = &settings.target {
            eprintln!(
                "Using the embedded sandbox, not Tencent Cloud: its certificates are kept in {}",
                data.display()
            );
        }
        if !config.warnings.is_empty() {
            let shown = certplan_parser::render_diagnostics(
                &config.sources,
                &config.warnings,
                settings.output.stderr_color,
            );
            eprint!("{shown}");
        }
        let StateAccess { store, state, _lock } = StateAccess::open(&settings, operation)?;
        if matches!(settings.backend, Backend::Pg { .. }) {
            warn_of_local_state(&store.describe(), state.as_ref());
        }
        let state_existed = state.is_some();
        let mut state = state.unwrap_or_default();
        // A plan from the state alone neither reads the cloud nor writes: it may look at any state.
        if settings.refresh || operation.is_some() {
            for provider in providers_in_use(&config, &state) {
                let Some(declared) = config.providers.get(&provider) else {
                    bail!(undeclared(&state, &provider));
                };
                let cloud = settings.cloud(declared)?;
                check_cloud(&state, &provider, &cloud, &store.describe())?;
                // The account, once connected, and what the service said of its quota: kept,
                // and recorded with the next save.
                let recorded = state.clouds.get(&provider);
                let account = recorded.and_then(|c| c.account.clone());
                let free_limit = recorded.and_then(|c| c.free_limit);
                state.clouds.insert(provider, Cloud { account, free_limit, ..cloud });
            }
        }
        let also = BTreeSet::new();
        Ok(Project { settings, config, store, state, state_existed, connection: None, also, _lock })
    }

    /// Returns the clients of the accounts in use, connecting on first use: each account is
    /// asked who it is, and one that is not the account the state records for its provider
    /// is refused before anything is read or done there.
    pub async fn accounts(&mut self) -> anyhow::Result<Accounts> {
        if let Some(connection) = &self.connection {
            return Ok(connection.accounts.clone());
        }
        let mut wanted = providers_in_use(&self.config, &self.state);
        wanted.extend(self.also.iter().cloned());
        let connection = self.settings.connect(&self.config.providers, &wanted).await?;
        let asked = connection.accounts.iter().map(|(provider, account)| async move {
            let id = account.ssl.account_id().await.with_context(|| {
                format!("could not ask which account the credentials of provider {provider} reach (sts:GetCallerIdentity)")
            });
            (provider.clone(), id)
        });
        let mut reached: BTreeMap<String, Vec<ProviderRef>> = BTreeMap::new();
        for (provider, id) in futures_util::future::join_all(asked).await {
            let Some(declared) = self.config.providers.get(&provider) else { continue };
            let id = id?;
            let free_limit = self.state.clouds.get(&provider).and_then(|c| c.free_limit);
            let cloud =
                Cloud { account: Some(id.clone()), free_limit, ..self.settings.cloud(declared)? };
            check_cloud(&self.state, &provider, &cloud, &self.store.describe())?;
            reached.entry(id).or_default().push(provider.clone());
            self.state.clouds.insert(provider, cloud);
        }
        // Not wrong, but worth knowing: a resource moved between them is replaced all the same.
        for (account, providers) in reached.iter().filter(|(_, p)| p.len() > 1) {
            let names: Vec<String> = providers.iter().map(ToString::to_string).collect();
            eprintln!(
                "warning: providers {} reach the same account ({account}); moving a resource from one to another replaces its certificate",
                names.join(" and ")
            );
        }
        self.connection = Some(connection);
        Ok(self.connection.as_ref().map(|c| c.accounts.clone()).expect("just connected"))
    }

    /// Has [`Project::accounts`] connect `providers` too (those of certificates to adopt).
    pub fn also_use(&mut self, providers: impl IntoIterator<Item = ProviderRef>) {
        let before = self.also.len();
        self.also.extend(providers);
        if self.also.len() != before {
            self.connection = None;
        }
    }

    /// Names the cloud and account of each provider in use, as saved plans record them.
    pub fn clouds(&self) -> Clouds {
        let mut clouds = Clouds::default();
        for provider in providers_in_use(&self.config, &self.state) {
            if let Some(cloud) = self.state.clouds.get(&provider) {
                clouds.insert(provider, cloud.clone());
            }
        }
        clouds
    }

    /// Settles what an interrupted run left in the journal. Only writers save the outcome,
    /// each intent as it is settled; a plan uses it in memory.
    pub async fn reconcile(&mut self, save: bool) -> anyhow::Result<()> {
        self.reconcile_with(save, false).await
    }

    /// [`reconcile`](Self::reconcile); with `resume_orders` (an apply), ACME orders an
    /// interrupted run placed are finished and uploaded too — other commands only read.
    pub async fn reconcile_with(&mut self, save: bool, resume_orders: bool) -> anyhow::Result<()> {
        if self.state.intents.is_empty() {
            return Ok(());
        }
        let found = ui::plural(self.state.intents.len(), "certificate application");
        eprintln!("Found {found} of an interrupted run; checking the cloud...");
        let accounts = self.accounts().await?;
        let timing = self.settings.timing(&self.config.providers);
        let resume = save && resume_orders;
        let acme =
            if resume { self.acme_inputs(Default::default())? } else { AcmeInputs::default() };
        let store: Option<&mut dyn StateStore> =
            if save { Some(self.store.as_mut()) } else { None };
        let settled = certplan_engine::reconcile(&accounts, &acme, &mut self.state, store, &timing)
            .await
            .context(
                "could not check everything the interrupted run did; what was settled is recorded",
            )?;
        for line in settled {
            eprintln!("  {line}");
        }
        Ok(())
    }

    /// Returns who holds the state lock now, if another process does: a plan must not take
    /// its applications in flight for an interrupted run's.
    pub fn live_writer(&self) -> Option<String> {
        self.store.live_holder().map(|holder| match holder {
            Some(h) => format!("certplan {} by {}@{} (pid {})", h.operation, h.who, h.host, h.pid),
            None => "another certplan".to_owned(),
        })
    }

    /// Reads the cloud for what state records, unless the settings say not to refresh.
    pub async fn refresh(&mut self) -> anyhow::Result<Option<Observed>> {
        if !self.settings.refresh {
            return Ok(None);
        }
        if self.state.resources.is_empty() && self.state.deposed.is_empty() {
            return Ok(Some(Observed::new()));
        }
        let count = self.state.resources.len() + self.state.deposed.len();
        let accounts = self.accounts().await?;
        eprintln!("Reading {} from {}...", ui::plural(count, "certificate"), describe(&accounts));
        let observed = certplan_engine::refresh(&accounts, &self.state)
            .await
            .context("could not read the recorded certificates from the cloud")?;
        Ok(Some(observed))
    }

    /// Refuses `--target`, `--exclude` and `--replace` addresses that name nothing declared or
    /// recorded.
    pub fn check_targets(&self, selection: &PlanOptions) -> anyhow::Result<()> {
        let named = selection.targets.iter().chain(&selection.excludes).chain(&selection.replace);
        for address in named {
            let known = self.config.resources.keys().chain(self.state.resources.keys());
            if !known.into_iter().any(|a| address.covers(a)) {
                bail!(
                    "{address} is not in the configuration or the state; --target, --exclude and --replace take resource addresses such as tencentcloud_ssl_free_certificate.www"
                );
            }
        }
        Ok(())
    }

    /// Plans the configuration against the state and what the refresh observed, and asks the
    /// service what the plan's renewals would leave behind (see [`Self::check_left_behind`]).
    pub async fn plan(
        &mut self,
        observed: Option<&Observed>,
        selection: &PlanOptions,
    ) -> anyhow::Result<Plan> {
        let mut plan = self.plan_only(observed, selection).await?;
        if observed.is_some() {
            self.check_left_behind(&mut plan, observed).await?;
            self.count_free_quota(&mut plan).await?;
        }
        Ok(plan)
    }

    /// Counts, in each account the plan applies for free certificates in, those applied for
    /// this year, and adds the quota to the plan — what would pass it needs attention. A count
    /// that cannot be made is a warning: the service refuses past its limit all the same.
    async fn count_free_quota(&mut self, plan: &mut Plan) -> anyhow::Result<()> {
        let applying = certplan_planner::free_applications(plan);
        if applying.is_empty() {
            return Ok(());
        }
        let accounts = self.accounts().await?;
        // Every account is listed at once: one round trip, not one per account.
        let asked = applying.keys().filter_map(|provider| {
            let account = accounts.get(provider).ok()?;
            Some(async move { (provider, account.ssl.all_certificates().await) })
        });
        let mut listed = BTreeMap::new();
        for (provider, all) in futures_util::future::join_all(asked).await {
            match all {
                Ok(all) => drop(listed.insert(provider.clone(), all)),
                Err(e) => eprintln!(
                    "warning: could not count the free certificates of {provider}'s account this year: {}",
                    ui::chain(&e)
                ),
            }
        }
        certplan_planner::free_quota(plan, &self.config, &self.state, &listed, plan.created_at);
        Ok(())
    }

    /// Plans the configuration against the state and what the refresh observed.
    pub async fn plan_only(
        &mut self,
        observed: Option<&Observed>,
        selection: &PlanOptions,
    ) -> anyhow::Result<Plan> {
        // What the exports' files hold on disk, and the certificates of the `import` blocks,
        // are read here, so that the planner reads nothing.
        let options = PlanOptions {
            files: certplan_engine::inspect_exports(&self.state),
            imports: self.read_imports().await?,
            ..selection.clone()
        };
        let now = self.settings.plan_time(&self.config.providers);
        Ok(certplan_planner::plan(&self.config, &self.state, observed, now, &options)?)
    }

    /// Asks the service where the certificates the plan moves away from are bound, and adds
    /// to the plan what their renewals would leave behind. A service that cannot say makes
    /// each of them need attention: not knowing is not safe.
    async fn check_left_behind(
        &mut self,
        plan: &mut Plan,
        observed: Option<&Observed>,
    ) -> anyhow::Result<()> {
        let replaced = certplan_planner::replaced_certificates(plan, &self.state, observed);
        if replaced.is_empty() {
            return Ok(());
        }
        let accounts = self.accounts().await?;
        let (what, verb) = (
            ui::plural(replaced.len(), "certificate"),
            if replaced.len() == 1 { "is" } else { "are" },
        );
        eprintln!("Asking where {what} being replaced {verb} bound...");
        let timing = self.settings.timing(&self.config.providers);
        // Each account is asked of its own certificates.
        let mut by_account: BTreeMap<ProviderRef, Vec<CertificateId>> = BTreeMap::new();
        for (id, address) in &replaced {
            let deposed = self.state.deposed.iter().find(|d| d.certificate_id == *id);
            let provider = match deposed {
                Some(d) => d.provider.clone(),
                None => self
                    .state
                    .resources
                    .get(address)
                    .map(|r| r.args.provider.clone())
                    .unwrap_or_default(),
            };
            by_account.entry(provider).or_default().push(id.clone());
        }
        // The accounts are asked at once: a query takes seconds.
        let asked = by_account.into_iter().map(|(provider, ids)| {
            let (accounts, timing) = (&accounts, &timing);
            async move {
                let asked = match accounts.get(&provider) {
                    Ok(account) => certplan_engine::bindings(&account.ssl, &ids, timing).await,
                    Err(e) => Err(e),
                };
                (ids, asked)
            }
        });
        let mut answers = BTreeMap::new();
        for (ids, asked) in futures_util::future::join_all(asked).await {
            match asked {
                Ok(found) => answers.extend(found),
                Err(error) => {
                    let why = ui::chain(&error);
                    answers.extend(ids.into_iter().map(|id| (id, Err(why.clone()))));
                }
            }
        }
        for error in answers.values().filter_map(|a| a.as_ref().err()) {
            eprintln!("warning: {error}");
        }
        certplan_planner::left_behind(plan, &self.state, &answers, observed);
        Ok(())
    }

    /// Reads the certificates of the `import` blocks not done yet (whether or not the plan
    /// refreshes: an import records what the cloud holds).
    async fn read_imports(&mut self) -> anyhow::Result<Observed> {
        // Each from the account of the resource it is imported as.
        let mut by_account: BTreeMap<ProviderRef, Vec<CertificateId>> = BTreeMap::new();
        for i in &self.config.imports {
            if self.state.resources.get(&i.to).is_none_or(|r| !r.holds(&i.id)) {
                let provider = self.config.resources[&i.to].args.provider.clone();
                by_account.entry(provider).or_default().push(i.id.clone());
            }
        }
        if by_account.is_empty() {
            return Ok(Observed::new());
        }
        let accounts = self.accounts().await?;
        let count = by_account.values().map(Vec::len).sum();
        let what = ui::plural(count, "certificate");
        eprintln!("Reading {what} to import from {}...", describe(&accounts));
        let read = by_account.iter().map(|(provider, ids)| async {
            certplan_engine::read_certificates(&accounts.get(provider)?.ssl, ids).await
        });
        let mut observed = Observed::new();
        for read in futures_util::future::join_all(read).await {
            observed
                .extend(read.context("could not read the certificates the import blocks name")?);
        }
        Ok(observed)
    }

    /// What an apply needs from the configuration besides the plan: the CSR key passwords,
    /// and what ordering from an ACME CA needs.
    pub fn inputs(&mut self, plan: &Plan) -> anyhow::Result<Inputs> {
        let csr_key_passwords = self
            .config
            .resources
            .iter()
            .filter_map(|(address, r)| {
                let password = r.csr_key_password.as_deref()?;
                Some((address.clone(), certplan_core::Sensitive::new(password)))
            })
            .collect();
        // The accounts the plan orders with, and those of orders an interrupted run left.
        let ordering = (plan.changes.iter())
            .filter(|c| matches!(c.action, Action::Create | Action::Renew | Action::Replace))
            .filter_map(|c| c.after.as_ref()?.acme.as_ref())
            .map(|a| a.registration.clone());
        let acme = self.acme_inputs(ordering.collect())?;
        Ok(Inputs { csr_key_passwords, acme })
    }

    /// What ordering from an ACME CA needs: the key of each registration a resource orders
    /// with (its file made, 0600, on first use), the roots of a test CA
    /// ([`ACME_ROOTS_VAR`]).
    pub fn acme_inputs(
        &mut self,
        mut needed: std::collections::BTreeSet<String>,
    ) -> anyhow::Result<AcmeInputs> {
        // An interrupted run's order is resumed with its registration's key, declared still.
        needed.extend(
            (self.state.intents.iter())
                .filter_map(|i| i.args.acme.as_ref())
                .map(|a| a.registration.clone()),
        );
        if needed.is_empty() {
            return Ok(AcmeInputs::default());
        }
        let mut account_keys = std::collections::BTreeMap::new();
        for name in needed {
            let Some(registration) = self.config.acme.registrations.get(&name) else { continue };
            // Certificates this account ordered are recorded: a new key would be another
            // account, which cannot resume their orders.
            let recorded = (self.state.resources.values())
                .map(|r| &r.args)
                .chain(self.state.intents.iter().map(|i| &i.args))
                .any(|a| a.acme.as_ref().is_some_and(|a| a.registration == name));
            let key = match &registration.account_key {
                AccountKey::Pem(pem) => pem.clone(),
                AccountKey::File(path) => account_key_file(path, recorded).with_context(|| {
                    format!("acme_registration.{name} ({})", registration.location)
                })?,
            };
            account_keys.insert(name.clone(), key);
        }
        let roots = match self.settings.env.get(ACME_ROOTS_VAR).filter(|p| !p.is_empty()) {
            Some(path) => Some(std::fs::read(&path).with_context(|| {
                format!("cannot read {path}, which {ACME_ROOTS_VAR} names as the CA's roots")
            })?),
            None => None,
        };
        Ok(AcmeInputs { account_keys, roots })
    }
}

/// Names where the accounts are, for a progress line: the endpoint, with how many accounts
/// when there are several.
pub fn describe(accounts: &Accounts) -> String {
    let endpoints: BTreeSet<String> =
        accounts.iter().map(|(_, a)| a.ssl.endpoint().to_string()).collect();
    let count = accounts.iter().count();
    let endpoints = endpoints.into_iter().collect::<Vec<_>>().join(", ");
    if count > 1 { format!("{endpoints} ({count} accounts)") } else { endpoints }
}

/// The variable naming a PEM file of roots to trust for the ACME CA besides the public ones: a
/// test CA's, such as Pebble's.
pub const ACME_ROOTS_VAR: &str = "CERTPLAN_ACME_CA_CERTIFICATES";

/// Reads an ACME account key from its file — made on first use, 0600 in a 0700 directory, but
/// never again once certificates it ordered are `recorded`.
fn account_key_file(
    path: &std::path::Path,
    recorded: bool,
) -> anyhow::Result<certplan_core::Sensitive> {
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "the account key file {} can be read by others (mode {:o}): run `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                );
            }
            Ok(certplan_core::Sensitive::new(pem))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && recorded => bail!(
            "the account key file {} is missing, but the state records certificates ordered with it: restore the file (or give the key as account_key_pem); a new key would be another account, which cannot resume their orders",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = certplan_provider::acme::new_account_key()?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            }
            certplan_state::write_atomically(path, key.expose().as_bytes())
                .with_context(|| format!("cannot write the account key file {}", path.display()))?;
            eprintln!(
                "Made a new ACME account key in {} (keep it secret; runners that share state share it too).",
                path.display()
            );
            Ok(key)
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the account key file {}", path.display()))
        }
    }
}
