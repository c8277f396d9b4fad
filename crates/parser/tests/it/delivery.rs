//! `deploy` and `export` blocks: read per instance, merged and typed; each kind of mistake is a
//! diagnostic at the element, entry or block it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use certplan_core::{Address, DEFAULT_HOOK_TIMEOUT, InstanceKey};

use super::{diagnose, parse};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn deploy_blocks_merge_and_export_paths_follow_each_instance() {
    let config = parse(
        r#"
variable "root" {
  type    = string
  default = "/etc/nginx/certs"
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = { www = "www.example.com", api = "api.example.com" }
  domain         = each.value
  dv_auth_method = "DNS_AUTO"

  deploy {
    resource_types = ["clb", "cdn"]
    regions        = { clb = ["ap-guangzhou"] }
  }

  deploy {
    resource_types = ["clb", "waf"]
    regions = {
      clb = ["ap-shanghai"]
      waf = ["ap-guangzhou"]
    }
  }

  export {
    path              = "${var.root}/${each.key}"
    on_change         = "systemctl reload nginx"
    on_change_timeout = "90s"
  }

  export {
    path = "backup/${each.key}"
  }
}

resource "tencentcloud_ssl_free_certificate" "numbered" {
  count          = 2
  domain         = "n${count.index}.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    path = "/srv/certs/n${count.index}"
  }
}

resource "tencentcloud_ssl_free_certificate" "plain" {
  domain         = "plain.example.com"
  dv_auth_method = "DNS_AUTO"
}
"#,
    )
    .unwrap_or_else(|e| panic!("{}", e.render(false)));
    let site = |key: &str| {
        &config.resources[&Address::certificate("site").instance(InstanceKey::Key(key.into()))]
    };

    let deploy = site("www").delivery.deploy.as_ref().expect("deploy");
    use certplan_core::ResourceType::{Cdn, Clb, Waf};
    assert_eq!(deploy.resource_types, [Cdn, Clb, Waf].into(), "one target for both blocks");
    let regions: BTreeMap<_, BTreeSet<String>> =
        [(Clb, set(&["ap-guangzhou", "ap-shanghai"])), (Waf, set(&["ap-guangzhou"]))].into();
    assert_eq!(deploy.regions, regions);
    assert_eq!(site("api").delivery.deploy, site("www").delivery.deploy);

    let exports = &site("api").delivery.exports;
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0].path, PathBuf::from("/etc/nginx/certs/api"));
    assert_eq!(exports[0].on_change.as_deref(), Some("systemctl reload nginx"));
    assert_eq!(exports[0].on_change_timeout, Duration::from_secs(90));
    assert_eq!(exports[1].path, PathBuf::from("backup/api"));
    assert_eq!(exports[1].on_change, None);
    assert_eq!(exports[1].on_change_timeout, DEFAULT_HOOK_TIMEOUT);
    assert_eq!(site("www").delivery.exports[0].path, PathBuf::from("/etc/nginx/certs/www"));

    let numbered =
        &config.resources[&Address::certificate("numbered").instance(InstanceKey::Index(1))];
    assert_eq!(numbered.delivery.exports[0].path, PathBuf::from("/srv/certs/n1"));
    assert_eq!(numbered.delivery.deploy, None);
    assert!(config.resources[&Address::certificate("plain")].delivery.is_empty());
}

#[test]
fn diagnostic_deploy_resource_types() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  deploy {
    resource_types = ["CLB", "ecdn", "cdn", "cdn"]
  }

  deploy {
    regoins = { clb = ["ap-guangzhou"] }
  }

  deploy {
    resource_types = []
  }

  deploys {
    resource_types = ["cdn"]
  }
}
"#
    ));
}

#[test]
fn diagnostic_deploy_regions() {
    insta::assert_snapshot!(diagnose(
        r#"variable "regions" {
  type    = list(string)
  default = ["ap-beijing", "ap-beijing"]
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  deploy {
    resource_types = ["clb", "cdn"]
  }

  deploy {
    resource_types = ["clb", "cdn", "tke"]
    regions = {
      clb = ["ap-guangzhou", "AP_Shanghai", "guangzhou", "ap-guangzhou"]
      cdn = ["ap-guangzhou"]
      waf = ["ap-guangzhou"]
      tke = []
    }
  }

  deploy {
    resource_types = ["scf", "cos"]
    regions        = { scf = var.regions, cos = "ap-guangzhou" }
  }
}
"#
    ));
}

#[test]
fn diagnostic_export_mistakes() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    on_chnage = "systemctl reload nginx"
  }

  export {
    path              = ""
    on_change         = " "
    on_change_timeout = "0s"
  }

  export {
    path              = "/srv/www"
    on_change_timeout = "soon"
  }

  export {
    path = "./certs/www"
  }

  export {
    path = "certs/www/"
  }
}
"#
    ));
}

#[test]
fn diagnostic_certificates_sharing_an_export_path() {
    insta::assert_snapshot!(diagnose(
        r#"resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    path = "/etc/nginx/certs"
  }
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain         = "api.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    path = "/etc/nginx/certs/"
  }
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each       = toset(["a.example.com", "b.example.com", "c.example.com"])
  domain         = each.key
  dv_auth_method = "DNS_AUTO"

  export {
    path = "/srv/certs"
  }
}
"#
    ));
}

#[test]
fn diagnostic_sensitive_export_path_and_command() {
    insta::assert_snapshot!(diagnose(
        r#"variable "token" {
  type      = string
  default   = "s3cret-token"
  sensitive = true
}

locals {
  reload = "curl -H 'Authorization: ${var.token}' http://localhost/reload"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"

  export {
    path      = "/etc/certs/${var.token}"
    on_change = local.reload
  }
}
"#
    ));
}
