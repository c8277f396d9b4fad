//! `certplan import --from-terraform PATH [--generate-config FILE] [--dry-run]`: adopts every
//! `tencentcloud_ssl_free_certificate` of a Terraform state in one command — those the
//! configuration declares, and with `--generate-config` the others, for which it writes resource
//! blocks — checked against the cloud, recorded without applying for anything, and says how to
//! hand them over on Terraform's side.
//!
//! Nothing is written until everything is known: the Terraform state read, every certificate
//! looked up, the generated blocks parsed with the configuration. Then the file, then the state;
//! a state that cannot be saved takes the file back out, so a second run starts clean.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use certplan_engine::Adoption;
use certplan_parser::Source;
use certplan_planner::migration::{self, Fate};
use certplan_state::TerraformState;

use crate::project::Project;
use crate::settings::{Environment, Flags, Output, Settings};
use crate::ui::{self, plural};

/// What `import --from-terraform` was asked to do.
pub struct FromTerraform {
    /// The Terraform state, or the JSON of `terraform show -json`.
    pub path: PathBuf,
    /// Where to write resource blocks for the certificates without one.
    pub generate_config: Option<PathBuf>,
    pub dry_run: bool,
}

pub async fn from_terraform(
    flags: Flags,
    output: Output,
    env: Environment,
    args: &FromTerraform,
) -> anyhow::Result<ExitCode> {
    let terraform = read(&args.path)?;
    let generate = match &args.generate_config {
        Some(file) => Some(generated_file(file)?),
        None => None,
    };
    // The file to generate is read with the configuration: empty for now, so that a directory
    // holding only Terraform files loads — or as it is, when it exists. An existing file is
    // never written: a run with blocks to write then stops; one with none (the same command
    // again) goes on.
    let exists = generate.as_ref().is_some_and(|f| std::fs::symlink_metadata(f).is_ok());
    let placeholder =
        generate.iter().filter(|_| !exists).map(|file| Source::new(file, "")).collect();
    let (settings, config) =
        Settings::with_config_and(flags.clone(), output, env.clone(), placeholder)?;
    let operation = if args.dry_run { None } else { Some("import") };
    let mut ws = Project::open(settings, config, operation)?;
    // An interrupted run's applications are settled first: the certificate one created may be
    // the one to keep at an address.
    ws.reconcile(!args.dry_run).await?;

    let mut instances = migration::classify(&ws.config, &ws.state, &terraform, generate.is_some());
    let ids = migration::to_look_up(&instances);
    let found = if ids.is_empty() {
        Default::default()
    } else {
        // Each is looked up in its own account, whose provider must be declared.
        if let Some((provider, held)) =
            ids.iter().find(|(p, _)| ws.config.providers.get(p).is_none())
        {
            let alias = provider.alias().unwrap_or_default();
            bail!(
                "the Terraform state holds {} with provider {provider}, which the configuration does not declare: add provider \"tencentcloud\" {{ alias = \"{alias}\" ... }} with that account's credentials (its profile, or secret_id and secret_key from variables), then import again; nothing was imported",
                plural(held.len(), "certificate")
            );
        }
        ws.also_use(ids.keys().cloned());
        let accounts = ws.accounts().await?;
        let count = ids.values().map(Vec::len).sum();
        let from = crate::project::describe(&accounts);
        eprintln!("Reading {} from {from}...", plural(count, "certificate"));
        let mut found = certplan_core::Observed::new();
        for (provider, ids) in &ids {
            let read = certplan_engine::certificates(&accounts.get(provider)?.ssl, ids);
            found
                .extend(read.await.context(
                    "could not look the Terraform state's certificates up in the cloud",
                )?);
        }
        found
    };
    // None found, and none of the Terraform state's certificates recorded already (which would
    // show this is the right account): more likely the wrong account than all deleted.
    let managed = instances.iter().any(|i| matches!(i.fate, Fate::Managed(_)));
    let mut looked_up = ids.values().flatten();
    if !ids.is_empty() && !managed && looked_up.all(|id| !found.contains_key(id)) {
        let endpoint = crate::project::describe(&ws.accounts().await?);
        bail!(
            "none of the {} certificates to adopt exists in this account ({endpoint}): check that the credentials and endpoint are the ones Terraform uses; nothing was imported. (If they were all deleted, `terraform state rm` them instead.)",
            ids.values().map(Vec::len).sum::<usize>()
        );
    }
    migration::look_up(&ws.config, &ws.state, &mut instances, &found);

    // The blocks to write: each checked on its own (one certplan refuses is left behind, with
    // why), then all of them with the configuration, before anything is written.
    let mut text = None;
    if let Some(file) = &generate {
        let blocks = migration::blocks(file, &mut instances);
        if !blocks.is_empty() && exists {
            bail!(
                "--generate-config {}: the file exists, and certplan does not overwrite it; name a new file for the {} to write. Nothing was imported",
                file.display(),
                plural(blocks.len(), "block")
            );
        }
        if !blocks.is_empty() {
            let header = format!(
                "Written by `certplan import --from-terraform {}`: a block for each certificate\nthe configuration did not declare, with the arguments Terraform applied it with.\nEach import block names the certificate its resource already has: it plans no new one,\nand once the certificate is recorded it does nothing (keep it or delete it).",
                args.path.display()
            );
            let generated = certplan_parser::generate_config(&header, &blocks);
            let extra = vec![Source::new(file, generated.as_str())];
            let config = match Settings::with_config_and(flags, output, env, extra) {
                Ok((_, config)) => config,
                Err(e) => bail!(
                    "the blocks for {} do not load with the configuration, so nothing was written (a certplan bug: please report it):\n{}",
                    file.display(),
                    e.render(false)
                ),
            };
            ws.config = config;
            text = Some((file, generated, blocks.len()));
        }
    }

    let adopt: Vec<Adoption> = instances
        .iter()
        .filter_map(|i| match &i.fate {
            Fate::Adopt { address, remote: Some(remote), .. } => {
                let declared = super::import::declared(ws.config.resources.get(address)?);
                let (named, remote) = (i.terraform.id.clone(), (**remote).clone());
                Some(Adoption { address: address.clone(), declared, named, remote })
            }
            _ => None,
        })
        .collect();

    if !args.dry_run {
        if let Some((file, generated, _)) = &text {
            write_new(file, generated)?;
        }
        if !adopt.is_empty() {
            let saved = certplan_engine::import_all(&mut ws.state, ws.store.as_mut(), &adopt);
            if let Err(error) = saved {
                // Blocks for certificates the state does not record would plan new ones.
                if let Some((file, ..)) = &text {
                    let _ = std::fs::remove_file(file);
                }
                return Err(anyhow::Error::new(error).context(
                    "could not save the state; nothing was adopted, and the generated file is removed",
                ));
            }
        }
    }
    let written = text.as_ref().map(|(file, text, n)| (file.as_path(), text.as_str(), *n));
    ui::report_terraform_import(&shown(&args.path), &terraform, &instances, written, args.dry_run);
    let left = instances.iter().any(|i| matches!(i.fate, Fate::Left(_)));
    Ok(if left { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// How the Terraform state read from `path` is named.
fn shown(path: &Path) -> String {
    if path == Path::new("-") { "standard input".to_owned() } else { path.display().to_string() }
}

/// Reads the Terraform state at `path` (`-`: standard input, as `terraform state pull` pipes it).
fn read(path: &Path) -> anyhow::Result<TerraformState> {
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("cannot read the Terraform state from standard input")?;
        bytes
    } else {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        std::fs::read(path).with_context(|| format!("cannot read {}", absolute.display()))?
    };
    certplan_state::read_terraform_state(&bytes)
        .map_err(|e| anyhow::anyhow!("{} {e}; nothing was imported", shown(path)))
}

/// Checks that `file` is a `.hcl` file of the configuration directory, where certplan will read
/// it; returns it as the configuration names its files.
fn generated_file(file: &Path) -> anyhow::Result<PathBuf> {
    if file.extension().is_none_or(|e| e != certplan_parser::CONFIG_EXTENSION) {
        bail!(
            "--generate-config {}: the file must end in .hcl, or certplan would not read it as configuration",
            file.display()
        );
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(dir, Path::new(".")) {
        bail!(
            "--generate-config {}: the file must be in the configuration directory, where certplan reads *.hcl (it does not look in other directories)",
            file.display()
        );
    }
    if file.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
        bail!(
            "--generate-config {}: certplan does not read hidden files as configuration; name a file that does not start with a dot",
            file.display()
        );
    }
    Ok(PathBuf::from(file.file_name().unwrap_or_default()))
}

/// Writes `text` to `file`, which must not exist: created exclusively, so that nothing another
/// process wrote meanwhile is overwritten.
fn write_new(file: &Path, text: &str) -> anyhow::Result<()> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))
}
