//! What irctest's SASL, registration and account-registration modules found,
//! checked here too: CAP END in the middle of SASL, AUTHENTICATE after
//! registration, IRCv3 REGISTER (before and after connecting), and channel
//! modes set by an op.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::Engine;
use waggle_core::{PresenceState, Store};
use waggle_irc::AuthMode;
use waggle_tests::{GatewayOptions, IrcClient, Msg, TestGateway, assert_any, assert_none};

fn plain(authcid: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{authcid}\0{password}"))
}

async fn start_caps(gw: &TestGateway, nick: &str, caps: &str) -> IrcClient {
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send(&format!("NICK {nick}")).await.unwrap();
    c.send(&format!("USER {nick} 0 * :{nick}")).await.unwrap();
    c.send(&format!("CAP REQ :{caps}")).await.unwrap();
    c.expect(" ACK ").await.unwrap();
    c
}

#[tokio::test]
async fn cap_end_in_the_middle_of_sasl_aborts_it_and_registers() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = start_caps(&gw, "alice", "sasl").await;
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c.send("CAP END").await.unwrap();
    c.expect(" 906 alice ").await.unwrap();
    c.finish_registration("alice").await.unwrap();
}

#[tokio::test]
async fn authenticate_after_registration_identifies_or_says_already() {
    let gw = TestGateway::start_default().await.unwrap();
    gw.store()
        .unwrap()
        .create_user("jilles", "sesame")
        .await
        .unwrap();
    let mut c = start_caps(&gw, "guest", "sasl").await;
    c.send("CAP END").await.unwrap();
    c.finish_registration("guest").await.unwrap();
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c.send(&format!("AUTHENTICATE {}", plain("jilles", "sesame")))
        .await
        .unwrap();
    c.expect(" 900 guest ").await.unwrap();
    c.expect(" 903 guest ").await.unwrap();
    // Identified now: a second exchange is refused with 907, never silence.
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect(" 907 guest ").await.unwrap();
    // Without the sasl capability, AUTHENTICATE fails with a numeric too.
    let mut d = gw.client("other").await.unwrap();
    d.send("AUTHENTICATE PLAIN").await.unwrap();
    d.expect(" 904 other ").await.unwrap();
}

fn register_reply(lines: &[String]) -> Msg {
    lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("REGISTER") || (m.is("FAIL") && m.param(0) == "REGISTER"))
        .unwrap_or_else(|| panic!("no REGISTER reply: {lines:#?}"))
}

#[tokio::test]
async fn register_signs_up_the_current_nick() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    let ls = c.expect(" LS ").await.unwrap();
    assert!(
        ls.contains("draft/account-registration=before-connect"),
        "{ls}"
    );
    assert!(!ls.contains("email-required"), "{ls}");
    c.send("CAP END").await.unwrap();
    c.register("bar").await.unwrap();

    c.send("REGISTER foo * passphrase").await.unwrap();
    let r = register_reply(&c.sync().await.unwrap());
    assert_eq!(
        r.params[..3],
        ["REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", "foo"]
    );
    c.send("REGISTER * * passphrase").await.unwrap();
    let lines = c.sync().await.unwrap();
    let r = register_reply(&lines);
    assert_eq!(r.params[..2], ["SUCCESS", "bar"], "{lines:#?}");
    assert_any(&lines, "MODE bar :+R");
    c.send("REGISTER * * again").await.unwrap();
    let r = register_reply(&c.sync().await.unwrap());
    assert_eq!(r.params[..2], ["REGISTER", "ALREADY_AUTHENTICATED"]);

    // It is a user like any other: identify works from another connection.
    c.quit().await.unwrap();
    gw.restart().await.unwrap();
    let mut d = gw.client("bar").await.unwrap();
    d.root_expect("identify passphrase", "Password accepted")
        .await
        .unwrap();
    // And the nick cannot be registered twice.
    let mut e = gw.client("bar").await.unwrap();
    e.send("REGISTER * * other").await.unwrap();
    let r = register_reply(&e.sync().await.unwrap());
    assert_eq!(r.params[..3], ["REGISTER", "ACCOUNT_EXISTS", "bar"]);
    e.send("VERIFY bar 1234").await.unwrap();
    e.expect("FAIL VERIFY INVALID_CODE bar").await.unwrap();
}

#[tokio::test]
async fn register_before_connecting_logs_the_connection_in() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send("NICK early").await.unwrap();
    c.send("REGISTER * * passphrase").await.unwrap();
    c.expect("REGISTER SUCCESS early").await.unwrap();
    c.send("USER early 0 * :Early").await.unwrap();
    c.send("CAP END").await.unwrap();
    let burst = c.finish_registration("early").await.unwrap();
    assert_any(&burst, "MODE early :+R");
    assert!(gw.store().unwrap().user_exists("early").await.unwrap());
}

#[tokio::test]
async fn register_is_refused_where_it_is_not_allowed() {
    let gw = TestGateway::start(GatewayOptions {
        auth_mode: AuthMode::Registered,
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.client("bar").await.unwrap();
    c.send("REGISTER * * passphrase").await.unwrap();
    let r = register_reply(&c.sync().await.unwrap());
    assert_eq!(r.params[..2], ["REGISTER", "DISALLOWED"]);

    let no_early = TestGateway::start(GatewayOptions {
        register_before_connect: false,
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut d = no_early.connect().await.unwrap();
    d.send("CAP LS 302").await.unwrap();
    let ls = d.expect(" LS ").await.unwrap();
    assert!(ls.contains("draft/account-registration"), "{ls}");
    assert!(!ls.contains("before-connect"), "{ls}");
    d.send("NICK bar").await.unwrap();
    d.send("REGISTER * * passphrase").await.unwrap();
    d.expect("FAIL REGISTER COMPLETE_CONNECTION_REQUIRED")
        .await
        .unwrap();
}

#[tokio::test]
async fn channel_modes_set_by_an_op_apply_or_are_refused_with_472() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN").await.unwrap();
    c.send("JOIN &mine").await.unwrap();
    c.expect(" 366 alice &mine ").await.unwrap();

    c.send("MODE &mine +int").await.unwrap();
    let lines = c.sync().await.unwrap();
    // t was set already: only what changed is shown.
    assert_any(&lines, ":alice!alice@127.0.0.1 MODE &mine +in");
    assert_none(&lines, " 482 ");
    c.send("MODE &mine").await.unwrap();
    // Control channels also have BitlBee's +C.
    c.expect(" 324 alice &mine +Cint").await.unwrap();
    c.send("MODE &mine -i+m").await.unwrap();
    c.expect("MODE &mine -i+m").await.unwrap();

    // Online contacts have voice (show_users); an op may take and give it.
    c.send("MODE &bitlbee -v bob").await.unwrap();
    c.expect("MODE &bitlbee -v bob").await.unwrap();
    c.send("NAMES &bitlbee").await.unwrap();
    let names = c.expect(" 353 alice ").await.unwrap();
    assert!(!names.contains("+bob"), "{names}");
    c.send("MODE &bitlbee +v bob").await.unwrap();
    c.expect("MODE &bitlbee +v bob").await.unwrap();
    c.send("NAMES &bitlbee").await.unwrap();
    let names = c.expect(" 353 alice ").await.unwrap();
    assert!(names.contains("+bob"), "{names}");

    c.send("MODE &mine +q").await.unwrap();
    c.expect(" 472 alice q ").await.unwrap();
    c.send("MODE &bitlbee +v nobody").await.unwrap();
    c.expect(" 441 alice nobody &bitlbee ").await.unwrap();
    for (query, end) in [("b", " 368 "), ("e", " 349 "), ("I", " 347 ")] {
        c.send(&format!("MODE &bitlbee {query}")).await.unwrap();
        c.expect(end).await.unwrap();
    }
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " 482 ");
}

#[tokio::test]
async fn a_hash_channel_is_a_chat_that_an_invitation_starts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send("CAP REQ :echo-message server-time message-tags batch draft/chathistory")
        .await
        .unwrap();
    c.send("CAP END").await.unwrap();
    c.register("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN").await.unwrap();

    // A new #channel: the user and root, no room yet, and no root answering.
    c.send("JOIN #lounge").await.unwrap();
    let burst = c.sync().await.unwrap();
    assert_any(&burst, "JOIN #lounge");
    c.root_expect("channel list", "#lounge, chat channel (joined)")
        .await
        .unwrap();
    c.send("PRIVMSG #lounge :a note to myself").await.unwrap();
    let lines = c.sync().await.unwrap();
    let echoes: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("PRIVMSG #lounge :a note to myself"))
        .collect();
    assert_eq!(echoes.len(), 1, "{lines:#?}");
    assert!(c.root_texts(&lines).is_empty(), "{lines:#?}");
    c.send("CHATHISTORY LATEST #lounge * 10").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("PRIVMSG #lounge :a note to myself"))
            .count(),
        1,
        "{lines:#?}"
    );

    // /invite starts a group chat with the contact, in this very channel.
    c.send("INVITE bob #lounge").await.unwrap();
    c.expect(" 341 alice bob #lounge").await.unwrap();
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        waggle_core::Command::ChatWith {
            handle: "bob".into()
        }
    );
    acc.emit_handled(waggle_core::Event::RoomJoined {
        room: waggle_core::RoomId("adhoc-1@rooms.test.example".into()),
        topic: None,
        occupants: vec![
            waggle_core::Occupant {
                nick: "alice".into(),
                handle: None,
                role: waggle_core::Role::Moderator,
                is_self: true,
            },
            waggle_core::Occupant {
                nick: "bob".into(),
                handle: Some("bob".into()),
                role: waggle_core::Role::Participant,
                is_self: false,
            },
        ],
    })
    .await
    .unwrap();
    c.expect(":bob!bob@test.example JOIN #lounge")
        .await
        .unwrap();
    c.send("PRIVMSG #lounge :hi bob").await.unwrap();
    assert_eq!(
        waggle_tests::strip_id(acc.next_non_presence_command().await.unwrap()),
        waggle_core::Command::SendRoomMessage {
            room: waggle_core::RoomId("adhoc-1@rooms.test.example".into()),
            body: "hi bob".into(),
            kind: waggle_core::MessageKind::Normal,
            id: None,
        }
    );
    let list = c.root("channel list").await.unwrap();
    assert_eq!(
        list.iter().filter(|l| l.contains("chat channel")).count(),
        1,
        "no second channel: {list:?}"
    );
}
