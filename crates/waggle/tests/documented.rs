//! What the README promises of the daemon, checked on the real binary: SIGINT
//! stops it cleanly with nothing lost, `--listen` is repeatable,
//! `max_connections` holds, a user made with `waggle user add` logs in under
//! `auth_mode = "registered"`, no password or message body reaches the log
//! above debug level, and `[server] threads` sets the threads that serve.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod daemon;

use daemon::{Daemon, DaemonConfig, admin};
use waggle_tests::prosody::gateway::LOGIN_TIMEOUT;
use waggle_tests::prosody::{Prosody, XmppContact, befriend};
use waggle_tests::{DEFAULT_TIMEOUT, IrcClient, Msg, pred};

async fn client(addr: std::net::SocketAddr, nick: &str) -> IrcClient {
    let mut c = IrcClient::connect(addr).await.unwrap();
    c.register(nick).await.unwrap();
    c
}

#[tokio::test]
async fn sigint_stops_cleanly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig::new(&dir.path().join("waggle.db"));
    let mut d = Daemon::start(dir.path(), &cfg).unwrap();
    let mut c = client(d.addr(), "alice").await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("set away \"gone fishing\"", "away = `gone fishing'")
        .await
        .unwrap();
    d.signal("INT").unwrap();
    // Clients are told, then the connection closes.
    let rest = c.expect_closed().await.unwrap();
    assert!(rest.iter().any(|l| Msg::parse(l).is("ERROR")), "{rest:?}");
    let status = d.wait_exit().await.unwrap();
    assert!(status.success(), "{status:?}: {}", d.log_text());

    let d = Daemon::start(dir.path(), &cfg).unwrap();
    let mut c = client(d.addr(), "alice").await;
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("set away", "away = `gone fishing'")
        .await
        .unwrap();
}

#[tokio::test]
async fn listen_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig {
        listeners: 3,
        listen_flags: true,
        ..DaemonConfig::new(&dir.path().join("waggle.db"))
    };
    let d = Daemon::start(dir.path(), &cfg).unwrap();
    // Every address serves, and they are one gateway: a user registered on one
    // identifies on another.
    let addrs = d.addrs().to_vec();
    let mut first = client(addrs[0], "alice").await;
    first
        .root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    for addr in &addrs[1..] {
        let mut c = client(*addr, "alice").await;
        c.root_expect("identify s3cret", "Password accepted")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn max_connections_refuses_one_too_many() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig {
        server: "max_connections = 2\n".into(),
        ..DaemonConfig::new(&dir.path().join("waggle.db"))
    };
    let d = Daemon::start(dir.path(), &cfg).unwrap();
    // (The readiness probe's connection may still hold a place for a moment.)
    let a = client_when_there_is_room(d.addr(), "alice").await;
    let _b = client_when_there_is_room(d.addr(), "bob").await;
    let mut third = IrcClient::connect(d.addr()).await.unwrap();
    let lines = third.expect_closed().await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| Msg::parse(l).is("ERROR") && l.contains("too many connections")),
        "{lines:?}"
    );
    // A place freed is a place taken.
    a.quit().await.unwrap();
    client_when_there_is_room(d.addr(), "carol").await;
}

/// A client registered as `nick`, trying again (for a bounded time) while the
/// gateway says it is full.
async fn client_when_there_is_room(addr: std::net::SocketAddr, nick: &str) -> IrcClient {
    let deadline = tokio::time::Instant::now() + DEFAULT_TIMEOUT;
    loop {
        let mut c = IrcClient::connect(addr).await.unwrap();
        match c.register(nick).await {
            Ok(_) => return c,
            Err(e) => {
                let full = c
                    .history()
                    .iter()
                    .any(|l| l.contains("too many connections"));
                assert!(full, "{e:#}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never a place: {e:#}"
                );
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_user_made_by_the_admin_logs_in_under_registered_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("waggle.db");
    let o = admin(&db, &["user", "add", "alice"], "s3cret\n").unwrap();
    assert!(o.status.success(), "{o:?}");
    let cfg = DaemonConfig {
        server: "auth_mode = \"registered\"\n".into(),
        ..DaemonConfig::new(&db)
    };
    let d = Daemon::start(dir.path(), &cfg).unwrap();
    // With PASS at connection time.
    let mut c = IrcClient::connect(d.addr()).await.unwrap();
    c.send("PASS s3cret").await.unwrap();
    let burst = c.register("alice").await.unwrap();
    waggle_tests::assert_any(&burst, "Password accepted");
    c.root_expect("account list", "End of account list")
        .await
        .unwrap();
    c.quit().await.unwrap();
    // With identify after it.
    let mut c = client(d.addr(), "alice").await;
    c.root_expect("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.root_expect("account list", "End of account list")
        .await
        .unwrap();
    // Nobody else gets in, nor signs up.
    let mut m = client(d.addr(), "mallory").await;
    m.root_expect("register pw", "does not allow registering")
        .await
        .unwrap();
    m.root_expect("account list", "only accepts registered users")
        .await
        .unwrap();
}

#[tokio::test]
async fn no_password_nor_body_is_logged_above_debug() {
    const LOGIN: &str = "Login-Secret-41";
    const NEW_LOGIN: &str = "Login-Secret-42";
    const IM: &str = "Im-Secret-43";
    const TO_BOB: &str = "Body-Outgoing-44";
    const FROM_BOB: &str = "Body-Incoming-45";
    let p = Prosody::start(&[("alice", IM), ("bob", "pw")])
        .await
        .unwrap();
    let mut bob = XmppContact::connect(&p, "bob", "pw").await.unwrap();
    {
        let mut alice = XmppContact::connect(&p, "alice", IM).await.unwrap();
        befriend(&mut alice, &mut bob, None, None).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig {
        // The most that is promised: info (the level of the default config).
        log_level: "info".into(),
        ..DaemonConfig::new(&dir.path().join("waggle.db"))
    };
    let mut d = Daemon::start(dir.path(), &cfg).unwrap();
    let mut c = client(d.addr(), "alice").await;
    c.root_expect(&format!("register {LOGIN}"), "Account successfully created")
        .await
        .unwrap();
    c.root_expect(
        &format!("account add jabber alice@localhost {IM}"),
        "Account successfully added",
    )
    .await
    .unwrap();
    for (k, v) in p.account_settings() {
        c.root(&format!("account jabber set {k} {v}"))
            .await
            .unwrap();
    }
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    c.set_timeout(DEFAULT_TIMEOUT);
    c.send(&format!("PRIVMSG bob :{TO_BOB}")).await.unwrap();
    assert_eq!(bob.expect_body("alice@localhost").await.unwrap(), TO_BOB);
    bob.say("alice@localhost", FROM_BOB).await.unwrap();
    c.expect(FROM_BOB).await.unwrap();
    c.root_expect(&format!("set password {NEW_LOGIN}"), "Setting changed")
        .await
        .unwrap();
    // Another client identifies, once wrongly, once rightly.
    let mut e = client(d.addr(), "alice").await;
    e.root_expect(&format!("identify {LOGIN}"), "Incorrect password")
        .await
        .unwrap();
    e.root_expect(&format!("identify {NEW_LOGIN}"), "Password accepted")
        .await
        .unwrap();
    d.signal("TERM").unwrap();
    d.wait_exit().await.unwrap();

    let log = d.log_text();
    // The check means something only if the log says things at all.
    assert!(log.contains("listening"), "{log}");
    for secret in [LOGIN, NEW_LOGIN, IM, TO_BOB, FROM_BOB] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

/// tokio's name for the threads of a multi-threaded runtime and of its pool for
/// blocking work.
const RUNTIME_THREAD: &str = "tokio-rt-worker";

#[tokio::test]
async fn threads_sets_how_many_threads_serve() {
    let dir = tempfile::tempdir().unwrap();
    let one = DaemonConfig::new(&dir.path().join("one.db"));
    let d = Daemon::start(dir.path(), &one).unwrap();
    // One thread: the main thread serves; at most one pool thread did start-up work.
    assert!(
        d.threads_named(RUNTIME_THREAD).unwrap() <= 1,
        "{}",
        d.log_text()
    );
    let mut c = client(d.addr(), "alice").await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    drop(d);

    let three = DaemonConfig {
        server: "threads = 3\n".into(),
        ..DaemonConfig::new(&dir.path().join("three.db"))
    };
    let d = Daemon::start(dir.path(), &three).unwrap();
    assert!(
        d.threads_named(RUNTIME_THREAD).unwrap() >= 3,
        "{}",
        d.log_text()
    );
    // Users are served on several threads as on one.
    let mut a = client(d.addr(), "alice").await;
    let mut b = client(d.addr(), "bob").await;
    a.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    b.root_expect("register t0psecret", "Account successfully created")
        .await
        .unwrap();
    a.root_expect("set away \"on three threads\"", "away = `on three threads'")
        .await
        .unwrap();
}
