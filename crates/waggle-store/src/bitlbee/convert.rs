//! The first identify of an imported user: check the BitlBee password against the
//! old hash, then give the user Argon2id credentials with a fresh data key and seal
//! the IM passwords under it, in one transaction.

use waggle_core::{StoreError, UserKey};

use zeroize::Zeroizing;

use super::PENDING_HASH;
use super::legacy;
use crate::crypto;
use crate::hashing::Memory;
use crate::sqlite::{SqliteStore, db_err};
use crate::users::{NewLogin, new_login};

/// What [`convert_legacy_login`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyLogin {
    /// No pending BitlBee login for that name: authenticate as usual.
    NotPending,
    /// The login was converted: the user's row now has Waggle credentials for
    /// this password, so authenticating as usual succeeds.
    Converted,
    /// A pending login and the wrong password: authentication fails.
    Refused,
}

/// A fresh Waggle login and the IM passwords sealed under its data key.
struct Converted {
    key: UserKey,
    login: NewLogin,
    sealed: Vec<(i64, Vec<u8>)>,
    unreadable: usize,
}

/// Make the new login and seal the IM passwords (one Argon2id run).
fn seal_all(
    user_id: i64,
    password: &str,
    encrypted: Vec<(i64, Vec<u8>)>,
    memory: &mut Memory,
) -> Result<Converted, StoreError> {
    let key: UserKey = crypto::new_data_key()?;
    let login = new_login(password, memory)?;
    let mut sealed = Vec::with_capacity(encrypted.len());
    let mut unreadable = 0;
    for (account, blob) in encrypted {
        match legacy::decrypt_password(&blob, password) {
            Ok(plain) if !plain.is_empty() => sealed.push((
                account,
                crypto::seal_account_password(&key, user_id, account, &plain)?,
            )),
            // BitlBee's empty password (OAuth accounts) is no password.
            Ok(_) => {}
            Err(_) => unreadable += 1,
        }
    }
    Ok(Converted {
        key,
        login,
        sealed,
        unreadable,
    })
}

/// If `name` has a pending BitlBee login, check `password` against it and, when it
/// matches, convert the login. Call before authenticating as usual.
pub(crate) async fn convert_legacy_login(
    store: &SqliteStore,
    name: &str,
    password: &str,
) -> Result<LegacyLogin, StoreError> {
    let pending: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT u.id, l.password_md5 FROM users u JOIN bitlbee_logins l ON l.user_id = u.id \
         WHERE u.name = ? AND u.password_hash = ?",
    )
    .bind(name)
    .bind(PENDING_HASH)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_err)?;
    let Some((user_id, hash)) = pending else {
        return Ok(LegacyLogin::NotPending);
    };
    let password = Zeroizing::new(password.to_owned());
    if !legacy::verify_login(&password, &hash) {
        // As long as a wrong Waggle password takes, so timing tells nothing.
        store
            .hashing
            .run(move |m| new_login(&password, m).map(drop))
            .await?;
        return Ok(LegacyLogin::Refused);
    }
    let encrypted: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT account_id, password FROM bitlbee_account_passwords WHERE user_id = ? \
         ORDER BY account_id",
    )
    .bind(user_id)
    .fetch_all(&store.pool)
    .await
    .map_err(db_err)?;
    let done = store
        .hashing
        .run(move |m| seal_all(user_id, &password, encrypted, m))
        .await?;

    let mut tx = store.begin_write().await?;
    // Another identify may have converted (or an admin reset) the login meanwhile:
    // then there is nothing left to do here.
    let claimed = sqlx::query("DELETE FROM bitlbee_logins WHERE user_id = ? AND password_md5 = ?")
        .bind(user_id)
        .bind(&hash)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    let still_pending: Option<(String,)> =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = ? AND password_hash = ?")
            .bind(user_id)
            .bind(PENDING_HASH)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    if claimed == 0 || still_pending.is_none() {
        tx.rollback().await.map_err(db_err)?;
        return Ok(LegacyLogin::NotPending);
    }
    store
        .write_login(&mut tx, user_id, &done.key, &done.login, None)
        .await?;
    for (account, sealed) in &done.sealed {
        sqlx::query("UPDATE accounts SET password_enc = ? WHERE id = ? AND user_id = ?")
            .bind(sealed)
            .bind(account)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    sqlx::query("UPDATE bitlbee_imports SET converted = CURRENT_TIMESTAMP WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    if done.unreadable > 0 {
        tracing::warn!(
            user = name,
            accounts = done.unreadable,
            "IM passwords from BitlBee that are not text were dropped; they must be set again"
        );
    }
    tracing::info!(
        user = name,
        passwords = done.sealed.len(),
        "BitlBee login converted"
    );
    Ok(LegacyLogin::Converted)
}
