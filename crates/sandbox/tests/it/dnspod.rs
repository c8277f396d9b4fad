//! DNSPod over real HTTP: the provider's client for service `dnspod` and hand-built requests
//! against the sandbox's zones and records, the TXT records published to a stand-in for
//! pebble-challtestsrv's management API that records what it is posted, and the sandbox's CA
//! validating a `DNS` order by the CNAME record made in one of those zones.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use certplan_provider::dnspod::DnsRecord;
use certplan_sandbox::DnsZone;

use super::*;

fn zones(names: &[&str]) -> Vec<DnsZone> {
    names.iter().map(|n| n.parse().expect("a zone")).collect()
}

fn with_zones(names: &[&str]) -> SandboxOptions {
    SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        dns_zones: zones(names),
        ..Default::default()
    }
}

async fn dns_call(url: &str, action: &str, body: &Value) -> Value {
    call_service(url, Service::DNSPOD, None, action, body).await
}

fn values(records: &[DnsRecord]) -> Vec<&str> {
    records.iter().map(|r| r.value.as_str()).collect()
}

#[tokio::test]
async fn txt_records_are_created_listed_and_deleted_in_the_accounts_zones() {
    let s = start_with(with_zones(&["example.com", "example.org"])).await;
    let dns = s.client_for(Service::DNSPOD);
    let listed = dns.dns_zones().await.expect("listed");
    let names: Vec<&str> = listed.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(names, ["example.com", "example.org"]);
    assert!(listed[0].id > 0 && listed[0].id != listed[1].id);

    let host = "_acme-challenge";
    let first =
        dns.create_record("example.com", host, "TXT", "one", 600, "certplan").await.expect("made");
    let second = dns.create_record("example.com", host, "TXT", "two", 600, "").await.expect("made");
    dns.create_record("example.com", "_acme-challenge.www", "TXT", "other host", 600, "")
        .await
        .expect("made");
    dns.create_record("example.org", host, "TXT", "other zone", 600, "").await.expect("made");
    let records = dns.records("example.com", host, "TXT").await.expect("listed");
    assert_eq!(values(&records), ["one", "two"]);
    assert_eq!(
        (records[0].id, records[0].ttl, records[0].remark.as_str()),
        (first, Some(600), "certplan")
    );
    assert!(records.iter().all(|r| r.enabled));

    let duplicate = dns
        .create_record("example.com", host, "TXT", "two", 600, "")
        .await
        .expect_err("held already");
    assert_eq!(duplicate.code(), Some("InvalidParameter.DomainRecordExist"), "{duplicate}");
    assert!(duplicate.proves_nothing_done());

    dns.delete_dns_record("example.com", first).await.expect("deleted");
    dns.delete_dns_record("example.com", first).await.expect("gone already is deleted");
    let left = dns.records("example.com", host, "TXT").await.expect("listed");
    assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), [second]);
    assert!(dns.records("example.com", "_none", "TXT").await.expect("listed").is_empty());

    let unknown =
        dns.create_record("example.net", host, "TXT", "x", 600, "").await.expect_err("no zone");
    assert_eq!(unknown.code(), Some("InvalidParameterValue.DomainNotExists"), "{unknown}");
}

#[tokio::test]
async fn dnspod_answers_with_the_fields_and_codes_of_the_sdks_model() {
    let s = start_with(with_zones(&["example.com"])).await;
    let url = s.url.as_str();
    let created = dns_call(
        url,
        "CreateTXTRecord",
        &json!({
            "Domain": "example.com", "SubDomain": "_acme-challenge", "RecordLineId": "0",
            "Value": "token", "TTL": 600
        }),
    )
    .await;
    let id = created["RecordId"].as_u64().unwrap_or_else(|| panic!("a record id: {created}"));
    let listed = dns_call(
        url,
        "DescribeRecordList",
        &json!({
            "Domain": "example.com", "Subdomain": "_acme-challenge", "RecordType": "TXT"
        }),
    )
    .await;
    assert_eq!(listed["RecordCountInfo"]["TotalCount"], 1, "{listed}");
    let record = &listed["RecordList"][0];
    assert_eq!(
        (&record["RecordId"], &record["Name"], &record["Type"], &record["Line"], &record["Value"]),
        (&json!(id), &json!("_acme-challenge"), &json!("TXT"), &json!("默认"), &json!("token"))
    );
    let domains = dns_call(url, "DescribeDomainList", &json!({})).await;
    assert_eq!(domains["DomainCountInfo"]["DomainTotal"], 1, "{domains}");
    assert_eq!(domains["DomainList"][0]["Name"], "example.com");
    assert_eq!(domains["DomainList"][0]["RecordCount"], 1);

    let empty = json!({ "Domain": "example.com", "Subdomain": "www" });
    let none = dns_call(url, "DescribeRecordList", &empty).await;
    assert_eq!(code(&none), Some("ResourceNotFound.NoDataOfRecord"), "{none}");
    let mut quiet = empty.clone();
    quiet["ErrorOnEmpty"] = json!("no");
    let quiet = dns_call(url, "DescribeRecordList", &quiet).await;
    assert_eq!(
        (quiet["RecordList"].clone(), quiet["RecordCountInfo"]["TotalCount"].clone()),
        (json!([]), json!(0))
    );

    let txt = |extra: Value| {
        let mut body = json!({ "Domain": "example.com", "SubDomain": "a", "RecordType": "TXT",
                               "RecordLine": "默认", "Value": "v" });
        for (k, v) in extra.as_object().expect("an object") {
            body[k] = v.clone();
        }
        body
    };
    let refusals = [
        (
            "CreateRecord",
            txt(json!({ "Domain": "example.net" })),
            "InvalidParameterValue.DomainNotExists",
        ),
        ("CreateRecord", txt(json!({ "DomainId": 999 })), "InvalidParameter.DomainIdInvalid"),
        (
            "CreateRecord",
            txt(json!({ "RecordLine": "电信" })),
            "InvalidParameter.RecordLineInvalid",
        ),
        ("CreateRecord", txt(json!({ "TTL": 60 })), "LimitExceeded.RecordTtlLimit"),
        (
            "CreateRecord",
            txt(json!({ "RecordType": "BOGUS" })),
            "InvalidParameter.RecordTypeInvalid",
        ),
        ("CreateRecord", txt(json!({ "SubDomain": "a b" })), "InvalidParameter.SubdomainInvalid"),
        (
            "DescribeRecordList",
            json!({ "Domain": "example.net" }),
            "InvalidParameterValue.DomainNotExists",
        ),
        (
            "DescribeRecordList",
            json!({ "Domain": "example.com", "SortField": "ttl" }),
            "InvalidParameter",
        ),
        (
            "DeleteRecord",
            json!({ "Domain": "example.com", "RecordId": 999 }),
            "InvalidParameter.RecordIdInvalid",
        ),
        (
            "DeleteRecord",
            json!({ "Domain": "example.net", "RecordId": id }),
            "InvalidParameterValue.DomainNotExists",
        ),
        ("DescribeCertificates", json!({}), "InvalidAction"),
    ];
    for (action, body, expected) in refusals {
        let answer = dns_call(url, action, &body).await;
        assert_eq!(code(&answer), Some(expected), "{action} {body}: {answer}");
    }
    let still = dns_call(url, "DescribeRecordList", &json!({ "Domain": "example.com" })).await;
    assert_eq!(still["RecordCountInfo"]["TotalCount"], 1, "nothing refused was made: {still}");
}

#[tokio::test]
async fn zones_come_from_the_control_api_and_records_persist_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let id = {
        let s = start(Some(data.clone())).await;
        let control = ControlClient::new(&s.url);
        assert_eq!(control.add_dns_zones(&["Example.COM."]).await.expect("added"), ["example.com"]);
        let refused = control.add_dns_zones(&["not a zone"]).await.expect_err("not a zone");
        assert!(
            matches!(&refused, ControlError::Refused { status, .. } if status.as_u16() == 400),
            "{refused}"
        );
        s.client_for(Service::DNSPOD)
            .create_record("example.com", "@", "TXT", "apex", 600, "")
            .await
            .expect("made")
    };
    let s = start(Some(data)).await;
    let dns = s.client_for(Service::DNSPOD);
    let zones: Vec<String> =
        dns.dns_zones().await.expect("listed").into_iter().map(|z| z.name).collect();
    assert_eq!(zones, ["example.com"]);
    let records = dns.records("example.com", "@", "TXT").await.expect("listed");
    assert_eq!((records[0].id, records[0].value.as_str()), (id, "apex"));
}

/// What a stand-in for pebble-challtestsrv's management API was posted, in order: the path and
/// the JSON body.
type Posted = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves a stand-in for pebble-challtestsrv's management API on loopback, answering every
/// post with `status`; returns its URL and what it is posted.
async fn challtestsrv(status: StatusCode) -> (String, Posted) {
    async fn record(
        State((posted, status)): State<(Posted, StatusCode)>,
        uri: Uri,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        posted.lock().expect("not poisoned").push((uri.path().to_owned(), body));
        status
    }
    let posted = Posted::default();
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(record))
        .with_state((posted.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, posted)
}

fn clear(host: &str) -> (String, Value) {
    ("/clear-txt".to_owned(), json!({ "host": host }))
}

fn set(host: &str, value: &str) -> (String, Value) {
    ("/set-txt".to_owned(), json!({ "host": host, "value": value }))
}

#[tokio::test]
async fn a_names_txt_records_are_published_to_challtestsrv_as_they_change() {
    let (server, posted) = challtestsrv(StatusCode::OK).await;
    let s =
        start_with(SandboxOptions { challtestsrv: Some(server), ..with_zones(&["example.com"]) })
            .await;
    let dns = s.client_for(Service::DNSPOD);
    let taken = || std::mem::take(&mut *posted.lock().expect("not poisoned"));
    let name = "_acme-challenge.example.com.";

    let apex = dns
        .create_record("example.com", "_acme-challenge", "TXT", "apex", 600, "")
        .await
        .expect("made");
    assert_eq!(taken(), [clear(name), set(name, "apex")]);
    dns.create_record("example.com", "_acme-challenge", "TXT", "wildcard", 600, "")
        .await
        .expect("made");
    assert_eq!(taken(), [clear(name), set(name, "apex"), set(name, "wildcard")], "both at once");
    dns.delete_dns_record("example.com", apex).await.expect("deleted");
    assert_eq!(taken(), [clear(name), set(name, "wildcard")]);

    let a_record = json!({ "Domain": "example.com", "SubDomain": "www", "RecordType": "A",
                           "RecordLine": "默认", "Value": "127.0.0.1" });
    let made = dns_call(&s.url, "CreateRecord", &a_record).await;
    assert!(made["RecordId"].is_u64(), "{made}");
    assert!(taken().is_empty(), "only TXT records are published");
}

#[tokio::test]
async fn a_txt_record_that_cannot_be_published_is_an_internal_error() {
    let (server, posted) = challtestsrv(StatusCode::INTERNAL_SERVER_ERROR).await;
    let s = start_with(SandboxOptions {
        challtestsrv: Some(server.clone()),
        ..with_zones(&["example.com"])
    })
    .await;
    let dns = s.client_for(Service::DNSPOD);
    let err = dns
        .create_record("example.com", "_acme-challenge", "TXT", "token", 600, "")
        .await
        .expect_err("not published");
    assert_eq!(err.code(), Some("InternalError"), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("could not be published"), "{shown}");
    assert!(shown.contains(&format!("{server}/clear-txt")), "{shown}");
    assert_eq!(posted.lock().expect("not poisoned").len(), 1, "the sandbox tried once");
    // The record was made, and not made again: creating is never sent twice.
    let records = dns.records("example.com", "_acme-challenge", "TXT").await.expect("listed");
    assert_eq!(values(&records), ["token"]);
}

/// Returns the CNAME record a `DNS` order asks for, as the client reads it: its host in zone
/// `example.com` and its value.
async fn cname_to_publish(c: &Client, id: &str) -> (String, String) {
    let pending = c.certificate(id).await.expect("described");
    match pending.validation.as_slice() {
        [ValidationRecord::Dns { name, record_type, value }] if record_type == "CNAME" => {
            let host = name.strip_suffix(".example.com").expect("a name in example.com");
            (host.to_owned(), value.clone())
        }
        other => panic!("expected one CNAME record, got {other:?}"),
    }
}

/// Makes a record with `CreateRecord` in zone `example.com`, with `extra` parameters; returns
/// its id.
async fn create_record(url: &str, host: &str, record_type: &str, value: &str, extra: Value) -> u64 {
    let mut body = json!({ "Domain": "example.com", "SubDomain": host, "RecordType": record_type,
                           "RecordLine": "默认", "Value": value });
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    let made = dns_call(url, "CreateRecord", &body).await;
    made["RecordId"].as_u64().unwrap_or_else(|| panic!("a record id: {made}"))
}

#[tokio::test]
async fn a_dns_order_issues_once_its_cname_is_in_one_of_the_accounts_zones() {
    let s = start_with(with_zones(&["example.com"])).await;
    let c = client(&s.url, KEY);
    let order = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let (host, value) = cname_to_publish(&c, &order).await;
    assert_eq!(status_of(&c, &order).await, CertStatus::Pending, "nothing published yet");

    // As many clients write it: the value fully qualified, with its trailing dot.
    create_record(&s.url, &host, "CNAME", &format!("{value}."), json!({})).await;
    let issued = c.certificate(&order).await.expect("described");
    assert_eq!(issued.status, CertStatus::Issued, "validated by the record, by no person");
    assert!(issued.not_after.is_some() && issued.validation.is_empty(), "{issued:?}");
}

#[tokio::test]
async fn a_dns_order_stays_pending_until_the_very_record_is_published_in_time() {
    let s = start_with(with_zones(&["example.com"])).await;
    let c = client(&s.url, KEY);
    let order = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let (host, value) = cname_to_publish(&c, &order).await;
    let near_misses = [
        (host.as_str(), "CNAME", "wrong.sectigo.trust-provider.com", json!({})),
        (host.as_str(), "TXT", value.as_str(), json!({})),
        (host.as_str(), "CNAME", value.as_str(), json!({ "Status": "DISABLE" })),
        ("_other.www", "CNAME", value.as_str(), json!({})),
    ];
    let mut made = Vec::new();
    for (name, record_type, published, extra) in near_misses {
        made.push(create_record(&s.url, name, record_type, published, extra.clone()).await);
        assert_eq!(
            status_of(&c, &order).await,
            CertStatus::Pending,
            "{record_type} {name} {published} {extra}"
        );
    }
    let checked = call_service(
        &s.url,
        Service::SSL,
        None,
        "CompleteCertificate",
        &json!({ "CertificateId": order }),
    )
    .await;
    assert_eq!(checked["CertificateId"], json!(order), "{checked}");
    assert_eq!(status_of(&c, &order).await, CertStatus::Pending, "checked, and still not there");

    // Published after the seven days validation may take: the order has failed already.
    s.sandbox.age(8).expect("aged past the deadline");
    // The zone holds the disabled one already: DNSPod refuses the same record twice.
    let dns = s.client_for(Service::DNSPOD);
    dns.delete_dns_record("example.com", made[2]).await.expect("deleted");
    create_record(&s.url, &host, "CNAME", &value, json!({})).await;
    assert_eq!(status_of(&c, &order).await, CertStatus::Failed);
}

#[tokio::test]
async fn complete_certificate_checks_a_pending_order_now_and_refuses_a_decided_one() {
    let s = start_with(with_zones(&["example.com"])).await;
    let c = client(&s.url, KEY);
    let complete = |id: &str| {
        let body = json!({ "CertificateId": id });
        let url = s.url.clone();
        async move { call_service(&url, Service::SSL, None, "CompleteCertificate", &body).await }
    };
    let order = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let (host, value) = cname_to_publish(&c, &order).await;
    create_record(&s.url, &host, "CNAME", &value, json!({})).await;
    // Nothing read the certificate since the record was made: this check issues it.
    let checked = complete(&order).await;
    assert_eq!((code(&checked), &checked["CertificateId"]), (None, &json!(order)), "{checked}");
    assert_eq!(status_of(&c, &order).await, CertStatus::Issued);

    let again = complete(&order).await;
    assert_eq!(code(&again), Some("FailedOperation.InvalidParam"), "{again}");
    let unknown = complete("nope1234").await;
    assert_eq!(code(&unknown), Some("FailedOperation.CertificateNotFound"), "{unknown}");
    let missing = call_service(&s.url, Service::SSL, None, "CompleteCertificate", &json!({})).await;
    assert_eq!(code(&missing), Some("MissingParameter"), "{missing}");
}

#[tokio::test]
async fn dns_auto_and_file_orders_are_validated_as_before() {
    let s = start_with(SandboxOptions {
        issue_delay: std::time::Duration::from_secs(3600),
        ..with_zones(&["example.com"])
    })
    .await;
    let c = client(&s.url, KEY);
    let auto = c.apply_certificate(&apply_request("auto.example.com")).await.expect("applied");
    let file = c
        .apply_certificate(&apply_with("files.example.com", DvAuthMethod::File))
        .await
        .expect("applied");
    let dns = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    // Automatic validation takes its delay, whatever a client publishes.
    let (host, value) = cname_to_publish(&c, &auto).await;
    create_record(&s.url, &host, "CNAME", &value, json!({})).await;
    let (host, value) = cname_to_publish(&c, &dns).await;
    create_record(&s.url, &host, "CNAME", &value, json!({})).await;
    assert_eq!(status_of(&c, &dns).await, CertStatus::Issued);
    assert_eq!(status_of(&c, &auto).await, CertStatus::DnsRecordAdded);
    assert_eq!(status_of(&c, &file).await, CertStatus::Pending);

    // A person (or the CA, told by the control API) still validates a FILE order.
    ControlClient::new(&s.url).console(ConsoleOp::Validate, &file).await.expect("validated");
    assert_eq!(status_of(&c, &file).await, CertStatus::Issued);
}
