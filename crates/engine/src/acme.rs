//! Obtaining a certificate from an ACME CA for a journaled intent (and publishing the DNS
//! validation records of free certificates, the same way): the order placed — or, when
//! the intent names one, resumed — its challenges answered (DNS-01 records in Tencent Cloud DNS
//! or through a program, HTTP-01 files in a webroot), published records seen on the zone's
//! servers before the CA looks, and removed afterwards (after a failure too), the order
//! finalized once with the key derived for it, and the certificate uploaded once (an upload sent
//! again finds the first).
//!
//! Exactly once: the order's URL is journaled as soon as the CA answers; a run that dies at any
//! point leaves an intent that the next run resumes by that URL. An order is finalized only
//! while the CA reports it ready, which it is once; an order placed whose URL was lost to a crash
//! was never finalized, and is left to expire.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certplan_core::{
    AcmeArgs, CertificateArgs, CertificateId, Challenge, DnsProvider, ValidationRecord,
    challenge_record,
};
use certplan_provider::acme::{AcmeClient, ChallengeToAnswer, OrderState};
use certplan_provider::{Account, Client, dns};
use certplan_state::Intent;

use crate::error::ObtainError;
use tokio_util::sync::CancellationToken;

use crate::ledger::Ledger;
use crate::options::{AcmeInputs, Timing};
use crate::step::Step;

/// The TTL of a published DNS-01 record: short, it lives for minutes.
const RECORD_TTL: u64 = 600;
/// The remark DNS-01 records certplan publishes carry, to tell them from the zone's others.
const RECORD_REMARK: &str = "certplan acme-challenge";
/// The remark of the DNS validation records of free certificates certplan publishes.
const VALIDATION_REMARK: &str = "certplan dv-auth";
/// How long a DNS-01 program may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of the end of a DNS-01 program's stderr is kept, to say why it failed.
const EXEC_STDERR_KEPT: usize = 4096;

/// How long the waits of an order are, and what ends them early: an interrupt leaves the order
/// journaled, for the next run to resume.
#[derive(Clone, Copy)]
pub(crate) struct Waits<'a> {
    pub(crate) timing: &'a Timing,
    pub(crate) cancel: &'a CancellationToken,
}

impl Waits<'_> {
    /// Sleeps for `duration`, unless the run is interrupted first.
    async fn pause(self, duration: Duration) -> Result<(), ObtainError> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(ObtainError::Interrupted),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

/// Obtains the certificate `intent` is for — placing its order, or resuming the one it names —
/// uploads it, and returns its id with the intent as journaled last (its order's URL in it).
pub(crate) async fn obtain(
    account: &Account,
    inputs: &AcmeInputs,
    ledger: &Ledger<'_>,
    mut intent: Intent,
    waits: Waits<'_>,
) -> Result<(CertificateId, Intent), (ObtainError, Intent)> {
    let result = obtain_inner(account, inputs, ledger, &mut intent, waits).await;
    match result {
        Ok(id) => Ok((id, intent)),
        Err(e) => Err((e, intent)),
    }
}

async fn obtain_inner(
    account: &Account,
    inputs: &AcmeInputs,
    ledger: &Ledger<'_>,
    intent: &mut Intent,
    waits: Waits<'_>,
) -> Result<CertificateId, ObtainError> {
    let timing = waits.timing;
    let Some(acme) = intent.args.acme.clone() else {
        return Err(ObtainError::NotAcme);
    };
    let names = acme.names(&intent.args.domain);
    let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let Some(key) = inputs.account_keys.get(&acme.registration) else {
        return Err(ObtainError::NoAccountKey { registration: acme.registration.clone() });
    };
    let client = AcmeClient::connect(&acme.server_url, key, inputs.roots.as_deref()).await?;
    let url = match intent.order.clone() {
        Some(url) => url,
        None => {
            let order = client.new_order(&names, acme.profile.as_deref()).await?;
            // A CA answers a new order for names it has a pending order for, from the same
            // account, with that one: another intent's (another resource's, or this one's for
            // another key type), whose key it would not share.
            let other = ledger.read(|s| {
                (s.intents.iter())
                    .find(|i| **i != *intent && i.order.as_deref() == Some(&order.url))
                    .map(|i| i.address.clone())
            });
            if let Some(other) = other {
                return Err(ObtainError::OrderShared { url: order.url, other });
            }
            let step = Step::Ordered { intent: intent.clone(), url: order.url.clone() };
            ledger.record(step).await?;
            intent.order = Some(order.url.clone());
            order.url
        }
    };
    let deadline = tokio::time::Instant::now() + timing.order_limit;
    let chain = loop {
        let order = client.order(&url).await?;
        match order.status {
            OrderState::Pending => {
                answer_challenges(&client, &account.dns, &acme, &url, waits).await?;
            }
            OrderState::Ready => client.finalize(&url, &names, acme.key_type).await?,
            OrderState::Valid => {
                if let Some(chain) = client.certificate(&url).await? {
                    break chain;
                }
            }
            OrderState::Processing => {}
            OrderState::Invalid => {
                return Err(ObtainError::OrderInvalid {
                    url,
                    why: order.error.unwrap_or_else(|| "no reason given".to_owned()),
                });
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ObtainError::OrderUnfinished { url, limit: timing.order_limit });
        }
        waits.pause(timing.order_poll).await?;
    };
    let key = client.certificate_key_pem(&url, acme.key_type)?;
    let alias = intent.args.alias.as_deref();
    let uploaded = account
        .ssl
        .upload_certificate(&chain, &key, alias, intent.args.project_id)
        .await
        .map_err(|error| ObtainError::Upload { url: url.clone(), error })?;
    Ok(uploaded.certificate_id)
}

/// Answers the order's pending challenges: publishes them all, waits until they can be seen,
/// tells the CA, waits for its verdict, and removes what was published whatever happened.
async fn answer_challenges(
    client: &AcmeClient,
    dns: &Client,
    acme: &AcmeArgs,
    url: &str,
    waits: Waits<'_>,
) -> Result<(), ObtainError> {
    let timing = waits.timing;
    let todo = client.challenges(url, acme.challenge.kind()).await?;
    if todo.is_empty() {
        return Ok(());
    }
    let mut published = Published::default();
    let outcome = async {
        for challenge in &todo {
            publish(dns, &acme.challenge, challenge, &mut published).await?;
        }
        if let Challenge::Dns { recursive_nameservers, .. } = &acme.challenge {
            wait_visible(&todo, recursive_nameservers, waits).await?;
        }
        let urls: Vec<String> = todo.iter().map(|c| c.url.clone()).collect();
        client.ready(url, &urls).await?;
        let deadline = tokio::time::Instant::now() + timing.order_limit;
        // Told to look, the CA is waited for even through an interrupt: removing the records
        // now would fail the validation (and count against the CA's limits).
        loop {
            tokio::time::sleep(timing.order_poll).await;
            let order = client.order(url).await?;
            if order.status != OrderState::Pending {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ObtainError::OrderUnfinished {
                    url: url.to_owned(),
                    limit: timing.order_limit,
                });
            }
        }
    }
    .await;
    // What could not be removed is said, and does not undo a validation that succeeded.
    if let Err(e) = published.remove(dns).await {
        tracing::warn!("{e}; remove it by hand");
    }
    outcome
}

/// What was published for one order's challenges, to remove afterwards.
#[derive(Default)]
struct Published {
    /// The zones of Tencent Cloud DNS, once listed.
    zones: Option<Vec<String>>,
    /// Tencent Cloud DNS records: zone and record id.
    records: Vec<(String, u64)>,
    /// Programs' records: program, name and value.
    exec: Vec<(PathBuf, String, String)>,
    files: Vec<PathBuf>,
}

impl Published {
    /// Removes everything published; the first failure is returned once all was tried.
    async fn remove(self, dns: &Client) -> Result<(), ObtainError> {
        let mut first = None;
        for (zone, id) in self.records {
            if let Err(error) = dns.delete_dns_record(&zone, id).await {
                first.get_or_insert(ObtainError::Dns {
                    what: format!("removing record {id} of {zone}"),
                    error: error.to_string(),
                });
            }
        }
        for (program, name, value) in self.exec {
            if let Err(e) = run_exec(&program, "cleanup", &name, "TXT", &value).await {
                first.get_or_insert(e);
            }
        }
        for file in self.files {
            if let Err(e) = std::fs::remove_file(&file)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                first.get_or_insert(ObtainError::Webroot {
                    path: file.clone(),
                    error: e.to_string(),
                });
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Publishes one challenge's answer.
async fn publish(
    dns: &Client,
    challenge: &Challenge,
    todo: &ChallengeToAnswer,
    published: &mut Published,
) -> Result<(), ObtainError> {
    let name = challenge_record(&todo.name);
    match challenge {
        Challenge::Dns { provider: DnsProvider::TencentCloud, .. } => {
            let record = Record { name: &name, record_type: "TXT", value: &todo.dns_value };
            let zones = &mut published.zones;
            let made = publish_in_tencent_dns(dns, zones, &record, RECORD_REMARK).await?;
            published.records.push(made);
        }
        Challenge::Dns { provider: DnsProvider::Exec { path }, .. } => {
            run_exec(path, "present", &name, "TXT", &todo.dns_value).await?;
            published.exec.push((path.clone(), name, todo.dns_value.clone()));
        }
        Challenge::Http { webroot } => {
            // The token names a file: only base64url (RFC 8555 §8.1), never a path.
            let token_ok = !todo.token.is_empty()
                && todo.token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !token_ok {
                return Err(ObtainError::Webroot {
                    path: webroot.clone(),
                    error: format!("the CA's token {:?} is not base64url", todo.token),
                });
            }
            let dir = webroot.join(".well-known/acme-challenge");
            let file = dir.join(&todo.token);
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(&file, &todo.key_authorization)
            };
            write()
                .map_err(|e| ObtainError::Webroot { path: file.clone(), error: e.to_string() })?;
            published.files.push(file);
        }
    }
    Ok(())
}

/// A DNS record to publish.
struct Record<'r> {
    name: &'r str,
    record_type: &'r str,
    value: &'r str,
}

/// Publishes `record` in the zone of Tencent Cloud DNS that holds it, with `remark`, unless a
/// record of that value is there already (left by an interrupted run); returns its zone and
/// id.
async fn publish_in_tencent_dns(
    dnspod: &Client,
    zones: &mut Option<Vec<String>>,
    record: &Record<'_>,
    remark: &str,
) -> Result<(String, u64), ObtainError> {
    let name = record.name;
    let dns_error = |what: String| {
        move |e: certplan_provider::Error| ObtainError::Dns { what, error: e.to_string() }
    };
    // The account's zones, listed once for all the records of an order.
    let zones = match zones {
        Some(zones) => zones,
        None => {
            let listed =
                dnspod.dns_zones().await.map_err(dns_error("listing the zones".to_owned()))?;
            zones.insert(listed.into_iter().map(|z| z.name).collect())
        }
    };
    let Some(zone) = zone_of(name, zones.iter().map(String::as_str)) else {
        return Err(ObtainError::NoZone { name: name.to_owned() });
    };
    let host = host_in(name, &zone);
    let existing = dnspod
        .records(&zone, &host, record.record_type)
        .await
        .map_err(dns_error(format!("reading {name}")))?;
    let same = |v: &str| v.trim_end_matches('.') == record.value.trim_end_matches('.');
    let id = match existing.iter().find(|r| r.enabled && same(&r.value)) {
        Some(found) => found.id,
        None => dnspod
            .create_record(&zone, &host, record.record_type, record.value, RECORD_TTL, remark)
            .await
            .map_err(dns_error(format!("publishing {name}")))?,
    };
    Ok((zone, id))
}

/// Publishes the records a free certificate's DNS validation asks for (`DvAuths`), through
/// `publisher`: left in place afterwards, as Tencent Cloud's own automatic records are. A
/// record there already is not made again; a program is run again, and must not mind.
pub(crate) async fn publish_validation(
    dns: &Client,
    publisher: &DnsProvider,
    records: &[ValidationRecord],
) -> Result<(), ObtainError> {
    let mut zones = None;
    for record in records {
        let ValidationRecord::Dns { name, record_type, value } = record else { continue };
        let name = name.trim_end_matches('.');
        match publisher {
            DnsProvider::TencentCloud => {
                let record = Record { name, record_type, value };
                publish_in_tencent_dns(dns, &mut zones, &record, VALIDATION_REMARK).await?;
            }
            DnsProvider::Exec { path } => {
                run_exec(path, "present", name, record_type, value).await?
            }
        }
    }
    Ok(())
}

/// Runs a DNS-01 program as lego's `exec` provider does: `PROGRAM present|cleanup FQDN VALUE`,
/// the name with its final dot; certbot's variables are set as well.
async fn run_exec(
    program: &Path,
    verb: &str,
    name: &str,
    record_type: &str,
    value: &str,
) -> Result<(), ObtainError> {
    let fqdn = format!("{name}.");
    let domain = name.strip_prefix("_acme-challenge.").unwrap_or(name);
    let mut command = tokio::process::Command::new(program);
    command
        .arg(verb)
        .arg(&fqdn)
        .arg(value)
        .env("CERTBOT_DOMAIN", domain)
        .env("CERTBOT_VALIDATION", value)
        .env("CERTPLAN_RECORD_TYPE", record_type)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let failed = |error: String| ObtainError::Exec {
        program: program.to_owned(),
        verb: verb.to_owned(),
        error,
    };
    // Only the end of what it writes to stderr is kept, to say why it failed: a program that
    // writes without end costs no memory.
    let run = async {
        let mut child = command.spawn()?;
        let tail = match child.stderr.take() {
            Some(stderr) => read_tail(stderr, EXEC_STDERR_KEPT).await?,
            None => Vec::new(),
        };
        Ok::<_, std::io::Error>((child.wait().await?, tail))
    };
    let (status, stderr) = tokio::time::timeout(EXEC_TIMEOUT, run)
        .await
        .map_err(|_| failed(format!("did not finish in {}s", EXEC_TIMEOUT.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&stderr);
    let last = stderr.lines().last().unwrap_or("").trim().to_owned();
    Err(failed(format!("{status} {last}")))
}

/// Reads `reader` to its end, keeping only its last `kept` bytes.
async fn read_tail(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    kept: usize,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut tail: Vec<u8> = Vec::with_capacity(kept);
    let mut chunk = [0u8; 4096];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok(tail);
        }
        tail.extend_from_slice(&chunk[..n]);
        let excess = tail.len().saturating_sub(kept);
        tail.drain(..excess);
    }
}

/// Waits until every DNS-01 record of `todo` is visible on `servers` (`host:port`), or on the
/// zone's authoritative servers when none are named.
async fn wait_visible(
    todo: &[ChallengeToAnswer],
    servers: &[String],
    waits: Waits<'_>,
) -> Result<(), ObtainError> {
    let timing = waits.timing;
    let deadline = tokio::time::Instant::now() + timing.propagation_limit;
    for challenge in todo {
        let name = challenge_record(&challenge.name);
        let servers: Vec<SocketAddr> = if servers.is_empty() {
            dns::authoritative_servers(&name).await.map_err(|error| ObtainError::Dns {
                what: format!("finding the servers of {name}"),
                error,
            })?
        } else {
            let mut resolved = Vec::new();
            for server in servers {
                let found = tokio::net::lookup_host(server.as_str()).await.map_err(|e| {
                    ObtainError::Dns { what: format!("resolving {server}"), error: e.to_string() }
                })?;
                resolved.extend(found.take(1));
            }
            resolved
        };
        loop {
            // A server that fails to answer is asked again, as one that does not have it yet.
            let values = dns::txt_values(&servers, &name).await;
            if values.as_ref().is_ok_and(|v| v.contains(&challenge.dns_value)) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                if let Err(error) = values {
                    return Err(ObtainError::Dns { what: format!("looking up {name}"), error });
                }
                return Err(ObtainError::NotPropagated { name, limit: timing.propagation_limit });
            }
            waits.pause(timing.propagation_poll).await?;
        }
    }
    Ok(())
}

/// Whether an order journaled for `journaled` is for the certificate `declared` asks for: the
/// same names, key type, CA, account and profile (how it is validated does not matter).
pub(crate) fn same_certificate(journaled: &CertificateArgs, declared: &CertificateArgs) -> bool {
    match (&journaled.acme, &declared.acme) {
        (Some(a), Some(b)) => {
            let mut names = (a.names(&journaled.domain), b.names(&declared.domain));
            names.0.sort_unstable();
            names.1.sort_unstable();
            names.0 == names.1
                && (a.key_type, &a.server_url, &a.registration, &a.profile)
                    == (b.key_type, &b.server_url, &b.registration, &b.profile)
        }
        _ => false,
    }
}

/// The zone of `name` among `zones`: the longest that is `name` or one of its parents.
fn zone_of<'z>(name: &str, zones: impl Iterator<Item = &'z str>) -> Option<String> {
    zones
        .filter(|zone| name == *zone || name.ends_with(&format!(".{zone}")))
        .max_by_key(|zone| zone.len())
        .map(str::to_owned)
}

/// `name`'s host within `zone`: `_acme-challenge.www` of `_acme-challenge.www.example.com`.
fn host_in(name: &str, zone: &str) -> String {
    match name.strip_suffix(zone).and_then(|h| h.strip_suffix('.')) {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => "@".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_end_of_a_long_output_is_kept() {
        let long: Vec<u8> = (0..1_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let tail = read_tail(&long[..], 4096).await.expect("read");
        assert_eq!(tail, &long[long.len() - 4096..]);
        assert_eq!(read_tail(&b"short"[..], 4096).await.expect("read"), b"short");
    }

    #[test]
    fn a_record_goes_into_the_longest_zone_that_holds_it() {
        let zones = ["example.com", "dev.example.com", "other.com"];
        let zone = zone_of("_acme-challenge.a.dev.example.com", zones.into_iter());
        assert_eq!(zone.as_deref(), Some("dev.example.com"));
        assert_eq!(
            host_in("_acme-challenge.a.dev.example.com", "dev.example.com"),
            "_acme-challenge.a"
        );
        assert_eq!(zone_of("_acme-challenge.example.org", zones.into_iter()), None);
        assert_eq!(zone_of("_acme-challenge.notexample.com", zones.into_iter()), None);
    }
}
