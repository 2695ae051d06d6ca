//! IRC commands around root and channels: CTCP to root, NickServ aliases,
//! extra control channels filled by group, and chat channels with INVITE, KICK,
//! TOPIC, LIST and PART through the test backend.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Contact, Event, Occupant, Presence, PresenceState, Role, RoomId};
use waggle_tests::{Msg, TestGateway, assert_any, assert_none};

#[tokio::test]
async fn ctcp_version_and_ping_to_root() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("PRIVMSG root :\x01VERSION\x01").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":root!root@localhost NOTICE alice :\x01VERSION Waggle ",
    );
    c.send("PRIVMSG root :\x01PING 12345\x01").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "NOTICE alice :\x01PING 12345\x01");
    // An unknown CTCP to root is not taken for a command.
    c.send("PRIVMSG root :\x01FROBNICATE\x01").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, "Unknown command");
}

#[tokio::test]
async fn nickserv_aliases_register_and_identify() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("NICKSERV register s3cret").await.unwrap();
    assert_any(&c.sync().await.unwrap(), "Account successfully created");

    let mut d = gw.client("alice").await.unwrap();
    // A second client identifying attaches to the running user.
    d.send("NS identify s3cret").await.unwrap();
    assert_any(&d.sync().await.unwrap(), "Password accepted");
    d.quit().await.unwrap();
    c.quit().await.unwrap();

    let mut e = gw.client("alice").await.unwrap();
    e.send("PRIVMSG NickServ :identify wrong").await.unwrap();
    assert_any(&e.sync().await.unwrap(), "Incorrect password");
    e.send("NS identify s3cret").await.unwrap();
    assert_any(&e.sync().await.unwrap(), "Password accepted");
    // As BitlBee, NickServ takes any root command.
    e.send("NS frobnicate").await.unwrap();
    assert_any(&e.sync().await.unwrap(), "Unknown command: frobnicate");
}

fn contact(handle: &str, group: &str) -> Contact {
    Contact {
        handle: handle.into(),
        display_name: None,
        group: Some(group.into()),
        presence: Presence {
            state: PresenceState::Online,
            ..Presence::default()
        },
    }
}

#[tokio::test]
async fn extra_control_channel_filled_by_group() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(contact("bob", "work")))
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(contact("carol", "family")))
        .await
        .unwrap();
    c.expect(":carol!carol@test.example JOIN").await.unwrap();

    c.send("JOIN &work").await.unwrap();
    c.sync().await.unwrap();
    c.root("channel &work set fill_by group").await.unwrap();
    let texts = c.root("channel &work set group work").await.unwrap();
    assert!(
        texts.iter().any(|t| t.contains("group = `work'")),
        "{texts:?}"
    );
    c.send("NAMES &work").await.unwrap();
    let names = c.sync().await.unwrap();
    let line = names
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("353"))
        .expect("353");
    let members: Vec<&str> = line.trailing().split(' ').collect();
    assert!(members.contains(&"+bob"), "{members:?}");
    assert!(!members.iter().any(|m| m.ends_with("carol")), "{members:?}");

    // The whole channel, with its settings, is in `channel list`.
    let texts = c.root("channel list").await.unwrap();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("&work, control channel (joined)")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn chat_channel_invite_kick_topic_list_part() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(contact("bob", "work")))
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN").await.unwrap();

    let texts = c
        .root("chat add test room@chat.example #room")
        .await
        .unwrap();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Chatroom successfully added")),
        "{texts:?}"
    );
    c.send("JOIN #room").await.unwrap();
    c.sync().await.unwrap();
    let room = RoomId("room@chat.example".into());
    match acc.next_non_presence_command().await.unwrap() {
        Command::JoinRoom { room: r, nick, .. } => {
            assert_eq!(r, room);
            assert_eq!(nick, "alice");
        }
        other => panic!("expected JoinRoom, got {other:?}"),
    }
    acc.emit_handled(Event::RoomJoined {
        room: room.clone(),
        topic: Some("Plans".into()),
        occupants: vec![
            Occupant {
                nick: "alice".into(),
                handle: None,
                role: Role::Moderator,
                is_self: true,
            },
            Occupant {
                nick: "Bobby".into(),
                handle: Some("bob".into()),
                role: Role::Participant,
                is_self: false,
            },
            Occupant {
                nick: "dave".into(),
                handle: None,
                role: Role::Visitor,
                is_self: false,
            },
        ],
    })
    .await
    .unwrap();
    // The occupants' roles are their modes: moderator @, participant +,
    // visitor nothing; bob is shown under his contact nick, root is there too.
    let names = c.expect(" 353 alice ").await.unwrap();
    let names = Msg::parse(&names);
    let mut members: Vec<&str> = names.trailing().split(' ').collect();
    members.sort_unstable();
    assert_eq!(members, ["+bob", "@alice", "@root", "dave"], "{names:?}");
    c.expect(" 366 alice #room ").await.unwrap();

    c.send("TOPIC #room :New plans").await.unwrap();
    c.sync().await.unwrap();
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        Command::SetTopic {
            room: room.clone(),
            topic: "New plans".into()
        }
    );
    // Shown only when the room confirms it.
    acc.emit_handled(Event::TopicChanged {
        room: room.clone(),
        by: Some("alice".into()),
        topic: "New plans".into(),
    })
    .await
    .unwrap();
    c.expect("TOPIC #room :New plans").await.unwrap();

    c.send("INVITE bob #room").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 341 alice bob #room");
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        Command::InviteToRoom {
            room: room.clone(),
            handle: "bob".into()
        }
    );
    c.send("INVITE nobody #room").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 401 alice nobody ");

    // A kick names the occupant's room nick, not the IRC nick of the contact.
    c.send("KICK #room bob :behave").await.unwrap();
    c.sync().await.unwrap();
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        Command::KickFromRoom {
            room: room.clone(),
            nick: "Bobby".into(),
            reason: Some("behave".into())
        }
    );
    c.send("KICK #room nobody").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 441 alice nobody #room ");

    c.send("LIST").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 322 alice #room 3 :New plans");
    assert_any(&lines, " 323 alice ");

    c.send("PART #room :bye").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "PART #room :bye");
    assert_eq!(
        acc.next_non_presence_command().await.unwrap(),
        Command::LeaveRoom { room }
    );
    c.send("PART #room").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 442 alice #room ");
}
