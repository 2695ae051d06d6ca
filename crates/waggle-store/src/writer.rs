//! The message log's writer: one thread with its own SQLite connection appends
//! every message, committing whatever is queued in one `BEGIN IMMEDIATE`
//! transaction (group commit). A caller is answered only once the transaction
//! holding its message has committed, so nothing is acknowledged before it is
//! durable; under load, many appends share one commit instead of queueing for the
//! write lock one by one.
//!
//! The thread drives SQLite through `rusqlite` rather than sqlx: the statements
//! stay prepared and each append costs no round trip to another thread.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Statement, params};
use tokio::sync::{mpsc, oneshot};
use waggle_core::StoreError;

use crate::columns::ConvKey;
use crate::sqlite::db_err;

/// Appends committed together at most.
const MAX_BATCH: usize = 512;
/// Appends waiting for the writer before callers wait to queue.
const QUEUE: usize = 4096;

/// Insert a message unless its conversation already holds one with the same
/// archive id or origin id; the new row's seq, or no row for a duplicate.
/// (The archive cursor moves by trigger, in the same transaction.) The unary `+`
/// keeps the conversation columns out of index selection, so the look-ups go
/// through the id indexes instead of scanning the conversation.
const INSERT: &str = "\
    INSERT INTO messages (user_id, account_id, conv_kind, target, direction, at_ms, \
                          msgid, kind, archive_id, origin_id, sealed) \
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 \
    WHERE NOT EXISTS (SELECT 1 FROM messages WHERE user_id = ?1 AND archive_id = ?9 \
                      AND +account_id IS ?2 AND +conv_kind = ?3 AND +target = ?4) \
      AND NOT EXISTS (SELECT 1 FROM messages WHERE user_id = ?1 AND origin_id = ?10 \
                      AND +account_id IS ?2 AND +conv_kind = ?3 AND +target = ?4) \
    RETURNING seq";

/// A message ready to be written: its columns, already sealed.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) user: i64,
    pub(crate) conversation: ConvKey,
    pub(crate) direction: i64,
    pub(crate) at_ms: i64,
    pub(crate) msgid: String,
    pub(crate) kind: i64,
    pub(crate) archive_id: Option<String>,
    pub(crate) origin_id: Option<String>,
    pub(crate) sealed: Vec<u8>,
}

/// What the writer is asked.
enum Request {
    Append {
        row: Row,
        done: oneshot::Sender<Result<Option<i64>, StoreError>>,
    },
    Close(oneshot::Sender<()>),
}

/// A handle on the writer thread; cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Append { row, .. } => write!(f, "Append(seq for {})", row.msgid),
            Request::Close(_) => f.write_str("Close"),
        }
    }
}

fn closed() -> StoreError {
    StoreError::Database("the message log is closed".into())
}

impl Writer {
    /// Open a connection to the (already migrated) database at `path` and start the
    /// writer thread on it.
    pub(crate) fn spawn(path: &Path, busy_timeout: Duration) -> Result<Writer, StoreError> {
        // Used by the writer thread alone: no SQLite mutex needed.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
        conn.busy_timeout(busy_timeout).map_err(db_err)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(db_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(db_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "message log: journal mode is {mode}, not WAL"
            )));
        }
        let (queue, requests) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("waggle-log-writer".into())
            .spawn(move || run(conn, requests))
            .map_err(|e| StoreError::Database(format!("message log writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Write a row; its seq once committed, `None` for a duplicate.
    pub(crate) async fn append(&self, row: Row) -> Result<Option<i64>, StoreError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Request::Append { row, done })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Finish what is queued, then close the writer's connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Request::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

type Pending = (Row, oneshot::Sender<Result<Option<i64>, StoreError>>);

/// The writer thread: take what is queued, commit it, answer, until closed.
fn run(conn: Connection, mut requests: mpsc::Receiver<Request>) {
    let mut insert = match conn.prepare(INSERT) {
        Ok(statement) => statement,
        Err(e) => {
            tracing::error!(error = %e, "message log writer cannot start");
            return;
        }
    };
    let mut rows: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    let mut close = None;
    while close.is_none() {
        let Some(first) = requests.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Append { row, done } => rows.push((row, done)),
                Request::Close(done) => close = Some(done),
            }
            if rows.len() < MAX_BATCH && close.is_none() {
                next = requests.try_recv().ok();
            }
        }
        if !rows.is_empty() {
            commit(&conn, &mut insert, &mut rows);
        }
    }
    requests.close();
    drop(insert);
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "message log writer: closing its connection failed");
    }
    if let Some(done) = close {
        let _ = done.send(());
    }
}

/// Write `rows` in one transaction and answer each caller after the commit.
fn commit(conn: &Connection, insert: &mut Statement<'_>, rows: &mut Vec<Pending>) {
    let fail_all = |rows: &mut Vec<Pending>, message: String| {
        for (_, done) in rows.drain(..) {
            let _ = done.send(Err(StoreError::Database(message.clone())));
        }
    };
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        fail_all(rows, e.to_string());
        return;
    }
    // A failing statement (a foreign account, say) is undone alone; the
    // transaction and the other rows go on.
    let results: Vec<_> = rows.iter().map(|(row, _)| write(insert, row)).collect();
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for ((_, done), result) in rows.drain(..).zip(results) {
                let _ = done.send(result);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::warn!(error = %e, rows = rows.len(), "message log commit failed");
            fail_all(rows, e.to_string());
        }
    }
}

fn write(insert: &mut Statement<'_>, row: &Row) -> Result<Option<i64>, StoreError> {
    insert
        .query_row(
            params![
                row.user,
                row.conversation.account,
                row.conversation.kind,
                row.conversation.target,
                row.direction,
                row.at_ms,
                row.msgid,
                row.kind,
                row.archive_id,
                row.origin_id,
                row.sealed,
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)
}
