//! Shared helpers for the store's integration tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use waggle_core::{AccountRecord, Conversation, Direction, LogEntry, MessageKind, Secret};
use waggle_store::SqliteStore;

/// What the tests return.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A database path inside `dir`, in subdirectories that do not exist yet.
pub fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("nested").join("waggle.db")
}

/// A fresh store in a temporary directory (kept alive by the returned guard).
pub async fn fresh() -> Result<(tempfile::TempDir, PathBuf, SqliteStore), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await?;
    Ok((dir, path, store))
}

/// A second, raw connection pool to the same file, to look at what is on disk.
pub async fn raw(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    SqlitePool::connect_with(SqliteConnectOptions::new().filename(path)).await
}

/// An account record ready to save.
pub fn account(handle: &str, tag: &str, password: Option<&str>, position: u32) -> AccountRecord {
    AccountRecord {
        row: None,
        protocol: "jabber".into(),
        handle: handle.into(),
        tag: tag.into(),
        password: password.map(|p| Secret(p.into())),
        settings: BTreeMap::new(),
        position,
    }
}

/// A settings map from pairs.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A time `ms` milliseconds after the epoch.
pub fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

/// An incoming plain message from nobody in particular, without protocol ids.
pub fn entry(conversation: Conversation, at_ms: u64, msgid: &str, body: &str) -> LogEntry {
    LogEntry {
        msgid: msgid.into(),
        conversation,
        direction: Direction::Incoming,
        at: at(at_ms),
        kind: MessageKind::Normal,
        sender: String::new(),
        body: body.into(),
        archive_id: None,
        origin_id: None,
    }
}
