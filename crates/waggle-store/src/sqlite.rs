//! [`SqliteStore`]: opening the database and the [`Store`] trait implementation, which
//! delegates to the [`users`](crate::users) and [`data`](crate::data) modules.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use waggle_core::{
    AccountRecord, ChannelRecord, ContactRecord, Store, StoreError, UnattendedLogin, UserData,
    UserId, UserKey, UserSummary,
};

use crate::crypto;

/// How many connections the pool keeps at most. SQLite has one writer at a time;
/// a few connections let readers run beside it.
const MAX_CONNECTIONS: u32 = 4;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations under the workspace's `migrations/`, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Map any sqlx failure to [`StoreError::Database`].
pub(crate) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

/// The gateway's [`Store`] on an SQLite file in WAL mode.
///
/// Every change is written through in its own `BEGIN IMMEDIATE` transaction, so
/// concurrent writers queue on the write lock instead of failing with
/// "database is locked". Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// A PHC string hashed at open time, verified against when a user does not exist
    /// so that `authenticate` takes as long for unknown users as for wrong passwords.
    pub(crate) dummy_hash: std::sync::Arc<str>,
}

impl SqliteStore {
    /// Open (creating if missing, with its parent directory) the database at `path`
    /// and bring its schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the directory or file cannot be created, the
    /// database cannot be opened or a migration fails.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Database(format!("{}: {e}", parent.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        MIGRATOR.run(&pool).await.map_err(db_err)?;
        let dummy_hash = blocking(|| crypto::hash_password("waggle dummy password")).await?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(SqliteStore {
            pool,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Close the pool, waiting for connections in use to be returned. Calls made
    /// after this fail with [`StoreError::Database`].
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begin a writing transaction that takes the write lock at once.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }
}

/// Run slow crypto (Argon2) off the async worker threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Crypto(format!("crypto task failed: {e}")))?
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(UserId, UserKey), StoreError> {
        self.create_user_impl(name, password).await
    }

    async fn authenticate(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<(UserId, UserKey)>, StoreError> {
        self.authenticate_impl(name, password).await
    }

    async fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.user_exists_impl(name).await
    }

    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError> {
        self.list_users_impl().await
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.delete_user_impl(name).await
    }

    async fn change_password(
        &self,
        user: UserId,
        key: &UserKey,
        new_password: &str,
    ) -> Result<(), StoreError> {
        self.change_password_impl(user, key, new_password).await
    }

    async fn reset_password(&self, name: &str, new_password: &str) -> Result<u32, StoreError> {
        self.reset_password_impl(name, new_password).await
    }

    async fn load(&self, user: UserId, key: &UserKey) -> Result<UserData, StoreError> {
        self.load_impl(user, key).await
    }

    async fn set_setting(
        &self,
        user: UserId,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_setting_impl(user, name, value).await
    }

    async fn save_account(
        &self,
        user: UserId,
        key: &UserKey,
        account: &AccountRecord,
    ) -> Result<i64, StoreError> {
        self.save_account_impl(user, key, account).await
    }

    async fn delete_account(&self, user: UserId, row: i64) -> Result<(), StoreError> {
        self.delete_account_impl(user, row).await
    }

    async fn save_contact(&self, user: UserId, contact: &ContactRecord) -> Result<(), StoreError> {
        self.save_contact_impl(user, contact).await
    }

    async fn delete_contact(
        &self,
        user: UserId,
        account_row: i64,
        handle: &str,
    ) -> Result<(), StoreError> {
        self.delete_contact_impl(user, account_row, handle).await
    }

    async fn save_channel(&self, user: UserId, channel: &ChannelRecord) -> Result<(), StoreError> {
        self.save_channel_impl(user, channel).await
    }

    async fn delete_channel(&self, user: UserId, name: &str) -> Result<(), StoreError> {
        self.delete_channel_impl(user, name).await
    }

    async fn unattended_logins(&self) -> Result<Vec<UnattendedLogin>, StoreError> {
        // This store is never opened with an unattended key yet.
        Ok(Vec::new())
    }

    async fn login_valid(&self, user: UserId, _key: &UserKey) -> Result<bool, StoreError> {
        let (exists,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)")
            .bind(user.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(exists)
    }
}
