//! Reading the cloud: what state records (a refresh), with the renewals made elsewhere, and the
//! certificate an application whose answer was lost may have created.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use certplan_core::{
    BoundResource, CertificateId, Observed, ProviderRef, RemoteCertificate, ValidationRecord,
};
use certplan_provider::{
    Accounts, BIND_QUERY_LIMIT, BindQuery, Client, DESCRIBE_PAGE_LIMIT, Error as ProviderError,
};
use certplan_state::{Intent, State};
use futures_util::{StreamExt, TryStreamExt, stream};

/// How many describe calls a refresh keeps in flight (the rate limiter paces them).
const REFRESH_CONCURRENCY: usize = 8;
/// How many renewals of one certificate a refresh follows (a 90-day certificate renewed every
/// 60 days makes six a year).
const RENEWAL_CHAIN_LIMIT: usize = 16;
/// The longest a refresh may take, whatever the service does: a refresh of 50 000
/// certificates needs about 50 calls, a few seconds at the API's limit.
const REFRESH_DEADLINE: Duration = Duration::from_secs(600);

/// Reads every certificate recorded in `state` (and every deposed one) from the cloud, each
/// in the account that holds it, the accounts at once: one `DescribeCertificates` call per
/// 1000 ids, and a `DescribeCertificateDetail` call only for pending certificates, whose
/// validation records only the detail has.
pub async fn refresh(accounts: &Accounts, state: &State) -> Result<Observed, ProviderError> {
    // The certificates that serve while their renewals are validated too: their expiry says
    // whether a renewal in flight is in time.
    let mut ids: BTreeMap<&ProviderRef, BTreeSet<CertificateId>> = BTreeMap::new();
    for r in state.resources.values() {
        let held = std::iter::once(&r.certificate_id).chain(&r.succeeds).cloned();
        ids.entry(&r.args.provider).or_default().extend(held);
    }
    for d in &state.deposed {
        ids.entry(&d.provider).or_default().insert(d.certificate_id.clone());
    }
    let reads = ids.into_iter().map(|(provider, ids)| async move {
        let ids: Vec<CertificateId> = ids.into_iter().collect();
        read_certificates(&accounts.get(provider)?.ssl, &ids).await
    });
    let mut observed = Observed::new();
    for read in futures_util::future::join_all(reads).await {
        observed.extend(read?);
    }
    Ok(observed)
}

/// Reads the certificates `ids` as a refresh reads them: with their renewals (see
/// [`certificates`]), and the validation records of pending ones (a detail call each).
pub async fn read_certificates(
    client: &Client,
    ids: &[CertificateId],
) -> Result<Observed, ProviderError> {
    let timed_out = || ProviderError::TimedOut {
        action: "DescribeCertificates",
        endpoint: client.endpoint().to_string(),
        after: REFRESH_DEADLINE,
    };
    tokio::time::timeout(REFRESH_DEADLINE, read(client, ids)).await.map_err(|_| timed_out())?
}

async fn read(client: &Client, ids: &[CertificateId]) -> Result<Observed, ProviderError> {
    let mut observed = certificates(client, ids).await?;
    let pending: Vec<CertificateId> =
        observed.values().filter(|r| r.status.is_pending()).map(|r| r.id.clone()).collect();
    let details: Vec<(CertificateId, Vec<ValidationRecord>)> = stream::iter(pending)
        .map(|id| async move {
            let detail = client.certificate(&id).await?;
            Ok::<_, ProviderError>((id, detail.validation))
        })
        .buffer_unordered(REFRESH_CONCURRENCY)
        .try_collect()
        .await?;
    for (id, validation) in details {
        if let Some(remote) = observed.get_mut(&id) {
            remote.validation = validation;
        }
    }
    Ok(observed)
}

/// Reads the certificates `ids` from the cloud — one `DescribeCertificates` call per 1000
/// ids — and the certificates that renewed or reissued them; returns those that exist, by id.
pub async fn certificates(
    client: &Client,
    ids: &[CertificateId],
) -> Result<Observed, ProviderError> {
    let pages: Vec<Vec<RemoteCertificate>> = stream::iter(ids.chunks(DESCRIBE_PAGE_LIMIT))
        .map(|chunk| client.certificates_by_id(chunk))
        .buffer_unordered(REFRESH_CONCURRENCY)
        .try_collect()
        .await?;
    let mut observed: Observed = pages.into_iter().flatten().map(|c| (c.id.clone(), c)).collect();
    // Renewals made elsewhere (the console, an SDK) are followed to the newest certificate of
    // the chain, so that a plan adopts them instead of renewing again.
    for _ in 0..RENEWAL_CHAIN_LIMIT {
        let next: Vec<CertificateId> = observed
            .values()
            .flat_map(|c| c.renewed_by.iter().chain(&c.reissued_by).cloned())
            .filter(|id| !observed.contains_key(id))
            .collect();
        if next.is_empty() {
            break;
        }
        for renewal in client.certificates_by_id(&next).await? {
            observed.insert(renewal.id.clone(), renewal);
        }
    }
    Ok(observed)
}

/// How far the service's clock may be behind ours when matching a certificate to an intent
/// (the API itself refuses requests more than 5 minutes off).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Looks in the cloud for a certificate that `intent`'s application created: same domain,
/// inserted after the intent was written, and not one state knows already.
pub(crate) async fn find_applied(
    client: &Client,
    known: &BTreeSet<CertificateId>,
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

/// What the service said of where one certificate is bound: its resources, or why it could
/// not say.
pub type Bound = Result<Vec<BoundResource>, String>;

/// Asks the service where each of `ids` is bound — fresh queries, all started first,
/// [`BIND_QUERY_LIMIT`] per call — and waits for the answers, reading them every
/// `timing.bind_query_poll`, for at most `timing.bind_query_limit`. A query that fails or does
/// not finish is that certificate's answer alone; an error is a call the service refused.
pub async fn bindings(
    client: &Client,
    ids: &[CertificateId],
    timing: &crate::options::Timing,
) -> Result<BTreeMap<CertificateId, Bound>, ProviderError> {
    let deadline = tokio::time::Instant::now() + timing.bind_query_limit;
    let mut waiting = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BIND_QUERY_LIMIT) {
        waiting.extend(client.query_bindings(chunk).await?);
    }
    let mut bound = BTreeMap::new();
    loop {
        let mut still = Vec::new();
        for chunk in waiting.chunks(BIND_QUERY_LIMIT) {
            let task_ids: Vec<String> = chunk.iter().map(|(_, task)| task.clone()).collect();
            let results = client.binding_results(&task_ids).await?;
            for ((id, task), result) in chunk.iter().cloned().zip(results) {
                match result {
                    BindQuery::Running => still.push((id, task)),
                    BindQuery::Done(resources) => drop(bound.insert(id, Ok(resources))),
                    BindQuery::Failed(why) => {
                        let why =
                            format!("the service's query of where {id} is bound failed: {why}");
                        bound.insert(id, Err(why));
                    }
                }
            }
        }
        if still.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let after = humantime::format_duration(timing.bind_query_limit);
            for (id, _) in still {
                let why =
                    format!("the service's query of where {id} is bound did not finish in {after}");
                bound.insert(id, Err(why));
            }
            break;
        }
        waiting = still;
        tokio::time::sleep(timing.bind_query_poll).await;
    }
    Ok(bound)
}
