//! XMPP one-to-one messages against a real Prosody, through the backend
//! directly: both ways with UTF-8, several lines, actions and 4 KB; chat states,
//! receipts, carbons, offline (delayed) delivery and bounces.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Event, MessageKind, TypingState};
use waggle_tests::prosody::{BackendAccount, Prosody, XmppContact};
use xmpp_parsers::chatstates::ChatState;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Id, Lang, Message};
use xmpp_parsers::receipts;

const PW: &str = "pw";

fn received(e: &Event) -> Option<(&str, &str, MessageKind, bool)> {
    match e {
        Event::MessageReceived {
            from,
            body,
            kind,
            from_self,
            ..
        } => Some((from.as_str(), body.as_str(), *kind, *from_self)),
        _ => None,
    }
}

fn long_text() -> String {
    let mut s = String::new();
    while s.len() < 4096 {
        s.push_str("0123456789 αβγ ☃ ");
    }
    s
}

#[tokio::test]
async fn messages_both_ways() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let long = long_text();
    let texts = [
        (
            "héllo wörld ☃ 日本",
            "héllo wörld ☃ 日本",
            MessageKind::Normal,
        ),
        (
            "line one\nline two\nline three",
            "line one\nline two\nline three",
            MessageKind::Normal,
        ),
        ("/me waves", "waves", MessageKind::Action),
        (long.as_str(), long.as_str(), MessageKind::Normal),
    ];
    for (sent, shown, kind) in texts {
        bob.say("alice@localhost", sent).await.unwrap();
        let e = a
            .expect("a message", |e| received(e).is_some())
            .await
            .unwrap();
        assert_eq!(received(&e), Some(("bob@localhost", shown, kind, false)));
    }
    for (wire, body, kind) in texts {
        a.send(Command::SendMessage {
            to: "bob@localhost".into(),
            body: body.to_string(),
            kind,
            id: None,
        })
        .await
        .unwrap();
        assert_eq!(bob.expect_body("alice@localhost").await.unwrap(), wire);
    }
}

#[tokio::test]
async fn typing_notices_both_ways() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let to = Jid::new("alice@localhost").unwrap();
    for (state, want) in [
        (ChatState::Composing, TypingState::Active),
        (ChatState::Paused, TypingState::Paused),
        (ChatState::Active, TypingState::Done),
    ] {
        bob.send(Message::chat(to.clone()).with_payload(state))
            .await
            .unwrap();
        let e = a
            .expect("typing", |e| matches!(e, Event::TypingChanged { .. }))
            .await
            .unwrap();
        assert_eq!(
            e,
            Event::TypingChanged {
                from: "bob@localhost".into(),
                state: want
            }
        );
    }
    a.send(Command::SendTyping {
        to: "bob@localhost".into(),
        state: TypingState::Active,
    })
    .await
    .unwrap();
    bob.expect_message("composing", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("composing", xmpp_parsers::ns::CHATSTATES))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn receipts_are_answered() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let mut m = Message::chat(Jid::new("alice@localhost").unwrap())
        .with_body(Lang::new(), "did you get this?".into())
        .with_payload(receipts::Request);
    m.id = Some(Id("msg-42".into()));
    bob.send(m).await.unwrap();
    a.expect("the message", |e| received(e).is_some())
        .await
        .unwrap();
    bob.expect_message("a receipt", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS) && p.attr("id") == Some("msg-42"))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn carbons_of_our_other_client() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    // A round trip through the backend's stream: carbons are enabled by now.
    a.send(Command::GetInfo {
        handle: "alice@localhost".into(),
    })
    .await
    .unwrap();
    a.expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
    let mut phone = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    phone
        .say("bob@localhost", "sent from my phone")
        .await
        .unwrap();
    bob.expect_body("alice@localhost").await.unwrap();
    let e = a
        .expect("a sent carbon", |e| received(e).is_some())
        .await
        .unwrap();
    assert_eq!(
        received(&e),
        Some((
            "bob@localhost",
            "sent from my phone",
            MessageKind::Normal,
            true
        ))
    );
    let phone_jid = phone.full_jid().unwrap();
    bob.say(&phone_jid, "to your phone").await.unwrap();
    let e = a
        .expect("a received carbon", |e| {
            received(e).is_some_and(|r| r.1 == "to your phone")
        })
        .await
        .unwrap();
    assert_eq!(
        received(&e),
        Some(("bob@localhost", "to your phone", MessageKind::Normal, false))
    );
}

#[tokio::test]
async fn offline_messages_arrive_with_their_time() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "while you were out")
        .await
        .unwrap();
    // A round trip through bob's stream: the message is stored by now.
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let e = a
        .expect("the stored message", |e| received(e).is_some())
        .await
        .unwrap();
    let Event::MessageReceived { body, sent_at, .. } = e else {
        unreachable!()
    };
    assert_eq!(body, "while you were out");
    let age = sent_at
        .expect("a delay stamp")
        .elapsed()
        .expect("a stamp in the past");
    assert!(age.as_secs() < 60, "{age:?}");
}

#[tokio::test]
async fn a_delay_stamp_past_year_9999_becomes_now() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let before = std::time::SystemTime::now();
    let delay: xmpp_parsers::minidom::Element =
        "<delay xmlns='urn:xmpp:delay' stamp='9999-12-31T23:59:59-23:59'/>"
            .parse()
            .unwrap();
    let mut m = Message::chat(Jid::new("alice@localhost").unwrap())
        .with_body(Lang::new(), "from the far future".into());
    m.payloads.push(delay);
    bob.send(m).await.unwrap();
    let e = a
        .expect("the stamped message", |e| received(e).is_some())
        .await
        .unwrap();
    let Event::MessageReceived { body, sent_at, .. } = e else {
        unreachable!()
    };
    assert_eq!(body, "from the far future");
    let sent_at = sent_at.expect("a time");
    assert!(
        sent_at >= before,
        "{sent_at:?} is before the message was sent"
    );
    assert!(
        sent_at <= std::time::SystemTime::now(),
        "{sent_at:?} is in the future"
    );
    bob.say("alice@localhost", "and the next one")
        .await
        .unwrap();
    let e = a
        .expect("the next message", |e| received(e).is_some())
        .await
        .unwrap();
    assert_eq!(
        received(&e),
        Some((
            "bob@localhost",
            "and the next one",
            MessageKind::Normal,
            false
        ))
    );
    assert!(a.is_running());
}

#[tokio::test]
async fn bounced_messages_are_reported() {
    let p = Prosody::start(&[("alice", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    a.send(Command::SendMessage {
        to: "nobody@localhost".into(),
        body: "hello?".into(),
        kind: MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
    let e = a
        .expect("an error", |e| matches!(e, Event::Error { .. }))
        .await
        .unwrap();
    let Event::Error { text } = e else {
        unreachable!()
    };
    assert!(
        text.starts_with("Could not deliver message to nobody@localhost: service-unavailable"),
        "{text}"
    );
}

#[tokio::test]
async fn a_receipt_waits_until_the_core_has_handled_the_message() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    a.hold_acks();
    let mut m = Message::chat(Jid::new("alice@localhost").unwrap())
        .with_body(Lang::new(), "log this first".into())
        .with_payload(receipts::Request);
    m.id = Some(Id("msg-7".into()));
    bob.send(m).await.unwrap();
    a.expect("the message", |e| received(e).is_some())
        .await
        .unwrap();
    // Anything alice sends now comes after a receipt sent too early.
    a.send(Command::SendMessage {
        to: "bob@localhost".into(),
        body: "meanwhile".into(),
        kind: MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "meanwhile"
    );
    let is_receipt = |s: &xmpp_parsers::stanza::Stanza| {
        matches!(s, xmpp_parsers::stanza::Stanza::Message(m) if m.payloads.iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS)))
    };
    assert!(
        !bob.unread().iter().any(is_receipt),
        "a receipt before the message was handled"
    );
    a.release_acks();
    bob.expect_message("the receipt", |m| {
        m.payloads
            .iter()
            .any(|p| p.is("received", xmpp_parsers::ns::RECEIPTS) && p.attr("id") == Some("msg-7"))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_stanza_too_large_ends_the_connection_not_the_account() {
    let p = Prosody::options()
        .stanza_size_limit(4 * 1024 * 1024)
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::supervised(
        std::sync::Arc::new(waggle_xmpp::XmppBackend::new()),
        waggle_tests::prosody::spec(&p, "alice", PW, &[]),
        1,
    );
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let huge = "x".repeat(waggle_xmpp::limit::MAX_STANZA + 1000);
    bob.say("alice@localhost", &huge).await.unwrap();
    let e = a
        .expect("the refusal", |e| matches!(e, Event::Error { .. }))
        .await
        .unwrap();
    let Event::Error { text } = e else {
        unreachable!()
    };
    assert!(text.contains("larger than"), "{text}");
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    bob.say("alice@localhost", "a normal one").await.unwrap();
    let e = a
        .expect("the next message", |e| received(e).is_some())
        .await
        .unwrap();
    assert_eq!(
        received(&e),
        Some(("bob@localhost", "a normal one", MessageKind::Normal, false))
    );
}
