//! `certplan`: declare Tencent Cloud free SSL certificates in HCL, plan, apply, renew.
//!
//! The binary is the edge: it reads the command line and the environment, resolves the settings
//! once, runs one command and maps its result to an exit code. Data (plans) goes to stdout;
//! progress, prompts and diagnostics go to stderr. The work is done by the library crates.

// The binary is where printing belongs; the libraries never print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod interrupt;
mod notify;
mod project;
mod settings;
mod stdout;
mod ui;

use std::process::ExitCode;

use certplan_provider::Credentials;
use certplan_sandbox::{
    ConsoleOp, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, SandboxAccount, SandboxOptions,
};
use clap::Parser as _;

use crate::args::{Cli, Command, ConsoleArgs, SandboxCommand, StateCommand};
use crate::commands::sandbox::Control;
use crate::commands::state::StateOperation;
use crate::commands::terraform::FromTerraform;
use crate::settings::{Environment, Flags, Output, Settings};

fn main() -> ExitCode {
    let args = args::terraform_spelling(std::env::args());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return usage(&error),
    };
    let env = Environment::capture(args);
    init_logging(&env);
    let output = Output::resolve(cli.no_color, &env);
    if let Some(dir) = &cli.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("error: cannot switch to --chdir {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let report_memory = env.get("CERTPLAN_REPORT_PEAK_RSS").is_some();
    let result = runtime.block_on(run(cli.command, cli.workspace, output, env));
    if report_memory {
        report_peak_memory();
    }
    if let Some(failure) = stdout::failure() {
        eprintln!("error: cannot write to standard output: {failure}");
        return ExitCode::from(1);
    }
    match result {
        // The reader went away: end quietly, as Unix tools do (128 + SIGPIPE).
        _ if stdout::closed() => ExitCode::from(141),
        Ok(code) => code,
        Err(error) => {
            ui::report_error(&error, output);
            ExitCode::from(1)
        }
    }
}

/// Prints what clap says of the command line. Help and the version are answers (exit 0); a
/// usage error exits 1, never 2, which `plan --detailed-exitcode` keeps for "changes".
fn usage(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    match error.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(1),
    }
}

/// Runs one command.
async fn run(
    command: Command,
    workspace: Option<String>,
    output: Output,
    env: Environment,
) -> anyhow::Result<ExitCode> {
    let configured = |flags: Flags, env: Environment| {
        Settings::with_config(Flags { workspace: workspace.clone(), ..flags }, output, env)
    };
    let for_state = |flags: Flags, env: Environment| {
        Settings::for_state(Flags { workspace: workspace.clone(), ..flags }, output, env)
    };
    match command {
        Command::Plan(args) => {
            let (settings, config) = configured(args.flags(&env.args), env)?;
            commands::plan::plan(settings, config, &args.options()).await
        }
        Command::Apply(args) => {
            let (settings, config) = configured(args.flags(&env.args), env)?;
            commands::apply::apply(settings, config, &args.options()).await
        }
        Command::Certificates { common, json, expiring_within, html } => {
            let (settings, config) = configured(common.flags(&env.args), env)?;
            let options = commands::certificates::Options { json, expiring_within, html };
            commands::certificates::certificates(settings, config, &options).await
        }
        Command::Refresh { common, lock, selection } => {
            let (settings, config) = configured(common.locked_flags(&env.args, &lock), env)?;
            commands::refresh::refresh(settings, config, &selection.selection()).await
        }
        Command::Import {
            address,
            certificate_id,
            from_terraform,
            generate_config,
            dry_run,
            common,
            lock,
        } => {
            let flags =
                Flags { workspace: workspace.clone(), ..common.locked_flags(&env.args, &lock) };
            match (from_terraform, address, certificate_id) {
                (Some(path), ..) => {
                    let args = FromTerraform { path, generate_config, dry_run };
                    commands::terraform::from_terraform(flags, output, env, &args).await
                }
                (None, Some(address), Some(id)) => {
                    let (settings, config) = Settings::with_config(flags, output, env)?;
                    commands::import::import(settings, config, &address, &id).await
                }
                _ => anyhow::bail!("import takes ADDRESS ID, or --from-terraform PATH"),
            }
        }
        Command::RunHooks { addresses, common } => {
            let (settings, config) = configured(common.flags(&env.args), env)?;
            commands::hooks::run_hooks(&settings, &config, &addresses).await
        }
        Command::Output { name, json, state } => {
            commands::output::output(&for_state(state.flags(), env)?, name.as_deref(), json)
        }
        Command::State(command) => {
            let (state, operation) = match command {
                StateCommand::List(state) => (state, StateOperation::List),
                StateCommand::Show { address, state } => (state, StateOperation::Show(address)),
                StateCommand::Rm { address, state } => (state, StateOperation::Rm(address)),
                StateCommand::Mv { from, to, state } => (state, StateOperation::Mv { from, to }),
                StateCommand::Pull(state) => (state, StateOperation::Pull),
                StateCommand::Push { file, force, state } => {
                    return commands::state::push(&for_state(state.flags(), env)?, &file, force);
                }
            };
            commands::state::state(&for_state(state.flags(), env)?, operation)
        }
        Command::ForceUnlock { lock_id, force, state } => {
            commands::state::force_unlock(&for_state(state.flags(), env)?, &lock_id, force)
        }
        Command::Validate { json, vars } => {
            let vars = settings::variables(&env, vars.in_order(&env.args));
            commands::validate::validate(json, &vars, output)
        }
        Command::Show { plan_file, json } => commands::show::show(&plan_file, json, output),
        Command::Fmt { paths, check, diff, recursive } => {
            commands::fmt::fmt(&commands::fmt::FmtOptions { paths, check, diff, recursive }, output)
        }
        Command::Init { .. } => {
            eprintln!(
                "certplan needs no init: its provider is built in and its backend is connected on first use. Run `certplan plan`."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "certplan", &mut script);
            stdout::out!("{}", String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(SandboxCommand::Serve {
            listen,
            data,
            secret_id,
            secret_key,
            accounts,
            issue_delay,
            deploy_step,
            faults,
            rate_limit,
            quota_per_domain,
            free_per_year,
            dns_zones,
            challtestsrv,
        }) => {
            let or_env = |flag: Option<String>, var: &str, default: &str| {
                flag.or_else(|| env.get(var).filter(|v| !v.is_empty()))
                    .unwrap_or_else(|| default.to_owned())
            };
            let accounts = if accounts.is_empty() {
                vec![SandboxAccount::new(
                    or_env(secret_id, Credentials::SECRET_ID_VAR, DEFAULT_SECRET_ID),
                    or_env(secret_key, Credentials::SECRET_KEY_VAR, DEFAULT_SECRET_KEY),
                )]
            } else {
                accounts
            };
            let options = SandboxOptions {
                accounts,
                data,
                issue_delay,
                deploy_step,
                faults: faults.faults(),
                rate_limit,
                quota_per_domain,
                free_per_year,
                dns_zones,
                challtestsrv,
            };
            commands::sandbox::serve(&listen, options).await
        }
        Command::Sandbox(SandboxCommand::Age { days, target }) => {
            commands::sandbox::control(target.endpoint.as_deref(), Control::Age(days)).await
        }
        Command::Sandbox(SandboxCommand::Bind { id, resource_type, instance, region, target }) => {
            let id = commands::sandbox::certificate_id(&id, target.endpoint.as_deref())?;
            let bind = Control::Bind { id, resource_type, region, instance };
            commands::sandbox::control(target.endpoint.as_deref(), bind).await
        }
        Command::Sandbox(SandboxCommand::Bindings { id, target }) => {
            commands::sandbox::control(target.endpoint.as_deref(), Control::Bindings(id)).await
        }
        Command::Sandbox(SandboxCommand::Validate(a)) => console(ConsoleOp::Validate, a).await,
        Command::Sandbox(SandboxCommand::Revoke(a)) => console(ConsoleOp::Revoke, a).await,
        Command::Sandbox(SandboxCommand::Cancel(a)) => console(ConsoleOp::Cancel, a).await,
        Command::Sandbox(SandboxCommand::Delete(a)) => console(ConsoleOp::Delete, a).await,
        Command::Sandbox(SandboxCommand::Reissue(a)) => console(ConsoleOp::Reissue, a).await,
    }
}

async fn console(op: ConsoleOp, args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let endpoint = args.target.endpoint.as_deref();
    for id in commands::sandbox::console_targets(op, &args)? {
        commands::sandbox::control(endpoint, Control::Console(op, id)).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints this process's peak resident memory to stderr, for the benchmarks (Linux only).
fn report_peak_memory() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!("certplan peak RSS: {}", line.trim_start_matches("VmHWM:").trim());
    }
}

/// Sends logs to stderr at the level `CERTPLAN_LOG` names (e.g. `debug`). Logs name API calls,
/// their duration, RequestId and outcome — never request bodies or credentials. Without it,
/// only what a person should see is shown, as plain lines: a request being tried again, a state
/// merged with another writer's.
fn init_logging(env: &Environment) {
    let Some(filter) = env.get("CERTPLAN_LOG") else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "certplan_provider=info,certplan_engine=warn",
            ))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .try_init();
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "certplan={filter},certplan_provider={filter},certplan_engine={filter}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
