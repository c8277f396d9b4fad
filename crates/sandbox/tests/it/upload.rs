//! Uploaded certificates over real HTTP: `UploadCertificate` with the provider's client and by
//! hand, and the uploaded certificate described, listed, downloaded, deployed, queried and
//! deleted like any other id.

use std::time::Duration;

use certplan_core::{DeployTarget, ResourceType, Sensitive};
use certplan_provider::BindQuery;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::*;

/// A certificate for `names` (the first its common name), valid from now for `days`, signed by
/// a CA of its own, as an ACME CA hands one out: the certificate then the CA (PEM), and its key
/// (PKCS#8 PEM).
fn issued(names: &[&str], days: i64) -> (String, String) {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "test ACME CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("a key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf = CertificateParams::new(names.clone()).expect("names");
    leaf.distinguished_name.push(DnType::CommonName, names[0].as_str());
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).expect("whole seconds");
    leaf.not_before = now;
    leaf.not_after = now + time::Duration::days(days);
    let leaf_pem = leaf.signed_by(&key, &issuer).expect("a certificate").pem();
    (format!("{leaf_pem}{ca_pem}"), key.serialize_pem())
}

/// The DER of each PEM certificate in `text`.
fn ders(text: &str) -> Vec<Vec<u8>> {
    pems(text).into_iter().map(|p| p.contents).collect()
}

async fn upload(url: &str, body: &Value) -> Value {
    call_service(url, Service::SSL, None, "UploadCertificate", body).await
}

async fn detail(url: &str, id: &str) -> Value {
    let body = json!({ "CertificateId": id });
    call_service(url, Service::SSL, None, "DescribeCertificateDetail", &body).await
}

fn quick_deploys() -> SandboxOptions {
    SandboxOptions {
        accounts: vec![SandboxAccount::new(ID, KEY)],
        deploy_step: Duration::from_millis(5),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_uploaded_certificate_is_described_listed_and_downloaded_as_uploaded() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let (chain, key) = issued(&["www.example.com", "example.com"], 90);
    let uploaded = c
        .upload_certificate(&chain, &Sensitive::new(key.clone()), Some("from acme"), Some(7))
        .await
        .expect("uploaded");
    assert!(!uploaded.repeat, "a first upload makes a certificate");
    let id = uploaded.certificate_id.to_string();

    let remote = c.certificate(&id).await.expect("described");
    assert_eq!(remote.status, CertStatus::Issued);
    assert_eq!(remote.domain, "www.example.com");
    assert_eq!(remote.alias.as_deref(), Some("from acme"));
    assert_eq!(remote.project_id, Some(7));
    let leaf = pems(&chain)[0].parse_x509().expect("X.509").validity().clone();
    assert_eq!(remote.not_before.map(|t| t.timestamp()), Some(leaf.not_before.timestamp()));
    assert_eq!(remote.not_after.map(|t| t.timestamp()), Some(leaf.not_after.timestamp()));

    let raw = detail(&s.url, &id).await;
    assert_eq!(raw["From"], "upload");
    assert_eq!(raw["CertificateType"], "SVR");
    assert_eq!(raw["SubjectAltName"], json!(["www.example.com", "example.com"]));
    assert_eq!(raw["IsDv"], false);
    assert_eq!(raw["PackageType"], Value::Null);
    assert_eq!(raw["EncryptAlgorithm"], "ECC 256");
    assert_eq!(raw["CertFingerprint"].as_str().map(str::len), Some(40), "SHA-1, hex");
    assert_eq!(raw["RenewAble"], false, "an upload is not renewed by applying");
    assert_eq!(raw["CertificatePrivateKey"].as_str(), Some(key.as_str()));
    let served = raw["CertificatePublicKey"].as_str().expect("the chain");
    assert_eq!(ders(served), ders(&chain), "the certificate and its chain, as uploaded");
    let pem_material = c.certificate_pems(&id).await.expect("PEMs");
    assert_eq!(pem_material.private_key.as_ref().map(Sensitive::expose), Some(key.as_str()));

    assert_eq!(list_ids(&s.url, r#"{"FilterSource":"upload"}"#).await, Ok(vec![id.clone()]));
    assert_eq!(list_ids(&s.url, r#"{"FilterSource":"buy"}"#).await, Ok(vec![]));
    assert_eq!(list_ids(&s.url, r#"{"CertificateType":"SVR"}"#).await, Ok(vec![id.clone()]));

    let files = download(&s.url, &id).await.expect("downloaded");
    assert_eq!(files["Nginx/www.example.com.key"], key);
    assert_eq!(ders(&files["Nginx/www.example.com_bundle.crt"]), ders(&chain));
    assert!(!files.contains_key("Nginx/www.example.com.csr"), "an upload has no request");

    let control = ControlClient::new(&s.url);
    let refused = control.console(ConsoleOp::Revoke, &id).await.expect_err("not the CA's");
    assert!(refused.to_string().contains("was uploaded"), "{refused}");
}

#[tokio::test]
async fn an_upload_that_must_not_repeat_answers_the_certificate_held_already() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let (chain, key) = issued(&["www.example.com"], 90);
    let key = Sensitive::new(key);
    let first = c.upload_certificate(&chain, &key, None, None).await.expect("uploaded");
    let again = c.upload_certificate(&chain, &key, None, None).await.expect("uploaded again");
    assert_eq!(again.certificate_id, first.certificate_id);
    assert!(again.repeat, "RepeatCertId names the first upload");
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 1, "no second certificate");

    let body = json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key.expose(),
                       "Repeatable": false });
    let answer = upload(&s.url, &body).await;
    assert_eq!(answer["RepeatCertId"].as_str(), Some(first.certificate_id.as_str()), "{answer}");
    // Repeatable is true unless said otherwise: the same certificate again, as another id.
    let body = json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key.expose() });
    let repeated = upload(&s.url, &body).await;
    assert_eq!(repeated["RepeatCertId"], "", "{repeated}");
    let second = repeated["CertificateId"].as_str().expect("a new id");
    assert_ne!(second, first.certificate_id.as_str());
    assert_eq!(s.sandbox.certificates().expect("listed").len(), 2);
}

#[tokio::test]
async fn an_upload_is_refused_for_a_key_not_its_own_and_for_pem_it_cannot_read() {
    let s = start(None).await;
    let c = client(&s.url, KEY);
    let (chain, _) = issued(&["www.example.com"], 90);
    let (_, other_key) = issued(&["www.example.com"], 90);
    let key_body = other_key.lines().nth(1).expect("a line of the key").to_owned();

    let mismatch = c
        .upload_certificate(&chain, &Sensitive::new(other_key.clone()), None, None)
        .await
        .expect_err("another certificate's key");
    assert_eq!(mismatch.code(), Some("FailedOperation.CertificateMismatch"), "{mismatch}");
    assert!(mismatch.proves_nothing_done());
    assert!(!mismatch.to_string().contains(&key_body), "{mismatch}");

    let garbage = c
        .upload_certificate("not a certificate", &Sensitive::new(other_key.clone()), None, None)
        .await
        .expect_err("no PEM");
    assert_eq!(garbage.code(), Some("FailedOperation.CertificateParseError"), "{garbage}");

    // Labelled SEC1 (`EC PRIVATE KEY`, as acme.sh and lego write ECDSA keys): a kind of key
    // the sandbox does not read, and says so.
    let sec1 = other_key.replace("PRIVATE KEY", "EC PRIVATE KEY");
    let unread = c
        .upload_certificate(&chain, &Sensitive::new(sec1), None, None)
        .await
        .expect_err("unread key");
    assert_eq!(unread.code(), Some("FailedOperation.CertificateParseError"), "{unread}");
    assert!(unread.to_string().contains("PKCS#8"), "{unread}");

    let keyless = upload(&s.url, &json!({ "CertificatePublicKey": chain })).await;
    assert_eq!(code(&keyless), Some("MissingParameter"), "a server certificate needs its key");
    assert!(s.sandbox.certificates().expect("listed").is_empty(), "nothing was uploaded");
}

#[tokio::test]
async fn an_uploaded_ca_certificate_comes_without_a_key() {
    let s = start(None).await;
    let (chain, _) = issued(&["Test Client CA"], 365);
    let answer =
        upload(&s.url, &json!({ "CertificatePublicKey": chain, "CertificateType": "CA" })).await;
    let id = answer["CertificateId"].as_str().expect("uploaded").to_owned();
    let raw = detail(&s.url, &id).await;
    assert_eq!(
        (raw["CertificateType"].as_str(), raw["Domain"].as_str()),
        (Some("CA"), Some("Test Client CA"))
    );
    assert_eq!(raw["CertificatePrivateKey"], Value::Null);
    assert_eq!(list_ids(&s.url, r#"{"CertificateType":"CA"}"#).await, Ok(vec![id.clone()]));
    assert_eq!(list_ids(&s.url, r#"{"CertificateType":"SVR"}"#).await, Ok(vec![]));
}

#[tokio::test]
async fn an_uploaded_certificate_is_deployed_queried_and_deleted_like_any_other() {
    let s = start_with(quick_deploys()).await;
    let c = client(&s.url, KEY);
    let control = ControlClient::new(&s.url);
    let old = control.seed(&["www.example.com"]).await.expect("seeded").remove(0);
    control.bind(&old, "cdn", None, "www.example.com").await.expect("bound");
    let (chain, key) = issued(&["www.example.com"], 90);
    let uploaded = c
        .upload_certificate(&chain, &Sensitive::new(key), None, None)
        .await
        .expect("uploaded")
        .certificate_id;

    let target = DeployTarget { resource_types: [ResourceType::Cdn].into(), ..Default::default() };
    let mut record = 0;
    for _ in 0..5 {
        record = c
            .update_certificate_instance(&old, uploaded.as_str(), &target)
            .await
            .expect("asked")
            .record_id;
        if record > 0 {
            break;
        }
    }
    assert!(record > 0, "a deploy task");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let progress = c.deploy_record_detail(record).await.expect("followed");
        if progress.running == 0 && progress.pending == 0 {
            assert_eq!((progress.succeeded, progress.failed), (1, 0));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the task never finished");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let serving: Vec<String> = control
        .bindings(Some(uploaded.as_str()))
        .await
        .expect("listed")
        .into_iter()
        .map(|b| b.instance)
        .collect();
    assert_eq!(serving, ["www.example.com"], "the CDN domain serves the upload now");

    let (_, task) =
        c.query_bindings(std::slice::from_ref(&uploaded)).await.expect("asked").remove(0);
    let mut found = BindQuery::Running;
    for _ in 0..5 {
        found = c.binding_results(std::slice::from_ref(&task)).await.expect("read").remove(0);
        if found != BindQuery::Running {
            break;
        }
    }
    let BindQuery::Done(bound) = found else { panic!("the query did not finish: {found:?}") };
    assert_eq!(
        bound.iter().map(|b| (b.resource_type.as_str(), b.count)).collect::<Vec<_>>(),
        [("cdn", 1)]
    );

    let bound = c.delete_certificate(uploaded.as_str()).await.expect_err("still serves the CDN");
    assert_eq!(bound.code(), Some("FailedOperation.DeleteResourceFailed"), "{bound}");
    // No hour to wait: that rule is the free certificates'.
    let (chain, key) = issued(&["api.example.com"], 90);
    let spare =
        c.upload_certificate(&chain, &Sensitive::new(key), None, None).await.expect("uploaded");
    assert!(c.delete_certificate(spare.certificate_id.as_str()).await.expect("deleted"));
    let gone = c.certificate(spare.certificate_id.as_str()).await.expect_err("deleted");
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn uploads_persist_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("sandbox.json");
    let (chain, key) = issued(&["www.example.com"], 90);
    let key = Sensitive::new(key);
    let first = {
        let s = start(Some(data.clone())).await;
        client(&s.url, KEY).upload_certificate(&chain, &key, None, None).await.expect("uploaded")
    };
    let s = start(Some(data)).await;
    let c = client(&s.url, KEY);
    let pem_material = c.certificate_pems(first.certificate_id.as_str()).await.expect("kept");
    assert_eq!(pem_material.private_key.as_ref().map(Sensitive::expose), Some(key.expose()));
    let again = c.upload_certificate(&chain, &key, None, None).await.expect("uploaded again");
    assert_eq!((again.certificate_id, again.repeat), (first.certificate_id, true));
}
