//! The daemon and `waggle user add` started at the same moment on a database that
//! does not exist yet: both succeed, in any order, and the user is there.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_waggle");
const ROUNDS: usize = 20;

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

#[test]
fn daemon_and_user_add_race_on_a_fresh_database() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data/waggle.db");
        let port = free_port();
        let mut daemon_cmd = Command::new(BIN);
        daemon_cmd
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database"])
            .arg(&db)
            .env("WAGGLE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut add_cmd = Command::new(BIN);
        add_cmd
            .arg("--database")
            .arg(&db)
            .args(["user", "add", "alice"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Alternate who goes first.
        let (mut daemon, add) = if round % 2 == 0 {
            let d = Daemon(daemon_cmd.spawn().unwrap());
            (d, add_cmd.spawn().unwrap())
        } else {
            let a = add_cmd.spawn().unwrap();
            (Daemon(daemon_cmd.spawn().unwrap()), a)
        };
        let mut add = add;
        add.stdin.take().unwrap().write_all(b"secret\n").unwrap();
        let added = add.wait_with_output().unwrap();
        assert!(
            added.status.success(),
            "round {round}: user add failed: {}",
            String::from_utf8_lossy(&added.stderr)
        );

        // The daemon is up and listening, not dead of the race.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = daemon.0.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = daemon.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("round {round}: the daemon exited with {status}: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: the daemon never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let list = Command::new(BIN)
            .arg("--database")
            .arg(&db)
            .args(["user", "list"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&list.stdout);
        assert!(
            list.status.success() && out.contains("alice") && out.contains("1 user(s)"),
            "round {round}: {out}"
        );
    }
}
