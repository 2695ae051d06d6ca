//! A user's data: settings, accounts, contacts and channels. Every statement is
//! scoped by the owning user's id, so one user can never read or change another's rows.

use std::collections::BTreeMap;

use sqlx::{Sqlite, Transaction};
use waggle_core::{
    AccountRecord, ChannelRecord, ContactRecord, Secret, StoreError, UserData, UserId, UserKey,
};

use crate::crypto;
use crate::sqlite::{SqliteStore, db_err};

/// An `accounts` row: id, position, protocol, handle, tag, sealed password.
type AccountRow = (i64, i64, String, String, String, Option<Vec<u8>>);
/// A `contacts` row: account id, handle, nick, group, display name.
type ContactRow = (i64, String, String, Option<String>, Option<String>);

/// Replace a name → value map: `delete` clears the old rows (binding `owner` then
/// `extra` when given), then each entry is inserted with `insert`.
async fn replace_settings(
    tx: &mut Transaction<'static, Sqlite>,
    delete: &'static str,
    insert: &'static str,
    owner: i64,
    extra: Option<&str>,
    settings: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let mut query = sqlx::query(delete).bind(owner);
    if let Some(extra) = extra {
        query = query.bind(extra);
    }
    query.execute(&mut **tx).await.map_err(db_err)?;
    for (name, value) in settings {
        let mut query = sqlx::query(insert).bind(owner);
        if let Some(extra) = extra {
            query = query.bind(extra);
        }
        query
            .bind(name)
            .bind(value)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Insert or update one contact inside `tx`, only when its account is the user's.
async fn save_contact_in(
    tx: &mut Transaction<'static, Sqlite>,
    user: UserId,
    contact: &ContactRecord,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO contacts (user_id, account_id, handle, nick, grp, display_name) \
         SELECT user_id, id, ?, ?, ?, ? FROM accounts WHERE id = ? AND user_id = ? \
         ON CONFLICT (account_id, handle) DO UPDATE SET \
         nick = excluded.nick, grp = excluded.grp, display_name = excluded.display_name",
    )
    .bind(&contact.handle)
    .bind(&contact.nick)
    .bind(&contact.group)
    .bind(&contact.display_name)
    .bind(contact.account_row)
    .bind(user.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Database(format!(
            "user {user} has no account {}",
            contact.account_row
        )));
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn load_impl(
        &self,
        user: UserId,
        key: &UserKey,
    ) -> Result<UserData, StoreError> {
        // One read transaction: a consistent snapshot (WAL readers do not block writers).
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let uid = user.0;

        let settings: Vec<(String, String)> =
            sqlx::query_as("SELECT name, value FROM user_settings WHERE user_id = ?")
                .bind(uid)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;

        let account_rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT id, position, protocol, handle, tag, password_enc FROM accounts \
                 WHERE user_id = ? ORDER BY position, id",
        )
        .bind(uid)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;

        let account_settings: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT s.account_id, s.name, s.value FROM account_settings s \
             JOIN accounts a ON a.id = s.account_id WHERE a.user_id = ?",
        )
        .bind(uid)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;

        let contacts: Vec<ContactRow> = sqlx::query_as(
            "SELECT account_id, handle, nick, grp, display_name FROM contacts \
                 WHERE user_id = ? ORDER BY account_id, handle",
        )
        .bind(uid)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;

        let channels: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM channels WHERE user_id = ? ORDER BY name")
                .bind(uid)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;

        let channel_settings: Vec<(String, String, String)> =
            sqlx::query_as("SELECT channel, name, value FROM channel_settings WHERE user_id = ?")
                .bind(uid)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;

        tx.commit().await.map_err(db_err)?;

        let mut by_account: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
        for (account, name, value) in account_settings {
            by_account.entry(account).or_default().insert(name, value);
        }
        let mut accounts = Vec::with_capacity(account_rows.len());
        for (row, position, protocol, handle, tag, password_enc) in account_rows {
            let password = match password_enc {
                Some(sealed) => Some(Secret(crypto::open_account_password(
                    key, uid, row, &sealed,
                )?)),
                None => None,
            };
            accounts.push(AccountRecord {
                row: Some(row),
                protocol,
                handle,
                tag,
                password,
                settings: by_account.remove(&row).unwrap_or_default(),
                position: u32::try_from(position)
                    .map_err(|_| StoreError::Database(format!("account {row}: bad position")))?,
            });
        }

        // Channel names compare case-insensitively (ASCII, like SQLite's NOCASE).
        let mut by_channel: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (channel, name, value) in channel_settings {
            by_channel
                .entry(channel.to_ascii_lowercase())
                .or_default()
                .insert(name, value);
        }
        let channels = channels
            .into_iter()
            .map(|(name,)| ChannelRecord {
                settings: by_channel
                    .remove(&name.to_ascii_lowercase())
                    .unwrap_or_default(),
                name,
            })
            .collect();

        Ok(UserData {
            settings: settings.into_iter().collect(),
            accounts,
            contacts: contacts
                .into_iter()
                .map(
                    |(account_row, handle, nick, group, display_name)| ContactRecord {
                        account_row,
                        handle,
                        nick,
                        group,
                        display_name,
                    },
                )
                .collect(),
            channels,
        })
    }

    pub(crate) async fn set_setting_impl(
        &self,
        user: UserId,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match value {
            Some(value) => sqlx::query(
                "INSERT INTO user_settings (user_id, name, value) VALUES (?, ?, ?) \
                 ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value",
            )
            .bind(user.0)
            .bind(name)
            .bind(value),
            None => sqlx::query("DELETE FROM user_settings WHERE user_id = ? AND name = ?")
                .bind(user.0)
                .bind(name),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn save_account_impl(
        &self,
        user: UserId,
        key: &UserKey,
        account: &AccountRecord,
    ) -> Result<i64, StoreError> {
        let uid = user.0;
        let mut tx = self.begin_write().await?;
        let row = match account.row {
            Some(row) => {
                let done = sqlx::query(
                    "UPDATE accounts SET position = ?, protocol = ?, handle = ?, tag = ? \
                     WHERE id = ? AND user_id = ?",
                )
                .bind(i64::from(account.position))
                .bind(&account.protocol)
                .bind(&account.handle)
                .bind(&account.tag)
                .bind(row)
                .bind(uid)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Database(format!(
                        "user {user} has no account {row}"
                    )));
                }
                row
            }
            None => sqlx::query(
                "INSERT INTO accounts (user_id, position, protocol, handle, tag) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(uid)
            .bind(i64::from(account.position))
            .bind(&account.protocol)
            .bind(&account.handle)
            .bind(&account.tag)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .last_insert_rowid(),
        };

        // Sealed with the row id as associated data, hence after the insert.
        let sealed = match &account.password {
            Some(Secret(password)) => Some(crypto::seal_account_password(key, uid, row, password)?),
            None => None,
        };
        sqlx::query("UPDATE accounts SET password_enc = ? WHERE id = ? AND user_id = ?")
            .bind(sealed)
            .bind(row)
            .bind(uid)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;

        replace_settings(
            &mut tx,
            "DELETE FROM account_settings WHERE account_id = ?",
            "INSERT INTO account_settings (account_id, name, value) VALUES (?, ?, ?)",
            row,
            None,
            &account.settings,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(row)
    }

    pub(crate) async fn delete_account_impl(
        &self,
        user: UserId,
        row: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM accounts WHERE id = ? AND user_id = ?")
            .bind(row)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn save_contacts_impl(
        &self,
        user: UserId,
        contacts: &[ContactRecord],
    ) -> Result<(), StoreError> {
        if contacts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for contact in contacts {
            save_contact_in(&mut tx, user, contact).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn delete_contact_impl(
        &self,
        user: UserId,
        account_row: i64,
        handle: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM contacts WHERE user_id = ? AND account_id = ? AND handle = ?")
            .bind(user.0)
            .bind(account_row)
            .bind(handle)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn save_channel_impl(
        &self,
        user: UserId,
        channel: &ChannelRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // A later spelling of the name wins; its settings follow (ON UPDATE CASCADE).
        sqlx::query(
            "INSERT INTO channels (user_id, name) VALUES (?, ?) \
             ON CONFLICT (user_id, name) DO UPDATE SET name = excluded.name",
        )
        .bind(user.0)
        .bind(&channel.name)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        replace_settings(
            &mut tx,
            "DELETE FROM channel_settings WHERE user_id = ? AND channel = ?",
            "INSERT INTO channel_settings (user_id, channel, name, value) VALUES (?, ?, ?, ?)",
            user.0,
            Some(&channel.name),
            &channel.settings,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    pub(crate) async fn delete_channel_impl(
        &self,
        user: UserId,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM channels WHERE user_id = ? AND name = ?")
            .bind(user.0)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}
