//! `timezone local` is the gateway machine's own zone: a gateway run with a
//! time zone of +05:30 (an offset no test machine's clock is in by chance)
//! shows replayed messages with that local time in BitlBee's timestamp.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod irc;

use irc::Irc;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_waggle");

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `HH:MM` at `secs` since the epoch, shifted by `offset` seconds.
fn clock(secs: u64, offset: u64) -> String {
    let day = (secs + offset) % 86_400;
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

#[test]
fn timezone_local_is_the_gateways_own_zone() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _daemon = Daemon(
        Command::new(BIN)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database"])
            .arg(dir.path().join("waggle.db"))
            // A POSIX zone five and a half hours east of UTC, no zone files needed.
            .env("TZ", "WGL-5:30")
            .env("WAGGLE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut a = Irc::connect(port);
    a.send("NICK alice");
    a.send("USER alice@desk 0 * :Alice");
    a.expect(" 366 alice &bitlbee ");
    a.send("PRIVMSG &bitlbee :register pw");
    a.expect("Account successfully created");
    // The laptop is there once (its read position is kept), then leaves.
    let mut b = Irc::connect(port);
    b.send("PASS pw");
    b.send("NICK alice");
    b.send("USER alice@laptop 0 * :Alice");
    b.expect("Password accepted");
    a.send("PRIVMSG alice :first note");
    b.expect("first note");
    b.send("QUIT");
    b.expect("ERROR");
    let sent = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    a.send("PRIVMSG alice :note to self");
    a.expect("PRIVMSG alice :note to self");
    a.send("QUIT");
    a.expect("ERROR");
    // Back, the laptop is given what it has not seen.
    let mut b = Irc::connect(port);
    b.send("PASS pw");
    b.send("NICK alice");
    b.send("USER alice@laptop 0 * :Alice");
    let line = b.expect("note to self");
    let stamp = line
        .split("\x02[\x02\x02\x02")
        .nth(1)
        .and_then(|r| r.split('\x02').next())
        .unwrap_or_else(|| panic!("no timestamp in {line:?}"))
        .to_string();
    let offset = 5 * 3600 + 30 * 60;
    let expected = [clock(sent, offset), clock(sent + 60, offset)];
    assert!(
        expected.iter().any(|e| stamp.starts_with(e.as_str())),
        "{stamp} is not local (+05:30) time {expected:?}: {line:?}"
    );
}
