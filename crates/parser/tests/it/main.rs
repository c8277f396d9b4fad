//! The parser against real configuration text: valid configs load with every argument typed,
//! and each kind of mistake is a diagnostic pointing at the right file, line and column.

use certplan_core::Backend;
use certplan_core::{Address, CsrEncryptAlgo, DvAuthMethod};
use certplan_parser::{ConfigError, RenewBefore, Source, load_dir, parse_sources};

fn parse(text: &str) -> Result<certplan_parser::Config, ConfigError> {
    parse_sources(vec![Source::new("main.hcl", text)])
}

/// Renders the diagnostics of a config that must fail.
fn diagnose(text: &str) -> String {
    parse(text).expect_err("the config is invalid").render(false)
}

#[test]
fn reads_every_argument_with_its_type() {
    let config = parse(
        r#"
provider "tencentcloud" {
  endpoint = "https://ssl.intl.tencentcloudapi.com"
  region   = "ap-guangzhou"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain                 = "www.example.com"
  dv_auth_method         = "DNS_AUTO"
  package_type           = "83"
  contact_email          = "ops@example.com"
  contact_phone          = "+86 10 1234"
  validity_period        = 3
  csr_encrypt_algo       = "ECC"
  csr_key_parameter      = "prime256v1"
  csr_key_password       = "hunter2"
  alias                  = "www-${"prod"}"
  project_id             = "7"
  delete_dns_auto_record = true

  lifecycle {
    renew_before    = "14d"
    prevent_destroy = true
  }
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain         = "api.example.com"
  dv_auth_method = "DNS"
}
"#,
    )
    .expect("valid config");
    assert_eq!(
        config.providers.default_config().endpoint,
        Some(("https://ssl.intl.tencentcloudapi.com".into(), "main.hcl:3:14".into()))
    );
    let www = &config.resources[&Address::certificate("www")];
    assert_eq!(www.args.domain, "www.example.com");
    assert_eq!(www.args.dv_auth_method, Some(DvAuthMethod::DnsAuto));
    assert_eq!(www.args.validity_period.as_deref(), Some("3"), "numbers convert to strings");
    assert_eq!(www.args.csr_encrypt_algo, Some(CsrEncryptAlgo::Ecc));
    assert_eq!(www.args.alias.as_deref(), Some("www-prod"), "templates are evaluated");
    assert_eq!(www.args.project_id, Some(7), "numeric strings convert to numbers");
    assert_eq!(www.args.delete_dns_auto_record, Some(true));
    assert_eq!(www.csr_key_password.as_deref(), Some("hunter2"));
    let digest = www.args.csr_key_password_digest.as_deref().expect("digest");
    assert!(digest.starts_with("sha256:") && !digest.contains("hunter2"));
    assert_eq!(www.lifecycle.renew_before, RenewBefore::from_days(14));
    assert!(www.lifecycle.prevent_destroy);
    assert_eq!(www.location, "main.hcl:7:1");

    let api = &config.resources[&Address::certificate("api")];
    assert_eq!(api.lifecycle.renew_before, RenewBefore::DEFAULT);
    assert!(!api.lifecycle.prevent_destroy);
    assert_eq!(api.args.csr_encrypt_algo, None);
}

#[test]
fn reads_every_hcl_file_of_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.hcl"),
        "resource \"tencentcloud_ssl_free_certificate\" \"a\" {\n  domain = \"a.example.com\"\n  dv_auth_method = \"DNS\"\n}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b.hcl"),
        "resource \"tencentcloud_ssl_free_certificate\" \"b\" {\n  domain = \"b.example.com\"\n  dv_auth_method = \"DNS\"\n}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not config").expect("write");
    let config = load_dir(dir.path()).expect("valid");
    assert_eq!(config.resources.len(), 2);
    assert_eq!(config.sources.len(), 2);

    std::fs::write(
        dir.path().join("c.hcl"),
        "resource \"tencentcloud_ssl_free_certificate\" \"a\" {\n  domain = \"c.example.com\"\n  dv_auth_method = \"DNS\"\n}\n",
    )
    .expect("write");
    let err = load_dir(dir.path()).expect_err("duplicate across files");
    let shown = err.render(false);
    assert!(shown.contains("duplicate resource tencentcloud_ssl_free_certificate.a"), "{shown}");
    assert!(shown.contains("c.hcl:1:1") && shown.contains("a.hcl:1:1"), "{shown}");
}

#[test]
fn empty_and_missing_directories_say_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = load_dir(dir.path()).expect_err("no config").render(false);
    assert!(empty.contains("no configuration files (*.hcl)"), "{empty}");
    let missing = load_dir(&dir.path().join("nope")).expect_err("no dir").render(false);
    assert!(missing.contains("cannot read the configuration directory"), "{missing}");
    assert!(missing.contains("--chdir"), "{missing}");
}

#[test]
fn a_terraform_directory_is_recognised_and_the_way_in_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.tf"), "provider \"tencentcloud\" {}\n").expect("tf");
    // What `terraform init` writes is not configuration, for certplan as for Terraform.
    let lock = "provider \"registry.terraform.io/tencentcloudstack/tencentcloud\" {\n  version = \"1.81.0\"\n}\n";
    std::fs::write(dir.path().join(".terraform.lock.hcl"), lock).expect("lock file");
    let shown = load_dir(dir.path()).expect_err("no .hcl").render(false);
    assert!(shown.contains("it holds Terraform files (*.tf), which certplan does not read"));
    assert!(
        shown.contains("certplan import --from-terraform terraform.tfstate --generate-config"),
        "{shown}"
    );
}

#[test]
fn the_providers_documented_example_says_what_the_api_accepts_today() {
    // The tencentcloud provider's example for the resource, as its documentation has it.
    let example = r#"resource "tencentcloud_ssl_free_certificate" "example" {
  dv_auth_method    = "DNS_AUTO"
  domain            = "example.com"
  package_type      = "2"
  contact_email     = "test@example.com"
  contact_phone     = "18352458901"
  validity_period   = 12
  csr_encrypt_algo  = "RSA"
  csr_key_parameter = "2048"
  csr_key_password  = "csr_pwd"
  alias             = "test-ssl"
}
"#;
    let err = parse_sources(vec![Source::new("main.hcl", example)]).expect_err("not today's API");
    let shown = err.render(false);
    assert_eq!(err.error_count(), 2, "{shown}");
    assert!(shown.contains("invalid package_type \"2\""), "{shown}");
    assert!(shown.contains("main.hcl:4:23"), "{shown}");
    assert!(shown.contains("the API accepts only \"83\""), "{shown}");
    assert!(shown.contains("invalid validity_period \"12\""), "{shown}");
    assert!(shown.contains("main.hcl:7:23"), "{shown}");
    assert!(shown.contains("the API issues free certificates for 3 months only today"), "{shown}");
    assert!(!shown.contains("csr_pwd"), "the password is never shown: {shown}");
}

#[test]
fn diagnostic_syntax_error() {
    insta::assert_snapshot!(diagnose(
        "resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.example.com\n}\n"
    ));
}

#[test]
fn diagnostic_unknown_argument_with_suggestion() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain       = "www.example.com"
  dv_auth_mode = "DNS_AUTO"
}
"#
    ));
}

#[test]
fn diagnostic_wrong_type() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = ["www.example.com"]
  dv_auth_method = "DNS"
  project_id     = "seven"
}
"#
    ));
}

#[test]
fn diagnostic_missing_required_arguments() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  alias = "www"
}
"#
    ));
}

#[test]
fn diagnostic_bad_enum_value() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "dns_auto"
}
"#
    ));
}

#[test]
fn diagnostic_key_parameter_mismatch() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain            = "www.example.com"
  dv_auth_method    = "DNS"
  csr_encrypt_algo  = "ECC"
  csr_key_parameter = "2048"
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain           = "api.example.com"
  dv_auth_method   = "DNS"
  csr_encrypt_algo = "ECC"
}
"#
    ));
}

#[test]
fn diagnostic_domain_too_long_and_invalid() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "long" {
  domain         = "this-label-is-long.and-this-one-is-even-longer.service.example.com"
  dv_auth_method = "DNS"
}

resource "tencentcloud_ssl_free_certificate" "bad" {
  domain         = "www..example.com"
  dv_auth_method = "DNS"
}
"#
    ));
}

#[test]
fn diagnostic_wildcard_domain_is_a_paid_product() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "wild" {
  domain         = "*.example.com"
  dv_auth_method = "DNS_AUTO"
}
"#
    ));
}

#[test]
fn diagnostic_wildcard_with_file_validation() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "wild" {
  domain         = "*.example.com"
  dv_auth_method = "FILE"
}
"#
    ));
}

#[test]
fn diagnostic_renew_before_beyond_the_api_window() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS"
  lifecycle {
    renew_before = "45d"
  }
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain         = "api.example.com"
  dv_auth_method = "DNS"
  lifecycle {
    renew_before = "30 days"
  }
}
"#
    ));
}

#[test]
fn diagnostic_unsupported_blocks_and_resource_types() {
    insta::assert_snapshot!(diagnose(
        r#"terraform {
  required_providers {}
}

resource "tencentcloud_ssl_certificate" "www" {
  domain = "www.example.com"
}

resource "aws_acm_certificate" "www" {}
"#
    ));
}

#[test]
fn diagnostic_duplicate_resource() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www2.example.com"
  dv_auth_method = "DNS"
}
"#
    ));
}

#[test]
fn diagnostic_unevaluable_expression() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = var.domain
  dv_auth_method = "DNS"
}
"#
    ));
}

#[test]
fn reads_removed_blocks_and_wait_settings() {
    let config = parse(
        r#"
provider "tencentcloud" {
  wait_for_issuance = "10m"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
  lifecycle {
    wait_for_issuance = "90s"
  }
}

removed {
  from = tencentcloud_ssl_free_certificate.old
}

removed {
  from = "tencentcloud_ssl_free_certificate.gone"
  lifecycle {
    destroy = true
  }
}
"#,
    )
    .expect("valid config");
    assert_eq!(
        config.providers.default_config().wait_for_issuance,
        Some(std::time::Duration::from_secs(600))
    );
    let www = &config.resources[&Address::certificate("www")];
    assert_eq!(www.lifecycle.wait_for_issuance, Some(std::time::Duration::from_secs(90)));
    let old = &config.removed[&Address::certificate("old")];
    assert!(!old.destroy);
    assert_eq!(old.location, "main.hcl:14:1");
    assert!(config.removed[&Address::certificate("gone")].destroy);
}

#[test]
fn diagnostic_removed_but_still_declared_and_bad_durations() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain         = "api.example.com"
  dv_auth_method = "DNS_AUTO"
  lifecycle {
    wait_for_issuance = "ten minutes"
  }
}

removed {
  from = tencentcloud_ssl_free_certificate.www
}

removed {
  from = aws_acm_certificate.x
}
"#
    ));
}

#[test]
fn every_example_configuration_is_valid() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let dir = entry.expect("entry").path();
        let has_config = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok).any(|f| f.path().extension().is_some_and(|e| e == "hcl"))
            })
            .unwrap_or(false);
        if has_config {
            let config = load_dir(&dir)
                .unwrap_or_else(|e| panic!("{}:\n{}", dir.display(), e.render(false)));
            assert!(!config.resources.is_empty(), "{}", dir.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "quickstart and dns-validation at least");
    let workflow =
        std::fs::read_to_string(examples.join("ci/github-actions.yml")).expect("workflow");
    assert!(
        workflow.contains("plan --detailed-exitcode") && workflow.contains("apply --auto-approve")
    );
}

#[test]
fn diagnostic_unknown_function_and_functions_that_work() {
    let config = parse(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = lower(join(".", ["WWW", "Example", "com"]))
  dv_auth_method = upper("dns_auto")
  alias          = format("%s-%d", "site", 2)
}
"#,
    )
    .expect("functions evaluate");
    let www = &config.resources[&Address::certificate("www")];
    assert_eq!(www.args.domain, "www.example.com");
    assert_eq!(www.args.dv_auth_method, Some(DvAuthMethod::DnsAuto));
    assert_eq!(www.args.alias.as_deref(), Some("site-2"));

    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = lowercase("WWW.EXAMPLE.COM")
  dv_auth_method = "DNS"
}
"#
    ));
}

#[test]
fn locals_refer_to_each_other_and_feed_resources() {
    let config = parse_sources(vec![
        Source::new(
            "a.hcl",
            r#"
locals {
  zone    = "example.com"
  contact = "ops@${local.zone}"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.${local.zone}"
  dv_auth_method = local.method
  contact_email  = local.contact
  alias          = upper(local.names[0])
}
"#,
        ),
        Source::new(
            "b.hcl",
            "locals {\n  method = \"DNS_AUTO\"\n  names = [\"www\", \"api\"]\n}\n",
        ),
    ])
    .expect("valid");
    let www = &config.resources[&Address::certificate("www")];
    assert_eq!(www.args.domain, "www.example.com");
    assert_eq!(www.args.dv_auth_method, Some(DvAuthMethod::DnsAuto));
    assert_eq!(www.args.contact_email.as_deref(), Some("ops@example.com"));
    assert_eq!(www.args.alias.as_deref(), Some("WWW"));
}

#[test]
fn diagnostic_locals_cycle_undefined_and_duplicate() {
    insta::assert_snapshot!(diagnose(
        r#"locals {
  a = "${local.b}-x"
  b = local.c
  c = local.a
  d = local.missing
}

locals {
  d = "again"
}
"#
    ));
}

mod delivery;
mod fmt;
mod providers;
mod settings;

mod variables {
    use super::*;
    use certplan_parser::{LoadOptions, VarFlag, load_dir_with};

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    const CONFIG: &str = r#"
variable "zone" {
  type    = string
  default = "default.example"
}

variable "names" {
  type    = set(string)
  default = ["www"]
}

locals {
  contact = "ops@${var.zone}"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "${join("-", var.names)}.${var.zone}"
  dv_auth_method = "DNS_AUTO"
  contact_email  = local.contact
}
"#;

    fn domain(dir: &std::path::Path, options: &LoadOptions) -> String {
        let config = load_dir_with(dir, options).unwrap_or_else(|e| panic!("{}", e.render(false)));
        config.resources[&Address::certificate("www")].args.domain.clone()
    }

    #[test]
    fn precedence_is_terraforms() {
        let dir = dir_with(&[("main.hcl", CONFIG)]);
        let env = |zone: &str| vec![("zone".to_owned(), zone.to_owned())];
        assert_eq!(domain(dir.path(), &LoadOptions::default()), "www.default.example");
        assert_eq!(
            domain(dir.path(), &LoadOptions { env: env("env.example"), ..LoadOptions::default() }),
            "www.env.example"
        );

        std::fs::write(dir.path().join("certplan.tfvars"), "zone = \"tfvars.example\"\n")
            .expect("write");
        assert_eq!(
            domain(dir.path(), &LoadOptions { env: env("env.example"), ..LoadOptions::default() }),
            "www.tfvars.example"
        );
        std::fs::write(dir.path().join("b.auto.tfvars"), "zone = \"b.example\"\n").expect("write");
        std::fs::write(
            dir.path().join("a.auto.tfvars"),
            "zone = \"a.example\"\nnames = [\"api\", \"api\"]\n",
        )
        .expect("write");
        assert_eq!(
            domain(dir.path(), &LoadOptions::default()),
            "api.b.example",
            "auto files in lexical order, sets dedupe"
        );

        let extra = dir.path().join("extra.vars");
        std::fs::write(&extra, "zone = \"file.example\"\n").expect("write");
        let assign = VarFlag::Assign { name: "zone".into(), raw: "flag.example".into() };
        let file = VarFlag::File(extra.clone());
        let last_wins = |flags: Vec<VarFlag>| {
            domain(dir.path(), &LoadOptions { flags, ..LoadOptions::default() })
        };
        assert_eq!(last_wins(vec![file.clone(), assign.clone()]), "api.flag.example");
        assert_eq!(last_wins(vec![assign, file]), "api.file.example");
        let typed = VarFlag::Assign { name: "names".into(), raw: "[\"b\", \"a\"]".into() };
        assert_eq!(last_wins(vec![typed]), "a-b.b.example", "non-string values are HCL");
    }

    #[test]
    fn variables_feed_locals_and_change_the_digest() {
        let dir = dir_with(&[("main.hcl", CONFIG)]);
        let a = load_dir_with(dir.path(), &LoadOptions::default()).expect("valid");
        assert_eq!(
            a.resources[&Address::certificate("www")].args.contact_email.as_deref(),
            Some("ops@default.example")
        );
        let options = LoadOptions {
            env: vec![("zone".into(), "other.example".into())],
            ..LoadOptions::default()
        };
        let b = load_dir_with(dir.path(), &options).expect("valid");
        assert_ne!(a.digest(), b.digest(), "a saved plan made with other variable values is stale");
    }

    #[test]
    fn diagnostic_variables_missing_invalid_and_undeclared() {
        let dir = dir_with(&[
            (
                "main.hcl",
                r#"variable "zone" {
  type = string
}

variable "port" {
  type    = number
  default = "eighty"
}

variable "env" {
  type    = string
  default = "prod"
  validation {
    condition     = contains(["dev", "staging"], var.env)
    error_message = "env must be dev or staging."
  }
}
"#,
            ),
            ("certplan.tfvars", "zonee = \"example.com\"\n"),
        ]);
        let err = load_dir_with(dir.path(), &LoadOptions::default()).expect_err("invalid");
        let shown = err.render(false).replace(&dir.path().display().to_string(), "<dir>");
        insta::assert_snapshot!(shown);
    }
}

mod instances {
    use super::*;
    use certplan_core::InstanceKey;

    fn instance(name: &str, key: InstanceKey) -> Address {
        Address::certificate(name).instance(key)
    }

    #[test]
    fn for_each_over_a_map_a_set_and_count() {
        let config = parse(
            r#"
locals {
  sites = {
    www = { domain = "www.example.com", method = "DNS_AUTO" }
    api = { domain = "api.example.com", method = "DNS" }
  }
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = local.sites
  domain         = each.value.domain
  dv_auth_method = each.value.method
  alias          = "site-${each.key}"
}

resource "tencentcloud_ssl_free_certificate" "extra" {
  for_each       = toset(["b.example.com", "a.example.com"])
  domain         = each.key
  dv_auth_method = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "numbered" {
  count          = 2
  domain         = "n${count.index}.example.com"
  dv_auth_method = "DNS_AUTO"
}
"#,
        )
        .expect("valid");
        let names: Vec<String> = config.resources.keys().map(|a| a.to_string()).collect();
        assert_eq!(
            names,
            [
                r#"tencentcloud_ssl_free_certificate.extra["a.example.com"]"#,
                r#"tencentcloud_ssl_free_certificate.extra["b.example.com"]"#,
                "tencentcloud_ssl_free_certificate.numbered[0]",
                "tencentcloud_ssl_free_certificate.numbered[1]",
                r#"tencentcloud_ssl_free_certificate.site["api"]"#,
                r#"tencentcloud_ssl_free_certificate.site["www"]"#,
            ]
        );
        let api = &config.resources[&instance("site", InstanceKey::Key("api".into()))];
        assert_eq!(api.args.domain, "api.example.com");
        assert_eq!(api.args.dv_auth_method, Some(DvAuthMethod::Dns));
        assert_eq!(api.args.alias.as_deref(), Some("site-api"));
        assert_eq!(
            config.resources[&instance("numbered", InstanceKey::Index(1))].args.domain,
            "n1.example.com"
        );
    }

    #[test]
    fn diagnostic_count_and_for_each_mistakes() {
        insta::assert_snapshot!(diagnose(
            r#"resource "tencentcloud_ssl_free_certificate" "both" {
  count          = 1
  for_each       = toset(["a"])
  domain         = "a.example.com"
  dv_auth_method = "DNS"
}

resource "tencentcloud_ssl_free_certificate" "list" {
  for_each       = ["a.example.com", "a.example.com"]
  domain         = each.key
  dv_auth_method = "DNS"
}

resource "tencentcloud_ssl_free_certificate" "counted" {
  count          = "two"
  domain         = "c.example.com"
  dv_auth_method = "DNS"
}

resource "tencentcloud_ssl_free_certificate" "same_mistake" {
  count          = 3
  domain         = "bad domain"
  dv_auth_method = "DNS"
}
"#
        ));
    }
}

#[test]
fn certplan_block_sets_the_backend_and_checks_the_version() {
    let ok = parse(
        "certplan {\n  required_version = \">= 0.1, < 99\"\n  backend \"local\" {\n    path = \"state/prod.json\"\n  }\n}\n",
    )
    .expect("valid");
    assert_eq!(ok.settings.backend, Backend::Local { path: "state/prod.json".into() });
    let shown = diagnose("certplan {\n  required_version = \"~> 99.0\"\n  backend \"s3\" {}\n}\n");
    assert!(
        shown.contains("this configuration requires certplan ~> 99.0; this is 0.1.0"),
        "{shown}"
    );
    assert!(shown.contains("unsupported backend \"s3\""), "{shown}");
    assert!(shown.contains("main.hcl:2:22"), "{shown}");

    // Terraform's pg backend names; either may come from the environment instead.
    let pg = parse(
        "certplan {\n  backend \"pg\" {\n    conn_str    = \"postgres://certplan:pw@db/certs\"\n    schema_name = \"team\"\n  }\n}\n",
    )
    .expect("valid");
    let backend = pg.settings.backend;
    let Backend::Pg { conn_str, schema_name } = &backend else { panic!("the pg backend") };
    assert_eq!(conn_str.as_ref().map(|c| c.expose()), Some("postgres://certplan:pw@db/certs"));
    assert_eq!(schema_name.as_deref(), Some("team"));
    assert!(!format!("{backend:?}").contains("pw@"), "the connection string is a secret");
    let empty = parse("certplan {\n  backend \"pg\" {}\n}\n").expect("valid");
    assert_eq!(empty.settings.backend, Backend::Pg { conn_str: None, schema_name: None });
    let two = diagnose("certplan {\n  backend \"local\" {}\n  backend \"pg\" {}\n}\n");
    assert!(two.contains("two backend blocks"), "{two}");
    let typo = diagnose("certplan {\n  backend \"pg\" {\n    conn_string = \"x\"\n  }\n}\n");
    assert!(typo.contains("did you mean \"conn_str\""), "{typo}");
}

mod try_and_can {
    use super::*;
    use certplan_core::InstanceKey;

    const CONFIG: &str = r#"
variable "zone" {
  type    = string
  default = "example.com"

  validation {
    condition     = can(regex("^[a-z0-9.-]+$", var.zone))
    error_message = "zone must be a lower-case DNS name"
  }
}

variable "sites" {
  type = any
  default = {
    www = { alias = "homepage", method = "DNS" }
    api = {}
  }
}

locals {
  # Optional per-site settings, with defaults where a site leaves them out.
  methods = { for name, site in var.sites : name => try(site.method, "DNS_AUTO") }
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = var.sites
  domain         = "${each.key}.${var.zone}"
  dv_auth_method = local.methods[each.key]
  alias          = try(each.value.alias, "site-${each.key}")
}
"#;

    #[test]
    fn fill_in_optional_settings_and_check_values() {
        let config = parse(CONFIG).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let site = |key: &str| {
            &config.resources
                [&Address::certificate("site").instance(InstanceKey::Key(key.to_owned()))]
        };
        assert_eq!(site("www").args.alias.as_deref(), Some("homepage"));
        assert_eq!(site("www").args.dv_auth_method, Some(DvAuthMethod::Dns));
        assert_eq!(site("api").args.alias.as_deref(), Some("site-api"));
        assert_eq!(site("api").args.dv_auth_method, Some(DvAuthMethod::DnsAuto));
    }

    #[test]
    fn diagnostic_try_and_can_failures() {
        insta::assert_snapshot!(diagnose(
            &CONFIG
                .replace(r#"default = "example.com""#, r#"default = "Example.COM""#)
                .replace(r#""site-${each.key}""#, "each.value.name")
                .replace(r#"try(site.method, "DNS_AUTO")"#, "try(site.method, var.method)")
        ));
    }
}

mod sensitive {
    use super::*;

    const CONFIG: &str = r#"
variable "contact" {
  type      = string
  default   = "secret-ops@example.com"
  sensitive = true
}

variable "names" {
  type      = set(string)
  default   = ["www"]
  sensitive = true
}

locals {
  contact = lower(var.contact)
  again   = local.contact
  plain   = "DNS_AUTO"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = local.plain
  contact_email  = local.again
  alias          = "www"
}
"#;

    #[test]
    fn arguments_from_sensitive_variables_are_marked() {
        let config = parse(CONFIG).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let www = &config.resources[&Address::certificate("www")];
        assert_eq!(www.args.contact_email.as_deref(), Some("secret-ops@example.com"));
        assert_eq!(
            www.sensitive.iter().map(String::as_str).collect::<Vec<_>>(),
            ["contact_email"],
            "through two locals; the others are not sensitive"
        );
    }

    #[test]
    fn diagnostics_never_quote_a_sensitive_value() {
        let text = diagnose(&CONFIG.replace("secret-ops@example.com", "Not-An-Email-Secret"));
        assert!(text.contains("contact_email \"(sensitive value)\" is not an email"), "{text}");
        assert!(!text.to_lowercase().contains("not-an-email-secret"), "{text}");

        // Nor one that could not be converted to its type.
        let text = diagnose(&format!(
            "{CONFIG}\nvariable \"pin\" {{\n  type      = number\n  default   = \"secret-pin\"\n  sensitive = true\n}}\n"
        ));
        assert!(text.contains("invalid value for variable \"pin\""), "{text}");
        assert!(!text.contains("secret-pin\" is not"), "{text}");
    }

    #[test]
    fn diagnostic_sensitive_outputs_and_instance_keys() {
        insta::assert_snapshot!(diagnose(&format!(
            r#"{CONFIG}
output "contact" {{
  value = local.contact
}}

output "fine" {{
  value     = var.contact
  sensitive = true
}}

resource "tencentcloud_ssl_free_certificate" "site" {{
  for_each       = var.names
  domain         = "${{each.key}}.example.com"
  dv_auth_method = "DNS_AUTO"
}}
"#
        )));
    }
}

#[test]
fn certificates_attributes_outside_outputs_say_where_they_belong() {
    let text = diagnose(
        "locals {\n  id = tencentcloud_ssl_free_certificate.www.id\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain         = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  alias          = local.id\n}\n",
    );
    assert!(text.contains("main.hcl:2:8"), "{text}");
    assert!(text.contains("known only after apply: refer to them in output blocks"), "{text}");
    assert_eq!(text.matches("error:").count(), 2, "alias is not reported again: {text}");
}

#[test]
fn a_variable_without_a_value_is_reported_once_where_it_is_declared() {
    let text = "variable \"password\" {\n  sensitive = true\n}\n\nlocals {\n  pw = var.password\n}\n\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain           = \"www.example.com\"\n  dv_auth_method   = \"DNS_AUTO\"\n  csr_key_password = var.password\n  alias            = local.pw\n}\n";
    let err = parse_sources(vec![Source::new("main.hcl", text)]).expect_err("no value");
    let shown = err.render(false);
    assert_eq!(err.error_count(), 1, "{shown}");
    assert!(shown.contains("variable \"password\" has no value"), "{shown}");
    assert!(!shown.contains("is not declared"), "{shown}");
}

#[test]
fn a_long_chain_of_locals_is_evaluated_not_a_stack_overflow() {
    // Each local refers to the next, so the walk from the first goes 20 000 deep.
    let n = 20_000;
    let mut text = String::from("locals {\n");
    for i in 0..n - 1 {
        text.push_str(&format!("  l{i} = local.l{}\n", i + 1));
    }
    text.push_str(&format!("  l{} = \"www\"\n}}\n", n - 1));
    text.push_str("resource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"${local.l0}.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n}\n");
    let config = parse(&text).expect("valid");
    let www = &config.resources[&Address::certificate("www")];
    assert_eq!(www.args.domain, "www.example.com");

    // A cycle through the chain is still named.
    let cyclic = text.replace(&format!("l{} = \"www\"", n - 1), &format!("l{} = local.l0", n - 1));
    assert!(diagnose(&cyclic).contains("locals refer to each other in a cycle: l0 -> l1 -> "));
}

#[test]
fn an_unclosed_string_is_named_on_its_own_line() {
    let text = "# a \"quoted\" comment\nresource \"tencentcloud_ssl_free_certificate\" \"www\" {\n  domain = \"www.${\"example\"}.com\n  dv_auth_method = \"DNS_AUTO\"\n}\n";
    let shown = diagnose(text);
    assert!(shown.contains("a string is not closed on its line"), "{shown}");
    assert!(shown.contains("main.hcl:3:12"), "the line it opens on: {shown}");
    assert!(shown.contains("heredoc"), "{shown}");
    // Other syntax errors keep the parser's own words.
    let other = diagnose("resource \"a\" \"b\" {\n  domain = = 1\n}\n");
    assert!(!other.contains("not closed"), "{other}");
}

/// Terraform's acme provider's usual blocks, as its documentation writes them.
const TERRAFORM_ACME: &str = r#"
provider "acme" {
  server_url = "https://acme-staging-v02.api.letsencrypt.org/directory"
}

resource "acme_registration" "registration" {
  email_address = "nobody@example.com"
}

resource "acme_certificate" "certificate" {
  account_key_pem           = acme_registration.registration.account_key_pem
  common_name               = "www.example.com"
  subject_alternative_names = ["www2.example.com", "*.example.com"]

  dns_challenge {
    provider = "tencentcloud"
  }
}
"#;

#[test]
fn a_terraform_acme_certificate_moves_in_unchanged() {
    let config = parse(TERRAFORM_ACME).expect("loads");
    let address: Address = "acme_certificate.certificate".parse().expect("address");
    let args = &config.resources[&address].args;
    let acme = args.acme.as_ref().expect("an ACME certificate");
    assert_eq!(args.domain, "www.example.com");
    assert_eq!(args.dv_auth_method, None);
    assert_eq!(acme.server_url, "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert_eq!(acme.registration, "registration");
    assert_eq!(acme.subject_alternative_names, ["www2.example.com", "*.example.com"]);
    assert_eq!(acme.key_type, certplan_core::KeyType::P256);
    assert_eq!(
        acme.challenge,
        certplan_core::Challenge::Dns {
            provider: certplan_core::DnsProvider::TencentCloud,
            recursive_nameservers: vec![]
        }
    );
    let registration = &config.acme.registrations["registration"];
    assert_eq!(registration.email_address.as_deref(), Some("nobody@example.com"));
    assert_eq!(
        registration.account_key,
        certplan_parser::AccountKey::File(certplan_parser::default_key_file("registration"))
    );
}

#[test]
fn what_certplan_does_not_support_of_the_acme_provider_is_refused_with_what_to_write() {
    let refused = [
        (
            "provider = \"tencentcloud\"",
            "provider = \"route53\"",
            "dns_challenge provider \"route53\" is not supported",
            "provider = \"exec\"",
        ),
        (
            "  common_name",
            "  key_type = \"2048\"\n  common_name",
            "key_type \"2048\" is not supported",
            "write key_type = \"P256\" or \"P384\"",
        ),
        (
            "  common_name",
            "  preferred_chain = \"ISRG Root X1\"\n  common_name",
            "preferred_chain is not supported",
            "the CA's default chain is uploaded",
        ),
        (
            "  common_name",
            "  revoke_certificate_on_destroy = true\n  common_name",
            "revoke_certificate_on_destroy = true is not supported",
            "write revoke_certificate_on_destroy = false",
        ),
        (
            "  common_name",
            "  use_renewal_info = true\n  common_name",
            "use_renewal_info is not supported",
            "ARI",
        ),
        (
            "dns_challenge {",
            "http_challenge {\n    port = 80\n  }\n\n  dns_challenge {",
            "http_challenge is not supported",
            "http_webroot_challenge",
        ),
        (
            "  email_address = \"nobody@example.com\"",
            "  email_address   = \"nobody@example.com\"\n  account_key_pem = tls_private_key.reg.private_key_pem",
            "account_key_pem comes from a tls_private_key",
            "certplan makes the account key on first use",
        ),
        (
            "dns_challenge {\n    provider = \"tencentcloud\"\n  }",
            "http_webroot_challenge {\n    directory = \"/var/www\"\n  }",
            "*.example.com cannot be validated over HTTP",
            "use dns_challenge",
        ),
        (
            "acme_registration.registration.account_key_pem",
            "acme_registration.other.account_key_pem",
            "names acme_registration.other, which is not declared",
            "declare `resource \"acme_registration\" \"other\"",
        ),
    ];
    for (from, to, error, help) in refused {
        let text = TERRAFORM_ACME.replacen(from, to, 1);
        assert_ne!(text, TERRAFORM_ACME, "{from} is in the block");
        let rendered = diagnose(&text);
        assert!(rendered.contains(error) && rendered.contains(help), "{rendered}");
        assert!(rendered.contains("--> main.hcl:"), "names the place: {rendered}");
    }
}

#[test]
fn deploy_instances_need_one_region_for_a_region_scoped_type() {
    let block = |deploy: &str| {
        format!(
            "resource \"tencentcloud_ssl_free_certificate\" \"www\" {{\n  domain = \"www.example.com\"\n  dv_auth_method = \"DNS_AUTO\"\n  deploy {{\n{deploy}\n  }}\n}}\n"
        )
    };
    let config = parse(&block("    instances = { clb = [\"lb-1|lbl-1\"], cdn = [\"www.example.com|on\"] }\n    regions = { clb = [\"ap-guangzhou\"] }")).expect("loads");
    let target =
        config.resources.values().next().expect("www").delivery.deploy.clone().expect("deploy");
    let names: Vec<String> = target.instances.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["clb lb-1|lbl-1 in ap-guangzhou", "cdn www.example.com|on"]);
    assert_eq!(target.resource_types.len(), 2, "the instances' types are deployed to");
    let two = diagnose(&block(
        "    instances = { clb = [\"lb-1|lbl-1\"] }\n    regions = { clb = [\"ap-guangzhou\", \"ap-shanghai\"] }",
    ));
    assert!(
        two.contains("the clb instances are deployed in one region")
            && two.contains("one deploy block per region"),
        "{two}"
    );
    let none = diagnose(&block("    instances = { clb = [\"lb-1|lbl-1\"] }"));
    assert!(none.contains("resource type \"clb\" needs regions"), "{none}");
    let empty = diagnose(&block("    instances = { cdn = [] }"));
    assert!(empty.contains("the instances of \"cdn\" must be a list of instance ids"), "{empty}");
}
