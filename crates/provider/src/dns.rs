//! DNS lookups for DNS-01: what a name's TXT records are on given servers — the zone's
//! authoritative servers, found through the system's resolver, or the `recursive_nameservers`
//! a configuration names — asked directly and never from a cache, so that a record is known to
//! be visible before the CA is asked to look.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// How long one query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A resolver that asks `servers` only, and remembers nothing.
fn asking(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let name_servers = servers
        .iter()
        .map(|server| {
            let mut config = NameServerConfig::udp_and_tcp(server.ip());
            for connection in &mut config.connections {
                connection.port = server.port();
            }
            config
        })
        .collect();
    let config = ResolverConfig::from_name_servers(name_servers);
    let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.cache_size = 0;
    options.timeout = QUERY_TIMEOUT;
    options.attempts = 2;
    builder.build().map_err(|e| format!("no resolver: {e}"))
}

/// The TXT values of `name` on every one of `servers`: the values all of them answer (a record
/// not yet on one server is not visible).
pub async fn txt_values(servers: &[SocketAddr], name: &str) -> Result<Vec<String>, String> {
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let mut common: Option<Vec<String>> = None;
    for server in servers {
        let resolver = asking(std::slice::from_ref(server))?;
        let values: Vec<String> = match resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
            Err(e) => return Err(format!("{fqdn} TXT at {server}: {e}")),
        };
        common = Some(match common {
            None => values,
            Some(before) => before.into_iter().filter(|v| values.contains(v)).collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// The authoritative servers of the zone `name` is in, found through the system's resolver:
/// the NS records of the closest enclosing name that has them, and their addresses.
pub async fn authoritative_servers(name: &str) -> Result<Vec<SocketAddr>, String> {
    let system = Resolver::builder_tokio()
        .map_err(|e| format!("no system resolver: {e}"))?
        .build()
        .map_err(|e| format!("no system resolver: {e}"))?;
    let mut candidate = name.trim_end_matches('.');
    loop {
        let fqdn = format!("{candidate}.");
        if let Ok(lookup) = system.ns_lookup(fqdn.as_str()).await {
            let hosts: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::NS(ns) => Some(ns.0.to_string()),
                    _ => None,
                })
                .collect();
            if !hosts.is_empty() {
                let mut servers = Vec::new();
                for host in hosts {
                    if let Ok(ips) = system.lookup_ip(host.as_str()).await {
                        servers.extend(ips.iter().map(|ip| SocketAddr::new(ip, 53)));
                    }
                }
                if servers.is_empty() {
                    return Err(format!("the name servers of {candidate} have no address"));
                }
                return Ok(servers);
            }
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return Err(format!("no name servers found for {name}")),
        }
    }
}
