//! Several accounts in one configuration: `provider "tencentcloud"` blocks with an `alias`,
//! picked with `provider = tencentcloud.ALIAS` by resources, `for_each` instances, ACME
//! certificates and imports — and each way of getting it wrong, named where it is.

use certplan_core::{Address, InstanceKey, ProviderRef};
use certplan_parser::{LoadOptions, load_dir_with};

use super::{diagnose, parse};

const PROVIDERS: &str = r#"
variable "staging_id" {
  type = string
}
variable "staging_key" {
  type      = string
  sensitive = true
}

provider "tencentcloud" {
  wait_for_issuance = "5m"
}

provider "tencentcloud" {
  alias             = "prod"
  profile           = "prod"
  wait_for_issuance = "20m"
}

provider "tencentcloud" {
  alias      = "staging"
  secret_id  = var.staging_id
  secret_key = var.staging_key
}
"#;

fn with_providers(resources: &str) -> String {
    format!("{PROVIDERS}\n{resources}")
}

#[test]
fn resources_pick_their_account_by_alias() {
    let text = with_providers(
        r#"
resource "tencentcloud_ssl_free_certificate" "shared" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = toset(["a.example.com", "b.example.com"])
  provider       = tencentcloud.prod
  domain         = each.value
  dv_auth_method = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "test" {
  provider       = tencentcloud.staging
  domain         = "www.example.net"
  dv_auth_method = "DNS_AUTO"
}

import {
  provider = tencentcloud.staging
  to       = tencentcloud_ssl_free_certificate.test
  id       = "abcd1234"
}
"#,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), &text).expect("write");
    let env = [("staging_id", "AKIDstaging"), ("staging_key", "staging-secret")];
    let options = LoadOptions {
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..LoadOptions::default()
    };
    let config = load_dir_with(dir.path(), &options).expect("valid config");
    let provider = |address: &Address| config.resources[address].args.provider.clone();
    assert_eq!(provider(&Address::certificate("shared")), ProviderRef::DEFAULT);
    let site = Address::certificate("site");
    for key in ["a.example.com", "b.example.com"] {
        let instance = site.instance(InstanceKey::Key(key.into()));
        assert_eq!(provider(&instance), ProviderRef::aliased("prod"), "{instance}");
    }
    assert_eq!(provider(&Address::certificate("test")), ProviderRef::aliased("staging"));
    assert_eq!(config.imports[0].provider, Some(ProviderRef::aliased("staging")));

    // Each provider is its own configuration, and the one its resources wait with.
    let prod = config.providers.get(&ProviderRef::aliased("prod")).expect("declared");
    assert_eq!(prod.profile.as_deref(), Some("prod"));
    assert_eq!(prod.wait_for_issuance, Some(std::time::Duration::from_secs(1200)));
    let staging = config.providers.get(&ProviderRef::aliased("staging")).expect("declared");
    let (id, key, _) = staging.credentials.as_ref().expect("from variables");
    assert_eq!((id.as_str(), key.expose()), ("AKIDstaging", "staging-secret"));
    // From variables, the key is not written in the file: no warning says it is.
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.providers.aliases().collect::<Vec<_>>(), ["prod", "staging"]);
}

#[test]
fn an_unknown_alias_is_named_where_it_is_used() {
    let text = with_providers(
        r#"
resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = toset(["a.example.com", "b.example.com"])
  provider       = tencentcloud.prd
  domain         = each.value
  dv_auth_method = "DNS_AUTO"
}
"#,
    );
    let shown = diagnose(&text);
    assert!(shown.contains("no provider \"tencentcloud\" block has alias = \"prd\""), "{shown}");
    assert!(shown.contains("did you mean tencentcloud.prod?"), "{shown}");
    assert!(shown.contains("main.hcl:"), "{shown}");
    // Two instances, one mistake: one report.
    assert_eq!(shown.matches("has alias = \"prd\"").count(), 1, "{shown}");
}

#[test]
fn a_quoted_or_foreign_provider_says_how_to_write_it() {
    let quoted = diagnose(
        r#"
provider "tencentcloud" {
  alias   = "prod"
  profile = "prod"
}
resource "tencentcloud_ssl_free_certificate" "www" {
  provider       = "tencentcloud.prod"
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
}
"#,
    );
    assert!(quoted.contains("write provider = tencentcloud.prod"), "{quoted}");
    let foreign = diagnose(
        r#"
resource "tencentcloud_ssl_free_certificate" "www" {
  provider       = aws.prod
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
}
"#,
    );
    assert!(foreign.contains("provider = aws.prod does not name a provider"), "{foreign}");
}

#[test]
fn two_blocks_for_one_account_or_an_aliased_block_without_credentials_are_refused() {
    let twice = diagnose(
        r#"
provider "tencentcloud" {
  alias   = "prod"
  profile = "prod"
}
provider "tencentcloud" {
  alias   = "prod"
  profile = "other"
}
"#,
    );
    assert!(
        twice.contains("two provider \"tencentcloud\" blocks have alias = \"prod\""),
        "{twice}"
    );
    let defaults = diagnose("provider \"tencentcloud\" {}\nprovider \"tencentcloud\" {}\n");
    assert!(defaults.contains("give every other one an alias"), "{defaults}");
    let anonymous = diagnose("provider \"tencentcloud\" {\n  alias = \"prod\"\n}\n");
    assert!(
        anonymous.contains("provider tencentcloud.prod does not say whose credentials it uses"),
        "{anonymous}"
    );
    assert!(anonymous.contains("the TENCENTCLOUD_* variables are the default provider's"));
    let bad = diagnose("provider \"tencentcloud\" {\n  alias = \"1st\"\n  profile = \"x\"\n}\n");
    assert!(bad.contains("invalid alias \"1st\""), "{bad}");
}

#[test]
fn an_import_names_the_provider_of_its_resource() {
    let shown = diagnose(&with_providers(
        r#"
resource "tencentcloud_ssl_free_certificate" "www" {
  provider       = tencentcloud.prod
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
}
import {
  provider = tencentcloud.staging
  to       = tencentcloud_ssl_free_certificate.www
  id       = "abcd1234"
}
"#,
    ));
    assert!(
        shown.contains(
            "the import names provider tencentcloud.staging, but tencentcloud_ssl_free_certificate.www uses tencentcloud.prod"
        ),
        "{shown}"
    );
}

#[test]
fn an_acme_certificate_is_uploaded_to_the_account_it_names() {
    let config = parse(
        r#"
provider "tencentcloud" {
  alias   = "prod"
  profile = "prod"
}
resource "acme_registration" "me" {
  email_address = "ops@example.com"
}
resource "acme_certificate" "site" {
  provider                  = tencentcloud.prod
  account_key_pem           = acme_registration.me.account_key_pem
  common_name               = "example.com"
  subject_alternative_names = ["*.example.com"]
  dns_challenge {
    provider = "tencentcloud"
  }
}
"#,
    )
    .expect("valid config");
    let address =
        Address { resource_type: "acme_certificate".into(), ..Address::certificate("site") };
    assert_eq!(config.resources[&address].args.provider, ProviderRef::aliased("prod"));
}

#[test]
fn notify_blocks_take_a_secret_webhook_and_a_known_format() {
    let secret = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY42";
    let written =
        parse(&format!("notify {{\n  webhook = \"{secret}\"\n  format  = \"wecom\"\n}}\n"))
            .expect("valid, with a warning");
    assert_eq!(written.notify.len(), 1);
    assert_eq!(written.notify[0].format, certplan_parser::NotifyFormat::Wecom);
    assert_eq!(written.notify[0].webhook.expose(), secret);
    assert_eq!(written.notify[0].expiring_within, std::time::Duration::from_secs(14 * 86_400));
    let warning = format!("{:?}", written.warnings);
    assert!(warning.contains("a webhook URL in the configuration"), "{warning}");
    assert!(!format!("{:?}", written.notify).contains("SECRETKEY42"), "never in Debug");

    let unknown =
        diagnose("notify {\n  webhook = \"https://example.com/h\"\n  format = \"teams\"\n}\n");
    assert!(unknown.contains("unknown notification format \"teams\""), "{unknown}");
    assert!(unknown.contains("json, wecom, dingtalk, feishu, slack"), "{unknown}");
    let missing = diagnose("notify {\n  format = \"slack\"\n}\n");
    assert!(missing.contains("a notify block needs a webhook"), "{missing}");
    let not_a_url = diagnose("notify {\n  webhook = \"SECRETKEY42\"\n}\n");
    assert!(not_a_url.contains("is not an http(s) URL"), "{not_a_url}");
    // The excerpts show the block, never the value.
    assert!(!not_a_url.contains("SECRETKEY42"), "{not_a_url}");
    let shown = certplan_parser::render_diagnostics(&written.sources, &written.warnings, false);
    assert!(!shown.contains("SECRETKEY42"), "{shown}");
}
