//! Messages both ways between the IRC client and contacts of the test backend.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime};

use waggle_core::{Command, Event, MessageKind, PresenceState};
use waggle_tests::{
    IrcClient, Msg, TestAccountHandle, TestGateway, assert_any, canon, pred, strip_id,
};

async fn setup(caps: &[&str]) -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", caps).await.unwrap();
    let acc = bob_online(&gw, &mut c).await;
    (gw, c, acc)
}

/// The test account online for `c`, with bob online on it and shown.
async fn bob_online(gw: &TestGateway, c: &mut IrcClient) -> TestAccountHandle {
    let acc = gw.online_account(c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc
}

fn received(body: &str, kind: MessageKind) -> Event {
    Event::MessageReceived {
        from: "bob".into(),
        body: body.into(),
        kind,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    }
}

fn send(body: &str, kind: MessageKind) -> Command {
    Command::SendMessage {
        to: "bob".into(),
        body: body.into(),
        kind,
        id: None,
    }
}

/// Lines from bob until the barrier.
async fn from_bob(c: &mut IrcClient) -> Vec<String> {
    c.sync()
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.contains(":bob!bob@test.example "))
        .collect()
}

#[tokio::test]
async fn privmsg_to_a_contact_becomes_send_message() {
    let (_gw, mut c, acc) = setup(&[]).await;
    c.send("PRIVMSG bob :hello there").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("hello there", MessageKind::Normal)
    );
    c.send("PRIVMSG BOB :case does not matter").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("case does not matter", MessageKind::Normal)
    );
    c.send("PRIVMSG bob :\x01ACTION waves\x01").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("waves", MessageKind::Action)
    );
    c.send("NOTICE bob :psst").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("psst", MessageKind::Notice)
    );
}

#[tokio::test]
async fn received_message_becomes_privmsg_from_the_contact() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.emit_handled(received("hi alice", MessageKind::Normal))
        .await
        .unwrap();
    let l = c.expect(" PRIVMSG alice ").await.unwrap();
    assert_eq!(canon(&l), ":bob!bob@test.example PRIVMSG alice :hi alice");

    acc.emit_handled(received("waves back", MessageKind::Action))
        .await
        .unwrap();
    let l = c.expect(" PRIVMSG alice ").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example PRIVMSG alice :\x01ACTION waves back\x01"
    );

    acc.emit_handled(received("a notice", MessageKind::Notice))
        .await
        .unwrap();
    let l = c.expect(" NOTICE alice ").await.unwrap();
    assert_eq!(canon(&l), ":bob!bob@test.example NOTICE alice :a notice");

    // A plain-text protocol's body is shown as sent (strip_html is for HTML).
    acc.emit_handled(received("<b>bold</b> &amp; more", MessageKind::Normal))
        .await
        .unwrap();
    let l = c.expect(" PRIVMSG alice ").await.unwrap();
    assert!(l.ends_with(" :<b>bold</b> &amp; more"), "{l}");
}

#[tokio::test]
async fn multi_line_body_is_one_privmsg_per_line() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.emit_handled(received(
        "one\ntwo\r\n\r\nthree\rfour\n",
        MessageKind::Normal,
    ))
    .await
    .unwrap();
    c.expect(" :one").await.unwrap();
    let lines = from_bob(&mut c).await;
    let texts: Vec<String> = lines
        .iter()
        .map(|l| Msg::parse(l).trailing().to_string())
        .collect();
    assert_eq!(texts, ["two", "three", "four"]);

    // An action on several lines is an action on each.
    acc.emit_handled(received("jumps\nand falls", MessageKind::Action))
        .await
        .unwrap();
    c.expect("\x01ACTION jumps\x01").await.unwrap();
    c.expect("\x01ACTION and falls\x01").await.unwrap();
}

#[tokio::test]
async fn long_messages_are_split() {
    let (_gw, mut c, acc) = setup(&[]).await;
    let word = "abcdefghi ";
    let body = word.repeat(150); // 1500 bytes
    acc.emit_handled(received(&body, MessageKind::Normal))
        .await
        .unwrap();
    let first = c.expect(" PRIVMSG alice ").await.unwrap();
    let rest = from_bob(&mut c).await;
    assert!(!rest.is_empty());
    let pieces: Vec<&String> = std::iter::once(&first).chain(&rest).collect();
    for l in &pieces {
        assert!(l.len() + 2 <= 512, "too long: {} bytes: {l}", l.len());
    }
    // Nothing was lost or cut inside a word.
    let words: Vec<String> = pieces
        .iter()
        .flat_map(|l| {
            Msg::parse(l)
                .trailing()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(words.len(), 150, "{pieces:?}");
    assert!(words.iter().all(|w| w == "abcdefghi"), "{pieces:?}");
}

#[tokio::test]
async fn addressing_a_contact_in_the_control_channel() {
    let (_gw, mut c, acc) = setup(&[]).await;
    c.send("PRIVMSG &bitlbee :bob: hi from the channel")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("hi from the channel", MessageKind::Normal)
    );
    c.send("PRIVMSG &bitlbee :bob, comma works too")
        .await
        .unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("comma works too", MessageKind::Normal)
    );
    // The answer comes back where we talked, addressed to us.
    acc.emit_handled(received("answer", MessageKind::Normal))
        .await
        .unwrap();
    let l = c.expect(":bob!bob@test.example PRIVMSG").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example PRIVMSG &bitlbee :alice: answer"
    );

    // default_target last: a line without address goes to the last contact.
    c.root("set default_target last").await.unwrap();
    c.send("PRIVMSG &bitlbee :no address").await.unwrap();
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("no address", MessageKind::Normal)
    );
}

#[tokio::test]
async fn private_false_shows_messages_in_the_channel() {
    let (_gw, mut c, acc) = setup(&[]).await;
    c.root("set private false").await.unwrap();
    acc.emit_handled(received("in public", MessageKind::Normal))
        .await
        .unwrap();
    let l = c.expect(":bob!bob@test.example PRIVMSG").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example PRIVMSG &bitlbee :alice: in public"
    );
}

#[tokio::test]
async fn delayed_message_with_server_time() {
    let (_gw, mut c, acc) = setup(&["server-time"]).await;
    let sent_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    acc.emit_handled(Event::MessageReceived {
        from: "bob".into(),
        body: "from the past".into(),
        kind: MessageKind::Normal,
        sent_at: Some(sent_at),
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    let l = c.expect("from the past").await.unwrap();
    assert_eq!(
        canon(&l),
        "@time=2020-09-13T12:26:40.000Z :bob!bob@test.example PRIVMSG alice :from the past"
    );
    // Not delayed: stamped with the time it arrived, with its msgid.
    let before = SystemTime::now() - Duration::from_secs(1);
    acc.emit_handled(received("now", MessageKind::Normal))
        .await
        .unwrap();
    let l = c.expect(":now").await.unwrap();
    let msg = Msg::parse(&l);
    let stamp = msg.tag("time").unwrap_or_default();
    let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(at >= before && at <= SystemTime::now(), "{l}");
    assert!(msg.tag("msgid").is_none(), "msgid needs message-tags: {l}");
}

#[tokio::test]
async fn delayed_message_without_server_time_gets_a_timestamp() {
    let (_gw, mut c, acc) = setup(&[]).await;
    c.root("set timezone utc").await.unwrap();
    let sent_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let past = |body: &str| Event::MessageReceived {
        from: "bob".into(),
        body: body.into(),
        kind: MessageKind::Normal,
        sent_at: Some(sent_at),
        from_self: false,
        ids: Default::default(),
    };
    // The prefix is in the user's `timezone' (the default, local, depends on
    // the machine: name one).
    c.root_expect("set timezone gmt", "timezone = `gmt'")
        .await
        .unwrap();
    acc.emit_handled(past("from the past")).await.unwrap();
    let l = c.expect("from the past").await.unwrap();
    assert_eq!(
        canon(&l),
        // BitlBee's format: bold brackets, the date for another day.
        ":bob!bob@test.example PRIVMSG alice :\x02[\x02\x02\x022020-09-13 12:26:40\x02]\x02 from the past"
    );
    c.root_expect("set timezone -04:30", "timezone = `-04:30'")
        .await
        .unwrap();
    acc.emit_handled(past("west of here")).await.unwrap();
    let l = c.expect("west of here").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@test.example PRIVMSG alice :\x02[\x02\x02\x022020-09-13 07:56:40\x02]\x02 west of here"
    );
    // display_timestamps false: no prefix at all.
    c.root("set display_timestamps false").await.unwrap();
    acc.emit_handled(past("no stamp")).await.unwrap();
    let l = c.expect("no stamp").await.unwrap();
    assert_eq!(canon(&l), ":bob!bob@test.example PRIVMSG alice :no stamp");
}

#[tokio::test]
async fn own_messages_from_elsewhere_and_echo_message() {
    let (_gw, mut c, acc) = setup(&["echo-message"]).await;
    acc.emit_handled(Event::MessageReceived {
        from: "bob".into(),
        body: "sent from my phone".into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: true,
        ids: Default::default(),
    })
    .await
    .unwrap();
    let l = c.expect("sent from my phone").await.unwrap();
    assert_eq!(
        canon(&l),
        ":alice!alice@127.0.0.1 PRIVMSG bob :sent from my phone"
    );

    c.send("PRIVMSG bob :echoed").await.unwrap();
    let l = c.expect("echoed").await.unwrap();
    assert_eq!(canon(&l), ":alice!alice@127.0.0.1 PRIVMSG bob :echoed");
    assert_eq!(
        strip_id(acc.next_command().await.unwrap()),
        send("echoed", MessageKind::Normal)
    );
}

#[tokio::test]
async fn message_from_an_unknown_handle() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.emit_handled(Event::MessageReceived {
        from: "stranger@elsewhere.example".into(),
        body: "who am I".into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    let l = c.expect("who am I").await.unwrap();
    // handle_unknown add_channel (the default): in the control channel.
    assert_eq!(
        canon(&l),
        ":stranger!stranger@elsewhere.example PRIVMSG &bitlbee :alice: who am I"
    );

    c.root("set handle_unknown root").await.unwrap();
    acc.emit_handled(Event::MessageReceived {
        from: "other@elsewhere.example".into(),
        body: "via root".into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    c.expect("test - Message from unknown handle other@elsewhere.example:")
        .await
        .unwrap();
    // The stranger's text carries its origin: it can never pass for root's own.
    c.expect(":root!root@localhost PRIVMSG &bitlbee :test - via root")
        .await
        .unwrap();

    c.root("set handle_unknown ignore").await.unwrap();
    acc.emit_handled(Event::MessageReceived {
        from: "third@elsewhere.example".into(),
        body: "ignored".into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    // The event is handled before the next thing the session does.
    acc.emit_handled(received("after", MessageKind::Normal))
        .await
        .unwrap();
    c.expect(":after").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(!lines.iter().any(|l| l.contains("ignored")), "{lines:?}");
}

#[tokio::test]
async fn bad_targets_and_offline_accounts() {
    let (_gw, mut c, _acc) = setup(&[]).await;
    c.send("PRIVMSG nobody :hi").await.unwrap();
    c.expect_numeric("401").await.unwrap();
    c.send("PRIVMSG #nochannel :hi").await.unwrap();
    c.expect_numeric("403").await.unwrap();
    c.send("PRIVMSG bob").await.unwrap();
    c.expect_numeric("412").await.unwrap();
    c.send("PRIVMSG").await.unwrap();
    c.expect_numeric("411").await.unwrap();
    // NOTICE never gets an error reply.
    c.send("NOTICE nobody :hi").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");

    c.root_wait("account test off", "Signing off..")
        .await
        .unwrap();
    // bob is still known (offline) but can't be reached.
    c.send("PRIVMSG bob :anyone?").await.unwrap();
    let l = c.expect(pred("404", |m| m.is("404"))).await.unwrap();
    assert_any(&[l], "the account is not online");
}

/// Alice registered (so her messages go to the store), asking for what
/// CHATHISTORY needs, with bob online.
async fn registered() -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps(
        "alice",
        &["draft/chathistory", "batch", "server-time", "message-tags"],
    )
    .await
    .unwrap();
    c.root_expect("register pw", "Account successfully created")
        .await
        .unwrap();
    let acc = bob_online(&gw, &mut c).await;
    (gw, c, acc)
}

/// The texts of the messages `CHATHISTORY LATEST bob * n` gives.
async fn latest_with_bob(c: &mut IrcClient, n: usize) -> Vec<String> {
    c.send(&format!("CHATHISTORY LATEST bob * {n}"))
        .await
        .unwrap();
    c.sync()
        .await
        .unwrap()
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("PRIVMSG") && m.tag("batch").is_some())
        .map(|m| m.trailing().to_string())
        .collect()
}

#[tokio::test]
async fn a_burst_of_messages_is_shown_and_logged_whole_and_in_order() {
    const BURST: usize = 300;
    let (_gw, mut c, acc) = registered().await;
    // Queued faster than they are handled: the gateway takes them in batches.
    for i in 0..BURST {
        acc.emit(received(&format!("burst {i}"), MessageKind::Normal))
            .await
            .unwrap();
    }
    let mut shown = Vec::new();
    while shown.len() < BURST {
        let line = c.expect(":bob!bob@test.example PRIVMSG").await.unwrap();
        shown.push(Msg::parse(&line).trailing().to_string());
    }
    let sent: Vec<String> = (0..BURST).map(|i| format!("burst {i}")).collect();
    assert_eq!(shown, sent);

    assert_eq!(latest_with_bob(&mut c, 100).await, sent[BURST - 100..]);
}

#[tokio::test]
async fn a_burst_of_lines_to_a_contact_is_sent_and_logged_whole_and_in_order() {
    const BURST: usize = 300;
    let (_gw, mut c, acc) = registered().await;
    // Written faster than they are handled: the gateway takes them in batches,
    // which a command to root in the middle ends.
    for i in 0..BURST {
        c.send(&format!("PRIVMSG bob :line {i}")).await.unwrap();
        if i == BURST / 2 {
            c.send("PRIVMSG &bitlbee :blist").await.unwrap();
        }
    }
    let sent: Vec<String> = (0..BURST).map(|i| format!("line {i}")).collect();
    for text in &sent {
        assert_eq!(
            strip_id(acc.next_command().await.unwrap()),
            send(text, MessageKind::Normal)
        );
    }
    c.expect(":root!root@").await.unwrap();
    assert_eq!(latest_with_bob(&mut c, 100).await, sent[BURST - 100..]);
}
