# certplan quickstart: four free certificates in two accounts, applied for and renewed by
# certplan.
#
#   certplan --chdir examples/quickstart apply --sandbox --auto-approve
#
# --sandbox runs everything against an embedded emulator of the Tencent Cloud SSL API, so no
# account is needed. Drop it (and set TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY) to
# manage real certificates.

provider "tencentcloud" {
  # The international site; the default is https://ssl.tencentcloudapi.com.
  endpoint = "https://ssl.intl.tencentcloudapi.com"
}

resource "tencentcloud_ssl_free_certificate" "www" {
  domain         = "www.example.com"
  dv_auth_method = "DNS_AUTO"
  contact_email  = "ops@example.com"
  alias          = "www"

  # Each new certificate takes over the load balancer listeners and CDN domains that serve
  # the one it replaces.
  deploy {
    resource_types = ["clb", "cdn"]
    regions        = { clb = ["ap-guangzhou"] }
  }

  # cert.pem, chain.pem, fullchain.pem and privkey.pem in ./certs/www, rewritten whenever the
  # certificate changes; then the hook runs (here a harmless echo, for a server
  # "systemctl reload nginx").
  export {
    path      = "certs/www"
    on_change = "echo \"reload: $CERTPLAN_DOMAIN now serves $CERTPLAN_CERTIFICATE_ID\""
  }
}

resource "tencentcloud_ssl_free_certificate" "api" {
  domain            = "api.example.com"
  dv_auth_method    = "DNS_AUTO"
  csr_encrypt_algo  = "ECC"
  csr_key_parameter = "prime256v1"
  alias             = "api"
}

resource "tencentcloud_ssl_free_certificate" "shop" {
  domain         = "shop.example.com"
  dv_auth_method = "DNS_AUTO"
  alias          = "shop"

  lifecycle {
    # Renew two weeks before expiry instead of the default 30 days.
    renew_before = "14d"
  }
}

# A second account — staging, say, or a client's: a provider block of its own with an alias,
# and its resources name it. Its certificates are applied for, renewed and delivered in that
# account, at that account's own API limits, and the state records which account holds each.
# Its credentials come from the tccli profile "staging" (~/.tccli/staging.credential); the
# embedded sandbox keeps an account of its own for it.
provider "tencentcloud" {
  alias    = "staging"
  profile  = "staging"
  endpoint = "https://ssl.intl.tencentcloudapi.com"
}

resource "tencentcloud_ssl_free_certificate" "staging" {
  provider       = tencentcloud.staging
  domain         = "www.staging.example.com"
  dv_auth_method = "DNS_AUTO"
  alias          = "staging"
}
