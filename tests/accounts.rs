//! Accounts at run time: login progress, login failure without reconnect,
//! our presence sent to the accounts, and errors from a running account.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Event};
use waggle_tests::{TestGateway, assert_none, canon};

#[tokio::test]
async fn login_progress_then_logged_in() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test alice pw").await.unwrap();
    c.send("PRIVMSG &bitlbee :account test on").await.unwrap();
    c.expect(":root!root@localhost PRIVMSG &bitlbee :test - Logging in: Connecting")
        .await
        .unwrap();
    c.expect(":root!root@localhost PRIVMSG &bitlbee :test - Logging in: Logged in")
        .await
        .unwrap();
    assert_eq!(gw.hub().runs("alice"), 1);
}

#[tokio::test]
async fn wrong_password_is_a_login_error_without_reconnect() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    // A retry would come after a second (see tests/hardening.rs for one that does).
    c.root_expect("set auto_reconnect_delay 1", "auto_reconnect_delay = `1'")
        .await
        .unwrap();
    c.root("account add test alice wrong").await.unwrap();
    c.send("PRIVMSG &bitlbee :account test on").await.unwrap();
    c.expect("test - Logging in: Connecting").await.unwrap();
    c.expect(":root!root@localhost PRIVMSG &bitlbee :test - Login error: Wrong password")
        .await
        .unwrap();
    c.expect("test - Signing off..").await.unwrap();

    // The account is off again: not retried, and `account on` may try again.
    // (The supervisor ends just after its last event; allow it that moment.)
    let mut off = false;
    let deadline = tokio::time::Instant::now() + waggle_tests::DEFAULT_TIMEOUT;
    for _ in 0..50 {
        if tokio::time::Instant::now() > deadline {
            break;
        }
        let t = c.root("account list").await.unwrap();
        assert_none(&t, "(connected)");
        if !t.iter().any(|l| l.contains("(connecting)")) {
            off = true;
            break;
        }
    }
    assert!(off, "the account still shows as connecting");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let lines = c.sync().await.unwrap();
    assert_none(&lines, "Reconnecting");
    assert_none(c.history(), "Reconnecting");
    assert_eq!(gw.hub().runs("alice"), 1);

    c.root("account test set password right").await.unwrap();
    c.root_wait("account test on", "test - Logging in: Logged in")
        .await
        .unwrap();
    assert_eq!(gw.hub().runs("alice"), 2);
}

#[tokio::test]
async fn errors_and_notices_from_a_running_account() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.emit_handled(Event::Error {
        text: "Something broke".into(),
    })
    .await
    .unwrap();
    c.expect(":root!root@localhost PRIVMSG &bitlbee :test - Error: Something broke")
        .await
        .unwrap();
    acc.emit_handled(Event::Notice {
        text: "Server says hi".into(),
    })
    .await
    .unwrap();
    c.expect("PRIVMSG &bitlbee :test - Server says hi")
        .await
        .unwrap();
    acc.emit_handled(Event::SettingChanged {
        key: "fingerprint".into(),
        value: "ab:cd".into(),
    })
    .await
    .unwrap();
    c.expect("test - Setting fingerprint is now `ab:cd'")
        .await
        .unwrap();
}

#[tokio::test]
async fn away_and_status_reach_online_accounts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    c.send("AWAY :gone fishing").await.unwrap();
    c.expect_numeric("306").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::SetPresence {
            away: Some("gone fishing".into()),
            status: None,
            detached: false,
        }
    );
    c.send("AWAY").await.unwrap();
    c.expect_numeric("305").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::SetPresence {
            away: None,
            status: None,
            detached: false,
        }
    );
    c.root("set status \"out to lunch\"").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::SetPresence {
            away: None,
            status: Some("out to lunch".into()),
            detached: false,
        }
    );
}

#[tokio::test]
async fn typing_notices_when_enabled() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", &["message-tags"])
        .await
        .unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", waggle_core::PresenceState::Online)
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN :&bitlbee")
        .await
        .unwrap();
    // Off by default, both ways: a notice we send is not passed on (else the
    // first command below would say `paused'), one from bob is not shown.
    c.send("@+typing=paused TAGMSG bob").await.unwrap();
    acc.emit_handled(Event::TypingChanged {
        from: "bob".into(),
        state: waggle_core::TypingState::Active,
    })
    .await
    .unwrap();
    assert_none(&c.sync().await.unwrap(), "TAGMSG");
    c.root("set typing_notice true").await.unwrap();
    c.send("@+typing=active TAGMSG bob").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::SendTyping {
            to: "bob".into(),
            state: waggle_core::TypingState::Active
        }
    );
    acc.emit_handled(Event::TypingChanged {
        from: "bob".into(),
        state: waggle_core::TypingState::Paused,
    })
    .await
    .unwrap();
    let l = c.expect("TAGMSG").await.unwrap();
    assert_eq!(
        canon(&l),
        "@+typing=paused :bob!bob@test.example TAGMSG :alice"
    );
}
