//! Domain-name rules the API applies, checked before any call. A free certificate covers one
//! name: a wildcard (`*.example.com`) is a paid product, so it is refused here, at the
//! expression, rather than by `ApplyCertificate` in the middle of an apply.

/// The API refuses longer domain names (`CertificateDomainMaxLengthInvalid`).
pub const MAX_DOMAIN_LEN: usize = 64;

/// Checks a certificate's domain; on failure returns what is wrong and how to fix it.
pub fn check(domain: &str) -> Result<(), (String, String)> {
    // First: no spelling of a wildcard would make it a free certificate.
    if let Some(parent) = domain.strip_prefix("*.") {
        return Err((
            format!(
                "\"{domain}\" is a wildcard: free certificates are single-domain; wildcard certificates are a paid product"
            ),
            format!(
                "declare one certificate per name you serve, such as \"api.{parent}\" (for_each over a set of names)"
            ),
        ));
    }
    if domain.len() > MAX_DOMAIN_LEN {
        return Err((
            format!(
                "domain is {} characters long; the API accepts at most {MAX_DOMAIN_LEN}",
                domain.len()
            ),
            "a free certificate covers one name of at most 64 characters; use a shorter name"
                .into(),
        ));
    }
    if domain != domain.to_ascii_lowercase() {
        return Err((
            "domain names must be lower case".into(),
            format!("write \"{}\"", domain.to_ascii_lowercase()),
        ));
    }
    if domain.ends_with('.') {
        return Err((
            "domain must not end with a dot".into(),
            format!("write \"{}\"", domain.trim_end_matches('.')),
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err((
            format!("\"{domain}\" is not a fully qualified domain name"),
            "use a name such as \"www.example.com\"".into(),
        ));
    }
    for label in labels {
        let problem = if label.is_empty() {
            Some("has an empty label (two dots in a row?)".to_owned())
        } else if label == "*" {
            Some("has a wildcard label (free certificates are single-domain)".to_owned())
        } else if label.len() > 63 {
            Some(format!("has a label longer than 63 characters (\"{label}\")"))
        } else if label.starts_with('-') || label.ends_with('-') {
            Some(format!("has a label that starts or ends with a hyphen (\"{label}\")"))
        } else if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            Some(format!("has a character that is not a letter, digit or hyphen in \"{label}\""))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err((
                format!("domain \"{domain}\" {problem}"),
                "labels are letters, digits and inner hyphens; internationalised names are written in punycode (xn--...)".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_plain_and_punycode_names() {
        for ok in ["example.com", "www.example.com", "xn--fiqs8s.example.cn", "a-b.c0.io"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_wildcards_because_free_certificates_are_single_domain() {
        let (problem, help) = check("*.example.com").expect_err("a wildcard");
        assert_eq!(
            problem,
            "\"*.example.com\" is a wildcard: free certificates are single-domain; wildcard certificates are a paid product"
        );
        assert!(help.contains("\"api.example.com\""), "{help}");
        assert!(check("*.www.example.com").is_err());
    }

    #[test]
    fn refuses_what_the_api_refuses() {
        let long = format!("{}.example.com", "a".repeat(60));
        for bad in [
            "localhost",
            "WWW.example.com",
            "www..example.com",
            "www.example.com.",
            "-a.example.com",
            "a_b.example.com",
            "www.*.example.com",
            "exämple.com",
            long.as_str(),
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
