//! What a registered user sets up survives a gateway restart: settings,
//! accounts (with their settings and passwords), channels, and contacts' nicks.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Contact, Event, Presence, PresenceState};
use waggle_tests::{GatewayOptions, TestGateway, assert_any, assert_none};

fn friend(handle: &str, group: &str) -> Contact {
    Contact {
        handle: handle.into(),
        display_name: None,
        group: Some(group.into()),
        presence: Presence {
            state: PresenceState::Online,
            ..Presence::default()
        },
    }
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("set status \"out to lunch\"", "status = `out to lunch'")
        .await
        .unwrap();
    c.root("set strip_html false").await.unwrap();

    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    c.root("account test set display_name Alice").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(friend("bob", "Friends")))
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(friend("carol", "Work")))
        .await
        .unwrap();
    c.expect(":carol!carol@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(friend("dave", "Work")))
        .await
        .unwrap();
    c.expect(":dave!dave@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.root_expect("rename bob bobby", "Nick successfully changed")
        .await
        .unwrap();
    c.root_expect("rename dave dj", "Nick successfully changed")
        .await
        .unwrap();
    c.root_expect("rename -del dj", "Nickname reset to `dave'")
        .await
        .unwrap();

    c.send("JOIN &work").await.unwrap();
    c.sync().await.unwrap();
    c.root("channel &work set fill_by group").await.unwrap();
    c.root("channel &work set group Work").await.unwrap();
    c.root("channel &work set auto_join true").await.unwrap();
    c.root("chat add test room@conf.test.example #room")
        .await
        .unwrap();

    gw.restart().await.unwrap();
    assert!(c.expect_closed().await.is_ok());

    let mut c = gw.client("alice").await.unwrap();
    let lines = c.root_lines("identify s3cret").await.unwrap();
    assert_any(
        &c.root_texts(&lines),
        "Password accepted, settings and accounts loaded",
    );
    // auto_join channels are joined again.
    assert_any(&lines, "JOIN &work");
    // auto_connect accounts log in again, with the stored IM password.
    c.expect("test - Logging in: Logged in").await.unwrap();
    let acc = gw.hub().account("alice@test.example").await.unwrap();
    assert_eq!(acc.password(), "pw");

    c.root_expect("set status", "status = `out to lunch'")
        .await
        .unwrap();
    c.root_expect("set strip_html", "strip_html = `false'")
        .await
        .unwrap();
    c.root_expect(
        "account list",
        " 0 (test): test, alice@test.example (connected)",
    )
    .await
    .unwrap();
    c.root_expect("account test set display_name", "display_name = `Alice'")
        .await
        .unwrap();
    let t = c.root("channel list").await.unwrap();
    assert_any(&t, "&work, control channel (joined)");
    assert_any(&t, "#room, chat channel");
    c.root_expect("channel &work set group", "group = `Work'")
        .await
        .unwrap();

    // The buddy list is known before the server sends it, with the same nicks.
    let t = c.root("blist all").await.unwrap();
    assert_any(&t, "bobby");
    assert_any(&t, "carol");
    assert_any(&t, "dave");
    assert_none(&t, "dj");
    let t = c.root("group info Work").await.unwrap();
    assert_eq!(t, ["0. carol", "1. dave", "End of member list"]);

    // When the contacts come online they keep their nicks.
    acc.emit_handled(Event::ContactUpdated(friend("bob", "Friends")))
        .await
        .unwrap();
    c.expect(":bobby!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(friend("carol", "Work")))
        .await
        .unwrap();
    // carol is in &work by group too.
    c.expect(":carol!carol@test.example JOIN &work")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(friend("dave", "Work")))
        .await
        .unwrap();
    c.expect(":dave!dave@test.example JOIN &bitlbee")
        .await
        .unwrap();
}

#[tokio::test]
async fn deletions_survive_a_restart_too() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("register s3cret").await.unwrap();
    c.root("set status busy").await.unwrap();
    c.root("account add test one pw").await.unwrap();
    c.root("account add test two pw").await.unwrap();
    c.send("JOIN #gone").await.unwrap();
    c.send("PART #gone").await.unwrap();
    c.sync().await.unwrap();
    c.root("set -del status").await.unwrap();
    c.root_expect("account test del", "Account deleted")
        .await
        .unwrap();
    c.root_expect("channel #gone del", "Channel #gone deleted.")
        .await
        .unwrap();

    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("set status", "status is empty")
        .await
        .unwrap();
    let t = c.root("account list").await.unwrap();
    // The account's own login lines may come in between: look for the entry.
    assert!(
        t.iter().any(|l| l.starts_with(" 0 (test2): test, two")),
        "{t:?}"
    );
    assert_none(&t, ", one");
    let t = c.root("channel list").await.unwrap();
    assert_none(&t, "#gone");
}

#[tokio::test]
async fn a_changed_password_survives_a_restart() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("register old").await.unwrap();
    c.root("account add test alice pw").await.unwrap();
    c.root_expect("set password new", "Setting changed successfully")
        .await
        .unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify old", "Incorrect password")
        .await
        .unwrap();
    c.root_expect("identify new", "Password accepted")
        .await
        .unwrap();
    // The IM password was re-encrypted, not lost.
    c.expect("test - Logging in: Logged in").await.unwrap();
    assert_eq!(gw.hub().account("alice").await.unwrap().password(), "pw");
}

#[tokio::test]
async fn accounts_of_a_missing_backend_after_restart() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("register s3cret").await.unwrap();
    c.root("account add test alice pw").await.unwrap();
    gw.restart_with(GatewayOptions::default().without_backend())
        .await
        .unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let t = c.root("identify s3cret").await.unwrap();
    assert_any(&t, "Password accepted");
    assert_any(&t, "Unknown protocol `test'");
    c.root_expect("account list", " 0 (test): test (missing!), alice")
        .await
        .unwrap();
    // Nothing is lost: with the backend back, it logs in again.
    gw.restart_with(GatewayOptions::default()).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("identify s3cret").await.unwrap();
    c.expect("test - Logging in: Logged in").await.unwrap();
}

#[tokio::test]
async fn unregistered_sessions_are_not_saved() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("set status temporary").await.unwrap();
    c.root("account add test alice pw").await.unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify x", "not registered").await.unwrap();
    c.root_expect("set status", "status is empty")
        .await
        .unwrap();
    let t = c.root("account list").await.unwrap();
    assert_eq!(t, ["End of account list"]);
}

#[tokio::test]
async fn stop_closes_connections() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    gw.stop().await.unwrap();
    let rest = c.expect_closed().await.unwrap();
    assert_any(&rest, "ERROR :Closing link: server shutting down");
}
