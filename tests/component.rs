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
async fn an_xmpp_user_messages_alice_and_gets_her_reply_from_irc() {
    let (_p, _gw, mut alice, mut bob) = setup().await;
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
    let _ = Stanza::from(Iq::from_get("x", xmpp_parsers::ping::Ping));
    let _ = (Show::Away, PresenceType::None, MUC);
}
