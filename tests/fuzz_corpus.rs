//! Replays the fuzz corpora kept in the repository (`fuzz/corpus/<target>/`)
//! through the fuzz targets' own entry points (`fuzz/src/lib.rs`, included here
//! as a module), on stable Rust and without libFuzzer: every input a fuzzing run
//! kept, including the minimised inputs of crashes that were fixed, is checked
//! by the normal test command.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

#[path = "../fuzz/src/lib.rs"]
mod harness;

/// Every file of one target's corpus through that target; fails naming the
/// first input that fails.
fn replay(target: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{target}: only {} inputs", files.len());
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let known = catch_unwind(AssertUnwindSafe(|| harness::run(target, &data)))
            .unwrap_or_else(|_| panic!("{target}: {} fails", path.display()));
        assert!(known, "no target {target}");
    }
}

#[test]
fn every_target_has_a_corpus() {
    for target in harness::TARGETS {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }
}

#[test]
fn irc_line_corpus() {
    replay("irc_line");
}

#[test]
fn skyped_corpus() {
    replay("skyped");
}

#[test]
fn root_line_corpus() {
    replay("root_line");
}

#[test]
fn xmpp_stanza_corpus() {
    replay("xmpp_stanza");
}

#[test]
fn config_corpus() {
    replay("config");
}
