//! Certificate delivery over real HTTP: deploy tasks started by `UpdateCertificateInstance` and
//! `DeployCertificateInstance`, followed as a client would, against bindings made with the
//! control API; and the PEM material a delivery would copy, the same on every call.

use std::time::{Duration, Instant};

use super::*;

/// Calls `action` with `body`, signed as the SDKs sign; returns `Response`.
async fn call(url: &str, action: &str, body: &Value) -> Value {
    call_in(url, None, action, body).await
}

/// Calls `action` with the common parameter `Region` (the `X-TC-Region` header) when given.
async fn call_in(url: &str, region: Option<&str>, action: &str, body: &Value) -> Value {
    call_service(url, Service::SSL, region, action, body).await
}

/// A sandbox whose deploy tasks take `step` per resource.
async fn start_stepping(step: Duration) -> (Running, ControlClient) {
    let s = start_with(SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        deploy_step: step,
        ..Default::default()
    })
    .await;
    let control = ControlClient::new(&s.url);
    (s, control)
}

/// Seeds an issued certificate for `www.example.com` to renew and its renewal.
async fn old_and_new(control: &ControlClient) -> (String, String) {
    let ids = control.seed(&["www.example.com", "www.example.com"]).await.expect("seeded");
    (ids[0].clone(), ids[1].clone())
}

fn update(old: &str, new: &str, types: &[&str], regions: &[(&str, &[&str])]) -> Value {
    let regions: Vec<Value> =
        regions.iter().map(|(t, r)| json!({ "ResourceType": t, "Regions": r })).collect();
    json!({
        "OldCertificateId": old,
        "CertificateId": new,
        "ResourceTypes": types,
        "ResourceTypesRegions": regions,
        "ExpiringNotificationSwitch": 1,
    })
}

/// Asks for an update until the task exists, as a client must (`DeployRecordId` 0 means
/// "being created"); returns its id.
async fn start_update(url: &str, body: &Value) -> u64 {
    for _ in 0..5 {
        let answer = call(url, "UpdateCertificateInstance", body).await;
        let id = answer["DeployRecordId"].as_u64().unwrap_or_else(|| panic!("an id: {answer}"));
        if id > 0 {
            return id;
        }
    }
    panic!("no task after 5 calls");
}

/// Follows a task with `DescribeHostUpdateRecordDetail` until no resource is left to deploy;
/// returns the last answer.
async fn finished(url: &str, record: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = json!({ "DeployRecordId": record.to_string(), "Limit": "200", "Offset": "0" });
        let answer = call(url, "DescribeHostUpdateRecordDetail", &body).await;
        assert_eq!(code(&answer), None, "{answer}");
        if answer["PendingTotalCount"] == 0 && answer["RunningTotalCount"] == 0 {
            return answer;
        }
        assert!(Instant::now() < deadline, "task {record} never finished: {answer}");
        // Under the action's rate limit of 10 a second, as a client must poll.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn serving(control: &ControlClient, certificate_id: &str) -> Vec<String> {
    let bindings = control.bindings(Some(certificate_id)).await.expect("listed");
    bindings.into_iter().map(|b| b.instance).collect()
}

#[tokio::test]
async fn update_answers_zero_then_the_new_task_then_the_running_task() {
    // Long enough steps that the task is still running at the third call.
    let (s, control) = start_stepping(Duration::from_millis(400)).await;
    let (old, new) = old_and_new(&control).await;
    for domain in ["www.example.com|on", "www.example.com"] {
        control.bind(&old, "cdn", None, domain).await.expect("bound");
    }
    control.bind(&old, "live", None, "www.example.com").await.expect("bound");
    let body = update(&old, &new, &["cdn", "live"], &[]);

    let first = call(&s.url, "UpdateCertificateInstance", &body).await;
    assert_eq!(first["DeployRecordId"], 0, "being created: {first}");
    assert_eq!(first["UpdateSyncProgress"][0]["Status"], 3, "{first}");
    assert!(control.deploy_tasks().await.expect("tasks").is_empty());

    let second = call(&s.url, "UpdateCertificateInstance", &body).await;
    let id = second["DeployRecordId"].as_u64().expect("an id");
    assert!(id > 0, "{second}");
    assert_eq!(second["DeployStatus"], 1, "a new task: {second}");
    let third = call(&s.url, "UpdateCertificateInstance", &body).await;
    assert_eq!(
        (third["DeployRecordId"].as_u64(), third["DeployStatus"].as_u64()),
        (Some(id), Some(0))
    );

    let tasks = control.deploy_tasks().await.expect("tasks");
    assert_eq!(tasks.len(), 1, "exactly one task");
    assert_eq!(
        (tasks[0].old_certificate_id.as_deref(), tasks[0].certificate_id.as_str()),
        (Some(old.as_str()), new.as_str())
    );
    assert_eq!(tasks[0].resource_types, ["cdn", "live"]);
    let stats = control.stats().await.expect("stats");
    assert_eq!(stats.requests["UpdateCertificateInstance"], 3);

    let done = finished(&s.url, id).await;
    assert_eq!(
        (done["TotalCount"].as_u64(), done["SuccessTotalCount"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(serving(&control, &old).await, Vec::<String>::new());
    assert_eq!(serving(&control, &new).await, ["www.example.com", "www.example.com"]);
    assert_eq!(control.deploy_tasks().await.expect("tasks").len(), 1);
}

#[tokio::test]
async fn only_the_requested_types_and_regions_move_and_bad_requests_are_refused() {
    let (s, control) = start_stepping(Duration::from_millis(20)).await;
    let (old, new) = old_and_new(&control).await;
    let resources = [
        ("clb", Some("ap-guangzhou"), "lb-1|lbl-1|www.example.com"),
        ("clb", Some("ap-shanghai"), "lb-2|lbl-2"),
        ("tke", Some("ap-guangzhou"), "cls-1|default|www-tls"),
        ("cdn", None, "www.example.com"),
    ];
    for (resource_type, region, instance) in resources {
        control.bind(&old, resource_type, region, instance).await.expect("bound");
    }

    let refusals = [
        (update(&old, &new, &["clb"], &[]), "InvalidParameter", "clb"),
        (
            update(&old, &new, &["ecdn"], &[]),
            "FailedOperation.CertificateHostResourceTypeInvalid",
            "ecdn",
        ),
        (
            update("nosuch01", &new, &["cdn"], &[]),
            "FailedOperation.CertificateNotFound",
            "nosuch01",
        ),
        (
            update(&old, "nosuch02", &["cdn"], &[]),
            "FailedOperation.CertificateNotFound",
            "nosuch02",
        ),
    ];
    for (body, expected, named) in refusals {
        let answer = call(&s.url, "UpdateCertificateInstance", &body).await;
        assert_eq!(code(&answer), Some(expected), "{body}: {answer}");
        let message = answer["Error"]["Message"].as_str().expect("a message");
        assert!(message.contains(named), "{message}");
    }
    let c = client(&s.url, KEY);
    let pending = c
        .apply_certificate(&apply_with("www.example.com", DvAuthMethod::Dns))
        .await
        .expect("applied");
    let answer =
        call(&s.url, "UpdateCertificateInstance", &update(&old, &pending, &["cdn"], &[])).await;
    assert_eq!(code(&answer), Some("FailedOperation.CertificateNotAvailable"), "{answer}");

    let body = update(&old, &new, &["clb", "cdn"], &[("clb", &["ap-guangzhou"])]);
    let id = start_update(&s.url, &body).await;
    let done = finished(&s.url, id).await;
    assert_eq!(done["TotalCount"], 2, "{done}");
    let groups = done["RecordDetailList"].as_array().expect("groups");
    let types: Vec<&str> = groups.iter().filter_map(|g| g["ResourceType"].as_str()).collect();
    assert_eq!(types, ["cdn", "clb"]);
    let clb = &groups[1]["List"][0];
    assert_eq!(
        (clb["InstanceId"].as_str(), clb["ListenerId"].as_str(), clb["Region"].as_str()),
        (Some("lb-1"), Some("lbl-1"), Some("ap-guangzhou"))
    );
    assert_eq!(
        (clb["SniSwitch"].as_u64(), clb["OldCertId"].as_str()),
        (Some(1), Some(old.as_str()))
    );
    assert_eq!(serving(&control, &new).await, ["lb-1|lbl-1|www.example.com", "www.example.com"]);
    assert_eq!(serving(&control, &old).await, ["lb-2|lbl-2", "cls-1|default|www-tls"]);
}

#[tokio::test]
async fn a_resource_that_failed_is_deployed_by_a_retry() {
    let (s, control) = start_stepping(Duration::from_millis(20)).await;
    let (old, new) = old_and_new(&control).await;
    let failing = control.bind(&old, "cdn", None, "www.example.com").await.expect("bound");
    control.bind(&old, "tke", Some("ap-guangzhou"), "cls-1|default|www-tls").await.expect("bound");
    control.fail_next_deploys(failing.id, 1).await.expect("armed");

    let body = update(&old, &new, &["cdn", "tke"], &[("tke", &["ap-guangzhou"])]);
    let id = start_update(&s.url, &body).await;
    let done = finished(&s.url, id).await;
    assert_eq!(
        (done["FailedTotalCount"].as_u64(), done["SuccessTotalCount"].as_u64()),
        (Some(1), Some(1))
    );
    let cdn = &done["RecordDetailList"][0]["List"][0];
    assert_eq!(cdn["Status"], 2, "{cdn}");
    assert!(cdn["ErrorMsg"].as_str().is_some_and(|m| m.contains("www.example.com")), "{cdn}");
    assert_eq!(serving(&control, &old).await, ["www.example.com"], "the failed one is unchanged");

    let retried =
        call(&s.url, "UpdateCertificateRecordRetry", &json!({ "DeployRecordId": id })).await;
    assert_eq!(code(&retried), None, "{retried}");
    let done = finished(&s.url, id).await;
    assert_eq!(
        (done["FailedTotalCount"].as_u64(), done["SuccessTotalCount"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(serving(&control, &old).await, Vec::<String>::new());
    let again =
        call(&s.url, "UpdateCertificateRecordRetry", &json!({ "DeployRecordId": id })).await;
    assert_eq!(code(&again), Some("FailedOperation.CertificateDeployRetryStatusInvalid"));
    assert_eq!(control.deploy_tasks().await.expect("tasks").len(), 1, "a retry is no new task");
}

#[tokio::test]
async fn update_record_detail_takes_its_three_parameters_as_strings() {
    let (s, control) = start_stepping(Duration::ZERO).await;
    let (old, new) = old_and_new(&control).await;
    for instance in ["a|www.example.com", "b|www.example.com", "c|www.example.com"] {
        control.bind(&old, "apigateway", Some("ap-guangzhou"), instance).await.expect("bound");
    }
    let id = start_update(
        &s.url,
        &update(&old, &new, &["apigateway"], &[("apigateway", &["ap-guangzhou"])]),
    )
    .await;

    let number =
        call(&s.url, "DescribeHostUpdateRecordDetail", &json!({ "DeployRecordId": id })).await;
    assert_eq!(code(&number), Some("InvalidParameter"), "the SDK's model has a string: {number}");
    let word =
        call(&s.url, "DescribeHostUpdateRecordDetail", &json!({ "DeployRecordId": "x" })).await;
    assert_eq!(code(&word), Some("InvalidParameterValue"));
    let unknown =
        call(&s.url, "DescribeHostUpdateRecordDetail", &json!({ "DeployRecordId": "999" })).await;
    assert_eq!(code(&unknown), Some("FailedOperation.CertificateDeployNotExist"));

    let body = json!({ "DeployRecordId": id.to_string(), "Limit": "1", "Offset": "1" });
    let page = call(&s.url, "DescribeHostUpdateRecordDetail", &body).await;
    assert_eq!(page["TotalCount"], 3, "{page}");
    let group = &page["RecordDetailList"][0];
    assert_eq!(
        (group["TotalCount"].as_u64(), group["List"].as_array().map(Vec::len)),
        (Some(3), Some(1))
    );
    assert_eq!(group["List"][0]["InstanceId"], "b");
    let time = group["List"][0]["UpdateTime"].as_str().expect("a time");
    assert!(certplan_provider::wire::api_time::parse(time).is_some(), "GMT+8 API time: {time}");

    // The engine's way back to a task whose answer was lost.
    let listed =
        call(&s.url, "DescribeHostUpdateRecord", &json!({ "OldCertificateId": old })).await;
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    let record = &listed["DeployRecordList"][0];
    assert_eq!((record["Id"].as_u64(), record["CertId"].as_str()), (Some(id), Some(new.as_str())));
    assert_eq!(
        (record["Regions"][0].as_str(), record["Status"].as_u64()),
        (Some("ap-guangzhou"), Some(1))
    );
}

#[tokio::test]
async fn delete_is_refused_while_the_certificate_serves_cloud_resources() {
    let (s, control) = start_stepping(Duration::from_millis(10)).await;
    let (old, new) = old_and_new(&control).await;
    control.age(1).await.expect("older than the one-hour rule");
    control.bind(&old, "waf", Some("ap-guangzhou"), "www.example.com").await.expect("bound");

    let refused = call(&s.url, "DeleteCertificate", &json!({ "CertificateId": old })).await;
    assert_eq!(code(&refused), Some("FailedOperation.DeleteResourceFailed"), "{refused}");
    let err = control.console(ConsoleOp::Delete, &old).await.expect_err("the console refuses too");
    assert!(matches!(err, ControlError::Refused { status, .. } if status == 409), "{err}");

    let id =
        start_update(&s.url, &update(&old, &new, &["waf"], &[("waf", &["ap-guangzhou"])])).await;
    finished(&s.url, id).await;
    let deleted = call(&s.url, "DeleteCertificate", &json!({ "CertificateId": old })).await;
    assert_eq!(deleted["DeleteResult"], true, "nothing serves it now: {deleted}");
}

#[tokio::test]
async fn deploy_certificate_instance_binds_the_named_instances_once() {
    let (s, control) = start_stepping(Duration::from_millis(10)).await;
    let id = control.seed(&["www.example.com"]).await.expect("seeded").remove(0);
    let deploy = |list: &[&str], resource_type: &str| json!({ "CertificateId": id, "InstanceIdList": list, "ResourceType": resource_type });

    let cases = [
        (None, deploy(&[], "cdn"), "FailedOperation.CertificateDeployInstanceEmpty"),
        (
            None,
            deploy(&["www.example.com"], "ecdn"),
            "FailedOperation.CertificateHostResourceTypeInvalid",
        ),
        (
            Some("ap-guangzhou"),
            deploy(&["lb-1"], "clb"),
            "FailedOperation.CertificateDeployInstanceFormatError",
        ),
        (None, deploy(&["lb-1|lbl-1"], "clb"), "InvalidParameter"),
        (None, deploy(&["api.example.com"], "cdn"), "FailedOperation.CertificateNotDeployInstance"),
    ];
    for (region, body, expected) in cases {
        let answer = call_in(&s.url, region, "DeployCertificateInstance", &body).await;
        assert_eq!(code(&answer), Some(expected), "{body}: {answer}");
    }

    let body = deploy(&["lb-1|lbl-1", "lb-1|lbl-2|www.example.com"], "clb");
    let answer = call_in(&s.url, Some("ap-guangzhou"), "DeployCertificateInstance", &body).await;
    let record = answer["DeployRecordId"].as_u64().filter(|id| *id > 0).expect("a task");
    let deadline = Instant::now() + Duration::from_secs(30);
    let detail = loop {
        let body = json!({ "DeployRecordId": record.to_string() });
        let detail = call(&s.url, "DescribeHostDeployRecordDetail", &body).await;
        if detail["SuccessTotalCount"] == 2 || Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_eq!(detail["DeployRecordDetailList"][1]["ListenerId"], "lbl-2", "{detail}");
    assert_eq!(serving(&control, &id).await, ["lb-1|lbl-1", "lb-1|lbl-2|www.example.com"]);

    let twice = call_in(&s.url, Some("ap-guangzhou"), "DeployCertificateInstance", &body).await;
    assert_eq!(code(&twice), Some("FailedOperation.CertificateNotDeployInstance"), "{twice}");
}

#[tokio::test]
async fn pem_material_is_the_same_on_every_call_and_survives_a_restart() {
    use rcgen::PublicKeyData;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let s = start(Some(data.clone())).await;
    let body = json!({
        "DvAuthMethod": "DNS_AUTO",
        "DomainName": "www.example.com",
        "CsrEncryptAlgo": "ECC",
        "CsrKeyParameter": "prime256v1",
    });
    let id = call(&s.url, "ApplyCertificate", &body).await["CertificateId"]
        .as_str()
        .expect("applied")
        .to_owned();
    let detail = json!({ "CertificateId": id });
    let first = call(&s.url, "DescribeCertificateDetail", &detail).await;
    let second = call(&s.url, "DescribeCertificateDetail", &detail).await;
    let chain = first["CertificatePublicKey"].as_str().expect("a chain");
    assert_eq!(second["CertificatePublicKey"].as_str(), Some(chain), "the same leaf and chain");
    assert_eq!(second["CertificatePrivateKey"], first["CertificatePrivateKey"]);
    let zip = |answer: Value| answer["Content"].as_str().map(str::to_owned);
    let download = call(&s.url, "DownloadCertificate", &detail).await;
    assert!(zip(download.clone()).is_some(), "{download}");
    assert_eq!(zip(call(&s.url, "DownloadCertificate", &detail).await), zip(download), "same ZIP");

    let leaf = pems(chain).remove(0);
    let leaf = leaf.parse_x509().expect("X.509");
    let key_pem = first["CertificatePrivateKey"].as_str().expect("a key");
    let key = rcgen::KeyPair::from_pem(key_pem).expect("a private key");
    assert_eq!(key.der_bytes(), &leaf.public_key().subject_public_key.data[..], "key fits leaf");

    drop(s);
    let restarted = start(Some(data)).await;
    let after = call(&restarted.url, "DescribeCertificateDetail", &detail).await;
    assert_eq!(after["CertificatePublicKey"].as_str(), Some(chain), "kept across restarts");
}
