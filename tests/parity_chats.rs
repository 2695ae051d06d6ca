//! BitlBee parity of group chats (issue item 6, beside what main has): an
//! invitation makes the channel and an INVITE, `chat add !N`, chat_type,
//! translate_to_nicks, auto_rejoin, and the account's display_name as nick.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Event, Occupant, PresenceState, Role, RoomId, RoomInfo};
use waggle_tests::{IrcClient, TestAccountHandle, TestGateway, assert_any};

async fn setup() -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    acc.contact("bob@test.example", PresenceState::Online)
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.sync().await.unwrap();
    (gw, c, acc)
}

async fn next_join(acc: &TestAccountHandle) -> (RoomId, String) {
    loop {
        if let Command::JoinRoom { room, nick, .. } = acc.next_non_presence_command().await.unwrap()
        {
            return (room, nick);
        }
    }
}

fn occupant(nick: &str, handle: Option<&str>, is_self: bool) -> Occupant {
    Occupant {
        nick: nick.into(),
        handle: handle.map(str::to_string),
        role: Role::Participant,
        is_self,
    }
}

#[tokio::test]
async fn an_invitation_makes_a_temporary_channel_and_an_invite() {
    let (_gw, mut c, acc) = setup().await;
    acc.emit_handled(Event::InvitedToRoom {
        room: RoomId("party@conf.test.example".into()),
        from: "bob@test.example".into(),
        reason: Some("come along".into()),
    })
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":bob!bob@test.example PRIVMSG alice :<< \x02Waggle\x02 - Invitation to chatroom party@conf.test.example >>",
    );
    assert_any(&lines, ":bob!bob@test.example PRIVMSG alice :come along");
    assert_any(
        &lines,
        ":bob!bob@test.example PRIVMSG alice :To join the room, just /join #party",
    );
    assert_any(&lines, ":bob!bob@test.example INVITE alice :#party");
    c.send("JOIN #party").await.unwrap();
    let (room, _) = next_join(&acc).await;
    assert_eq!(room.0, "party@conf.test.example");
    let t = c.root("channel #party set chat_type").await.unwrap();
    assert_any(&t, "chat_type = `room'");
    acc.emit_handled(Event::RoomJoined {
        room,
        topic: None,
        occupants: vec![occupant("alice", None, true)],
    })
    .await
    .unwrap();
    c.expect(" JOIN #party").await.unwrap();
    // Gone once parted, as BitlBee's temporary channels.
    c.send("PART #party").await.unwrap();
    c.sync().await.unwrap();
    let t = c.root("channel list").await.unwrap();
    assert!(!t.iter().any(|l| l.contains("#party")), "{t:?}");
}

#[tokio::test]
async fn chat_list_is_numbered_for_chat_add() {
    let (_gw, mut c, acc) = setup().await;
    c.root("chat list test").await.unwrap();
    acc.emit_handled(Event::RoomList {
        rooms: vec![
            RoomInfo {
                id: "lobby@conf.test.example".into(),
                name: Some("The lobby".into()),
            },
            RoomInfo {
                id: "dev@conf.test.example".into(),
                name: None,
            },
        ],
    })
    .await
    .unwrap();
    let t = c.sync_root().await.unwrap();
    assert_eq!(
        t,
        vec![
            format!("Index  {:<23}  Topic", "Title"),
            format!("    1  {:<23}  The lobby", "lobby@conf.test.example"),
            format!("    2  {:<23}  ", "dev@conf.test.example"),
            "2 test chatrooms".to_string(),
        ]
    );
    c.root_expect(
        "chat add test !2",
        "Chatroom successfully added, join with \x02/join #dev\x02",
    )
    .await
    .unwrap();
    c.root_expect("chat add test !9", "Invalid chatroom index")
        .await
        .unwrap();
    let t = c.root("channel #dev set room").await.unwrap();
    assert_any(&t, "room = `dev@conf.test.example'");
}

#[tokio::test]
async fn translate_to_nicks_and_display_name_as_the_room_nick() {
    let (_gw, mut c, acc) = setup().await;
    c.root("account test set display_name Ally").await.unwrap();
    c.root("chat add test room@conf.test.example #room")
        .await
        .unwrap();
    c.send("JOIN #room").await.unwrap();
    let (room, nick) = next_join(&acc).await;
    assert_eq!(nick, "Ally");
    acc.emit_handled(Event::RoomJoined {
        room: room.clone(),
        topic: None,
        occupants: vec![
            occupant("Ally", None, true),
            occupant("Bobby B", Some("bob@test.example"), false),
        ],
    })
    .await
    .unwrap();
    c.sync().await.unwrap();
    c.send("PRIVMSG #room :bob: lunch?").await.unwrap();
    let cmd = acc.next_non_presence_command().await.unwrap();
    let Command::SendRoomMessage { body, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(body, "Bobby B: lunch?");
    c.root("channel #room set translate_to_nicks false")
        .await
        .unwrap();
    c.send("PRIVMSG #room :bob: as typed").await.unwrap();
    let cmd = acc.next_non_presence_command().await.unwrap();
    let Command::SendRoomMessage { body, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(body, "bob: as typed");
}

#[tokio::test]
async fn auto_rejoin_goes_back_in_after_a_kick_and_a_reconnect() {
    let (_gw, mut c, acc) = setup().await;
    c.root("chat add test room@conf.test.example #room")
        .await
        .unwrap();
    c.root("channel #room set auto_rejoin true").await.unwrap();
    c.send("JOIN #room").await.unwrap();
    let (room, _) = next_join(&acc).await;
    let joined = Event::RoomJoined {
        room: room.clone(),
        topic: None,
        occupants: vec![occupant("alice", None, true)],
    };
    acc.emit_handled(joined.clone()).await.unwrap();
    acc.emit_handled(Event::RoomLeft {
        room: room.clone(),
        reason: Some("Kicked: behave".into()),
    })
    .await
    .unwrap();
    let (again, _) = next_join(&acc).await;
    assert_eq!(again, room);
    acc.emit_handled(joined).await.unwrap();
    // The connection drops and comes back: the room is joined again.
    acc.emit_handled(Event::Disconnected {
        reconnect_in: Some(5),
    })
    .await
    .unwrap();
    acc.emit_handled(Event::LoggedIn).await.unwrap();
    let (again, _) = next_join(&acc).await;
    assert_eq!(again, room);
    c.sync().await.unwrap();
}

#[tokio::test]
async fn a_room_type_channel_does_not_start_ad_hoc_chats() {
    let (_gw, mut c, _acc) = setup().await;
    c.send("JOIN #plans").await.unwrap();
    c.sync().await.unwrap();
    c.root("channel #plans set chat_type room").await.unwrap();
    c.send("INVITE bob #plans").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 482 alice #plans ");
}
