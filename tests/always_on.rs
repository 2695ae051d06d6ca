//! Always on: an identified user outlives their connections. Clients detach and
//! attach (several at once), what arrives meanwhile is replayed once, in order,
//! and history is there for CHATHISTORY and MARKREAD.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use base64::Engine;
use waggle_core::{Command, Event, MessageKind, PresenceState};
use waggle_tests::{
    IrcClient, Msg, TestAccountHandle, TestGateway, assert_any, assert_none, line_contains,
    strip_id,
};

const HANDLE: &str = "alice@test.example";

fn plain(authcid: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("\0{authcid}\0{password}"))
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

/// alice registered, with a test account online and bob online on it.
async fn alice_online(gw: &TestGateway) -> (IrcClient, TestAccountHandle) {
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register pw", "Account successfully created")
        .await
        .unwrap();
    let acc = gw.online_account(&mut c, HANDLE).await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN").await.unwrap();
    (c, acc)
}

/// A client that identifies as alice through SASL during registration, named
/// `user` in USER (`alice@phone` names the client), asking for `caps`.
async fn attach(gw: &TestGateway, user: &str, caps: &[&str]) -> (IrcClient, Vec<String>) {
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    c.send("NICK alice").await.unwrap();
    c.send(&format!("USER {user} 0 * :Alice")).await.unwrap();
    let mut req = vec!["sasl"];
    req.extend_from_slice(caps);
    c.send(&format!("CAP REQ :{}", req.join(" ")))
        .await
        .unwrap();
    c.expect(" ACK ").await.unwrap();
    c.send("AUTHENTICATE PLAIN").await.unwrap();
    c.expect("AUTHENTICATE +").await.unwrap();
    c.send(&format!("AUTHENTICATE {}", plain("alice", "pw")))
        .await
        .unwrap();
    c.expect(" 903 ").await.unwrap();
    c.send("CAP END").await.unwrap();
    let burst = c.finish_registration("alice").await.unwrap();
    (c, burst)
}

/// The next SetPresence the account gets (skipping other commands).
async fn next_presence(acc: &TestAccountHandle) -> Option<String> {
    for _ in 0..50 {
        if let Command::SetPresence { away, .. } = acc.next_command().await.unwrap() {
            return away;
        }
    }
    panic!("no presence update");
}

fn texts_of<'a>(lines: &'a [String], needle: &str) -> Vec<&'a String> {
    lines.iter().filter(|l| l.contains(needle)).collect()
}

#[tokio::test]
async fn quitting_detaches_and_what_arrives_is_replayed_once_in_order() {
    let gw = TestGateway::start_default().await.unwrap();
    let (c, acc) = alice_online(&gw).await;
    c.quit().await.unwrap();
    // Still online, and away as `detach_away` says.
    assert_eq!(next_presence(&acc).await.as_deref(), Some("Detached"));
    assert!(gw.hub().is_live(HANDLE));
    for i in 1..=5 {
        acc.emit_handled(from_bob(&format!("while away {i}")))
            .await
            .unwrap();
    }

    // A client without server-time gets them with BitlBee's timestamp prefix.
    let (c, burst) = attach(&gw, "alice", &[]).await;
    assert_eq!(next_presence(&acc).await, None, "back from detached");
    let got = texts_of(&burst, "while away");
    assert_eq!(got.len(), 5, "{burst:#?}");
    for (i, l) in got.iter().enumerate() {
        let m = Msg::parse(l);
        assert_eq!(m.prefix.as_deref(), Some("bob!bob@test.example"), "{l}");
        assert_eq!(m.param(0), "alice");
        let text = m.trailing();
        // BitlBee's format: the time in bold brackets.
        assert!(text.starts_with("\x02[\x02"), "timestamp prefix: {l}");
        assert!(
            text.ends_with(&format!("\x02]\x02 while away {}", i + 1)),
            "{l}"
        );
        assert!(m.tags.is_none(), "{l}");
    }
    c.quit().await.unwrap();
    assert_eq!(next_presence(&acc).await.as_deref(), Some("Detached"));

    // Nothing is replayed twice.
    let (_c, burst) = attach(&gw, "alice", &[]).await;
    assert!(texts_of(&burst, "while away").is_empty(), "{burst:#?}");
}

#[tokio::test]
async fn replay_has_server_time_in_a_chathistory_batch() {
    let gw = TestGateway::start_default().await.unwrap();
    let (c, acc) = alice_online(&gw).await;
    c.quit().await.unwrap();
    assert_eq!(next_presence(&acc).await.as_deref(), Some("Detached"));
    for i in 1..=3 {
        acc.emit_handled(from_bob(&format!("stamped {i}")))
            .await
            .unwrap();
    }
    let (_c, burst) = attach(&gw, "alice", &["server-time", "batch", "message-tags"]).await;
    let start = burst
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("BATCH") && m.param(1) == "chathistory")
        .expect("a chathistory batch");
    assert_eq!(start.param(2), "alice");
    let reference = start.param(0).trim_start_matches('+').to_string();
    let got: Vec<Msg> = texts_of(&burst, "stamped")
        .into_iter()
        .map(|l| Msg::parse(l))
        .collect();
    assert_eq!(got.len(), 3, "{burst:#?}");
    let mut ids = Vec::new();
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.trailing(), format!("stamped {}", i + 1));
        assert_eq!(m.tag("batch"), Some(reference.as_str()));
        assert!(m.tag("time").is_some_and(|t| t.ends_with('Z')), "{m:?}");
        ids.push(m.tag("msgid").unwrap_or_default().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "distinct msgids");
    assert_any(&burst, &format!("BATCH -{reference}"));
}

#[tokio::test]
async fn two_clients_share_one_user() {
    let gw = TestGateway::start_default().await.unwrap();
    let (c, acc) = alice_online(&gw).await;
    c.quit().await.unwrap();
    assert_eq!(next_presence(&acc).await.as_deref(), Some("Detached"));
    let (mut laptop, _) = attach(&gw, "alice@laptop", &[]).await;
    assert_eq!(next_presence(&acc).await, None);
    let (mut phone, burst) = attach(&gw, "alice@phone", &["echo-message"]).await;
    // The second client sees the contacts the user has.
    assert_any(&burst, "bob");

    // A contact's message reaches both.
    acc.emit_handled(from_bob("to both")).await.unwrap();
    phone
        .expect(":bob!bob@test.example PRIVMSG alice :to both")
        .await
        .unwrap();
    laptop
        .expect(":bob!bob@test.example PRIVMSG alice :to both")
        .await
        .unwrap();

    // What one sends reaches the contact and shows on the other (and on the
    // sender only because it asked for echo-message).
    phone.send("PRIVMSG bob :from the phone").await.unwrap();
    assert_eq!(
        strip_id(acc.next_non_presence_command().await.unwrap()),
        Command::SendMessage {
            to: "bob".into(),
            body: "from the phone".into(),
            kind: MessageKind::Normal,
            id: None,
        }
    );
    laptop
        .expect(":alice!alice@127.0.0.1 PRIVMSG bob :from the phone")
        .await
        .unwrap();
    phone
        .expect(":alice!alice@127.0.0.1 PRIVMSG bob :from the phone")
        .await
        .unwrap();
    laptop.send("PRIVMSG bob :from the laptop").await.unwrap();
    acc.next_non_presence_command().await.unwrap();
    phone
        .expect(":alice!alice@127.0.0.1 PRIVMSG bob :from the laptop")
        .await
        .unwrap();
    let laptop_lines = laptop.sync().await.unwrap();
    assert_none(&laptop_lines, "from the laptop");

    // The nick and away state are the user's.
    laptop.send("NICK alicia").await.unwrap();
    laptop
        .expect(":alice!alice@127.0.0.1 NICK :alicia")
        .await
        .unwrap();
    phone
        .expect(":alice!alice@127.0.0.1 NICK :alicia")
        .await
        .unwrap();
    phone.send("AWAY :lunch").await.unwrap();
    phone.expect(" 306 alicia ").await.unwrap();
    laptop.expect(" 306 alicia ").await.unwrap();
    assert_eq!(next_presence(&acc).await.as_deref(), Some("lunch"));

    // One leaving does not make the user away.
    phone.quit().await.unwrap();
    laptop.send("AWAY").await.unwrap();
    laptop.expect(" 305 alicia ").await.unwrap();
    assert_eq!(next_presence(&acc).await, None);
}

#[tokio::test]
async fn identify_in_an_anonymous_session_attaches_to_the_running_user() {
    let gw = TestGateway::start_default().await.unwrap();
    let (_c, acc) = alice_online(&gw).await;
    let mut d = gw.client("alice").await.unwrap();
    let texts = d.root("identify pw").await.unwrap();
    assert!(
        texts.iter().any(|t| t.starts_with("Password accepted")),
        "{texts:?}"
    );
    acc.emit_handled(from_bob("after the handover"))
        .await
        .unwrap();
    d.expect(":bob!bob@test.example PRIVMSG alice :after the handover")
        .await
        .unwrap();
    let list = d.root("account list").await.unwrap();
    assert_any(&list, HANDLE);
}

#[tokio::test]
async fn an_anonymous_session_ends_with_its_connection() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("carol").await.unwrap();
    let _acc = gw
        .online_account(&mut c, "carol@test.example")
        .await
        .unwrap();
    assert!(gw.hub().is_live("carol@test.example"));
    c.quit().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gw.hub().is_live("carol@test.example") {
        assert!(
            std::time::Instant::now() < deadline,
            "the account stayed online"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn client_names_keep_their_own_read_position() {
    let gw = TestGateway::start_default().await.unwrap();
    let (c, acc) = alice_online(&gw).await;
    c.quit().await.unwrap();
    assert_eq!(next_presence(&acc).await.as_deref(), Some("Detached"));
    // The phone is there for the first message, the laptop is not.
    let (phone, _) = attach(&gw, "alice@phone", &[]).await;
    acc.emit_handled(from_bob("first")).await.unwrap();
    phone.quit().await.unwrap();
    acc.emit_handled(from_bob("second")).await.unwrap();
    let (laptop, burst) = attach(&gw, "alice@laptop", &[]).await;
    assert_eq!(texts_of(&burst, "]\x02 first").len(), 1, "{burst:#?}");
    assert_eq!(texts_of(&burst, "]\x02 second").len(), 1, "{burst:#?}");
    laptop.quit().await.unwrap();
    let (_phone, burst) = attach(&gw, "alice@phone", &[]).await;
    assert!(texts_of(&burst, "first").is_empty(), "{burst:#?}");
    assert_eq!(texts_of(&burst, "]\x02 second").len(), 1, "{burst:#?}");
}

/// alice attached with what CHATHISTORY needs, and `n` messages from bob.
async fn history_of_bob(gw: &TestGateway, n: usize) -> (IrcClient, TestAccountHandle, Vec<Msg>) {
    let (c, acc) = alice_online(gw).await;
    c.quit().await.unwrap();
    let (mut c, _) = attach(
        gw,
        "alice",
        &[
            "draft/chathistory",
            "batch",
            "server-time",
            "message-tags",
            "labeled-response",
        ],
    )
    .await;
    let mut seen = Vec::new();
    for i in 0..n {
        acc.emit_handled(from_bob(&format!("history {i}")))
            .await
            .unwrap();
        let l = c.expect(format!(":history {i}")).await.unwrap();
        seen.push(Msg::parse(&l));
        // Distinct server times, as irctest's own runs have.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    (c, acc, seen)
}

/// The texts of the messages in the chathistory batch a request returns.
async fn batch(c: &mut IrcClient, request: &str) -> Vec<String> {
    c.send(request).await.unwrap();
    let lines = c.sync().await.unwrap();
    let msgs: Vec<Msg> = lines.iter().map(|l| Msg::parse(l)).collect();
    let start = msgs
        .iter()
        .find(|m| m.is("BATCH") && m.param(0).starts_with('+'))
        .unwrap_or_else(|| panic!("no batch for {request}: {lines:#?}"));
    assert_eq!(start.param(1), "chathistory", "{lines:#?}");
    let reference = start.param(0).trim_start_matches('+').to_string();
    assert!(
        msgs.iter()
            .any(|m| m.is("BATCH") && m.param(0) == format!("-{reference}")),
        "{lines:#?}"
    );
    msgs.iter()
        .filter(|m| m.is("PRIVMSG") && m.tag("batch") == Some(reference.as_str()))
        .map(|m| m.trailing().to_string())
        .collect()
}

fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("history {i}")).collect()
}

#[tokio::test]
async fn chathistory_in_every_form() {
    let gw = TestGateway::start_default().await.unwrap();
    let (mut c, _acc, seen) = history_of_bob(&gw, 10).await;
    let id = |i: usize| seen[i].tag("msgid").unwrap_or_default().to_string();
    let at = |i: usize| seen[i].tag("time").unwrap_or_default().to_string();

    assert_eq!(
        batch(&mut c, "CHATHISTORY LATEST bob * 20").await,
        texts(0..10)
    );
    assert_eq!(
        batch(&mut c, "CHATHISTORY LATEST bob * 3").await,
        texts(7..10)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY LATEST bob msgid={} 20", id(4))
        )
        .await,
        texts(5..10)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY LATEST bob timestamp={} 20", at(4))
        )
        .await,
        texts(5..10)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY BEFORE bob msgid={} 20", id(6))
        )
        .await,
        texts(0..6)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY BEFORE bob timestamp={} 2", at(6))
        )
        .await,
        texts(4..6)
    );
    assert_eq!(
        batch(&mut c, &format!("CHATHISTORY AFTER bob msgid={} 3", id(3))).await,
        texts(4..7)
    );
    assert_eq!(
        batch(&mut c, &format!("CHATHISTORY AROUND bob msgid={} 3", id(7))).await,
        texts(6..9)
    );
    assert_eq!(
        batch(&mut c, &format!("CHATHISTORY AROUND bob msgid={} 1", id(7))).await,
        texts(7..8)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY BETWEEN bob msgid={} msgid={} 20", id(0), id(9))
        )
        .await,
        texts(1..9)
    );
    assert_eq!(
        batch(
            &mut c,
            &format!("CHATHISTORY BETWEEN bob msgid={} msgid={} 3", id(9), id(0))
        )
        .await,
        texts(6..9)
    );
    // An unknown msgid matches nothing; the batch is empty but well formed.
    assert!(
        batch(&mut c, "CHATHISTORY AFTER bob msgid=nosuchid 5")
            .await
            .is_empty()
    );

    // The replies carry the msgids and times the live messages had.
    c.send("CHATHISTORY LATEST bob * 1").await.unwrap();
    let lines = c.sync().await.unwrap();
    let last = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("PRIVMSG"))
        .unwrap();
    assert_eq!(last.tag("msgid"), Some(id(9).as_str()));
    assert_eq!(last.tag("time"), Some(at(9).as_str()));

    // TARGETS lists bob with his latest message's time.
    c.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 10")
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    let targets: Vec<Msg> = lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("CHATHISTORY") && m.param(0) == "TARGETS")
        .collect();
    assert!(
        targets
            .iter()
            .any(|m| m.param(1) == "bob" && m.param(2) == at(9)),
        "{lines:#?}"
    );
    assert_any(&lines, "draft/chathistory-targets");
}

#[tokio::test]
async fn chathistory_bad_requests_get_standard_replies() {
    let gw = TestGateway::start_default().await.unwrap();
    let (mut c, _acc, _) = history_of_bob(&gw, 1).await;
    let fail = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| Msg::parse(l))
            .filter(|m| m.is("FAIL"))
            .map(|m| m.params[..m.params.len() - 1].join(" "))
            .collect()
    };
    for (request, expected) in [
        ("CHATHISTORY", "CHATHISTORY NEED_MORE_PARAMS"),
        (
            "CHATHISTORY LATEST bob",
            "CHATHISTORY NEED_MORE_PARAMS LATEST",
        ),
        (
            "CHATHISTORY SIDEWAYS bob * 10",
            "CHATHISTORY INVALID_PARAMS SIDEWAYS",
        ),
        (
            "CHATHISTORY LATEST nobody * 10",
            "CHATHISTORY INVALID_TARGET LATEST nobody",
        ),
        (
            "CHATHISTORY LATEST #nowhere * 10",
            "CHATHISTORY INVALID_TARGET LATEST #nowhere",
        ),
        (
            "CHATHISTORY LATEST bob * many",
            "CHATHISTORY INVALID_PARAMS LATEST",
        ),
        (
            "CHATHISTORY BEFORE bob garbage 10",
            "CHATHISTORY INVALID_PARAMS BEFORE",
        ),
        (
            "CHATHISTORY BEFORE bob timestamp=yesterday 10",
            "CHATHISTORY INVALID_PARAMS BEFORE",
        ),
        (
            "CHATHISTORY TARGETS * * 10",
            "CHATHISTORY INVALID_PARAMS TARGETS",
        ),
    ] {
        c.send(request).await.unwrap();
        let lines = c.sync().await.unwrap();
        assert_eq!(
            fail(&lines),
            vec![expected.to_string()],
            "{request}: {lines:#?}"
        );
    }
    // A huge limit is clamped, not refused.
    assert_eq!(
        batch(&mut c, "CHATHISTORY LATEST bob * 999999999")
            .await
            .len(),
        1
    );
    // A labeled request gets its label on the batch.
    c.send("@label=h1 CHATHISTORY LATEST bob * 1")
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    let start = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("BATCH"))
        .unwrap();
    assert_eq!(start.tag("label"), Some("h1"), "{lines:#?}");
}

#[tokio::test]
async fn markread_is_the_users_and_reaches_every_client() {
    let gw = TestGateway::start_default().await.unwrap();
    let (c, _acc) = alice_online(&gw).await;
    c.quit().await.unwrap();
    let (mut a, burst) = attach(&gw, "alice@a", &["draft/read-marker"]).await;
    // On join, the channel's marker comes before the end of NAMES.
    let pos = |needle: &str| burst.iter().position(|l| line_contains(l, needle));
    let (Some(mark), Some(end)) = (pos("MARKREAD &bitlbee *"), pos(" 366 ")) else {
        panic!("{burst:#?}");
    };
    assert!(mark < end, "{burst:#?}");
    let (mut b, _) = attach(&gw, "alice@b", &["draft/read-marker"]).await;

    a.send("MARKREAD bob").await.unwrap();
    a.expect("MARKREAD bob *").await.unwrap();
    a.send("MARKREAD bob timestamp=2024-05-01T10:00:00.000Z")
        .await
        .unwrap();
    a.expect("MARKREAD bob timestamp=2024-05-01T10:00:00.000Z")
        .await
        .unwrap();
    b.expect("MARKREAD bob timestamp=2024-05-01T10:00:00.000Z")
        .await
        .unwrap();
    // It never goes back.
    b.send("MARKREAD bob timestamp=2023-01-01T00:00:00.000Z")
        .await
        .unwrap();
    b.expect("MARKREAD bob timestamp=2024-05-01T10:00:00.000Z")
        .await
        .unwrap();
    let a_lines = a.sync().await.unwrap();
    assert_none(&a_lines, "2023-01-01");
    b.send("MARKREAD bob timestamp=nonsense").await.unwrap();
    b.expect("FAIL MARKREAD INVALID_PARAMS bob").await.unwrap();
}
