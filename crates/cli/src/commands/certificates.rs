//! `certplan certificates`: every certificate in each account — managed by certplan or not —
//! soonest to expire first, with where it is bound; `--expiring-within` turns a scheduled run
//! red when one that serves something expires within the window; `--html` draws it as a page.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use certplan_core::{CertificateId, EXIT_ATTENTION};
use certplan_parser::Config;
use certplan_planner::inventory::{self, Entry, Managed};

use crate::project::Project;
use crate::settings::Settings;
use crate::stdout::outln;
use crate::ui;

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub json: bool,
    /// Exit 3 when a certificate that serves something expires within this long.
    pub expiring_within: Option<Duration>,
    /// Write the inventory as a self-contained HTML page to this file.
    pub html: Option<PathBuf>,
}

/// What the page puts at the top when `--expiring-within` does not say.
const PAGE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

pub async fn certificates(
    settings: Settings,
    config: Config,
    options: &Options,
) -> anyhow::Result<ExitCode> {
    let mut ws = Project::open(settings, config, None)?;
    // Every account the configuration declares, besides those in use; the default one when
    // there is nothing else.
    let mut declared = ws.config.providers.declared();
    if declared.is_empty() {
        declared.push(certplan_core::ProviderRef::DEFAULT);
    }
    ws.also_use(declared);
    let accounts = ws.accounts().await?;
    let timing = ws.settings.timing(&ws.config.providers);
    let now = ws.settings.plan_time(&ws.config.providers);
    let providers: Vec<String> = accounts.iter().map(|(p, _)| p.to_string()).collect();
    let whose = if providers.len() == 1 { "the account" } else { "the accounts" };
    eprintln!("Listing the certificates in {whose} of {}...", providers.join(", "));
    // Each account is listed and asked where its certificates are bound, the accounts at once:
    // a bind query takes seconds.
    let read = accounts.iter().map(|(provider, account)| {
        let timing = &timing;
        async move {
            let all = (account.ssl.all_certificates().await).with_context(|| {
                format!("could not list the certificates of {provider}'s account")
            })?;
            // Only an issued one, or an expired one, can be installed anywhere.
            let issued: Vec<CertificateId> = (all.iter())
                .filter(|c| inventory::serves(c.status))
                .map(|c| c.id.clone())
                .collect();
            let bound = if issued.is_empty() {
                BTreeMap::new()
            } else {
                match certplan_engine::bindings(&account.ssl, &issued, timing).await {
                    Ok(answers) => answers,
                    Err(error) => {
                        let why = ui::chain(&error);
                        issued.into_iter().map(|id| (id, Err(why.clone()))).collect()
                    }
                }
            };
            anyhow::Ok((provider.clone(), all, bound))
        }
    });
    let mut listed = Vec::new();
    let mut bound = BTreeMap::new();
    // Every account answers before an error stops the command: the first one, in their order.
    for read in futures_util::future::join_all(read).await {
        let (provider, all, answers) = read?;
        bound.extend(answers);
        listed.push((provider, all));
    }
    let entries = inventory::inventory(&ws.config, &ws.state, listed, &bound);
    let after = |within: Duration| certplan_core::later_by(now, within);
    let until = options.expiring_within.map(after);
    if let Some(path) = &options.html {
        let page =
            inventory::inventory_html(&entries, now, until.unwrap_or_else(|| after(PAGE_WINDOW)));
        certplan_state::write_atomically(path, page.as_bytes())
            .with_context(|| format!("cannot write the page to {}", path.display()))?;
        eprintln!("Wrote {}", path.display());
    }
    if options.json {
        outln!("{}", inventory::inventory_json(&entries, now, until));
    } else {
        show(&entries, now);
    }
    let expiring: Vec<&Entry> = until.map_or_else(Vec::new, |until| {
        entries.iter().filter(|e| e.bound_and_expiring(until)).collect()
    });
    for e in &expiring {
        let c = &e.certificate;
        let served = match &e.bound {
            Ok(resources) => {
                resources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            }
            Err(why) => format!("what the service cannot say ({why})"),
        };
        eprintln!(
            "{} ({}, {}) serves {} and expires {}",
            c.id,
            c.domain,
            e.managed.address().map_or("unmanaged".to_owned(), ToString::to_string),
            served,
            c.not_after.map_or("at a date the service does not give".to_owned(), |t| format!(
                "on {} (in {} days)",
                t.format("%Y-%m-%d"),
                (t - now).num_days()
            ))
        );
        // Only a free one: a paid or uploaded certificate is not one certplan applies for.
        let free = matches!(c.source, None | Some(certplan_core::CertificateSource::Free));
        if e.managed == Managed::Unmanaged && free {
            eprintln!("  {}", adopt_hint(e));
        }
    }
    Ok(if expiring.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_ATTENTION) })
}

/// Says how to have certplan renew an unmanaged certificate: declare it and import it.
fn adopt_hint(e: &Entry) -> String {
    let c = &e.certificate;
    let mut name: String =
        c.domain.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' }).collect();
    // A resource name starts with a letter or an underscore.
    if name.starts_with(|ch: char| ch.is_ascii_digit()) {
        name.insert(0, '_');
    }
    let provider = if e.provider.is_default() {
        String::new()
    } else {
        format!("  provider       = {}\n", e.provider)
    };
    format!(
        "to have certplan renew it, declare it and import it (then `certplan plan`):\n\nresource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n{provider}  domain         = \"{}\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n\nimport {{\n  to = tencentcloud_ssl_free_certificate.{name}\n  id = \"{}\"\n}}\n",
        c.domain, c.id
    )
}

/// Prints the inventory as a table.
fn show(entries: &[Entry], now: chrono::DateTime<chrono::Utc>) {
    if entries.is_empty() {
        outln!("No certificates in the account.");
        return;
    }
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            let c = &e.certificate;
            let expires = c.not_after.map_or("-".to_owned(), |t| {
                format!("{} ({}d)", t.format("%Y-%m-%d"), (t - now).num_days())
            });
            let bound = match &e.bound {
                Ok(resources) if resources.is_empty() => "-".to_owned(),
                Ok(resources) => {
                    resources.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                }
                Err(_) => "unknown".to_owned(),
            };
            let managed = match &e.managed {
                Managed::Resource(a) => a.to_string(),
                Managed::Replaced(a) => format!("{a} (replaced)"),
                Managed::Deposed(a) => format!("{a} (to delete)"),
                Managed::Unmanaged => "unmanaged".to_owned(),
            };
            let source = c.source.map_or("-", certplan_core::CertificateSource::name);
            [
                expires,
                c.status.name().to_owned(),
                source.to_owned(),
                c.id.to_string(),
                c.domain.clone(),
                managed,
                bound,
            ]
        })
        .collect();
    let header = ["EXPIRES", "STATUS", "SOURCE", "ID", "DOMAIN", "MANAGED BY", "BOUND TO"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    outln!("{}", line(header));
    for row in &rows {
        outln!("{}", line(row.each_ref().map(String::as_str)));
    }
}
