//! BitlBee parity of the IRC side scripts depend on, netsplits and message
//! presentation (issue items 9, 10 and 11), with BitlBee 3.6's numerics.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Event, PresenceState, RoomId};
use waggle_tests::{IrcClient, Msg, TestAccountHandle, TestGateway, assert_any, assert_none};

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

#[tokio::test]
async fn umode_b_is_the_users_and_changes_listings() {
    let (_gw, mut c, _acc) = setup().await;
    c.send("MODE alice +b").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "MODE alice :+b");
    c.send("MODE alice").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 221 alice +b");
    let t = c.root("account list").await.unwrap();
    assert_eq!(t.first().map(String::as_str), Some("Account list:"));
}

#[tokio::test]
async fn completions_lists_commands_help_and_settings_as_bitlbee() {
    let (_gw, mut c, _acc) = setup().await;
    c.send("COMPLETIONS").await.unwrap();
    let lines = c.sync().await.unwrap();
    let notices: Vec<String> = lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("NOTICE") && m.nick() == Some("root"))
        .map(|m| m.trailing().to_string())
        .collect();
    assert_eq!(notices.first().map(String::as_str), Some("COMPLETIONS OK"));
    assert_eq!(notices.last().map(String::as_str), Some("COMPLETIONS END"));
    for want in [
        "COMPLETIONS account",
        "COMPLETIONS help",
        "COMPLETIONS help set",
        "COMPLETIONS help groupchats",
        "COMPLETIONS set away",
        "COMPLETIONS set nick_format",
    ] {
        assert!(notices.iter().any(|n| n == want), "{want} in {notices:?}");
    }
}

#[tokio::test]
async fn watch_whowas_and_who_answer_as_bitlbee() {
    let (_gw, mut c, acc) = setup().await;
    c.send("WATCH +bob +nobody").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 604 alice bob bob test.example ");
    assert_any(&lines, " 605 alice nobody * * ");
    acc.contact("bob@test.example", PresenceState::Offline)
        .await
        .unwrap();
    c.expect(" 601 alice bob bob test.example ").await.unwrap();
    c.send("WATCH -bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 602 alice bob * * 0 :Stopped watching");

    c.send("WHOWAS carol").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":localhost 406 alice carol :Nick does not exist");
    assert_any(&lines, ":localhost 369 alice carol :End of WHOWAS");

    acc.contact("bob@test.example", PresenceState::Online)
        .await
        .unwrap();
    c.send("WHO &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 352 alice &bitlbee alice ");
    assert_any(&lines, " localhost alice H@ :0 ");
    assert_any(&lines, " localhost root H@ :0 ");
    assert_any(&lines, " localhost bob H+ :0 ");
    c.send("WHO").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 352 alice * bob test.example localhost bob H :0 ");
    assert_any(&lines, ":localhost 315 alice ** :End of /WHO list");
}

#[tokio::test]
async fn control_channels_are_plus_c_and_have_real_times() {
    let (_gw, mut c, _acc) = setup().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    c.send("MODE &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":localhost 324 alice &bitlbee +Ct");
    let created = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("329"))
        .map(|m| m.param(2).parse::<u64>().unwrap())
        .expect("329");
    assert!(created + 3600 > before, "329 says {created}");
    c.send("TOPIC &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    let set_at = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("333"))
        .map(|m| m.param(3).parse::<u64>().unwrap())
        .expect("333");
    assert!(set_at + 3600 > before, "333 says {set_at}");
    for list in ["e", "I", "b"] {
        c.send(&format!("MODE &bitlbee {list}")).await.unwrap();
        let lines = c.sync().await.unwrap();
        assert_none(&lines, " 482 ");
    }
}

#[tokio::test]
async fn whois_of_a_contact_has_bitlbees_312_and_a_317() {
    let (_gw, mut c, _acc) = setup().await;
    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":localhost 312 alice bob alice@test.example. :test network",
    );
    assert_any(&lines, " 317 alice bob 0 ");
    assert_any(&lines, ":seconds idle, signon time");
}

#[tokio::test]
async fn ctcp_version_to_a_contact_is_the_protocols_version_action() {
    let (_gw, mut c, acc) = setup().await;
    c.send("PRIVMSG bob :\x01VERSION\x01").await.unwrap();
    c.sync().await.unwrap();
    // The test backend lists no actions: nothing goes out, nothing leaks as text.
    assert!(acc.try_command().await.is_none());
    // An answer a backend gives is a CTCP reply from the contact.
    acc.emit_handled(Event::ActionResult {
        handle: "bob@test.example".into(),
        action: "VERSION".into(),
        args: vec!["Resource laptop name: Psi, version: 1.5".into()],
    })
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":bob!bob@test.example NOTICE alice :\x01VERSION \"Resource laptop name: Psi, version: 1.5\"\x01",
    );
}

#[tokio::test]
async fn an_account_going_off_is_a_netsplit_one_contact_a_plain_quit() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("carol@test.example", PresenceState::Online)
        .await
        .unwrap();
    acc.contact("carol@test.example", PresenceState::Offline)
        .await
        .unwrap();
    let quit = c.expect(":carol!carol@test.example QUIT").await.unwrap();
    assert_eq!(Msg::parse(&quit).trailing(), "Leaving...");
    c.send("PRIVMSG &bitlbee :account test off").await.unwrap();
    let quit = c.expect(":bob!bob@test.example QUIT").await.unwrap();
    // Two host names, one with a dot: clients fold it as a netsplit.
    assert_eq!(
        Msg::parse(&quit).trailing(),
        "waggle.localhost test.example"
    );
    c.root("set simulate_netsplit false").await.unwrap();
    c.root("account test on").await.unwrap();
    let acc = _gw.hub().account("alice@test.example").await.unwrap();
    acc.contact("bob@test.example", PresenceState::Online)
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.send("PRIVMSG &bitlbee :account test off").await.unwrap();
    let quit = c.expect(":bob!bob@test.example QUIT").await.unwrap();
    assert_eq!(Msg::parse(&quit).trailing(), "Account off-line");
}

#[tokio::test]
async fn ctcps_to_a_chat_never_reach_the_room() {
    let (_gw, mut c, acc) = setup().await;
    c.root("chat add test room@conf.test.example #room")
        .await
        .unwrap();
    c.send("JOIN #room").await.unwrap();
    let Command::JoinRoom { room, .. } = acc.next_non_presence_command().await.unwrap() else {
        panic!("no join");
    };
    acc.emit_handled(Event::RoomJoined {
        room: room.clone(),
        topic: None,
        occupants: vec![],
    })
    .await
    .unwrap();
    c.expect(":alice!").await.unwrap();
    c.send("PRIVMSG #room :\x01VERSION\x01").await.unwrap();
    c.send("PRIVMSG #room :\x01ACTION waves\x01").await.unwrap();
    c.sync().await.unwrap();
    let cmd = acc.next_non_presence_command().await.unwrap();
    let Command::SendRoomMessage { body, .. } = cmd else {
        panic!("{cmd:?}")
    };
    assert_eq!(body, "waves");
    assert_eq!(room, RoomId("room@conf.test.example".into()));
}
