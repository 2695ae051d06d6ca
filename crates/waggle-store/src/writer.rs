//! The message log's writer: one thread with its own SQLite connection appends
//! every message and saves the clients' read positions, committing whatever is
//! queued in one `BEGIN IMMEDIATE` transaction (group commit). A caller is
//! answered only once the transaction holding its message has committed, so
//! nothing is acknowledged before it is durable; under load, many appends share
//! one commit instead of queueing for the write lock one by one.
//!
//! The thread drives SQLite through `rusqlite` rather than sqlx: the statements
//! stay prepared and each append costs no round trip to another thread.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement, params};
use tokio::sync::{mpsc, oneshot};
use waggle_core::StoreError;

use crate::columns::ConvKey;
use crate::sqlite::db_err;

/// Appends committed together at most.
const MAX_BATCH: usize = 512;
/// Appends waiting for the writer before callers wait to queue.
const QUEUE: usize = 4096;

/// Whether the conversation already holds a message with this archive id or
/// origin id (asked only for a message that has one). The unary `+` keeps the
/// conversation columns out of index selection, so the look-ups go through the
/// id indexes instead of scanning the conversation.
const DUPLICATE: &str = "\
    SELECT 1 FROM messages WHERE user_id = ?1 AND archive_id = ?5 \
        AND +account_id IS ?2 AND +conv_kind = ?3 AND +target = ?4 \
    UNION ALL \
    SELECT 1 FROM messages WHERE user_id = ?1 AND origin_id = ?6 \
        AND +account_id IS ?2 AND +conv_kind = ?3 AND +target = ?4 \
    LIMIT 1";

/// Insert a message; its seq is the new rowid. (The archive cursor moves by
/// trigger, in the same transaction.) A plain `VALUES` insert: an `INSERT …
/// SELECT` reading the table it writes makes SQLite build a temporary table for
/// every row, which cost more than the insert itself.
const INSERT: &str = "\
    INSERT INTO messages (user_id, account_id, conv_kind, target, direction, at_ms, \
                          msgid, kind, archive_id, origin_id, sealed) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// Move a client's read position forward (never back).
const POSITION: &str = "\
    INSERT INTO client_positions (user_id, client, seq) VALUES (?1, ?2, ?3) \
    ON CONFLICT (user_id, client) DO UPDATE SET seq = max(seq, excluded.seq)";

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

/// A user's clients' read positions: (client name, seq) each.
#[derive(Debug)]
pub(crate) struct Positions {
    pub(crate) user: i64,
    pub(crate) positions: Vec<(String, i64)>,
}

/// What the writer is asked.
enum Request {
    Write(Write, Answer),
    Close(oneshot::Sender<()>),
}

/// One write of a transaction.
enum Write {
    Append(Row),
    Positions(Positions),
}

/// Where a write's outcome goes once its transaction committed: an append's
/// seq (`None` for a duplicate); always `None` for positions.
type Answer = oneshot::Sender<Result<Option<i64>, StoreError>>;

type Pending = (Write, Answer);

/// A handle on the writer thread; cloning shares it.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Write(Write::Append(row), _) => write!(f, "Append(seq for {})", row.msgid),
            Request::Write(Write::Positions(p), _) => write!(f, "Positions(of user {})", p.user),
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
        self.queue_append(row).await?.committed().await
    }

    /// Queue a row behind those queued before it, without waiting for its
    /// commit: rows queued one after the other before anyone waits can share
    /// one transaction.
    pub(crate) async fn queue_append(&self, row: Row) -> Result<Queued, StoreError> {
        self.queue_write(Write::Append(row)).await
    }

    /// Move read positions forward; answered once committed.
    pub(crate) async fn save_positions(&self, positions: Positions) -> Result<(), StoreError> {
        self.queue_write(Write::Positions(positions))
            .await?
            .committed()
            .await
            .map(|_| ())
    }

    async fn queue_write(&self, write: Write) -> Result<Queued, StoreError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Request::Write(write, done))
            .await
            .map_err(|_| closed())?;
        Ok(Queued(answer))
    }

    /// Finish what is queued, then close the writer's connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Request::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// A write in the writer's queue.
pub(crate) struct Queued(oneshot::Receiver<Result<Option<i64>, StoreError>>);

impl Queued {
    /// Its outcome once its transaction committed: an append's seq (`None` for
    /// a duplicate).
    pub(crate) async fn committed(self) -> Result<Option<i64>, StoreError> {
        self.0.await.map_err(|_| closed())?
    }
}

/// The writer thread: take what is queued, commit it, answer, until closed.
fn run(conn: Connection, mut requests: mpsc::Receiver<Request>) {
    let mut statements = match Statements::prepare(&conn) {
        Ok(statements) => statements,
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
                Request::Write(write, done) => rows.push((write, done)),
                Request::Close(done) => close = Some(done),
            }
            if rows.len() < MAX_BATCH && close.is_none() {
                next = requests.try_recv().ok();
            }
        }
        if !rows.is_empty() {
            commit(&conn, &mut statements, &mut rows);
        }
    }
    requests.close();
    drop(statements);
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "message log writer: closing its connection failed");
    }
    if let Some(done) = close {
        let _ = done.send(());
    }
}

/// The writer's statements, prepared once: parsing `BEGIN` and `COMMIT` again
/// for every transaction was a tenth of an append's cost.
struct Statements<'c> {
    begin: Statement<'c>,
    commit: Statement<'c>,
    duplicate: Statement<'c>,
    insert: Statement<'c>,
    position: Statement<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(conn: &'c Connection) -> Result<Statements<'c>, rusqlite::Error> {
        Ok(Statements {
            begin: conn.prepare("BEGIN IMMEDIATE")?,
            commit: conn.prepare("COMMIT")?,
            duplicate: conn.prepare(DUPLICATE)?,
            insert: conn.prepare(INSERT)?,
            position: conn.prepare(POSITION)?,
        })
    }
}

/// Write `rows` in one transaction and answer each caller after the commit.
fn commit(conn: &Connection, st: &mut Statements<'_>, rows: &mut Vec<Pending>) {
    let fail_all = |rows: &mut Vec<Pending>, message: String| {
        for (_, done) in rows.drain(..) {
            let _ = done.send(Err(StoreError::Database(message.clone())));
        }
    };
    if let Err(e) = st.begin.execute([]) {
        fail_all(rows, e.to_string());
        return;
    }
    // A failing statement (a foreign account, say) is undone alone; the
    // transaction and the other rows go on.
    let results: Vec<_> = rows
        .iter()
        .map(|(write, _)| match write {
            Write::Append(row) => append(conn, st, row),
            Write::Positions(p) => save_positions(st, p).map(|()| None),
        })
        .collect();
    match st.commit.execute([]) {
        Ok(_) => {
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

/// Move one user's read positions forward.
fn save_positions(st: &mut Statements<'_>, p: &Positions) -> Result<(), StoreError> {
    for (client, seq) in &p.positions {
        st.position
            .execute(params![p.user, client, seq])
            .map_err(db_err)?;
    }
    Ok(())
}

/// Write one row: its seq, or `None` for a duplicate.
fn append(
    conn: &Connection,
    st: &mut Statements<'_>,
    row: &Row,
) -> Result<Option<i64>, StoreError> {
    let c = &row.conversation;
    if (row.archive_id.is_some() || row.origin_id.is_some())
        && st
            .duplicate
            .exists(params![
                row.user,
                c.account,
                c.kind,
                c.target,
                row.archive_id,
                row.origin_id
            ])
            .map_err(db_err)?
    {
        return Ok(None);
    }
    st.insert
        .execute(params![
            row.user,
            c.account,
            c.kind,
            c.target,
            row.direction,
            row.at_ms,
            row.msgid,
            row.kind,
            row.archive_id,
            row.origin_id,
            row.sealed,
        ])
        .map_err(db_err)?;
    // The trigger's own insert does not change it once the trigger has run.
    Ok(Some(conn.last_insert_rowid()))
}
