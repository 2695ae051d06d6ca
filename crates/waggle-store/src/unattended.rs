//! Unattended restart and running logins: the users whose data key is also wrapped
//! under the instance's unattended key, and whether a running login's key is still
//! its user's.

use waggle_core::{StoreError, UnattendedLogin, UserId, UserKey};

use crate::crypto;
use crate::sqlite::{SqliteStore, db_err};

/// A user row as unattended start reads it: id, name, wrapped key, key check.
type UnattendedRow = (i64, String, Vec<u8>, Option<Vec<u8>>);

impl SqliteStore {
    /// What a user row's unattended wrap should be for data key `key`: with an
    /// instance key, `existing` when it already opens to `key` under it, else a fresh
    /// wrap; without one, nothing (the wrap is removed at the user's next login).
    pub(crate) fn unattended_wrap(
        &self,
        user_id: i64,
        key: &UserKey,
        existing: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(instance) = &self.instance_key else {
            return Ok(None);
        };
        let instance = instance.as_bytes();
        if let Some(blob) = existing
            && crypto::unwrap_unattended(instance, user_id, blob).is_ok_and(|k| k == *key)
        {
            return Ok(Some(blob.to_vec()));
        }
        crypto::wrap_unattended(instance, user_id, key).map(Some)
    }

    pub(crate) async fn unattended_logins_impl(&self) -> Result<Vec<UnattendedLogin>, StoreError> {
        let Some(instance) = &self.instance_key else {
            return Ok(Vec::new());
        };
        let rows: Vec<UnattendedRow> = sqlx::query_as(
            "SELECT id, name, unattended_key, key_check FROM users \
             WHERE unattended_key IS NOT NULL ORDER BY name, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut logins = Vec::with_capacity(rows.len());
        for (id, name, wrapped, check) in rows {
            let key = match crypto::unwrap_unattended(instance.as_bytes(), id, &wrapped) {
                Ok(key) => key,
                Err(_) => {
                    tracing::warn!(
                        user = name,
                        "unattended key does not open this user's data key (was the key \
                         file replaced?); they start when they identify"
                    );
                    continue;
                }
            };
            if let Some(check) = check
                && !crypto::key_check_matches(&check, id, &key)?
            {
                tracing::warn!(
                    user = name,
                    "stale unattended key; they start when they identify"
                );
                continue;
            }
            logins.push(UnattendedLogin {
                id: UserId(id),
                name,
                key,
            });
        }
        Ok(logins)
    }

    pub(crate) async fn login_valid_impl(
        &self,
        user: UserId,
        key: &UserKey,
    ) -> Result<bool, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT key_check FROM users WHERE id = ?")
                .bind(user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        match row {
            None => Ok(false),
            // Not logged in since the check was introduced: no running login can be stale.
            Some((None,)) => Ok(true),
            Some((Some(check),)) => crypto::key_check_matches(&check, user.0, key),
        }
    }
}
