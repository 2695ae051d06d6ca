//! BitlBee parity of jabber accounts against a real Prosody (issue items 3
//! and 12): settings applied while online, resource_select, the XML console,
//! SASL choices, ignore_auth_requests, CTCP VERSION, block lists, and
//! `add jabber bob` completing the domain.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use waggle_core::{BackendError, Command, Event, MessageKind};
use waggle_tests::prosody::{
    BackendAccount, DOMAIN, Prosody, XmppContact, XmppGateway, befriend, spec,
};
use waggle_tests::{assert_any, assert_none};
use waggle_xmpp::XmppBackend;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::stanza::Stanza;

/// Alice (the Waggle account) and bob see each other's presence.
async fn friends(p: &Prosody) {
    let mut alice = XmppContact::connect(p, "alice", "secret").await.unwrap();
    let mut bob = XmppContact::connect(p, "bob", "secret").await.unwrap();
    befriend(&mut alice, &mut bob, None, None).await.unwrap();
}

fn run(p: &Prosody, extra: &[(&str, &str)]) -> BackendAccount {
    BackendAccount::run(
        Arc::new(XmppBackend::new()),
        spec(p, "alice", "secret", extra),
    )
}

async fn online(p: &Prosody, extra: &[(&str, &str)]) -> BackendAccount {
    let mut a = run(p, extra);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    a
}

fn say(to: &str, body: &str) -> Command {
    Command::SendMessage {
        to: to.into(),
        body: body.into(),
        kind: MessageKind::Normal,
        id: None,
    }
}

#[tokio::test]
async fn priority_applies_while_online() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    friends(&p).await;
    let mut bob = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    let a = online(&p, &[]).await;
    let first = bob
        .expect_presence(&format!("alice@{DOMAIN}"), PresenceType::None)
        .await
        .unwrap();
    assert_eq!(first.priority, xmpp_parsers::presence::Priority(0));
    a.send(Command::ApplySetting {
        key: "priority".into(),
        value: Some("7".into()),
    })
    .await
    .unwrap();
    let again = bob
        .expect_presence(&format!("alice@{DOMAIN}"), PresenceType::None)
        .await
        .unwrap();
    assert_eq!(again.priority, xmpp_parsers::presence::Priority(7));
    a.stop().await.unwrap();
}

#[tokio::test]
async fn resource_select_activity_answers_the_resource_that_wrote() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    friends(&p).await;
    let mut one = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    let mut two = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    let mut a = online(&p, &[]).await;
    let me = format!("alice@{DOMAIN}");
    two.say(&me, "from the second device").await.unwrap();
    a.expect(
        "the message",
        |e| matches!(e, Event::MessageReceived { body, .. } if body == "from the second device"),
    )
    .await
    .unwrap();
    a.send(say(&format!("bob@{DOMAIN}"), "the reply"))
        .await
        .unwrap();
    assert_eq!(two.expect_body(&me).await.unwrap(), "the reply");
    // The first device did not get the reply: what it gets next is this.
    let direct = one.full_jid().unwrap();
    a.send(say(&direct, "only for one")).await.unwrap();
    assert_eq!(one.expect_body(&me).await.unwrap(), "only for one");
    a.stop().await.unwrap();
}

#[tokio::test]
async fn activity_timeout_past_lets_the_server_choose_the_resource() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    friends(&p).await;
    let mut one = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    let mut two = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    // activity_timeout 0: the resource that wrote is forgotten at once.
    let mut a = online(&p, &[("activity_timeout", "0")]).await;
    let me = format!("alice@{DOMAIN}");
    two.say(&me, "from the second device").await.unwrap();
    a.expect(
        "the message",
        |e| matches!(e, Event::MessageReceived { body, .. } if body == "from the second device"),
    )
    .await
    .unwrap();
    a.send(say(&format!("bob@{DOMAIN}"), "the reply"))
        .await
        .unwrap();
    // Sent to the bare JID, so the server gives it to both devices (with
    // the default timeout only the second one gets it: the test above).
    assert_eq!(one.expect_body(&me).await.unwrap(), "the reply");
    assert_eq!(two.expect_body(&me).await.unwrap(), "the reply");
    a.stop().await.unwrap();
}

#[tokio::test]
async fn the_xml_console_shows_the_stream_and_sends_what_it_is_given() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = online(&p, &[("xmlconsole", "true")]).await;
    a.expect("a received stanza", |e| {
        matches!(e, Event::ConsoleLine { from, line } if from == "_xmlconsole" && line.starts_with("RX: <"))
    })
    .await
    .unwrap();
    a.send(say(
        "_xmlconsole",
        "<iq type='get' id='console-1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
    ))
    .await
    .unwrap();
    a.expect("the ping sent", |e| {
        matches!(e, Event::ConsoleLine { line, .. } if line.starts_with("TX: ") && line.contains("console-1"))
    })
    .await
    .unwrap();
    a.expect("its answer", |e| {
        matches!(e, Event::ConsoleLine { line, .. } if line.starts_with("RX: ") && line.contains("console-1") && line.contains("result"))
    })
    .await
    .unwrap();
    a.stop().await.unwrap();
}

#[tokio::test]
async fn sasl_chooses_and_excludes_mechanisms() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let a = online(&p, &[("sasl", "SCRAM-SHA-1")]).await;
    a.stop().await.unwrap();
    let mut a = run(&p, &[("sasl", "-SCRAM-SHA-1,-PLAIN,-SCRAM-SHA-256")]);
    match a.result().await.unwrap() {
        Err(BackendError::Config(text)) => {
            assert!(text.contains("see the sasl setting"), "{text}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let mut a = run(&p, &[("sasl", "false")]);
    match a.result().await.unwrap() {
        Err(BackendError::Config(text)) => {
            assert!(text.contains("always logs in with SASL"), "{text}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn ignore_auth_requests_leaves_them_unanswered() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    let mut a = online(&p, &[("ignore_auth_requests", "true")]).await;
    let mut bob = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    bob.presence_to(&format!("alice@{DOMAIN}"), PresenceType::Subscribe)
        .await
        .unwrap();
    // A round trip after the request: had it been asked, it would be seen by now.
    a.send(Command::GetInfo {
        handle: format!("alice@{DOMAIN}"),
    })
    .await
    .unwrap();
    a.expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
    assert!(
        !a.seen()
            .iter()
            .any(|e| matches!(e, Event::QuestionAsked { .. })),
        "{:?}",
        a.seen()
    );
    a.stop().await.unwrap();
}

#[tokio::test]
async fn ctcp_version_asks_each_resource_and_answers_as_bitlbee() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    friends(&p).await;
    let mut bob = XmppContact::connect(&p, "bob", "secret").await.unwrap();
    bob.take_queries();
    let mut a = online(&p, &[]).await;
    let bob_jid = format!("bob@{DOMAIN}");
    a.expect("bob online", |e| matches!(e, Event::ContactUpdated(c) if c.handle == bob_jid && c.presence.state != waggle_core::PresenceState::Offline))
        .await
        .unwrap();
    a.send(Command::ContactAction {
        handle: bob_jid.clone(),
        action: "VERSION".into(),
        args: vec![],
    })
    .await
    .unwrap();
    let query = bob
        .expect("a version query", |s| {
            matches!(s, Stanza::Iq(Iq::Get { payload, .. }) if payload.is("query", "jabber:iq:version"))
        })
        .await
        .unwrap();
    let Stanza::Iq(Iq::Get { id, from, .. }) = query else {
        panic!("not a get")
    };
    let answer = Iq::from_result(
        id,
        Some(xmpp_parsers::version::VersionResult {
            name: "Psi".into(),
            version: "1.5".into(),
            os: None,
        }),
    )
    .with_to(from.unwrap());
    bob.send(answer).await.unwrap();
    let resource = bob.full_jid().unwrap();
    let resource = resource.split('/').nth(1).unwrap().to_string();
    let ev = a
        .expect("the answer", |e| matches!(e, Event::ActionResult { .. }))
        .await
        .unwrap();
    assert_eq!(
        ev,
        Event::ActionResult {
            handle: bob_jid,
            action: "VERSION".into(),
            args: vec![format!("Resource {resource} name: Psi, version: 1.5")],
        }
    );
    a.stop().await.unwrap();
}

#[tokio::test]
async fn the_block_list_is_reported_at_login_and_after_a_block() {
    let p = Prosody::start(&[("alice", "secret")]).await.unwrap();
    let mut a = online(&p, &[]).await;
    a.expect(
        "the list at login",
        |e| matches!(e, Event::BlockList { blocked, .. } if blocked.is_empty()),
    )
    .await
    .unwrap();
    a.send(Command::Block {
        handle: format!("mallory@{DOMAIN}"),
    })
    .await
    .unwrap();
    a.expect("mallory blocked", |e| {
        matches!(e, Event::BlockList { blocked, .. } if blocked == &[format!("mallory@{DOMAIN}")])
    })
    .await
    .unwrap();
    a.stop().await.unwrap();
}

#[tokio::test]
async fn add_completes_the_domain_and_login_settings_say_when_they_apply() {
    let p = Prosody::start(&[("alice", "secret"), ("bob", "secret")])
        .await
        .unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let tag = gw
        .online_account(&mut c, &p, "alice", "secret")
        .await
        .unwrap();
    let t = c.root(&format!("add {tag} bob")).await.unwrap();
    assert_any(&t, &format!("Adding `bob@{DOMAIN}' to contact list"));
    let t = c.root(&format!("add {tag} _xmlconsole")).await.unwrap();
    assert_any(&t, "Adding `_xmlconsole' to contact list");
    let t = c
        .root(&format!("account {tag} set resource laptop"))
        .await
        .unwrap();
    assert_any(&t, "resource = `laptop'");
    assert_any(&t, "it applies from its next connection");
    let t = c
        .root(&format!("account {tag} set priority 3"))
        .await
        .unwrap();
    assert_none(&t, "next connection");
    gw.stop().await.unwrap();
}
