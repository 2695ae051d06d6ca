//! Finding an XMPP domain's server when the account has no `server` setting.
//!
//! RFC 6120 §3.2: look up the domain's `_xmpp-client._tcp` SRV records
//! (`_xmpps-client._tcp` for direct TLS, XEP-0368), try their targets in RFC 2782
//! order (priority, then a weighted random pick) until one accepts the TCP
//! connection; a domain without SRV records is connected to directly on the
//! account's port. A single record whose target is `.` says the domain offers
//! no such service.
//!
//! Lookups go through hickory-resolver: the system's configuration
//! (`/etc/resolv.conf`, `/etc/hosts`) unless the backend was given name servers
//! ([`Dns::NameServers`], for tests). The ordering rules are pure functions
//! ([`order`], [`interpret`]) with the random source passed in.
//!
//! Only the TCP connection is found here: the stream's `to`, the TLS server name
//! and the certificate check stay the XMPP domain (RFC 6120 §13.7.2.1), never the
//! SRV target.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use tokio::net::TcpStream;

use crate::error::XmppError;

/// How long one TCP connection attempt may take.
const TCP_TIMEOUT: Duration = Duration::from_secs(30);

/// Which name servers answer the backend's DNS lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Dns {
    /// The system's configuration: `/etc/resolv.conf` and `/etc/hosts`.
    #[default]
    System,
    /// Exactly these name servers (UDP, then TCP), no hosts file, no search
    /// domains: for tests against a DNS server of their own.
    NameServers(Vec<SocketAddr>),
}

/// One SRV record, as far as connecting goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower numbers are tried first.
    pub priority: u16,
    /// Among records of one priority, the relative chance of going first.
    pub weight: u16,
    /// The port on the target.
    pub port: u16,
    /// The target host, without a trailing dot; `.` is "no service".
    pub target: String,
}

/// What a domain's SRV records say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrvAnswer {
    /// Targets to try, in the order to try them.
    Targets(Vec<SrvRecord>),
    /// No SRV records: connect to the domain itself.
    NoRecords,
    /// One record with target `.`: the domain decidedly does not offer the service.
    NotOffered,
}

/// The SRV service name for a connection: direct TLS (XEP-0368) or STARTTLS/plain.
pub fn service(direct_tls: bool) -> &'static str {
    if direct_tls {
        "_xmpps-client._tcp"
    } else {
        "_xmpp-client._tcp"
    }
}

/// Order SRV records as RFC 2782 says: ascending priority; within one priority,
/// repeatedly pick a record at random with a chance proportional to its weight
/// (records of weight 0 first in the running sum, so they are rarely picked
/// before the others). `random(n)` must return a uniform number in `0..=n`.
pub fn order(mut records: Vec<SrvRecord>, mut random: impl FnMut(u64) -> u64) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let mut group = vec![first];
        while let Some(r) = rest.next_if(|r| r.priority == group[0].priority) {
            group.push(r);
        }
        // Stable: weight-0 records first, the rest in the order received.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = random(total).min(total);
            let mut running = 0;
            let index = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// Interpret the SRV records of a domain: none, "not offered" (a sole record
/// with target `.`), or the targets in the order to try them. Records with
/// target `.` among others are ignored.
pub fn interpret(records: Vec<SrvRecord>, random: impl FnMut(u64) -> u64) -> SrvAnswer {
    if records.is_empty() {
        return SrvAnswer::NoRecords;
    }
    if records.len() == 1 && records[0].target == "." {
        return SrvAnswer::NotOffered;
    }
    let usable: Vec<SrvRecord> = records.into_iter().filter(|r| r.target != ".").collect();
    SrvAnswer::Targets(order(usable, random))
}

/// A uniform random number in `0..=n` from the system's generator (0 if it fails,
/// which only makes the order less random).
fn system_random(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    if n == 0 || getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    u64::from_le_bytes(bytes) % (n + 1)
}

/// An IP address written as a host name (`127.0.0.1`, `[::1]`, with or without a
/// trailing dot).
fn ip_literal(host: &str) -> Option<IpAddr> {
    let h = host.strip_suffix('.').unwrap_or(host);
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.parse().ok()
}

/// A DNS resolver for one connection attempt.
struct Resolver {
    inner: TokioResolver,
}

impl Resolver {
    /// A resolver per `dns`; `Err` when the system's configuration is unreadable.
    fn new(dns: &Dns) -> Result<Resolver, NetError> {
        let builder = match dns {
            Dns::System => TokioResolver::builder_tokio()?,
            Dns::NameServers(servers) => {
                let servers = servers
                    .iter()
                    .map(|addr| {
                        let mut udp = ConnectionConfig::udp();
                        udp.port = addr.port();
                        let mut tcp = ConnectionConfig::tcp();
                        tcp.port = addr.port();
                        NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                    })
                    .collect();
                let mut builder = TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    TokioRuntimeProvider::default(),
                );
                builder.options_mut().use_hosts_file = ResolveHosts::Never;
                builder
            }
        };
        Ok(Resolver {
            inner: builder.build()?,
        })
    }

    /// The SRV records of `service.domain` (none when the name has none).
    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, XmppError> {
        let lookup = match self.inner.srv_lookup(format!("{name}.")).await {
            Ok(l) => l,
            Err(e) if e.is_no_records_found() => return Ok(vec![]),
            Err(e) => {
                return Err(XmppError::Network(format!(
                    "DNS lookup of {name} (SRV) failed: {e}"
                )));
            }
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => {
                    let target = srv.target.to_utf8();
                    let target = match target.strip_suffix('.') {
                        Some("") | None => target,
                        Some(t) => t.to_string(),
                    };
                    Some(SrvRecord {
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// The addresses of `host`; `absolute` names get no search domains.
    async fn addresses(&self, host: &str, absolute: bool) -> Result<Vec<IpAddr>, String> {
        if let Some(ip) = ip_literal(host) {
            return Ok(vec![ip]);
        }
        let name = if absolute {
            format!("{host}.")
        } else {
            host.to_string()
        };
        match self.inner.lookup_ip(name).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(e) if e.is_no_records_found() => Err(format!("no address found for {host}")),
            Err(e) => Err(format!("DNS lookup of {host} failed: {e}")),
        }
    }
}

async fn tcp_connect(addr: SocketAddr) -> Result<TcpStream, String> {
    match tokio::time::timeout(TCP_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => Ok(tcp),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Connect to `host:port` as the system resolves it (the `server` setting, or
/// when no DNS configuration can be read).
pub async fn connect_host(host: &str, port: u16) -> Result<TcpStream, XmppError> {
    let connect = TcpStream::connect((host, port));
    tokio::time::timeout(TCP_TIMEOUT, connect)
        .await
        .map_err(|_| {
            XmppError::Network(format!(
                "Could not connect to server {host}:{port}: timed out"
            ))
        })?
        .map_err(|e| XmppError::Network(format!("Could not connect to server {host}:{port}: {e}")))
}

/// Connect to `domain`'s XMPP server through DNS: its SRV records for `service`
/// in order, else the domain itself on `port`. Every target and address tried is
/// logged at debug level.
pub async fn connect_domain(
    dns: &Dns,
    service: &str,
    domain: &str,
    port: u16,
) -> Result<TcpStream, XmppError> {
    if let Some(ip) = ip_literal(domain) {
        tracing::debug!(%ip, port, "the domain is an IP address: no SRV lookup");
        return tcp_connect(SocketAddr::new(ip, port)).await.map_err(|e| {
            XmppError::Network(format!("Could not connect to server {domain}:{port}: {e}"))
        });
    }
    let resolver = match Resolver::new(dns) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, %domain, "no DNS configuration; connecting to the domain without SRV lookup");
            return connect_host(domain, port).await;
        }
    };
    let srv_name = format!("{service}.{domain}");
    let records = resolver.srv(&srv_name).await?;
    let (candidates, absolute) = match interpret(records, system_random) {
        SrvAnswer::NotOffered => {
            return Err(XmppError::Config(format!(
                "{domain} does not offer XMPP service (its DNS SRV record {srv_name} has target \".\"); set the server setting to connect elsewhere"
            )));
        }
        SrvAnswer::NoRecords => {
            tracing::debug!(%srv_name, %domain, port, "no SRV records; connecting to the domain");
            (vec![(domain.to_string(), port)], false)
        }
        SrvAnswer::Targets(records) => {
            let list: Vec<String> = records
                .iter()
                .map(|r| {
                    format!(
                        "{}:{} (priority {}, weight {})",
                        r.target, r.port, r.priority, r.weight
                    )
                })
                .collect();
            tracing::debug!(%srv_name, targets = ?list, "SRV records");
            (
                records
                    .into_iter()
                    .map(|r| (r.target, r.port))
                    .collect::<Vec<_>>(),
                true,
            )
        }
    };
    let mut failures = Vec::new();
    for (host, port) in &candidates {
        let addresses = match resolver.addresses(host, absolute).await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(%host, port, error = %e, "target not resolved");
                failures.push(e);
                continue;
            }
        };
        for ip in addresses {
            let addr = SocketAddr::new(ip, *port);
            tracing::debug!(%host, %addr, "trying");
            match tcp_connect(addr).await {
                Ok(tcp) => {
                    tracing::debug!(%host, %addr, "connected");
                    return Ok(tcp);
                }
                Err(e) => {
                    tracing::debug!(%host, %addr, error = %e, "connection failed");
                    failures.push(format!("{host}:{port} ({ip}): {e}"));
                }
            }
        }
    }
    Err(XmppError::Network(format!(
        "Could not connect to server for {domain}: {}",
        failures.join("; ")
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5222,
            target: target.into(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lower_priority_numbers_come_first() {
        let records = vec![rec(20, 0, "c"), rec(0, 0, "a"), rec(10, 0, "b")];
        assert_eq!(targets(&order(records, |_| 0)), ["a", "b", "c"]);
    }

    #[test]
    fn weights_pick_by_running_sum() {
        // Running sums in received order: a 10, b 30, c 60.
        let records = || vec![rec(5, 10, "a"), rec(5, 20, "b"), rec(5, 30, "c")];
        // 0..=10 picks a; then among b, c (sums 20, 50) 0 picks b.
        assert_eq!(targets(&order(records(), |_| 0)), ["a", "b", "c"]);
        // The maximum picks the last; then again the last of those left.
        assert_eq!(targets(&order(records(), |n| n)), ["c", "b", "a"]);
        // 11 is past a's 10: b; then among a, c (10, 40) 11 is c.
        assert_eq!(targets(&order(records(), |_| 11)), ["b", "c", "a"]);
        // Totals asked for are the sums of the weights left.
        let mut asked = vec![];
        order(records(), |n| {
            asked.push(n);
            0
        });
        assert_eq!(asked, [60, 50, 30]);
    }

    #[test]
    fn zero_weights_go_first_in_the_running_sum() {
        let records = vec![rec(1, 50, "heavy"), rec(1, 0, "zero")];
        // 0 selects the weight-0 record (running sum 0 >= 0) ...
        assert_eq!(targets(&order(records.clone(), |_| 0)), ["zero", "heavy"]);
        // ... anything above picks the weighted one.
        assert_eq!(targets(&order(records, |_| 1)), ["heavy", "zero"]);
    }

    #[test]
    fn priority_groups_are_ordered_separately() {
        let records = vec![
            rec(2, 1, "late"),
            rec(1, 1, "x"),
            rec(1, 3, "y"),
            rec(2, 0, "later"),
        ];
        let ordered = order(records, |n| n);
        assert_eq!(targets(&ordered), ["y", "x", "late", "later"]);
    }

    #[test]
    fn weighted_choice_is_roughly_proportional() {
        let mut first_heavy = 0;
        for _ in 0..2000 {
            let records = vec![rec(0, 1, "light"), rec(0, 3, "heavy")];
            if order(records, system_random)[0].target == "heavy" {
                first_heavy += 1;
            }
        }
        // RFC 2782 draws from 0..=4 with running sums 1 and 4: light for 0 and
        // 1, heavy for 2, 3 and 4, so 3 in 5, about 1200 of 2000.
        assert!((1050..1350).contains(&first_heavy), "{first_heavy}");
    }

    #[test]
    fn a_sole_dot_target_means_not_offered() {
        assert_eq!(interpret(vec![], |_| 0), SrvAnswer::NoRecords);
        assert_eq!(
            interpret(vec![rec(0, 0, ".")], |_| 0),
            SrvAnswer::NotOffered
        );
        assert_eq!(
            interpret(vec![rec(0, 0, "."), rec(1, 0, "b")], |_| 0),
            SrvAnswer::Targets(vec![rec(1, 0, "b")])
        );
    }

    #[test]
    fn services_per_tls_mode() {
        assert_eq!(service(true), "_xmpps-client._tcp");
        assert_eq!(service(false), "_xmpp-client._tcp");
    }

    #[test]
    fn ip_literals_skip_dns() {
        assert_eq!(ip_literal("127.0.0.1"), Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(ip_literal("127.0.0.1."), Some(IpAddr::from([127, 0, 0, 1])));
        assert_eq!(ip_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(ip_literal("example.org"), None);
    }
}
