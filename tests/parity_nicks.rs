//! BitlBee parity of contacts' nicks (issue item 7): BitlBee's nick_format
//! expansion, transliteration, dropped characters and de-duplication.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Contact, Event, PresenceState};
use waggle_tests::{TestGateway, assert_any, contact};

#[tokio::test]
async fn nicks_are_made_as_bitlbee_makes_them() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    for h in [
        "j\u{f6}rg.m\u{fc}ller@test.example",
        "bob@one.example",
        "bob@two.example",
        "7of9@test.example",
    ] {
        acc.contact(h, PresenceState::Online).await.unwrap();
    }
    let lines = c.sync().await.unwrap();
    // Transliterated and without the dot (BitlBee drops what a nick can't hold).
    assert_any(&lines, ":jorgmuller!");
    assert_any(&lines, ":bob!bob@one.example JOIN");
    assert_any(&lines, ":bob_!bob@two.example JOIN");
    assert_any(&lines, ":_7of9!");
    // %full_name and a number: only that many characters.
    c.root("account test set nick_format [%3full_name]%-@nick")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(Contact {
        display_name: Some("Zo\u{eb} Salda\u{f1}a".into()),
        ..contact("zoe@test.example", PresenceState::Online)
    }))
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":[Zoe]zoe!zoe@test.example JOIN");
    // An unknown variable falls back to the handle, as BitlBee's nick_get.
    c.root("account test set nick_format %nope").await.unwrap();
    acc.contact("carol@test.example", PresenceState::Online)
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":carol!carol@test.example JOIN");
}
