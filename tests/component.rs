//! The XMPP component against a real Prosody with a `Component` section and a
//! group chat service: the handshake, users reachable as `name@gw.localhost`
//! from an ordinary XMPP client (the tests' own), subscriptions, presence,
//! messages (also while the user is detached or not running), rooms, the
//! answers of the domain and the users' JIDs, and a server restart.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::prosody::{ComponentGateway, GW_DOMAIN, MUC, Prosody, SECRET, XmppContact};
use waggle_tests::{IrcClient, pred};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Show, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;

const PW: &str = "pw";

fn alice_jid() -> String {
    format!("alice@{GW_DOMAIN}")
}

async fn prosody(users: &[(&str, &str)]) -> Prosody {
    Prosody::options()
        .component(GW_DOMAIN, SECRET)
        .start(users)
        .await
        .unwrap()
}

/// Prosody, a gateway with the component, alice registered on IRC (her `gw`
/// account online) and bob on XMPP.
async fn setup() -> (Prosody, ComponentGateway, IrcClient, XmppContact) {
    let p = prosody(&[("bob", PW), ("carol", PW)]).await;
    let gw = ComponentGateway::start(&p).await.unwrap();
    let alice = gw.registered("alice", "secret").await.unwrap();
    let bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    (p, gw, alice, bob)
}

fn get(to: &str, payload: &str) -> Iq {
    let payload: Element = payload.parse().unwrap();
    Iq::Get {
        from: None,
        to: Some(Jid::new(to).unwrap()),
        id: format!("q-{}", payload.name()),
        payload,
    }
}

fn result_payload(iq: Iq) -> Element {
    match iq {
        Iq::Result {
            payload: Some(p), ..
        } => p,
        other => panic!("no payload: {other:?}"),
    }
}

#[tokio::test]
async fn handshake_with_the_right_secret_and_a_clear_error_with_a_wrong_one() {
    let p = prosody(&[]).await;
    let mut good = ComponentGateway::start_with_secret(&p, SECRET)
        .await
        .unwrap();
    good.wait_connected().await.unwrap();
    good.halt().await.unwrap();

    let mut bad = ComponentGateway::start_with_secret(&p, "not the secret")
        .await
        .unwrap();
    let (error, retry_in) = bad.wait_failed().await.unwrap();
    assert!(error.contains("refused"), "{error}");
    // Not retried at once: the next attempt waits for the backoff (1 s here).
    assert!(
        retry_in.is_some_and(|d| d.as_millis() >= 900),
        "{retry_in:?}"
    );
    let mut c = bad.client("alice").await.unwrap();
    let reply = c
        .root_wait(
            "register secret",
            "gw - Logging in: Waiting for the connection",
        )
        .await
        .unwrap();
    assert!(reply.contains("refused"), "{reply}");
    bad.halt().await.unwrap();
}

#[tokio::test]
async fn every_registered_user_has_a_gw_account_nobody_can_add_one() {
    let (_p, _gw, mut alice, _bob) = setup().await;
    alice
        .root_expect(
            "account list",
            &format!("0 (gw): gw, {} (connected)", alice_jid()),
        )
        .await
        .unwrap();
    alice
        .root_expect("account add gw bob@gw.localhost x", "made by the gateway")
        .await
        .unwrap();
    let lines = alice.root("account list").await.unwrap();
    assert_eq!(
        lines.iter().filter(|l| l.contains("(gw")).count(),
        1,
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_xmpp_user_messages_alice_and_gets_her_reply_from_irc() {
    let (_p, _gw, mut alice, mut bob) = setup().await;
    // Bob is not on alice's list: show strangers in a query, not the channel.
    alice.root("set handle_unknown add_private").await.unwrap();
    let mut m = Message::chat(Jid::new(&alice_jid()).unwrap())
        .with_body(Lang::new(), "grüße, €uro\nsecond line".to_string());
    m.id = Some(xmpp_parsers::message::Id("m-1".into()));
    m.payloads.push(xmpp_parsers::receipts::Request.into());
    bob.send(m).await.unwrap();
    alice
        .expect(pred("bob's first line", |l| {
            l.is("PRIVMSG") && l.nick() == Some("bob") && l.trailing() == "grüße, €uro"
        }))
        .await
        .unwrap();
    alice
        .expect(pred("bob's second line", |l| {
            l.is("PRIVMSG") && l.nick() == Some("bob") && l.trailing() == "second line"
        }))
        .await
        .unwrap();
    // The receipt comes once the message is logged.
    bob.expect_message("a receipt", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS) && p.attr("id") == Some("m-1"))
    })
    .await
    .unwrap();
    bob.say(&alice_jid(), "/me waves").await.unwrap();
    alice
        .expect(pred("an action", |l| {
            l.is("PRIVMSG") && l.trailing() == "\u{1}ACTION waves\u{1}"
        }))
        .await
        .unwrap();

    alice.send("PRIVMSG bob :hello bob, ça va?").await.unwrap();
    assert_eq!(
        bob.expect_body(&alice_jid()).await.unwrap(),
        "hello bob, ça va?"
    );
    alice
        .send("PRIVMSG bob :\u{1}ACTION nods\u{1}")
        .await
        .unwrap();
    assert_eq!(bob.expect_body(&alice_jid()).await.unwrap(), "/me nods");
}

#[tokio::test]
async fn an_unknown_localpart_gets_item_not_found() {
    let (_p, _gw, _alice, mut bob) = setup().await;
    let nobody = format!("nobody@{GW_DOMAIN}");
    bob.say(&nobody, "anyone?").await.unwrap();
    let err = bob
        .expect_message("an error", |m| {
            m.type_ == MessageType::Error
                && m.from.as_ref().is_some_and(|f| f.to_string() == nobody)
        })
        .await
        .unwrap();
    let el: Element = err.into();
    let text = String::from(&el);
    assert!(text.contains("item-not-found"), "{text}");
    let answer = bob.iq(get(&nobody, "<vCard xmlns='vcard-temp'/>")).await;
    assert!(answer.is_err_and(|e| e.to_string().contains("item-not-found")));
}

#[tokio::test]
async fn the_domain_and_the_users_answer_disco_version_ping_and_vcard() {
    let (_p, _gw, _alice, mut bob) = setup().await;
    let info = result_payload(
        bob.iq(get(
            GW_DOMAIN,
            "<query xmlns='http://jabber.org/protocol/disco#info'/>",
        ))
        .await
        .unwrap(),
    );
    let identity = info
        .get_child("identity", "http://jabber.org/protocol/disco#info")
        .unwrap();
    assert_eq!(
        (identity.attr("category"), identity.attr("type")),
        (Some("gateway"), Some("irc"))
    );
    bob.iq(get(
        GW_DOMAIN,
        "<query xmlns='http://jabber.org/protocol/disco#items'/>",
    ))
    .await
    .unwrap();
    let version = result_payload(
        bob.iq(get(GW_DOMAIN, "<query xmlns='jabber:iq:version'/>"))
            .await
            .unwrap(),
    );
    assert_eq!(
        version
            .get_child("name", "jabber:iq:version")
            .map(|n| n.text())
            .as_deref(),
        Some("Waggle")
    );
    bob.iq(get(GW_DOMAIN, "<ping xmlns='urn:xmpp:ping'/>"))
        .await
        .unwrap();
    let full = format!("{}/waggle", alice_jid());
    bob.iq(get(&full, "<ping xmlns='urn:xmpp:ping'/>"))
        .await
        .unwrap();
    let user_info = result_payload(
        bob.iq(get(
            &full,
            "<query xmlns='http://jabber.org/protocol/disco#info'/>",
        ))
        .await
        .unwrap(),
    );
    assert!(
        user_info
            .children()
            .any(|f| f.attr("var") == Some("urn:xmpp:receipts")),
        "{}",
        String::from(&user_info)
    );
    let vcard = result_payload(
        bob.iq(get(&alice_jid(), "<vCard xmlns='vcard-temp'/>"))
            .await
            .unwrap(),
    );
    assert_eq!(
        vcard
            .get_child("NICKNAME", "vcard-temp")
            .map(|n| n.text())
            .as_deref(),
        Some("alice")
    );
    assert_eq!(
        vcard
            .get_child("FN", "vcard-temp")
            .map(|n| n.text())
            .as_deref(),
        Some("Test alice")
    );
}

/// Wait for a presence from alice's JID of `type_` (and `show`, for available ones).
async fn alice_presence(
    bob: &mut XmppContact,
    type_: PresenceType,
    show: Option<Show>,
) -> xmpp_parsers::presence::Presence {
    let from = alice_jid();
    let s = bob
        .expect(&format!("alice {type_:?} {show:?}"), |s| {
            matches!(s, Stanza::Presence(p) if p.type_ == type_
                && (type_ != PresenceType::None || p.show == show)
                && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from))
        })
        .await
        .unwrap();
    match s {
        Stanza::Presence(p) => p,
        _ => unreachable!(),
    }
}

/// bob asks to see alice, alice says yes and adds him back, bob approves.
async fn befriend_alice(alice: &mut IrcClient, bob: &mut XmppContact) {
    bob.roster_add(&alice_jid(), Some("Alice"), None)
        .await
        .unwrap();
    bob.presence_to(&alice_jid(), PresenceType::Subscribe)
        .await
        .unwrap();
    alice
        .expect("gw - New request: The user bob@localhost wants to add you to his/her buddy list.")
        .await
        .unwrap();
    alice.send("PRIVMSG &bitlbee :yes").await.unwrap();
    bob.expect_approval(&alice_jid()).await.unwrap();
    alice
        .expect("gw - New request: The user bob@localhost is not in your buddy list yet. Do you want to add him/her now?")
        .await
        .unwrap();
    alice.send("PRIVMSG &bitlbee :yes").await.unwrap();
    bob.expect_presence(&alice_jid(), PresenceType::Subscribe)
        .await
        .unwrap();
    bob.presence_to(&alice_jid(), PresenceType::Subscribed)
        .await
        .unwrap();
    alice
        .expect("gw - bob@localhost accepted your contact request")
        .await
        .unwrap();
    // bob's server tells alice bob's presence now that she may see it.
    alice
        .expect(pred("bob joins", |m| {
            m.is("JOIN") && m.nick() == Some("bob")
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn subscriptions_both_ways_and_alices_presence_as_bob_sees_it() {
    let (_p, gw, mut alice, mut bob) = setup().await;
    befriend_alice(&mut alice, &mut bob).await;
    let p = alice_presence(&mut bob, PresenceType::None, None).await;
    assert!(
        p.payloads.iter().any(|c| c.is("c", xmpp_parsers::ns::CAPS)),
        "presence carries caps"
    );

    alice.send("AWAY :out for lunch").await.unwrap();
    let p = alice_presence(&mut bob, PresenceType::None, Some(Show::Away)).await;
    assert_eq!(
        p.statuses.values().next().map(String::as_str),
        Some("out for lunch")
    );
    alice.send("AWAY").await.unwrap();
    alice_presence(&mut bob, PresenceType::None, None).await;

    // No client attached: extended away, with detach_away's text.
    alice.quit().await.unwrap();
    let p = alice_presence(&mut bob, PresenceType::None, Some(Show::Xa)).await;
    assert_eq!(
        p.statuses.values().next().map(String::as_str),
        Some("Detached")
    );
    let mut alice = gw.identified("alice", "secret", false).await.unwrap();
    alice_presence(&mut bob, PresenceType::None, None).await;

    alice.root("account gw off").await.unwrap();
    alice_presence(&mut bob, PresenceType::Unavailable, None).await;
    alice
        .root_wait("account gw on", "gw - Logging in: Logged in")
        .await
        .unwrap();
    alice_presence(&mut bob, PresenceType::None, None).await;

    // The roster survives: bob is still alice's contact, both ways.
    let lines = alice.root("blist all").await.unwrap();
    assert!(
        lines.iter().any(|l| l.contains("bob@localhost")),
        "{lines:?}"
    );

    // A gateway that stops says goodbye.
    let mut gw = gw;
    gw.halt().await.unwrap();
    alice_presence(&mut bob, PresenceType::Unavailable, None).await;
}

#[tokio::test]
async fn add_from_irc_asks_the_contact_and_a_refusal_is_told() {
    let (p, _gw, mut alice, _bob) = setup().await;
    let mut carol = XmppContact::connect(&p, "carol", PW).await.unwrap();
    alice.root("add gw carol@localhost").await.unwrap();
    carol
        .expect_presence(&alice_jid(), PresenceType::Subscribe)
        .await
        .unwrap();
    carol
        .presence_to(&alice_jid(), PresenceType::Subscribed)
        .await
        .unwrap();
    alice
        .expect("gw - carol@localhost accepted your contact request")
        .await
        .unwrap();
    alice
        .expect(pred("carol joins", |m| {
            m.is("JOIN") && m.nick() == Some("carol")
        }))
        .await
        .unwrap();
    carol
        .presence_to(&alice_jid(), PresenceType::Unsubscribed)
        .await
        .unwrap();
    alice
        .expect("gw - carol@localhost refused or cancelled your contact request")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_blocked_stranger_is_refused_without_a_question() {
    let (_p, _gw, mut alice, mut bob) = setup().await;
    alice.root("block gw bob@localhost").await.unwrap();
    // The account applies the block on its own task: its list says when.
    let mut listed = false;
    for _ in 0..100 {
        let list = alice.root("block gw").await.unwrap();
        if list.iter().any(|l| l.starts_with("bob@localhost")) {
            listed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(listed, "the block never reached the account's list");
    bob.presence_to(&alice_jid(), PresenceType::Subscribe)
        .await
        .unwrap();
    bob.expect_refusal(&alice_jid()).await.unwrap();
    bob.say(&alice_jid(), "let me in").await.unwrap();
    bob.expect_message("an error", |m| m.type_ == MessageType::Error)
        .await
        .unwrap();
    let lines = alice.sync().await.unwrap();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("New request") || l.contains("let me in")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_message_while_alice_is_detached_is_shown_when_she_attaches() {
    let (_p, gw, alice, mut bob) = setup().await;
    alice.quit().await.unwrap();
    let mut m = Message::chat(Jid::new(&alice_jid()).unwrap())
        .with_body(Lang::new(), "are you there?".to_string());
    m.id = Some(xmpp_parsers::message::Id("det-1".into()));
    m.payloads.push(xmpp_parsers::receipts::Request.into());
    bob.send(m).await.unwrap();
    // The receipt comes once the message is logged: then alice attaches.
    bob.expect_message("a receipt", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS) && p.attr("id") == Some("det-1"))
    })
    .await
    .unwrap();
    let mut alice = gw.client("alice").await.unwrap();
    alice
        .send("PRIVMSG &bitlbee :identify secret")
        .await
        .unwrap();
    alice
        .expect(pred("the replayed message", |m| {
            m.is("PRIVMSG") && m.nick() == Some("bob") && m.trailing().ends_with("are you there?")
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_message_while_alice_is_not_running_waits_sealed_until_she_identifies() {
    let (_p, mut gw, alice, mut bob) = setup().await;
    alice.quit().await.unwrap();
    gw.restart().await.unwrap();
    // alice is not running now (no unattended key): her server keeps it.
    let mut m = Message::chat(Jid::new(&alice_jid()).unwrap())
        .with_body(Lang::new(), "sent while you were away".to_string());
    m.id = Some(xmpp_parsers::message::Id("off-1".into()));
    m.payloads.push(xmpp_parsers::receipts::Request.into());
    bob.send(m).await.unwrap();
    // Stanzas from bob are handled in order: once her vCard is answered (by
    // her server, the gateway), the message is kept.
    let vcard = result_payload(
        bob.iq(get(&alice_jid(), "<vCard xmlns='vcard-temp'/>"))
            .await
            .unwrap(),
    );
    assert!(vcard.has_child("NICKNAME", "vcard-temp"));
    let mut alice = gw.client("alice").await.unwrap();
    alice
        .send("PRIVMSG &bitlbee :identify secret")
        .await
        .unwrap();
    alice
        .expect(pred("the kept message", |m| {
            m.is("PRIVMSG")
                && m.nick() == Some("bob")
                && m.trailing().ends_with("sent while you were away")
        }))
        .await
        .unwrap();
    // Delivered now, so the receipt comes now.
    bob.expect_message("a receipt", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS) && p.attr("id") == Some("off-1"))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_room_joined_through_the_component_messages_both_ways_and_topic() {
    let (_p, _gw, mut alice, mut bob) = setup().await;
    let room = format!("lounge@{MUC}");
    bob.join_room(&room, "bob").await.unwrap();
    alice
        .root(&format!("chat add gw {room} #lounge"))
        .await
        .unwrap();
    alice.send("JOIN #lounge").await.unwrap();
    alice
        .expect(pred("alice joins #lounge", |m| {
            m.is("JOIN") && m.param(0) == "#lounge" && m.nick() == Some("alice")
        }))
        .await
        .unwrap();
    let names = alice.expect_numeric("353").await.unwrap();
    assert!(names.contains("bob"), "{names}");
    // bob sees alice come in, as alice@gw.localhost/waggle's occupant.
    bob.expect("alice in the room", |s| {
        matches!(s, Stanza::Presence(p) if p.from.as_ref().is_some_and(|f| f.to_string() == format!("{room}/alice")))
    })
    .await
    .unwrap();
    bob.room_say(&room, "welcome alice").await.unwrap();
    alice
        .expect(pred("bob in #lounge", |m| {
            m.is("PRIVMSG")
                && m.param(0) == "#lounge"
                && m.nick() == Some("bob")
                && m.trailing() == "welcome alice"
        }))
        .await
        .unwrap();
    alice.send("PRIVMSG #lounge :thanks bob").await.unwrap();
    let said = bob
        .expect_message("alice in the room", |m| {
            m.type_ == MessageType::Groupchat
                && m.from
                    .as_ref()
                    .is_some_and(|f| f.resource().is_some_and(|r| r.as_str() == "alice"))
        })
        .await
        .unwrap();
    assert_eq!(
        said.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some("thanks bob")
    );
    let mut subject = Message::groupchat(Jid::new(&room).unwrap());
    subject.subjects.insert(Lang::new(), "today: tests".into());
    bob.send(subject).await.unwrap();
    alice
        .expect(pred("the topic", |m| {
            m.is("TOPIC") && m.param(0) == "#lounge" && m.trailing() == "today: tests"
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn after_a_prosody_restart_the_component_reconnects_sends_what_was_queued_and_presence_again()
{
    let (mut p, mut gw, mut alice, mut bob) = setup().await;
    befriend_alice(&mut alice, &mut bob).await;
    alice_presence(&mut bob, PresenceType::None, None).await;
    drop(bob);
    p.stop();
    gw.wait_failed().await.unwrap();
    // Sent while the server is down: kept in the queue, sent once connected
    // (and kept by bob's server until he is back).
    alice.send("PRIVMSG bob :queued while down").await.unwrap();
    alice.sync().await.unwrap();
    p.resume().await.unwrap();
    gw.wait_connected().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    assert_eq!(
        bob.expect_body(&alice_jid()).await.unwrap(),
        "queued while down"
    );
    // bob's server probes alice, or the component re-sends: either way bob
    // sees her available again.
    alice_presence(&mut bob, PresenceType::None, None).await;
    bob.say(&alice_jid(), "back?").await.unwrap();
    alice
        .expect(pred("bob's message after the restart", |m| {
            m.is("PRIVMSG") && m.nick() == Some("bob") && m.trailing() == "back?"
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_quiet_link_stays_up_on_keepalive_pings() {
    let p = prosody(&[]).await;
    let keepalive = std::time::Duration::from_secs(1);
    let gw = ComponentGateway::start_with_keepalive(&p, keepalive)
        .await
        .unwrap();
    // Silence for several keepalive periods: without the pings (to our own
    // domain, through the server) the link would be given up and reopened.
    tokio::time::sleep(keepalive * 5).await;
    assert_eq!(gw.link_state(), Some(waggle_component::LinkState::Up(1)));
}
