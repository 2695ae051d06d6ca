//! `waggle import-bitlbee` as the admin meets it, on the BitlBee-written fixtures:
//! exit status, an existing user, unreadable files, a missing directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_waggle");

fn waggle(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of the fixtures, plus `extra` files.
fn users_dir(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../waggle-store/tests/fixtures/bitlbee");
    let dir = tempfile::tempdir().unwrap();
    for name in ["alice.xml", "bob{away}.xml"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).unwrap();
    }
    for (name, contents) in extra {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    dir
}

#[test]
fn an_existing_user_is_reported_and_kept() {
    let users = users_dir(&[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let o = waggle(&db, &["user", "add", "alice"], Some("waggle-pw\n"));
    assert!(o.status.success(), "{}", text(&o));
    let o = waggle(
        &db,
        &["import-bitlbee", users.path().to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("alice.xml: a Waggle user Alice already exists; not overwritten")
            && out.contains("bob{away}.xml: imported user Bob[away]")
            && out.contains("2 file(s): 1 imported, 0 imported before, 1 existing user(s) kept"),
        "{out}"
    );
    let o = waggle(&db, &["user", "list"], None);
    let list = text(&o);
    assert!(
        list.contains("alice\t0 account(s)") && list.contains("Bob[away]\t1 account(s)"),
        "{list}"
    );
}

#[test]
fn a_bad_file_fails_the_run_but_not_the_others() {
    let users = users_dir(&[("zed.xml", "<user nick='zed'")]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let o = waggle(
        &db,
        &["import-bitlbee", users.path().to_str().unwrap()],
        None,
    );
    assert!(!o.status.success(), "a bad file must fail the run");
    let out = text(&o);
    assert!(
        out.contains("zed.xml: error: ")
            && out.contains("not well-formed XML")
            && out.contains("3 file(s): 2 imported")
            && out.contains("some files could not be imported"),
        "{out}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let missing = dir.path().join("no-such-dir");
    let o = waggle(&db, &["import-bitlbee", missing.to_str().unwrap()], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("no-such-dir"), "{}", text(&o));
}
