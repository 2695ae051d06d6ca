//! The Skype backend against recorded transcripts: every pair of the shared
//! conformance suite (`../shared/conformance/skype/`, recorded from BitlBee's
//! Skype plugin) and every one of Waggle's own (`tests/fixtures/skype/`), each
//! played by a replaying skyped on one side and a scripted IRC client on the
//! other, through a real gateway.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use waggle_tests::skyped::{pairs_in, run_pair_in};

/// How many pairs run at once.
const PARALLEL: usize = 4;

/// `$CONFORMANCE_DIR/skype`, else `../shared/conformance/skype` beside the repository.
fn shared_dir() -> PathBuf {
    match std::env::var_os("CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir).join("skype"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/skype"),
    }
}

fn own_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/skype")
}

/// Run every pair in `dir`; fail listing each failing pair with its reason.
/// `expected` is how many pairs the folder holds today: fewer means a
/// transcript went missing.
async fn run_all(dir: &Path, expected: usize) {
    assert!(
        dir.is_dir(),
        "the transcript folder {} is missing (the shared conformance suite lives beside the \
         repository, in ../shared/conformance/skype, or set CONFORMANCE_DIR)",
        dir.display()
    );
    let names = pairs_in(dir).unwrap();
    assert!(
        names.len() >= expected,
        "only {} transcript pairs in {} (expected {expected})",
        names.len(),
        dir.display()
    );
    // Every transcript file belongs to a pair that runs (a half pair is an
    // error of `pairs_in`); nothing else but the README lies there.
    let files = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".mock"))
        .count();
    assert_eq!(
        files,
        2 * names.len(),
        "transcripts that are not run in {}",
        dir.display()
    );
    let limit = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for name in names {
        let dir = dir.to_path_buf();
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = run_pair_in(&dir, &name).await;
            (name, result)
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        let (name, result) = t.await.unwrap();
        match result {
            Ok(report) => {
                eprintln!("pass: {name}");
                for l in report.after_end {
                    eprintln!("  {name}: after the end: {l}");
                }
            }
            Err(e) => {
                eprintln!("FAIL: {name}");
                failures.push(format!("=== {name}: {e:#}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript pair(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_conformance_pairs() {
    run_all(&shared_dir(), 15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_transcripts() {
    run_all(&own_dir(), 24).await;
}
