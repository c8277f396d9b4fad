//! Settling the intent journal: an application whose outcome was not recorded (a lost response,
//! a crash between the call and the save) is looked up in the cloud before anything else, and
//! the certificate it created adopted — never applied for again.

use std::collections::BTreeSet;
use std::fmt;

use certplan_core::{Address, RemoteCertificate};
use certplan_provider::{Client, Error as ProviderError};
use certplan_state::{Deposed, Intent, IntentKind, State};
use chrono::{DateTime, Utc};

use crate::import::adopt;

/// How far the service's clock may be behind ours when matching a certificate to an intent
/// (the API itself refuses requests more than 5 minutes off).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// How one intent of an interrupted run was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The interrupted application created this certificate; it is now recorded.
    Adopted { address: Address, id: String, started_at: DateTime<Utc> },
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

/// Settles the intents an interrupted run left in `state`: adopts the certificate each one
/// created, or concludes the call never reached the cloud. The caller saves.
pub async fn reconcile(client: &Client, state: &mut State) -> Result<Vec<Settled>, ProviderError> {
    let mut settled = Vec::new();
    for intent in state.intents.clone() {
        let address = intent.address.clone();
        let started_at = intent.started_at;
        match find_applied(client, &known_ids(state), &intent).await? {
            Some(found) => {
                adopt(state, &intent, &found.id, Some(&found));
                // The interrupted replacement may not have deleted its old certificate.
                if intent.action == IntentKind::Replace
                    && let Some(old) = &intent.old_certificate_id
                {
                    state.deposed.push(Deposed {
                        address: address.clone(),
                        certificate_id: old.clone(),
                        since: intent.started_at,
                        last_error: "the run replacing it was interrupted".to_owned(),
                    });
                }
                settled.push(Settled::Adopted { address, id: found.id, started_at });
            }
            None => {
                state.intents.retain(|i| i != &intent);
                settled.push(Settled::NeverReached { address, started_at });
            }
        }
    }
    Ok(settled)
}

/// Looks in the cloud for a certificate that `intent`'s application created: same domain,
/// inserted after the intent was written, and not one state knows already.
pub(crate) async fn find_applied(
    client: &Client,
    known: &BTreeSet<String>,
    intent: &Intent,
) -> Result<Option<RemoteCertificate>, ProviderError> {
    let since = intent.started_at - CLOCK_SKEW;
    let found = client.certificates_by_search(&intent.args.domain).await?;
    Ok(found
        .into_iter()
        .filter(|c| c.domain == intent.args.domain && !known.contains(&c.id))
        .filter(|c| c.inserted_at.is_some_and(|t| t >= since))
        .min_by_key(|c| c.inserted_at))
}

/// Returns every certificate id state knows: recorded, renewed from, or deposed.
pub(crate) fn known_ids(state: &State) -> BTreeSet<String> {
    state
        .resources
        .values()
        .flat_map(|r| std::iter::once(&r.certificate_id).chain(&r.renewed_from))
        .chain(state.deposed.iter().map(|d| &d.certificate_id))
        .cloned()
        .collect()
}
