//! Flags, environment and the provider block, resolved once into the settings a command runs
//! with — and the connection to the cloud (or to the embedded sandbox) they lead to.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use certplan_parser::ProviderConfig;
use certplan_provider::{
    Client, ClientOptions, Credentials, CredentialsError, Endpoint, SecretKey,
};
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
    /// The tccli profile to fall back on for credentials.
    pub profile: String,
}

impl Settings {
    /// Resolves the settings of a command run in the configuration directory (the working
    /// directory after `--chdir`).
    pub fn resolve(state: Option<&Path>, refresh: bool, sandbox: bool, profile: &str) -> Self {
        Settings {
            profile: profile.to_owned(),
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
                let credentials = resolve_credentials(provider, env, &self.profile)?;
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

/// Finds credentials the way every Tencent Cloud tool does: the TENCENTCLOUD_* variables, then
/// the tccli profile, then (discouraged) the provider block.
pub fn resolve_credentials(
    provider: &ProviderConfig,
    env: &impl Fn(&str) -> Option<String>,
    profile: &str,
) -> anyhow::Result<Credentials> {
    match Credentials::from_env(env) {
        Ok(credentials) => return Ok(credentials),
        Err(CredentialsError::Missing) => {}
        Err(incomplete) => return Err(incomplete.into()),
    }
    if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
        let path = Path::new(&home).join(".tccli").join(format!("{profile}.credential"));
        if let Some(credentials) = read_tccli_profile(&path)? {
            return Ok(credentials);
        }
    }
    if let Some((id, key, token)) = &provider.credentials {
        let mut credentials = Credentials::new(id, key.expose());
        credentials.token = token.clone();
        return Ok(credentials);
    }
    Err(anyhow::Error::new(CredentialsError::Missing).context(format!(
        "no credentials in the environment, in the tccli profile {profile:?} (~/.tccli/{profile}.credential) or in the provider block"
    )))
}

/// Reads a tccli credential file (`{"secretId": .., "secretKey": .., "token": ..}`); `None`
/// when it does not exist.
fn read_tccli_profile(path: &Path) -> anyhow::Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::anyhow!("cannot read tccli profile {}: {e}", path.display())),
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("tccli profile {} is not JSON: {e}", path.display()))?;
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty());
    match (field("secretId"), field("secretKey")) {
        (Some(id), Some(key)) => {
            let mut credentials = Credentials::new(id, key);
            credentials.token = field("token").map(SecretKey::new);
            Ok(Some(credentials))
        }
        _ => Err(anyhow::anyhow!(
            "tccli profile {} has no secretId and secretKey; run `tccli configure` or set TENCENTCLOUD_SECRET_ID/KEY",
            path.display()
        )),
    }
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
