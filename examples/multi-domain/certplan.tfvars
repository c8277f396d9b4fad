zone = "example.com"

sites = {
  www  = { dns_auto = true }
  api  = { dns_auto = true, ecc = false }
  shop = { dns_auto = false, ecc = true }
}
