//! Flags, environment and the provider block, resolved once into the settings a command runs
//! with — and the connection to the cloud (or to the embedded sandbox) they lead to.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use certplan_parser::ProviderConfig;
use certplan_provider::{Client, ClientOptions, Credentials, Endpoint};
use certplan_sandbox::{Sandbox, SandboxOptions};

/// Overrides every other endpoint setting: a full URL.
pub const ENDPOINT_VAR: &str = "CERTPLAN_ENDPOINT";

/// Where the embedded sandbox keeps its "cloud", relative to the configuration directory.
pub const EMBEDDED_SANDBOX_DATA: &str = ".certplan/sandbox.json";

/// How output is styled.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub stdout_color: bool,
    pub stderr_color: bool,
}

impl Output {
    /// Colour only on terminals, never with `NO_COLOR` set or `--no-color`.
    pub fn resolve(no_color_flag: bool, env: &impl Fn(&str) -> Option<String>) -> Self {
        let allowed = !no_color_flag && env("NO_COLOR").is_none_or(|v| v.is_empty());
        Output {
            stdout_color: allowed && std::io::stdout().is_terminal(),
            stderr_color: allowed && std::io::stderr().is_terminal(),
        }
    }
}

/// Where API calls go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The real service (or whatever endpoint the settings name), with the user's credentials.
    Cloud,
    /// A sandbox started in this process, its data kept in the configuration directory.
    EmbeddedSandbox { data: PathBuf },
}

/// Everything a plan or apply runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_path: PathBuf,
    pub refresh: bool,
    pub target: Target,
}

impl Settings {
    /// Resolves the settings of a command run in the configuration directory (the working
    /// directory after `--chdir`).
    pub fn resolve(state: Option<&Path>, refresh: bool, sandbox: bool) -> Self {
        Settings {
            state_path: state.map_or_else(
                || PathBuf::from(certplan_state::DEFAULT_STATE_FILE),
                Path::to_path_buf,
            ),
            refresh,
            target: if sandbox {
                Target::EmbeddedSandbox { data: PathBuf::from(EMBEDDED_SANDBOX_DATA) }
            } else {
                Target::Cloud
            },
        }
    }

    /// Connects to the target: checks endpoint and credentials, or starts the embedded sandbox.
    pub async fn connect(
        &self,
        provider: &ProviderConfig,
        env: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Connection> {
        match &self.target {
            Target::Cloud => {
                let endpoint = resolve_endpoint(provider, env)?;
                let credentials = Credentials::from_env(env)?;
                let client = Client::with_options(endpoint, credentials, client_options(provider));
                Ok(Connection { client, _sandbox: None })
            }
            Target::EmbeddedSandbox { data } => {
                let sandbox = Sandbox::new(SandboxOptions {
                    data: Some(data.clone()),
                    ..SandboxOptions::default()
                })?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .context("cannot start the embedded sandbox on loopback")?;
                let url = format!("http://{}", listener.local_addr()?);
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let options = sandbox.options().clone();
                tokio::spawn(sandbox.serve(listener, async move {
                    let _ = stopped.await;
                }));
                let client = Client::with_options(
                    Endpoint::parse(&url)?,
                    Credentials::new(options.secret_id, options.secret_key),
                    client_options(provider),
                );
                Ok(Connection { client, _sandbox: Some(stop) })
            }
        }
    }
}

fn client_options(provider: &ProviderConfig) -> ClientOptions {
    let defaults = ClientOptions::default();
    ClientOptions {
        requests_per_second: provider.requests_per_second.unwrap_or(defaults.requests_per_second),
        ..defaults
    }
}

/// A client, and the embedded sandbox it talks to when there is one (stopped on drop).
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    _sandbox: Option<tokio::sync::oneshot::Sender<()>>,
}

/// `CERTPLAN_ENDPOINT` wins over the provider block's `endpoint`, which wins over the default.
pub fn resolve_endpoint(
    provider: &ProviderConfig,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Endpoint> {
    if let Some(url) = env(ENDPOINT_VAR).filter(|v| !v.trim().is_empty()) {
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

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
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
}
