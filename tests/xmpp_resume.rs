//! XEP-0198 stream management against a real Prosody (`smacks`, `mam`,
//! `offline`), through the backend directly, the account's connection going
//! through a loopback proxy the test cuts: a cut connection is resumed with
//! nothing lost or doubled, acknowledgements wait until the core has handled
//! what they acknowledge, what the server never got is sent again when the
//! session could not be resumed, and signing off ends the session for good.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use waggle_core::{Command, Event, MessageKind};
use waggle_tests::prosody::{BackendAccount, Prosody, TcpProxy, XmppContact, befriend, spec};
use waggle_xmpp::XmppBackend;
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::stanza::Stanza;

const PW: &str = "pw";

async fn server() -> Prosody {
    Prosody::options()
        .smacks()
        .mam()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap()
}

fn backend() -> Arc<XmppBackend> {
    Arc::new(XmppBackend::new())
}

/// The bodies of the messages the account reported, in order.
fn bodies(a: &BackendAccount) -> Vec<String> {
    a.seen()
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

async fn say(a: &BackendAccount, to: &str, body: &str) {
    a.send(Command::SendMessage {
        to: to.into(),
        body: body.into(),
        kind: MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
}

/// A round trip through the account's session: everything before it was
/// processed once its answer is back.
async fn barrier(a: &mut BackendAccount) {
    a.send(Command::GetInfo {
        handle: "alice@localhost".into(),
    })
    .await
    .unwrap();
    a.expect("info (a round trip)", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
}

async fn expect_body(a: &mut BackendAccount, body: &str) {
    let want = body.to_string();
    a.expect(
        &format!("the message {body:?}"),
        move |e| matches!(e, Event::MessageReceived { body, .. } if *body == want),
    )
    .await
    .unwrap();
}

/// The `h` values of the acknowledgements the client sent, in order.
fn acks(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("<a ") {
        rest = rest.get(i + 3..).unwrap_or_default();
        let tag = rest.split('>').next().unwrap_or_default();
        if let Some(j) = tag.find("h=") {
            let value: String = tag
                .get(j + 3..)
                .unwrap_or_default()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(h) = value.parse() {
                out.push(h);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_cut_connection_is_resumed_with_nothing_lost_or_doubled() {
    cut_and_resume(server().await).await;
}

/// Without an archive, no stanza-id tells a message seen twice: only the
/// stream management count does.
#[tokio::test]
async fn a_cut_connection_without_an_archive_is_resumed_without_doubles() {
    let p = Prosody::options()
        .smacks()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    cut_and_resume(p).await;
}

async fn cut_and_resume(p: Prosody) {
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let port = proxy.port().to_string();
    let mut a = BackendAccount::run(backend(), spec(&p, "alice", PW, &[("port", &port)]));
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "one").await.unwrap();
    expect_body(&mut a, "one").await;
    say(&a, "bob@localhost", "to bob one").await;
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "to bob one"
    );
    // "two" reaches the account but the core has not logged it yet: it is not
    // acknowledged, so the server sends it again after the resumption.
    a.hold_acks();
    bob.say("alice@localhost", "two").await.unwrap();
    expect_body(&mut a, "two").await;
    proxy.cut();
    bob.say("alice@localhost", "three").await.unwrap();
    say(&a, "bob@localhost", "to bob two").await;
    // Still not logged when the session is resumed: "two" comes again first.
    expect_body(&mut a, "three").await;
    a.release_acks();
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "to bob two"
    );
    bob.say("alice@localhost", "four").await.unwrap();
    expect_body(&mut a, "four").await;
    say(&a, "bob@localhost", "to bob three").await;
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "to bob three"
    );
    barrier(&mut a).await;
    assert_eq!(bodies(&a), ["one", "two", "three", "four"]);
    assert!(
        !bob.unread_bodies().iter().any(|b| b.starts_with("to bob")),
        "doubled: {:?}",
        bob.unread_bodies()
    );
    assert_eq!(proxy.connections(), 2, "not a new connection");
    let logins = a
        .seen()
        .iter()
        .filter(|e| matches!(e, Event::LoggedIn))
        .count();
    assert_eq!(logins, 1, "logged in again instead of resuming");
    assert!(
        !a.seen()
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. } | Event::Error { .. })),
        "{:?}",
        a.seen()
    );
    assert!(a.is_running());
}

#[tokio::test]
async fn acknowledgements_wait_until_the_core_has_handled_the_event() {
    let p = server().await;
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let port = proxy.port().to_string();
    // Unencrypted, so the proxy can read the acknowledgements.
    let s = spec(&p, "alice", PW, &[("port", &port), ("tls", "false")]);
    let mut a = BackendAccount::run(backend(), s);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "warm up").await.unwrap();
    expect_body(&mut a, "warm up").await;
    barrier(&mut a).await;
    // The last of these may still be followed by one for the barrier's answer.
    let before = acks(&proxy.client_text());
    let h0 = before.iter().copied().max().expect("acknowledgements");
    a.hold_acks();
    bob.say("alice@localhost", "not logged yet").await.unwrap();
    expect_body(&mut a, "not logged yet").await;
    barrier(&mut a).await;
    // The server asks after the message and after the barrier's answer; both
    // requests are answered, with what the core has handled.
    let held = wait_for_acks(&proxy, |now| now.len() >= before.len() + 2).await;
    let held_max = held.iter().copied().max().unwrap_or_default();
    assert!(
        held_max <= h0 + 1,
        "acknowledged before the core handled it: {held:?} (before: {before:?})"
    );
    a.release_acks();
    // The acknowledgement follows on its own once the core is done.
    wait_for_acks(&proxy, |now| now.iter().any(|h| *h >= held_max + 2)).await;
}

/// Wait (bounded) until the client's acknowledgements satisfy `f`.
async fn wait_for_acks(proxy: &TcpProxy, f: impl Fn(&[u64]) -> bool) -> Vec<u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = acks(&proxy.client_text());
        if f(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the acknowledgements did not come: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn what_the_server_never_got_is_sent_again_after_a_failed_resumption() {
    let p = server().await;
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let port = proxy.port().to_string();
    let s = spec(&p, "alice", PW, &[("port", &port), ("tls", "false")]);
    let mut a = BackendAccount::supervised(backend(), s, 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    barrier(&mut a).await;
    // The link dies without anyone noticing: what alice sends goes nowhere.
    proxy.swallow(true);
    say(&a, "bob@localhost", "lost in transit").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !proxy.client_text().contains("lost in transit") {
        assert!(tokio::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Then it drops, and the server can't be reached to resume.
    proxy.refuse(true);
    proxy.cut();
    let e = a
        .expect(
            "the failed resumption",
            |e| matches!(e, Event::Error { text } if text.contains("could not be resumed")),
        )
        .await
        .unwrap();
    drop(e);
    proxy.swallow(false);
    proxy.refuse(false);
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "lost in transit"
    );
    say(&a, "bob@localhost", "and then").await;
    assert_eq!(
        bob.expect_body("alice@localhost").await.unwrap(),
        "and then"
    );
    assert!(
        !bob.unread_bodies().contains(&"lost in transit".to_string()),
        "doubled: {:?}",
        bob.unread_bodies()
    );
}

#[tokio::test]
async fn signing_off_ends_the_session_for_good() {
    let p = server().await;
    let mut other = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    befriend(&mut bob, &mut other, None, None).await.unwrap();
    drop(other);
    let ours = |type_: PresenceType| {
        move |s: &Stanza| {
            matches!(s, Stanza::Presence(p) if p.type_ == type_
                && p.from.as_ref().is_some_and(|f| f.to_string() == "alice@localhost/Waggle"))
        }
    };
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    barrier(&mut a).await;
    bob.expect("alice online", ours(PresenceType::None))
        .await
        .unwrap();
    a.stop().await.unwrap();
    // A session left hibernating would keep alice available for ten minutes.
    bob.expect("alice gone", ours(PresenceType::Unavailable))
        .await
        .unwrap();
}
