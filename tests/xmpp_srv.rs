//! XMPP accounts without a `server` setting find their server through DNS
//! (RFC 6120 §3.2, XEP-0368): SRV records served by a real dnsmasq on
//! loopback, a real Prosody behind them.
//!
//! The accounts live on Prosody's second virtual host, [`DNS_DOMAIN`]
//! (`localhost` never reaches a DNS server). SRV targets are host names that are
//! not in the server certificate: a login that succeeds shows that TLS checked
//! the XMPP domain, not the SRV target.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

use waggle_core::{AccountId, AccountSpec, BackendError, Event, Secret};
use waggle_tests::prosody::{BackendAccount, DNS_DOMAIN, Dnsmasq, Prosody};
use waggle_xmpp::XmppBackend;

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Prosody with `alice` on [`DNS_DOMAIN`].
async fn prosody() -> Prosody {
    let p = Prosody::start(&[]).await.unwrap();
    p.register_at("alice", DNS_DOMAIN, "secret").unwrap();
    p
}

/// `alice@handle_domain` verified with the test CA (when there is a server),
/// no `server` setting.
fn spec(p: Option<&Prosody>, handle_domain: &str, extra: &[(&str, &str)]) -> AccountSpec {
    let mut settings = BTreeMap::new();
    if let Some(p) = p {
        settings.insert("cafile".to_string(), p.ca_file().display().to_string());
    }
    for (k, v) in extra {
        settings.insert(k.to_string(), v.to_string());
    }
    AccountSpec {
        id: AccountId(1),
        protocol: "jabber".into(),
        handle: format!("alice@{handle_domain}"),
        password: Secret("secret".into()),
        settings,
        archive_cursors: Default::default(),
    }
}

fn srv(service: &str, target: &str, port: u16, priority: u16, weight: u16) -> String {
    format!("--srv-host={service}.{DNS_DOMAIN},{target},{port},{priority},{weight}")
}

fn host(name: &str) -> String {
    format!("--host-record={name},127.0.0.1")
}

async fn logs_in(dns: &Dnsmasq, p: &Prosody, s: AccountSpec) {
    let backend = Arc::new(XmppBackend::with_name_servers(vec![dns.addr()]));
    let mut a = BackendAccount::run(backend, s);
    if let Err(e) = a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn)).await {
        panic!(
            "{e}\n--- dnsmasq:\n{}\n--- prosody:\n{}",
            dns.log(),
            p.log()
        );
    }
    a.stop().await.unwrap();
}

async fn login_error(dns: &Dnsmasq, s: AccountSpec) -> BackendError {
    let backend = Arc::new(XmppBackend::with_name_servers(vec![dns.addr()]));
    let mut a = BackendAccount::run(backend, s);
    match a.result().await.unwrap() {
        Err(e) => e,
        Ok(()) => panic!("expected a login error; dnsmasq:\n{}", dns.log()),
    }
}

#[tokio::test]
async fn srv_record_leads_to_the_server() {
    let p = prosody().await;
    let target = format!("xmpp.{DNS_DOMAIN}");
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[
            srv("_xmpp-client._tcp", &target, p.port(), 0, 0),
            host(&target),
        ],
    )
    .await
    .unwrap();
    logs_in(&dns, &p, spec(Some(&p), DNS_DOMAIN, &[])).await;
    let log = dns.log();
    assert!(
        log.contains(&format!("query[SRV] _xmpp-client._tcp.{DNS_DOMAIN}")),
        "{log}"
    );
    assert!(log.contains(&format!("query[A] {target}")), "{log}");
}

#[tokio::test]
async fn a_dead_first_target_falls_through_to_the_next() {
    let p = prosody().await;
    let (dead, live) = (format!("dead.{DNS_DOMAIN}"), format!("live.{DNS_DOMAIN}"));
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[
            // Listed second but tried first: lower priority number.
            srv("_xmpp-client._tcp", &live, p.port(), 20, 0),
            srv("_xmpp-client._tcp", &dead, closed_port(), 10, 0),
            host(&dead),
            host(&live),
        ],
    )
    .await
    .unwrap();
    logs_in(&dns, &p, spec(Some(&p), DNS_DOMAIN, &[])).await;
    // The dead target was resolved (so tried) before the live one.
    let log = dns.log();
    let at = |name: &str| log.find(&format!("query[A] {name}")).unwrap_or(usize::MAX);
    assert!(at(&dead) < at(&live), "{log}");
}

#[tokio::test]
async fn without_srv_records_the_domain_itself_is_used() {
    let p = prosody().await;
    let dns = Dnsmasq::start(DNS_DOMAIN, &[format!("--address=/{DNS_DOMAIN}/127.0.0.1")])
        .await
        .unwrap();
    let port = p.port().to_string();
    logs_in(&dns, &p, spec(Some(&p), DNS_DOMAIN, &[("port", &port)])).await;
    let log = dns.log();
    assert!(
        log.contains(&format!("query[SRV] _xmpp-client._tcp.{DNS_DOMAIN}")),
        "{log}"
    );
    assert!(log.contains(&format!("query[A] {DNS_DOMAIN}")), "{log}");
}

#[tokio::test]
async fn direct_tls_uses_the_xmpps_client_records() {
    let p = prosody().await;
    let target = format!("tls.{DNS_DOMAIN}");
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[
            // The STARTTLS service points nowhere: only _xmpps-client may be used.
            srv("_xmpp-client._tcp", &target, closed_port(), 0, 0),
            srv("_xmpps-client._tcp", &target, p.tls_port(), 0, 0),
            host(&target),
        ],
    )
    .await
    .unwrap();
    logs_in(&dns, &p, spec(Some(&p), DNS_DOMAIN, &[("ssl", "true")])).await;
}

#[tokio::test]
async fn an_explicit_server_skips_srv() {
    let p = prosody().await;
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[srv("_xmpp-client._tcp", "127.0.0.1", closed_port(), 0, 0)],
    )
    .await
    .unwrap();
    let port = p.port().to_string();
    let s = spec(
        Some(&p),
        DNS_DOMAIN,
        &[("server", "127.0.0.1"), ("port", &port)],
    );
    logs_in(&dns, &p, s).await;
    assert!(!dns.log().contains("query[SRV]"), "{}", dns.log());
}

#[tokio::test]
async fn a_dot_target_means_no_service() {
    // No target: dnsmasq answers with the root name, ".".
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[format!("--srv-host=_xmpp-client._tcp.{DNS_DOMAIN}")],
    )
    .await
    .unwrap();
    match login_error(&dns, spec(None, DNS_DOMAIN, &[])).await {
        BackendError::Config(text) => assert!(text.contains("does not offer XMPP"), "{text}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_lookup_is_a_retryable_network_error() {
    // dnsmasq refuses names outside its zone (it has no upstream servers).
    let dns = Dnsmasq::start(DNS_DOMAIN, &[]).await.unwrap();
    let e = login_error(&dns, spec(None, "elsewhere.example", &[])).await;
    assert!(e.is_retryable(), "{e:?}");
    match e {
        BackendError::Network(text) => assert!(
            text.contains("_xmpp-client._tcp.elsewhere.example"),
            "{text}"
        ),
        other => panic!("expected a network error, got {other:?}"),
    }
}

#[tokio::test]
async fn all_targets_dead_is_a_network_error_naming_them() {
    let p = prosody().await;
    let dead = format!("dead.{DNS_DOMAIN}");
    let port = closed_port();
    let dns = Dnsmasq::start(
        DNS_DOMAIN,
        &[srv("_xmpp-client._tcp", &dead, port, 0, 0), host(&dead)],
    )
    .await
    .unwrap();
    match login_error(&dns, spec(Some(&p), DNS_DOMAIN, &[])).await {
        BackendError::Network(text) => {
            assert!(text.contains(&format!("{dead}:{port}")), "{text}")
        }
        other => panic!("expected a network error, got {other:?}"),
    }
}
