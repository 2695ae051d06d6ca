//! Text from the IM side (message bodies, names, topics, status texts, errors)
//! containing CR, LF or NUL must reach the client as harmless text: it can never
//! end a line early and inject a line of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{
    Command, Contact, Event, MessageKind, Occupant, Presence, PresenceState, Role, RoomId,
};
use waggle_tests::{IrcClient, Msg, TestAccountHandle, TestGateway};

const EVIL: &str = "hi\r\n:root!root@localhost PRIVMSG alice :owned";
const EVIL_NUL: &str = "a\0b\r:root!root@localhost PRIVMSG alice :owned\nc";
const INJECTED: &str = ":root!root@localhost PRIVMSG alice :owned";

async fn setup(caps: &[&str]) -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", caps).await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    (gw, c, acc)
}

/// No line starts with the injected one, and none carries a CR or NUL.
fn assert_harmless(lines: &[String]) {
    for l in lines {
        assert!(!l.starts_with(INJECTED), "injected line: {l:?}");
        assert!(
            !l.contains('\r') && !l.contains('\0'),
            "raw CR/NUL in {l:?}"
        );
    }
}

#[tokio::test]
async fn message_body_cannot_inject_lines() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    for body in [EVIL, EVIL_NUL] {
        acc.emit_handled(Event::MessageReceived {
            from: "bob".into(),
            body: body.into(),
            kind: MessageKind::Normal,
            sent_at: None,
            from_self: false,
            ids: Default::default(),
        })
        .await
        .unwrap();
    }
    acc.emit_handled(Event::MessageReceived {
        from: "bob".into(),
        body: EVIL.into(),
        kind: MessageKind::Action,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    c.expect("ACTION").await.unwrap();
    c.sync().await.unwrap();
    // The text arrives, as bob's words.
    let lines = c.history();
    assert!(
        lines.iter().any(|l| l
            == ":bob!bob@test.example PRIVMSG alice ::root!root@localhost PRIVMSG alice :owned"),
        "{lines:?}"
    );
    c.root_lines("plugins").await.unwrap();
    assert_harmless(c.history());
}

#[tokio::test]
async fn display_name_and_handle_cannot_inject_lines() {
    let (_gw, mut c, acc) = setup(&["extended-join", "away-notify"]).await;
    c.root("account test set nick_source full_name")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(Contact {
        handle: "bob".into(),
        display_name: Some(EVIL_NUL.into()),
        group: Some(EVIL.into()),
        presence: Presence {
            state: PresenceState::Online,
            show: None,
            message: Some(EVIL.into()),
            device: None,
        },
    }))
    .await
    .unwrap();
    acc.emit_handled(Event::ContactUpdated(Contact {
        handle: EVIL.into(),
        display_name: None,
        group: None,
        presence: Presence {
            state: PresenceState::Away,
            show: Some(EVIL.into()),
            message: Some(EVIL.into()),
            device: None,
        },
    }))
    .await
    .unwrap();
    // bob goes away with an evil away text.
    acc.emit_handled(Event::ContactUpdated(Contact {
        handle: "bob".into(),
        display_name: None,
        group: None,
        presence: Presence {
            state: PresenceState::Away,
            show: None,
            message: Some(EVIL_NUL.into()),
            device: None,
        },
    }))
    .await
    .unwrap();
    c.expect(" AWAY ").await.unwrap();
    c.sync().await.unwrap();
    let join = c
        .history()
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("JOIN") && m.nick() != Some("alice"))
        .unwrap();
    let nick = join.nick().unwrap().to_string();
    for cmd in [
        format!("WHOIS {nick}"),
        format!("WHO {nick}"),
        "WHO &bitlbee".to_string(),
        "NAMES &bitlbee".to_string(),
    ] {
        c.send(&cmd).await.unwrap();
        c.sync().await.unwrap();
    }
    c.root_lines("blist all").await.unwrap();
    c.root_lines("group list").await.unwrap();
    assert_harmless(c.history());
}

#[tokio::test]
async fn root_lines_from_backend_text_cannot_inject() {
    let (_gw, mut c, acc) = setup(&[]).await;
    for ev in [
        Event::Notice { text: EVIL.into() },
        Event::Error {
            text: EVIL_NUL.into(),
        },
        Event::LoginProgress { text: EVIL.into() },
        Event::QuestionAsked {
            id: waggle_core::QuestionId(1),
            text: EVIL.into(),
        },
        Event::Info {
            handle: EVIL.into(),
            lines: vec![EVIL.into(), EVIL_NUL.into()],
        },
        Event::InvitedToRoom {
            room: RoomId(EVIL.into()),
            from: EVIL.into(),
            reason: Some(EVIL_NUL.into()),
        },
    ] {
        acc.emit_handled(ev).await.unwrap();
    }
    // The Error event is shown as root's error line, on purpose.
    c.allow("test - Error: ");
    c.expect("Invitation to chatroom").await.unwrap();
    c.sync().await.unwrap();
    c.root_lines("qlist").await.unwrap();
    c.root_lines("yes").await.unwrap();
    assert_harmless(c.history());
    // The question was answered with its id.
    let mut seen = Vec::new();
    let answer = loop {
        assert!(seen.len() < 10, "no answer among {seen:?}");
        match acc.next_command().await.unwrap() {
            Command::AnswerQuestion { id, accept } => break (id, accept),
            other => seen.push(other),
        }
    };
    assert_eq!(answer, (waggle_core::QuestionId(1), true), "{seen:?}");
}

#[tokio::test]
async fn room_topic_occupants_and_messages_cannot_inject() {
    let (_gw, mut c, acc) = setup(&["extended-join", "server-time"]).await;
    c.root("chat add test room@conf.test.example #room")
        .await
        .unwrap();
    c.send("JOIN #room").await.unwrap();
    c.sync().await.unwrap();
    acc.next_command().await.unwrap(); // JoinRoom
    let room = RoomId("room@conf.test.example".into());
    acc.emit_handled(Event::RoomJoined {
        room: room.clone(),
        topic: Some(EVIL_NUL.into()),
        occupants: vec![
            Occupant {
                nick: "alice".into(),
                handle: None,
                role: Role::Participant,
                is_self: true,
            },
            Occupant {
                nick: EVIL.into(),
                handle: Some(EVIL_NUL.into()),
                role: Role::Moderator,
                is_self: false,
            },
        ],
    })
    .await
    .unwrap();
    c.expect(" 366 ").await.unwrap();
    for ev in [
        Event::TopicChanged {
            room: room.clone(),
            by: Some(EVIL.into()),
            topic: EVIL.into(),
        },
        Event::RoomMessage {
            room: room.clone(),
            from: EVIL.into(),
            body: EVIL.into(),
            kind: MessageKind::Normal,
            sent_at: Some(std::time::SystemTime::UNIX_EPOCH),
            ids: Default::default(),
        },
        Event::OccupantUpdated {
            room: room.clone(),
            occupant: Occupant {
                nick: EVIL_NUL.into(),
                handle: None,
                role: Role::Visitor,
                is_self: false,
            },
        },
        Event::OccupantRenamed {
            room: room.clone(),
            old: EVIL_NUL.into(),
            new: EVIL.into(),
        },
        Event::OccupantLeft {
            room: room.clone(),
            nick: EVIL.into(),
            reason: Some(EVIL.into()),
            kicked_by: Some(EVIL_NUL.into()),
        },
        Event::RoomLeft {
            room: room.clone(),
            reason: Some(EVIL.into()),
        },
    ] {
        acc.emit_handled(ev).await.unwrap();
    }
    c.expect("PART #room").await.unwrap();
    c.sync().await.unwrap();
    c.send("TOPIC #room").await.unwrap();
    c.sync().await.unwrap();
    let lines = c.history();
    assert_harmless(lines);
    assert!(
        lines.iter().any(|l| l.contains(" TOPIC #room ")),
        "{lines:?}"
    );
}
