//! BitlBee users feel at home: behaviours that BitlBee has and Waggle once
//! lacked or got wrong, pinned with BitlBee's own wording where it matters.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::{TestGateway, assert_any};

#[tokio::test]
async fn joining_a_chat_of_an_offline_account_waits_without_setting_auto_join() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect(
        "account add test alice@test.example pw",
        "Account successfully added",
    )
    .await
    .unwrap();
    c.root_expect(
        "chat add test room@rooms.test.example #room",
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.send("JOIN #room").await.unwrap();
    c.expect(" 437 alice #room ").await.unwrap();
    c.root_expect("channel #room set auto_join", "auto_join = `false'")
        .await
        .unwrap();
    // It is joined once the account is online (this time: nothing was saved).
    c.send("PRIVMSG &bitlbee :account test on").await.unwrap();
    let acc = gw.hub().account("alice@test.example").await.unwrap();
    loop {
        match acc.next_command().await.unwrap() {
            waggle_core::Command::JoinRoom { room, .. } => {
                assert_eq!(room.0, "room@rooms.test.example");
                break;
            }
            _ => continue,
        }
    }
    let lines = c.root("channel #room set auto_join").await.unwrap();
    assert_any(&lines, "auto_join = `false'");
}
