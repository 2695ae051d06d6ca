//! XMPP through the whole gateway: an IRC client, the gateway with the XMPP
//! backend, a real Prosody, and tokio-xmpp clients playing the contacts. The
//! IRC side must read as BitlBee's does.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::prosody::{MUC, Prosody, XmppContact, XmppGateway, befriend};
use waggle_tests::{IrcClient, pred};
use xmpp_parsers::presence::{Show, Type as PresenceType};

const PW: &str = "pw";

async fn setup(users: &[(&str, &str)]) -> (Prosody, XmppGateway, IrcClient) {
    let p = Prosody::start(users).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let c = gw.client("alice").await.unwrap();
    (p, gw, c)
}

#[tokio::test]
async fn login_roster_and_presence_on_irc() {
    let (p, gw, mut c) = setup(&[("alice", PW), ("bob", PW)]).await;
    let mut alice = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    befriend(&mut alice, &mut bob, Some("Bob Builder"), Some("Friends"))
        .await
        .unwrap();
    drop(alice);
    let tag = gw.add_account(&mut c, &p, "alice", PW, &[]).await.unwrap();
    assert_eq!(tag, "jabber");
    c.send("PRIVMSG &bitlbee :account jabber on").await.unwrap();
    for step in [
        "jabber - Logging in: Connecting",
        "jabber - Logging in: Connected to server, logging in",
        "jabber - Logging in: Converting stream to TLS",
        "jabber - Logging in: Authentication finished",
        "jabber - Logging in: Authenticated, requesting buddy list",
        "jabber - Logging in: Logged in",
    ] {
        c.expect(step).await.unwrap();
    }
    let join = c
        .expect(pred("bob joins", |m| {
            m.is("JOIN") && m.nick() == Some("bob")
        }))
        .await
        .unwrap();
    assert!(join.starts_with(":bob!bob@localhost JOIN"), "{join}");
    c.send("WHOIS bob").await.unwrap();
    let whois = c.expect_numeric("311").await.unwrap();
    assert!(whois.contains("Bob Builder"), "{whois}");
    // WHOIS names the resource the presence comes from.
    let server = c.expect_numeric("312").await.unwrap();
    assert!(server.contains("jabber network, resource "), "{server}");

    bob.available(Some(Show::Away), Some("lunch"))
        .await
        .unwrap();
    // Away contacts lose their voice in the control channel (show_users).
    c.expect(pred("bob devoiced", |m| {
        m.is("MODE") && m.param(1) == "-v" && m.param(2) == "bob"
    }))
    .await
    .unwrap();
    bob.unavailable().await.unwrap();
    c.expect(pred("bob quits", |m| {
        m.is("QUIT") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
}

#[tokio::test]
async fn wrong_password_on_irc_does_not_reconnect() {
    let (p, gw, mut c) = setup(&[("alice", PW)]).await;
    // A retry would come after a second.
    c.root_expect("set auto_reconnect_delay 1", "auto_reconnect_delay = `1'")
        .await
        .unwrap();
    gw.add_account(&mut c, &p, "alice", "nope", &[])
        .await
        .unwrap();
    c.send("PRIVMSG &bitlbee :account jabber on").await.unwrap();
    c.expect("jabber - Login error: Authentication failure")
        .await
        .unwrap();
    c.expect("jabber - Signing off..").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    c.sync().await.unwrap();
    let tries = c
        .history()
        .iter()
        .filter(|l| l.contains("jabber - Logging in: Connecting"))
        .count();
    assert_eq!(tries, 1, "{:#?}", c.history());
    assert!(
        !c.history().iter().any(|l| l.contains("Reconnecting")),
        "{:#?}",
        c.history()
    );
    // The account is there, off.
    let list = c.root("account list").await.unwrap();
    assert_eq!(
        list,
        [
            " 0 (jabber): jabber, alice@localhost",
            "End of account list"
        ]
    );
    // The protocol's own settings are in the help tree too.
    let help = c.root("help set tls_verify").await.unwrap();
    assert!(
        help.iter()
            .any(|l| l.contains("(jabber accounts) Help on setting `tls_verify'")),
        "{help:?}"
    );
    let help = c.root("help set").await.unwrap();
    assert!(
        help.iter()
            .any(|l| l.starts_with("jabber accounts:") && l.contains(" resource")),
        "{help:?}"
    );
}

#[tokio::test]
async fn messages_on_irc() {
    let (p, gw, mut c) = setup(&[("alice", PW), ("bob", PW)]).await;
    let mut alice = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    befriend(&mut alice, &mut bob, None, None).await.unwrap();
    drop(alice);
    gw.online_account(&mut c, &p, "alice", PW).await.unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();

    bob.say("alice@localhost", "héllo ☃\nsecond line")
        .await
        .unwrap();
    let l1 = c
        .expect(pred("bob's message", |m| {
            m.is("PRIVMSG") && m.nick() == Some("bob")
        }))
        .await
        .unwrap();
    assert!(l1.ends_with(":héllo ☃"), "{l1}");
    let l2 = c
        .expect(pred("its second line", |m| {
            m.is("PRIVMSG") && m.nick() == Some("bob")
        }))
        .await
        .unwrap();
    assert!(l2.ends_with(":second line"), "{l2}");
    bob.say("alice@localhost", "/me waves").await.unwrap();
    c.expect("PRIVMSG alice :\x01ACTION waves\x01")
        .await
        .unwrap();

    let long: String = "0123456789abcdef".repeat(256);
    bob.say("alice@localhost", &long).await.unwrap();
    let mut got = String::new();
    while got.len() < long.len() {
        let l = c
            .expect(pred("a piece", |m| {
                m.is("PRIVMSG") && m.nick() == Some("bob")
            }))
            .await
            .unwrap();
        got.push_str(waggle_tests::Msg::parse(&l).trailing());
    }
    assert_eq!(got, long);

    c.send("PRIVMSG bob :hi bob, ünïcode").await.unwrap();
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "hi bob, ünïcode"
    );
    c.send("PRIVMSG bob :\x01ACTION waves back\x01")
        .await
        .unwrap();
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "/me waves back"
    );
}

#[tokio::test]
async fn requests_info_and_contacts_through_root() {
    let (p, gw, mut c) = setup(&[("alice", PW), ("bob", PW), ("dave", PW)]).await;
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.set_vcard("<FN>Bob Builder</FN>").await.unwrap();
    gw.online_account(&mut c, &p, "alice", PW).await.unwrap();

    let mut dave = XmppContact::connect(&p, "dave", PW).await.unwrap();
    dave.presence_to("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    c.expect(
        "jabber - New request: The user dave@localhost wants to add you to his/her buddy list.",
    )
    .await
    .unwrap();
    c.send("PRIVMSG &bitlbee :yes").await.unwrap();
    dave.expect_approval("alice@localhost").await.unwrap();
    c.expect("is not in your buddy list yet").await.unwrap();
    c.send("PRIVMSG &bitlbee :no").await.unwrap();

    c.root_expect(
        "add jabber bob@localhost",
        "Adding `bob@localhost' to contact list",
    )
    .await
    .unwrap();
    bob.expect_presence("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    bob.presence_to("alice@localhost", PresenceType::Subscribed)
        .await
        .unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    c.send("PRIVMSG &bitlbee :info bob").await.unwrap();
    c.expect("jabber - User info - bob:").await.unwrap();
    c.expect("jabber - Full name: Bob Builder").await.unwrap();
    c.root_expect("remove bob", "removed from contact list")
        .await
        .unwrap();
}

#[tokio::test]
async fn group_chat_on_irc() {
    let (p, gw, mut c) = setup(&[("alice", PW), ("bob", PW)]).await;
    gw.online_account(&mut c, &p, "alice", PW).await.unwrap();
    let room = format!("lounge@{MUC}");
    c.root_expect(
        &format!("chat add jabber {room} #lounge"),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.send("JOIN #lounge").await.unwrap();
    c.expect(pred("we join", |m| {
        m.is("JOIN") && m.param(0) == "#lounge" && m.nick() == Some("alice")
    }))
    .await
    .unwrap();
    c.expect_numeric("366").await.unwrap();

    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room, "bob").await.unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.param(0) == "#lounge" && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    bob.room_say(&room, "hello room").await.unwrap();
    c.expect(":bob!bob@conference.localhost PRIVMSG #lounge :hello room")
        .await
        .unwrap();
    c.send("PRIVMSG #lounge :hello bob").await.unwrap();
    bob.expect_message("alice in the room", |m| {
        m.get_best_body(vec![])
            .is_some_and(|(_, b)| b == "hello bob")
    })
    .await
    .unwrap();

    c.send("TOPIC #lounge :Lounge talk").await.unwrap();
    let topic = c
        .expect(pred("the topic", |m| {
            m.is("TOPIC") && m.param(0) == "#lounge"
        }))
        .await
        .unwrap();
    assert!(
        topic.starts_with(":alice!") && topic.ends_with(":Lounge talk"),
        "{topic}"
    );

    c.send("KICK #lounge bob :behave").await.unwrap();
    let kick = c
        .expect(pred("the kick", |m| m.is("KICK") && m.param(1) == "bob"))
        .await
        .unwrap();
    assert!(kick.ends_with(":behave"), "{kick}");
    bob.expect_presence(&room, PresenceType::Unavailable)
        .await
        .unwrap();

    bob.join_room(&room, "bob").await.unwrap();
    c.expect(pred("bob is back", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    c.send("PART #lounge").await.unwrap();
    bob.expect("alice leaves", |s| {
        matches!(s, xmpp_parsers::stanza::Stanza::Presence(p)
            if p.type_ == PresenceType::Unavailable
            && p.from.as_ref().is_some_and(|f| f.to_string() == format!("{room}/alice")))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_down_then_up_on_irc() {
    let (mut p, gw, mut c) = setup(&[("alice", PW)]).await;
    c.root("set auto_reconnect_delay 1").await.unwrap();
    gw.online_account(&mut c, &p, "alice", PW).await.unwrap();
    p.stop();
    // The lost connection is reported (its wording is the OS's), then the account
    // signs off and is retried.
    c.allow("jabber - Error: ");
    c.expect("jabber - Signing off..").await.unwrap();
    assert!(
        c.history()
            .iter()
            .any(|l| l.contains("jabber - Error: Connection lost")),
        "{:?}",
        c.history()
    );
    c.expect("jabber - Reconnecting in 1 seconds..")
        .await
        .unwrap();
    p.resume().await.unwrap();
    c.set_timeout(std::time::Duration::from_secs(15));
    c.expect("jabber - Logging in: Logged in").await.unwrap();
}
