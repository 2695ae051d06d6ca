//! What a protocol cannot do is refused before anything is sent to it: the
//! test backend declares fewer capabilities, and each refusal is checked for
//! its answer, for leaving no trace, and for sending the backend nothing (a
//! message sent after it must be the next command the account gets).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Capabilities, Command, PresenceState};
use waggle_tests::backend::ALL_CAPABILITIES;
use waggle_tests::{
    GatewayOptions, IrcClient, TestAccountHandle, TestGateway, assert_any, assert_none,
};

async fn setup(capabilities: Capabilities) -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start(GatewayOptions {
        capabilities,
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    (gw, c, acc)
}

/// Fail unless the next command (presence aside) the account gets is the
/// message sent now: whatever was refused before it never reached the backend.
async fn nothing_sent_before_a_message(c: &mut IrcClient, acc: &TestAccountHandle) {
    c.send("PRIVMSG bob :marker").await.unwrap();
    match acc.next_non_presence_command().await.unwrap() {
        Command::SendMessage { body, .. } if body == "marker" => {}
        other => panic!("the backend got {other:?} before the message"),
    }
}

#[tokio::test]
async fn without_a_contact_list_add_remove_and_group_invites_are_refused() {
    let (_gw, mut c, acc) = setup(Capabilities {
        contact_list: false,
        ..ALL_CAPABILITIES
    })
    .await;
    let t = c
        .root_expect(
            "add test carol",
            "Command `add' not supported by this protocol",
        )
        .await
        .unwrap();
    assert_none(&t, "Adding");
    // With a nick: the nick is not taken by a contact that was never added.
    c.root_expect(
        "add test carol carl",
        "Command `add' not supported by this protocol",
    )
    .await
    .unwrap();
    let t = c.root("blist all").await.unwrap();
    assert_none(&t, "carol");
    assert_none(&t, "carl");
    c.root_expect("rename bob carl", "Nick successfully changed")
        .await
        .unwrap();
    c.root_expect("rename carl bob", "Nick successfully changed")
        .await
        .unwrap();

    c.root_expect(
        "remove bob",
        "Command `remove' not supported by this protocol",
    )
    .await
    .unwrap();
    let t = c.root("blist all").await.unwrap();
    assert_any(&t, "bob");

    // /invite to a fill_by=group channel would add the contact to the group.
    c.send("JOIN &work").await.unwrap();
    c.sync().await.unwrap();
    c.root("channel &work set fill_by group").await.unwrap();
    c.root("channel &work set group work").await.unwrap();
    c.send("INVITE bob &work").await.unwrap();
    c.expect(" 404 alice &work :Cannot send: not supported by this protocol")
        .await
        .unwrap();
    nothing_sent_before_a_message(&mut c, &acc).await;
}

#[tokio::test]
async fn without_blocking_block_and_allow_are_refused() {
    let (_gw, mut c, acc) = setup(Capabilities {
        block: false,
        ..ALL_CAPABILITIES
    })
    .await;
    for word in ["block", "allow"] {
        let t = c
            .root_expect(
                &format!("{word} bob"),
                &format!("Command `{word}' not supported by this protocol"),
            )
            .await
            .unwrap();
        assert_none(&t, "moved from");
    }
    nothing_sent_before_a_message(&mut c, &acc).await;
}

#[tokio::test]
async fn without_typing_notices_none_are_sent() {
    let gw = TestGateway::start(GatewayOptions {
        capabilities: Capabilities {
            typing: false,
            ..ALL_CAPABILITIES
        },
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", &["message-tags"])
        .await
        .unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.root_expect("set typing_notice true", "typing_notice = `true'")
        .await
        .unwrap();
    // Both ways of saying it: a client tag and BitlBee's CTCP TYPING.
    c.send("@+typing=active TAGMSG bob").await.unwrap();
    c.send("PRIVMSG bob :\x01TYPING 1\x01").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " 4");
    nothing_sent_before_a_message(&mut c, &acc).await;
}

#[tokio::test]
async fn without_rooms_chats_cannot_be_added_nor_joined() {
    let (mut gw, mut c, acc) = setup(Capabilities {
        rooms: false,
        ..ALL_CAPABILITIES
    })
    .await;
    c.root_expect(
        "chat add test room@rooms.test.example #room",
        "Named chatrooms not supported on that account.",
    )
    .await
    .unwrap();
    let t = c.root("channel list").await.unwrap();
    assert_none(&t, "#room");
    nothing_sent_before_a_message(&mut c, &acc).await;
    drop(acc);

    // A chat saved while the protocol had rooms cannot be joined once it has none.
    gw.restart_with(GatewayOptions::default()).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("account add test alice pw", "Account successfully added")
        .await
        .unwrap();
    c.root_expect(
        "chat add test room@rooms.test.example #room",
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.quit().await.unwrap();
    gw.restart_with(GatewayOptions {
        capabilities: Capabilities {
            rooms: false,
            ..ALL_CAPABILITIES
        },
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_wait("identify s3cret", "test - Logging in: Logged in")
        .await
        .unwrap();
    let acc = gw.hub().account("alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.send("JOIN #room").await.unwrap();
    c.expect(" 403 alice #room :Named chatrooms not supported on that account")
        .await
        .unwrap();
    nothing_sent_before_a_message(&mut c, &acc).await;
}

#[tokio::test]
async fn without_room_lists_chat_list_is_refused() {
    let (_gw, mut c, acc) = setup(Capabilities {
        room_list: false,
        ..ALL_CAPABILITIES
    })
    .await;
    c.root_expect(
        "chat list test",
        "Listing chatrooms not supported on that account.",
    )
    .await
    .unwrap();
    nothing_sent_before_a_message(&mut c, &acc).await;
}

#[tokio::test]
async fn without_ad_hoc_chats_chat_with_and_invites_are_refused() {
    let (_gw, mut c, acc) = setup(Capabilities {
        chat_with: false,
        ..ALL_CAPABILITIES
    })
    .await;
    c.root_expect("chat with bob", "Can't open a groupchat with bob.")
        .await
        .unwrap();
    // /invite into a chat channel bound to no room starts an ad-hoc chat.
    c.send("JOIN #adhoc").await.unwrap();
    c.sync().await.unwrap();
    c.root_expect("channel #adhoc set type chat", "type = `chat'")
        .await
        .unwrap();
    c.send("JOIN #adhoc").await.unwrap();
    c.sync().await.unwrap();
    c.send("INVITE bob #adhoc").await.unwrap();
    c.expect(" 404 alice #adhoc :Cannot send: not supported by this protocol")
        .await
        .unwrap();
    nothing_sent_before_a_message(&mut c, &acc).await;
}
