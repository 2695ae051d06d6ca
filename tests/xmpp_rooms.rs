//! XMPP group chats (XEP-0045) against a real Prosody, through the backend
//! directly: joining, occupants, messages both ways, history, topics, nick
//! conflicts, kicks, invitations, room lists, `chat with` and leaving.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Event, MessageKind, Occupant, Role, RoomId};
use waggle_tests::prosody::{BackendAccount, MUC, Prosody, XmppContact};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::presence::Type as PresenceType;

const PW: &str = "pw";

fn room(name: &str) -> String {
    format!("{name}@{MUC}")
}

async fn join(a: &mut BackendAccount, name: &str, nick: &str) -> Event {
    a.send(Command::JoinRoom {
        room: RoomId(room(name)),
        nick: nick.into(),
        password: None,
    })
    .await
    .unwrap();
    a.expect("RoomJoined", |e| matches!(e, Event::RoomJoined { .. }))
        .await
        .unwrap()
}

fn occupants(e: &Event) -> Vec<Occupant> {
    match e {
        Event::RoomJoined { occupants, .. } => occupants.clone(),
        _ => vec![],
    }
}

/// A round trip through the backend's stream (so everything sent before it
/// has been handled by the server).
async fn barrier(a: &mut BackendAccount) {
    a.send(Command::GetInfo {
        handle: "alice@localhost".into(),
    })
    .await
    .unwrap();
    a.expect("info", |e| matches!(e, Event::Info { .. }))
        .await
        .unwrap();
}

#[tokio::test]
async fn join_talk_topic_and_part() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let joined = join(&mut a, "lounge", "alice").await;
    assert_eq!(
        joined,
        Event::RoomJoined {
            room: RoomId(room("lounge")),
            topic: None,
            occupants: vec![Occupant {
                nick: "alice".into(),
                handle: Some("alice@localhost".into()),
                role: Role::Moderator,
                is_self: true
            }],
        }
    );
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("lounge"), "bob").await.unwrap();
    let e = a
        .expect("bob joins", |e| matches!(e, Event::OccupantUpdated { .. }))
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::OccupantUpdated {
            room: RoomId(room("lounge")),
            occupant: Occupant {
                nick: "bob".into(),
                handle: Some("bob@localhost".into()),
                role: Role::Participant,
                is_self: false
            }
        }
    );
    bob.room_say(&room("lounge"), "hi all ☃").await.unwrap();
    let e = a
        .expect(
            "bob speaks",
            |e| matches!(e, Event::RoomMessage { from, .. } if from == "bob"),
        )
        .await
        .unwrap();
    let Event::RoomMessage { body, sent_at, .. } = e else {
        unreachable!()
    };
    assert_eq!((body.as_str(), sent_at), ("hi all ☃", None));

    a.send(Command::SendRoomMessage {
        room: RoomId(room("lounge")),
        body: "hello bob".into(),
        kind: MessageKind::Action,
        id: None,
    })
    .await
    .unwrap();
    bob.expect_message("alice's action", |m| {
        m.get_best_body(vec![])
            .is_some_and(|(_, b)| b == "/me hello bob")
    })
    .await
    .unwrap();
    // Our own message comes back from the room as everyone's does.
    a.expect("our echo", |e| {
        matches!(e, Event::RoomMessage { from, kind: MessageKind::Action, .. } if from == "alice")
    })
    .await
    .unwrap();

    a.send(Command::SetTopic {
        room: RoomId(room("lounge")),
        topic: "Lounge talk".into(),
    })
    .await
    .unwrap();
    let e = a
        .expect("the topic", |e| matches!(e, Event::TopicChanged { .. }))
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::TopicChanged {
            room: RoomId(room("lounge")),
            by: Some("alice".into()),
            topic: "Lounge talk".into()
        }
    );

    bob.send(
        xmpp_parsers::presence::Presence::unavailable()
            .with_to(Jid::new(&format!("{}/bob", room("lounge"))).unwrap()),
    )
    .await
    .unwrap();
    a.expect(
        "bob leaves",
        |e| matches!(e, Event::OccupantLeft { nick, kicked_by: None, .. } if nick == "bob"),
    )
    .await
    .unwrap();

    a.send(Command::LeaveRoom {
        room: RoomId(room("lounge")),
    })
    .await
    .unwrap();
    let e = a
        .expect("we left", |e| matches!(e, Event::RoomLeft { .. }))
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::RoomLeft {
            room: RoomId(room("lounge")),
            reason: None
        }
    );
}

#[tokio::test]
async fn history_and_topic_on_join() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("news"), "bob").await.unwrap();
    let mut subject = Message::groupchat(Jid::new(&room("news")).unwrap());
    subject.subjects.insert(Lang::new(), "Old news".into());
    bob.send(subject).await.unwrap();
    for text in ["first", "second"] {
        bob.room_say(&room("news"), text).await.unwrap();
        bob.expect_body(&room("news")).await.unwrap();
    }
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let joined = join(&mut a, "news", "alice").await;
    let Event::RoomJoined { topic, .. } = &joined else {
        unreachable!()
    };
    assert_eq!(topic.as_deref(), Some("Old news"));
    let mut history = vec![];
    while history.len() < 2 {
        let e = a
            .expect("history", |e| matches!(e, Event::RoomMessage { .. }))
            .await
            .unwrap();
        if let Event::RoomMessage {
            body,
            sent_at,
            from,
            ..
        } = e
        {
            assert_eq!(from, "bob");
            assert!(sent_at.is_some(), "history without a time: {body}");
            history.push(body);
        }
    }
    assert_eq!(history, ["first", "second"]);
    // History comes after the join, never before it.
    let first_join = a
        .seen()
        .iter()
        .position(|e| matches!(e, Event::RoomJoined { .. }));
    let first_line = a
        .seen()
        .iter()
        .position(|e| matches!(e, Event::RoomMessage { .. }));
    assert!(first_join < first_line);
}

#[tokio::test]
async fn nick_conflict_retries_with_a_suffix() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("clash"), "alice").await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let joined = join(&mut a, "clash", "alice").await;
    let me: Vec<_> = occupants(&joined)
        .into_iter()
        .filter(|o| o.is_self)
        .collect();
    assert_eq!(me.len(), 1);
    assert_eq!(me[0].nick, "alice_");
    assert!(
        occupants(&joined)
            .iter()
            .any(|o| o.nick == "alice" && !o.is_self)
    );
}

#[tokio::test]
async fn kick_an_occupant() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    join(&mut a, "strict", "alice").await;
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("strict"), "bob").await.unwrap();
    a.expect("bob joins", |e| matches!(e, Event::OccupantUpdated { .. }))
        .await
        .unwrap();
    a.send(Command::KickFromRoom {
        room: RoomId(room("strict")),
        nick: "bob".into(),
        reason: Some("behave".into()),
    })
    .await
    .unwrap();
    let e = a
        .expect("bob kicked", |e| matches!(e, Event::OccupantLeft { .. }))
        .await
        .unwrap();
    let Event::OccupantLeft {
        nick,
        reason,
        kicked_by,
        ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(nick, "bob");
    assert_eq!(reason.as_deref(), Some("behave"));
    assert!(kicked_by.is_some());
    bob.expect_presence(&room("strict"), PresenceType::Unavailable)
        .await
        .unwrap();
    // Kicking someone who is not there is reported, not swallowed.
    a.send(Command::KickFromRoom {
        room: RoomId(room("strict")),
        nick: "nobody".into(),
        reason: None,
    })
    .await
    .unwrap();
    a.expect(
        "an error",
        |e| matches!(e, Event::Error { text } if text.contains("nobody")),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_kick_we_may_not_do_is_refused_and_reported() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    // bob's room: alice is a mere participant there.
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("bobs"), "bob").await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let joined = join(&mut a, "bobs", "alice").await;
    let me = occupants(&joined).into_iter().find(|o| o.is_self).unwrap();
    assert_eq!(me.role, Role::Participant, "{joined:?}");
    a.send(Command::KickFromRoom {
        room: RoomId(room("bobs")),
        nick: "bob".into(),
        reason: Some("mine now".into()),
    })
    .await
    .unwrap();
    let e = a
        .expect("the refusal", |e| matches!(e, Event::Error { .. }))
        .await
        .unwrap();
    let Event::Error { text } = e else {
        unreachable!()
    };
    assert!(
        text.starts_with(&format!("Could not kick bob from {}: ", room("bobs"))),
        "{text}"
    );
    // bob is still there.
    assert!(
        !a.seen()
            .iter()
            .any(|e| matches!(e, Event::OccupantLeft { nick, .. } if nick == "bob")),
        "{:?}",
        a.seen()
    );
    bob.room_say(&room("bobs"), "still here").await.unwrap();
    a.expect(
        "bob talks",
        |e| matches!(e, Event::RoomMessage { body, .. } if body == "still here"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn invitations_both_ways() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    join(&mut a, "party", "alice").await;
    a.send(Command::InviteToRoom {
        room: RoomId(room("party")),
        handle: "bob@localhost".into(),
    })
    .await
    .unwrap();
    let m = bob
        .expect_message("an invitation", |m| {
            m.from
                .as_ref()
                .is_some_and(|f| f.to_string() == room("party"))
                && m.payloads
                    .iter()
                    .any(|p| p.is("x", xmpp_parsers::ns::MUC_USER))
        })
        .await
        .unwrap();
    let x = m
        .payloads
        .iter()
        .find(|p| p.is("x", xmpp_parsers::ns::MUC_USER))
        .unwrap();
    let invite = x.get_child("invite", xmpp_parsers::ns::MUC_USER).unwrap();
    let from = invite.attr("from").unwrap_or_default();
    // Prosody names the inviter by real JID or, in rooms that hide them, by occupant JID.
    assert!(
        from.starts_with("alice@localhost") || from == format!("{}/alice", room("party")),
        "invite from {from:?}"
    );

    // Mediated, through bob's room.
    bob.join_room(&room("bobs"), "bob").await.unwrap();
    let invite: xmpp_parsers::minidom::Element = (
        "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='alice@localhost'><reason>come</reason></invite></x>"
    )
    .parse()
    .unwrap();
    bob.send(Message::normal(Jid::new(&room("bobs")).unwrap()).with_payloads(vec![invite]))
        .await
        .unwrap();
    let e = a
        .expect("invited", |e| matches!(e, Event::InvitedToRoom { .. }))
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::InvitedToRoom {
            room: RoomId(room("bobs")),
            from: "bob".into(),
            reason: Some("come".into())
        }
    );

    // Direct (XEP-0249).
    let direct: xmpp_parsers::minidom::Element = format!(
        "<x xmlns='jabber:x:conference' jid='{}' reason='direct'/>",
        room("bobs")
    )
    .parse()
    .unwrap();
    bob.send(Message::normal(Jid::new("alice@localhost").unwrap()).with_payloads(vec![direct]))
        .await
        .unwrap();
    let e = a
        .expect("invited directly", |e| {
            matches!(e, Event::InvitedToRoom { reason, .. } if reason.as_deref() == Some("direct"))
        })
        .await
        .unwrap();
    assert_eq!(
        e,
        Event::InvitedToRoom {
            room: RoomId(room("bobs")),
            from: "bob@localhost".into(),
            reason: Some("direct".into())
        }
    );
}

#[tokio::test]
async fn room_list_and_chat_with() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("public"), "bob").await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    barrier(&mut a).await;
    barrier(&mut a).await;
    a.send(Command::ListRooms { server: None }).await.unwrap();
    a.expect(
        "the list",
        |e| matches!(e, Event::RoomList { rooms } if rooms.iter().any(|r| r.id == room("public"))),
    )
    .await
    .unwrap();
    a.send(Command::ChatWith {
        handle: "bob@localhost".into(),
    })
    .await
    .unwrap();
    let joined = a
        .expect("an ad-hoc room", |e| matches!(e, Event::RoomJoined { .. }))
        .await
        .unwrap();
    let Event::RoomJoined { room: id, .. } = joined else {
        unreachable!()
    };
    assert!(id.0.ends_with(&format!("@{MUC}")), "{id}");
    let m = bob
        .expect_message("an invitation", |m| {
            m.from.as_ref().is_some_and(|f| f.to_string() == id.0)
        })
        .await
        .unwrap();
    assert_ne!(m.type_, MessageType::Error);
    // Bob can enter (the new room was unlocked).
    bob.join_room(&id.0, "bob").await.unwrap();
    a.expect(
        "bob joins",
        |e| matches!(e, Event::OccupantUpdated { occupant, .. } if occupant.nick == "bob"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn part_and_join_at_once_rejoins() {
    let p = Prosody::start(&[("alice", PW)]).await.unwrap();
    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    join(&mut a, "cycle", "alice").await;
    a.send(Command::LeaveRoom {
        room: RoomId(room("cycle")),
    })
    .await
    .unwrap();
    let again = join(&mut a, "cycle", "alice").await;
    assert!(
        occupants(&again)
            .iter()
            .any(|o| o.is_self && o.nick == "alice")
    );
    a.send(Command::SendRoomMessage {
        room: RoomId(room("cycle")),
        body: "still here".into(),
        kind: MessageKind::Normal,
        id: None,
    })
    .await
    .unwrap();
    a.expect(
        "our echo",
        |e| matches!(e, Event::RoomMessage { body, .. } if body == "still here"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn password_protected_rooms() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("vault"), "bob").await.unwrap();
    let form: xmpp_parsers::minidom::Element =
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
         <field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
         <field var='muc#roomconfig_roomsecret'><value>s3cret</value></field></x></query>"
            .parse()
            .unwrap();
    bob.iq(xmpp_parsers::iq::Iq::Set {
        from: None,
        to: Some(Jid::new(&room("vault")).unwrap()),
        id: "cfg1".into(),
        payload: form,
    })
    .await
    .unwrap();

    let mut a = BackendAccount::online(&p, "alice", PW).await.unwrap();
    a.send(Command::JoinRoom {
        room: RoomId(room("vault")),
        nick: "alice".into(),
        password: None,
    })
    .await
    .unwrap();
    let e = a
        .expect("refused", |e| matches!(e, Event::RoomLeft { .. }))
        .await
        .unwrap();
    assert!(
        matches!(&e, Event::RoomLeft { reason: Some(r), .. } if r.contains("not-authorized")),
        "{e:?}"
    );
    assert!(
        a.seen()
            .iter()
            .any(|e| matches!(e, Event::Error { text } if text.starts_with("Could not join"))),
        "{:?}",
        a.seen()
    );
    a.send(Command::JoinRoom {
        room: RoomId(room("vault")),
        nick: "alice".into(),
        password: Some("s3cret".into()),
    })
    .await
    .unwrap();
    a.expect("joined", |e| matches!(e, Event::RoomJoined { .. }))
        .await
        .unwrap();
}
