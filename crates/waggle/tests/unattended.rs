//! Nothing lost across a crash: the real daemon with an unattended key, a real
//! Prosody with stream management, archive and offline storage, and a real
//! XMPP contact. The daemon is killed with SIGKILL while the user is detached;
//! what the contact sends before, during and after the outage reaches the user
//! exactly once, in order, when they attach again.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use waggle_tests::prosody::{DOMAIN, Prosody, XmppContact, befriend};
use waggle_tests::{IrcClient, Msg};
use xmpp_parsers::presence::{Show, Type as PresenceType};

const BIN: &str = env!("CARGO_BIN_EXE_waggle");

/// A daemon child, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

fn start(config: &Path) -> Daemon {
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env(
            "WAGGLE_LOG",
            std::env::var("WAGGLE_TEST_DAEMON_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Daemon(child)
}

async fn connect(port: u16) -> IrcClient {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match IrcClient::connect(addr).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "never listened: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Attach as alice with PASS, as client `name` (`alice@probe` names the
/// client); the lines of the burst (replay included).
async fn attach(port: u16, name: &str, caps: &[&str]) -> (IrcClient, Vec<String>) {
    let mut c = connect(port).await;
    c.send("PASS pw").await.unwrap();
    if !caps.is_empty() {
        c.send("CAP LS 302").await.unwrap();
        c.send(&format!("CAP REQ :{}", caps.join(" ")))
            .await
            .unwrap();
        c.expect(" ACK ").await.unwrap();
        c.send("CAP END").await.unwrap();
    }
    c.send("NICK alice").await.unwrap();
    c.send(&format!("USER {name} 0 * :Alice")).await.unwrap();
    let burst = c.finish_registration("alice").await.unwrap();
    // PASS identifies after the welcome: the replay follows the handover.
    let mut lines = burst;
    lines.extend(c.sync().await.unwrap());
    (c, lines)
}

/// bob's messages among `lines`, in order.
fn from_bob(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("PRIVMSG") && m.nick() == Some("bob"))
        .map(|m| m.trailing().to_string())
        .collect()
}

/// Wait until bob sees alice available (any show) from the gateway.
async fn alice_seen(bob: &mut XmppContact, show: Option<Show>) {
    let alice = format!("alice@{DOMAIN}");
    for _ in 0..20 {
        let p = bob
            .expect_presence(&alice, PresenceType::None)
            .await
            .unwrap();
        if p.show == show {
            return;
        }
    }
    panic!("alice never showed {show:?}");
}

// A current-thread runtime: the test's own tokio-xmpp contacts now and then
// miss stanzas under stream management on a multi-thread one.
#[tokio::test]
async fn kill_9_with_the_unattended_key_loses_nothing() {
    let prosody = Prosody::options()
        .smacks()
        .mam()
        .start(&[("alice", "pw"), ("bob", "pw")])
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&prosody, "bob", "pw").await.unwrap();
    {
        let mut alice = XmppContact::connect(&prosody, "alice", "pw").await.unwrap();
        if let Err(e) = befriend(&mut alice, &mut bob, Some("Bob"), None).await {
            panic!("{e:#}\n{}", prosody.log());
        }
        alice.unavailable().await.unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("unattended.key");
    let made = Command::new(BIN).arg("keygen").arg(&key).status().unwrap();
    assert!(made.success());
    let port = free_port();
    let config = dir.path().join("waggle.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\n[storage]\ndatabase = \"{}\"\nunattended_key = \"{}\"\n",
            dir.path().join("waggle.db").display(),
            key.display()
        ),
    )
    .unwrap();

    let mut daemon = start(&config);
    let mut c = connect(port).await;
    c.register("alice").await.unwrap();
    c.root_expect("register pw", "Account successfully created")
        .await
        .unwrap();
    c.root_expect(
        &format!("account add jabber alice@{DOMAIN} pw"),
        "Account successfully added",
    )
    .await
    .unwrap();
    for (k, v) in prosody.account_settings() {
        c.root(&format!("account jabber set {k} {v}"))
            .await
            .unwrap();
    }
    c.send("PRIVMSG &bitlbee :account jabber on").await.unwrap();
    c.expect("jabber - Logging in: Logged in").await.unwrap();
    alice_seen(&mut bob, None).await;

    // Before: seen live.
    bob.say(&format!("alice@{DOMAIN}"), "b1 before")
        .await
        .unwrap();
    c.expect("b1 before").await.unwrap();
    c.quit().await.unwrap();
    // Detached: still there, away with detach_away's text.
    alice_seen(&mut bob, Some(Show::Away)).await;
    bob.say(&format!("alice@{DOMAIN}"), "b2 detached")
        .await
        .unwrap();

    // The crash, and what arrives while the gateway is gone.
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    bob.say(&format!("alice@{DOMAIN}"), "b3 down")
        .await
        .unwrap();
    bob.say(&format!("alice@{DOMAIN}"), "b4 down")
        .await
        .unwrap();

    // After: the user comes back by itself (no identify), catches up, and
    // gets the next message live.
    let _daemon = start(&config);
    alice_seen(&mut bob, Some(Show::Away)).await;
    bob.say(&format!("alice@{DOMAIN}"), "b5 after")
        .await
        .unwrap();

    // Wait (bounded) until b5 is in the history, through a client that does
    // not take a backlog.
    let (mut probe, _) = attach(
        port,
        "alice@probe",
        &["draft/chathistory", "batch", "server-time"],
    )
    .await;
    let mut logged = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..100 {
        probe.send("CHATHISTORY LATEST bob * 50").await.unwrap();
        raw = probe.sync().await.unwrap();
        // Only the batch: b5 may also reach this client live.
        let batch: Vec<String> = raw
            .iter()
            .filter(|l| l.contains(";batch=") || l.starts_with("@batch="))
            .cloned()
            .collect();
        logged = from_bob(&batch);
        if logged.iter().any(|t| t == "b5 after") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        logged,
        ["b1 before", "b2 detached", "b3 down", "b4 down", "b5 after"],
        "the history holds each message once, in order: {raw:#?}"
    );
    probe.quit().await.unwrap();

    // The client that saw b1 gets the rest, once each, in order.
    let (_c, lines) = attach(port, "alice", &[]).await;
    let replayed: Vec<String> = from_bob(&lines)
        .into_iter()
        .map(|t| {
            t.split_once("\u{2}]\u{2} ")
                .map(|x| x.1.to_string())
                .unwrap_or(t)
        })
        .collect();
    assert_eq!(
        replayed,
        ["b2 detached", "b3 down", "b4 down", "b5 after"],
        "{lines:#?}"
    );
}
