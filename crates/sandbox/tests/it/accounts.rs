//! Several accounts in one sandbox over real HTTP, kept apart by the SecretId each request is
//! signed with: their certificates, zones, bindings, quotas and rate limits; who STS says the
//! caller is; the control API acting on the account it names; and every account's data kept
//! across restarts, an account the sandbox no longer serves included, and a data file of the
//! single-account format loaded as the first account's.

use std::path::Path;

use super::*;

const OTHER_ID: &str = "AKIDother";
const OTHER_KEY: &str = "other-secret-key";

fn first() -> SandboxAccount {
    SandboxAccount::new(ID, KEY)
}

fn other() -> SandboxAccount {
    SandboxAccount::new(OTHER_ID, OTHER_KEY)
}

/// A sandbox serving `accounts`, persisting to `data` when given, with no rate limit.
async fn serving(accounts: Vec<SandboxAccount>, data: Option<&Path>) -> Running {
    start_with(SandboxOptions {
        accounts,
        data: data.map(Path::to_path_buf),
        rate_limit: 0,
        ..Default::default()
    })
    .await
}

/// Returns the `OwnerUin` that `account` is shown for its certificate `id`.
async fn owner_uin(url: &str, account: &SandboxAccount, id: &str) -> Option<String> {
    let list = json!({ "CertIds": [id] });
    let answer = call_as(url, account, Service::SSL, "DescribeCertificates", &list).await;
    answer["Certificates"][0]["OwnerUin"].as_str().map(str::to_owned)
}

/// Returns the ids `client` lists, newest first.
async fn listed(client: &Client) -> Vec<String> {
    let listed = client
        .describe_certificates(&DescribeCertificatesRequest::default())
        .await
        .expect("listed");
    listed.certificates.unwrap_or_default().into_iter().map(|c| c.certificate_id).collect()
}

#[tokio::test]
async fn two_accounts_do_not_see_each_others_certificates() {
    let s = serving(vec![first(), other()], None).await;
    let (a, b) = (s.client_of(s.account(0)), s.client_of(s.account(1)));
    let mine = a.apply_certificate(&apply_request("www.example.com")).await.expect("applied");
    let theirs = b.apply_certificate(&apply_request("www.example.org")).await.expect("applied");
    assert_ne!(mine, theirs, "ids are unique across accounts");

    assert_eq!(listed(&a).await, std::slice::from_ref(&mine));
    assert_eq!(listed(&b).await, std::slice::from_ref(&theirs));
    assert!(b.certificates_by_id(std::slice::from_ref(&mine)).await.expect("listed").is_empty());

    // Past the one-hour rule, so that only the account can be why a deletion is refused.
    s.sandbox.age(1).expect("aged");
    let not_found = Some("FailedOperation.CertificateNotFound");
    let detail = b.describe_certificate_detail(&mine).await.expect_err("another account's");
    assert_eq!(detail.code(), not_found, "{detail}");
    let deleted = b.delete_certificate(&mine).await.expect_err("another account's");
    assert_eq!(deleted.code(), not_found, "{deleted}");
    let renamed = b.modify_certificate_alias(&mine, "taken").await.expect_err("another's");
    assert_eq!(renamed.code(), not_found, "{renamed}");
    let moved = b.modify_certificate_project(std::slice::from_ref(&mine), 7).await.expect("ok");
    assert_eq!(moved, std::slice::from_ref(&mine), "failed: not the account's");

    assert_eq!(owner_uin(&s.url, s.account(0), &mine).await, Some(s.account(0).uin.clone()));
    assert_eq!(owner_uin(&s.url, s.account(1), &theirs).await, Some(s.account(1).uin.clone()));

    assert!(a.delete_certificate(&mine).await.expect("deleted by its account"));
    assert_eq!(listed(&b).await, [theirs], "the other account's is untouched");
}

#[tokio::test]
async fn each_account_has_its_own_quota_per_main_domain() {
    let s = start_with(SandboxOptions {
        accounts: vec![first(), other()],
        quota_per_domain: 1,
        ..Default::default()
    })
    .await;
    let (a, b) = (s.client_of(s.account(0)), s.client_of(s.account(1)));
    a.apply_certificate(&apply_request("www.example.com")).await.expect("the first's one");
    b.apply_certificate(&apply_request("api.example.com")).await.expect("the other's one");
    let refused = a.apply_certificate(&apply_request("api.example.com")).await.expect_err("full");
    assert_eq!(refused.code(), Some("FailedOperation.MainDomainCertificateCountLimit"));
}

/// Calls `action` as `account` `n` times; returns how many were refused for the rate limit.
async fn refused_of(url: &str, account: &SandboxAccount, action: &str, n: usize) -> usize {
    let mut refused = 0;
    for _ in 0..n {
        let answer = if action == "GetCallerIdentity" {
            call_sts(url, account, action, &json!({})).await
        } else {
            call_as(url, account, Service::SSL, action, &json!({})).await
        };
        match code(&answer) {
            None => {}
            Some("RequestLimitExceeded") => refused += 1,
            Some(other) => panic!("{action}: {other}: {answer}"),
        }
    }
    refused
}

#[tokio::test]
async fn each_account_is_held_to_its_own_rate_limit_per_action() {
    let s = start_with(SandboxOptions {
        accounts: vec![first(), other()],
        rate_limit: 10,
        ..Default::default()
    })
    .await;
    let (a, b) = (s.account(0), s.account(1));
    // A bucket holds a second's worth of requests: ten at once pass whatever the clock says,
    // for each account, where one bucket for both would refuse five of these fifteen.
    for _ in 0..5 {
        assert_eq!(refused_of(&s.url, a, "DescribeCertificates", 2).await, 0);
        assert_eq!(refused_of(&s.url, b, "DescribeCertificates", 1).await, 0);
    }
    // Forty more at once from one account are refused unless they took four seconds.
    let refused = refused_of(&s.url, a, "DescribeCertificates", 40).await;
    assert!(refused > 0, "one account well over 10/s is refused");
    let b_rest = refused_of(&s.url, b, "DescribeCertificates", 5).await;
    assert_eq!(b_rest, 0, "the other's second is still its own");

    let stats = ControlClient::new(&s.url).stats().await.expect("stats");
    let of = |account: &SandboxAccount| stats.accounts[&account.secret_id].clone();
    assert_eq!(of(a).requests["DescribeCertificates"], 50);
    assert_eq!(of(a).rate_limited, refused as u64);
    assert_eq!((of(b).requests["DescribeCertificates"], of(b).rate_limited), (10, 0));
    assert_eq!(stats.requests["DescribeCertificates"], 60, "the totals count both");
    assert_eq!(stats.rate_limited, refused as u64);
}

/// STS, as the sandbox serves it.
const STS: Service = Service::STS;

/// Calls STS as the real service requires it: with the common `Region` parameter.
async fn call_sts(url: &str, account: &SandboxAccount, action: &str, body: &Value) -> Value {
    call_signed(url, account, STS, Some("ap-guangzhou"), action, body).await
}

#[tokio::test]
async fn get_caller_identity_names_the_account_whose_key_signed_the_request() {
    let s = start_with(SandboxOptions {
        accounts: vec![first(), other()],
        rate_limit: 10,
        ..Default::default()
    })
    .await;
    for account in [s.account(0), s.account(1)] {
        let me = call_sts(&s.url, account, "GetCallerIdentity", &json!({})).await;
        let uin = account.uin.as_str();
        assert_eq!(me["AccountId"], uin, "{me}");
        assert_eq!(me["Arn"], format!("qcs::cam::uin/{uin}:uin/{uin}"));
        assert_eq!((me["UserId"].as_str(), me["PrincipalId"].as_str()), (Some(uin), Some(uin)));
        assert_eq!(me["Type"], "CAMUser");
        assert!(me["RequestId"].as_str().is_some_and(|r| !r.is_empty()));
    }
    assert_ne!(s.account(0).uin, s.account(1).uin);

    // Without a region, as the real one answers.
    let nowhere = call_as(&s.url, s.account(0), STS, "GetCallerIdentity", &json!({})).await;
    assert_eq!(code(&nowhere), Some("MissingParameter"), "{nowhere}");
    let assumed = call_sts(&s.url, s.account(0), "AssumeRole", &json!({})).await;
    assert_eq!(code(&assumed), Some("InvalidAction"), "{assumed}");
    let extra = json!({ "RoleArn": "qcs::cam::uin/1:roleName/x" });
    let extra = call_sts(&s.url, s.account(0), "GetCallerIdentity", &extra).await;
    assert_eq!(code(&extra), Some("UnknownParameter"), "{extra}");
    let old = Service { version: "2017-03-12", ..STS };
    let old = call_signed(
        &s.url,
        s.account(0),
        old,
        Some("ap-guangzhou"),
        "GetCallerIdentity",
        &json!({}),
    )
    .await;
    assert_eq!(code(&old), Some("NoSuchVersion"), "{old}");

    // Documented at 20/s where the SSL actions are at 10/s: twenty at once pass, sixty do not
    // (unless they took three seconds).
    let b = s.account(1);
    assert_eq!(refused_of(&s.url, b, "GetCallerIdentity", 19).await, 0, "one was spent above");
    assert!(refused_of(&s.url, b, "GetCallerIdentity", 40).await > 0);
}

#[tokio::test]
async fn an_unknown_secret_id_is_refused_and_another_accounts_key_fails_the_signature() {
    let s = serving(vec![first(), other()], None).await;
    let stranger = SandboxAccount::new("AKIDstranger", KEY);
    let answer = call_sts(&s.url, &stranger, "GetCallerIdentity", &json!({})).await;
    assert_eq!(code(&answer), Some("AuthFailure.SecretIdNotFound"), "{answer}");
    let borrowed = SandboxAccount::new(OTHER_ID, KEY);
    let answer = call_as(&s.url, &borrowed, Service::SSL, "DescribeCertificates", &json!({})).await;
    assert_eq!(code(&answer), Some("AuthFailure.SignatureFailure"), "{answer}");
    let stats = ControlClient::new(&s.url).stats().await.expect("stats");
    assert!(stats.accounts.is_empty(), "no request was the accounts': {stats:?}");
}

#[tokio::test]
async fn zones_and_records_are_the_accounts_own_but_names_resolve_for_every_account() {
    let other_with_zone =
        SandboxAccount { dns_zones: vec!["example.org".parse().expect("a zone")], ..other() };
    let s = start_with(SandboxOptions {
        accounts: vec![first(), other_with_zone],
        dns_zones: vec!["example.com".parse().expect("a zone")],
        rate_limit: 0,
        ..Default::default()
    })
    .await;
    let zones_of = |n: usize| {
        let dns = s.client_of(s.account(n)).sibling(Service::DNSPOD);
        async move {
            let zones = dns.dns_zones().await.expect("listed");
            zones.into_iter().map(|z| z.name).collect::<Vec<_>>()
        }
    };
    assert_eq!(zones_of(0).await, ["example.com"], "--dns-zone is the first account's");
    assert_eq!(zones_of(1).await, ["example.org"]);
    let a_dns = s.client_of(s.account(0)).sibling(Service::DNSPOD);
    let elsewhere = a_dns
        .create_record("example.org", "www", "A", "192.0.2.1", 600, "")
        .await
        .expect_err("another account's zone");
    assert_eq!(elsewhere.code(), Some("InvalidParameterValue.DomainNotExists"), "{elsewhere}");

    // Certificates in the first account, DNS in the other: the CA resolves the name.
    let a = s.client_of(s.account(0));
    let order = a
        .apply_certificate(&apply_with("www.example.org", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let record = match a.certificate(&order).await.expect("described").validation.as_slice() {
        [ValidationRecord::Dns { name, value, .. }] => (name.clone(), value.clone()),
        other => panic!("expected one DNS record, got {other:?}"),
    };
    let host = record.0.trim_end_matches(".example.org").to_owned();
    let b_dns = s.client_of(s.account(1)).sibling(Service::DNSPOD);
    b_dns.create_record("example.org", &host, "CNAME", &record.1, 600, "").await.expect("made");
    assert_eq!(status_of(&a, &order).await, CertStatus::Issued);
}

#[tokio::test]
async fn the_control_api_acts_on_the_account_it_names_and_finds_a_certificate_by_its_id() {
    let s = start_with(SandboxOptions {
        accounts: vec![first(), other()],
        deploy_step: std::time::Duration::from_millis(5),
        rate_limit: 0,
        ..Default::default()
    })
    .await;
    let control = ControlClient::new(&s.url);
    let theirs = control.for_account(OTHER_ID);
    let seeded = theirs.seed(&["www.example.com"]).await.expect("seeded").remove(0);
    let b = s.client_of(s.account(1));
    assert_eq!(listed(&b).await, std::slice::from_ref(&seeded));
    assert!(listed(&s.client_of(s.account(0))).await.is_empty(), "not the first's");
    assert_eq!(theirs.add_dns_zones(&["example.org"]).await.expect("added"), ["example.org"]);
    let none: [&str; 0] = [];
    assert!(control.add_dns_zones(&none).await.expect("listed").is_empty(), "the first's");

    // By id, without naming the account.
    let bound = control.bind(&seeded, "cdn", None, "www.example.com").await.expect("bound");
    assert_eq!(
        control.bindings(Some(&seeded)).await.expect("listed"),
        std::slice::from_ref(&bound)
    );
    assert!(control.bindings(None).await.expect("listed").is_empty(), "the first has none");
    assert_eq!(theirs.bindings(None).await.expect("listed"), std::slice::from_ref(&bound));
    assert_eq!(theirs.fail_next_deploys(bound.id, 1).await.expect("set").fail_next, 1);
    let first_has_none = control.fail_next_deploys(bound.id, 1).await.expect_err("not its");
    assert!(first_has_none.to_string().contains("does not exist"), "{first_has_none}");

    let new = theirs.seed(&["www.example.com"]).await.expect("seeded").remove(0);
    let deploy = json!({
        "CertificateId": new,
        "InstanceIdList": ["www.example.com"],
        "ResourceType": "cdn",
    });
    let action = "DeployCertificateInstance";
    let answer = call_as(&s.url, s.account(1), Service::SSL, action, &deploy).await;
    assert_eq!(code(&answer), None, "{answer}");
    assert!(control.deploy_tasks().await.expect("listed").is_empty(), "the first made none");
    assert_eq!(theirs.deploy_tasks().await.expect("listed").len(), 1);
    let answer = call_as(&s.url, s.account(0), Service::SSL, action, &deploy).await;
    assert_eq!(code(&answer), Some("FailedOperation.CertificateNotFound"), "{answer}");

    let issued = control.console(ConsoleOp::Validate, &seeded).await.expect_err("issued");
    assert!(issued.to_string().contains("has status 1"), "found by id: {issued}");
    control.console(ConsoleOp::Reissue, &new).await.expect("found by id, reissued");
    assert_eq!(listed(&b).await.len(), 3, "the reissue is the holder's");

    let nobody = control.for_account("AKIDnobody").seed(&["a.example.com"]).await;
    match nobody.expect_err("not served") {
        ControlError::Refused { status, message, .. } => {
            assert_eq!(status.as_u16(), 404);
            assert!(message.contains("AKIDnobody"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn every_accounts_data_survives_a_restart_and_an_account_not_served_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let staging = SandboxAccount::named("staging");
    let everyone = vec![first(), other(), staging.clone()];
    let mut ids = Vec::new();
    {
        let s = serving(everyone.clone(), Some(data.as_path())).await;
        for (n, domain) in ["a.example.com", "b.example.com", "c.example.com"].iter().enumerate() {
            let c = s.client_of(s.account(n));
            ids.push(c.apply_certificate(&apply_request(domain)).await.expect("applied"));
        }
    }
    {
        let s = serving(vec![first(), other()], Some(data.as_path())).await;
        assert_eq!(listed(&s.client_of(s.account(0))).await, [ids[0].clone()]);
        let b = s.client_of(s.account(1));
        assert_eq!(listed(&b).await, [ids[1].clone()]);
        b.apply_certificate(&apply_request("d.example.com")).await.expect("saved again");
        let unserved = call_as(&s.url, &staging, STS, "GetCallerIdentity", &json!({})).await;
        assert_eq!(code(&unserved), Some("AuthFailure.SecretIdNotFound"), "not served now");
        let aged = ControlClient::new(&s.url).age(1).await.expect("aged");
        assert_eq!(aged, 4, "time passes for an account not served too");
    }
    let s = serving(everyone, Some(data.as_path())).await;
    assert_eq!(listed(&s.client_of(s.account(2))).await, [ids[2].clone()], "kept");
    assert_eq!(listed(&s.client_of(s.account(1))).await.len(), 2);
}

#[tokio::test]
async fn a_data_file_of_one_account_loads_as_the_first_accounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    // As certplan wrote it before there were accounts: one account's data at the top level.
    let single = r#"{"next_sequence": 1, "ca_key_pem": null, "certificates": {"a1b2c3d4": {
        "id": "a1b2c3d4", "sequence": 1, "domain": "www.example.com", "alias": "kept",
        "project_id": 0, "dv_auth_method": "DNS_AUTO", "csr_encrypt_algo": "ECC",
        "csr_key_parameter": "prime256v1", "contact_email": null, "status": 1,
        "inserted_at": "2026-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2026-04-01T00:00:00Z", "origin_certificate_id": null,
        "renewed_by": null, "validation_token": "00", "key_pem": null}}}"#;
    std::fs::write(&data, single).expect("written");
    {
        let s = serving(vec![first(), other()], Some(data.as_path())).await;
        let a = s.client_of(s.account(0));
        assert_eq!(listed(&a).await, ["a1b2c3d4"]);
        let theirs = s.client_of(s.account(1)).describe_certificate_detail("a1b2c3d4").await;
        let theirs = theirs.expect_err("the first account's");
        assert_eq!(theirs.code(), Some("FailedOperation.CertificateNotFound"), "{theirs}");
        a.modify_certificate_alias("a1b2c3d4", "renamed").await.expect("saved in the new format");
    }
    let s = serving(vec![first()], Some(data.as_path())).await;
    let found = s.client_of(s.account(0)).certificates_by_id(&["a1b2c3d4".to_owned()]).await;
    assert_eq!(found.expect("listed")[0].alias.as_deref(), Some("renamed"));
}
