//! The command line: clap's definitions, turned into each command's options and the settings
//! flags. Nothing below the command layer sees these types.

use std::path::PathBuf;

use certplan_core::Address;
use certplan_parser::VarFlag;
use clap::{ArgAction, Args, Parser, Subcommand};

mod sandbox;

pub use sandbox::{ConsoleArgs, SandboxCommand};

use crate::commands::apply::ApplyOptions;
use crate::commands::plan::PlanOptions;
use crate::settings::Flags;

#[derive(Debug, Parser)]
#[command(
    name = "certplan",
    version,
    about = "Declare Tencent Cloud free SSL certificates in HCL; plan, apply and renew them",
    propagate_version = true
)]
pub struct Cli {
    /// Switch to DIR (the configuration directory) before doing anything else
    #[arg(long, global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Never colour the output (NO_COLOR is respected too)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// The workspace: one state per environment in one backend [default: $CERTPLAN_WORKSPACE,
    /// else `default`]
    #[arg(long, global = true, value_name = "NAME")]
    pub workspace: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would do, and why
    Plan(PlanArgs),
    /// Apply for missing certificates and renew due ones, as planned
    Apply(ApplyArgs),
    /// Check the configuration without credentials or network
    Validate {
        /// Print the result as JSON, in the shape of `terraform validate -json`
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Rewrite configuration and variables files in the canonical style, keeping comments
    Fmt {
        /// Files or directories to format (`-` formats standard input to standard output)
        #[arg(value_name = "PATH", default_value = ".")]
        paths: Vec<PathBuf>,
        /// Change nothing: list the files that are not formatted and exit with status 3 if any
        #[arg(long)]
        check: bool,
        /// Show the changes as a unified diff
        #[arg(long)]
        diff: bool,
        /// Also format the directories inside the given ones
        #[arg(long)]
        recursive: bool,
    },
    /// List every certificate in each account, managed by certplan or not, soonest to expire
    /// first, with where each is bound
    Certificates {
        #[command(flatten)]
        common: CommonArgs,
        /// Print the list as JSON
        #[arg(long)]
        json: bool,
        /// Exit 3 when a certificate that serves something expires within DURATION (e.g. 30d)
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expiring_within: Option<std::time::Duration>,
        /// Write a self-contained HTML page of the inventory to FILE
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Update the state from the cloud without changing anything
    Refresh {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[command(flatten)]
        selection: SelectionArgs,
    },
    /// Adopt certificates that already exist as declared resources, without applying again: one
    /// (ADDRESS ID), or every one of a Terraform state (--from-terraform)
    Import {
        /// The resource address in the configuration, e.g. tencentcloud_ssl_free_certificate.www
        #[arg(required_unless_present = "from_terraform", conflicts_with = "from_terraform")]
        address: Option<Address>,
        /// The certificate id in Tencent Cloud
        #[arg(required_unless_present = "from_terraform")]
        certificate_id: Option<String>,
        /// Adopt every tencentcloud_ssl_free_certificate of a Terraform state: terraform.tfstate,
        /// what `terraform state pull` prints, or the JSON of `terraform show -json`. A resource
        /// in module `edge` is adopted as `edge__NAME`; instance keys stay as they are
        #[arg(long, value_name = "PATH")]
        from_terraform: Option<PathBuf>,
        /// With --from-terraform: write a resource block for each certificate the configuration
        /// does not declare to FILE (a new .hcl file in the configuration directory), and adopt
        /// those too
        #[arg(long, value_name = "FILE", requires = "from_terraform")]
        generate_config: Option<PathBuf>,
        /// With --from-terraform: show what would be adopted and written, and write nothing
        #[arg(long, requires = "from_terraform")]
        dry_run: bool,
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Run the on_change hooks of exports now, for the files in place and with the variables
    /// of their last write, without a renewal: to test a hook. Changes nothing
    RunHooks {
        /// Only these resources' hooks (all when none is named)
        #[arg(value_name = "ADDRESS")]
        addresses: Vec<Address>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Show the outputs recorded by the last apply (sensitive ones only by name)
    Output {
        /// One output; shown even when it is sensitive
        name: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Inspect, change or move the state directly (list, show, rm, mv, pull, push)
    #[command(subcommand)]
    State(StateCommand),
    /// Release a state lock a run left behind (ending the PostgreSQL session that holds it)
    ForceUnlock {
        /// The id of the lock to release, as the message of a refused lock shows it
        /// ("lock id 12345"): a lock held by any other is left alone
        #[arg(value_name = "LOCK_ID")]
        lock_id: String,
        /// Release it without asking for confirmation
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Show a plan saved by `certplan plan --out`
    Show {
        /// The plan file
        #[arg(value_name = "PLANFILE")]
        plan_file: PathBuf,
        /// Print it as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run or control a local emulator of the Tencent Cloud SSL API
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Nothing to do: certplan needs no init (its provider is built in, its backend is connected
    /// on first use)
    #[command(hide = true, disable_help_flag = true)]
    Init {
        /// Whatever `terraform init` would take; ignored
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ignored: Vec<String>,
    },
    /// Print a shell completion script (e.g. `certplan completions bash > /etc/bash_completion.d/certplan`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

/// What every command that talks to the cloud takes: where the state is, which cloud, which
/// credentials, which variable values.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// The state file [default: certplan.state.json in the configuration directory, or
    /// .certplan/sandbox.state.json with --sandbox]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Talk to an embedded sandbox instead of Tencent Cloud (no account needed); its data is
    /// kept in .certplan/ in the configuration directory
    #[arg(long)]
    pub sandbox: bool,

    /// The tccli profile to read credentials from (~/.tccli/NAME.credential) when the
    /// TENCENTCLOUD_SECRET_ID/KEY variables are not set [default: $TENCENTCLOUD_PROFILE, else
    /// default]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Never ask anything: --input=false makes an apply that would ask for confirmation fail
    /// instead (certplan asks nothing else; variables come from flags, files and the environment)
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub input: bool,

    #[command(flatten)]
    pub vars: VarArgs,
}

/// Whether to read the cloud before planning.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Read the cloud before planning; --refresh=false plans from the state file alone
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub refresh: bool,
}

/// How a command that writes the state takes its lock.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Lock the state while writing it; --lock=false is for emergencies only
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub lock: bool,

    /// How long to wait for a state lock another run holds
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// Which resources a command covers.
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Plan only this resource (repeatable), e.g. tencentcloud_ssl_free_certificate.www
    #[arg(long, value_name = "ADDR")]
    pub target: Vec<Address>,

    /// Leave this resource out of the plan (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub exclude: Vec<Address>,
}

/// What plan and apply share: the cloud and state, whether to read the cloud, what to plan.
#[derive(Debug, Args)]
pub struct PlanningArgs {
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(flatten)]
    pub refresh: RefreshArgs,

    #[command(flatten)]
    pub selection: SelectionArgs,

    /// Apply for a new certificate for this resource, whatever its state (repeatable) — e.g.
    /// after fixing the DNS of a domain whose validation failed twice
    #[arg(long, value_name = "ADDR")]
    pub replace: Vec<Address>,
}

/// Variable values; later ones win, in command-line order (and over `CERTPLAN_VAR_<name>`,
/// certplan.tfvars and *.auto.tfvars).
#[derive(Debug, Args)]
pub struct VarArgs {
    /// Set a variable (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub var: Vec<(String, String)>,

    /// Read variables from a file of `name = value` lines (repeatable)
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_file: Vec<PathBuf>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, not {text:?}")),
    }
}

impl VarArgs {
    /// Returns the variable flags in the order they were given on the command line: `--var`
    /// and `--var-file` interleave, and the later one wins, as in Terraform.
    pub fn in_order(&self, raw_args: &[String]) -> Vec<VarFlag> {
        let mut assigns = self.var.iter();
        let mut files = self.var_file.iter();
        let mut flags = Vec::new();
        for arg in raw_args {
            let next = if arg == "--var" || arg.starts_with("--var=") {
                assigns
                    .next()
                    .map(|(name, raw)| VarFlag::Assign { name: name.clone(), raw: raw.clone() })
            } else if arg == "--var-file" || arg.starts_with("--var-file=") {
                files.next().map(|f| VarFlag::File(f.clone()))
            } else {
                None
            };
            flags.extend(next);
        }
        flags
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub planning: PlanningArgs,

    /// Accepted as Terraform spells it, and ignored: a plan takes no lock
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true)]
    pub lock: Option<bool>,

    /// Accepted as Terraform spells it, and ignored: a plan takes no lock
    #[arg(long, hide = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,

    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Save the plan to FILE, for `certplan apply FILE` to apply exactly
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Print the plan as JSON (docs/json-output.md) instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `certplan plan --out`: applied exactly, without asking, or refused if
    /// the state or configuration changed since
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,

    #[command(flatten)]
    pub planning: PlanningArgs,

    #[command(flatten)]
    pub lock: LockArgs,

    /// Apply without asking for confirmation (required when not on a terminal)
    #[arg(long)]
    pub auto_approve: bool,

    /// Exit 0 when there was nothing to do, 2 when changes were made, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Stream one JSON event per line (docs/json-output.md); needs --auto-approve or a plan file
    #[arg(long)]
    pub json: bool,

    /// How many changes to make at once in each account (the API's rate limit, not this, is the
    /// real bound; each account has its own)
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    /// Wait until new certificates are issued, for up to DURATION (default 30m); overrides
    /// the wait_for_issuance settings of the configuration
    #[arg(
        long,
        value_name = "DURATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "30m",
        value_parser = humantime::parse_duration
    )]
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the resources in the state
    List(StateArgs),
    /// Show one resource's record
    Show {
        address: Address,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Forget a resource: drop it from the state, leave its certificate in the cloud
    Rm {
        address: Address,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Rename a resource in the state (no new application)
    Mv {
        from: Address,
        to: Address,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print the state, from whichever backend keeps it, as the JSON of the local format
    Pull(StateArgs),
    /// Store a local state file in the configured backend (e.g. moving to PostgreSQL)
    Push {
        /// The state file to store
        file: PathBuf,
        /// Store it even over a state of another lineage, a higher serial, or a different
        /// state with the same serial
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// The state file [default: certplan.state.json in the configuration directory, or
    /// .certplan/sandbox.state.json with --sandbox]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// Work on the embedded sandbox's state (what `apply --sandbox` recorded)
    #[arg(long)]
    pub sandbox: bool,

    /// How long to wait for a state lock another run holds
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

impl CommonArgs {
    /// The settings flags; `raw_args` is the command line, for the order of variable flags. The
    /// state is read from the cloud and locked unless the caller says otherwise.
    pub fn flags(&self, raw_args: &[String]) -> Flags {
        Flags {
            state: self.state.clone(),
            workspace: None,
            refresh: true,
            sandbox: self.sandbox,
            lock: true,
            lock_timeout: std::time::Duration::ZERO,
            profile: self.profile.clone(),
            vars: self.vars.in_order(raw_args),
        }
    }

    /// The same, locked as `lock` says.
    pub fn locked_flags(&self, raw_args: &[String], lock: &LockArgs) -> Flags {
        Flags { lock: lock.lock, lock_timeout: lock.lock_timeout, ..self.flags(raw_args) }
    }
}

impl SelectionArgs {
    /// Which resources to plan.
    pub fn selection(&self) -> certplan_planner::PlanOptions {
        certplan_planner::PlanOptions {
            targets: self.target.clone(),
            excludes: self.exclude.clone(),
            ..Default::default()
        }
    }
}

impl PlanningArgs {
    /// Which resources to plan, and which to replace.
    pub fn selection(&self) -> certplan_planner::PlanOptions {
        certplan_planner::PlanOptions {
            replace: self.replace.clone(),
            ..self.selection.selection()
        }
    }
}

impl StateArgs {
    /// The settings flags of a command that reads or writes state alone.
    pub fn flags(&self) -> Flags {
        Flags {
            state: self.state.clone(),
            sandbox: self.sandbox,
            lock: true,
            lock_timeout: self.lock_timeout,
            ..Flags::default()
        }
    }
}

impl PlanArgs {
    /// The settings flags: a plan reads the state and takes no lock.
    pub fn flags(&self, raw_args: &[String]) -> Flags {
        Flags { refresh: self.planning.refresh.refresh, ..self.planning.common.flags(raw_args) }
    }

    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            selection: self.planning.selection(),
            detailed_exitcode: self.detailed_exitcode,
            out: self.out.clone(),
            json: self.json,
        }
    }
}

impl ApplyArgs {
    pub fn flags(&self, raw_args: &[String]) -> Flags {
        Flags {
            refresh: self.planning.refresh.refresh,
            ..self.planning.common.locked_flags(raw_args, &self.lock)
        }
    }

    pub fn options(&self) -> ApplyOptions {
        ApplyOptions {
            plan_file: self.plan_file.clone(),
            selection: self.planning.selection(),
            auto_approve: self.auto_approve,
            input: self.planning.common.input,
            detailed_exitcode: self.detailed_exitcode,
            json: self.json,
            parallelism: usize::from(self.parallelism),
            wait: self.wait,
        }
    }
}

/// Spells Terraform's single-dash flags (`-auto-approve`, `-out=FILE`, `-var 'k=v'`) as clap
/// reads them (`--auto-approve`): every argument of a dash, a letter and at least one more
/// letter, digit or dash, with or without `=VALUE`, before a `--` that ends the flags, and not
/// the value of the flag before it. A mistyped one then gets clap's "a similar argument exists".
pub fn terraform_spelling(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut spelled = Vec::new();
    let mut flags_ended = false;
    let mut value_expected = false;
    let with_values = flags_with_values();
    for arg in args {
        let single_dash_flag = !flags_ended && !value_expected && {
            let name = arg.strip_prefix('-').unwrap_or("");
            let name = name.split_once('=').map_or(name, |(name, _)| name);
            name.len() >= 2
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        flags_ended |= arg == "--";
        let spelled_arg = if single_dash_flag { format!("-{arg}") } else { arg };
        // `--var NAME=VALUE`: the next argument is a value, whatever it looks like.
        value_expected = !value_expected
            && spelled_arg.starts_with("--")
            && !spelled_arg.contains('=')
            && with_values.contains(&spelled_arg[2..]);
        spelled.push(spelled_arg);
    }
    spelled
}

/// The long flags, of any command, whose value may be the next argument.
fn flags_with_values() -> std::collections::BTreeSet<String> {
    fn collect(command: &clap::Command, into: &mut std::collections::BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long()
                && arg.get_action().takes_values()
                && !arg.is_require_equals_set()
            {
                into.insert(long.to_owned());
            }
        }
        command.get_subcommands().for_each(|sub| collect(sub, into));
    }
    let mut flags = std::collections::BTreeSet::new();
    collect(&<Cli as clap::CommandFactory>::command(), &mut flags);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_flags_keep_their_command_line_order() {
        let raw: Vec<String> = [
            "certplan",
            "plan",
            "--var-file",
            "a.vars",
            "--var",
            "x=1",
            "--var=y=2",
            "--var-file=b.vars",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let cli = Cli::try_parse_from(&raw).expect("parses");
        let Command::Plan(args) = cli.command else { panic!("plan") };
        assert_eq!(
            args.planning.common.vars.in_order(&raw),
            [
                VarFlag::File("a.vars".into()),
                VarFlag::Assign { name: "x".into(), raw: "1".into() },
                VarFlag::Assign { name: "y".into(), raw: "2".into() },
                VarFlag::File("b.vars".into()),
            ]
        );
        assert!(Cli::try_parse_from(["certplan", "plan", "--var", "novalue"]).is_err());
    }

    #[test]
    fn terraform_single_dash_flags_get_two_dashes_and_values_stay() {
        let spelled = terraform_spelling(
            [
                "certplan",
                "-chdir=x",
                "apply",
                "-auto-approve",
                "-var",
                "-x-y",
                "-h",
                "-",
                "--",
                "-out",
            ]
            .map(String::from),
        );
        assert_eq!(
            spelled,
            [
                "certplan",
                "--chdir=x",
                "apply",
                "--auto-approve",
                "--var",
                "-x-y",
                "-h",
                "-",
                "--",
                "-out"
            ]
        );
    }
}
