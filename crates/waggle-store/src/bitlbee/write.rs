//! Storing one planned user in one transaction: the user with a pending login,
//! settings, accounts (IM passwords still BitlBee's), stored nicks and channels.

use std::collections::BTreeMap;

use sqlx::{Sqlite, Transaction};
use waggle_core::StoreError;

use super::PENDING_HASH;
use super::plan::Plan;
use super::report::FileOutcome;
use crate::sqlite::{SqliteStore, db_err};

type Tx = Transaction<'static, Sqlite>;

async fn insert_settings(
    tx: &mut Tx,
    sql: &'static str,
    owner: i64,
    channel: Option<&str>,
    settings: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    for (name, value) in settings {
        let mut q = sqlx::query(sql).bind(owner);
        if let Some(channel) = channel {
            q = q.bind(channel);
        }
        q.bind(name)
            .bind(value)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Create the user of `plan` unless the name is taken; `source` is the file name.
pub(crate) async fn store_plan(
    store: &SqliteStore,
    plan: &Plan,
    source: &str,
) -> Result<FileOutcome, StoreError> {
    let user = plan.report.user.clone();
    let mut tx = store.begin_write().await?;
    let existing: Option<(i64, bool)> = sqlx::query_as(
        "SELECT u.id, EXISTS (SELECT 1 FROM bitlbee_imports i WHERE i.user_id = u.id) \
         FROM users u WHERE u.name = ?",
    )
    .bind(&user)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    match existing {
        Some((_, true)) => return Ok(FileOutcome::AlreadyImported { user }),
        Some((_, false)) => return Ok(FileOutcome::UserExists { user }),
        None => {}
    }

    let uid = sqlx::query(
        "INSERT INTO users (name, password_hash, key_salt, wrapped_key) VALUES (?, ?, x'', x'')",
    )
    .bind(&user)
    .bind(PENDING_HASH)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .last_insert_rowid();
    sqlx::query("INSERT INTO bitlbee_imports (user_id, source) VALUES (?, ?)")
        .bind(uid)
        .bind(source)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    sqlx::query("INSERT INTO bitlbee_logins (user_id, password_md5) VALUES (?, ?)")
        .bind(uid)
        .bind(&plan.login_hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    insert_settings(
        &mut tx,
        "INSERT INTO user_settings (user_id, name, value) VALUES (?, ?, ?)",
        uid,
        None,
        &plan.settings,
    )
    .await?;

    for (position, acc) in plan.accounts.iter().enumerate() {
        let row = sqlx::query(
            "INSERT INTO accounts (user_id, position, protocol, handle, tag) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(uid)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&acc.protocol)
        .bind(&acc.handle)
        .bind(&acc.tag)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .last_insert_rowid();
        insert_settings(
            &mut tx,
            "INSERT INTO account_settings (account_id, name, value) VALUES (?, ?, ?)",
            row,
            None,
            &acc.settings,
        )
        .await?;
        if let Some(sealed) = &acc.password {
            sqlx::query(
                "INSERT INTO bitlbee_account_passwords (account_id, user_id, password) \
                 VALUES (?, ?, ?)",
            )
            .bind(row)
            .bind(uid)
            .bind(sealed)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        for (handle, nick) in &acc.buddies {
            sqlx::query(
                "INSERT INTO contacts (user_id, account_id, handle, nick) VALUES (?, ?, ?, ?)",
            )
            .bind(uid)
            .bind(row)
            .bind(handle)
            .bind(nick)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
    }

    for ch in &plan.channels {
        sqlx::query("INSERT INTO channels (user_id, name) VALUES (?, ?)")
            .bind(uid)
            .bind(&ch.name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_settings(
            &mut tx,
            "INSERT INTO channel_settings (user_id, channel, name, value) VALUES (?, ?, ?, ?)",
            uid,
            Some(&ch.name),
            &ch.settings,
        )
        .await?;
    }
    tx.commit().await.map_err(db_err)?;
    tracing::info!(
        user = %user,
        accounts = plan.accounts.len(),
        channels = plan.channels.len(),
        "user imported from BitlBee"
    );
    Ok(FileOutcome::Imported(plan.report.clone()))
}
