//! What an inventory of an account reads, over real HTTP: the fields `DescribeCertificates`
//! lists for each kind of certificate (free, paid, uploaded — seeded with the dates a test
//! needs), expiry notifications switched off and on per certificate, and the yearly limit of
//! free certificates each account may apply for.

use std::path::Path;

use certplan_provider::wire::api_time;
use certplan_sandbox::{SeedCertificate, SeedKind};
use chrono::{DateTime, Duration, Utc};

use super::*;

const OTHER_ID: &str = "AKIDinventoryOther";
const OTHER_KEY: &str = "inventory-other-key";

fn first() -> SandboxAccount {
    SandboxAccount::new(ID, KEY)
}

fn other() -> SandboxAccount {
    SandboxAccount::new(OTHER_ID, OTHER_KEY)
}

/// A sandbox serving the two accounts, persisting to `data` when given, with no rate limit.
async fn serving(data: Option<&Path>, free_per_year: u32) -> Running {
    start_with(SandboxOptions {
        accounts: vec![first(), other()],
        data: data.map(Path::to_path_buf),
        rate_limit: 0,
        free_per_year,
        ..Default::default()
    })
    .await
}

fn seed(domain: &str, kind: SeedKind, expires_in_days: i64) -> SeedCertificate {
    SeedCertificate { domain: domain.to_owned(), kind, expires_in_days }
}

/// Returns the list items `account` is shown for `body`, by certificate id.
async fn list(
    url: &str,
    account: &SandboxAccount,
    body: &Value,
) -> std::collections::BTreeMap<String, Value> {
    let answer = call_as(url, account, Service::SSL, "DescribeCertificates", body).await;
    assert_eq!(code(&answer), None, "{answer}");
    let items = answer["Certificates"].as_array().expect("a list").clone();
    items.into_iter().map(|c| (c["CertificateId"].as_str().expect("an id").to_owned(), c)).collect()
}

/// Switches the expiry notifications of `ids` as the first account; returns `Response`.
async fn switch(url: &str, ids: Value, status: Value) -> Value {
    let body = json!({ "CertificateIds": ids, "SwitchStatus": status });
    let action = "ModifyCertificatesExpiringNotificationSwitch";
    call_as(url, &first(), Service::SSL, action, &body).await
}

/// Returns the detail of certificate `id` as `account` is shown it.
async fn detail(url: &str, account: &SandboxAccount, id: &str) -> Value {
    let body = json!({ "CertificateId": id });
    call_as(url, account, Service::SSL, "DescribeCertificateDetail", &body).await
}

fn time(item: &Value, field: &str) -> DateTime<Utc> {
    let text = item[field].as_str().unwrap_or_else(|| panic!("{field} in {item}"));
    api_time::parse(text).unwrap_or_else(|| panic!("{field} `{text}` is a GMT+8 API time"))
}

/// Tells whether `at` is `expected`, give or take the seconds a test takes.
fn about(at: DateTime<Utc>, expected: DateTime<Utc>) -> bool {
    (at - expected).num_seconds().abs() <= 60
}

#[tokio::test]
async fn list_items_tell_free_paid_and_uploaded_certificates_apart_with_their_dates() {
    let s = serving(None, 0).await;
    let control = ControlClient::new(&s.url);
    let applied = client(&s.url, KEY)
        .apply_certificate(&apply_request("www.example.com"))
        .await
        .expect("applied");
    let free = control.seed_certificate(&seed("a.example.com", SeedKind::Free, 60)).await;
    let paid = control.seed_certificate(&seed("pay.example.com", SeedKind::Paid, 5)).await;
    let uploaded = control.seed_certificate(&seed("up.example.com", SeedKind::Upload, 30)).await;
    let (free, paid, uploaded) =
        (free.expect("seeded"), paid.expect("seeded"), uploaded.expect("seeded"));
    let now = Utc::now();

    let items = list(&s.url, &first(), &json!({ "Limit": 100 })).await;
    assert_eq!(items.len(), 4, "{items:?}");
    for (id, package, from, is_dv, domain) in [
        (&applied, Some("83"), "trustasia", true, "www.example.com"),
        (&free, Some("83"), "trustasia", true, "a.example.com"),
        (&paid, Some("2"), "trustasia", true, "pay.example.com"),
        (&uploaded, None, "upload", false, "up.example.com"),
    ] {
        let item = &items[id];
        assert_eq!(item["PackageType"].as_str(), package, "{item}");
        assert_eq!(item["From"], from, "{item}");
        assert_eq!(item["IsDv"], is_dv, "{item}");
        assert_eq!(item["CertificateType"], "SVR", "{item}");
        assert_eq!(item["IsIgnore"], false, "{item}");
        assert_eq!(item["OwnerUin"], first().uin.as_str(), "{item}");
        assert_eq!((item["Domain"].as_str(), item["Alias"].as_str()), (Some(domain), Some("")));
        assert_eq!((&item["Status"], &item["StatusName"]), (&json!(1), &json!("Issued")));
        assert!(time(item, "CertBeginTime") <= now + Duration::seconds(1), "{item}");
        assert!(time(item, "InsertTime") <= now + Duration::seconds(1), "{item}");
    }
    // The dates a test asked for: an inventory finds the paid one about to expire.
    assert!(about(time(&items[&paid], "CertEndTime"), now + Duration::days(5)));
    assert_eq!(items[&paid]["IsExpiring"], true);
    assert_eq!(items[&paid]["RenewAble"], false, "a paid certificate is not renewed by applying");
    assert!(about(time(&items[&free], "CertEndTime"), now + Duration::days(60)));
    assert_eq!(
        time(&items[&free], "CertEndTime") - time(&items[&free], "CertBeginTime"),
        Duration::days(90)
    );
    assert!(about(time(&items[&uploaded], "CertEndTime"), now + Duration::days(30)));
    assert!(about(time(&items[&uploaded], "InsertTime"), now), "uploaded now");

    // The uploaded one is a certificate like an upload's: its PEM states its dates.
    let detail = detail(&s.url, &first(), &uploaded).await;
    let pem = detail["CertificatePublicKey"].as_str().expect("its PEM");
    let (_, leaf) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("PEM");
    let leaf = leaf.parse_x509().expect("X.509");
    assert_eq!(leaf.validity().not_after.timestamp(), time(&detail, "CertEndTime").timestamp());

    let by_source = |source: &str| json!({ "FilterSource": source, "Limit": 100 });
    let uploads = list(&s.url, &first(), &by_source("upload")).await;
    assert_eq!(uploads.keys().collect::<Vec<_>>(), [&uploaded]);
    assert_eq!(list(&s.url, &first(), &by_source("buy")).await.len(), 3);

    // Seeding names its account, and a seed that would begin in the future is refused.
    let elsewhere = control.for_account(OTHER_ID);
    let theirs =
        elsewhere.seed_certificate(&seed("b.example.org", SeedKind::Paid, 200)).await.expect("ok");
    assert_eq!(list(&s.url, &other(), &json!({})).await.keys().collect::<Vec<_>>(), [&theirs]);
    assert_eq!(list(&s.url, &first(), &json!({ "Limit": 100 })).await.len(), 4);
    let refused = control.seed_certificate(&seed("c.example.com", SeedKind::Free, 91)).await;
    assert!(
        matches!(&refused, Err(ControlError::Refused { status, message, .. })
            if status.as_u16() == 400 && message.contains("90 days")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn expiry_notifications_are_switched_per_certificate_of_the_callers_account_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let (mine, theirs) = {
        let s = serving(Some(&data), 0).await;
        let control = ControlClient::new(&s.url);
        let mine = [
            control.seed_certificate(&seed("a.example.com", SeedKind::Free, 10)).await,
            control.seed_certificate(&seed("b.example.com", SeedKind::Upload, 10)).await,
            control.seed_certificate(&seed("c.example.com", SeedKind::Free, 10)).await,
        ]
        .map(|id| id.expect("seeded"));
        let theirs = control.for_account(OTHER_ID).seed(&["d.example.org"]).await.expect("seeded");
        let answer = switch(&s.url, json!([mine[0], mine[1]]), json!(1)).await;
        assert_eq!(code(&answer), None, "{answer}");
        assert_eq!(answer["CertificateIds"], json!([mine[0], mine[1]]), "echoed");

        // Refused, and nothing changed: another account's id is unknown here, as is a missing
        // one; more than 50 ids, none, and a switch other than 0 or 1 are refused as such.
        for (ids, status, expected) in [
            (json!([mine[2], theirs[0]]), json!(1), "FailedOperation.CertificateNotFound"),
            (json!([mine[2], "missing1"]), json!(1), "FailedOperation.CertificateNotFound"),
            (json!(vec![mine[2].clone(); 51]), json!(1), "InvalidParameter"),
            (json!([]), json!(1), "MissingParameter"),
            (json!([mine[2]]), json!(2), "InvalidParameterValue"),
        ] {
            let answer = switch(&s.url, ids.clone(), status).await;
            assert_eq!(code(&answer), Some(expected), "{ids} {answer}");
            if expected == "InvalidParameter" {
                let message = answer["Error"]["Message"].as_str().unwrap_or_default();
                assert!(message.contains("50"), "{message}");
            }
        }
        let items = list(&s.url, &first(), &json!({})).await;
        let ignored: Vec<bool> =
            mine.iter().map(|id| items[id]["IsIgnore"].as_bool().expect("a bool")).collect();
        assert_eq!(ignored, [true, true, false]);
        let theirs_listed = list(&s.url, &other(), &json!({})).await;
        assert_eq!(theirs_listed[&theirs[0]]["IsIgnore"], false, "another account's, untouched");

        assert_eq!(
            code(&switch(&s.url, json!([mine[1]]), json!(0)).await),
            None,
            "switched on again"
        );
        (mine, theirs)
    };

    // After a restart, from the data file: the detail shows it too.
    let s = serving(Some(&data), 0).await;
    let mut ignored = Vec::new();
    for id in &mine {
        ignored.push(detail(&s.url, &first(), id).await["IsIgnore"].as_bool().expect("a bool"));
    }
    assert_eq!(ignored, [true, false, false]);
    assert_eq!(detail(&s.url, &other(), &theirs[0]).await["IsIgnore"], false);
}

#[tokio::test]
async fn each_account_applies_for_at_most_its_yearly_limit_of_free_certificates() {
    let s = serving(None, 2).await;
    let control = ControlClient::new(&s.url);
    // Neither a paid nor an uploaded certificate is a free one.
    control.seed_certificate(&seed("pay.example.com", SeedKind::Paid, 100)).await.expect("seeded");
    control.seed_certificate(&seed("up.example.com", SeedKind::Upload, 80)).await.expect("seeded");
    let c = client(&s.url, KEY);
    c.apply_certificate(&apply_request("www.example.com")).await.expect("first");
    c.apply_certificate(&apply_request("www.example.org")).await.expect("second");

    let refused = c.apply_certificate(&apply_request("www.example.net")).await.expect_err("third");
    assert_eq!(refused.code(), Some("FailedOperation.ExceedsFreeLimit"));
    assert!(refused.to_string().contains("reached the limit (2)"), "{refused}");
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 4, "nothing was applied for");

    let apply = json!({ "DvAuthMethod": "DNS_AUTO", "DomainName": "www.example.net" });
    let theirs = call_as(&s.url, &other(), Service::SSL, "ApplyCertificate", &apply).await;
    assert_eq!(code(&theirs), None, "another account has a limit of its own: {theirs}");

    // A year on, last year's no longer count.
    s.sandbox.age(366).expect("aged");
    c.apply_certificate(&apply_request("www.example.net")).await.expect("a new year");
}
