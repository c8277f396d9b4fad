# Certificates validated through DNS records you add yourself (dv_auth_method = "DNS"), for
# domains whose DNS is not hosted on Tencent Cloud DNS (DNSPod).
#
#   certplan apply
#
# applies for the certificates and ends by listing, for each one, the record to create:
#
#   tencentcloud_ssl_free_certificate.shop (Xn81MShf) is not issued yet:
#     to validate the domain, add DNS record: _62d5…shop.example.org  CNAME  62d5….trust-provider.com
#
# Create the records at your DNS provider; `certplan plan` shows each certificate as waiting,
# with its record and the deadline (7 days after applying). Once the CA has checked the record,
# the certificate is issued; `certplan apply --wait` waits for that. Past the deadline, certplan
# applies again.

resource "tencentcloud_ssl_free_certificate" "shop" {
  domain         = "shop.example.org"
  dv_auth_method = "DNS"
  contact_email  = "ops@example.org"

  lifecycle {
    wait_for_issuance = "30m"
  }
}

resource "tencentcloud_ssl_free_certificate" "static" {
  # FILE validation: serve the file the plan names under /.well-known/pki-validation/.
  domain         = "static.example.org"
  dv_auth_method = "FILE"
}

# What to publish, for DNS and web tooling: `certplan output --json shop_record` after apply.
output "shop_record" {
  value = tencentcloud_ssl_free_certificate.shop.validation
}

output "static_file" {
  value = tencentcloud_ssl_free_certificate.static.validation
}
