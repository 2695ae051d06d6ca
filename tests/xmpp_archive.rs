//! Catching up through the archives (XEP-0313) and the message ids
//! (XEP-0359), against a real Prosody with `mam` (and `muc_mam`), through the
//! backend directly: what arrived while the gateway was off comes from the
//! archive with its time, a restarted server is caught up with, our own
//! messages carry the gateway's id, and a room we come back to is caught up
//! from its archive, or (without one) asked only for what we missed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use waggle_core::{AccountSpec, Command, Event, MessageIds, MessageKind, RoomId};
use waggle_tests::prosody::{BackendAccount, MUC, Prosody, TcpProxy, XmppContact, spec};
use waggle_xmpp::XmppBackend;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message};
use xmpp_parsers::stanza_id::OriginId;

const PW: &str = "pw";

fn backend() -> Arc<XmppBackend> {
    Arc::new(XmppBackend::new())
}

/// (body, sent_at, from_self, ids) of the messages the account reported.
fn received(a: &BackendAccount) -> Vec<(String, Option<SystemTime>, bool, MessageIds)> {
    a.seen()
        .iter()
        .filter_map(|e| match e {
            Event::MessageReceived {
                body,
                sent_at,
                from_self,
                ids,
                ..
            } => Some((body.clone(), *sent_at, *from_self, ids.clone())),
            _ => None,
        })
        .collect()
}

fn bodies(a: &BackendAccount) -> Vec<String> {
    received(a).into_iter().map(|r| r.0).collect()
}

fn room_bodies(a: &BackendAccount) -> Vec<String> {
    a.seen()
        .iter()
        .filter_map(|e| match e {
            Event::RoomMessage { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

async fn expect_body(a: &mut BackendAccount, body: &str) -> Event {
    let want = body.to_string();
    a.expect(
        &format!("the message {body:?}"),
        move |e| matches!(e, Event::MessageReceived { body, .. } if *body == want),
    )
    .await
    .unwrap()
}

async fn expect_room_body(a: &mut BackendAccount, body: &str) -> Event {
    let want = body.to_string();
    a.expect(
        &format!("the room message {body:?}"),
        move |e| matches!(e, Event::RoomMessage { body, .. } if *body == want),
    )
    .await
    .unwrap()
}

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

fn archive_id(e: &Event) -> Option<String> {
    match e {
        Event::MessageReceived { ids, .. } | Event::RoomMessage { ids, .. } => ids.archive.clone(),
        _ => None,
    }
}

fn with_cursor(mut s: AccountSpec, archive: &str, id: &str) -> AccountSpec {
    s.archive_cursors
        .insert(archive.to_string(), id.to_string());
    s
}

#[tokio::test]
async fn what_arrived_while_the_gateway_was_off_comes_from_the_archive_with_its_time() {
    // No offline storage: only the archive can bring it.
    let p = Prosody::options()
        .smacks()
        .mam()
        .no_offline()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "before").await.unwrap();
    let e = expect_body(&mut a, "before").await;
    let cursor = archive_id(&e).expect("an archive id on a live message");
    a.stop().await.unwrap();

    let sent = SystemTime::now();
    bob.say("alice@localhost", "while you were off")
        .await
        .unwrap();
    // A round trip on bob's stream: his message is archived before the next.
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    // Our own other client talks meanwhile too, with an id of its own.
    let mut phone = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let m = Message::chat(Jid::new("bob@localhost").unwrap())
        .with_body(Lang::new(), "from my phone".into())
        .with_payload(OriginId {
            id: "phone-1".into(),
        });
    phone.send(m).await.unwrap();
    bob.expect_body("alice@localhost").await.unwrap();
    drop(phone);
    let back = SystemTime::now();

    let s = with_cursor(spec(&p, "alice", PW, &[]), "", &cursor);
    let mut a = BackendAccount::run(backend(), s);
    expect_body(&mut a, "from my phone").await;
    bob.say("alice@localhost", "live again").await.unwrap();
    expect_body(&mut a, "live again").await;
    barrier(&mut a).await;
    assert_eq!(
        bodies(&a),
        ["while you were off", "from my phone", "live again"],
        "{:?}",
        a.seen()
    );
    let got = received(&a);
    let (_, at, from_self, ids) = &got[0];
    let at = at.expect("the original time");
    // Stamps have a grain of one second.
    assert!(
        at + Duration::from_secs(1) >= sent && at <= back,
        "{at:?} is not when it was sent ({sent:?})"
    );
    assert!(!from_self && ids.archive.is_some());
    let (_, _, from_self, ids) = &got[1];
    assert!(from_self, "our own message from the other client");
    assert_eq!(ids.origin.as_deref(), Some("phone-1"));
}

#[tokio::test]
async fn a_restarted_server_is_caught_up_with() {
    let mut p = Prosody::options()
        .smacks()
        .mam()
        .no_offline()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let port = proxy.port().to_string();
    let s = spec(&p, "alice", PW, &[("port", &port)]);
    let mut a = BackendAccount::supervised(backend(), s, 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "before the restart")
        .await
        .unwrap();
    expect_body(&mut a, "before the restart").await;
    // The account stays away until bob has talked to the restarted server.
    proxy.refuse(true);
    p.stop();
    p.resume().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "after the restart")
        .await
        .unwrap();
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    a.expect("a failed reconnection", |e| {
        matches!(
            e,
            Event::Disconnected {
                reconnect_in: Some(_)
            }
        )
    })
    .await
    .unwrap();
    proxy.refuse(false);
    a.expect("LoggedIn again", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    expect_body(&mut a, "after the restart").await;
    bob.say("alice@localhost", "and live").await.unwrap();
    expect_body(&mut a, "and live").await;
    barrier(&mut a).await;
    assert_eq!(
        bodies(&a),
        ["before the restart", "after the restart", "and live"],
        "{:?}",
        a.seen()
    );
}

#[tokio::test]
async fn our_messages_carry_the_gateways_id() {
    let p = Prosody::options()
        .mam()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    a.send(Command::SendMessage {
        to: "bob@localhost".into(),
        body: "with an id".into(),
        kind: MessageKind::Normal,
        id: Some("gw-42".into()),
    })
    .await
    .unwrap();
    let m = bob
        .expect_message("alice's message", |m| !m.bodies.is_empty())
        .await
        .unwrap();
    assert_eq!(m.id.as_ref().map(|i| i.0.as_str()), Some("gw-42"));
    let origin = m
        .payloads
        .iter()
        .find(|p| p.is("origin-id", xmpp_parsers::ns::SID))
        .and_then(|p| p.attr("id"));
    assert_eq!(origin, Some("gw-42"));
    // In a room, the room's copy of our message comes back with it.
    let room = format!("ids@{MUC}");
    a.send(Command::JoinRoom {
        room: RoomId(room.clone()),
        nick: "alice".into(),
        password: None,
    })
    .await
    .unwrap();
    a.expect("joined", |e| matches!(e, Event::RoomJoined { .. }))
        .await
        .unwrap();
    a.send(Command::SendRoomMessage {
        room: RoomId(room.clone()),
        body: "hello room".into(),
        kind: MessageKind::Normal,
        id: Some("gw-43".into()),
    })
    .await
    .unwrap();
    let e = expect_room_body(&mut a, "hello room").await;
    let Event::RoomMessage { from, ids, .. } = e else {
        unreachable!()
    };
    assert_eq!(from, "alice");
    assert_eq!(ids.origin.as_deref(), Some("gw-43"));
}

/// alice in a room with bob; she leaves, bob says `missed` things, she comes back.
async fn leave_and_come_back(
    p: &Prosody,
    room: &str,
    missed: &[String],
) -> (BackendAccount, XmppContact) {
    let mut a = BackendAccount::online(p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(p, "bob", PW).await.unwrap();
    bob.join_room(room, "bob").await.unwrap();
    let join = Command::JoinRoom {
        room: RoomId(room.to_string()),
        nick: "alice".into(),
        password: None,
    };
    a.send(join.clone()).await.unwrap();
    a.expect("joined", |e| matches!(e, Event::RoomJoined { .. }))
        .await
        .unwrap();
    bob.room_say(room, "one").await.unwrap();
    expect_room_body(&mut a, "one").await;
    a.send(Command::LeaveRoom {
        room: RoomId(room.to_string()),
    })
    .await
    .unwrap();
    a.expect("left", |e| matches!(e, Event::RoomLeft { .. }))
        .await
        .unwrap();
    for line in missed {
        bob.room_say(room, line).await.unwrap();
    }
    // A round trip on bob's stream: all are in the room by now.
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    a.send(join).await.unwrap();
    let joins = |a: &BackendAccount| {
        a.seen()
            .iter()
            .filter(|e| matches!(e, Event::RoomJoined { .. }))
            .count()
    };
    while joins(&a) < 2 {
        a.expect("joined again", |e| matches!(e, Event::RoomJoined { .. }))
            .await
            .unwrap();
    }
    if let Some(last) = missed.last() {
        expect_room_body(&mut a, last).await;
    }
    bob.room_say(room, "live").await.unwrap();
    expect_room_body(&mut a, "live").await;
    barrier(&mut a).await;
    (a, bob)
}

fn lines(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("missed {i}")).collect()
}

#[tokio::test]
async fn a_room_is_caught_up_from_its_archive_when_we_come_back() {
    let p = Prosody::options()
        .muc_mam()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let room = format!("archived@{MUC}");
    // More than a join's history and more than one page of the archive.
    let missed = lines(60);
    let (a, _bob) = leave_and_come_back(&p, &room, &missed).await;
    let mut want = vec!["one".to_string()];
    want.extend(missed);
    want.push("live".into());
    assert_eq!(room_bodies(&a), want);
    let from_archive: Vec<Option<String>> = a
        .seen()
        .iter()
        .filter(|e| matches!(e, Event::RoomMessage { .. }))
        .map(archive_id)
        .collect();
    assert!(
        from_archive.iter().all(Option::is_some),
        "room messages without their archive id: {from_archive:?}"
    );
}

#[tokio::test]
async fn a_room_without_an_archive_is_asked_only_for_what_we_missed() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let room = format!("plain@{MUC}");
    let missed = lines(2);
    let (a, _bob) = leave_and_come_back(&p, &room, &missed).await;
    assert_eq!(room_bodies(&a), ["one", "missed 1", "missed 2", "live"]);
}

#[tokio::test]
async fn the_end_of_the_archive_is_noted_at_the_first_login() {
    // Nothing logged yet, so no cursor: the first login fetches nothing old
    // but notes where the archive ends, and a reconnect catches up from there.
    let mut p = Prosody::options()
        .mam()
        .no_offline()
        .start(&[("alice", PW), ("bob", PW)])
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "old news").await.unwrap();
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let port = proxy.port().to_string();
    let mut a = BackendAccount::supervised(backend(), spec(&p, "alice", PW, &[("port", &port)]), 1);
    a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
        .await
        .unwrap();
    // The archive is asked about after the login's own queries: two round
    // trips and it has answered.
    barrier(&mut a).await;
    barrier(&mut a).await;
    proxy.refuse(true);
    p.stop();
    p.resume().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.say("alice@localhost", "news").await.unwrap();
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    proxy.refuse(false);
    expect_body(&mut a, "news").await;
    barrier(&mut a).await;
    assert_eq!(bodies(&a), ["news"], "{:?}", a.seen());
}
