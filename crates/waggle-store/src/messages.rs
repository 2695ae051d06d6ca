//! The message log ([`MessageLog`]) on SQLite: appends and read positions go
//! through the group-commit [`Writer`](crate::writer::Writer); reads, cursors and
//! read markers through the pool. History queries live in [`history`](crate::history), retention
//! in [`retention`](crate::retention).

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use waggle_core::{
    Conversation, ConversationSummary, HistoryQuery, HistoryStats, LogEntry, LoggedMessage,
    MessageLog, Retention, StoreError, UserId, UserKey,
};

use crate::columns::{self, ConvKey};
use crate::crypto;
use crate::sqlite::{SqliteStore, db_err};
use crate::writer::{Positions, Row};

/// A `messages` row as read: seq, account, conversation kind, target, direction,
/// time, msgid, kind, archive id, origin id, sealed sender and body.
pub(crate) type MessageRow = (
    i64,
    Option<i64>,
    i64,
    String,
    i64,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Vec<u8>,
);

/// The columns of [`MessageRow`], in order (a macro, for `concat!`).
macro_rules! message_columns {
    () => {
        "seq, account_id, conv_kind, target, direction, at_ms, msgid, kind, archive_id, \
         origin_id, sealed"
    };
}
pub(crate) use message_columns;

/// Open a row read from the log.
pub(crate) fn logged(
    user: UserId,
    key: &UserKey,
    row: MessageRow,
) -> Result<LoggedMessage, StoreError> {
    let (seq, account, kind, target, direction, at_ms, msgid, msg_kind, archive, origin, sealed) =
        row;
    let (sender, body) = crypto::open_message(key, user.0, &msgid, &sealed)?;
    Ok(LoggedMessage {
        seq,
        entry: LogEntry {
            conversation: ConvKey {
                kind,
                account,
                target,
            }
            .conversation()?,
            direction: columns::direction_from(direction)?,
            at: columns::from_ms(at_ms),
            kind: columns::kind_from(msg_kind)?,
            sender,
            body,
            archive_id: archive,
            origin_id: origin,
            msgid,
        },
    })
}

/// The row an entry is written as: its columns, sender and body sealed.
fn row_of(user: UserId, key: &UserKey, entry: &LogEntry) -> Result<Row, StoreError> {
    Ok(Row {
        user: user.0,
        conversation: ConvKey::of(&entry.conversation),
        direction: columns::direction_code(entry.direction),
        at_ms: columns::entry_ms(entry.at),
        msgid: entry.msgid.clone(),
        kind: columns::kind_code(entry.kind),
        archive_id: entry.archive_id.clone(),
        origin_id: entry.origin_id.clone(),
        sealed: crypto::seal_message(key, user.0, &entry.msgid, &entry.sender, &entry.body)?,
    })
}

/// What an append of `entry` (written at `at_ms`) gives once its row committed
/// as `seq`, or was found a duplicate.
fn appended(user: UserId, entry: &LogEntry, at_ms: i64, seq: Option<i64>) -> Option<LoggedMessage> {
    let Some(seq) = seq else {
        tracing::debug!(user = %user, msgid = entry.msgid, "duplicate message not logged");
        return None;
    };
    let mut entry = entry.clone();
    // As stored: whole milliseconds, within 1970 … 9999.
    entry.at = columns::from_ms(at_ms);
    Some(LoggedMessage { seq, entry })
}

impl SqliteStore {
    async fn append_impl(
        &self,
        user: UserId,
        key: &UserKey,
        entry: &LogEntry,
    ) -> Result<Option<LoggedMessage>, StoreError> {
        let row = row_of(user, key, entry)?;
        let at_ms = row.at_ms;
        let seq = self.writer.append(row).await?;
        Ok(appended(user, entry, at_ms, seq))
    }

    /// Queue every entry's row before waiting for any, so that the writer can
    /// commit them together.
    async fn append_all_impl(
        &self,
        user: UserId,
        key: &UserKey,
        entries: &[LogEntry],
    ) -> Vec<Result<Option<LoggedMessage>, StoreError>> {
        let mut queued = Vec::with_capacity(entries.len());
        for entry in entries {
            queued.push(match row_of(user, key, entry) {
                Ok(row) => {
                    let at_ms = row.at_ms;
                    self.writer.queue_append(row).await.map(|q| (q, at_ms))
                }
                Err(e) => Err(e),
            });
        }
        let mut results = Vec::with_capacity(entries.len());
        for (entry, queued) in entries.iter().zip(queued) {
            results.push(match queued {
                Ok((queued, at_ms)) => queued
                    .committed()
                    .await
                    .map(|seq| appended(user, entry, at_ms, seq)),
                Err(e) => Err(e),
            });
        }
        results
    }

    async fn set_archive_cursor_impl(
        &self,
        user: UserId,
        account: i64,
        scope: &str,
        archive_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // A foreign account fails the foreign key on insert, or matches no row here.
        let done = sqlx::query(
            "INSERT INTO archive_cursors (user_id, account_id, scope, archive_id) \
             VALUES (?, ?, ?, ?) \
             ON CONFLICT (account_id, scope) DO UPDATE SET archive_id = excluded.archive_id \
             WHERE archive_cursors.user_id = excluded.user_id",
        )
        .bind(user.0)
        .bind(account)
        .bind(scope)
        .bind(archive_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Database(format!(
                "user {user} has no account {account}"
            )));
        }
        tx.commit().await.map_err(db_err)
    }

    async fn archive_cursors_impl(
        &self,
        user: UserId,
        account: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT scope, archive_id FROM archive_cursors WHERE user_id = ? AND account_id = ?",
        )
        .bind(user.0)
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().collect())
    }

    async fn since_impl(
        &self,
        user: UserId,
        key: &UserKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(user.0)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(|r| logged(user, key, r)).collect()
    }

    async fn last_seq_impl(&self, user: UserId) -> Result<i64, StoreError> {
        let (seq,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM messages WHERE user_id = ?")
                .bind(user.0)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(seq.unwrap_or(0))
    }

    async fn position_impl(&self, user: UserId, client: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM client_positions WHERE user_id = ? AND client = ?")
                .bind(user.0)
                .bind(client)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(|(seq,)| seq))
    }

    async fn save_positions_impl(
        &self,
        user: UserId,
        positions: &[(String, i64)],
    ) -> Result<(), StoreError> {
        if positions.is_empty() {
            return Ok(());
        }
        self.writer
            .save_positions(Positions {
                user: user.0,
                positions: positions.to_vec(),
            })
            .await
    }

    async fn read_marker_impl(
        &self,
        user: UserId,
        conversation: &Conversation,
    ) -> Result<Option<SystemTime>, StoreError> {
        let c = ConvKey::of(conversation);
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT at_ms FROM read_markers \
             WHERE user_id = ? AND account_id IS ? AND conv_kind = ? AND target = ?",
        )
        .bind(user.0)
        .bind(c.account)
        .bind(c.kind)
        .bind(&c.target)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(|(ms,)| columns::from_ms(ms)))
    }

    async fn set_read_marker_impl(
        &self,
        user: UserId,
        conversation: &Conversation,
        at: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        let c = ConvKey::of(conversation);
        let at_ms = columns::entry_ms(at);
        let mut tx = self.begin_write().await?;
        let current: Option<(i64,)> = sqlx::query_as(
            "SELECT at_ms FROM read_markers \
             WHERE user_id = ? AND account_id IS ? AND conv_kind = ? AND target = ?",
        )
        .bind(user.0)
        .bind(c.account)
        .bind(c.kind)
        .bind(&c.target)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let now_ms = match current {
            Some((old,)) if old >= at_ms => old,
            Some(_) => {
                sqlx::query(
                    "UPDATE read_markers SET at_ms = ? \
                     WHERE user_id = ? AND account_id IS ? AND conv_kind = ? AND target = ?",
                )
                .bind(at_ms)
                .bind(user.0)
                .bind(c.account)
                .bind(c.kind)
                .bind(&c.target)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                at_ms
            }
            None => {
                sqlx::query(
                    "INSERT INTO read_markers (user_id, account_id, conv_kind, target, at_ms) \
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(user.0)
                .bind(c.account)
                .bind(c.kind)
                .bind(&c.target)
                .bind(at_ms)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                at_ms
            }
        };
        tx.commit().await.map_err(db_err)?;
        Ok(columns::from_ms(now_ms))
    }
}

#[async_trait]
impl MessageLog for SqliteStore {
    async fn append(
        &self,
        user: UserId,
        key: &UserKey,
        entry: &LogEntry,
    ) -> Result<Option<LoggedMessage>, StoreError> {
        self.append_impl(user, key, entry).await
    }

    async fn append_all(
        &self,
        user: UserId,
        key: &UserKey,
        entries: &[LogEntry],
    ) -> Vec<Result<Option<LoggedMessage>, StoreError>> {
        self.append_all_impl(user, key, entries).await
    }

    async fn set_archive_cursor(
        &self,
        user: UserId,
        account: i64,
        scope: &str,
        archive_id: &str,
    ) -> Result<(), StoreError> {
        self.set_archive_cursor_impl(user, account, scope, archive_id)
            .await
    }

    async fn archive_cursors(
        &self,
        user: UserId,
        account: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        self.archive_cursors_impl(user, account).await
    }

    async fn archive_time(
        &self,
        user: UserId,
        account: i64,
        archive_id: &str,
    ) -> Result<Option<SystemTime>, StoreError> {
        let at: Option<(i64,)> = sqlx::query_as(
            "SELECT at_ms FROM messages WHERE user_id = ? AND account_id = ? AND archive_id = ? \
             LIMIT 1",
        )
        .bind(user.0)
        .bind(account)
        .bind(archive_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(at.map(|(ms,)| crate::columns::from_ms(ms)))
    }

    async fn since(
        &self,
        user: UserId,
        key: &UserKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        self.since_impl(user, key, after_seq, limit).await
    }

    async fn last_seq(&self, user: UserId) -> Result<i64, StoreError> {
        self.last_seq_impl(user).await
    }

    async fn history(
        &self,
        user: UserId,
        key: &UserKey,
        conversation: &Conversation,
        query: &HistoryQuery,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        self.history_impl(user, key, conversation, query).await
    }

    async fn conversations(
        &self,
        user: UserId,
        from: SystemTime,
        to: SystemTime,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        self.conversations_impl(user, from, to, limit).await
    }

    async fn position(&self, user: UserId, client: &str) -> Result<Option<i64>, StoreError> {
        self.position_impl(user, client).await
    }

    async fn save_positions(
        &self,
        user: UserId,
        positions: &[(String, i64)],
    ) -> Result<(), StoreError> {
        self.save_positions_impl(user, positions).await
    }

    async fn read_marker(
        &self,
        user: UserId,
        conversation: &Conversation,
    ) -> Result<Option<SystemTime>, StoreError> {
        self.read_marker_impl(user, conversation).await
    }

    async fn set_read_marker(
        &self,
        user: UserId,
        conversation: &Conversation,
        at: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        self.set_read_marker_impl(user, conversation, at).await
    }

    async fn prune(&self, instance: Retention, now: SystemTime) -> Result<u64, StoreError> {
        self.prune_impl(instance, now).await
    }

    async fn history_stats(&self, user: UserId) -> Result<HistoryStats, StoreError> {
        self.history_stats_impl(user).await
    }

    async fn clear_history(
        &self,
        user: UserId,
        before: Option<SystemTime>,
    ) -> Result<u64, StoreError> {
        self.clear_history_impl(user, before).await
    }
}
