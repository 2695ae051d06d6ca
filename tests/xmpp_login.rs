//! XMPP accounts logging in against a real Prosody: TLS modes, certificate
//! checks, wrong passwords, reconnects and dead links.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use waggle_core::{BackendError, Event};
use waggle_tests::prosody::{BackendAccount, Prosody, spec};
use waggle_xmpp::XmppBackend;

fn backend() -> Arc<XmppBackend> {
    Arc::new(XmppBackend::new())
}

fn progress(a: &BackendAccount) -> Vec<String> {
    a.seen()
        .iter()
        .filter_map(|e| match e {
            Event::LoginProgress { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn starttls_with_the_test_ca_logs_in() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = BackendAccount::run(backend(), spec(&p, "alice", "secret", &[]));
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    assert_eq!(
        progress(&a),
        [
            "Connecting",
            "Connected to server, logging in",
            "Converting stream to TLS",
            "Authentication finished",
            "Authenticated, requesting buddy list"
        ]
    );
    a.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = BackendAccount::run(backend(), spec(&p, "alice", "wrong", &[]));
    match a.result().await.unwrap() {
        Err(BackendError::Auth(text)) => assert!(text.contains("Authentication failure"), "{text}"),
        other => panic!("expected an auth error, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_password_is_not_retried_by_the_supervisor() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = BackendAccount::supervised(backend(), spec(&p, "alice", "wrong", &[]), 1);
    a.expect("Disconnected", |e| matches!(e, Event::Disconnected { .. }))
        .await
        .unwrap();
    assert!(
        a.seen()
            .contains(&Event::Disconnected { reconnect_in: None }),
        "{:?}",
        a.seen()
    );
    // The supervisor has given up: nothing is left to retry (a retry would
    // have come after a second).
    a.wait_ended().await.unwrap();
    assert_eq!(
        progress(&a).iter().filter(|t| *t == "Connecting").count(),
        1
    );
}

#[tokio::test]
async fn direct_tls_logs_in() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let port = p.tls_port().to_string();
    let s = spec(&p, "alice", "secret", &[("ssl", "true"), ("port", &port)]);
    let mut a = BackendAccount::run(backend(), s);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    assert!(!progress(&a).iter().any(|t| t.contains("Converting")));
}

#[tokio::test]
async fn pinned_fingerprint_is_accepted_without_a_ca() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let fp = p.fingerprint().to_lowercase().replace(':', "");
    let s = spec(
        &p,
        "alice",
        "secret",
        &[("cafile", ""), ("fingerprint", &fp)],
    );
    let mut a = BackendAccount::run(backend(), s);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_fingerprint_is_refused_for_good() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let wrong = "00".repeat(32);
    let s = spec(&p, "alice", "secret", &[("fingerprint", &wrong)]);
    let mut a = BackendAccount::run(backend(), s);
    match a.result().await.unwrap() {
        Err(BackendError::Config(text)) => {
            assert!(text.contains("fingerprint mismatch"), "{text}");
            assert!(text.contains(p.fingerprint()), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let s = spec(&p, "alice", "secret", &[("cafile", "")]);
    let mut a = BackendAccount::run(backend(), s);
    match a.result().await.unwrap() {
        Err(BackendError::Config(text)) => {
            assert!(text.contains("Certificate verification failed"), "{text}");
            assert!(text.contains(p.fingerprint()), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_verify_off_reports_the_first_certificate_and_pins_it_across_reconnects() {
    let mut p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let first = p.fingerprint().to_string();
    let s = spec(
        &p,
        "alice",
        "secret",
        &[("cafile", ""), ("tls_verify", "false")],
    );
    let mut a = BackendAccount::supervised(backend(), s, 1);
    let e = a
        .expect("SettingChanged", |e| {
            matches!(e, Event::SettingChanged { .. })
        })
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::SettingChanged {
            key: "fingerprint".into(),
            value: first.clone()
        }
    );
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    // The same certificate after a restart: accepted, nothing new recorded.
    p.stop();
    p.resume().await.unwrap();
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let recorded = a
        .seen()
        .iter()
        .filter(|e| matches!(e, Event::SettingChanged { .. }))
        .count();
    assert_eq!(recorded, 1, "{:?}", a.seen());
    // Another certificate: refused for good, both fingerprints shown.
    let second = p.new_certificate().unwrap();
    p.stop();
    p.resume().await.unwrap();
    let e = a
        .expect(
            "the refusal",
            |e| matches!(e, Event::Error { text } if text.contains("fingerprint mismatch")),
        )
        .await
        .unwrap();
    let Event::Error { text } = e else {
        unreachable!()
    };
    assert!(text.contains(&first) && text.contains(&second), "{text}");
    a.expect("no retry", |e| {
        matches!(e, Event::Disconnected { reconnect_in: None })
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_device_as_cafile_is_a_clear_login_error() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let s = spec(&p, "alice", "secret", &[("cafile", "/dev/zero")]);
    let mut a = BackendAccount::supervised(backend(), s, 1);
    let e = a
        .expect("the error", |e| matches!(e, Event::Error { .. }))
        .await
        .unwrap();
    let Event::Error { text } = e else {
        unreachable!()
    };
    assert!(
        text.contains("/dev/zero") && text.contains("not allowed"),
        "{text}"
    );
    a.expect("no retry", |e| {
        matches!(e, Event::Disconnected { reconnect_in: None })
    })
    .await
    .unwrap();
    assert!(
        !progress(&a).iter().any(|t| t == "Connecting"),
        "connected anyway: {:?}",
        a.seen()
    );
}

#[tokio::test]
async fn tls_try_without_starttls_warns_that_the_link_is_not_encrypted() {
    let p = Prosody::options()
        .no_starttls()
        .start(&[("alice", "secret")])
        .await
        .unwrap();
    let s = spec(&p, "alice", "secret", &[("tls", "try")]);
    let mut a = BackendAccount::run(backend(), s);
    a.expect(
        "the warning",
        |e| matches!(e, Event::Notice { text } if text == waggle_xmpp::UNENCRYPTED_WARNING),
    )
    .await
    .unwrap();
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    // With tls on (the default) the same server is refused.
    let s = spec(&p, "alice", "secret", &[]);
    let mut b = BackendAccount::run(backend(), s);
    match b.result().await.unwrap() {
        Err(BackendError::Config(text)) => assert!(text.contains("TLS"), "{text}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn plaintext_when_tls_is_off() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let s = spec(&p, "alice", "secret", &[("tls", "false")]);
    let mut a = BackendAccount::run(backend(), s);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    assert!(!progress(&a).iter().any(|t| t.contains("TLS")));
}

#[tokio::test]
async fn server_down_then_up_reconnects() {
    let mut p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = BackendAccount::supervised(backend(), spec(&p, "alice", "secret", &[]), 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    p.stop();
    a.expect("Disconnected with a retry", |e| {
        matches!(
            e,
            Event::Disconnected {
                reconnect_in: Some(_)
            }
        )
    })
    .await
    .unwrap();
    // The first retry finds the server still down and schedules another.
    a.expect(
        "a failed retry",
        |e| matches!(e, Event::Error { text } if text.contains("Could not connect")),
    )
    .await
    .unwrap();
    p.resume().await.unwrap();
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_frozen_server_is_detected_by_ping() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let b = Arc::new(XmppBackend::with_keepalive(
        Duration::from_millis(500),
        Duration::from_millis(1000),
    ));
    let mut a = BackendAccount::run(b, spec(&p, "alice", "secret", &[]));
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    // Idle pings are answered: still online after several keepalive periods
    // (this wait is the idle time under test, not a barrier).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        a.is_running(),
        "dropped while the server answered: {:?}",
        a.seen()
    );
    p.freeze().unwrap();
    let result = a.result().await.unwrap();
    p.thaw().unwrap();
    match result {
        Err(BackendError::Network(text)) => assert!(text.contains("Ping timeout"), "{text}"),
        other => panic!("expected a ping timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn the_test_server_moves_off_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let p = Prosody::options()
        .first_c2s_port(port)
        .start(&[("alice", "secret")])
        .await
        .unwrap();
    assert_ne!(p.port(), port);
    let a = BackendAccount::online(&p, "alice", "secret").await.unwrap();
    a.stop().await.unwrap();
}

#[tokio::test]
async fn a_setting_applied_while_online_is_used_by_the_reconnect() {
    let mut p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    let mut a = BackendAccount::supervised(backend(), spec(&p, "alice", "secret", &[]), 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    a.send(waggle_core::Command::ApplySetting {
        key: "resource".into(),
        value: Some("laptop".into()),
    })
    .await
    .unwrap();
    // A round trip: the setting was taken before the server goes away.
    a.send(waggle_core::Command::GetInfo {
        handle: "alice@localhost".into(),
    })
    .await
    .unwrap();
    a.expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
    p.stop();
    p.resume().await.unwrap();
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    // The new connection is bound to the new resource: it answers a ping there.
    let mut bob = waggle_tests::prosody::XmppContact::connect(&p, "bob", "secret")
        .await
        .unwrap();
    let ping = xmpp_parsers::iq::Iq::from_get("ping-1", xmpp_parsers::ping::Ping)
        .with_to(xmpp_parsers::jid::Jid::new("alice@localhost/laptop").unwrap());
    bob.iq(ping).await.unwrap();
}

#[tokio::test]
async fn the_test_server_can_host_an_external_component() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let p = Prosody::options()
        .component("gw.localhost", "s3cret")
        .start(&[])
        .await
        .unwrap();
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", p.component_port()))
        .await
        .unwrap();
    tcp.write_all(
        b"<stream:stream xmlns='jabber:component:accept' \
          xmlns:stream='http://etherx.jabber.org/streams' to='gw.localhost'>",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let header = String::from_utf8_lossy(&buf[..n]);
    assert!(
        header.contains("jabber:component:accept") && header.contains("id="),
        "{header}"
    );
}
