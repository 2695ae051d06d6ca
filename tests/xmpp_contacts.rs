//! XMPP contacts against a real Prosody, through the backend directly: the
//! roster, presence, subscription requests, adding and removing, vCards and
//! blocking; and what strangers can't do: answer our queries in someone
//! else's name, or leave presence behind.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Contact, Event, PresenceState};
use waggle_tests::prosody::{BackendAccount, Prosody, XmppContact, befriend};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Show, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;

const PW: &str = "pw";

fn contact<'a>(e: &'a Event, handle: &str) -> Option<&'a Contact> {
    match e {
        Event::ContactUpdated(c) if c.handle == handle => Some(c),
        _ => None,
    }
}

#[tokio::test]
async fn roster_names_groups_and_presence() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW), ("carol", PW)])
        .await
        .unwrap();
    let mut alice = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let mut carol = XmppContact::connect_tls(&p, "carol", PW).await.unwrap();
    befriend(&mut alice, &mut bob, Some("Bob Builder"), Some("Friends"))
        .await
        .unwrap();
    befriend(&mut alice, &mut carol, None, None).await.unwrap();
    carol.unavailable().await.unwrap();
    bob.available(None, Some("here")).await.unwrap();

    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let carol_c = a
        .seen()
        .iter()
        .find_map(|e| contact(e, "carol@localhost"))
        .cloned()
        .expect("carol listed before LoggedIn");
    assert_eq!(carol_c.display_name, None);
    assert_eq!(carol_c.presence.state, PresenceState::Offline);
    let bob_c = a
        .expect("bob online", |e| {
            contact(e, "bob@localhost").is_some_and(|c| c.presence.state == PresenceState::Online)
        })
        .await
        .unwrap();
    let Event::ContactUpdated(bob_c) = bob_c else {
        unreachable!()
    };
    assert_eq!(bob_c.display_name.as_deref(), Some("Bob Builder"));
    assert_eq!(bob_c.group.as_deref(), Some("Friends"));
    assert_eq!(bob_c.presence.message.as_deref(), Some("here"));

    bob.available(Some(Show::Away), Some("lunch"))
        .await
        .unwrap();
    let e = a
        .expect("bob away", |e| {
            contact(e, "bob@localhost").is_some_and(|c| c.presence.state == PresenceState::Away)
        })
        .await
        .unwrap();
    let c = contact(&e, "bob@localhost").unwrap();
    assert_eq!(c.presence.show.as_deref(), Some("away"));
    assert_eq!(c.presence.message.as_deref(), Some("lunch"));

    bob.available(Some(Show::Dnd), None).await.unwrap();
    a.expect("bob dnd", |e| {
        contact(e, "bob@localhost").is_some_and(|c| c.presence.show.as_deref() == Some("dnd"))
    })
    .await
    .unwrap();

    bob.unavailable().await.unwrap();
    a.expect("bob offline", |e| {
        contact(e, "bob@localhost").is_some_and(|c| c.presence.state == PresenceState::Offline)
    })
    .await
    .unwrap();

    // Our own presence: away lowers the priority, the contact sees the text.
    bob.available(None, None).await.unwrap();
    a.send(Command::SetPresence {
        away: Some("gone fishing".into()),
        status: None,
        detached: false,
    })
    .await
    .unwrap();
    let pr = bob
        .expect("alice away", |s| {
            matches!(s, Stanza::Presence(p) if p.show == Some(Show::Away)
                && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == "alice@localhost"))
        })
        .await
        .unwrap();
    let Stanza::Presence(pr) = pr else {
        unreachable!()
    };
    assert_eq!(
        pr.statuses.values().next().map(String::as_str),
        Some("gone fishing")
    );
    assert_eq!(pr.priority.0, -5);
    a.stop().await.unwrap();
}

#[tokio::test]
async fn subscription_requests_yes_and_no() {
    let p = Prosody::start(&[("alice", PW), ("dave", PW), ("erin", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut dave = XmppContact::connect(&p, "dave", PW).await.unwrap();
    let mut erin = XmppContact::connect(&p, "erin", PW).await.unwrap();

    dave.presence_to("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    let Event::QuestionAsked { id, text } = a
        .expect("a request", |e| matches!(e, Event::QuestionAsked { .. }))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        text,
        "The user dave@localhost wants to add you to his/her buddy list."
    );
    a.send(Command::AnswerQuestion { id, accept: true })
        .await
        .unwrap();
    dave.expect_approval("alice@localhost").await.unwrap();
    let Event::QuestionAsked { id, text } = a
        .expect("add back?", |e| matches!(e, Event::QuestionAsked { .. }))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert!(text.contains("is not in your buddy list yet"), "{text}");
    a.send(Command::AnswerQuestion { id, accept: true })
        .await
        .unwrap();
    dave.expect_presence("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    a.expect("dave listed", |e| contact(e, "dave@localhost").is_some())
        .await
        .unwrap();

    erin.presence_to("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    let Event::QuestionAsked { id, .. } = a
        .expect(
            "erin's request",
            |e| matches!(e, Event::QuestionAsked { text, .. } if text.contains("erin@localhost")),
        )
        .await
        .unwrap()
    else {
        unreachable!()
    };
    a.send(Command::AnswerQuestion { id, accept: false })
        .await
        .unwrap();
    erin.expect_refusal("alice@localhost").await.unwrap();
}

#[tokio::test]
async fn add_and_remove_contacts() {
    let p = Prosody::start(&[("alice", PW), ("frank", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut frank = XmppContact::connect(&p, "frank", PW).await.unwrap();
    a.send(Command::AddContact {
        handle: "frank@localhost".into(),
        group: Some("Work".into()),
    })
    .await
    .unwrap();
    let e = a
        .expect("frank listed", |e| contact(e, "frank@localhost").is_some())
        .await
        .unwrap();
    assert_eq!(
        contact(&e, "frank@localhost").unwrap().group.as_deref(),
        Some("Work")
    );
    frank
        .expect_presence("alice@localhost", PresenceType::Subscribe)
        .await
        .unwrap();
    frank
        .presence_to("alice@localhost", PresenceType::Subscribed)
        .await
        .unwrap();
    a.expect(
        "accepted",
        |e| matches!(e, Event::Notice { text } if text.contains("frank@localhost accepted")),
    )
    .await
    .unwrap();
    a.send(Command::RemoveContact {
        handle: "frank@localhost".into(),
    })
    .await
    .unwrap();
    a.expect(
        "frank removed",
        |e| matches!(e, Event::ContactRemoved { handle } if handle == "frank@localhost"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn info_shows_the_vcard_and_resources() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut alice = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    befriend(&mut alice, &mut bob, None, None).await.unwrap();
    bob.set_vcard("<FN>Bob Builder</FN><NICKNAME>bobby</NICKNAME><URL>https://bob.example</URL>")
        .await
        .unwrap();
    bob.available(None, Some("building")).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    a.expect("bob online", |e| {
        contact(e, "bob@localhost").is_some_and(|c| c.presence.state == PresenceState::Online)
    })
    .await
    .unwrap();
    a.send(Command::GetInfo {
        handle: "bob@localhost".into(),
    })
    .await
    .unwrap();
    let Event::Info { handle, lines } = a
        .expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(handle, "bob@localhost");
    assert!(
        lines.contains(&"Full name: Bob Builder".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"Nickname: bobby".to_string()), "{lines:?}");
    assert!(
        lines.contains(&"Homepage: https://bob.example".to_string()),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Resource: ") && l.ends_with("online, building")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn block_and_allow() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW), ("carol", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let mut carol = XmppContact::connect(&p, "carol", PW).await.unwrap();
    a.send(Command::Block {
        handle: "bob@localhost".into(),
    })
    .await
    .unwrap();
    // The block is in force once the server pushes it; a message is the barrier.
    a.send(Command::SendMessage {
        to: "carol@localhost".into(),
        body: "barrier".into(),
        kind: waggle_core::MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
    carol.expect_body("alice@localhost").await.unwrap();
    bob.say("alice@localhost", "you can't see this")
        .await
        .unwrap();
    bob.expect_message("a bounce", |m| m.type_ == MessageType::Error)
        .await
        .unwrap();
    carol.say("alice@localhost", "after bob").await.unwrap();
    a.expect(
        "carol's message",
        |e| matches!(e, Event::MessageReceived { from, .. } if from == "carol@localhost"),
    )
    .await
    .unwrap();
    assert!(
        !a.seen()
            .iter()
            .any(|e| matches!(e, Event::MessageReceived { from, .. } if from == "bob@localhost")),
        "a blocked message arrived"
    );
    a.send(Command::Allow {
        handle: "bob@localhost".into(),
    })
    .await
    .unwrap();
    a.send(Command::SendMessage {
        to: "carol@localhost".into(),
        body: "barrier 2".into(),
        kind: waggle_core::MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
    carol.expect_body("alice@localhost").await.unwrap();
    bob.say("alice@localhost", "now you can").await.unwrap();
    a.expect("bob's message", |e| {
        matches!(e, Event::MessageReceived { from, body, .. } if from == "bob@localhost" && body == "now you can")
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_answer_from_someone_not_asked_is_ignored() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW), ("mallory", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let mut mallory = XmppContact::connect(&p, "mallory", PW).await.unwrap();
    bob.take_queries();
    let bob_full = bob.full_jid().unwrap();
    a.send(Command::GetInfo {
        handle: bob_full.clone(),
    })
    .await
    .unwrap();
    let query = bob
        .expect("the vCard query", |s| {
            matches!(s, Stanza::Iq(Iq::Get { payload, .. }) if payload.is("vCard", "vcard-temp"))
        })
        .await
        .unwrap();
    let Stanza::Iq(Iq::Get { id, from, .. }) = query else {
        unreachable!()
    };
    let alice_full = from.expect("from alice");
    let vcard = |name: &str| -> Element {
        format!("<vCard xmlns='vcard-temp'><FN>{name}</FN></vCard>")
            .parse()
            .unwrap()
    };
    // Mallory answers first, in bob's name as far as the id goes.
    let forged = Iq::Result {
        from: None,
        to: Some(alice_full.clone()),
        id: id.clone(),
        payload: Some(vcard("Mallory")),
    };
    mallory.send(forged).await.unwrap();
    mallory.set_vcard("<FN>M</FN>").await.unwrap();
    let real = Iq::Result {
        from: None,
        to: Some(alice_full),
        id,
        payload: Some(vcard("Bob Builder")),
    };
    bob.send(real).await.unwrap();
    let e = a
        .expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
    let Event::Info { lines, .. } = e else {
        unreachable!()
    };
    assert!(
        lines.contains(&"Full name: Bob Builder".to_string()),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("Mallory")), "{lines:?}");
}

#[tokio::test]
async fn presence_from_strangers_is_not_kept() {
    let p = Prosody::start(&[("alice", PW), ("mallory", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut mallory = XmppContact::connect(&p, "mallory", PW).await.unwrap();
    // Directed presence, no subscription: alice's account must not keep it.
    let directed = xmpp_parsers::presence::Presence::available()
        .with_to(xmpp_parsers::jid::Jid::new("alice@localhost/Waggle").unwrap());
    mallory.send(directed).await.unwrap();
    mallory.set_vcard("<FN>M</FN>").await.unwrap();
    // Added now (nothing approved yet), mallory must show offline.
    a.send(Command::AddContact {
        handle: "mallory@localhost".into(),
        group: None,
    })
    .await
    .unwrap();
    let e = a
        .expect("mallory on the list", |e| {
            contact(e, "mallory@localhost").is_some()
        })
        .await
        .unwrap();
    let Event::ContactUpdated(c) = e else {
        unreachable!()
    };
    assert_eq!(c.presence.state, PresenceState::Offline, "{c:?}");
}
