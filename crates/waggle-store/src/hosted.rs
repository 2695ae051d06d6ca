//! [`HostedStore`] on SQLite: what the XMPP component keeps for the JIDs it hosts
//! (the `component_*` tables of migration 0005). Every statement is scoped by
//! the owning user's id.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use waggle_core::{
    HostedStore, InboxMessage, ListKind, RosterEntry, StoreError, Subscription, UserId,
};

use crate::sqlite::{SqliteStore, db_err};

/// A `component_roster` row: contact, subscription, ask_out, pending_in, listed, name, group.
type RosterRow = (
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

fn entry(row: RosterRow) -> Result<RosterEntry, StoreError> {
    let (contact, subscription, ask_out, pending_in, listed, name, group) = row;
    let subscription = Subscription::parse(&subscription)
        .ok_or_else(|| StoreError::Database(format!("bad subscription {subscription:?}")))?;
    Ok(RosterEntry {
        contact,
        subscription,
        ask_out: ask_out != 0,
        pending_in: pending_in != 0,
        listed: listed != 0,
        name,
        group,
    })
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn time_of(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn list_word(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Block => "block",
        ListKind::Allow => "allow",
    }
}

#[async_trait]
impl HostedStore for SqliteStore {
    async fn hosted_user(&self, name: &str) -> Result<Option<(UserId, String)>, StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM users WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.map(|(id, name)| (UserId(id), name)))
    }

    async fn roster(&self, user: UserId) -> Result<Vec<RosterEntry>, StoreError> {
        let rows: Vec<RosterRow> = sqlx::query_as(
            "SELECT contact, subscription, ask_out, pending_in, listed, name, grp \
             FROM component_roster WHERE user_id = ? ORDER BY contact",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter().map(entry).collect()
    }

    async fn roster_entry(
        &self,
        user: UserId,
        contact: &str,
    ) -> Result<Option<RosterEntry>, StoreError> {
        let row: Option<RosterRow> = sqlx::query_as(
            "SELECT contact, subscription, ask_out, pending_in, listed, name, grp \
             FROM component_roster WHERE user_id = ? AND contact = ?",
        )
        .bind(user.0)
        .bind(contact)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(entry).transpose()
    }

    async fn save_roster_entry(&self, user: UserId, e: &RosterEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO component_roster \
             (user_id, contact, subscription, ask_out, pending_in, listed, name, grp) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (user_id, contact) DO UPDATE SET subscription = excluded.subscription, \
             ask_out = excluded.ask_out, pending_in = excluded.pending_in, \
             listed = excluded.listed, name = excluded.name, grp = excluded.grp",
        )
        .bind(user.0)
        .bind(&e.contact)
        .bind(e.subscription.as_str())
        .bind(i64::from(e.ask_out))
        .bind(i64::from(e.pending_in))
        .bind(i64::from(e.listed))
        .bind(&e.name)
        .bind(&e.group)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn delete_roster_entry(&self, user: UserId, contact: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM component_roster WHERE user_id = ? AND contact = ?")
            .bind(user.0)
            .bind(contact)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn pending_requests(&self, user: UserId) -> Result<u64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM component_roster WHERE user_id = ? AND pending_in = 1 AND listed = 0",
        )
        .bind(user.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn list_of(&self, user: UserId, contact: &str) -> Result<Option<ListKind>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT kind FROM component_lists WHERE user_id = ? AND contact = ?")
                .bind(user.0)
                .bind(contact)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.and_then(|(k,)| match k.as_str() {
            "block" => Some(ListKind::Block),
            "allow" => Some(ListKind::Allow),
            _ => None,
        }))
    }

    async fn lists(&self, user: UserId) -> Result<Vec<(String, ListKind)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT contact, kind FROM component_lists WHERE user_id = ? ORDER BY contact",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, k)| match k.as_str() {
                "block" => Some((c, ListKind::Block)),
                "allow" => Some((c, ListKind::Allow)),
                _ => None,
            })
            .collect())
    }

    async fn set_list(
        &self,
        user: UserId,
        contact: &str,
        list: Option<ListKind>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match list {
            Some(kind) => sqlx::query(
                "INSERT INTO component_lists (user_id, contact, kind) VALUES (?, ?, ?) \
                 ON CONFLICT (user_id, contact) DO UPDATE SET kind = excluded.kind",
            )
            .bind(user.0)
            .bind(contact)
            .bind(list_word(kind)),
            None => sqlx::query("DELETE FROM component_lists WHERE user_id = ? AND contact = ?")
                .bind(user.0)
                .bind(contact),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn profile(&self, user: UserId) -> Result<Option<(String, String)>, StoreError> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT nick, realname FROM component_users WHERE user_id = ?")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(match row {
            Some((Some(nick), Some(realname))) => Some((nick, realname)),
            _ => None,
        })
    }

    async fn set_profile(
        &self,
        user: UserId,
        nick: &str,
        realname: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO component_users (user_id, nick, realname) VALUES (?, ?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET nick = excluded.nick, realname = excluded.realname",
        )
        .bind(user.0)
        .bind(nick)
        .bind(realname)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn inbox_key(&self, user: UserId) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT inbox_key FROM component_users WHERE user_id = ?")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(row.and_then(|(k,)| k))
    }

    async fn set_inbox_key(&self, user: UserId, key: Option<&[u8]>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO component_users (user_id, inbox_key) VALUES (?, ?) \
             ON CONFLICT (user_id) DO UPDATE SET inbox_key = excluded.inbox_key",
        )
        .bind(user.0)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn inbox_put(
        &self,
        user: UserId,
        received: SystemTime,
        sealed: &[u8],
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let (row,): (i64,) = sqlx::query_as(
            "INSERT INTO component_inbox (user_id, received, sealed) VALUES (?, ?, ?) RETURNING id",
        )
        .bind(user.0)
        .bind(millis(received))
        .bind(sealed)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row)
    }

    async fn inbox(&self, user: UserId, limit: u32) -> Result<Vec<InboxMessage>, StoreError> {
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, received, sealed FROM component_inbox WHERE user_id = ? \
             ORDER BY id LIMIT ?",
        )
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(row, received, sealed)| InboxMessage {
                row,
                received: time_of(received),
                sealed,
            })
            .collect())
    }

    async fn inbox_len(&self, user: UserId) -> Result<u64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM component_inbox WHERE user_id = ?")
            .bind(user.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn inbox_delete(&self, user: UserId, rows: &[i64]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for row in rows {
            sqlx::query("DELETE FROM component_inbox WHERE user_id = ? AND id = ?")
                .bind(user.0)
                .bind(row)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use waggle_core::Store;

    async fn store() -> (tempfile::TempDir, SqliteStore, UserId) {
        let dir = tempfile::tempdir().expect("dir");
        let s = SqliteStore::open(&dir.path().join("t.db"))
            .await
            .expect("open");
        let (id, _) = s.create_user("Alice", "pw").await.expect("user");
        (dir, s, id)
    }

    #[tokio::test]
    async fn roster_lists_profile_and_inbox_round_trip_and_go_with_the_user() {
        let (_dir, s, alice) = store().await;
        assert_eq!(
            s.hosted_user("ALICE").await.unwrap(),
            Some((alice, "Alice".into()))
        );
        let mut e = RosterEntry {
            contact: "bob@example.org".into(),
            subscription: Subscription::From,
            pending_in: true,
            ..Default::default()
        };
        s.save_roster_entry(alice, &e).await.unwrap();
        assert_eq!(s.pending_requests(alice).await.unwrap(), 1);
        e.listed = true;
        e.subscription = Subscription::Both;
        e.group = Some("Friends".into());
        s.save_roster_entry(alice, &e).await.unwrap();
        assert_eq!(s.roster(alice).await.unwrap(), vec![e.clone()]);
        assert_eq!(
            s.roster_entry(alice, "BOB@example.org").await.unwrap(),
            Some(e)
        );
        s.set_list(alice, "eve@example.org", Some(ListKind::Block))
            .await
            .unwrap();
        assert_eq!(
            s.list_of(alice, "eve@example.org").await.unwrap(),
            Some(ListKind::Block)
        );
        s.set_list(alice, "eve@example.org", Some(ListKind::Allow))
            .await
            .unwrap();
        assert_eq!(
            s.list_of(alice, "eve@example.org").await.unwrap(),
            Some(ListKind::Allow)
        );
        assert_eq!(
            s.lists(alice).await.unwrap(),
            vec![("eve@example.org".to_string(), ListKind::Allow)]
        );
        s.set_profile(alice, "alice", "Alice L.").await.unwrap();
        s.set_inbox_key(alice, Some(&[7u8; 32])).await.unwrap();
        assert_eq!(
            s.profile(alice).await.unwrap(),
            Some(("alice".into(), "Alice L.".into()))
        );
        assert_eq!(s.inbox_key(alice).await.unwrap(), Some(vec![7u8; 32]));
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let r1 = s.inbox_put(alice, t, b"one").await.unwrap();
        s.inbox_put(alice, t, b"two").await.unwrap();
        let kept = s.inbox(alice, 10).await.unwrap();
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].row, kept[0].received), (r1, t));
        assert_eq!(kept[1].sealed, b"two");
        s.inbox_delete(alice, &[r1]).await.unwrap();
        assert_eq!(s.inbox_len(alice).await.unwrap(), 1);

        assert!(s.delete_user("alice").await.unwrap());
        assert!(s.roster(alice).await.unwrap().is_empty());
        assert_eq!(s.inbox_len(alice).await.unwrap(), 0);
        assert_eq!(s.list_of(alice, "eve@example.org").await.unwrap(), None);
        assert_eq!(s.inbox_key(alice).await.unwrap(), None);
    }
}
