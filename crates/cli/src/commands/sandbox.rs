//! `certplan sandbox serve|age|bind|bindings|validate|revoke|cancel|delete|reissue`: runs the
//! local emulator of the SSL API, or does to one what time, the CA or a person in the console
//! would.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use certplan_core::Address;
use certplan_sandbox::{ConsoleOp, ControlClient, Sandbox, SandboxOptions};
use certplan_state::State;
use std::path::Path;

use crate::args::ConsoleArgs;
use crate::interrupt;
use crate::settings::{EMBEDDED_SANDBOX_DATA, EMBEDDED_SANDBOX_STATE};
use crate::stdout::outln;

pub async fn serve(listen: &str, options: SandboxOptions) -> anyhow::Result<ExitCode> {
    options.faults.validate().map_err(anyhow::Error::msg)?;
    let data = options.data.clone();
    let sandbox = Sandbox::new(options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let data_line = match &data {
        Some(path) => path.display().to_string(),
        None => "in memory (use --data FILE to keep it)".to_owned(),
    };
    let accounts: String = sandbox
        .options()
        .accounts
        .iter()
        .map(|a| {
            format!(
                "  SecretId:  {}\n  SecretKey: {} (a sandbox key, not a Tencent Cloud secret)\n  AccountId: {}\n",
                a.secret_id, a.secret_key, a.uin
            )
        })
        .collect();
    // The first line is what scripts read to find the port. A closed stdout must not stop the
    // server, so write errors are ignored.
    let banner = format!(
        "certplan sandbox listening on {url}\n{accounts}  data:      {data_line}\nPoint certplan at it with: export CERTPLAN_ENDPOINT={url}\n"
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);
    sandbox.serve(listener, interrupt::signal()).await?;
    eprintln!("sandbox stopped");
    Ok(ExitCode::SUCCESS)
}

/// The certificates a console operation is for: the one named (an id, or a resource address
/// looked up in the state), or with `--all` every one the state records as waiting for
/// validation. The state is the embedded sandbox's, or with `--endpoint` the local default.
pub fn console_targets(op: ConsoleOp, args: &ConsoleArgs) -> anyhow::Result<Vec<String>> {
    let endpoint = args.target.endpoint.as_deref();
    if let Some(named) = &args.certificate {
        return Ok(vec![certificate_id(named, endpoint)?]);
    }
    if op != ConsoleOp::Validate {
        bail!("--all is for `sandbox validate`: name the certificate to {}", op.name());
    }
    let (state, path) = state_beside(endpoint)?;
    let waiting: Vec<String> = state
        .resources
        .values()
        .filter(|r| r.status.is_pending())
        .map(|r| r.certificate_id.to_string())
        .collect();
    if waiting.is_empty() {
        bail!("no certificate in the state {} is waiting for validation", path.display());
    }
    Ok(waiting)
}

/// The certificate `named`: an id as it is, or the id the state records for a resource
/// address (an id has no dot).
pub fn certificate_id(named: &str, endpoint: Option<&str>) -> anyhow::Result<String> {
    if !named.contains('.') {
        return Ok(named.to_owned());
    }
    let address: Address =
        named.parse().map_err(|e| anyhow!("{named:?} is neither an id nor an address: {e}"))?;
    let (state, path) = state_beside(endpoint)?;
    match state.resources.get(&address) {
        Some(r) => Ok(r.certificate_id.to_string()),
        None => bail!("{address} is not in the state {}", path.display()),
    }
}

/// The state that names the sandbox's certificates: the embedded sandbox's, or with an
/// endpoint the local default.
fn state_beside(endpoint: Option<&str>) -> anyhow::Result<(State, &'static Path)> {
    let path = match endpoint {
        None => Path::new(EMBEDDED_SANDBOX_STATE),
        Some(_) => Path::new(certplan_state::DEFAULT_STATE_FILE),
    };
    let bytes = std::fs::read(path).with_context(|| {
        format!("cannot read the state {} to find the certificates named", path.display())
    })?;
    let state = State::from_json(&bytes).map_err(|why| anyhow!("{}: {why}", path.display()))?;
    Ok((state, path))
}

/// Something done to a sandbox from outside its API.
#[derive(Debug)]
pub enum Control {
    Age(i64),
    Console(ConsoleOp, String),
    Bind {
        id: String,
        resource_type: String,
        region: Option<String>,
        instance: String,
    },
    /// Lists the bindings (of one certificate).
    Bindings(Option<String>),
}

/// Controls a running sandbox (at `endpoint`) or the embedded one of the configuration directory.
pub async fn control(endpoint: Option<&str>, control: Control) -> anyhow::Result<ExitCode> {
    let mut bound = Vec::new();
    let mut reissued = None;
    match endpoint {
        Some(url) => {
            let client = ControlClient::new(url);
            match &control {
                Control::Age(days) => drop(client.age(*days).await?),
                Control::Console(op, id) => reissued = client.console(*op, id).await?,
                Control::Bind { id, resource_type, region, instance } => {
                    bound.push(client.bind(id, resource_type, region.as_deref(), instance).await?)
                }
                Control::Bindings(id) => bound = client.bindings(id.as_deref()).await?,
            }
        }
        None => {
            let data = PathBuf::from(EMBEDDED_SANDBOX_DATA);
            if !data.exists() {
                bail!(
                    "no embedded sandbox here ({} does not exist): run `certplan apply --sandbox` first, or pass --endpoint URL",
                    data.display()
                );
            }
            let sandbox =
                Sandbox::new(SandboxOptions { data: Some(data), ..SandboxOptions::default() })?;
            match &control {
                Control::Age(days) => drop(sandbox.age(*days)?),
                Control::Console(op, id) => reissued = sandbox.console(*op, id)?,
                Control::Bind { id, resource_type, region, instance } => {
                    bound.push(sandbox.bind(id, resource_type, region.as_deref(), instance)?)
                }
                Control::Bindings(id) => bound = sandbox.bindings(id.as_deref())?,
            }
        }
    }
    match control {
        Control::Age(days) => {
            let days = crate::ui::plural(
                usize::try_from(days.unsigned_abs()).unwrap_or(usize::MAX),
                "day",
            );
            eprintln!("Made every sandbox certificate {days} older.");
        }
        Control::Console(op, id) => match reissued {
            Some(new) => {
                eprintln!(
                    "Sandbox {}: done for certificate {id}; the new certificate is:",
                    op.name()
                );
                outln!("{new}");
            }
            None => eprintln!("Sandbox {}: done for certificate {id}.", op.name()),
        },
        Control::Bind { .. } | Control::Bindings(_) => {
            for b in &bound {
                let region = b.region.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                outln!("{}  {} {}{region}", b.certificate_id, b.resource_type, b.instance);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
