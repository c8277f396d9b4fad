//! Flags, environment, the `certplan` block and defaults, resolved once into the [`Settings`] a
//! command runs with — and the connection to the cloud (or to the embedded sandbox) they lead
//! to. The process environment is captured here, once, and handed down from here.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use certplan_core::Backend;
use certplan_core::ProviderRef;
use certplan_engine::Timing;
use certplan_parser::{Config, ConfigError, LoadOptions, ProviderConfig, Providers};
use certplan_provider::{Account, Accounts, Client, ClientOptions, Credentials, Endpoint};
use certplan_sandbox::{Sandbox, SandboxAccount, SandboxOptions};
use certplan_state::Cloud;

/// Overrides every other endpoint setting: a full URL.
pub const ENDPOINT_VAR: &str = "CERTPLAN_ENDPOINT";

/// Where the embedded sandbox keeps its "cloud", relative to the configuration directory.
pub const EMBEDDED_SANDBOX_DATA: &str = ".certplan/sandbox.json";

/// Where the state of the embedded sandbox's certificates is kept by default: apart from the
/// real account's, so that dropping `--sandbox` never plans against the sandbox's records.
pub const EMBEDDED_SANDBOX_STATE: &str = ".certplan/sandbox.state.json";

/// The process environment, captured once at start.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    /// The command line (Terraform's single-dash flags spelled with two), for the order of
    /// `--var` and `--var-file`.
    pub args: Vec<String>,
}

impl Environment {
    /// Reads the environment of this process; `args` is its command line.
    pub fn capture(args: Vec<String>) -> Self {
        Environment { vars: std::env::vars().collect(), args }
    }

    /// Returns a variable's value, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// Returns the variables whose names start with `prefix`, the prefix stripped.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|name| (name.to_owned(), v.clone())))
            .collect()
    }
}

/// How output is styled.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub stdout_color: bool,
    pub stderr_color: bool,
}

impl Output {
    /// Colour only on terminals, never with `NO_COLOR` set or `--no-color`.
    pub fn resolve(no_color_flag: bool, env: &Environment) -> Self {
        let allowed = !no_color_flag && env.get("NO_COLOR").is_none_or(|v| v.is_empty());
        Output {
            stdout_color: allowed && std::io::stdout().is_terminal(),
            stderr_color: allowed && std::io::stderr().is_terminal(),
        }
    }
}

/// Where API calls go (not `--target`, which selects resources).
#[derive(Debug, Clone)]
pub enum Remote {
    /// The real service (or whatever endpoint the settings name), with the user's credentials.
    Cloud,
    /// A sandbox started in this process, its data kept in the configuration directory.
    EmbeddedSandbox { data: PathBuf },
}

/// Scales what certplan waits between the things it repeats (polls, progress, backoffs, the
/// margins of [`certplan_engine::Timing`]) by a factor in (0, 1]: the test suite's way of
/// waiting milliseconds where the real service needs seconds. Honoured only against the
/// embedded sandbox or an endpoint on loopback — a sandbox on this machine, whose clock is the
/// run's own — never against another endpoint, where a shorter margin for other machines'
/// clocks could apply for a certificate twice. Request timeouts and the user's own settings
/// (`--wait`, `wait_for_issuance`, hook timeouts) are never scaled.
pub const TIME_SCALE_VAR: &str = "CERTPLAN_TIME_SCALE";

/// The time plans are made at (RFC 3339), instead of the clock's: the test suite's way of
/// renewing a certificate from a real CA, whose validity it cannot move. Honoured only where
/// [`TIME_SCALE_VAR`] is — against a sandbox on this machine.
pub const PLAN_TIME_VAR: &str = "CERTPLAN_PLAN_TIME";

/// Names the workspace (one state per environment) when `--workspace` does not.
pub const WORKSPACE_VAR: &str = "CERTPLAN_WORKSPACE";
/// The `pg` backend's settings when its block leaves them out, as Terraform's backend reads them.
pub const PG_CONN_STR_VAR: &str = "PG_CONN_STR";
pub const PG_SCHEMA_NAME_VAR: &str = "PG_SCHEMA_NAME";
/// The `pg` backend's schema when neither the block nor the environment names one.
pub const DEFAULT_PG_SCHEMA: &str = "certplan";

/// What the command line says about state, the cloud and variables; every field optional or
/// defaulted, as clap gives it.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub state: Option<PathBuf>,
    pub workspace: Option<String>,
    pub refresh: bool,
    pub sandbox: bool,
    pub lock: bool,
    pub lock_timeout: Duration,
    pub profile: Option<String>,
    pub vars: Vec<certplan_parser::VarFlag>,
}

/// Everything a command that works on state runs with, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub output: Output,
    /// `--state` (a local file), else the `certplan` block's backend, else the local default.
    /// The embedded sandbox keeps a local state of its own unless `--state` says otherwise.
    pub backend: Backend,
    /// `--workspace`, else `CERTPLAN_WORKSPACE`, else `default`.
    pub workspace: String,
    pub refresh: bool,
    pub lock: bool,
    pub lock_timeout: Duration,
    pub target: Remote,
    /// The tccli profile the default provider falls back on for credentials (`--profile`, else
    /// `TENCENTCLOUD_PROFILE`); else its block's `profile`, else `default`.
    pub profile: Option<String>,
    /// The factor [`TIME_SCALE_VAR`] asks the waits to be scaled by (1 unless set); see
    /// [`Settings::timing`] for when it is honoured.
    pub time_scale: f64,
    pub env: Environment,
}

impl Settings {
    /// Resolves the settings of a command that plans, in the configuration directory (the
    /// working directory after `--chdir`), reading the whole configuration once: flags win over
    /// the environment, which wins over the `certplan` block, which wins over the defaults.
    pub fn with_config(
        flags: Flags,
        output: Output,
        env: Environment,
    ) -> Result<(Self, Config), ConfigError> {
        Self::with_config_and(flags, output, env, Vec::new())
    }

    /// Like [`Settings::with_config`], with `extra` read as files of the configuration
    /// directory (what `import --generate-config` is about to write).
    pub fn with_config_and(
        flags: Flags,
        output: Output,
        env: Environment,
        extra: Vec<certplan_parser::Source>,
    ) -> Result<(Self, Config), ConfigError> {
        let vars = LoadOptions { extra, ..variables(&env, flags.vars.clone()) };
        let config = certplan_parser::load_dir_with(Path::new("."), &vars)?;
        let settings = Self::from_parts(flags, output, env, &config.settings);
        Ok((settings, config))
    }

    /// Resolves the settings of a command on state alone. It evaluates only the `certplan`
    /// block, and only when `--state` does not say where state is, so that it works while the
    /// rest of the configuration is broken.
    pub fn for_state(flags: Flags, output: Output, env: Environment) -> Result<Self, ConfigError> {
        let vars = variables(&env, flags.vars.clone());
        let block = match flags.state {
            Some(_) => certplan_parser::CertplanBlock::default(),
            None => certplan_parser::load_settings(Path::new("."), &vars)?,
        };
        Ok(Self::from_parts(flags, output, env, &block))
    }

    fn from_parts(
        flags: Flags,
        output: Output,
        env: Environment,
        block: &certplan_parser::CertplanBlock,
    ) -> Self {
        let from_env = |name: &str| env.get(name).filter(|v| !v.is_empty());
        // The one place the backend is decided: `--state` (a local file), else the embedded
        // sandbox's own file, else the block's backend with what it leaves to the environment.
        let backend = match (flags.state, &block.backend) {
            (Some(path), _) => Backend::Local { path },
            (None, _) if flags.sandbox => Backend::Local { path: EMBEDDED_SANDBOX_STATE.into() },
            (None, Backend::Pg { conn_str, schema_name }) => Backend::Pg {
                conn_str: conn_str
                    .clone()
                    .or_else(|| from_env(PG_CONN_STR_VAR).map(certplan_core::Sensitive::new)),
                schema_name: Some(
                    schema_name
                        .clone()
                        .or_else(|| from_env(PG_SCHEMA_NAME_VAR))
                        .unwrap_or_else(|| DEFAULT_PG_SCHEMA.to_owned()),
                ),
            },
            (None, local @ Backend::Local { .. }) => local.clone(),
        };
        let workspace = flags
            .workspace
            .or_else(|| from_env(WORKSPACE_VAR))
            .unwrap_or_else(|| "default".to_owned());
        let profile =
            flags.profile.or_else(|| env.get("TENCENTCLOUD_PROFILE").filter(|p| !p.is_empty()));
        Settings {
            output,
            backend,
            workspace,
            refresh: flags.refresh,
            lock: flags.lock,
            lock_timeout: flags.lock_timeout,
            target: if flags.sandbox {
                Remote::EmbeddedSandbox { data: PathBuf::from(EMBEDDED_SANDBOX_DATA) }
            } else {
                Remote::Cloud
            },
            profile,
            time_scale: time_scale(&env),
            env,
        }
    }

    /// How long the engine waits between the things it repeats, against the providers'
    /// endpoints.
    pub fn timing(&self, providers: &Providers) -> Timing {
        Timing::default().scaled(self.time_scale_for(providers))
    }

    /// The factor the waits are scaled by against the providers' endpoints: [`TIME_SCALE_VAR`]'s
    /// for the embedded sandbox or endpoints all on loopback, else 1.
    fn time_scale_for(&self, providers: &Providers) -> f64 {
        if self.on_this_machine(providers) { self.time_scale } else { 1.0 }
    }

    /// Whether this run talks to the embedded sandbox, or to endpoints all on loopback.
    fn on_this_machine(&self, providers: &Providers) -> bool {
        match &self.target {
            Remote::EmbeddedSandbox { .. } => true,
            Remote::Cloud => providers
                .iter()
                .all(|(_, p)| resolve_endpoint(p, &self.env).is_ok_and(|e| e.is_loopback())),
        }
    }

    /// The time plans are made at: now, or [`PLAN_TIME_VAR`]'s against a sandbox on this
    /// machine.
    pub fn plan_time(&self, providers: &Providers) -> chrono::DateTime<chrono::Utc> {
        let set = self.env.get(PLAN_TIME_VAR).filter(|_| self.on_this_machine(providers));
        match set.map(|t| chrono::DateTime::parse_from_rfc3339(t.trim())) {
            Some(Ok(t)) => t.to_utc(),
            Some(Err(e)) => {
                eprintln!(
                    "warning: {PLAN_TIME_VAR} is not an RFC 3339 time ({e}); planning at the clock's time"
                );
                chrono::Utc::now()
            }
            None => chrono::Utc::now(),
        }
    }

    /// `certplan ARGS` as a hint to copy: with `--sandbox` when this run uses the embedded
    /// sandbox, so that the hint talks to the same cloud, never the real one instead.
    pub fn hint(&self, args: &str) -> String {
        let (command, rest) = args.split_once(' ').unwrap_or((args, ""));
        let sandbox = matches!(self.target, Remote::EmbeddedSandbox { .. });
        let flag = if sandbox { " --sandbox" } else { "" };
        let rest = if rest.is_empty() { String::new() } else { format!(" {rest}") };
        format!("certplan {command}{flag}{rest}")
    }

    /// Names the cloud `provider` (configured as `config`) talks to in this run, as state and
    /// saved plans record it; which account in it is learnt once connected.
    pub fn cloud(&self, config: &ProviderConfig) -> anyhow::Result<Cloud> {
        Ok(match &self.target {
            Remote::Cloud => Cloud {
                endpoint: resolve_endpoint(config, &self.env)?.to_string(),
                sandbox: false,
                account: None,
                free_limit: None,
            },
            Remote::EmbeddedSandbox { data } => {
                let endpoint = data.display().to_string();
                Cloud { endpoint, sandbox: true, account: None, free_limit: None }
            }
        })
    }

    /// Connects to the accounts of the providers `wanted` that `providers` declares: checks
    /// each one's endpoint and credentials — or starts the embedded sandbox, with an account
    /// for each provider.
    pub async fn connect(
        &self,
        providers: &Providers,
        wanted: &std::collections::BTreeSet<ProviderRef>,
    ) -> anyhow::Result<Connection> {
        let options = client_options_for(self.time_scale_for(providers));
        let declared = wanted.iter().filter_map(|p| Some((p, providers.get(p)?)));
        match &self.target {
            Remote::Cloud => {
                let mut accounts = Vec::new();
                for (provider, config) in declared {
                    let endpoint = resolve_endpoint(config, &self.env)?;
                    let credentials = self
                        .credentials(provider, config)
                        .with_context(|| format!("provider {provider}"))?;
                    let client = Client::with_options(endpoint, credentials, options(config));
                    accounts.push((provider.clone(), Account::new(client)));
                }
                Ok(Connection { accounts: Accounts::new(accounts), _sandbox: None })
            }
            Remote::EmbeddedSandbox { data } => {
                // An account per provider declared, whichever this run needs, so that the
                // sandbox keeps each one's certificates apart from one run to the next.
                let sandbox_account = |p: &ProviderRef| match p.alias() {
                    None => SandboxAccount::default(),
                    Some(alias) => SandboxAccount::named(alias),
                };
                let sandbox = Sandbox::new(SandboxOptions {
                    data: Some(data.clone()),
                    accounts: providers.iter().map(|(p, _)| sandbox_account(&p)).collect(),
                    ..SandboxOptions::default()
                })?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .context("cannot start the embedded sandbox on loopback")?;
                let url = Endpoint::parse(&format!("http://{}", listener.local_addr()?))?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(sandbox.serve(listener, async move {
                    let _ = stopped.await;
                }));
                let accounts = declared.map(|(provider, config)| {
                    let account = sandbox_account(provider);
                    let credentials = Credentials::new(account.secret_id, account.secret_key);
                    let client = Client::with_options(url.clone(), credentials, options(config));
                    (provider.clone(), Account::new(client))
                });
                Ok(Connection { accounts: Accounts::new(accounts), _sandbox: Some(stop) })
            }
        }
    }

    /// Finds the credentials of `provider`: for the default one, the environment, the tccli
    /// profile or its block's; for an aliased one, its block's or its own profile's, never the
    /// environment's (another account's).
    fn credentials(
        &self,
        provider: &ProviderRef,
        config: &ProviderConfig,
    ) -> anyhow::Result<Credentials> {
        let from_block = config.credentials.as_ref().map(|(id, key, token)| {
            let mut credentials = Credentials::new(id, key.expose());
            credentials.token = token.clone();
            credentials
        });
        let var = |name: &str| self.env.get(name);
        Ok(match (provider.alias(), from_block, &config.profile) {
            (None, from_block, profile) => {
                let profile = self.profile.as_ref().or(profile.as_ref());
                Credentials::resolve(var, profile.map_or("default", |p| p.as_str()), from_block)?
            }
            (Some(_), Some(credentials), _) => credentials,
            (Some(_), None, Some(profile)) => Credentials::from_profile(var, profile)?,
            (Some(alias), None, None) => bail!(
                "it does not say whose credentials it uses: add profile = \"{alias}\", or secret_id and secret_key from variables"
            ),
        })
    }
}

/// Variable values from `CERTPLAN_VAR_<name>` and the command line's flags (which win).
pub fn variables(env: &Environment, flags: Vec<certplan_parser::VarFlag>) -> LoadOptions {
    LoadOptions { env: env.with_prefix("CERTPLAN_VAR_"), flags, extra: Vec::new() }
}

/// The clients' options: each provider block's, with the retry pauses scaled by `time_scale`.
fn client_options_for(time_scale: f64) -> impl Fn(&ProviderConfig) -> ClientOptions {
    move |provider| {
        let defaults = ClientOptions::default();
        let scale = |d: Duration| d.mul_f64(time_scale);
        ClientOptions {
            requests_per_second: (provider.requests_per_second)
                .unwrap_or(defaults.requests_per_second),
            request_timeout: provider.request_timeout.unwrap_or(defaults.request_timeout),
            retry_backoff: scale(defaults.retry_backoff),
            retry_backoff_cap: scale(defaults.retry_backoff_cap),
            rate_limit_pause: scale(defaults.rate_limit_pause),
            ..defaults
        }
    }
}

/// The factor [`TIME_SCALE_VAR`] gives: 1 unless it is set to a number in (0, 1].
fn time_scale(env: &Environment) -> f64 {
    let Some(value) = env.get(TIME_SCALE_VAR) else { return 1.0 };
    match value.trim().parse::<f64>() {
        Ok(scale) if scale > 0.0 && scale <= 1.0 => scale,
        _ => {
            eprintln!(
                "warning: {TIME_SCALE_VAR}={value:?} is not a number in (0, 1]; certplan waits as it does against the real service"
            );
            1.0
        }
    }
}

/// The accounts' clients, and the embedded sandbox they talk to when there is one (stopped on
/// drop).
#[derive(Debug)]
pub struct Connection {
    pub accounts: Accounts,
    _sandbox: Option<tokio::sync::oneshot::Sender<()>>,
}

/// `CERTPLAN_ENDPOINT` wins over the provider block's `endpoint`, which wins over the default.
pub fn resolve_endpoint(provider: &ProviderConfig, env: &Environment) -> anyhow::Result<Endpoint> {
    if let Some(url) = env.get(ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
        return Endpoint::parse(url.trim())
            .with_context(|| format!("{ENDPOINT_VAR} is not usable"));
    }
    if let Some((url, location)) = &provider.endpoint {
        return Endpoint::parse(url)
            .with_context(|| format!("the provider block's endpoint ({location}) is not usable"));
    }
    Ok(Endpoint::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment {
            vars: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            args: Vec::new(),
        }
    }

    fn output() -> Output {
        Output { stdout_color: false, stderr_color: false }
    }

    #[test]
    fn endpoint_precedence_env_then_block_then_default() {
        let block = ProviderConfig {
            endpoint: Some(("https://ssl.intl.tencentcloudapi.com".into(), "main.hcl:2:14".into())),
            ..ProviderConfig::default()
        };
        let from_env = resolve_endpoint(&block, &env(&[(ENDPOINT_VAR, "http://127.0.0.1:9")]));
        assert_eq!(from_env.expect("ok").to_string(), "http://127.0.0.1:9");
        let from_block = resolve_endpoint(&block, &env(&[]));
        assert_eq!(from_block.expect("ok").to_string(), "https://ssl.intl.tencentcloudapi.com");
        let default = resolve_endpoint(&ProviderConfig::default(), &env(&[]));
        assert_eq!(default.expect("ok").to_string(), "https://ssl.tencentcloudapi.com");
    }

    #[test]
    fn unusable_endpoints_say_where_they_came_from() {
        let block = ProviderConfig {
            endpoint: Some(("http://ssl.example.com".into(), "main.hcl:2:14".into())),
            ..ProviderConfig::default()
        };
        let err = resolve_endpoint(&block, &env(&[])).expect_err("clear text");
        assert!(format!("{err:#}").contains("main.hcl:2:14"), "{err:#}");
        let err = resolve_endpoint(&block, &env(&[(ENDPOINT_VAR, "ftp://x")])).expect_err("bad");
        assert!(format!("{err:#}").contains(ENDPOINT_VAR), "{err:#}");
    }

    #[test]
    fn state_comes_from_the_flag_then_the_certplan_block_then_the_default() {
        let block = certplan_parser::CertplanBlock {
            backend: Backend::Local { path: "state/prod.json".into() },
        };
        let flag = Flags { state: Some("flag.json".into()), ..Flags::default() };
        let resolve =
            |flags: Flags, block: &certplan_parser::CertplanBlock, vars: &[(&str, &str)]| {
                Settings::from_parts(flags, output(), env(vars), block).backend
            };
        let local = |path: &str| Backend::Local { path: path.into() };
        assert_eq!(resolve(flag.clone(), &block, &[]), local("flag.json"));
        assert_eq!(resolve(Flags::default(), &block, &[]), local("state/prod.json"));
        let none = certplan_parser::CertplanBlock::default();
        assert_eq!(
            resolve(Flags::default(), &none, &[]),
            local(certplan_state::DEFAULT_STATE_FILE)
        );

        // The pg block's settings, else Terraform's variables, else the default schema.
        let pg = |conn_str: Option<&str>, schema: Option<&str>| certplan_parser::CertplanBlock {
            backend: Backend::Pg {
                conn_str: conn_str.map(certplan_core::Sensitive::new),
                schema_name: schema.map(str::to_owned),
            },
        };
        let vars = [(PG_CONN_STR_VAR, "postgres://env/db"), (PG_SCHEMA_NAME_VAR, "team")];
        let expect = |conn_str: &str, schema: &str| Backend::Pg {
            conn_str: Some(certplan_core::Sensitive::new(conn_str)),
            schema_name: Some(schema.to_owned()),
        };
        let block = pg(Some("postgres://block/db"), Some("certs"));
        assert_eq!(
            resolve(Flags::default(), &block, &vars),
            expect("postgres://block/db", "certs")
        );
        assert_eq!(
            resolve(Flags::default(), &pg(None, None), &vars),
            expect("postgres://env/db", "team")
        );
        let unset = resolve(Flags::default(), &pg(None, None), &[]);
        assert_eq!(
            unset,
            Backend::Pg { conn_str: None, schema_name: Some(DEFAULT_PG_SCHEMA.to_owned()) }
        );
        assert_eq!(resolve(flag, &block, &vars), local("flag.json"), "--state wins");
        let sandbox = Flags { sandbox: true, ..Flags::default() };
        assert_eq!(resolve(sandbox, &block, &vars), local(EMBEDDED_SANDBOX_STATE));
    }

    #[test]
    fn the_time_scale_is_honoured_only_on_this_machine() {
        let timing = |vars: &[(&str, &str)], sandbox: bool| {
            let flags = Flags { sandbox, ..Flags::default() };
            let settings = Settings::from_parts(flags, output(), env(vars), &Default::default());
            settings.timing(&Providers::default())
        };
        let scaled = Timing::default().scaled(0.01);
        let scale = (TIME_SCALE_VAR, "0.01");
        // The real service's endpoint (the default): the margins for other machines' clocks
        // stay whole, whatever the environment says.
        assert_eq!(timing(&[scale], false), Timing::default());
        let remote = (ENDPOINT_VAR, "https://ssl.example.com");
        assert_eq!(timing(&[scale, remote], false), Timing::default());
        assert_eq!(timing(&[scale, (ENDPOINT_VAR, "http://127.0.0.1:9")], false), scaled);
        assert_eq!(timing(&[scale], true), scaled, "the embedded sandbox");
        assert_eq!(
            timing(&[(TIME_SCALE_VAR, "7"), (ENDPOINT_VAR, "http://[::1]:9")], false),
            Timing::default(),
            "out of range: ignored"
        );
    }

    #[test]
    fn the_workspace_comes_from_the_flag_then_the_environment() {
        let with = |flag: Option<&str>, vars: &[(&str, &str)]| {
            let flags = Flags { workspace: flag.map(str::to_owned), ..Flags::default() };
            Settings::from_parts(flags, output(), env(vars), &Default::default()).workspace
        };
        assert_eq!(with(Some("prod"), &[(WORKSPACE_VAR, "staging")]), "prod");
        assert_eq!(with(None, &[(WORKSPACE_VAR, "staging")]), "staging");
        assert_eq!(with(None, &[]), "default");
    }

    #[test]
    fn profile_comes_from_the_flag_then_the_environment() {
        let with = |flag: Option<&str>, vars: &[(&str, &str)]| {
            let flags = Flags { profile: flag.map(str::to_owned), ..Flags::default() };
            Settings::from_parts(flags, output(), env(vars), &Default::default()).profile
        };
        assert_eq!(with(Some("team"), &[("TENCENTCLOUD_PROFILE", "ops")]).as_deref(), Some("team"));
        assert_eq!(with(None, &[("TENCENTCLOUD_PROFILE", "ops")]).as_deref(), Some("ops"));
        assert_eq!(with(None, &[]), None);
    }
}
