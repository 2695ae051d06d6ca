//! Account and channel settings end to end: each test changes a setting and
//! sees the gateway behave differently (settings tested elsewhere are listed in
//! `tests/settings_coverage.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Contact, Event, Presence, PresenceState};
use waggle_tests::{IrcClient, Msg, TestGateway, assert_any};

fn contact(handle: &str, name: Option<&str>, state: PresenceState) -> Event {
    Event::ContactUpdated(Contact {
        handle: handle.into(),
        display_name: name.map(str::to_string),
        group: None,
        presence: Presence {
            state,
            ..Presence::default()
        },
    })
}

/// The sorted members of `channel`, by NAMES.
async fn names(c: &mut IrcClient, channel: &str) -> Vec<String> {
    c.send(&format!("NAMES {channel}")).await.unwrap();
    let l = c.expect(format!(" 353 alice = {channel} ")).await.unwrap();
    let mut m: Vec<String> = Msg::parse(&l)
        .trailing()
        .split(' ')
        .map(str::to_string)
        .collect();
    m.sort_unstable();
    m
}

#[tokio::test]
async fn an_accounts_nick_format_and_nick_source_name_its_contacts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let one = gw.online_account(&mut c, "one@test.example").await.unwrap();
    let two = gw.online_account(&mut c, "two@test.example").await.unwrap();
    c.root_expect(
        "account 1 set nick_format work_%nick",
        "nick_format = `work_%nick'",
    )
    .await
    .unwrap();
    one.emit_handled(contact("bob", None, PresenceState::Online))
        .await
        .unwrap();
    two.emit_handled(contact("carol", None, PresenceState::Online))
        .await
        .unwrap();
    let m = names(&mut c, "&bitlbee").await;
    assert!(m.contains(&"+bob".to_string()), "{m:?}");
    assert!(m.contains(&"+work_carol".to_string()), "{m:?}");
    c.root_expect(
        "account 0 set nick_source first_name",
        "nick_source = `first_name'",
    )
    .await
    .unwrap();
    one.emit_handled(contact("u9", Some("Dave Grohl"), PresenceState::Online))
        .await
        .unwrap();
    let m = names(&mut c, "&bitlbee").await;
    assert!(m.contains(&"+Dave".to_string()), "{m:?}");
}

#[tokio::test]
async fn the_username_is_the_handle_and_read_only() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test alice@test.example pw")
        .await
        .unwrap();
    c.root_expect(
        "account test set username",
        "username = `alice@test.example'",
    )
    .await
    .unwrap();
    c.allow("can not be changed").allow("read-only");
    let t = c.root("account test set username mallory").await.unwrap();
    assert!(
        t.iter()
            .any(|l| l.contains("can not be changed") || l.contains("read-only")),
        "{t:?}"
    );
    c.root_expect(
        "account test set username",
        "username = `alice@test.example'",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn fill_by_account_protocol_and_show_users_pick_a_channels_members() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let one = gw.online_account(&mut c, "one@test.example").await.unwrap();
    let two = gw.online_account(&mut c, "two@test.example").await.unwrap();
    one.emit_handled(contact("bob", None, PresenceState::Online))
        .await
        .unwrap();
    two.emit_handled(contact("carol", None, PresenceState::Online))
        .await
        .unwrap();
    two.emit_handled(contact("dave", None, PresenceState::Away))
        .await
        .unwrap();
    c.send("JOIN &two").await.unwrap();
    c.expect(" 366 alice &two ").await.unwrap();
    c.root_expect("channel &two set fill_by account", "fill_by = `account'")
        .await
        .unwrap();
    c.root_expect("channel &two set account test2", "account = `test2'")
        .await
        .unwrap();
    assert_eq!(
        names(&mut c, "&two").await,
        ["+carol", "@alice", "@root", "dave"]
    );
    // show_users of this channel only: away contacts with voice too.
    c.root("channel &two set show_users online+,away+")
        .await
        .unwrap();
    assert_eq!(
        names(&mut c, "&two").await,
        ["+carol", "+dave", "@alice", "@root"]
    );
    let all = names(&mut c, "&bitlbee").await;
    assert!(all.contains(&"dave".to_string()), "{all:?}");

    c.send("JOIN &proto").await.unwrap();
    c.expect(" 366 alice &proto ").await.unwrap();
    c.root("channel &proto set fill_by protocol").await.unwrap();
    c.root_expect("channel &proto set protocol nosuch", "protocol = `nosuch'")
        .await
        .unwrap();
    assert_eq!(names(&mut c, "&proto").await, ["@alice", "@root"]);
    c.root_expect("channel &proto set protocol test", "protocol = `test'")
        .await
        .unwrap();
    assert_eq!(
        names(&mut c, "&proto").await,
        ["+bob", "+carol", "@alice", "@root", "dave"]
    );
}

#[tokio::test]
async fn a_channels_type_and_room_decide_what_it_is() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.emit_handled(contact("bob", None, PresenceState::Online))
        .await
        .unwrap();
    // A control channel shows the contacts; as a chat it is empty but for us.
    c.send("JOIN &room").await.unwrap();
    c.expect(" 366 alice &room ").await.unwrap();
    assert_any(&names(&mut c, "&room").await, "+bob");
    c.root_expect("channel &room set type chat", "type = `chat'")
        .await
        .unwrap();
    c.send("PART &room").await.unwrap();
    c.send("JOIN &room").await.unwrap();
    c.expect(" 366 alice &room ").await.unwrap();
    let m = names(&mut c, "&room").await;
    assert!(!m.iter().any(|n| n.ends_with("bob")), "{m:?}");

    // A chat's room is where it joins, and it is not for the user to change.
    c.root_expect(
        "chat add test room@rooms.test.example #chat",
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.root_expect("channel #chat set room", "room = `room@rooms.test.example'")
        .await
        .unwrap();
    c.allow("can not be changed").allow("read-only");
    c.root("channel #chat set room other@rooms.test.example")
        .await
        .unwrap();
    c.root_expect("channel #chat set room", "room = `room@rooms.test.example'")
        .await
        .unwrap();
    c.disallow_all();
    c.send("JOIN #chat").await.unwrap();
    loop {
        if let waggle_core::Command::JoinRoom { room, .. } = acc.next_command().await.unwrap() {
            assert_eq!(room.0, "room@rooms.test.example");
            break;
        }
    }
}
