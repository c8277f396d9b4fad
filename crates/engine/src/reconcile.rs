//! Settling the intent journal: an application whose outcome was not recorded (a lost response,
//! a crash between the call and the save) is looked up in the cloud before anything else, and
//! the certificate it created adopted — never applied for again.

use std::fmt;

use certplan_core::{Address, CertificateId};
use certplan_provider::Client;
use certplan_state::{Intent, State, StateStore};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};

use crate::error::ReconcileError;
use crate::ledger::Ledger;
use crate::options::Timing;
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
    client: &Client,
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
        .map(|intent| settle(client, &ledger, intent, writes.then_some(timing)))
        .buffer_unordered(RECONCILE_CONCURRENCY)
        .collect()
        .await;
    outcomes.into_iter().collect()
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
