# Many certificates from one map: add a domain to certplan.tfvars and the next plan applies for
# exactly that one; remove it and exactly that one is deleted.
#
#   certplan --chdir examples/multi-domain apply --sandbox --auto-approve

variable "zone" {
  type        = string
  description = "The DNS zone every site lives in"
}

variable "sites" {
  description = "Site name => settings; a site without dns_auto is validated with a DNS record you add"
  type = map(object({
    dns_auto = bool
    ecc      = optional(bool, true) # ECC (prime256v1) unless a site says otherwise
  }))
}

variable "contact" {
  type    = string
  default = "ops@example.com"
  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.contact))
    error_message = "contact must be an email address."
  }
}

variable "aliases" {
  description = "Site name => alias shown in the console, for the sites that want their own"
  type        = map(string)
  default     = {}
}

locals {
  # Per-site settings turned into certificate arguments.
  methods = { for name, site in var.sites : name => site.dns_auto ? "DNS_AUTO" : "DNS" }
}

resource "tencentcloud_ssl_free_certificate" "site" {
  for_each = var.sites

  domain            = "${each.key}.${var.zone}"
  dv_auth_method    = local.methods[each.key]
  csr_encrypt_algo  = each.value.ecc ? "ECC" : "RSA"
  csr_key_parameter = each.value.ecc ? "prime256v1" : "2048"
  contact_email     = var.contact
  alias             = try(var.aliases[each.key], "site-${each.key}")

  lifecycle {
    renew_before = "21d"
  }
}

output "certificate_ids" {
  description = "Site name => certificate id, for deployment tooling"
  value       = { for name, c in tencentcloud_ssl_free_certificate.site : name => c.id }
}

output "expiries" {
  value = { for name, c in tencentcloud_ssl_free_certificate.site : name => c.cert_end_time }
}
