//! The `waggle` binary: admin subcommands, config checking, and a real daemon
//! started with `--listen`/`--database`, stopped with SIGTERM, and started again.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod irc;

use irc::Irc;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_waggle");

fn waggle(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn user_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sub/waggle.db");
    let o = waggle(&db, &["user", "add", "alice"], Some("secret\n"));
    assert!(o.status.success(), "{o:?}");
    assert!(db.exists(), "database and its directory are created");
    let o = waggle(&db, &["user", "add", "Alice"], Some("other\n"));
    assert!(
        !o.status.success(),
        "duplicate names are refused case-insensitively"
    );
    let o = waggle(&db, &["user", "add", "bad nick"], Some("x\n"));
    assert!(!o.status.success());
    let o = waggle(&db, &["user", "add", "bob"], Some("\n"));
    assert!(!o.status.success(), "empty passwords are refused");
    let o = waggle(&db, &["user", "list"], None);
    assert!(
        stdout(&o).contains("alice") && stdout(&o).contains("1 user(s)"),
        "{}",
        stdout(&o)
    );
    let o = waggle(&db, &["user", "passwd", "alice"], Some("newpass\n"));
    assert!(o.status.success(), "{o:?}");
    let o = waggle(&db, &["user", "passwd", "nobody"], Some("x\n"));
    assert!(!o.status.success());
    let o = waggle(&db, &["user", "del", "alice"], None);
    assert!(o.status.success());
    let o = waggle(&db, &["user", "del", "alice"], None);
    assert!(!o.status.success(), "deleting twice is an error");
    let o = waggle(&db, &["user", "list"], None);
    assert!(stdout(&o).contains("0 user(s)"));
}

#[test]
fn check_config_names_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/waggle.toml");
    let o = waggle(
        &db,
        &["--config", good.to_str().unwrap(), "check-config"],
        None,
    );
    assert!(o.status.success(), "{o:?}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = [\"127.0.0.1:6667\"]\nfrobnicate = true\n",
    )
    .unwrap();
    let o = waggle(
        &db,
        &["--config", bad.to_str().unwrap(), "check-config"],
        None,
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("frobnicate"),
        "{o:?}"
    );
    let o = waggle(
        &db,
        &["--config", "/nonexistent/waggle.toml", "check-config"],
        None,
    );
    assert!(!o.status.success());
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(db: &Path, port: u16) -> Daemon {
    let child = Command::new(BIN)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database"])
        .arg(db)
        .env("WAGGLE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon(child)
}

#[test]
fn daemon_persists_across_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("waggle.db");
    let port = free_port();
    let mut daemon = start(&db, port);
    let mut c = Irc::connect(port);
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice");
    c.expect(" 001 alice ");
    c.expect("identify");
    c.send("PRIVMSG &bitlbee :register s3cret");
    c.expect("Account successfully created");
    c.send("PRIVMSG &bitlbee :set status \"out to lunch\"");
    c.expect("status = `out to lunch'");
    Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    let _daemon = start(&db, port);
    let mut c = Irc::connect(port);
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice");
    c.expect(" 001 alice ");
    c.send("PRIVMSG &bitlbee :identify s3cret");
    c.expect("Password accepted");
    c.send("PRIVMSG &bitlbee :set status");
    c.expect("status = `out to lunch'");
}

/// Log one message per age (in days) for `name`, through the store itself.
fn log_messages(db: &Path, name: &str, password: &str, days_ago: &[u64]) {
    use waggle_core::{Conversation, Direction, LogEntry, MessageKind, MessageLog, Store};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = waggle_store::SqliteStore::open(db).await.unwrap();
        let (user, key) = store.authenticate(name, password).await.unwrap().unwrap();
        let now = std::time::SystemTime::now();
        for (i, days) in days_ago.iter().enumerate() {
            let entry = LogEntry {
                msgid: format!("m{i}"),
                conversation: Conversation::Local(format!("&chan{}", i % 2)),
                direction: Direction::Incoming,
                at: now - Duration::from_secs(days * 24 * 3600),
                kind: MessageKind::Normal,
                sender: "root".into(),
                body: "hello".into(),
                archive_id: None,
                origin_id: None,
            };
            store.append(user, &key, &entry).await.unwrap().unwrap();
        }
        store.close().await;
    });
}

#[test]
fn user_history_shows_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("waggle.db");
    assert!(
        waggle(&db, &["user", "add", "alice"], Some("secret\n"))
            .status
            .success()
    );
    let o = waggle(&db, &["user", "history", "alice"], None);
    assert!(o.status.success(), "{o:?}");
    assert!(
        stdout(&o).contains("alice: 0 message(s) in 0 conversation(s)"),
        "{o:?}"
    );

    log_messages(&db, "alice", "secret", &[40, 20, 1]);
    let o = waggle(&db, &["user", "history", "ALICE"], None);
    let out = stdout(&o);
    assert!(
        out.contains("ALICE: 3 message(s) in 2 conversation(s)"),
        "{out}"
    );
    assert!(out.contains("oldest ") && out.contains(" UTC"), "{out}");

    let o = waggle(&db, &["user", "history", "alice", "--before", "10"], None);
    let out = stdout(&o);
    assert!(out.contains("Deleted 2 message(s)"), "{out}");
    assert!(out.contains("1 message(s) in 1 conversation(s)"), "{out}");

    let o = waggle(
        &db,
        &["user", "history", "alice", "--clear", "--before", "3"],
        None,
    );
    assert!(!o.status.success(), "--clear and --before are exclusive");
    let o = waggle(&db, &["user", "history", "alice", "--clear"], None);
    let out = stdout(&o);
    assert!(
        out.contains("Deleted 1 message(s)") && out.contains("0 message(s)"),
        "{out}"
    );
    let o = waggle(&db, &["user", "history", "nobody"], None);
    assert!(!o.status.success());
}

#[test]
fn passwd_says_the_history_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("waggle.db");
    assert!(
        waggle(&db, &["user", "add", "alice"], Some("secret\n"))
            .status
            .success()
    );
    log_messages(&db, "alice", "secret", &[2, 1]);
    let o = waggle(&db, &["user", "passwd", "alice"], Some("fresh\n"));
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).contains("2 message(s) of history"), "{o:?}");
    let o = waggle(&db, &["user", "history", "alice"], None);
    assert!(stdout(&o).contains("0 message(s)"), "{o:?}");
}

#[cfg(unix)]
#[test]
fn keygen_writes_a_private_key_that_check_config_accepts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("waggle.db");
    let key = dir.path().join("unattended.key");
    let o = waggle(&db, &["keygen", key.to_str().unwrap()], None);
    assert!(o.status.success(), "{o:?}");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let first = std::fs::read(&key).unwrap();
    let o = waggle(&db, &["keygen", key.to_str().unwrap()], None);
    assert!(!o.status.success(), "never overwrites");
    assert_eq!(std::fs::read(&key).unwrap(), first);

    let config = dir.path().join("waggle.toml");
    std::fs::write(
        &config,
        format!("[storage]\nunattended_key = {:?}\n", key.to_str().unwrap()),
    )
    .unwrap();
    let check = |db: &Path| {
        waggle(
            db,
            &["--config", config.to_str().unwrap(), "check-config"],
            None,
        )
    };
    let o = check(&db);
    assert!(o.status.success(), "{o:?}");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = check(&db);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("0644"), "{o:?}");
    // The daemon refuses to start with it too.
    let o = waggle(
        &db,
        &["--config", config.to_str().unwrap(), "user", "list"],
        None,
    );
    assert!(!o.status.success());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key, "c2hvcnQ=\n").unwrap();
    let o = check(&db);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bytes"),
        "{o:?}"
    );
    std::fs::remove_file(&key).unwrap();
    assert!(!check(&db).status.success());
}
