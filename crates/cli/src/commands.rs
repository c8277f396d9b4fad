//! The commands: each resolves its settings, calls one operation and renders the result.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use certplan_core::Address;
use certplan_parser::{Config, ConfigError};
use certplan_planner::{Action, Observed, Plan};
use certplan_provider::CredentialsError;
use certplan_sandbox::{ConsoleOp, Sandbox, SandboxOptions};
use certplan_state::{LocalStore, State, StateStore};
use chrono::Utc;

use crate::engine::{self, Event};
use crate::settings::{Connection, EMBEDDED_SANDBOX_DATA, Output, Settings, Target};
use crate::{ApplyArgs, CommonArgs, PlanArgs};

/// Exit code of `--detailed-exitcode` when there are changes.
const EXIT_CHANGES: u8 = 2;

/// Everything a plan was made from, kept for the apply that follows it.
struct Planned {
    config: Config,
    store: LocalStore,
    state: State,
    observed: Option<Observed>,
    plan: Plan,
    connection: Option<Connection>,
}

/// Loads config and state, refreshes from the cloud unless told not to, and plans.
async fn make_plan(
    args: &CommonArgs,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Settings, Planned)> {
    let settings = Settings::resolve(args.state.as_deref(), args.refresh, args.sandbox);
    if let Target::EmbeddedSandbox { data } = &settings.target {
        eprintln!(
            "Using the embedded sandbox, not Tencent Cloud: its certificates are kept in {}",
            data.display()
        );
    }
    let config = certplan_parser::load_dir(Path::new("."))?;
    let store = LocalStore::new(&settings.state_path);
    let state = store.load()?.unwrap_or_default();
    let mut connection = None;
    let observed = match (settings.refresh, state.resources.is_empty()) {
        (false, _) => None,
        (true, true) => Some(Observed::new()),
        (true, false) => {
            let conn = settings.connect(&config.provider, env).await?;
            eprintln!(
                "Reading {} certificate(s) from {}...",
                state.resources.len(),
                conn.client.endpoint()
            );
            let observed = engine::refresh(&conn.client, &state)
                .await
                .context("could not read the recorded certificates from the cloud")?;
            connection = Some(conn);
            Some(observed)
        }
    };
    let plan = certplan_planner::plan(&config, &state, observed.as_ref(), Utc::now())?;
    Ok((settings, Planned { config, store, state, observed, plan, connection }))
}

pub async fn plan(
    args: &PlanArgs,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let (_, planned) = make_plan(&args.common, env).await?;
    print!("{}", certplan_planner::render(&planned.plan, output.stdout_color));
    Ok(if args.detailed_exitcode && planned.plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn apply(
    args: &ApplyArgs,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let (settings, mut planned) = make_plan(&args.common, env).await?;
    print!("{}", certplan_planner::render(&planned.plan, output.stdout_color));
    if planned.plan.has_changes() && !args.auto_approve && !confirm()? {
        eprintln!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    // What the refresh learnt (an issuance, new dates) is kept, even when nothing else changes.
    if let Some(observed) = &planned.observed
        && engine::record_observed(&mut planned.state, observed)
    {
        planned.store.save(&mut planned.state)?;
    }
    if !planned.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    let connection = match planned.connection.take() {
        Some(c) => c,
        None => settings.connect(&planned.config.provider, env).await?,
    };
    let report = engine::apply(
        &planned.plan,
        &planned.config,
        &mut planned.state,
        &mut planned.store,
        &connection.client,
        show_event,
    )
    .await
    .with_context(|| format!("could not save state to {}", planned.store.describe()))?;

    let mut failed = report.failed;
    let (waits, pending): (Vec<_>, Vec<_>) = report
        .pending
        .into_iter()
        .partition(|(address, _)| wait_limit(args.wait, &planned.config, address).is_some());
    if !waits.is_empty() {
        let waits = waits
            .into_iter()
            .filter_map(|(address, remote)| {
                let limit = wait_limit(args.wait, &planned.config, &address)?;
                eprintln!(
                    "{address}: waiting up to {} for certificate {} to be issued...",
                    humantime::format_duration(limit),
                    remote.id
                );
                Some((address, remote.id, limit))
            })
            .collect();
        let timed_out = engine::wait_for_issuance(
            &connection.client,
            &mut planned.state,
            &mut planned.store,
            waits,
            show_event,
        )
        .await
        .with_context(|| format!("could not save state to {}", planned.store.describe()))?;
        failed.extend(timed_out);
    }

    let forgotten = if report.forgotten > 0 {
        format!(", {} forgotten", report.forgotten)
    } else {
        String::new()
    };
    println!(
        "\nApply complete! Resources: {} added, {} renewed, {} changed, {} destroyed{forgotten}.",
        report.added, report.renewed, report.changed, report.destroyed
    );
    for (address, remote) in &pending {
        eprintln!("\n{address} ({}) is not issued yet:", remote.id);
        let automatic = planned
            .config
            .resources
            .get(address)
            .is_some_and(|r| r.args.dv_auth_method == certplan_core::DvAuthMethod::DnsAuto);
        if automatic {
            eprintln!("  waiting for the CA (automatic DNS validation adds its record itself)");
        } else {
            for record in &remote.validation {
                eprintln!(
                    "  to validate the domain, {}",
                    certplan_planner::describe_record(record)
                );
            }
        }
        eprintln!("  the next plan shows its status; `certplan apply --wait` waits for issuance");
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("\n{} change(s) failed:", failed.len());
    for (address, error) in &failed {
        eprintln!("  {address}: {error:#}");
    }
    Ok(ExitCode::from(1))
}

/// How long to wait for a certificate's issuance: the flag, else the resource's setting, else
/// the provider's; `None` means do not wait.
fn wait_limit(flag: Option<Duration>, config: &Config, address: &Address) -> Option<Duration> {
    flag.or_else(|| config.resources.get(address).and_then(|r| r.lifecycle.wait_for_issuance))
        .or(config.provider.wait_for_issuance)
}

/// Asks for `yes` on the terminal; refuses to guess when there is no terminal to ask.
fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "apply needs confirmation, and standard input is not a terminal: review the plan, then run `certplan apply --auto-approve`"
        );
    }
    eprint!(
        "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn show_event(event: Event<'_>) {
    let verbs = |action: Action| match action {
        Action::Create => ("Creating", "Creation"),
        Action::Renew => ("Renewing", "Renewal"),
        Action::Replace => ("Replacing", "Replacement"),
        Action::Delete => ("Destroying", "Destruction"),
        Action::Update => ("Modifying", "Modification"),
        Action::Forget => ("Forgetting", "Forgetting"),
        Action::NoOp => ("Reading", "Read"),
    };
    match event {
        Event::Started { address, action } => eprintln!("{address}: {}...", verbs(action).0),
        Event::Completed { address, action, id, elapsed } => {
            let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
            eprintln!("{address}: {} complete after {elapsed:.1}s{id}", verbs(action).1);
        }
        Event::Failed { address, action, error } => {
            eprintln!("{address}: {} failed: {error:#}", verbs(action).1);
        }
        Event::Deposed { address, id, error } => eprintln!(
            "{address}: warning: the new certificate is in place, but the old one ({id}) could not be deleted: {error}\n  it is kept in state as deposed; the next apply deletes it"
        ),
        Event::StillWaiting { address, id, elapsed, status } => eprintln!(
            "{address}: still waiting for certificate {id} to be issued ({status})... [{elapsed:.0}s elapsed]"
        ),
        Event::Issued { address, id, elapsed } => {
            eprintln!("{address}: certificate {id} issued after {elapsed:.0}s")
        }
    }
}

pub async fn sandbox_serve(listen: &str, options: SandboxOptions) -> anyhow::Result<ExitCode> {
    let data = options.data.clone();
    let sandbox = Sandbox::new(options)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let options = sandbox.options().clone();
    let data_line = match &data {
        Some(path) => path.display().to_string(),
        None => "in memory (use --data FILE to keep it)".to_owned(),
    };
    // The first line is what scripts read to find the port. A closed stdout must not stop the
    // server, so write errors are ignored.
    let banner = format!(
        "certplan sandbox listening on {url}\n  SecretId:  {}\n  SecretKey: {} (a sandbox key, not a Tencent Cloud secret)\n  data:      {data_line}\nPoint certplan at it with: export CERTPLAN_ENDPOINT={url}\n",
        options.secret_id, options.secret_key
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(banner.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);
    sandbox.serve(listener, shutdown_signal()).await?;
    eprintln!("sandbox stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Something done to a sandbox from outside its API.
#[derive(Debug)]
pub enum Control {
    Age(i64),
    Console(ConsoleOp, String),
}

/// Controls a running sandbox (at `endpoint`) or the embedded one of the configuration directory.
pub async fn sandbox_control(endpoint: Option<&str>, control: Control) -> anyhow::Result<ExitCode> {
    let (path, body) = match &control {
        Control::Age(days) => ("age".to_owned(), serde_json::json!({ "Days": days })),
        Control::Console(op, id) => {
            (op.name().to_owned(), serde_json::json!({ "CertificateId": id }))
        }
    };
    match endpoint {
        Some(url) => {
            let response = reqwest::Client::new()
                .post(format!("{}/_sandbox/{path}", url.trim_end_matches('/')))
                .json(&body)
                .send()
                .await
                .with_context(|| format!("cannot reach the sandbox at {url}"))?;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("the sandbox refused: {text}");
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
                Control::Console(op, id) => sandbox.console(*op, id)?,
            }
        }
    }
    match control {
        Control::Age(days) => eprintln!("Made every sandbox certificate {days} days older."),
        Control::Console(op, id) => eprintln!("Sandbox {}: done for certificate {id}.", op.name()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an error with what to do about it.
pub fn report_error(error: &anyhow::Error, output: Output) {
    if let Some(config) = error.downcast_ref::<ConfigError>() {
        eprintln!("{}", config.render(output.stderr_color));
        return;
    }
    eprintln!("error: {error:#}");
    if error.downcast_ref::<CredentialsError>().is_some() {
        eprintln!(
            "hint: to try certplan without an account, add --sandbox to run against an embedded sandbox"
        );
    }
}
