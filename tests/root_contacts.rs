//! Root's contact commands (`add`, `add -tmp`, `remove`, `info`, `rename`,
//! `block`, `allow`, `blist`, `group`) and questions (`yes`, `no`, `qlist`),
//! each with a bad input too.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, Contact, Event, Presence, PresenceState, QuestionId};
use waggle_tests::{IrcClient, TestAccountHandle, TestGateway, assert_any, assert_none, strip_id};

async fn setup() -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    (gw, c, acc)
}

fn grouped(handle: &str, group: &str, state: PresenceState) -> Contact {
    Contact {
        handle: handle.into(),
        display_name: None,
        group: Some(group.into()),
        presence: Presence {
            state,
            ..Presence::default()
        },
    }
}

#[tokio::test]
async fn add_and_add_tmp() {
    let (_gw, mut c, acc) = setup().await;
    c.root_expect("add test carol", "Adding `carol' to contact list")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::AddContact {
            handle: "carol".into(),
            group: None
        }
    );
    // With a nick of our choice: the contact shows under it once it comes online.
    c.root_expect("add test dave davy", "Adding `dave' to contact list")
        .await
        .unwrap();
    acc.next_command().await.unwrap();
    acc.contact("dave", PresenceState::Online).await.unwrap();
    c.expect(":davy!dave@test.example JOIN &bitlbee")
        .await
        .unwrap();

    // -tmp shows a contact without touching the server's list.
    c.root_expect(
        "add -tmp test eve",
        "Temporarily assigned nickname `eve' to contact `eve'",
    )
    .await
    .unwrap();
    let t = c.root("blist all").await.unwrap();
    assert_any(&t, "eve");
    assert!(acc.try_command().await.is_none());

    // Bad input.
    c.root_expect(
        "add test frank 1nvalid",
        "The requested nick `1nvalid' is invalid",
    )
    .await
    .unwrap();
    c.root_expect(
        "add test frank davy",
        "The requested nick `davy' already exists",
    )
    .await
    .unwrap();
    c.root_expect("add nosuch frank", "Invalid account")
        .await
        .unwrap();
    c.root_expect("add test", "Not enough parameters")
        .await
        .unwrap();
    c.root_wait("account test off", "Signing off..")
        .await
        .unwrap();
    c.root_expect("add test frank", "That account is not on-line")
        .await
        .unwrap();
}

#[tokio::test]
async fn remove_a_contact() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    let lines = c.root_lines("remove bob").await.unwrap();
    assert_any(
        &c.root_texts(&lines),
        "Buddy `bob' (nick bob) removed from contact list",
    );
    assert_any(&lines, ":bob!bob@test.example PART &bitlbee");
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::RemoveContact {
            handle: "bob".into()
        }
    );
    c.root_expect("remove bob", "Buddy `bob' not found")
        .await
        .unwrap();
    c.root_expect("remove", "Not enough parameters")
        .await
        .unwrap();
}

#[tokio::test]
async fn info_about_a_contact() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.root("info bob").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::GetInfo {
            handle: "bob".into()
        }
    );
    acc.emit_handled(Event::Info {
        handle: "bob".into(),
        lines: vec!["Name: Bob".into(), "City: Paris\nCountry: FR".into()],
    })
    .await
    .unwrap();
    c.expect("test - User info - bob:").await.unwrap();
    c.expect("test - Name: Bob").await.unwrap();
    c.expect("test - City: Paris").await.unwrap();
    c.expect("test - Country: FR").await.unwrap();

    c.root("info test carol").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::GetInfo {
            handle: "carol".into()
        }
    );
    c.root_expect("info nobody", "Nick `nobody' does not exist")
        .await
        .unwrap();
    c.root_expect("info", "Not enough parameters")
        .await
        .unwrap();
}

#[tokio::test]
async fn rename_and_rename_del() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();

    let lines = c.root_lines("rename bob bobby").await.unwrap();
    assert_any(&lines, ":bob!bob@test.example NICK bobby");
    assert_any(&c.root_texts(&lines), "Nick successfully changed");
    c.send("PRIVMSG bobby :hi").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::SendMessage {
            to: "bob".into(),
            body: "hi".into(),
            kind: waggle_core::MessageKind::Normal,
            id: None,
        }
    );

    // Bad input.
    c.root_expect("rename bobby 1bad", "Nick `1bad' is invalid")
        .await
        .unwrap();
    c.root_expect("rename bobby root", "Nick `root' already exists")
        .await
        .unwrap();
    c.root_expect("rename nobody x", "Nick `nobody' does not exist")
        .await
        .unwrap();
    c.root_expect("rename alice x", "Use /nick to change your own nickname")
        .await
        .unwrap();
    c.root_expect("rename bobby", "Not enough parameters")
        .await
        .unwrap();

    let lines = c.root_lines("rename -del bobby").await.unwrap();
    assert_any(&lines, ":bobby!bob@test.example NICK bob");
    assert_any(&c.root_texts(&lines), "Nickname reset to `bob'");
    c.root_expect("rename -del", "Not enough parameters")
        .await
        .unwrap();
}

#[tokio::test]
async fn block_and_allow() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();

    c.root_expect("block bob", "Buddy `bob' moved from allow- to block-list")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::Block {
            handle: "bob".into()
        }
    );
    c.root_expect("allow bob", "Buddy `bob' moved from block- to allow-list")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::Allow {
            handle: "bob".into()
        }
    );
    c.root_expect(
        "block test mallory",
        "Buddy `mallory' moved from allow- to block-list",
    )
    .await
    .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::Block {
            handle: "mallory".into()
        }
    );

    // Bad input.
    c.root_expect("block", "Not enough parameters given (need 1).")
        .await
        .unwrap();
    c.root_expect("allow", "Not enough parameters given (need 1).")
        .await
        .unwrap();
    c.root_expect("block nobody", "Nick `nobody' does not exist")
        .await
        .unwrap();
    c.root_expect("allow nosuch x", "Invalid account")
        .await
        .unwrap();
}

#[tokio::test]
async fn questions_yes_no_qlist() {
    let (_gw, mut c, acc) = setup().await;
    c.root_expect("yes", "Did I ask you something?")
        .await
        .unwrap();
    c.root_expect("no", "Did I ask you something?")
        .await
        .unwrap();
    c.root_expect("qlist", "There are no pending questions.")
        .await
        .unwrap();

    acc.emit_handled(Event::QuestionAsked {
        id: QuestionId(7),
        text: "bob wants to add you to his buddy list".into(),
    })
    .await
    .unwrap();
    c.expect("test - New request: bob wants to add you to his buddy list")
        .await
        .unwrap();
    c.expect("yes\x02/\x02no").await.unwrap();
    acc.emit_handled(Event::QuestionAsked {
        id: QuestionId(8),
        text: "carol is calling".into(),
    })
    .await
    .unwrap();
    c.expect("test - New request: carol is calling")
        .await
        .unwrap();

    let t = c.root("qlist").await.unwrap();
    assert_any(&t, "Pending queries:");
    assert_any(&t, "0, test: bob wants to add you");
    assert_any(&t, "1, test: carol is calling");

    c.root_expect("yes 9", "Invalid query number")
        .await
        .unwrap();
    c.root_expect("no x", "Invalid query number").await.unwrap();

    // Without a number, the newest (query_order lifo).
    c.root_expect("no", "test - Rejected: carol is calling")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::AnswerQuestion {
            id: QuestionId(8),
            accept: false
        }
    );
    c.root_expect("yes 0", "test - Accepted: bob wants to add you")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        Command::AnswerQuestion {
            id: QuestionId(7),
            accept: true
        }
    );
    c.root_expect("qlist", "There are no pending questions.")
        .await
        .unwrap();
}

#[tokio::test]
async fn blist_with_filters_and_patterns() {
    let (_gw, mut c, acc) = setup().await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.contact("carol", PresenceState::Away).await.unwrap();
    c.expect(":carol!carol@test.example JOIN &bitlbee")
        .await
        .unwrap();
    // Nothing shows an offline contact: wait for the gateway to have it.
    acc.emit_handled(Event::ContactUpdated(waggle_tests::contact(
        "dave",
        PresenceState::Offline,
    )))
    .await
    .unwrap();

    let t = c.root("blist").await.unwrap();
    assert!(t[0].starts_with("Nick"), "{t:?}");
    assert_any(&t, "bob");
    assert_any(&t, "carol");
    assert_none(&t, "dave");
    assert_any(&t, "3 buddies (1 available, 1 away, 1 offline)");

    let t = c.root("blist all").await.unwrap();
    assert_any(&t, "dave");
    let t = c.root("blist offline").await.unwrap();
    assert_any(&t, "dave");
    assert_none(&t, "bob ");
    let t = c.root("blist away").await.unwrap();
    assert_any(&t, "carol");
    assert_none(&t, "bob ");
    let t = c.root("blist online").await.unwrap();
    assert_any(&t, "Online");
    assert_none(&t, "carol ");
    let t = c.root("blist all ^d").await.unwrap();
    assert_any(&t, "dave");
    assert_none(&t, "bob ");

    // A broken pattern is reported, then the list is shown unfiltered.
    let t = c.root("blist all (").await.unwrap();
    assert!(!t[0].starts_with("Nick"), "no error first: {t:?}");
    assert!(t[1].starts_with("Nick"), "{t:?}");
    for nick in ["bob ", "carol ", "dave "] {
        assert!(t.iter().any(|l| l.starts_with(nick)), "{nick}: {t:?}");
    }
    assert_any(&t, "3 buddies (1 available, 1 away, 1 offline)");
    c.root_expect("plugins", "Enabled Protocols").await.unwrap();
}

#[tokio::test]
async fn group_list_and_info() {
    let (_gw, mut c, acc) = setup().await;
    c.root_expect("group list", "End of group list")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(grouped(
        "bob",
        "Friends",
        PresenceState::Online,
    )))
    .await
    .unwrap();
    acc.emit_handled(Event::ContactUpdated(grouped(
        "carol",
        "Work",
        PresenceState::Online,
    )))
    .await
    .unwrap();
    acc.emit_handled(Event::ContactUpdated(grouped(
        "dave",
        "friends",
        PresenceState::Offline,
    )))
    .await
    .unwrap();
    c.expect(":carol!carol@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.sync().await.unwrap();

    let t = c.root("group list").await.unwrap();
    assert_eq!(t, ["0. Friends", "1. Work", "End of group list"]);
    let t = c.root("group info friends").await.unwrap();
    assert_eq!(t, ["0. bob", "1. dave", "End of member list"]);
    let t = c.root("gr i Work").await.unwrap();
    assert_eq!(t, ["0. carol", "End of member list"]);

    // Bad input.
    c.root_expect("group info Nope", "Unknown group: Nope")
        .await
        .unwrap();
    c.root_expect("group info", "Not enough parameters")
        .await
        .unwrap();
    c.root_expect("group frob", "Unknown command: group frob")
        .await
        .unwrap();
}
