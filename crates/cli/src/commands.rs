//! The commands: each resolves its settings, calls one operation and renders the result.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use certplan_core::Address;
use certplan_parser::{Config, ConfigError};
use certplan_planner::{Action, Observed, Plan, PlanOptions, SavedPlan};
use certplan_provider::{Client, CredentialsError};
use certplan_sandbox::{ConsoleOp, Sandbox, SandboxOptions};
use certplan_state::{LocalStore, State, StateLock, StateStore};
use chrono::Utc;

use crate::engine::{self, Event};
use crate::settings::{Connection, EMBEDDED_SANDBOX_DATA, Output, Settings, Target};
use crate::{ApplyArgs, CommonArgs, PlanArgs, StateArgs, StateCommand};

/// Exit code of `--detailed-exitcode` when there are changes.
const EXIT_CHANGES: u8 = 2;

/// What a command works on: the configuration, the state (locked when the command writes it)
/// and, once needed, the connection to the cloud.
struct Workspace {
    /// Renames the configuration's moved blocks made in the loaded state (not saved yet).
    moves: Vec<(Address, Address)>,
    settings: Settings,
    options: PlanOptions,
    config: Config,
    store: LocalStore,
    state: State,
    /// Whether a state file existed when loaded.
    state_existed: bool,
    connection: Option<Connection>,
    _lock: Option<StateLock>,
}

impl Workspace {
    /// Loads config and state; `operation` names a writer, which holds the state lock for the
    /// whole run (unless `--lock=false`).
    fn open(args: &CommonArgs, operation: Option<&str>, output: Output) -> anyhow::Result<Self> {
        let settings =
            Settings::resolve(args.state.as_deref(), args.refresh, args.sandbox, &args.profile);
        if let Target::EmbeddedSandbox { data } = &settings.target {
            eprintln!(
                "Using the embedded sandbox, not Tencent Cloud: its certificates are kept in {}",
                data.display()
            );
        }
        let options = args.vars.load_options(&crate::env_vars());
        let config = certplan_parser::load_dir_with(Path::new("."), &options)?;
        // --state wins over the certplan block's backend path.
        let mut settings = settings;
        if args.state.is_none()
            && let Some(path) = &config.settings.state_path
        {
            settings.state_path = PathBuf::from(path);
        }
        if !config.warnings.is_empty() {
            let shown = certplan_parser::render_diagnostics(
                &config.sources,
                &config.warnings,
                output.stderr_color,
            );
            eprint!("{shown}");
        }
        let mut store = LocalStore::new(&settings.state_path);
        let lock = match operation {
            Some(op) if args.lock => Some(store.lock(op, args.lock_timeout)?),
            _ => None,
        };
        let loaded = store.load()?;
        let state_existed = loaded.is_some();
        let mut state = loaded.unwrap_or_default();
        let moves = certplan_planner::apply_moves(&config, &mut state);
        for address in args.target.iter().chain(&args.exclude) {
            let known = config.resources.keys().chain(state.resources.keys());
            if !known.into_iter().any(|a| address.covers(a)) {
                bail!(
                    "{address} is not in the configuration or the state; --target and --exclude take resource addresses such as tencentcloud_ssl_free_certificate.www"
                );
            }
        }
        let options = PlanOptions { targets: args.target.clone(), excludes: args.exclude.clone() };
        Ok(Workspace {
            moves,
            settings,
            options,
            config,
            store,
            state,
            state_existed,
            connection: None,
            _lock: lock,
        })
    }

    async fn connect(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<&Client> {
        if self.connection.is_none() {
            self.connection = Some(self.settings.connect(&self.config.provider, env).await?);
        }
        Ok(&self.connection.as_ref().expect("just connected").client)
    }

    /// Settles what an interrupted run left in the journal. Only writers save the outcome;
    /// a plan uses it in memory.
    async fn reconcile(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
        save: bool,
    ) -> anyhow::Result<()> {
        if self.state.intents.is_empty() {
            return Ok(());
        }
        eprintln!(
            "Found {} certificate application(s) of an interrupted run; checking the cloud...",
            self.state.intents.len()
        );
        let client = self.connect(env).await?.clone();
        let done = engine::reconcile(&client, &mut self.state)
            .await
            .context("could not check what the interrupted run did; nothing was changed")?;
        for line in done {
            eprintln!("  {line}");
        }
        if save {
            self.store.save(&mut self.state)?;
        }
        Ok(())
    }

    /// Reads the cloud (unless `--refresh=false`) and plans.
    async fn plan(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<(Option<Observed>, Plan)> {
        let observed = if !self.settings.refresh {
            None
        } else if self.state.resources.is_empty() && self.state.deposed.is_empty() {
            Some(Observed::new())
        } else {
            let count = self.state.resources.len() + self.state.deposed.len();
            let client = self.connect(env).await?.clone();
            eprintln!("Reading {count} certificate(s) from {}...", client.endpoint());
            Some(
                engine::refresh(&client, &self.state)
                    .await
                    .context("could not read the recorded certificates from the cloud")?,
            )
        };
        let mut plan = certplan_planner::plan(
            &self.config,
            &self.state,
            observed.as_ref(),
            Utc::now(),
            &self.options,
        )?;
        plan.moved = self.moves.clone();
        Ok((observed, plan))
    }
}

pub async fn plan(
    args: &PlanArgs,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut ws = Workspace::open(&args.common, None, output)?;
    if !ws.state.intents.is_empty() {
        if args.out.is_some() {
            bail!(
                "the state records certificate applications of an interrupted run; run `certplan apply` to settle them before saving a plan"
            );
        }
        if ws.settings.refresh {
            ws.reconcile(env, false).await?;
        } else {
            eprintln!(
                "warning: the state records certificate applications of an interrupted run; without refresh they cannot be checked, so this plan may apply for them again"
            );
        }
    }
    let (_, plan) = ws.plan(env).await?;
    print_plan(&plan, args.json, output);
    if let Some(out) = &args.out {
        let existing = ws.state_existed.then_some(&ws.state);
        let saved = SavedPlan::new(plan.clone(), existing, ws.config.digest());
        certplan_state::write_atomically(out, &saved.to_json())
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
        eprintln!(
            "Saved the plan to {}. Apply exactly this plan with: certplan apply {}",
            out.display(),
            out.display()
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
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
    if let Some(file) = &args.plan_file {
        return apply_saved(args, file, output, env).await;
    }
    if args.json && !args.auto_approve {
        bail!(
            "apply --json cannot ask for confirmation: add --auto-approve, or apply a saved plan"
        );
    }
    let mut ws = Workspace::open(&args.common, Some("apply"), output)?;
    ws.reconcile(env, true).await?;
    let (observed, plan) = ws.plan(env).await?;
    announce_plan(&plan, args.json, output);
    if plan.has_changes() && !args.auto_approve && !confirm()? {
        eprintln!("Apply cancelled.");
        return Ok(ExitCode::from(1));
    }
    // What the refresh learnt (an issuance, new dates) and the moves are kept, even when
    // nothing else changes.
    if observed.as_ref().is_some_and(|o| engine::record_observed(&mut ws.state, o)) {
        ws.store.save(&mut ws.state)?;
    }
    if !plan.has_changes() {
        record_outputs(&mut ws, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    execute(&mut ws, &plan, args, env).await
}

/// Records what an apply leaves besides certificates — which recorded arguments come from
/// sensitive variables (so that a later plan to delete hides them too) and the outputs,
/// evaluated against what is recorded — saves them, and shows the outputs.
fn record_outputs(ws: &mut Workspace, json: bool) -> anyhow::Result<()> {
    let mut changed = false;
    for (address, recorded) in &mut ws.state.resources {
        if let Some(declared) = ws.config.resources.get(address)
            && recorded.sensitive != declared.sensitive
        {
            recorded.sensitive = declared.sensitive.clone();
            changed = true;
        }
    }
    if ws.config.outputs.is_empty() && ws.state.outputs.is_empty() {
        if changed {
            ws.store.save(&mut ws.state)?;
        }
        return Ok(());
    }
    let values = certplan_planner::outputs(&ws.config, &ws.state);
    let mut outputs = BTreeMap::new();
    for (name, result) in values {
        let sensitive = ws.config.outputs.get(&name).is_some_and(|o| o.sensitive);
        match result.map(serde_json::to_value) {
            Ok(Ok(value)) => {
                outputs.insert(name, certplan_state::StoredOutput { value, sensitive });
            }
            Ok(Err(e)) => eprintln!("warning: output {name:?} cannot be stored: {e}"),
            Err(e) => eprintln!("warning: output {name:?} has no value yet: {e}"),
        }
    }
    if outputs != ws.state.outputs || changed {
        ws.state.outputs = outputs;
        ws.store.save(&mut ws.state)?;
    }
    if json {
        emit(serde_json::json!({ "type": "outputs", "outputs": outputs_json(&ws.state.outputs) }));
    } else if !ws.state.outputs.is_empty() {
        println!("\nOutputs:\n");
        for (name, o) in &ws.state.outputs {
            println!("{name} = {}", shown_output(o, false));
        }
    }
    Ok(())
}

fn shown_output(o: &certplan_state::StoredOutput, reveal: bool) -> String {
    if o.sensitive && !reveal {
        "(sensitive value)".to_owned()
    } else {
        match &o.value {
            serde_json::Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        }
    }
}

fn outputs_json(outputs: &BTreeMap<String, certplan_state::StoredOutput>) -> serde_json::Value {
    outputs
        .iter()
        .map(|(n, o)| {
            let value = if o.sensitive { serde_json::Value::Null } else { o.value.clone() };
            (n.clone(), serde_json::json!({ "value": value, "sensitive": o.sensitive }))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `certplan output [NAME] [--json]`: the outputs recorded by the last apply.
pub fn output(name: Option<&str>, json: bool, args: &StateArgs) -> anyhow::Result<ExitCode> {
    let path =
        args.state.clone().unwrap_or_else(|| PathBuf::from(certplan_state::DEFAULT_STATE_FILE));
    let state = LocalStore::new(&path).load()?.unwrap_or_default();
    if let Some(name) = name
        && !state.outputs.contains_key(name)
    {
        bail!("no output {name:?} is recorded; outputs are recorded by apply");
    }
    if json {
        // As `terraform output -json NAME`: a named output is its value alone.
        match name {
            Some(name) => println!("{}", state.outputs[name].value),
            None => println!("{}", outputs_json(&state.outputs)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    match name {
        Some(name) => println!("{}", shown_output(&state.outputs[name], true)),
        None => {
            for (n, o) in &state.outputs {
                println!("{n} = {}", shown_output(o, false));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies a plan saved by `plan --out`, exactly as made, or refuses.
async fn apply_saved(
    args: &ApplyArgs,
    file: &Path,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut ws = Workspace::open(&args.common, Some("apply"), output)?;
    let saved = read_saved_plan(file)?;
    if !ws.state.intents.is_empty() {
        bail!(
            "saved plan {} cannot be applied: the state records certificate applications of an interrupted run. Run `certplan apply` to settle them, then plan again",
            file.display()
        );
    }
    let existing = ws.state_existed.then_some(&ws.state);
    if let Some(why) = saved.staleness(existing, &ws.config.digest()) {
        bail!(
            "saved plan {} is stale: {why}. Make a new one with `certplan plan --out {}`",
            file.display(),
            file.display()
        );
    }
    announce_plan(&saved.plan, args.json, output);
    if !saved.plan.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    execute(&mut ws, &saved.plan, args, env).await
}

fn read_saved_plan(file: &Path) -> anyhow::Result<SavedPlan> {
    let bytes =
        std::fs::read(file).with_context(|| format!("cannot read plan file {}", file.display()))?;
    SavedPlan::from_json(&bytes).map_err(|why| anyhow::anyhow!("{} is {why}", file.display()))
}

/// `certplan validate`: checks the configuration without credentials, state or network.
pub fn validate(
    json: bool,
    options: &certplan_parser::LoadOptions,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let (sources, diagnostics, valid) =
        match certplan_parser::load_dir_with(Path::new("."), options) {
            Ok(config) => (config.sources, config.warnings, true),
            Err(e) => (e.sources, e.diagnostics, false),
        };
    if json {
        println!("{}", certplan_parser::diagnostics_json(&sources, &diagnostics));
    } else {
        eprint!(
            "{}",
            certplan_parser::render_diagnostics(&sources, &diagnostics, output.stderr_color)
        );
        if valid {
            println!("Success! The configuration is valid.");
        } else {
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == certplan_parser::Severity::Error)
                .count();
            eprintln!("error: the configuration has {errors} error(s)");
        }
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `certplan refresh`: records what the cloud reports (status, dates) without changing anything
/// there, and says what changed outside certplan.
pub async fn refresh(
    args: &CommonArgs,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut ws = Workspace::open(args, Some("refresh"), output)?;
    ws.reconcile(env, true).await?;
    let (observed, plan) = ws.plan(env).await?;
    let Some(observed) = observed else {
        bail!("refresh reads the cloud; --refresh=false leaves it nothing to do");
    };
    let drift_only = Plan { changes: Vec::new(), ..plan };
    if drift_only.drift.is_empty() {
        println!("The cloud matches the state.");
    } else {
        print!("{}", certplan_planner::render(&drift_only, output.stdout_color));
    }
    if engine::record_observed(&mut ws.state, &observed) {
        ws.store.save(&mut ws.state)?;
        eprintln!("State updated from the cloud.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `certplan import ADDR ID`: records an existing certificate as a declared resource, without
/// a new application. The next plan shows any difference from the configuration.
pub async fn import(
    args: &CommonArgs,
    address: &Address,
    id: &str,
    output: Output,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut ws = Workspace::open(args, Some("import"), output)?;
    let Some(resource) = ws.config.resources.get(address).cloned() else {
        bail!(
            "{address} is not declared: add its resource block to the configuration first, then import"
        );
    };
    if let Some(existing) = ws.state.resources.get(address) {
        bail!(
            "{address} already has certificate {} in the state; `certplan state rm {address}` first to replace it",
            existing.certificate_id
        );
    }
    let client = ws.connect(env).await?.clone();
    let detail = client
        .describe_certificate_detail(id)
        .await
        .with_context(|| format!("cannot read certificate {id} from the cloud"))?;
    let remote = detail.to_remote();
    if remote.domain != resource.args.domain {
        bail!(
            "certificate {id} is for {}, but {address} declares domain = \"{}\"",
            remote.domain,
            resource.args.domain
        );
    }
    let mut args = resource.args.clone();
    if let Some(method) = detail.verify_type.as_deref().and_then(certplan_core::DvAuthMethod::parse)
    {
        args.dv_auth_method = method;
    }
    args.alias = remote.alias.clone();
    // The API reports the default project as 0, which a configuration leaves out.
    args.project_id = remote.project_id.filter(|p| *p != 0);
    let mut record = certplan_state::ResourceState {
        certificate_id: remote.id.clone(),
        args,
        status: remote.status,
        not_before: None,
        not_after: None,
        renewed_from: Vec::new(),
        prevent_destroy: resource.lifecycle.prevent_destroy,
        applied_at: remote.inserted_at.unwrap_or_else(Utc::now),
        validation: Vec::new(),
        sensitive: resource.sensitive.clone(),
    };
    record.observe(&remote);
    ws.state.resources.insert(address.clone(), record);
    ws.store.save(&mut ws.state)?;
    println!("Imported certificate {id} ({}, {}) as {address}.", remote.domain, remote.status);
    println!("Run `certplan plan` to see how it compares with the configuration.");
    Ok(ExitCode::SUCCESS)
}

/// `certplan state list|show|rm|mv`: works on the state file alone.
pub fn state(command: StateCommand) -> anyhow::Result<ExitCode> {
    let open = |args: &StateArgs, operation: Option<&str>| -> anyhow::Result<_> {
        let path =
            args.state.clone().unwrap_or_else(|| PathBuf::from(certplan_state::DEFAULT_STATE_FILE));
        let mut store = LocalStore::new(&path);
        let lock = operation.map(|op| store.lock(op, args.lock_timeout)).transpose()?;
        let Some(state) = store.load()? else {
            bail!("there is no state at {}: nothing has been applied here yet", path.display());
        };
        Ok((store, state, lock))
    };
    let missing = |address: &Address| anyhow::anyhow!("{address} is not in the state");
    match command {
        StateCommand::List(args) => {
            let (_, state, _) = open(&args, None)?;
            for address in state.resources.keys() {
                println!("{address}");
            }
        }
        StateCommand::Show { address, state: args } => {
            let (_, state, _) = open(&args, None)?;
            let r = state.resources.get(&address).ok_or_else(|| missing(&address))?;
            println!("# {address}");
            println!("certificate_id = {:?}", r.certificate_id);
            println!("status         = {}", r.status);
            let time = |t: Option<chrono::DateTime<Utc>>| {
                t.map_or("(unknown)".to_owned(), |t| t.to_rfc3339())
            };
            println!("not_before     = {}", time(r.not_before));
            println!("not_after      = {}", time(r.not_after));
            if !r.renewed_from.is_empty() {
                println!("renewed_from   = {:?}", r.renewed_from);
            }
            for (name, value) in r.args.attributes_hiding(&r.sensitive) {
                println!("{name:14} = {value}");
            }
        }
        StateCommand::Rm { address, state: args } => {
            let (mut store, mut state, _lock) = open(&args, Some("state rm"))?;
            let r = state.resources.remove(&address).ok_or_else(|| missing(&address))?;
            store.save(&mut state)?;
            println!(
                "Removed {address} from the state. Certificate {} stays in the cloud; certplan no longer manages it.",
                r.certificate_id
            );
        }
        StateCommand::Mv { from, to, state: args } => {
            let (mut store, mut state, _lock) = open(&args, Some("state mv"))?;
            if state.resources.contains_key(&to) {
                bail!("{to} is already in the state; remove it first");
            }
            let r = state.resources.remove(&from).ok_or_else(|| missing(&from))?;
            state.resources.insert(to.clone(), r);
            for d in state.deposed.iter_mut().filter(|d| d.address == from) {
                d.address = to.clone();
            }
            store.save(&mut state)?;
            println!("Moved {from} to {to}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `certplan show PLANFILE`: renders a saved plan.
pub fn show(file: &Path, json: bool, output: Output) -> anyhow::Result<ExitCode> {
    let saved = read_saved_plan(file)?;
    print_plan(&saved.plan, json, output);
    Ok(ExitCode::SUCCESS)
}

fn print_plan(plan: &Plan, json: bool, output: Output) {
    if json {
        println!("{}", certplan_planner::render_json(plan));
    } else {
        print!("{}", certplan_planner::render(plan, output.stdout_color));
    }
}

/// Shows the plan an apply is about to make: text, or one `planned_change` event per change.
fn announce_plan(plan: &Plan, json: bool, output: Output) {
    if !json {
        print!("{}", certplan_planner::render(plan, output.stdout_color));
        return;
    }
    let rendered = certplan_planner::render_json(plan);
    for change in rendered["resource_changes"].as_array().into_iter().flatten() {
        if change["change"]["actions"] != serde_json::json!(["no-op"]) {
            emit(serde_json::json!({ "type": "planned_change", "change": change }));
        }
    }
}

/// Prints one JSON event line of `apply --json`.
fn emit(mut event: serde_json::Value) {
    event["@timestamp"] =
        serde_json::json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    println!("{event}");
}

fn json_event(event: Event<'_>) {
    use serde_json::json;
    let action = |a: Action| format!("{a:?}").to_lowercase();
    emit(match event {
        Event::Started { address, action: a } => {
            json!({ "type": "apply_start", "address": address.to_string(), "action": action(a) })
        }
        Event::StillApplying { address, action: a, elapsed } => json!({
            "type": "apply_progress", "address": address.to_string(), "action": action(a),
            "elapsed_seconds": elapsed
        }),
        Event::Completed { address, action: a, id, elapsed } => json!({
            "type": "apply_complete", "address": address.to_string(), "action": action(a),
            "certificate_id": id, "elapsed_seconds": elapsed
        }),
        Event::Failed { address, action: a, error } => json!({
            "type": "apply_errored", "address": address.to_string(), "action": action(a),
            "error": format!("{error:#}")
        }),
        Event::Deposed { address, id, error } => json!({
            "type": "deposed", "address": address.to_string(), "certificate_id": id,
            "error": error.to_string()
        }),
        Event::StillWaiting { address, id, elapsed, status } => json!({
            "type": "apply_progress", "address": address.to_string(), "certificate_id": id,
            "elapsed_seconds": elapsed, "status": status.name()
        }),
        Event::Issued { address, id, elapsed } => json!({
            "type": "issued", "address": address.to_string(), "certificate_id": id,
            "elapsed_seconds": elapsed
        }),
        Event::Recovered { address, id, error } => json!({
            "type": "recovered", "address": address.to_string(), "certificate_id": id,
            "error": error.to_string()
        }),
    });
}

/// Executes a plan the user has approved, waits for issuance where asked, and reports.
async fn execute(
    ws: &mut Workspace,
    plan: &Plan,
    args: &ApplyArgs,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ExitCode> {
    if !ws.moves.is_empty() {
        ws.store.save(&mut ws.state)?;
    }
    let wait = args.wait;
    let client = ws.connect(env).await?.clone();
    let stop = watch_interrupts();
    let changes = plan.changes.iter().filter(|c| c.action != Action::NoOp).count();
    let progress = Progress::new(changes, !args.json);
    let on_event = |event: Event<'_>| {
        if args.json { json_event(event) } else { progress.show(event) }
    };
    let report = engine::apply(
        plan,
        &ws.config,
        &mut ws.state,
        &mut ws.store,
        &client,
        &stop,
        usize::from(args.parallelism),
        &on_event,
    )
    .await
    .with_context(|| format!("could not save state to {}", ws.store.describe()))?;

    let mut failed = report.failed;
    let (waits, pending): (Vec<_>, Vec<_>) = report
        .pending
        .into_iter()
        .partition(|(address, _)| wait_limit(wait, &ws.config, address).is_some());
    if !waits.is_empty() && !stop.load(Ordering::SeqCst) {
        let waits = waits
            .into_iter()
            .filter_map(|(address, remote)| {
                let limit = wait_limit(wait, &ws.config, &address)?;
                eprintln!(
                    "{address}: waiting up to {} for certificate {} to be issued...",
                    humantime::format_duration(limit),
                    remote.id
                );
                Some((address, remote.id, limit))
            })
            .collect();
        let timed_out =
            engine::wait_for_issuance(&client, &mut ws.state, &mut ws.store, waits, &on_event)
                .await
                .with_context(|| format!("could not save state to {}", ws.store.describe()))?;
        failed.extend(timed_out);
    }
    progress.finish();

    if args.json {
        emit(serde_json::json!({
            "type": "change_summary",
            "added": report.added,
            "renewed": report.renewed,
            "changed": report.changed,
            "destroyed": report.destroyed,
            "forgotten": report.forgotten,
            "failed": failed.len(),
            "not_started": report.not_started.len(),
        }));
    } else {
        let forgotten = if report.forgotten > 0 {
            format!(", {} forgotten", report.forgotten)
        } else {
            String::new()
        };
        println!(
            "\nApply complete! Resources: {} added, {} renewed, {} changed, {} destroyed{forgotten}.",
            report.added, report.renewed, report.changed, report.destroyed
        );
    }
    record_outputs(ws, args.json)?;
    for (address, remote) in &pending {
        eprintln!("\n{address} ({}) is not issued yet:", remote.id);
        let automatic = ws
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
    let mut code = if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    };
    if !report.not_started.is_empty() {
        eprintln!("\nInterrupted: {} change(s) were not started:", report.not_started.len());
        for address in &report.not_started {
            eprintln!("  {address}");
        }
        eprintln!("Everything done so far is recorded; run apply again to finish.");
        code = ExitCode::from(1);
    }
    if !failed.is_empty() {
        eprintln!("\n{} change(s) failed:", failed.len());
        for (address, error) in &failed {
            eprintln!("  {address}: {error:#}");
        }
        code = ExitCode::from(1);
    }
    Ok(code)
}

/// Stops starting new work on the first SIGINT/SIGTERM (work in flight finishes and is
/// recorded); exits at once on the second — the intent journal keeps that safe.
fn watch_interrupts() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        shutdown_signal().await;
        flag.store(true, Ordering::SeqCst);
        eprintln!(
            "\nInterrupt received: no new changes will start; changes in flight finish and are recorded. Interrupt again to exit at once."
        );
        shutdown_signal().await;
        eprintln!("Second interrupt: exiting now. The next run checks what was in flight.");
        std::process::exit(130);
    });
    stop
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

/// Says in words what the engine did.
fn describe_event(event: Event<'_>) -> String {
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
        Event::Started { address, action } => format!("{address}: {}...", verbs(action).0),
        Event::StillApplying { address, action, elapsed } => {
            format!(
                "{address}: Still {}... [{elapsed:.0}s elapsed]",
                verbs(action).0.to_lowercase()
            )
        }
        Event::Completed { address, action, id, elapsed } => {
            let id = id.map(|id| format!(" [id={id}]")).unwrap_or_default();
            format!("{address}: {} complete after {elapsed:.1}s{id}", verbs(action).1)
        }
        Event::Failed { address, action, error } => {
            format!("{address}: {} failed: {error:#}", verbs(action).1)
        }
        Event::Deposed { address, id, error } => format!(
            "{address}: warning: the new certificate is in place, but the old one ({id}) could not be deleted: {error}\n  it is kept in state as deposed; the next apply deletes it"
        ),
        Event::StillWaiting { address, id, elapsed, status } => format!(
            "{address}: still waiting for certificate {id} to be issued ({status})... [{elapsed:.0}s elapsed]"
        ),
        Event::Issued { address, id, elapsed } => {
            format!("{address}: certificate {id} issued after {elapsed:.0}s")
        }
        Event::Recovered { address, id, error } => format!(
            "{address}: the response was lost ({error}); found certificate {id} it created, recorded it"
        ),
    }
}

fn show_event(event: Event<'_>) {
    eprintln!("{}", describe_event(event));
}

/// Shows events to a person: as lines above a progress bar of the whole apply on a terminal,
/// as plain lines elsewhere (pipes, CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(changes: usize, enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(changes as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30.green/dim} {pos}/{len} changes  [{elapsed}]",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress { bar }
    }

    fn show(&self, event: Event<'_>) {
        let Some(bar) = &self.bar else { return show_event(event) };
        if matches!(event, Event::Completed { .. } | Event::Failed { .. }) {
            bar.inc(1);
        }
        bar.println(describe_event(event));
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub async fn sandbox_serve(listen: &str, options: SandboxOptions) -> anyhow::Result<ExitCode> {
    options.faults.validate().map_err(anyhow::Error::msg)?;
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
