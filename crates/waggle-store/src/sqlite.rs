//! [`SqliteStore`]: opening the database and the [`Store`] trait implementation, which
//! delegates to the [`users`](crate::users), [`unattended`](crate::unattended) and
//! [`data`](crate::data) modules.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use waggle_core::{
    AccountRecord, ChannelRecord, ContactRecord, Store, StoreError, UnattendedLogin, UserData,
    UserId, UserKey, UserSummary,
};

use crate::files;
use crate::hashing::HashPool;
use crate::instance::InstanceKey;
use crate::writer::Writer;

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

/// How to open the store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The instance's unattended key: with it, every login also wraps the user's
    /// data key under it, and [`Store::unattended_logins`] can start those users
    /// after a restart. Anyone holding this key and the database can read
    /// everything of those users.
    pub unattended_key: Option<InstanceKey>,
    /// How many password hashes (Argon2id, 19 MiB each) may run at once; 0 means
    /// one per CPU core.
    pub hash_workers: usize,
}

/// The gateway's [`Store`] and [`MessageLog`](waggle_core::MessageLog) on an SQLite
/// file in WAL mode.
///
/// Every change is written through in its own `BEGIN IMMEDIATE` transaction, so
/// concurrent writers queue on the write lock instead of failing with
/// "database is locked"; messages are appended by one writer that commits whatever
/// is queued together. Cloning is cheap and shares the connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) hashing: Arc<HashPool>,
    pub(crate) instance_key: Option<Arc<InstanceKey>>,
    pub(crate) writer: Writer,
}

impl SqliteStore {
    /// Open (creating if missing, with its parent directory) the database at `path`
    /// and bring its schema up to date, without an unattended key.
    ///
    /// # Errors
    /// As [`SqliteStore::open_with`].
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, OpenOptions::default()).await
    }

    /// Open the database at `path` as [`SqliteStore::open`] does, with `options`.
    ///
    /// A new database file is made mode 0600 (its directory 0700). Opening and
    /// migrating happen under an advisory lock on `<path>.lock`, so processes opening
    /// the same database at once take turns.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the directory or file cannot be created, another
    /// process holds the open lock for a minute, the database cannot be opened or a
    /// migration fails.
    pub async fn open_with(path: &Path, options: OpenOptions) -> Result<SqliteStore, StoreError> {
        files::create_dir(path)?;
        let lock = files::lock(path).await?;
        files::create_database(path)?;
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(connect)
            .await
            .map_err(db_err)?;
        MIGRATOR.run(&pool).await.map_err(db_err)?;
        let writer = {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || Writer::spawn(&path, BUSY_TIMEOUT))
                .await
                .map_err(db_err)??
        };
        drop(lock);
        tracing::debug!(
            path = %path.display(),
            unattended = options.unattended_key.is_some(),
            "store opened"
        );
        Ok(SqliteStore {
            pool,
            hashing: Arc::new(HashPool::new(options.hash_workers)),
            instance_key: options.unattended_key.map(Arc::new),
            writer,
        })
    }

    /// Close the message writer and the pool, waiting for what is queued to be
    /// written and for connections in use to be returned. Calls made after this fail
    /// with [`StoreError::Database`].
    pub async fn close(&self) {
        self.writer.close().await;
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
        Ok(self
            .reset_password_report(name, new_password)
            .await?
            .im_passwords_cleared)
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

    async fn save_contacts(
        &self,
        user: UserId,
        contacts: &[ContactRecord],
    ) -> Result<(), StoreError> {
        self.save_contacts_impl(user, contacts).await
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
        self.unattended_logins_impl().await
    }

    async fn login_valid(&self, user: UserId, key: &UserKey) -> Result<bool, StoreError> {
        self.login_valid_impl(user, key).await
    }
}
