//! The Skype backend driven directly (no IRC) against a minimal skyped: the
//! certificate recorded at the first connection holds across automatic
//! reconnects, settings applied while online are used by the next connection,
//! a `cafile` can't make the daemon read devices, and (through IRC) a skyped
//! that offers only TLS 1.1 is refused with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use waggle_core::{AccountId, AccountSpec, BackendError, Command, Event, Secret};
use waggle_skype::SkypeBackend;
use waggle_tests::prosody::BackendAccount;
use waggle_tests::skyped::Daemon;

fn spec(daemon: &Daemon, extra: &[(&str, &str)]) -> AccountSpec {
    let mut settings = BTreeMap::from([
        ("server".to_string(), "127.0.0.1".to_string()),
        ("port".to_string(), daemon.port().to_string()),
    ]);
    for (k, v) in extra {
        settings.insert(k.to_string(), v.to_string());
    }
    AccountSpec {
        id: AccountId(1),
        protocol: "skype".into(),
        handle: "alice".into(),
        password: Secret("foo".into()),
        settings,
        archive_cursors: Default::default(),
    }
}

fn backend() -> Arc<SkypeBackend> {
    Arc::new(SkypeBackend::new())
}

#[tokio::test]
async fn a_recorded_fingerprint_survives_a_reconnect() {
    let daemon = Daemon::start().await.unwrap();
    let first = daemon.fingerprint();
    let mut a = BackendAccount::supervised(backend(), spec(&daemon, &[]), 1);
    let e = a
        .expect("the recorded fingerprint", |e| {
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
    let second = daemon.new_certificate().unwrap();
    daemon.drop_connections();
    let e = a
        .expect(
            "the refusal",
            |e| matches!(e, Event::Error { text } if text.contains("does not match")),
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
    assert_eq!(daemon.logins(), 1, "the changed certificate got a password");
}

#[tokio::test]
async fn a_fingerprint_set_while_online_is_used_by_the_reconnect() {
    let daemon = Daemon::start().await.unwrap();
    let pinned = daemon.fingerprint();
    let mut a =
        BackendAccount::supervised(backend(), spec(&daemon, &[("fingerprint", &pinned)]), 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let other = daemon.new_certificate().unwrap();
    a.send(Command::ApplySetting {
        key: "fingerprint".into(),
        value: Some(other.clone()),
    })
    .await
    .unwrap();
    // A round trip: the setting was taken before the connection drops.
    a.send(Command::GetInfo {
        handle: "bob".into(),
    })
    .await
    .unwrap();
    daemon.drop_connections();
    a.expect("LoggedIn again, with the new certificate", |e| {
        matches!(e, Event::LoggedIn)
    })
    .await
    .unwrap();
    assert!(
        !a.seen()
            .iter()
            .any(|e| matches!(e, Event::Error { text } if text.contains("does not match"))),
        "{:?}",
        a.seen()
    );
    assert_eq!(daemon.logins(), 2);
}

#[tokio::test]
async fn a_device_as_cafile_is_a_clear_login_error() {
    let daemon = Daemon::start().await.unwrap();
    let mut a = BackendAccount::run(backend(), spec(&daemon, &[("cafile", "/dev/zero")]));
    match a.result().await.unwrap() {
        Err(BackendError::Config(text)) => {
            assert!(
                text.contains("/dev/zero") && text.contains("not allowed"),
                "{text}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(daemon.logins(), 0);
}

/// A skyped that speaks nothing newer than TLS 1.1 (as old skyped.py, pinned to
/// `ssl.PROTOCOL_TLSv1`, does): OpenSSL's test server, without the system's
/// minimum-version policy.
struct OldTlsDaemon {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for OldTlsDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OldTlsDaemon {
    /// Start it on a free port (another one if that was taken meanwhile), and
    /// wait until it says it accepts.
    fn start() -> OldTlsDaemon {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), key.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.signing_key.serialize_pem()).unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("openssl")
                .args(["s_server", "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"])
                .args(["-accept", &format!("127.0.0.1:{port}")])
                .arg("-cert")
                .arg(dir.path().join("cert.pem"))
                .arg("-key")
                .arg(dir.path().join("key.pem"))
                .env("OPENSSL_CONF", "/dev/null")
                // It stops at the end of its input: keep that open.
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl is needed for this test");
            let out = child.stdout.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let ready = std::io::BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .any(|l| l.starts_with("ACCEPT"));
                let _ = tx.send(ready);
            });
            if rx.recv_timeout(std::time::Duration::from_secs(20)) == Ok(true) {
                return OldTlsDaemon {
                    child,
                    port,
                    _dir: dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("openssl s_server never listened");
    }
}

#[tokio::test]
async fn a_skyped_offering_only_tls_1_1_is_refused_and_told_why() {
    let old = OldTlsDaemon::start();
    let gw = waggle_tests::skyped::SkypeGateway::start().await.unwrap();
    let mut c = waggle_tests::IrcClient::connect(gw.addr()).await.unwrap();
    c.register("alice").await.unwrap();
    c.root_expect("account add skype alice foo", "Account successfully added")
        .await
        .unwrap();
    c.root_expect("account skype set server 127.0.0.1", "server = `127.0.0.1'")
        .await
        .unwrap();
    c.root_expect(
        &format!("account skype set port {}", old.port),
        &format!("port = `{}'", old.port),
    )
    .await
    .unwrap();
    c.root_expect("set auto_reconnect_delay 1", "auto_reconnect_delay")
        .await
        .unwrap();
    let refusal = c
        .root_wait(
            "account skype on",
            "skype - Login error: TLS with skyped failed (",
        )
        .await
        .unwrap();
    assert!(
        refusal.ends_with("): skyped must offer TLS 1.2 or newer"),
        "{refusal}"
    );
    c.expect("skype - Signing off..").await.unwrap();
    // A configuration error: not retried (a retry would come after a second).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let lines = c.sync().await.unwrap();
    waggle_tests::assert_none(&lines, "Reconnecting");
    waggle_tests::assert_none(&lines, "Logging in");
}
