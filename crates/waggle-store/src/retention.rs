//! What the message log keeps: pruning by age and count (instance limits and each
//! user's `history_days`), a user's statistics, and clearing a user's history.
//!
//! Deletions go in chunks, each its own short transaction, so pruning a large log
//! never holds the write lock long enough to stall the appends beside it.

use std::time::{Duration, SystemTime};

use waggle_core::settings::HISTORY_DAYS;
use waggle_core::{HistoryStats, Retention, StoreError, UserId};

use crate::columns;
use crate::sqlite::{SqliteStore, db_err};

/// Rows deleted per transaction.
const CHUNK: i64 = 2000;

/// One day.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// How old a user's messages may get: the instance's limit, or the user's own
/// `history_days` when that is shorter. A value that is not a whole number of days
/// (≥ 0) is ignored.
fn max_age(instance: Duration, history_days: Option<&str>) -> Duration {
    match history_days.and_then(|v| v.trim().parse::<u32>().ok()) {
        Some(days) => instance.min(DAY.saturating_mul(days)),
        None => instance,
    }
}

impl SqliteStore {
    /// Run a `DELETE … WHERE seq IN (SELECT … LIMIT ?)` statement whose last
    /// parameter is the chunk size, until it deletes less than a chunk.
    async fn delete_in_chunks(
        &self,
        sql: &'static str,
        user: i64,
        bounds: &[i64],
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let mut query = sqlx::query(sql).bind(user);
            for b in bounds {
                query = query.bind(*b);
            }
            let done = query
                .bind(CHUNK)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            tx.commit().await.map_err(db_err)?;
            deleted += done;
            if done < CHUNK.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }

    pub(crate) async fn prune_impl(
        &self,
        instance: Retention,
        now: SystemTime,
    ) -> Result<u64, StoreError> {
        let users: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT u.id, s.value FROM users u \
             LEFT JOIN user_settings s ON s.user_id = u.id AND s.name = ? ORDER BY u.id",
        )
        .bind(HISTORY_DAYS)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut deleted = 0;
        for (user, days) in users {
            let cutoff = columns::cutoff_ms(now, max_age(instance.max_age, days.as_deref()));
            deleted += self
                .delete_in_chunks(
                    "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages \
                     WHERE user_id = ? AND at_ms < ? LIMIT ?)",
                    user,
                    &[cutoff],
                )
                .await?;
            if let Some(max) = instance.max_count {
                deleted += self.keep_newest(user, max).await?;
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "message log pruned");
        }
        Ok(deleted)
    }

    /// Delete all but the newest `max` messages of a user (newest by time, then seq).
    async fn keep_newest(&self, user: i64, max: u64) -> Result<u64, StoreError> {
        let boundary: Option<(i64, i64)> = sqlx::query_as(
            "SELECT at_ms, seq FROM messages WHERE user_id = ? \
             ORDER BY at_ms DESC, seq DESC LIMIT 1 OFFSET ?",
        )
        .bind(user)
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some((at_ms, seq)) = boundary else {
            return Ok(0);
        };
        self.delete_in_chunks(
            "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages \
             WHERE user_id = ? AND (at_ms, seq) <= (?, ?) LIMIT ?)",
            user,
            &[at_ms, seq],
        )
        .await
    }

    pub(crate) async fn history_stats_impl(
        &self,
        user: UserId,
    ) -> Result<HistoryStats, StoreError> {
        let (count, oldest, newest): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at_ms), MAX(at_ms) FROM messages WHERE user_id = ?",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let (conversations,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE user_id = ? \
             GROUP BY account_id, conv_kind, target)",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(HistoryStats {
            count: u64::try_from(count).unwrap_or(0),
            oldest: oldest.map(columns::from_ms),
            newest: newest.map(columns::from_ms),
            conversations: u64::try_from(conversations).unwrap_or(0),
        })
    }

    pub(crate) async fn clear_history_impl(
        &self,
        user: UserId,
        before: Option<SystemTime>,
    ) -> Result<u64, StoreError> {
        let deleted = match before {
            None => {
                self.delete_in_chunks(
                    "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages \
                     WHERE user_id = ? LIMIT ?)",
                    user.0,
                    &[],
                )
                .await?
            }
            Some(t) => {
                self.delete_in_chunks(
                    "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages \
                     WHERE user_id = ? AND at_ms < ? LIMIT ?)",
                    user.0,
                    &[columns::ceil_ms(t)],
                )
                .await?
            }
        };
        tracing::info!(user = %user, deleted, "history cleared");
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_age_wins() {
        let ninety = DAY * 90;
        assert_eq!(max_age(ninety, None), ninety);
        assert_eq!(max_age(ninety, Some("7")), DAY * 7);
        assert_eq!(max_age(ninety, Some("365")), ninety);
        assert_eq!(max_age(ninety, Some("0")), Duration::ZERO);
        assert_eq!(max_age(ninety, Some("-3")), ninety);
        assert_eq!(max_age(ninety, Some("lots")), ninety);
        assert_eq!(max_age(Duration::MAX, Some("4294967295")), DAY * u32::MAX);
    }
}
