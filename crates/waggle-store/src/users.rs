//! Users: creation, authentication, listing, deletion and password changes.
//!
//! Every Argon2id run goes through the store's [`HashPool`](crate::hashing::HashPool);
//! a login costs one run (credential format 2, see [`crypto`]). A format-1 user is
//! checked the old way once, at their next successful login, and converted.

use sqlx::Row;
use waggle_core::{StoreError, UserId, UserKey, UserSummary};
use zeroize::Zeroizing;

use crate::crypto::{self, LoginSecrets};
use crate::hashing::Memory;
use crate::sqlite::{SqliteStore, db_err};

/// Whether a sqlx error is a UNIQUE constraint violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// What `waggle user passwd` did besides setting the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResetReport {
    /// Stored IM passwords that were sealed under the old data key and are gone.
    pub im_passwords_cleared: u32,
    /// Logged messages that were sealed under the old data key and are gone.
    pub messages_deleted: u64,
}

/// A user row's credentials: id, PHC hash (format 1), salt, wrapped key, Argon2
/// parameters and verifier (format 2), key check, unattended wrap.
type LoginRow = (
    i64,
    String,
    Vec<u8>,
    Vec<u8>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// A fresh format-2 login: its salt, parameters and what they derive.
pub(crate) struct NewLogin {
    salt: [u8; crypto::SALT_LEN],
    params: String,
    secrets: LoginSecrets,
}

/// Make a format-2 login for `password` (one Argon2id run).
pub(crate) fn new_login(password: &str, memory: &mut Memory) -> Result<NewLogin, StoreError> {
    let salt = crypto::random::<{ crypto::SALT_LEN }>()?;
    let params = crypto::login_params();
    let secrets = crypto::derive_login(password, &salt, &params, memory)?;
    Ok(NewLogin {
        salt,
        params: crypto::encode_params(&params),
        secrets,
    })
}

impl SqliteStore {
    /// Write a user's format-2 credentials for data key `key`: the login, the key
    /// check and (with an instance key) the unattended wrap. `only_if_wrapped` makes
    /// the update conditional on the row still holding that wrapped key; returns
    /// whether a row was updated.
    pub(crate) async fn write_login(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        user_id: i64,
        key: &UserKey,
        login: &NewLogin,
        only_if_wrapped: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let wrapped = crypto::wrap_key(&login.secrets.kek, user_id, key)?;
        let check = crypto::key_check(user_id, key)?;
        let unattended = self.unattended_wrap(user_id, key, None)?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = '', key_salt = ?, login_params = ?, \
             login_verifier = ?, wrapped_key = ?, key_check = ?, unattended_key = ? \
             WHERE id = ? AND (? IS NULL OR wrapped_key = ?)",
        )
        .bind(login.salt.as_slice())
        .bind(&login.params)
        .bind(login.secrets.verifier.as_slice())
        .bind(&wrapped)
        .bind(check.as_slice())
        .bind(unattended)
        .bind(user_id)
        .bind(only_if_wrapped)
        .bind(only_if_wrapped)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn create_user_impl(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(UserId, UserKey), StoreError> {
        // Cheap early answer before the slow hashing; the UNIQUE index decides for real.
        if self.user_exists_impl(name).await? {
            return Err(StoreError::UserExists(name.to_owned()));
        }
        let password = Zeroizing::new(password.to_owned());
        let login = self.hashing.run(move |m| new_login(&password, m)).await?;
        let key = crypto::new_data_key()?;

        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, password_hash, key_salt, wrapped_key) \
             VALUES (?, '', X'', X'')",
        )
        .bind(name)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::UserExists(name.to_owned()));
            }
            Err(e) => return Err(db_err(e)),
        };
        self.write_login(&mut tx, id, &key, &login, None).await?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(user = name, "user created");
        Ok((UserId(id), key))
    }

    pub(crate) async fn authenticate_impl(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<(UserId, UserKey)>, StoreError> {
        // A user imported from BitlBee gets Waggle credentials at the first identify.
        if crate::bitlbee::convert_legacy_login(self, name, password).await?
            == crate::bitlbee::LegacyLogin::Refused
        {
            return Ok(None);
        }
        let row: Option<LoginRow> = sqlx::query_as(
            "SELECT id, password_hash, key_salt, wrapped_key, login_params, login_verifier, \
             key_check, unattended_key FROM users WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let password = Zeroizing::new(password.to_owned());
        let Some((id, hash, salt, wrapped, params, verifier, check, unattended)) = row else {
            // Same work as a wrong password, so timing does not reveal who exists.
            self.hashing
                .run(move |m| new_login(&password, m).map(drop))
                .await?;
            return Ok(None);
        };

        let Some(verifier) = verifier else {
            return self.convert_legacy(id, hash, salt, wrapped, password).await;
        };
        let params = crypto::decode_params(params.as_deref().unwrap_or_default())?;
        let kek = self
            .hashing
            .run(move |m| {
                let secrets = crypto::derive_login(&password, &salt, &params, m)?;
                Ok(secrets.matches(&verifier).then_some(secrets.kek))
            })
            .await?;
        let Some(kek) = kek else {
            return Ok(None);
        };
        let key = crypto::unwrap_key(&kek, id, &wrapped)?;

        // Keep the key check and the unattended wrap in step with this login.
        let check_ok = match &check {
            Some(c) => crypto::key_check_matches(c, id, &key)?,
            None => false,
        };
        let wanted = self.unattended_wrap(id, &key, unattended.as_deref())?;
        if !check_ok || wanted != unattended {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "UPDATE users SET key_check = ?, unattended_key = ? \
                 WHERE id = ? AND wrapped_key = ?",
            )
            .bind(crypto::key_check(id, &key)?.as_slice())
            .bind(&wanted)
            .bind(id)
            .bind(&wrapped)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            if done.rows_affected() == 0 {
                // The password was changed or reset meanwhile: this key is stale.
                return Ok(None);
            }
        }
        Ok(Some((UserId(id), key)))
    }

    /// Check a format-1 user the old way (two Argon2id runs) and, when the password
    /// is right, store format-2 credentials for the same data key (one more run).
    async fn convert_legacy(
        &self,
        id: i64,
        hash: String,
        salt: Vec<u8>,
        wrapped: Vec<u8>,
        password: Zeroizing<String>,
    ) -> Result<Option<(UserId, UserKey)>, StoreError> {
        let old_wrapped = wrapped.clone();
        let checked = self
            .hashing
            .run(move |m| {
                if !crypto::verify_legacy(&password, &hash, m)? {
                    return Ok(None);
                }
                let key = crypto::unwrap_legacy_key(&password, &salt, &wrapped, m)?;
                Ok(Some((key, new_login(&password, m)?)))
            })
            .await?;
        let Some((key, login)) = checked else {
            return Ok(None);
        };
        let mut tx = self.begin_write().await?;
        let converted = self
            .write_login(&mut tx, id, &key, &login, Some(&old_wrapped))
            .await?;
        tx.commit().await.map_err(db_err)?;
        if !converted {
            return Ok(None);
        }
        tracing::info!(user = id, "credentials converted to the one-hash format");
        Ok(Some((UserId(id), key)))
    }

    pub(crate) async fn user_exists_impl(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.user_id(name).await?.is_some())
    }

    /// The id of the user called `name` (case-insensitive), if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the database fails.
    pub async fn user_id(&self, name: &str) -> Result<Option<UserId>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.map(|(id,)| UserId(id)))
    }

    pub(crate) async fn list_users_impl(&self) -> Result<Vec<UserSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.name, (SELECT COUNT(*) FROM accounts a WHERE a.user_id = u.id), u.created \
             FROM users u ORDER BY u.name, u.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let accounts: i64 = row.try_get(1).map_err(db_err)?;
                Ok(UserSummary {
                    name: row.try_get(0).map_err(db_err)?,
                    accounts: u32::try_from(accounts).unwrap_or(u32::MAX),
                    created: row.try_get(2).map_err(db_err)?,
                })
            })
            .collect()
    }

    pub(crate) async fn delete_user_impl(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM users WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        let deleted = done.rows_affected() > 0;
        if deleted {
            tracing::info!(user = name, "user deleted");
        }
        Ok(deleted)
    }

    pub(crate) async fn change_password_impl(
        &self,
        user: UserId,
        key: &UserKey,
        new_password: &str,
    ) -> Result<(), StoreError> {
        let check: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT key_check FROM users WHERE id = ?")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        match check {
            None => return Err(StoreError::NoSuchUser(user.to_string())),
            // A key that is no longer the user's must not be wrapped as theirs.
            Some((Some(c),)) if !crypto::key_check_matches(&c, user.0, key)? => {
                return Err(StoreError::Decrypt);
            }
            Some(_) => {}
        }
        let password = Zeroizing::new(new_password.to_owned());
        let login = self.hashing.run(move |m| new_login(&password, m)).await?;
        let mut tx = self.begin_write().await?;
        if !self.write_login(&mut tx, user.0, key, &login, None).await? {
            return Err(StoreError::NoSuchUser(user.to_string()));
        }
        tx.commit().await.map_err(db_err)?;
        tracing::info!(user = %user, "password changed");
        Ok(())
    }

    /// Set a password without the old one (admin): a new data key is made, and what
    /// was sealed under the old one (IM passwords, the message log) is deleted.
    ///
    /// # Errors
    /// [`StoreError::NoSuchUser`] when there is no such user; others when hashing or
    /// the database fails.
    pub async fn reset_password_report(
        &self,
        name: &str,
        new_password: &str,
    ) -> Result<ResetReport, StoreError> {
        if !self.user_exists_impl(name).await? {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        let password = Zeroizing::new(new_password.to_owned());
        let login = self.hashing.run(move |m| new_login(&password, m)).await?;
        let key = crypto::new_data_key()?;

        let mut tx = self.begin_write().await?;
        let user: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some((user_id,)) = user else {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        };
        self.write_login(&mut tx, user_id, &key, &login, None)
            .await?;
        let cleared = sqlx::query(
            "UPDATE accounts SET password_enc = NULL \
             WHERE user_id = ? AND password_enc IS NOT NULL",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        let deleted = sqlx::query("DELETE FROM messages WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        tx.commit().await.map_err(db_err)?;
        tracing::info!(user = name, cleared, deleted, "password reset");
        Ok(ResetReport {
            im_passwords_cleared: u32::try_from(cleared).unwrap_or(u32::MAX),
            messages_deleted: deleted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_login_costs_one_argon2_run() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("w.db")).await?;
        let runs = || store.hashing.runs();
        store.create_user_impl("alice", "pw").await?;
        assert_eq!(runs(), 1, "create_user");
        assert!(store.authenticate_impl("alice", "pw").await?.is_some());
        assert_eq!(runs(), 2, "a successful login");
        assert!(store.authenticate_impl("alice", "nope").await?.is_none());
        assert_eq!(runs(), 3, "a wrong password");
        assert!(store.authenticate_impl("nobody", "pw").await?.is_none());
        assert_eq!(runs(), 4, "an unknown user costs the same");
        store.close().await;
        Ok(())
    }
}
