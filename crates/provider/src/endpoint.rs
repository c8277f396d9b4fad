//! Where API requests go: the real service by default, or a loopback sandbox.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

pub const DEFAULT_ENDPOINT: &str = crate::Service::SSL.endpoint;

/// A validated API endpoint: `https://` anywhere, `http://` only on loopback (a sandbox), so
/// that credentials and certificates never cross a network in clear text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid endpoint URL {url:?}: {reason}")]
    Invalid { url: String, reason: String },
    #[error(
        "endpoint {url:?} uses plain http:// on a non-loopback host: use https://, or http:// only for 127.0.0.1, [::1] or localhost"
    )]
    InsecureRemote { url: String },
}

impl Endpoint {
    /// Parses and checks an endpoint URL such as `https://ssl.intl.tencentcloudapi.com`.
    pub fn parse(url: &str) -> Result<Self, EndpointError> {
        let invalid = |reason: &str| EndpointError::Invalid {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if !url.contains("://") {
            // `127.0.0.1:8443` parses as a URL of scheme "127.0.0.1", or not at all.
            return Err(invalid(&format!(
                "it has no scheme: write https://{url} (or http://{url} for a sandbox on this machine)"
            )));
        }
        let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        let host = parsed.host_str().ok_or_else(|| invalid("it has no host"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("it must not carry credentials"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() || parsed.path() != "/" {
            return Err(invalid("the API is served at the root path: give scheme and host only"));
        }
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => return Err(EndpointError::InsecureRemote { url: url.to_owned() }),
            other => return Err(invalid(&format!("unsupported scheme {other:?}"))),
        }
        Ok(Endpoint { url: parsed })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Returns true when the endpoint is on this machine (`localhost`, 127.0.0.0/8, `[::1]`).
    pub fn is_loopback(&self) -> bool {
        is_loopback(self.url.host_str().unwrap_or_default())
    }

    /// Returns the `Host` header value: the host, with the port when it is not the default.
    pub fn host_header(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::parse(DEFAULT_ENDPOINT).expect("the default endpoint is valid")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str().trim_end_matches('/'))
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_and_loopback_http() {
        for url in [
            "https://ssl.tencentcloudapi.com",
            "https://ssl.intl.tencentcloudapi.com/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3:1",
            "http://[::1]:9000",
            "http://localhost:9000",
        ] {
            assert!(Endpoint::parse(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_clear_text_to_remote_hosts_and_odd_urls() {
        assert!(matches!(
            Endpoint::parse("http://ssl.tencentcloudapi.com"),
            Err(EndpointError::InsecureRemote { .. })
        ));
        assert!(matches!(
            Endpoint::parse("http://10.0.0.1"),
            Err(EndpointError::InsecureRemote { .. })
        ));
        for url in ["ftp://x", "not a url", "https://h/path", "https://u:p@h", "https://h/?q=1"] {
            assert!(matches!(Endpoint::parse(url), Err(EndpointError::Invalid { .. })), "{url}");
        }
    }

    #[test]
    fn an_address_without_a_scheme_says_to_add_one() {
        let err = Endpoint::parse("127.0.0.1:8443").expect_err("no scheme").to_string();
        assert!(err.contains("http://127.0.0.1:8443"), "{err}");
        assert!(!err.contains("relative URL"), "{err}");
    }

    #[test]
    fn host_header_keeps_non_default_ports() {
        assert_eq!(Endpoint::default().host_header(), "ssl.tencentcloudapi.com");
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8080").expect("ok").host_header(),
            "127.0.0.1:8080"
        );
        assert_eq!(Endpoint::default().to_string(), "https://ssl.tencentcloudapi.com");
    }
}
