//! Settling the intent journal: an application whose outcome was not recorded (a lost response,
//! a crash between the call and the save) is looked up in the cloud before anything else, and
//! the certificate it created adopted — never applied for again.

use std::fmt;

use certplan_core::{Address, CertificateId};
use certplan_provider::{Account, Accounts, Client};
use certplan_state::{Intent, State, StateStore};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};

use crate::acme;
use crate::error::{ObtainError, ReconcileError};
use crate::ledger::Ledger;
use crate::options::{AcmeInputs, Timing};
use crate::read::find_applied;
use crate::step::{Step, known_ids};

/// How long after an intent was written its application may still create a certificate: the
/// request's timeout, and a margin for the clocks of two machines and the service.
fn in_flight_window(client: &Client, timing: &Timing) -> chrono::Duration {
    let window = client.request_timeout() + timing.in_flight_margin;
    chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::seconds(25))
}

/// How one intent of an interrupted run was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The interrupted application created this certificate; it is now recorded.
    Adopted { address: Address, id: CertificateId, started_at: DateTime<Utc> },
    /// The interrupted application never reached the cloud.
    NeverReached { address: Address, started_at: DateTime<Utc> },
    /// The interrupted run's ACME order is left for an apply to resume (`why` it could not be
    /// finished now, when it was tried).
    OrderToResume { address: Address, url: String, why: Option<String> },
    /// The CA refused an order for the resource for its rate limits until `until`.
    Held { address: Address, until: DateTime<Utc> },
    /// The interrupted run's ACME order cannot be finished: the CA declared it invalid.
    OrderFailed { address: Address, url: String, why: String },
}

impl fmt::Display for Settled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match self {
            Settled::Adopted { address, id, started_at } => write!(
                f,
                "{address}: recorded certificate {id} applied for by an interrupted run at {}",
                at(started_at)
            ),
            Settled::NeverReached { address, started_at } => write!(
                f,
                "{address}: the application of an interrupted run at {} never reached the cloud",
                at(started_at)
            ),
            Settled::OrderToResume { address, url, why: None } => {
                write!(f, "{address}: the order {url} of an interrupted run is resumed by apply")
            }
            Settled::OrderToResume { address, url, why: Some(why) } => write!(
                f,
                "{address}: the order {url} of an interrupted run could not be finished yet ({why}); apply resumes it"
            ),
            Settled::Held { address, until } => write!(
                f,
                "{address}: the CA refuses orders for its rate limits until {}",
                at(until)
            ),
            Settled::OrderFailed { address, url, why } => {
                write!(f, "{address}: the order {url} of an interrupted run failed: {why}")
            }
        }
    }
}

/// How many intents are looked up at once (the client's pacer is the real bound).
const RECONCILE_CONCURRENCY: usize = 8;

/// Settles the intents an interrupted run left in `state`: adopts the certificate each one
/// created, or concludes the call never reached the cloud — a writer only once the call can
/// no longer be answered (its request's timeout, and `timing`'s margin, have passed). The
/// intents are looked up at once, under the pacer, and each is saved through `store` as soon as
/// it is settled, so that a run killed while reconciling keeps what it learnt. Without a store (a plan), nothing is saved.
pub async fn reconcile<'a>(
    accounts: &Accounts,
    acme: &AcmeInputs,
    state: &'a mut State,
    store: Option<&'a mut dyn StateStore>,
    timing: &Timing,
) -> Result<Vec<Settled>, ReconcileError> {
    let intents = state.intents.clone();
    // Only a writer waits for applications that may still be in flight: what it settles is
    // recorded, while a plan's view is its own, and a plan must not keep its reader waiting.
    let writes = store.is_some();
    let ledger = Ledger::new(state, store);
    let outcomes: Vec<Result<Settled, ReconcileError>> = stream::iter(intents)
        .map(|intent| async {
            // Looked for in the account it was made in.
            let account = accounts.get(&intent.args.provider)?;
            if intent.args.acme.is_some() {
                settle_order(account, acme, &ledger, intent, writes.then_some(timing)).await
            } else {
                settle(&account.ssl, &ledger, intent, writes.then_some(timing)).await
            }
        })
        .buffer_unordered(RECONCILE_CONCURRENCY)
        .collect()
        .await;
    outcomes.into_iter().collect()
}

/// Settles the intent of an ACME order: one without an order's URL placed none that was
/// finalized; a writer resumes one with a URL — finalizes it if it is ready, uploads the
/// certificate (an upload is never made twice) and records it.
async fn settle_order(
    account: &Account,
    acme: &AcmeInputs,
    ledger: &Ledger<'_>,
    intent: Intent,
    writer: Option<&Timing>,
) -> Result<Settled, ReconcileError> {
    let (address, started_at) = (intent.address.clone(), intent.started_at);
    let Some(url) = intent.order.clone() else {
        // Held back by the CA's rate limits: kept, so that nothing is ordered before then.
        if let Some(until) = intent.retry_after.filter(|t| *t > Utc::now()) {
            return Ok(Settled::Held { address, until });
        }
        ledger.record(Step::Settle(intent)).await?;
        return Ok(Settled::NeverReached { address, started_at });
    };
    // Resumed by a writer given the account's key (an apply), left alone by anything else.
    let registration = intent.args.acme.as_ref().map(|a| a.registration.as_str());
    let keyed = registration.is_some_and(|r| acme.account_keys.contains_key(r));
    let Some(timing) = writer.filter(|_| keyed) else {
        return Ok(Settled::OrderToResume { address, url, why: None });
    };
    // Reconciling is not interrupted: an interrupt ends the run once it is done.
    let never = tokio_util::sync::CancellationToken::new();
    let waits = acme::Waits { timing, cancel: &never };
    match acme::obtain(account, acme, ledger, intent, waits).await {
        Ok((id, intent)) => {
            let remote = account.ssl.certificate(&id).await.ok().map(Box::new);
            ledger.record(Step::Adopt { intent, id: id.clone(), remote }).await?;
            Ok(Settled::Adopted { address, id, started_at })
        }
        Err((ObtainError::State(e), _)) => Err(e.into()),
        Err((error, intent)) if error.settles(true) => {
            ledger.record(Step::Settle(intent)).await?;
            Ok(Settled::OrderFailed { address, url, why: error.to_string() })
        }
        Err((error, _)) => {
            Ok(Settled::OrderToResume { address, url, why: Some(error.to_string()) })
        }
    }
}

/// Settles one intent.
async fn settle(
    client: &Client,
    ledger: &Ledger<'_>,
    intent: Intent,
    wait_in_flight: Option<&Timing>,
) -> Result<Settled, ReconcileError> {
    let address = intent.address.clone();
    let started_at = intent.started_at;
    // Two intents for one domain are settled one after the other, so that the second cannot
    // take the first one's certificate.
    let domain_lock = ledger.domain_lock(&intent.args.domain);
    let _one_domain_at_a_time = domain_lock.lock().await;
    let mut found = find_applied(client, &ledger.read(known_ids), &intent).await?;
    // Nothing found is not yet "never reached" while the application may still be in flight:
    // a run that lost its lock (force-unlock, a network cut) while its request was on the
    // way may be answered for up to a request's timeout. Look again once that has passed.
    let in_flight_until =
        wait_in_flight.map(|timing| started_at + in_flight_window(client, timing));
    if let Some(in_flight_until) = in_flight_until
        && found.is_none()
        && Utc::now() < in_flight_until
    {
        let wait = (in_flight_until - Utc::now()).to_std().unwrap_or_default();
        tracing::info!(
            "{address}: the application of an interrupted run at {started_at} may still be in flight; looking again in {}s",
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        found = find_applied(client, &ledger.read(known_ids), &intent).await?;
    }
    let Some(found) = found else {
        ledger.record(Step::Settle(intent)).await?;
        return Ok(Settled::NeverReached { address, started_at });
    };
    let id = found.id.clone();
    // Adopting an interrupted replacement keeps its old certificate deposed, to be deleted.
    let remote = Some(Box::new(found));
    ledger.record(Step::Adopt { intent, id: id.clone(), remote }).await?;
    Ok(Settled::Adopted { address, id, started_at })
}
