//! The Skype backend driven directly (no IRC) against a minimal skyped: the
//! certificate recorded at the first connection holds across automatic
//! reconnects, settings applied while online are used by the next connection,
//! and a `cafile` can't make the daemon read devices.

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
