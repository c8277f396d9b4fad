//! The engine against the real sandbox over loopback HTTP, with real state files: what it does
//! is counted at the sandbox and read back from the state file.

mod layers;

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use certplan_core::{
    Action, Address, CertStatus, CertificateArgs, DvAuthMethod, Plan, Prior, Reason, ResourceChange,
};
use certplan_engine::{ApplyOptions, CancellationToken, Event, Inputs, Report, Timing};
use certplan_provider::{Client, ClientOptions};
use certplan_sandbox::{Faults, Sandbox, SandboxAccount, SandboxOptions};
use certplan_state::{Intent, IntentKind, LocalStore, State, StateStore};
use certplan_test_support::LocalSandbox;
use chrono::Utc;

const ID: &str = "AKIDengine";
const KEY: &str = "engine-test-key";

/// A sandbox served on loopback, and a client for it.
struct Cloud {
    sandbox: Sandbox,
    client: Client,
    served: LocalSandbox,
}

impl Cloud {
    async fn start(options: SandboxOptions) -> Self {
        let options = SandboxOptions { accounts: vec![SandboxAccount::new(ID, KEY)], ..options };
        let served = LocalSandbox::start(options).await;
        Cloud { sandbox: served.sandbox.clone(), client: served.client(), served }
    }

    /// The certificates the sandbox holds, by domain.
    fn domains(&self) -> Vec<String> {
        let mut domains: Vec<String> =
            self.sandbox.certificates().expect("listed").into_iter().map(|c| c.domain).collect();
        domains.sort();
        domains
    }
}

/// A state file in a temporary directory.
struct Ledger {
    _dir: tempfile::TempDir,
    store: LocalStore,
    state: State,
}

impl Ledger {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join("certplan.state.json"));
        Ledger { _dir: dir, store, state: State::new() }
    }

    /// The state as saved on disk.
    fn saved(&self) -> State {
        LocalStore::new(self.store.path()).load().expect("loads").expect("saved")
    }
}

fn change(name: &str, action: Action, reason: Reason) -> ResourceChange {
    ResourceChange {
        address: Address::certificate(name),
        action,
        reason,
        before: None,
        after: Some(CertificateArgs::new(format!("{name}.example.com"), DvAuthMethod::DnsAuto)),
        deposed: None,
        sensitive: BTreeSet::new(),
        prevent_destroy: false,
        wait_for_issuance: None,
        delivery: Default::default(),
        importing: None,
    }
}

/// The engine's timing at a hundredth of the real service's: polls every 20 ms, not 2 s.
fn timing() -> Timing {
    Timing::default().scaled(0.01)
}

fn fast() -> ApplyOptions {
    ApplyOptions { timing: timing(), ..ApplyOptions::default() }
}

fn create(name: &str) -> ResourceChange {
    change(name, Action::Create, Reason::NotInState)
}

fn plan(changes: Vec<ResourceChange>) -> Plan {
    Plan {
        created_at: Utc::now(),
        moved: Vec::new(),
        refreshed: true,
        drift: Vec::new(),
        changes,
        delivery: Vec::new(),
        attention: Vec::new(),
        quota: Vec::new(),
    }
}

/// Applies `plan`, collecting the events' names.
async fn apply(
    cloud: &Cloud,
    ledger: &mut Ledger,
    plan: &Plan,
    options: ApplyOptions,
) -> (Report, Vec<String>) {
    apply_until(cloud, ledger, plan, options, &CancellationToken::new(), &|_| {}).await
}

/// Applies `plan` until `cancel` is cancelled, collecting the events' names and showing each event
/// to `look` as it happens.
async fn apply_until(
    cloud: &Cloud,
    ledger: &mut Ledger,
    plan: &Plan,
    options: ApplyOptions,
    cancel: &CancellationToken,
    look: &(dyn Fn(&Event<'_>) + Sync),
) -> (Report, Vec<String>) {
    let events = Mutex::new(Vec::new());
    let report = certplan_engine::apply(
        plan,
        &Inputs::default(),
        None,
        &mut ledger.state,
        &mut ledger.store,
        &certplan_provider::Accounts::single(cloud.client.clone()),
        cancel,
        options,
        &|event| {
            look(&event);
            events.lock().expect("events").push(name(&event));
        },
    )
    .await
    .expect("state saved");
    (report, events.into_inner().expect("events"))
}

/// Settles the intents of `ledger`'s state, saving each.
async fn reconcile(cloud: &Cloud, ledger: &mut Ledger) -> Vec<certplan_engine::Settled> {
    let store = Some(&mut ledger.store as &mut dyn StateStore);
    certplan_engine::reconcile(
        &certplan_provider::Accounts::single(cloud.client.clone()),
        &Default::default(),
        &mut ledger.state,
        store,
        &timing(),
    )
    .await
    .expect("reconciled")
}

fn name(event: &Event<'_>) -> String {
    match event {
        Event::Recovered { address, .. } => format!("recovered {address}"),
        Event::Started { address, .. } => format!("started {address}"),
        Event::Completed { address, .. } => format!("completed {address}"),
        Event::Failed { address, error, .. } => format!("failed {address}: {error}"),
        Event::Issued { address, .. } => format!("issued {address}"),
        Event::Waiting { address, .. } => format!("waiting {address}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn creates_each_certificate_once_and_records_it_with_what_was_declared() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    let mut www = create("www");
    www.prevent_destroy = true;
    www.sensitive = ["alias".to_owned()].into();
    let path = ledger.store.path().to_owned();
    let complete_when_recorded = |event: &Event<'_>| {
        if let Event::Completed { address, .. } = event
            && address.name == "www"
        {
            let saved = LocalStore::new(&path).load().expect("loads").expect("saved");
            let www = &saved.resources[*address];
            assert!(www.prevent_destroy && www.sensitive.contains("alias"), "{www:?}");
        }
    };
    let stop = CancellationToken::new();
    let changes = plan(vec![www, create("api")]);
    let options = fast();
    let (report, events) =
        apply_until(&cloud, &mut ledger, &changes, options, &stop, &complete_when_recorded).await;
    assert!(events.contains(&"completed tencentcloud_ssl_free_certificate.www".to_owned()));
    assert_eq!((report.done.add, report.failed.len()), (2, 0), "{:?}", report.failed);
    assert_eq!(cloud.domains(), ["api.example.com", "www.example.com"]);
    let saved = ledger.saved();
    assert!(saved.intents.is_empty());
    let www = &saved.resources[&Address::certificate("www")];
    assert_eq!(www.status, CertStatus::Issued);
    assert!(www.not_after.is_some());
    assert!(www.prevent_destroy);
    assert_eq!(www.sensitive, ["alias".to_owned()].into());
}

#[tokio::test]
async fn a_lost_response_is_found_again_not_applied_for_twice() {
    let faults = Faults { drop_rate: 1.0, ..Faults::default() };
    let cloud = Cloud::start(SandboxOptions { faults, ..SandboxOptions::default() }).await;
    let mut ledger = Ledger::new();
    let (report, events) = apply(&cloud, &mut ledger, &plan(vec![create("www")]), fast()).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(events.iter().any(|e| e.starts_with("recovered")), "{events:?}");
    assert_eq!(cloud.domains(), ["www.example.com"]);
    let saved = ledger.saved();
    let id = &saved.resources[&Address::certificate("www")].certificate_id;
    assert_eq!(cloud.sandbox.certificates().expect("listed")[0].id, *id);
}

#[tokio::test]
async fn an_interrupted_application_is_adopted_complete_with_its_declarations() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    // A run journaled its intent, applied, and died before recording the result.
    let args = CertificateArgs::new("www.example.com", DvAuthMethod::DnsAuto);
    let intent = Intent {
        address: Address::certificate("www"),
        action: IntentKind::Create,
        args: args.clone(),
        prevent_destroy: true,
        sensitive: ["contact_email".to_owned()].into(),
        validation_failures: 0,
        old_certificate_id: None,
        old_provider: None,
        supersedes: None,
        started_at: Utc::now(),
        replaces_because: None,
        order: None,
        retry_after: None,
    };
    ledger.state.intents.push(intent);
    let id = cloud.client.apply_for_certificate(&args, None, None).await.expect("applied");

    let settled = reconcile(&cloud, &mut ledger).await;
    assert_eq!(settled.len(), 1);
    assert!(settled[0].to_string().contains(id.as_str()), "{}", settled[0]);
    let www = &ledger.saved().resources[&Address::certificate("www")];
    assert_eq!(www.certificate_id, id, "recorded and saved");
    assert!(www.prevent_destroy);
    assert_eq!(www.sensitive, ["contact_email".to_owned()].into());
    assert!(ledger.saved().intents.is_empty());
    assert_eq!(cloud.domains(), ["www.example.com"], "nothing applied for again");
}

#[tokio::test]
async fn an_apply_with_nothing_to_do_still_records_a_flag_declared_since() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    apply(&cloud, &mut ledger, &plan(vec![create("www")]), fast()).await;
    assert!(!ledger.saved().resources[&Address::certificate("www")].prevent_destroy);

    let mut unchanged = change(
        "www",
        Action::NoOp,
        Reason::UpToDate { not_after: Utc::now(), renews_at: Utc::now() },
    );
    unchanged.prevent_destroy = true;
    let calls = cloud.sandbox.stats().requests.values().sum::<u64>();
    let (report, _) = apply(&cloud, &mut ledger, &plan(vec![unchanged]), fast()).await;
    assert_eq!(report.done, certplan_core::Summary::default());
    assert!(ledger.saved().resources[&Address::certificate("www")].prevent_destroy);
    assert_eq!(cloud.sandbox.stats().requests.values().sum::<u64>(), calls, "no call made");
}

#[tokio::test]
async fn a_move_is_recorded_without_a_call() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    apply(&cloud, &mut ledger, &plan(vec![create("www")]), fast()).await;
    let id = ledger.saved().resources[&Address::certificate("www")].certificate_id.clone();
    let mut moved = plan(Vec::new());
    moved.moved = vec![(Address::certificate("www"), Address::certificate("web"))];
    let calls = cloud.sandbox.stats().requests.values().sum::<u64>();
    apply(&cloud, &mut ledger, &moved, fast()).await;
    let saved = ledger.saved();
    assert!(!saved.resources.contains_key(&Address::certificate("www")));
    assert_eq!(saved.resources[&Address::certificate("web")].certificate_id, id);
    assert_eq!(cloud.sandbox.stats().requests.values().sum::<u64>(), calls, "no call made");
}

#[tokio::test]
async fn an_interrupt_before_the_changes_starts_none_of_them() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    let stop = CancellationToken::new();
    stop.cancel();
    let changes = plan(vec![create("www"), create("api")]);
    let (report, _) = apply_until(&cloud, &mut ledger, &changes, fast(), &stop, &|_| {}).await;
    assert!(report.interrupted);
    assert_eq!(report.not_started.len(), 2);
    assert!(cloud.domains().is_empty(), "nothing applied for");
}

#[tokio::test]
async fn an_interrupt_stops_a_wait_at_once_with_the_certificate_recorded() {
    let options =
        SandboxOptions { issue_delay: Duration::from_secs(3600), ..SandboxOptions::default() };
    let cloud = Cloud::start(options).await;
    let mut ledger = Ledger::new();
    let mut www = create("www");
    www.wait_for_issuance = Some(Duration::from_secs(600));
    let stop = CancellationToken::new();
    let stop_when_waiting = |event: &Event<'_>| {
        if matches!(event, Event::Waiting { .. }) {
            stop.cancel();
        }
    };
    let started = std::time::Instant::now();
    let (report, events) =
        apply_until(&cloud, &mut ledger, &plan(vec![www]), fast(), &stop, &stop_when_waiting).await;
    assert!(events.iter().any(|e| e.starts_with("waiting")), "{events:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "stopped at once: {:?}", started.elapsed());
    assert!(report.interrupted && report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.pending.len(), 1, "the certificate still pending is reported");
    assert!(ledger.saved().resources[&Address::certificate("www")].status.is_pending());
}

#[tokio::test]
async fn a_replaced_certificate_that_cannot_be_deleted_yet_is_kept_as_deposed() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    apply(&cloud, &mut ledger, &plan(vec![create("www")]), fast()).await;
    let old = ledger.saved().resources[&Address::certificate("www")].clone();
    let mut replace = change(
        "www",
        Action::Replace,
        Reason::ArgumentsChanged { forcing: vec![certplan_core::Argument::ContactEmail] },
    );
    replace.before = Some(Prior {
        id: old.certificate_id.clone(),
        args: old.args.clone(),
        status: CertStatus::Issued,
        not_after: old.not_after,
        exists: true,
    });
    let (report, events) = apply(&cloud, &mut ledger, &plan(vec![replace]), fast()).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!((report.done.add, report.done.destroy), (1, 0), "the old one is not deleted yet");
    assert!(events.iter().any(|e| e.contains("Deposed")), "{events:?}");
    let saved = ledger.saved();
    assert_ne!(saved.resources[&Address::certificate("www")].certificate_id, old.certificate_id);
    assert_eq!(saved.deposed.len(), 1);
    assert_eq!(saved.deposed[0].certificate_id, old.certificate_id);
    assert!(saved.deposed[0].last_error.contains("CannotBeDeletedWithinHour"));
    assert_eq!(cloud.domains(), ["www.example.com", "www.example.com"], "both exist");
}

#[tokio::test]
async fn an_update_changes_only_what_the_plan_names() {
    let cloud = Cloud::start(SandboxOptions::default()).await;
    let mut ledger = Ledger::new();
    apply(&cloud, &mut ledger, &plan(vec![create("www")]), fast()).await;
    let recorded = ledger.saved().resources[&Address::certificate("www")].clone();
    let mut update = change(
        "www",
        Action::Update,
        Reason::AttributesChanged { changed: vec![certplan_core::Argument::Alias] },
    );
    update.before = Some(Prior {
        id: recorded.certificate_id.clone(),
        args: recorded.args.clone(),
        status: CertStatus::Issued,
        not_after: recorded.not_after,
        exists: true,
    });
    let mut after = recorded.args.clone();
    after.alias = Some("site".into());
    // A project differing too, but not named by the plan's reason, is left alone.
    after.project_id = Some(7);
    update.after = Some(after);
    let before = cloud.sandbox.stats().requests.get("ModifyCertificateProject").copied();
    let (report, _) = apply(&cloud, &mut ledger, &plan(vec![update]), fast()).await;
    assert_eq!(report.done.change, 1, "{:?}", report.failed);
    let cert = &cloud.sandbox.certificates().expect("listed")[0];
    assert_eq!((cert.alias.as_str(), cert.project_id), ("site", 0));
    assert_eq!(cloud.sandbox.stats().requests.get("ModifyCertificateProject").copied(), before);
    assert_eq!(
        ledger.saved().resources[&Address::certificate("www")].args.alias.as_deref(),
        Some("site")
    );
}

#[tokio::test]
async fn waiting_for_issuance_ends_at_its_limit_with_the_certificate_recorded() {
    let options =
        SandboxOptions { issue_delay: Duration::from_secs(3600), ..SandboxOptions::default() };
    let cloud = Cloud::start(options).await;
    let mut ledger = Ledger::new();
    let mut www = create("www");
    www.wait_for_issuance = Some(Duration::from_millis(300));
    let (report, events) = apply(&cloud, &mut ledger, &plan(vec![www]), fast()).await;
    assert!(
        events.iter().any(|e| e == "waiting tencentcloud_ssl_free_certificate.www"),
        "{events:?}"
    );
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0].1.to_string().contains("was not issued within 300ms"),
        "{}",
        report.failed[0].1
    );
    let www = &ledger.saved().resources[&Address::certificate("www")];
    assert!(www.status.is_pending());
    assert_eq!(cloud.domains(), ["www.example.com"]);
}

#[tokio::test]
async fn intents_are_settled_together_and_each_saved_as_it_is() {
    let mut cloud = Cloud::start(SandboxOptions::default()).await;
    // The intent whose call never reached the cloud is settled only once a request sent when it
    // was written could no longer be answered: its timeout, which real time must pass.
    let timeout = Duration::from_secs(1);
    cloud.client = cloud.served.client_with(ClientOptions {
        request_timeout: timeout,
        ..certplan_test_support::test_client_options()
    });
    let mut ledger = Ledger::new();
    let intent = |name: &str| Intent {
        address: Address::certificate(name),
        action: IntentKind::Create,
        args: CertificateArgs::new(format!("{name}.example.com"), DvAuthMethod::DnsAuto),
        prevent_destroy: false,
        sensitive: BTreeSet::new(),
        validation_failures: 0,
        old_certificate_id: None,
        old_provider: None,
        supersedes: None,
        started_at: Utc::now(),
        replaces_because: None,
        order: None,
        retry_after: None,
    };
    // Five runs died after applying, one before its call reached the cloud.
    for name in ["a", "b", "c", "d", "e", "never"] {
        ledger.state.intents.push(intent(name));
        if name != "never" {
            let args = &intent(name).args;
            cloud.client.apply_for_certificate(args, None, None).await.expect("applied");
        }
    }
    let settled = reconcile(&cloud, &mut ledger).await;
    assert_eq!(settled.len(), 6);
    let saved = ledger.saved();
    assert!(saved.intents.is_empty());
    assert_eq!(saved.resources.len(), 5);
    // The client paces lookups (10/s), so settlements end apart and are saved apart.
    assert!(saved.serial >= 3, "saved as they were settled, not once at the end: {}", saved.serial);
    assert!(settled.iter().any(|s| s.to_string().contains("never reached the cloud")));
    assert_eq!(cloud.domains().len(), 5, "nothing applied for again");
}
