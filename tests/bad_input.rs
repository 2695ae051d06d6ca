//! Bad input from the IRC client: over-long lines, endless lines, invalid UTF-8,
//! malformed lines, unknown commands, flooding, and a client that never reads.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use waggle_tests::{GatewayOptions, IrcClient, Msg, TestGateway, assert_any, canon};

fn count(lines: &[String], code: &str) -> usize {
    lines.iter().filter(|l| Msg::parse(l).is(code)).count()
}

#[tokio::test]
async fn line_of_600_bytes_gets_417_and_the_connection_goes_on() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let long = format!("PRIVMSG &bitlbee :{}", "x".repeat(600));
    c.send(&long).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_eq!(count(&lines, "417"), 1, "{lines:?}");
    assert_any(&lines, ":localhost 417 alice :Input line was too long");
    c.root_expect("plugins", "Enabled Protocols").await.unwrap();

    // Exactly 512 bytes with CRLF is fine.
    let fits = format!("PRIVMSG &bitlbee :help {}", "y".repeat(510 - 23));
    assert_eq!(fits.len(), 510);
    c.send(&fits).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_eq!(count(&lines, "417"), 0, "{lines:?}");
    assert_any(&lines, "No help available");
}

#[tokio::test]
async fn ten_megabytes_without_newline_get_one_417_and_the_connection_lives() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..10 {
        c.send_raw(&chunk).await.unwrap();
    }
    c.send_raw(b"\r\n").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_eq!(count(&lines, "417"), 1, "{lines:?}");
    c.root_expect("plugins", "Enabled Protocols").await.unwrap();
}

#[tokio::test]
async fn over_long_line_before_registration() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send(&format!("NICK {}", "n".repeat(700))).await.unwrap();
    let l = c.expect_numeric("417").await.unwrap();
    assert_eq!(canon(&l), ":localhost 417 * :Input line was too long");
    c.register("alice").await.unwrap();
}

#[tokio::test]
async fn invalid_utf8_to_root_is_repaired() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send_raw(b"PRIVMSG &bitlbee :\xff\xfe\xc3 frob\r\n")
        .await
        .unwrap();
    let texts = c.sync_root().await.unwrap();
    assert_any(&texts, "Unknown command: \u{fffd}");
    c.send_raw(b"PRIVMSG root :help \xe2\x28\xa1\r\n")
        .await
        .unwrap();
    let texts = c.sync_root().await.unwrap();
    assert_any(&texts, "No help available");
    c.root_expect("plugins", "Enabled Protocols").await.unwrap();
}

#[tokio::test]
async fn malformed_lines_are_ignored() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    for raw in [
        &b"\r\n"[..],
        b"\n\n\n",
        b"   \r\n",
        b":onlyaprefix\r\n",
        b"@only=tags\r\n",
        b"@tag=x :prefix\r\n",
        b"PRIV\0MSG root :x\r\n",
        b"\rPRIVMSG &bitlbee :plugins\r",
    ] {
        c.send_raw(raw).await.unwrap();
    }
    let lines = c.sync().await.unwrap();
    // The lone-CR-terminated line was a line of its own.
    assert_any(&c.root_texts(&lines), "Enabled Protocols");
    let again = c.root("plugins").await.unwrap();
    assert_eq!(
        again
            .iter()
            .filter(|l| l.contains("Enabled Protocols"))
            .count(),
        1,
        "{again:?}"
    );
}

#[tokio::test]
async fn unknown_command_411_412_403() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("FROBNICATE a b").await.unwrap();
    let l = c.expect_numeric("421").await.unwrap();
    assert_eq!(
        canon(&l),
        ":localhost 421 alice FROBNICATE :Unknown command"
    );
    c.send("PRIVMSG root").await.unwrap();
    let l = c.expect_numeric("412").await.unwrap();
    assert_eq!(canon(&l), ":localhost 412 alice :No text to send");
    c.send("PRIVMSG root :").await.unwrap();
    c.expect_numeric("412").await.unwrap();
    c.send("PRIVMSG").await.unwrap();
    let l = c.expect_numeric("411").await.unwrap();
    assert_eq!(
        canon(&l),
        ":localhost 411 alice :No recipient given (PRIVMSG)"
    );
    c.send("JOIN nohash").await.unwrap();
    let l = c.expect_numeric("403").await.unwrap();
    assert_eq!(canon(&l), ":localhost 403 alice nohash :No such channel");
    c.send("JOIN #").await.unwrap();
    c.expect_numeric("403").await.unwrap();
    c.send("JOIN").await.unwrap();
    c.expect_numeric("461").await.unwrap();
    c.send("PART #notjoined").await.unwrap();
    c.expect_numeric("403").await.unwrap();
    c.send("PING").await.unwrap();
    c.expect_numeric("461").await.unwrap();
    c.send("USER again 0 * :x").await.unwrap();
    c.expect_numeric("462").await.unwrap();
    c.root_expect("plugins", "Enabled Protocols").await.unwrap();
}

#[tokio::test]
async fn a_burst_of_500_commands_gets_500_answers() {
    // The gateway's own flood settings, not the tests' generous ones.
    let d = waggle_irc::ServerConfig::default();
    let opts = GatewayOptions {
        flood_burst: d.flood_burst,
        flood_rate: d.flood_rate,
        flood_max_queue: d.flood_max_queue,
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let mut burst = Vec::new();
    for i in 0..500 {
        burst.extend_from_slice(format!("PRIVMSG &bitlbee :help nosuchtopic{i}\r\n").as_bytes());
    }
    // One write, as a paste or a replaying bouncer sends it.
    c.send_raw(&burst).await.unwrap();
    let lines = c.sync().await.unwrap();
    let answers: Vec<String> = c
        .root_texts(&lines)
        .into_iter()
        .filter(|t| t.starts_with("No help available on `nosuchtopic"))
        .collect();
    assert_eq!(answers.len(), 500, "{lines:?}");
    // In order, none lost, none twice.
    for (i, a) in answers.iter().enumerate() {
        assert!(a.contains(&format!("`nosuchtopic{i}'")), "{i}: {a}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("ERROR")), "{lines:?}");
}

#[tokio::test]
async fn flooding_before_registering_is_excess_flood() {
    let d = waggle_irc::ServerConfig::default();
    let opts = GatewayOptions {
        flood_max_queue: 50,
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.connect().await.unwrap();
    let mut burst = Vec::new();
    for i in 0..200 {
        burst.extend_from_slice(format!("PING :x{i}\r\n").as_bytes());
    }
    // The gateway may close while we are still writing.
    let _ = c.send_raw(&burst).await;
    let rest = c
        .expect_closed_within(Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("ERROR ") && l.contains("Excess Flood")),
        "{rest:?}"
    );
    assert!(
        d.flood_max_queue >= 100,
        "the default leaves room for a real registration"
    );

    // The gateway itself is fine.
    let mut other = gw.client("bob").await.unwrap();
    other
        .root_expect("plugins", "Enabled Protocols")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_others_go_on() {
    let opts = GatewayOptions {
        sendq_lines: 1024,
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    // `fast` asks for exactly as much as `slow` and reads it.
    let mut fast = gw.client("bob").await.unwrap();
    let mut slow = IrcClient::connect_with_recv_buffer(gw.addr(), 4096)
        .await
        .unwrap();
    slow.register("alice").await.unwrap();

    // Each `help commands` is ~25 lines; a batch stays well below the SendQ.
    let batch = b"PRIVMSG &bitlbee :help commands\r\n".repeat(10);
    let mut batches = 0;
    let mut dropped = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for _ in 0..100_000 {
        if std::time::Instant::now() > deadline {
            break;
        }
        if slow.send_raw(&batch).await.is_err() {
            dropped = true;
            break;
        }
        batches += 1;
        fast.send_raw(&batch).await.unwrap();
        let lines = fast.sync().await.unwrap();
        let answered = lines
            .iter()
            .filter(|l| l.contains("These are all root commands"))
            .count();
        assert_eq!(answered, 10, "the reading client lost output");
    }
    assert!(dropped, "still connected after {batches} batches");

    // What is left to read ends with the gateway closing the connection.
    let seen = slow
        .expect_closed_within(Duration::from_secs(20))
        .await
        .unwrap();
    let answered = seen
        .iter()
        .filter(|l| l.contains("These are all root commands"))
        .count();
    assert!(answered < batches * 10, "all answered: not dropped");

    fast.root_expect("plugins", "Enabled Protocols")
        .await
        .unwrap();
    let mut third = gw.client("carol").await.unwrap();
    third
        .root_expect("plugins", "Enabled Protocols")
        .await
        .unwrap();
}
