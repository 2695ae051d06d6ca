//! IRCv3 extras: labeled-response with batch, and MONITOR on contacts.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::PresenceState;
use waggle_tests::{Msg, TestGateway, assert_any};

#[tokio::test]
async fn labeled_responses_single_batch_and_ack() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", &["batch", "labeled-response", "echo-message"])
        .await
        .unwrap();

    // One reply: tagged directly.
    c.send("@label=one PING :token").await.unwrap();
    let lines = c.sync().await.unwrap();
    let pong = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("PONG"))
        .expect("PONG");
    assert_eq!(pong.tag("label"), Some("one"));

    // No reply: an ACK.
    c.send("@label=two PONG :whatever").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(
        lines
            .iter()
            .map(|l| Msg::parse(l))
            .any(|m| m.is("ACK") && m.tag("label") == Some("two")),
        "{lines:#?}"
    );

    // Several replies: a labeled-response batch around them.
    c.send("@label=three PRIVMSG root :help commands")
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    let parsed: Vec<Msg> = lines.iter().map(|l| Msg::parse(l)).collect();
    let start = parsed
        .iter()
        .position(|m| m.is("BATCH") && m.tag("label") == Some("three"))
        .expect("BATCH +");
    let reference = parsed[start].param(0).trim_start_matches('+').to_string();
    assert_eq!(parsed[start].param(1), "labeled-response");
    let inside = parsed
        .iter()
        .filter(|m| m.tag("batch") == Some(reference.as_str()))
        .count();
    assert!(
        inside > 5,
        "root's reply lines are in the batch: {lines:#?}"
    );
    assert!(
        parsed
            .iter()
            .any(|m| m.is("BATCH") && m.param(0) == format!("-{reference}"))
    );

    // To oneself: the delivery is not part of the labeled reply; the echo is.
    c.send("@label=four PRIVMSG alice :hi me").await.unwrap();
    let lines = c.sync().await.unwrap();
    let privmsgs: Vec<Msg> = lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("PRIVMSG"))
        .collect();
    assert_eq!(privmsgs.len(), 2, "{lines:#?}");
    assert_eq!(
        privmsgs
            .iter()
            .filter(|m| m.tag("label") == Some("four"))
            .count(),
        1
    );
}

#[tokio::test]
async fn monitor_follows_contacts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register("alice").await.unwrap();
    let burst = c.sync().await.unwrap();
    let _ = burst;
    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    c.send("MONITOR + bob,root").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 731 alice :bob");
    assert_any(&lines, " 730 alice :root!root@localhost");
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(" 730 alice :bob!bob@test.example").await.unwrap();
    acc.contact("bob", PresenceState::Offline).await.unwrap();
    c.expect(" 731 alice :bob").await.unwrap();
    c.send("MONITOR L").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 732 alice :");
    assert_any(&lines, " 733 alice :End of MONITOR list");
    c.send("MONITOR - bob").await.unwrap();
    c.send("MONITOR C").await.unwrap();
    c.send("MONITOR L").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(!lines.iter().any(|l| l.contains(" 732 ")), "{lines:#?}");
}

#[tokio::test]
async fn tagmsg_to_self_is_delivered_and_echoed_with_client_tags() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps(
        "alice",
        &["batch", "labeled-response", "echo-message", "message-tags"],
    )
    .await
    .unwrap();
    c.send("@label=t1;+draft/react=yes TAGMSG alice")
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    let tagmsgs: Vec<Msg> = lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("TAGMSG"))
        .collect();
    assert_eq!(tagmsgs.len(), 2, "{lines:#?}");
    assert_eq!(
        tagmsgs
            .iter()
            .filter(|m| m.tag("label") == Some("t1"))
            .count(),
        1
    );
    assert!(
        tagmsgs.iter().all(|m| m.tag("+draft/react") == Some("yes")),
        "{lines:#?}"
    );
    c.send("TAGMSG").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 461 alice TAGMSG ");
}
