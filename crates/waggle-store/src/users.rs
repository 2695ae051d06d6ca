//! Users: creation, authentication, listing, deletion and password changes.

use sqlx::Row;
use waggle_core::{StoreError, UserId, UserKey, UserSummary};

use crate::crypto;
use crate::sqlite::{SqliteStore, blocking, db_err};

/// Whether a sqlx error is a UNIQUE constraint violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl SqliteStore {
    pub(crate) async fn create_user_impl(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(UserId, UserKey), StoreError> {
        // Cheap early answer before the slow hashing; the UNIQUE index decides for real.
        if self.user_exists_impl(name).await? {
            return Err(StoreError::UserExists(name.to_owned()));
        }
        let password = password.to_owned();
        let (key, creds) = blocking(move || {
            let key = crypto::new_data_key()?;
            let creds = crypto::make_credentials(&password, &key)?;
            Ok((key, creds))
        })
        .await?;

        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, password_hash, key_salt, wrapped_key) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(&creds.password_hash)
        .bind(&creds.key_salt)
        .bind(&creds.wrapped_key)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::UserExists(name.to_owned()));
            }
            Err(e) => return Err(db_err(e)),
        };
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
        let row: Option<(i64, String, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT id, password_hash, key_salt, wrapped_key FROM users WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;

        let password = password.to_owned();
        let dummy = self.dummy_hash.clone();
        blocking(move || match row {
            None => {
                // Same work as a wrong password, so timing does not reveal who exists.
                let _ = crypto::verify_password(&password, &dummy);
                Ok(None)
            }
            Some((id, hash, salt, wrapped)) => {
                if !crypto::verify_password(&password, &hash)? {
                    return Ok(None);
                }
                let key = crypto::unwrap_key(&password, &salt, &wrapped)?;
                Ok(Some((UserId(id), key)))
            }
        })
        .await
    }

    pub(crate) async fn user_exists_impl(&self, name: &str) -> Result<bool, StoreError> {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)")
                .bind(name)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(exists)
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
        let password = new_password.to_owned();
        let key = key.clone();
        let creds = blocking(move || crypto::make_credentials(&password, &key)).await?;

        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = ?, key_salt = ?, wrapped_key = ? WHERE id = ?",
        )
        .bind(&creds.password_hash)
        .bind(&creds.key_salt)
        .bind(&creds.wrapped_key)
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(user.to_string()));
        }
        tx.commit().await.map_err(db_err)?;
        tracing::info!(user = %user, "password changed");
        Ok(())
    }

    pub(crate) async fn reset_password_impl(
        &self,
        name: &str,
        new_password: &str,
    ) -> Result<u32, StoreError> {
        if !self.user_exists_impl(name).await? {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        }
        let password = new_password.to_owned();
        let creds = blocking(move || {
            let key = crypto::new_data_key()?;
            crypto::make_credentials(&password, &key)
        })
        .await?;

        let mut tx = self.begin_write().await?;
        let user: Option<(i64,)> = sqlx::query_as(
            "UPDATE users SET password_hash = ?, key_salt = ?, wrapped_key = ? \
             WHERE name = ? RETURNING id",
        )
        .bind(&creds.password_hash)
        .bind(&creds.key_salt)
        .bind(&creds.wrapped_key)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((user_id,)) = user else {
            return Err(StoreError::NoSuchUser(name.to_owned()));
        };
        let cleared = sqlx::query(
            "UPDATE accounts SET password_enc = NULL \
             WHERE user_id = ? AND password_enc IS NOT NULL",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        tx.commit().await.map_err(db_err)?;
        tracing::info!(user = name, cleared, "password reset");
        Ok(u32::try_from(cleared).unwrap_or(u32::MAX))
    }
}
