//! The planner's decisions, table-tested: every action, the renewal boundary, expiry, drift.

use certplan_core::{
    Address, CertStatus, CertificateArgs, CsrEncryptAlgo, DvAuthMethod, RemoteCertificate,
};
use certplan_core::{
    DeployStatus, DeployedResource, Deployment, ExportRecord, FilesSeen, HookOutcome,
    ValidationRecord,
};
use certplan_parser::{Config, Source, parse_sources};
use certplan_planner::{
    Action, DeliveryWork, Drift, DriftKind, Observed, Plan, PlanError, PlanOptions, Reason, plan,
    render,
};
use certplan_state::Deposed;
use certplan_state::{ResourceState, State};
use chrono::{DateTime, Duration, Utc};

fn now() -> DateTime<Utc> {
    "2026-11-26T12:00:00Z".parse().expect("time")
}

fn config(text: &str) -> Config {
    parse_sources(vec![Source::new("main.hcl", text)]).expect("valid config")
}

fn cert(name: &str, domain: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"{name}\" {{\n  domain = \"{domain}\"\n  dv_auth_method = \"DNS_AUTO\"\n}}\n"
    )
}

/// A recorded certificate for `domain` that expires `days` from now.
fn recorded(id: &str, domain: &str, days: i64, status: CertStatus) -> ResourceState {
    let args = CertificateArgs::new(domain, DvAuthMethod::DnsAuto);
    ResourceState {
        status,
        not_before: Some(now() + Duration::days(days - 90)),
        not_after: Some(now() + Duration::days(days)),
        ..ResourceState::new(id.into(), args, now() + Duration::days(days - 90))
    }
}

fn state(resources: Vec<(&str, ResourceState)>) -> State {
    let mut s = State::new();
    for (name, r) in resources {
        s.resources.insert(Address::certificate(name), r);
    }
    s
}

fn remote(r: &ResourceState, status: CertStatus) -> RemoteCertificate {
    RemoteCertificate {
        id: r.certificate_id.clone(),
        domain: r.args.domain.clone(),
        alias: None,
        status,
        dv_auth_method: r.args.dv_auth_method,
        key_algorithm: None,
        project_id: None,
        not_before: r.not_before,
        not_after: r.not_after,
        inserted_at: r.not_before,
        validation_deadline: None,
        validation: Vec::new(),
        renewed_by: None,
        reissued_by: None,
        source: None,
        notifications_off: None,
    }
}

/// Plans `text` against `state` (and what the cloud reports, if refreshed) at `now()`.
fn plan_now(text: &str, state: &State, observed: Option<&Observed>) -> Result<Plan, PlanError> {
    plan(&config(text), state, observed, now(), &PlanOptions::default())
}

fn only(plan: &Plan) -> (Action, Reason) {
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    (plan.changes[0].action, plan.changes[0].reason.clone())
}

#[test]
fn declared_but_not_recorded_is_created() {
    let p = plan_now(&cert("www", "www.example.com"), &State::new(), None).expect("plan");
    assert_eq!(only(&p), (Action::Create, Reason::NotInState));
    assert_eq!(p.summary().add, 1);
}

#[test]
fn renewal_boundary_at_renew_before() {
    // renew_before defaults to 30d: 31 days left is fine, 30 and 29 are due.
    let cases = [(31, Action::NoOp), (30, Action::Renew), (29, Action::Renew), (1, Action::Renew)];
    for (days, expected) in cases {
        let s =
            state(vec![("www", recorded("aaaaaaaa", "www.example.com", days, CertStatus::Issued))]);
        let p = plan_now(&cert("www", "www.example.com"), &s, None).expect("plan");
        let (action, reason) = only(&p);
        assert_eq!(action, expected, "{days} days left: {reason:?}");
        match reason {
            Reason::Expiring { days_left, .. } => assert_eq!(days_left, days),
            Reason::UpToDate { renews_at, .. } => {
                assert_eq!(renews_at, now() + Duration::days(days - 30))
            }
            other => panic!("unexpected reason {other:?}"),
        }
    }
}

#[test]
fn renew_before_from_lifecycle_moves_the_boundary() {
    let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  lifecycle {\n    renew_before = \"14d\"\n  }\n}\n";
    for (days, expected) in [(15, Action::NoOp), (14, Action::Renew)] {
        let s =
            state(vec![("www", recorded("aaaaaaaa", "www.example.com", days, CertStatus::Issued))]);
        assert_eq!(only(&plan_now(text, &s, None).expect("plan")).0, expected, "{days}");
    }
}

#[test]
fn expired_is_replaced_not_renewed() {
    // Past not_after (even if the status was not updated yet), or status 3.
    for (days, status) in
        [(0, CertStatus::Issued), (-1, CertStatus::Issued), (-5, CertStatus::Expired)]
    {
        let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", days, status))]);
        let (action, reason) =
            only(&plan_now(&cert("www", "www.example.com"), &s, None).expect("plan"));
        assert_eq!(action, Action::Replace, "{days} {status:?}");
        assert!(matches!(reason, Reason::Expired { .. }), "{reason:?}");
    }
}

#[test]
fn gone_from_the_cloud_is_created_again() {
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let s = state(vec![("www", r)]);
    let observed = Observed::new();
    let p = plan_now(&cert("www", "www.example.com"), &s, Some(&observed)).expect("plan");
    assert_eq!(only(&p), (Action::Create, Reason::Gone { id: "aaaaaaaa".into() }));
    let s2 = p.summary();
    assert_eq!((s2.add, s2.destroy), (1, 0), "nothing left to delete");
}

#[test]
fn failed_or_cancelled_is_replaced_and_revoked_applied_for_again() {
    let cases = [
        (CertStatus::Failed, Action::Replace),
        (CertStatus::Cancelled, Action::Replace),
        (CertStatus::Revoked, Action::Create),
    ];
    for (status, expected) in cases {
        let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
        let observed: Observed = [(r.certificate_id.clone(), remote(&r, status))].into();
        let s = state(vec![("www", r)]);
        let p = plan_now(&cert("www", "www.example.com"), &s, Some(&observed)).expect("plan");
        assert_eq!(only(&p), (expected, Reason::Unusable { id: "aaaaaaaa".into(), status }));
        assert_eq!(
            p.drift,
            [Drift {
                address: Address::certificate("www"),
                id: "aaaaaaaa".into(),
                kind: DriftKind::Status { from: CertStatus::Issued, to: status }
            }]
        );
    }
}

#[test]
fn refresh_overrides_recorded_status_and_dates() {
    // State says issued with 60 days left; the cloud says it is pending a reissue: wait.
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let observed: Observed = [(r.certificate_id.clone(), remote(&r, CertStatus::Pending))].into();
    let s = state(vec![("www", r)]);
    let p = plan_now(&cert("www", "www.example.com"), &s, Some(&observed)).expect("plan");
    assert_eq!(
        only(&p),
        (
            Action::NoOp,
            Reason::Pending {
                status: CertStatus::Pending,
                records: Vec::new(),
                deadline: None,
                automatic: true
            }
        )
    );
    assert!(p.refreshed);
}

#[test]
fn changed_arguments_force_replacement() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued))]);
    let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n  contact_email = \"ops@example.com\"\n}\n";
    let (action, reason) = only(&plan_now(text, &s, None).expect("plan"));
    assert_eq!(action, Action::Replace);
    assert_eq!(
        reason,
        Reason::ArgumentsChanged {
            forcing: vec![
                certplan_core::Argument::DvAuthMethod,
                certplan_core::Argument::ContactEmail
            ]
        }
    );
}

#[test]
fn moving_a_resource_to_another_account_is_a_replacement_shown_as_one() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued))]);
    let text = "provider \"tencentcloud\" {\n  alias   = \"prod\"\n  profile = \"prod\"\n}\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  provider       = tencentcloud.prod\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n";
    let p = plan_now(text, &s, None).expect("plan");
    let (action, reason) = only(&p);
    assert_eq!(action, Action::Replace);
    assert_eq!(
        reason,
        Reason::ArgumentsChanged { forcing: vec![certplan_core::Argument::Provider] }
    );
    let change = &p.changes[0];
    assert!(change.before.as_ref().is_some_and(|b| b.args.provider.is_default()));
    let after = change.after.as_ref().expect("declared");
    assert_eq!(after.provider, certplan_core::ProviderRef::aliased("prod"));
    let shown = render(&p, false);
    assert!(shown.contains("provider") && shown.contains("tencentcloud.prod"), "{shown}");
    assert!(shown.contains("forces replacement"), "{shown}");
    let json = certplan_planner::render_json(&p);
    let change = &json["resource_changes"][0]["change"];
    assert_eq!(change["after"]["provider"], "tencentcloud.prod", "{json}");
    assert_eq!(change["replace_paths"], serde_json::json!([["provider"]]), "{json}");
    assert_matches_schema(&json);
}

#[test]
fn recorded_but_not_declared_is_deleted_unless_protected() {
    let s = state(vec![("old", recorded("aaaaaaaa", "old.example.com", 60, CertStatus::Issued))]);
    let p = plan_now(&cert("www", "www.example.com"), &s, None).expect("plan");
    let old = p.changes.iter().find(|c| c.address.name == "old").expect("old planned");
    assert_eq!((old.action, &old.reason), (Action::Delete, &Reason::NotInConfig { gone: false }));

    let mut protected = recorded("aaaaaaaa", "old.example.com", 60, CertStatus::Issued);
    protected.prevent_destroy = true;
    let s = state(vec![("old", protected)]);
    let err = plan_now(&cert("www", "www.example.com"), &s, None).expect_err("protected");
    assert!(matches!(&err, PlanError::PreventDestroy { address, .. } if address.name == "old"));
    assert!(err.to_string().contains("tencentcloud_ssl_free_certificate.old"), "{err}");
}

#[test]
fn up_to_date_is_a_no_op_with_the_next_renewal_date() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 89, CertStatus::Issued))]);
    let p = plan_now(&cert("www", "www.example.com"), &s, None).expect("plan");
    assert!(!p.has_changes());
    let shown = render(&p, false);
    assert!(shown.contains("No changes."), "{shown}");
    assert!(shown.contains("expires 2027-02-23 (in 89 days); renews from 2027-01-24"), "{shown}");
}

#[test]
fn plans_are_deterministic() {
    let text = [cert("b", "b.example.com"), cert("a", "a.example.com")].concat();
    let s = state(vec![("c", recorded("cccccccc", "c.example.com", 10, CertStatus::Issued))]);
    let first = plan_now(&text, &s, None).expect("plan");
    let second = plan_now(&text, &s, None).expect("plan");
    assert_eq!(render(&first, false), render(&second, false));
    let names: Vec<&str> = first.changes.iter().map(|c| c.address.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

fn with_alias(text: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {{\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n{text}}}\n"
    )
}

#[test]
fn alias_and_project_change_in_place() {
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let s = state(vec![("www", r)]);
    let p =
        plan_now(&with_alias("  alias = \"site\"\n  project_id = 5\n"), &s, None).expect("plan");
    assert_eq!(
        only(&p),
        (
            Action::Update,
            Reason::AttributesChanged {
                changed: vec![certplan_core::Argument::Alias, certplan_core::Argument::ProjectId]
            }
        )
    );
    assert_eq!(p.summary().change, 1);
    let shown = render(&p, false);
    assert!(shown.contains("will be updated in place (alias, project_id changed)"), "{shown}");
    assert!(shown.contains("+ alias          = \"site\""), "{shown}");
}

#[test]
fn the_default_project_reported_as_zero_is_no_change() {
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let mut seen = remote(&r, CertStatus::Issued);
    // How the provider reads the API's `ProjectId: "0"`.
    seen.project_id = certplan_core::project_id(0);
    let observed: Observed = [(r.certificate_id.clone(), seen)].into();
    let s = state(vec![("www", r)]);
    let p = plan_now(&cert("www", "www.example.com"), &s, Some(&observed)).expect("plan");
    assert_eq!(only(&p).0, Action::NoOp);
    assert!(p.drift.is_empty(), "{:?}", p.drift);
}

#[test]
fn alias_changed_outside_is_drift_put_back_in_place() {
    let mut r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    r.args.alias = Some("site".into());
    let mut seen = remote(&r, CertStatus::Issued);
    seen.alias = Some("renamed".into());
    let observed: Observed = [(r.certificate_id.clone(), seen)].into();
    let s = state(vec![("www", r)]);
    let p = plan_now(&with_alias("  alias = \"site\"\n"), &s, Some(&observed)).expect("plan");
    assert_eq!(
        only(&p),
        (
            Action::Update,
            Reason::AttributesChanged { changed: vec![certplan_core::Argument::Alias] }
        )
    );
    assert_eq!(
        p.drift[0].kind,
        DriftKind::Alias { from: Some("site".into()), to: Some("renamed".into()) }
    );
    assert!(render(&p, false).contains("alias changed from \"site\" to \"renamed\""));
}

#[test]
fn a_due_renewal_carries_alias_changes_with_it() {
    let r = recorded("aaaaaaaa", "www.example.com", 10, CertStatus::Issued);
    let s = state(vec![("www", r)]);
    let p = plan_now(&with_alias("  alias = \"site\"\n"), &s, None).expect("plan");
    assert_eq!(only(&p).0, Action::Renew);
}

#[test]
fn pending_waits_with_its_records_until_the_deadline_then_replaces() {
    let mut r = recorded("aaaaaaaa", "www.example.com", 90, CertStatus::Pending);
    r.not_after = None;
    r.args.dv_auth_method = Some(DvAuthMethod::Dns);
    let record = ValidationRecord::Dns {
        name: "_abc.www.example.com".into(),
        record_type: "CNAME".into(),
        value: "x.trust-provider.com".into(),
    };
    let mut seen = remote(&r, CertStatus::Pending);
    seen.validation = vec![record.clone()];
    seen.validation_deadline = Some(now() + Duration::days(3));
    let observed: Observed = [(r.certificate_id.clone(), seen.clone())].into();
    let s = state(vec![("www", r.clone())]);
    let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n}\n";
    let p = plan_now(text, &s, Some(&observed)).expect("plan");
    assert_eq!(only(&p).0, Action::NoOp);
    let shown = render(&p, false);
    assert!(shown.contains("waiting for domain validation, due by 2026-11-29"), "{shown}");
    assert!(
        shown.contains("add DNS record: _abc.www.example.com  CNAME  x.trust-provider.com"),
        "{shown}"
    );

    seen.validation_deadline = Some(now() - Duration::hours(1));
    let observed: Observed = [(r.certificate_id.clone(), seen)].into();
    let p = plan_now(text, &s, Some(&observed)).expect("plan");
    assert!(matches!(only(&p), (Action::Replace, Reason::ValidationTimedOut { .. })));
}

#[test]
fn removed_blocks_forget_and_deposed_certificates_are_deleted() {
    let s = {
        let mut s =
            state(vec![("old", recorded("oldOld01", "old.example.com", 60, CertStatus::Issued))]);
        s.deposed.push(Deposed {
            address: Address::certificate("gone"),
            certificate_id: "depDep01".into(),
            provider: Default::default(),
            since: now() - Duration::days(1),
            last_error: "FailedOperation.CannotBeDeletedWithinHour".into(),
        });
        s
    };
    let text = "removed {\n  from = tencentcloud_ssl_free_certificate.old\n}\n";
    let p = plan_now(text, &s, None).expect("plan");
    let actions: Vec<(String, Action, Option<certplan_core::CertificateId>)> =
        p.changes.iter().map(|c| (c.address.name.clone(), c.action, c.deposed.clone())).collect();
    assert_eq!(
        actions,
        [
            ("gone".to_owned(), Action::Delete, Some("depDep01".into())),
            ("old".to_owned(), Action::Forget, None),
        ]
    );
    let summary = p.summary();
    assert_eq!((summary.destroy, summary.forget), (1, 1));
    assert!(
        render(&p, false)
            .contains("Plan: 0 to add, 0 to renew, 0 to change, 1 to destroy, 1 to forget.")
    );
}

#[test]
fn prevent_destroy_refuses_a_replacement_that_deletes_a_live_certificate() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued))]);
    let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n";
    let err = plan_now(text, &s, None).expect_err("refused");
    assert!(err.to_string().contains("changed arguments force a new certificate"), "{err}");
    // Expiry replaces a dead certificate: nothing worth protecting.
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", -2, CertStatus::Expired))]);
    let text = text.replace("\"DNS\"", "\"DNS_AUTO\"");
    assert_eq!(only(&plan_now(&text, &s, None).expect("plan")).0, Action::Replace);
}

#[test]
fn mixed_plan_renders_every_action() {
    let text = [
        cert("new", "new.example.com"),
        cert("due", "due.example.com"),
        cert("expired", "expired.example.com"),
        cert("deleted", "deleted.example.com"),
        "resource \"tencentcloud_ssl_free_certificate\" \"changed\" {\n  domain = \"changed.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  contact_email = \"ops@example.com\"\n  csr_key_password = \"s3cret\"\n}\n".to_owned(),
        cert("fine", "fine.example.com"),
        "resource \"tencentcloud_ssl_free_certificate\" \"pending\" {\n  domain = \"pending.example.com\"\n  dv_auth_method = \"DNS\"\n}\n".to_owned(),
        cert("auto", "auto.example.com"),
        cert("revoked", "revoked.example.com"),
        "resource \"tencentcloud_ssl_free_certificate\" \"renamed\" {\n  domain = \"renamed.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  alias = \"shop\"\n}\n".to_owned(),
        "removed {\n  from = tencentcloud_ssl_free_certificate.kept\n}\n".to_owned(),
    ]
    .concat();
    let due = recorded("dueDue01", "due.example.com", 12, CertStatus::Issued);
    let expired = recorded("expExp01", "expired.example.com", -3, CertStatus::Expired);
    let deleted = recorded("delDel01", "deleted.example.com", 40, CertStatus::Issued);
    let changed = recorded("chgChg01", "changed.example.com", 70, CertStatus::Issued);
    let fine = recorded("fineFi01", "fine.example.com", 75, CertStatus::Issued);
    let mut pending = recorded("penPen01", "pending.example.com", 90, CertStatus::Pending);
    pending.args.dv_auth_method = Some(DvAuthMethod::Dns);
    let auto = recorded("autAut01", "auto.example.com", 90, CertStatus::DnsRecordAdded);
    let removed = recorded("remRem01", "removed.example.com", 50, CertStatus::Issued);
    let revoked = recorded("revRev01", "revoked.example.com", 50, CertStatus::Issued);
    let renamed = recorded("renRen01", "renamed.example.com", 50, CertStatus::Issued);
    let kept = recorded("kepKep01", "kept.example.com", 50, CertStatus::Issued);
    let mut pending_seen = remote(&pending, CertStatus::Pending);
    pending_seen.validation = vec![ValidationRecord::Dns {
        name: "_0f3a.pending.example.com".into(),
        record_type: "CNAME".into(),
        value: "0f3a.1b2c.sectigo.trust-provider.com".into(),
    }];
    pending_seen.validation_deadline = Some(now() + Duration::days(6));
    let observed: Observed = [&due, &expired, &changed, &fine, &removed, &renamed, &kept]
        .iter()
        .map(|r| (r.certificate_id.clone(), remote(r, r.status)))
        .chain([
            (pending.certificate_id.clone(), pending_seen),
            (revoked.certificate_id.clone(), remote(&revoked, CertStatus::Revoked)),
            (auto.certificate_id.clone(), remote(&auto, CertStatus::DnsRecordAdded)),
            ("depDep01".into(), remote(&expired, CertStatus::Issued)),
        ])
        .collect();
    let s = state(vec![
        ("due", due),
        ("expired", expired),
        ("deleted", deleted),
        ("changed", changed),
        ("fine", fine),
        ("pending", pending),
        ("removed", removed),
        ("revoked", revoked),
        ("auto", auto),
        ("renamed", renamed),
        ("kept", kept),
    ]);
    let mut s = s;
    s.deposed.push(Deposed {
        address: Address::certificate("changed"),
        certificate_id: "depDep01".into(),
        provider: Default::default(),
        since: now() - Duration::days(2),
        last_error: "DeleteCertificate failed: FailedOperation.CannotBeDeletedWithinHour: Free certificates cannot be deleted within 1 hour after the application. (RequestId: 0000)".into(),
    });
    let p = plan_now(&text, &s, Some(&observed)).expect("plan");
    let shown = render(&p, false);
    assert!(!shown.contains("s3cret"), "secrets never shown");
    insta::assert_snapshot!(shown);
    let json = certplan_planner::render_json(&p);
    let text = serde_json::to_string_pretty(&json).expect("JSON");
    assert!(!text.contains("s3cret"), "secrets never in JSON");
    insta::assert_snapshot!("mixed_plan_json", text);
    assert_matches_schema(&json);
}

/// Validates plan JSON against docs/plan.schema.json, the documented schema, and checks that
/// the schema does reject a plan that breaks it.
fn assert_matches_schema(plan: &serde_json::Value) {
    let mut broken = plan.clone();
    broken["resource_changes"][0]["change"]["actions"] = serde_json::json!(["explode"]);
    assert!(schema_errors(&broken).is_some(), "the schema must reject an unknown action");
    if let Some(e) = schema_errors(plan) {
        panic!("plan JSON does not match docs/plan.schema.json: {e}");
    }
}

fn schema_errors(plan: &serde_json::Value) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plan.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema"))
            .expect("schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("plan.schema.json", schema).expect("schema added");
    let index = compiler.compile("plan.schema.json", &mut schemas).expect("schema compiles");
    schemas.validate(plan, index).err().map(|e| format!("{e:#}"))
}

#[test]
fn targets_and_excludes_limit_the_plan() {
    let text = [cert("a", "a.example.com"), cert("b", "b.example.com"), cert("c", "c.example.com")]
        .concat();
    let names = |options: &PlanOptions| -> Vec<String> {
        plan(&config(&text), &State::new(), None, now(), options)
            .expect("plan")
            .changes
            .into_iter()
            .map(|c| c.address.name)
            .collect()
    };
    let only_b = PlanOptions { targets: vec![Address::certificate("b")], ..PlanOptions::default() };
    assert_eq!(names(&only_b), ["b"]);
    let not_b = PlanOptions { excludes: vec![Address::certificate("b")], ..PlanOptions::default() };
    assert_eq!(names(&not_b), ["a", "c"]);
    assert_eq!(names(&PlanOptions::default()), ["a", "b", "c"]);
}

/// `www` with a `deploy` block for CLB in Guangzhou and CDN, and an export with a hook.
fn delivered(body_extra: &str) -> String {
    format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {{\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  deploy {{\n    resource_types = [\"clb\", \"cdn\"]\n    regions = {{ clb = [\"ap-guangzhou\"] }}\n  }}\n  export {{\n    path = \"/srv/certs/www\"\n    on_change = \"true\"\n  }}\n{body_extra}}}\n"
    )
}

fn deployment(from: &str, to: &str, finished: bool, statuses: &[DeployStatus]) -> Deployment {
    let target = config(&delivered("")).resources[&Address::certificate("www")]
        .delivery
        .deploy
        .clone()
        .expect("declared");
    Deployment {
        from: from.into(),
        to: to.into(),
        target,
        record_id: Some(7),
        started_at: now(),
        finished_at: finished.then(now),
        resources: statuses
            .iter()
            .enumerate()
            .map(|(i, status)| DeployedResource {
                detail_id: i as u64,
                resource_type: "clb".into(),
                region: Some("ap-guangzhou".into()),
                name: format!("lb-{i}/lbl-{i}"),
                status: *status,
                error: status.failed().then(|| "listener gone".to_owned()),
            })
            .collect(),
    }
}

fn exported(id: &str, hook_error: Option<&str>) -> ExportRecord {
    ExportRecord {
        path: "/srv/certs/www".into(),
        certificate_id: id.into(),
        fingerprint: "ab".into(),
        files: Default::default(),
        written_at: now(),
        hook: Some(HookOutcome { ran_at: now(), error: hook_error.map(str::to_owned) }),
        replaced: None,
    }
}

fn work(p: &Plan) -> Vec<(&'static str, bool)> {
    p.delivery.iter().map(|d| (d.work.name(), d.once_issued)).collect()
}

#[test]
fn delivery_follows_the_certificate_and_only_what_is_undone() {
    let config = delivered("");
    let issued = |r: ResourceState| ResourceState { succeeds: Some("old00001".into()), ..r };
    let base = recorded("new00001", "www.example.com", 80, CertStatus::Issued);

    // New resource: exported once issued; nothing to deploy (nothing to take over).
    let p = plan_now(&config, &State::new(), None).expect("plan");
    assert_eq!(work(&p), [("export", true)]);

    // Renewal due: deploy from the renewed certificate and export, both once issued.
    let due = recorded("cur00001", "www.example.com", 10, CertStatus::Issued);
    let s =
        state(vec![("www", ResourceState { exports: vec![exported("cur00001", None)], ..due })]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(only(&p).0, Action::Renew);
    assert_eq!(work(&p), [("deploy", true), ("export", true)]);
    match &p.delivery[0].work {
        DeliveryWork::Deploy { from, to: None, .. } => assert_eq!(from, "cur00001"),
        other => panic!("{other:?}"),
    }

    // Renewed and issued, not deployed yet, files of the old certificate: both now.
    let s = state(vec![(
        "www",
        ResourceState { exports: vec![exported("old00001", None)], ..issued(base.clone()) },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(work(&p), [("deploy", false), ("export", false)]);
    assert!(p.has_changes() && p.summary().deliver == 2);
    let text = render(&p, false);
    assert!(text.contains("will deploy new00001 to cdn, clb (ap-guangzhou)"), "{text}");
    assert!(text.contains("new certificate, replacing old00001"), "{text}");

    // Still validating: shown, waiting for issuance, not a change.
    let s = state(vec![(
        "www",
        ResourceState {
            exports: vec![exported("old00001", None)],
            ..issued(recorded("new00001", "www.example.com", 80, CertStatus::Pending))
        },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(work(&p), [("deploy", true), ("export", true)]);
    assert!(!p.has_changes() && p.has_work_left());

    // Deployed; one resource failed: only it is retried. Files in place, hook failed: runs.
    let failed =
        deployment("old00001", "new00001", true, &[DeployStatus::Succeeded, DeployStatus::Failed]);
    let s = state(vec![(
        "www",
        ResourceState {
            deployments: vec![failed],
            exports: vec![exported("new00001", Some("exited with status 1"))],
            ..issued(base.clone())
        },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(work(&p), [("retry-deploy", false), ("run-hook", false)]);
    match &p.delivery[0].work {
        DeliveryWork::Retry { failed, .. } => assert_eq!(failed.len(), 1),
        other => panic!("{other:?}"),
    }

    // A task asked for and not followed to its end (a crash): resumed, never asked for again.
    let running = deployment("old00001", "new00001", false, &[DeployStatus::Deploying]);
    let s = state(vec![(
        "www",
        ResourceState {
            deployments: vec![running],
            exports: vec![exported("new00001", None)],
            ..issued(base.clone())
        },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(work(&p), [("resume-deploy", false)]);

    // All done: no changes.
    let done = deployment("old00001", "new00001", true, &[DeployStatus::Succeeded]);
    let s = state(vec![(
        "www",
        ResourceState {
            deployments: vec![done],
            exports: vec![exported("new00001", None)],
            ..issued(base.clone())
        },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert!(p.delivery.is_empty() && !p.has_changes(), "{:?}", p.delivery);

    // Files edited or deleted on disk: rewritten.
    let options = PlanOptions {
        files: [("/srv/certs/www".into(), FilesSeen::Missing(vec!["privkey.pem".into()]))].into(),
        ..PlanOptions::default()
    };
    let p = plan(&self::config(&config), &s, None, now(), &options).expect("plan");
    assert_eq!(work(&p), [("export", false)]);
    assert!(render(&p, false).contains("missing: privkey.pem"));
}

#[test]
fn a_replaced_certificate_is_kept_until_its_resources_have_moved() {
    let config = delivered("");
    let mut s = state(vec![(
        "www",
        ResourceState {
            succeeds: Some("old00001".into()),
            exports: vec![exported("new00001", None)],
            ..recorded("new00001", "www.example.com", 80, CertStatus::Issued)
        },
    )]);
    s.deposed.push(Deposed {
        address: Address::certificate("www"),
        certificate_id: "old00001".into(),
        provider: Default::default(),
        since: now(),
        last_error: "kept".into(),
    });
    let p = plan_now(&config, &s, None).expect("plan");
    assert!(p.changes.iter().all(|c| c.deposed.is_none()), "not deleted while it serves");
    assert_eq!(work(&p), [("deploy", false)]);
    let done = deployment("old00001", "new00001", true, &[DeployStatus::Succeeded]);
    s.resources.get_mut(&Address::certificate("www")).expect("www").deployments.push(done);
    let p = plan_now(&config, &s, None).expect("plan");
    assert!(p.changes.iter().any(|c| c.deposed.as_deref() == Some("old00001")));
}

#[test]
fn a_deployment_not_seen_to_its_end_is_followed_before_types_added_since_are_asked_for() {
    // The block said cdn when the task was asked for; it says cdn and clb now.
    let config = delivered("");
    let cdn_only = certplan_core::DeployTarget {
        resource_types: [certplan_core::ResourceType::Cdn].into(),
        ..Default::default()
    };
    let running = Deployment {
        target: cdn_only,
        ..deployment("old00001", "new00001", false, &[DeployStatus::Deploying])
    };
    let s = state(vec![(
        "www",
        ResourceState {
            succeeds: Some("old00001".into()),
            deployments: vec![running.clone()],
            exports: vec![exported("new00001", None)],
            ..recorded("new00001", "www.example.com", 80, CertStatus::Issued)
        },
    )]);
    let p = plan_now(&config, &s, None).expect("plan");
    assert_eq!(work(&p), [("resume-deploy", false), ("deploy", false)]);
    match (&p.delivery[0].work, &p.delivery[1].work) {
        (
            DeliveryWork::Resume { target: resumed, .. },
            DeliveryWork::Deploy { target: rest, .. },
        ) => {
            assert_eq!(resumed, &running.target, "the task as it was asked for");
            assert_eq!(rest.to_string(), "clb (ap-guangzhou)", "only what it does not cover");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_renewal_that_never_issued_leaves_its_successor_to_take_over_from_what_serves() {
    // www's renewal (new00001) was cancelled before it issued: the old certificate still
    // serves, and the replacement of the renewal takes over from it.
    let config = delivered("");
    let cancelled = ResourceState {
        succeeds: Some("old00001".into()),
        exports: vec![exported("old00001", None)],
        ..recorded("new00001", "www.example.com", 80, CertStatus::Cancelled)
    };
    assert_eq!(cancelled.serving().as_deref(), Some("old00001"));
    let p = plan_now(&config, &state(vec![("www", cancelled)]), None).expect("plan");
    assert_eq!(only(&p).0, Action::Replace);
    match &p.delivery[0].work {
        DeliveryWork::Deploy { from, to: None, .. } => assert_eq!(from, "old00001"),
        other => panic!("{other:?}"),
    }
}

/// `www` declared (with `extra` lines) and imported from certificate `id`.
fn imported(id: &str, extra: &str) -> Config {
    config(&format!(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {{\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n{extra}}}\nimport {{\n  to = tencentcloud_ssl_free_certificate.www\n  id = \"{id}\"\n}}\n"
    ))
}

/// Plans `config` against `state` with what the cloud holds of the certificates to import
/// (and of those recorded: `found` is also what the refresh read).
fn plan_imports(
    config: &Config,
    state: &State,
    found: Vec<RemoteCertificate>,
) -> Result<Plan, PlanError> {
    let imports: Observed = found.into_iter().map(|r| (r.id.clone(), r)).collect();
    let options = PlanOptions { imports: imports.clone(), ..PlanOptions::default() };
    plan(config, state, Some(&imports), now(), &options)
}

#[test]
fn import_blocks_plan_an_import_then_what_the_certificate_needs() {
    let cloud = remote(
        &recorded("imp00001", "www.example.com", 60, CertStatus::Issued),
        CertStatus::Issued,
    );
    // Matching: an import alone, shown as such, in text and JSON.
    let p =
        plan_imports(&imported("imp00001", ""), &State::new(), vec![cloud.clone()]).expect("plan");
    let change = &p.changes[0];
    assert_eq!((change.action, change.importing.as_deref()), (Action::NoOp, Some("imp00001")));
    assert!(p.has_changes(), "an import is a change");
    assert_eq!(p.summary().import, 1);
    let text = render(&p, false);
    assert!(text.contains("# tencentcloud_ssl_free_certificate.www will be imported"), "{text}");
    assert!(text.contains("Plan: 1 to import, 0 to add"), "{text}");
    let json = certplan_planner::render_json(&p);
    assert_eq!(json["resource_changes"][0]["change"]["importing"]["id"], "imp00001");
    assert_matches_schema(&json);

    // Arguments that differ: the import, then the update or the replacement.
    let alias = imported("imp00001", "  alias = \"front\"\n");
    let p = plan_imports(&alias, &State::new(), vec![cloud.clone()]).expect("plan");
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(p.changes[0].importing.as_deref(), Some("imp00001"));
    assert!(render(&p, false).contains("# (imported from \"imp00001\")"));
    let ecc = RemoteCertificate { key_algorithm: Some(CsrEncryptAlgo::Ecc), ..cloud.clone() };
    let p = plan_imports(&imported("imp00001", ""), &State::new(), vec![ecc]).expect("plan");
    assert_eq!(only(&p).0, Action::Replace);
    // Another domain is a mistyped id, never a replacement of another site's certificate.
    let other = RemoteCertificate { domain: "old.example.com".into(), ..cloud.clone() };
    let e = plan_imports(&imported("imp00001", ""), &State::new(), vec![other]).expect_err("no");
    assert!(e.to_string().contains("is for old.example.com, but"), "{e}");
    // Renewed outside since: the renewal is what is imported.
    let renewed = RemoteCertificate { renewed_by: Some("renewal1".into()), ..cloud.clone() };
    let renewal = RemoteCertificate { id: "renewal1".into(), ..cloud.clone() };
    let found = vec![renewed, renewal];
    let p = plan_imports(&imported("imp00001", ""), &State::new(), found).expect("plan");
    let change = &p.changes[0];
    assert_eq!(change.importing.as_deref(), Some("imp00001"));
    assert_eq!(change.before.as_ref().map(|b| b.id.as_str()), Some("renewal1"));
    assert_eq!(p.drift[0].kind, DriftKind::Renewed { to: "renewal1".into() });
    // Due for renewal: imported, then renewed.
    let due = RemoteCertificate { not_after: Some(now() + Duration::days(5)), ..cloud.clone() };
    let p = plan_imports(&imported("imp00001", ""), &State::new(), vec![due]).expect("plan");
    assert_eq!(only(&p).0, Action::Renew);
    assert_matches_schema(&certplan_planner::render_json(&p));
}

#[test]
fn an_import_block_is_done_once_its_certificate_or_a_successor_is_recorded() {
    let config = imported("imp00001", "");
    let mut record = recorded("imp00001", "www.example.com", 60, CertStatus::Issued);
    record.imported = Some("imp00001".into());
    let cloud = vec![remote(&record, CertStatus::Issued)];
    let p = plan_imports(&config, &state(vec![("www", record.clone())]), cloud).expect("plan");
    assert_eq!(p.changes[0].importing, None);
    assert!(!p.has_changes(), "{p:?}");
    // Renewed since: the block, still in the file, is done.
    let renewed = record.renewed_as("renewed1");
    let cloud = vec![remote(&renewed, CertStatus::Issued)];
    let p = plan_imports(&config, &state(vec![("www", renewed)]), cloud).expect("plan");
    assert_eq!(p.changes[0].importing, None);
    assert!(!p.has_changes(), "{p:?}");

    // Errors: the address holds another certificate; the id is recorded elsewhere; no such id.
    let other = recorded("other001", "www.example.com", 60, CertStatus::Issued);
    let e = plan_imports(&config, &state(vec![("www", other)]), Vec::new()).expect_err("taken");
    assert!(e.to_string().contains("already holds certificate other001"), "{e}");
    let elsewhere = recorded("imp00001", "www.example.com", 60, CertStatus::Issued);
    let e = plan_imports(&config, &state(vec![("web", elsewhere)]), Vec::new()).expect_err("twice");
    assert!(
        e.to_string().contains("tencentcloud_ssl_free_certificate.web holds it already"),
        "{e}"
    );
    let mut replaced = state(Vec::new());
    replaced.deposed.push(Deposed {
        address: Address::certificate("web"),
        certificate_id: "imp00001".into(),
        provider: Default::default(),
        since: now(),
        last_error: String::new(),
    });
    let e = plan_imports(&config, &replaced, Vec::new()).expect_err("to delete");
    assert!(e.to_string().contains("which certplan is to delete"), "{e}");
    let e = plan_imports(&config, &State::new(), Vec::new()).expect_err("missing");
    assert!(e.to_string().contains("no such certificate"), "{e}");
}

#[test]
fn writing_a_default_out_or_leaving_it_out_changes_nothing() {
    let record = recorded("def00001", "www.example.com", 60, CertStatus::Issued);
    let cloud = vec![remote(&record, CertStatus::Issued)];
    let observed: Observed = cloud.into_iter().map(|r| (r.id.clone(), r)).collect();
    let s = state(vec![("www", record)]);
    let defaults = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  package_type = \"83\"\n  validity_period = 3\n  csr_encrypt_algo = \"RSA\"\n  csr_key_parameter = \"2048\"\n}\n";
    let p = plan_now(defaults, &s, Some(&observed)).expect("plan");
    assert_eq!(only(&p).0, Action::NoOp, "{:?}", only(&p));
    // A real difference still forces a new certificate.
    let ecc = defaults.replace("\"RSA\"", "\"ECC\"").replace("\"2048\"", "\"prime256v1\"");
    let p = plan_now(&ecc, &s, Some(&observed)).expect("plan");
    assert_eq!(only(&p).0, Action::Replace);
}

#[test]
fn a_password_declared_after_an_import_is_no_change() {
    let mut record = recorded("imp00001", "www.example.com", 60, CertStatus::Issued);
    let observed: Observed =
        [(record.certificate_id.clone(), remote(&record, CertStatus::Issued))].into();
    let with_password = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  csr_key_password = \"s3cret-pass\"\n}\n";
    // Applied for by certplan without a password: adding one is a new certificate.
    let p = plan_now(with_password, &state(vec![("www", record.clone())]), Some(&observed));
    assert_eq!(only(&p.expect("plan")).0, Action::Replace);
    // Imported: its password was never known, so declaring it now changes nothing.
    record.imported = Some("imp00001".into());
    let p = plan_now(with_password, &state(vec![("www", record)]), Some(&observed));
    assert_eq!(only(&p.expect("plan")).0, Action::NoOp);
}

#[test]
fn a_renewal_validating_while_the_certificate_serving_expires_needs_attention() {
    use certplan_core::Concern;
    // The renewal (new) waits for automatic validation; the certificate it renews (old) serves.
    let old = recorded("old00001", "www.example.com", 3, CertStatus::Issued);
    let mut new = recorded("new00001", "www.example.com", 0, CertStatus::Pending);
    (new.not_before, new.not_after, new.succeeds) = (None, None, Some("old00001".into()));
    let s = state(vec![("www", new.clone())]);
    let observed = |old_days: i64| -> Observed {
        let mut serving = remote(&old, CertStatus::Issued);
        serving.not_after = Some(now() + Duration::days(old_days) - Duration::hours(1));
        [
            (new.certificate_id.clone(), remote(&new, CertStatus::Pending)),
            (old.certificate_id.clone(), serving),
        ]
        .into_iter()
        .collect()
    };
    let config = cert("www", "www.example.com");

    // A day is what automatic validation may take: with three left, nothing to say.
    let p = plan_now(&config, &s, Some(&observed(3))).expect("plans");
    assert!(p.attention.is_empty(), "{:?}", p.attention);
    // With less than a day left, the site may break before the renewal is issued.
    let p = plan_now(&config, &s, Some(&observed(1))).expect("plans");
    assert_eq!(p.attention.len(), 1, "{:?}", p.attention);
    let a = &p.attention[0];
    assert_eq!(a.concern, Concern::ExpiresBeforeRenewal { validation_days: 1 });
    assert_eq!(a.certificate, "new00001");
    assert_eq!(a.breaks_at, Some(now() + Duration::days(1) - Duration::hours(1)));
}

#[test]
fn a_saved_plan_is_applied_in_the_accounts_it_was_made_for_only() {
    use certplan_core::ProviderRef;
    use certplan_planner::SavedPlan;
    use certplan_state::{Cloud, Clouds};
    let cloud = |account: Option<&str>| Cloud {
        endpoint: "https://ssl.tencentcloudapi.com".into(),
        sandbox: false,
        account: account.map(str::to_owned),
        free_limit: None,
    };
    let prod = ProviderRef::aliased("prod");
    let mut made_for = Clouds::default();
    made_for.insert(ProviderRef::DEFAULT, cloud(Some("100000000001")));
    made_for.insert(prod.clone(), cloud(Some("100000000002")));
    let s = State::new();
    let p = plan_now(&cert("www", "www.example.com"), &s, None).expect("plan");
    let saved = SavedPlan::new(p, Some(&s), "sha256:x".into(), made_for.clone());
    // Written and read back: the binding travels with the plan file.
    let saved: SavedPlan = serde_json::from_slice(&saved.to_json()).expect("reads back");
    assert_eq!(saved.staleness(Some(&s), "sha256:x", &made_for), None);

    // prod's credentials now reach another account: refused, naming the provider.
    let mut now = made_for.clone();
    now.insert(prod.clone(), cloud(Some("100000000003")));
    let why = saved.staleness(Some(&s), "sha256:x", &now).expect("stale");
    assert!(why.contains("provider tencentcloud.prod") && why.contains("100000000003"), "{why}");

    // An account not asked yet (a plan from the state alone) is not taken for another.
    let mut unknown = made_for;
    unknown.insert(prod, cloud(None));
    assert_eq!(saved.staleness(Some(&s), "sha256:x", &unknown), None);

    // An earlier release's plan file is refused by its version; one cloud, as it wrote, is
    // the default provider's.
    let mut old = serde_json::to_value(&saved).expect("JSON");
    old["format_version"] = serde_json::json!(2);
    let refused = SavedPlan::from_json(&serde_json::to_vec(&old).expect("JSON"));
    assert!(refused.is_err_and(|e| e.contains("plan format version 2")));
    old["cloud"] = serde_json::json!({"endpoint": "https://ssl.tencentcloudapi.com"});
    old.as_object_mut().expect("object").remove("clouds");
    let old: SavedPlan = serde_json::from_value(old).expect("an earlier plan file reads");
    assert_eq!(old.clouds.get(&ProviderRef::DEFAULT).map(|c| c.account.clone()), Some(None));
}
