//! The planner's decisions, table-tested: every action, the renewal boundary, expiry, drift.

use certplan_core::{Address, CertStatus, CertificateArgs, DvAuthMethod, RemoteCertificate};
use certplan_parser::{Config, Source, parse_sources};
use certplan_planner::{Action, Observed, Plan, PlanError, Reason, plan, render};
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
    ResourceState {
        certificate_id: id.into(),
        args: CertificateArgs::new(domain, DvAuthMethod::DnsAuto),
        status,
        not_before: Some(now() + Duration::days(days - 90)),
        not_after: Some(now() + Duration::days(days)),
        renewed_from: Vec::new(),
        prevent_destroy: false,
        applied_at: now() + Duration::days(days - 90),
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
        project_id: None,
        not_before: r.not_before,
        not_after: r.not_after,
        inserted_at: r.not_before,
        validation_deadline: None,
        validation: Vec::new(),
    }
}

fn only(plan: &Plan) -> (Action, Reason) {
    assert_eq!(plan.changes.len(), 1, "{plan:?}");
    (plan.changes[0].action, plan.changes[0].reason.clone())
}

#[test]
fn declared_but_not_recorded_is_created() {
    let p =
        plan(&config(&cert("www", "www.example.com")), &State::new(), None, now()).expect("plan");
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
        let p = plan(&config(&cert("www", "www.example.com")), &s, None, now()).expect("plan");
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
        assert_eq!(
            only(&plan(&config(text), &s, None, now()).expect("plan")).0,
            expected,
            "{days}"
        );
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
            only(&plan(&config(&cert("www", "www.example.com")), &s, None, now()).expect("plan"));
        assert_eq!(action, Action::Replace, "{days} {status:?}");
        assert!(matches!(reason, Reason::Expired { .. }), "{reason:?}");
    }
}

#[test]
fn gone_from_the_cloud_is_created_again() {
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let s = state(vec![("www", r)]);
    let observed = Observed::new();
    let p =
        plan(&config(&cert("www", "www.example.com")), &s, Some(&observed), now()).expect("plan");
    assert_eq!(only(&p), (Action::Create, Reason::Gone { id: "aaaaaaaa".into() }));
    let s2 = p.summary();
    assert_eq!((s2.add, s2.destroy), (1, 0), "nothing left to delete");
}

#[test]
fn revoked_or_failed_in_the_cloud_is_replaced() {
    for status in [CertStatus::Revoked, CertStatus::Failed, CertStatus::Cancelled] {
        let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
        let observed: Observed = [(r.certificate_id.clone(), remote(&r, status))].into();
        let s = state(vec![("www", r)]);
        let (action, reason) = only(
            &plan(&config(&cert("www", "www.example.com")), &s, Some(&observed), now())
                .expect("plan"),
        );
        assert_eq!(action, Action::Replace);
        assert_eq!(reason, Reason::Unusable { id: "aaaaaaaa".into(), status });
    }
}

#[test]
fn refresh_overrides_recorded_status_and_dates() {
    // State says issued with 60 days left; the cloud says it is pending a reissue: wait.
    let r = recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued);
    let observed: Observed = [(r.certificate_id.clone(), remote(&r, CertStatus::Pending))].into();
    let s = state(vec![("www", r)]);
    let p =
        plan(&config(&cert("www", "www.example.com")), &s, Some(&observed), now()).expect("plan");
    assert_eq!(only(&p), (Action::NoOp, Reason::Pending { status: CertStatus::Pending }));
    assert!(p.refreshed);
}

#[test]
fn changed_arguments_force_replacement() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 60, CertStatus::Issued))]);
    let text = "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS\"\n  contact_email = \"ops@example.com\"\n}\n";
    let (action, reason) = only(&plan(&config(text), &s, None, now()).expect("plan"));
    assert_eq!(action, Action::Replace);
    assert_eq!(
        reason,
        Reason::ArgumentsChanged { forcing: vec!["dv_auth_method", "contact_email"] }
    );
}

#[test]
fn recorded_but_not_declared_is_deleted_unless_protected() {
    let s = state(vec![("old", recorded("aaaaaaaa", "old.example.com", 60, CertStatus::Issued))]);
    let p = plan(&config(&cert("www", "www.example.com")), &s, None, now()).expect("plan");
    let old = p.changes.iter().find(|c| c.address.name == "old").expect("old planned");
    assert_eq!((old.action, &old.reason), (Action::Delete, &Reason::NotInConfig { gone: false }));

    let mut protected = recorded("aaaaaaaa", "old.example.com", 60, CertStatus::Issued);
    protected.prevent_destroy = true;
    let s = state(vec![("old", protected)]);
    let err =
        plan(&config(&cert("www", "www.example.com")), &s, None, now()).expect_err("protected");
    assert!(matches!(&err, PlanError::PreventDestroy { address, .. } if address.name == "old"));
    assert!(err.to_string().contains("tencentcloud_ssl_free_certificate.old"), "{err}");
}

#[test]
fn up_to_date_is_a_no_op_with_the_next_renewal_date() {
    let s = state(vec![("www", recorded("aaaaaaaa", "www.example.com", 89, CertStatus::Issued))]);
    let p = plan(&config(&cert("www", "www.example.com")), &s, None, now()).expect("plan");
    assert!(!p.has_changes());
    let shown = render(&p, false);
    assert!(shown.contains("No changes."), "{shown}");
    assert!(shown.contains("expires 2027-02-23 (in 89 days); renews from 2027-01-24"), "{shown}");
}

#[test]
fn plans_are_deterministic() {
    let text = [cert("b", "b.example.com"), cert("a", "a.example.com")].concat();
    let s = state(vec![("c", recorded("cccccccc", "c.example.com", 10, CertStatus::Issued))]);
    let first = plan(&config(&text), &s, None, now()).expect("plan");
    let second = plan(&config(&text), &s, None, now()).expect("plan");
    assert_eq!(render(&first, false), render(&second, false));
    let names: Vec<&str> = first.changes.iter().map(|c| c.address.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
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
        cert("pending", "pending.example.com"),
    ]
    .concat();
    let due = recorded("dueDue01", "due.example.com", 12, CertStatus::Issued);
    let expired = recorded("expExp01", "expired.example.com", -3, CertStatus::Expired);
    let deleted = recorded("delDel01", "deleted.example.com", 40, CertStatus::Issued);
    let changed = recorded("chgChg01", "changed.example.com", 70, CertStatus::Issued);
    let fine = recorded("fineFi01", "fine.example.com", 75, CertStatus::Issued);
    let pending = recorded("penPen01", "pending.example.com", 90, CertStatus::Issued);
    let removed = recorded("remRem01", "removed.example.com", 50, CertStatus::Issued);
    let observed: Observed = [&due, &expired, &changed, &fine, &removed]
        .iter()
        .map(|r| (r.certificate_id.clone(), remote(r, r.status)))
        .chain([(pending.certificate_id.clone(), remote(&pending, CertStatus::Pending))])
        .collect();
    let s = state(vec![
        ("due", due),
        ("expired", expired),
        ("deleted", deleted),
        ("changed", changed),
        ("fine", fine),
        ("pending", pending),
        ("removed", removed),
    ]);
    let p = plan(&config(&text), &s, Some(&observed), now()).expect("plan");
    let shown = render(&p, false);
    assert!(!shown.contains("s3cret"), "secrets never shown");
    insta::assert_snapshot!(shown);
}
