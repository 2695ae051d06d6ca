//! User settings end to end: each test changes a setting through root and sees
//! the gateway behave differently (settings tested elsewhere are listed in
//! `tests/settings_coverage.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use waggle_core::{Command, Contact, Event, MessageKind, Presence, PresenceState, QuestionId};
use waggle_tests::{
    IrcClient, Msg, TestAccountHandle, TestGateway, assert_any, assert_none, canon, pred, strip_id,
};

async fn setup() -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    (gw, c, acc)
}

fn from_bob(body: &str) -> Event {
    Event::MessageReceived {
        from: "bob".into(),
        body: body.into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    }
}

fn named(handle: &str, name: &str) -> Event {
    Event::ContactUpdated(Contact {
        handle: handle.into(),
        display_name: Some(name.into()),
        group: None,
        presence: Presence {
            state: PresenceState::Online,
            ..Presence::default()
        },
    })
}

/// The nick of the next contact that joins &bitlbee.
async fn joined_nick(c: &mut IrcClient) -> String {
    let l = c
        .expect(pred("a contact joins", |m| {
            m.is("JOIN") && m.nick().is_some_and(|n| n != "alice")
        }))
        .await
        .unwrap();
    Msg::parse(&l).nick().unwrap().to_string()
}

/// The next command that is a message, its body.
async fn sent_body(acc: &TestAccountHandle) -> String {
    match strip_id(acc.next_non_presence_command().await.unwrap()) {
        Command::SendMessage { body, .. } => body,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn nick_format_lowercase_underscores_and_utf8_make_the_nicks() {
    let (_gw, mut c, acc) = setup().await;
    c.root_expect("set nick_format %full_name", "nick_format = `%full_name'")
        .await
        .unwrap();
    acc.emit_handled(named("u1", "Carol Jones")).await.unwrap();
    assert_eq!(joined_nick(&mut c).await, "CarolJones");
    c.root("set nick_underscores true").await.unwrap();
    acc.emit_handled(named("u2", "Dave Smith")).await.unwrap();
    assert_eq!(joined_nick(&mut c).await, "Dave_Smith");
    c.root("set nick_lowercase true").await.unwrap();
    acc.emit_handled(named("u3", "Erin Stone")).await.unwrap();
    assert_eq!(joined_nick(&mut c).await, "erin_stone");
    c.root("set nick_lowercase false").await.unwrap();
    // Non-ASCII letters stay only with utf8_nicks.
    acc.emit_handled(named("u4", "Jürgen")).await.unwrap();
    let ascii = joined_nick(&mut c).await;
    assert!(ascii.is_ascii() && ascii.starts_with('J'), "{ascii}");
    c.root("set utf8_nicks true").await.unwrap();
    acc.emit_handled(named("u5", "Jörg")).await.unwrap();
    assert_eq!(joined_nick(&mut c).await, "Jörg");
}

#[tokio::test]
async fn ops_decides_who_is_opped_in_the_control_channel() {
    let (_gw, mut c, _acc) = setup().await;
    let names = async |c: &mut IrcClient| {
        c.send("NAMES &bitlbee").await.unwrap();
        let l = c.expect(" 353 alice ").await.unwrap();
        let mut m: Vec<String> = Msg::parse(&l)
            .trailing()
            .split(' ')
            .map(str::to_string)
            .collect();
        m.sort_unstable();
        m
    };
    assert_eq!(names(&mut c).await, ["+bob", "@alice", "@root"]);
    c.root("set ops root").await.unwrap();
    assert_eq!(names(&mut c).await, ["+bob", "@root", "alice"]);
    c.root("set ops user").await.unwrap();
    assert_eq!(names(&mut c).await, ["+bob", "@alice", "root"]);
    c.root("set ops none").await.unwrap();
    assert_eq!(names(&mut c).await, ["+bob", "alice", "root"]);
}

#[tokio::test]
async fn paste_buffer_joins_quick_lines_and_its_delay_bounds_quick() {
    let (_gw, mut c, acc) = setup().await;
    // Off (the default): one message per line.
    c.send("PRIVMSG bob :one").await.unwrap();
    c.send("PRIVMSG bob :two").await.unwrap();
    assert_eq!(sent_body(&acc).await, "one");
    assert_eq!(sent_body(&acc).await, "two");
    c.root("set paste_buffer true").await.unwrap();
    c.root("set paste_buffer_delay 3000").await.unwrap();
    c.send("PRIVMSG bob :three").await.unwrap();
    c.send("PRIVMSG bob :four").await.unwrap();
    assert_eq!(sent_body(&acc).await, "three\nfour");
    // Lines further apart than the delay are messages of their own.
    c.root("set paste_buffer_delay 100").await.unwrap();
    c.send("PRIVMSG bob :five").await.unwrap();
    c.sync().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.send("PRIVMSG bob :six").await.unwrap();
    assert_eq!(sent_body(&acc).await, "five");
    assert_eq!(sent_body(&acc).await, "six");
}

#[tokio::test]
async fn query_order_picks_the_question_yes_answers() {
    let (_gw, mut c, acc) = setup().await;
    let ask = async |acc: &TestAccountHandle, id: u64, text: &str| {
        acc.emit_handled(Event::QuestionAsked {
            id: QuestionId(id),
            text: text.into(),
        })
        .await
        .unwrap();
    };
    let answered = async |acc: &TestAccountHandle| match acc.next_non_presence_command().await {
        Ok(Command::AnswerQuestion { id, .. }) => id.0,
        other => panic!("expected an answer, got {other:?}"),
    };
    ask(&acc, 1, "first?").await;
    ask(&acc, 2, "second?").await;
    // lifo (the default): the newest.
    c.root("yes").await.unwrap();
    assert_eq!(answered(&acc).await, 2);
    c.root("yes").await.unwrap();
    assert_eq!(answered(&acc).await, 1);
    c.root_expect("set query_order fifo", "query_order = `fifo'")
        .await
        .unwrap();
    ask(&acc, 3, "third?").await;
    ask(&acc, 4, "fourth?").await;
    c.root("yes").await.unwrap();
    assert_eq!(answered(&acc).await, 3);
}

#[tokio::test]
async fn strip_html_and_strip_newlines_change_what_is_shown() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set strip_html false").await.unwrap();
    acc.emit_handled(from_bob("<b>bold</b> &amp; more"))
        .await
        .unwrap();
    let l = c.expect(" PRIVMSG alice ").await.unwrap();
    assert!(l.ends_with(" :<b>bold</b> &amp; more"), "{l}");
    c.root("set strip_newlines true").await.unwrap();
    acc.emit_handled(from_bob("one\ntwo\nthree")).await.unwrap();
    let l = c.expect(" PRIVMSG alice ").await.unwrap();
    assert!(l.ends_with(" :one two three"), "{l}");
    assert_none(&c.sync().await.unwrap(), "PRIVMSG alice");
}

#[tokio::test]
async fn to_char_follows_our_nick_in_the_channel() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set private false").await.unwrap();
    c.root_expect("set to_char \", \"", "to_char = `, '")
        .await
        .unwrap();
    acc.emit_handled(from_bob("hello")).await.unwrap();
    let l = c.expect(":bob!bob@test.example PRIVMSG").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example PRIVMSG &bitlbee :alice, hello"
    );
}

#[tokio::test]
async fn simulate_netsplit_decides_the_quit_reason_of_a_dropped_account() {
    let (_gw, mut c, acc) = setup().await;
    // The account's connection goes: its contacts quit.
    acc.emit_handled(Event::Disconnected {
        reconnect_in: Some(5),
    })
    .await
    .unwrap();
    let l = c.expect(":bob!bob@test.example QUIT").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example QUIT :waggle.localhost test.localhost"
    );
    c.root("account test off").await.unwrap();
    c.root("set simulate_netsplit false").await.unwrap();
    c.root_wait("account test on", "test - Logging in: Logged in")
        .await
        .unwrap();
    let acc = _gw.hub().account("alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN").await.unwrap();
    acc.emit_handled(Event::Disconnected {
        reconnect_in: Some(5),
    })
    .await
    .unwrap();
    let l = c.expect(":bob!bob@test.example QUIT").await.unwrap();
    assert_eq!(canon(&l), ":bob!bob@test.example QUIT :Account off-line");
}

#[tokio::test]
async fn set_away_and_status_reach_the_accounts() {
    let (_gw, mut c, acc) = setup().await;
    let presence = async |acc: &TestAccountHandle| loop {
        if let Command::SetPresence { away, status, .. } = acc.next_command().await.unwrap() {
            break (away, status);
        }
    };
    c.root("set away \"in a meeting\"").await.unwrap();
    assert_eq!(presence(&acc).await.0.as_deref(), Some("in a meeting"));
    c.root("set -del away").await.unwrap();
    assert_eq!(presence(&acc).await, (None, None));
    // The account's own away and status win over the user's.
    c.root("set status \"around\"").await.unwrap();
    assert_eq!(presence(&acc).await, (None, Some("around".into())));
    c.root("account test set status \"here only\"")
        .await
        .unwrap();
    assert_eq!(presence(&acc).await, (None, Some("here only".into())));
    c.root("account test set away \"not here\"").await.unwrap();
    assert_eq!(presence(&acc).await.0.as_deref(), Some("not here"));
}

#[tokio::test]
async fn detach_away_is_the_away_text_while_no_client_is_attached() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    c.root_expect("set detach_away \"back soon\"", "detach_away = `back soon'")
        .await
        .unwrap();
    c.quit().await.unwrap();
    let away = loop {
        if let Command::SetPresence { away, detached, .. } = acc.next_command().await.unwrap() {
            assert!(detached);
            break away;
        }
    };
    assert_eq!(away.as_deref(), Some("back soon"));
}

#[tokio::test]
async fn save_on_quit_false_still_saves_everything() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    // Kept for compatibility: everything is written as it changes anyway.
    c.root_expect("set save_on_quit false", "save_on_quit = `false'")
        .await
        .unwrap();
    c.root("set status \"kept\"").await.unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("set status", "status = `kept'")
        .await
        .unwrap();
    c.root_expect("set save_on_quit", "save_on_quit = `false'")
        .await
        .unwrap();
}

#[tokio::test]
async fn auto_connect_and_auto_reconnect_decide_when_accounts_log_in() {
    let mut gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root("account add test one@test.example pw")
        .await
        .unwrap();
    c.root("account add test two@test.example pw")
        .await
        .unwrap();
    c.root_expect("account 1 set auto_connect false", "auto_connect = `false'")
        .await
        .unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_wait("identify s3cret", "Logging in: Logged in")
        .await
        .unwrap();
    gw.hub().account("one@test.example").await.unwrap();
    c.sync().await.unwrap();
    assert!(!gw.hub().is_live("two@test.example"));
    assert_eq!(gw.hub().runs("two@test.example"), 0);
    // The user's auto_connect off: none at all.
    c.root("set auto_connect false").await.unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.sync().await.unwrap();
    assert_eq!(gw.hub().runs("one@test.example"), 0);
    assert_eq!(gw.hub().runs("two@test.example"), 0);

    // auto_reconnect off (the user's, then the account's): a failed account
    // stays off, where it would be retried after a second.
    c.root("set auto_reconnect_delay 1").await.unwrap();
    c.root("set auto_reconnect false").await.unwrap();
    c.root("account add test three@test.example panic-once")
        .await
        .unwrap();
    c.allow("Login error");
    c.root_wait("account 2 on", "Login error: Internal error")
        .await
        .unwrap();
    c.set_timeout(Duration::from_secs(10));
    c.root("set auto_reconnect true").await.unwrap();
    c.root("account add test four@test.example panic-once")
        .await
        .unwrap();
    c.root("account 3 set auto_reconnect false").await.unwrap();
    c.root_wait("account 3 on", "Login error: Internal error")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    c.sync().await.unwrap();
    assert_eq!(gw.hub().runs("three@test.example"), 1);
    assert_eq!(gw.hub().runs("four@test.example"), 1);
    assert_none(c.history(), "Reconnecting");
    assert_any(&c.root("account list").await.unwrap(), "four@test.example");
}
