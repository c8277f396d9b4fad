//! `load_settings`: where the state lives, found even when the rest of the configuration does
//! not load, and never a guess when the `certplan` block itself is wrong.

use certplan_core::Backend;
use certplan_parser::{CertplanBlock, LoadOptions, load_dir_with, load_settings};

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

const BACKEND: &str = r#"
certplan {
  required_version = ">= 0.1"
  backend "local" {
    path = "state/prod.json"
  }
}
"#;

/// A required variable without a value, a resource with an unknown argument and no
/// dv_auth_method, and a block certplan does not read.
const BROKEN: &str = r#"
variable "zone" {
  type = string
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain      = "www.${var.zone}"
  dv_auth_mod = "DNS"
}

terraform {}
"#;

#[test]
fn the_backend_path_is_found_while_the_rest_does_not_load() {
    let dir = dir_with(&[("main.hcl", BROKEN), ("settings.hcl", BACKEND)]);
    let options = LoadOptions::default();
    let err = load_dir_with(dir.path(), &options).expect_err("the full load fails");
    let shown = err.render(false);
    assert!(shown.contains("variable \"zone\" has no value"), "{shown}");
    assert!(shown.contains("unknown argument \"dv_auth_mod\""), "{shown}");

    let settings =
        load_settings(dir.path(), &options).unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert_eq!(settings.backend, Backend::Local { path: "state/prod.json".into() });
}

#[test]
fn a_directory_without_configuration_has_the_default_settings() {
    let dir = dir_with(&[("README.md", "certplan {\n"), ("certplan.tfvars", "zone = 1\n")]);
    assert!(load_dir_with(dir.path(), &LoadOptions::default()).is_err());
    let settings = load_settings(dir.path(), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert_eq!(settings, CertplanBlock::default());
}

#[test]
fn diagnostic_bad_certplan_block_for_load_settings() {
    let dir = dir_with(&[
        ("main.hcl", BROKEN),
        ("settings.hcl", "certplan {\n  backend \"s3\" {\n    bucket = \"state\"\n  }\n}\n"),
    ]);
    let err = load_settings(dir.path(), &LoadOptions::default()).expect_err("unsupported backend");
    let shown = err.render(false).replace(&dir.path().display().to_string(), "<dir>");
    assert!(shown.contains("<dir>/settings.hcl:2:3"), "{shown}");
    assert!(!shown.contains("main.hcl"), "the other files' problems are not reported: {shown}");
    insta::assert_snapshot!(shown);
}

#[test]
fn a_syntax_error_in_any_file_is_an_error() {
    let dir =
        dir_with(&[("main.hcl", "resource \"x\" {\n  domain = \n"), ("settings.hcl", BACKEND)]);
    let err = load_settings(dir.path(), &LoadOptions::default()).expect_err("syntax error");
    let shown = err.render(false).replace(&dir.path().display().to_string(), "<dir>");
    assert!(
        shown.contains("invalid HCL syntax") && shown.contains("<dir>/main.hcl:2:12"),
        "{shown}"
    );
}

/// The block's arguments are evaluated as in the full load, so a path may come from a variable:
/// then the variables must be right, or the settings would name some other state file.
#[test]
fn a_path_from_a_variable_is_the_full_loads_or_an_error() {
    let config = r#"
variable "env" {
  type    = string
  default = "prod"
}

locals {
  state = "state/${var.env}.json"
}

certplan {
  backend "local" {
    path = local.state
  }
}
"#;
    let dir = dir_with(&[("main.hcl", config)]);
    let dev = LoadOptions { env: vec![("env".into(), "dev".into())], ..LoadOptions::default() };
    let settings = load_settings(dir.path(), &dev).expect("valid");
    assert_eq!(settings.backend, Backend::Local { path: "state/dev.json".into() });
    assert_eq!(load_dir_with(dir.path(), &dev).expect("valid").settings, settings);

    let dir = dir_with(&[("main.hcl", &config.replace("  default = \"prod\"\n", ""))]);
    let err = load_settings(dir.path(), &LoadOptions::default()).expect_err("no value for env");
    let shown = err.render(false);
    assert!(shown.contains("variable \"env\" has no value"), "{shown}");
}
