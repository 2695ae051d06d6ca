//! Credentials: the unattended key, running logins, password changes that keep the
//! data key, conversion of the old two-hash format, and the files' modes.

mod common;

use std::path::Path;

use common::{TestResult, account, db_path, entry, fresh, raw};
use waggle_core::{Conversation, MessageLog, Secret, Store, StoreError, UserKey};
use waggle_store::{InstanceKey, OpenOptions, SqliteStore};

fn with_key(key: &InstanceKey) -> OpenOptions {
    OpenOptions {
        unattended_key: Some(key.clone()),
        hash_workers: 1,
    }
}

async fn reopen(
    store: SqliteStore,
    path: &Path,
    options: OpenOptions,
) -> Result<SqliteStore, StoreError> {
    store.close().await;
    SqliteStore::open_with(path, options).await
}

#[tokio::test]
async fn without_an_unattended_key_nobody_starts_unattended() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    store.create_user("alice", "pw").await?;
    store.authenticate("alice", "pw").await?;
    assert!(store.unattended_logins().await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_unattended_key_follows_each_login() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let instance = InstanceKey::generate()?;
    let store = SqliteStore::open_with(&path, with_key(&instance)).await?;
    // Made while the key is configured: wrapped at once.
    let (alice, alice_key) = store.create_user("alice", "a-pw").await?;
    let store = reopen(store, &path, OpenOptions::default()).await?;
    // Made without it: not wrapped.
    let (bob, bob_key) = store.create_user("bob", "b-pw").await?;

    let store = reopen(store, &path, with_key(&instance)).await?;
    let logins = store.unattended_logins().await?;
    assert_eq!(logins.len(), 1);
    assert_eq!((logins[0].id, logins[0].name.as_str()), (alice, "alice"));
    assert_eq!(logins[0].key, alice_key);
    // Bob's next login wraps his key too.
    store
        .authenticate("bob", "b-pw")
        .await?
        .ok_or("bob refused")?;
    let logins = store.unattended_logins().await?;
    let names: Vec<_> = logins.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(logins[1].id, bob);
    assert_eq!(logins[1].key, bob_key);

    // The key is kept in its own column, never in the clear.
    let pool = raw(&path).await?;
    let blobs: Vec<(Vec<u8>,)> =
        sqlx::query_as("SELECT unattended_key FROM users WHERE unattended_key IS NOT NULL")
            .fetch_all(&pool)
            .await?;
    pool.close().await;
    assert_eq!(blobs.len(), 2);
    for (blob,) in &blobs {
        assert!(!blob.windows(32).any(|w| w == alice_key.0 || w == bob_key.0));
    }

    // Another instance key opens nothing.
    let other = InstanceKey::generate()?;
    let store = reopen(store, &path, with_key(&other)).await?;
    assert!(store.unattended_logins().await?.is_empty());

    // Without a key, a login removes the user's wrap: opting out takes effect as
    // opting in does.
    let store = reopen(store, &path, OpenOptions::default()).await?;
    store
        .authenticate("alice", "a-pw")
        .await?
        .ok_or("alice refused")?;
    let store = reopen(store, &path, with_key(&instance)).await?;
    let names: Vec<_> = store
        .unattended_logins()
        .await?
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["bob"]);
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn a_login_stays_valid_until_its_user_or_key_goes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let instance = InstanceKey::generate()?;
    let store = SqliteStore::open_with(&path, with_key(&instance)).await?;
    let (alice, key) = store.create_user("alice", "pw").await?;
    let (bob, bob_key) = store.create_user("bob", "pw").await?;
    assert!(store.login_valid(alice, &key).await?);
    assert!(!store.login_valid(alice, &bob_key).await?);
    assert!(!store.login_valid(alice, &UserKey([1; 32])).await?);

    // A password change keeps the key.
    store.change_password(alice, &key, "pw2").await?;
    assert!(store.login_valid(alice, &key).await?);

    // The admin's reset replaces it: the running login is stale, the new one valid,
    // and the unattended start uses the new key.
    store.reset_password("alice", "pw3").await?;
    assert!(!store.login_valid(alice, &key).await?);
    let (_, new_key) = store.authenticate("alice", "pw3").await?.ok_or("refused")?;
    assert!(store.login_valid(alice, &new_key).await?);
    let alice_login = store
        .unattended_logins()
        .await?
        .into_iter()
        .find(|l| l.id == alice)
        .ok_or("alice not unattended")?;
    assert_eq!(alice_login.key, new_key);
    // A stale key may not be wrapped as hers.
    assert!(matches!(
        store.change_password(alice, &key, "pw4").await,
        Err(StoreError::Decrypt)
    ));

    assert!(store.delete_user("bob").await?);
    assert!(!store.login_valid(bob, &bob_key).await?);
    assert!(store.unattended_logins().await?.iter().all(|l| l.id != bob));
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn change_password_rewraps_the_same_data_key_everywhere() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let instance = InstanceKey::generate()?;
    let store = SqliteStore::open_with(&path, with_key(&instance)).await?;
    let (user, key) = store.create_user("alice", "old").await?;
    store
        .save_account(user, &key, &account("a@x", "jabber", Some("im-pw"), 0))
        .await?;
    store
        .append(
            user,
            &key,
            &entry(Conversation::Local("&bitlbee".into()), 1, "m1", "kept"),
        )
        .await?;
    let before = columns(&path).await?;
    store.change_password(user, &key, "new").await?;
    let after = columns(&path).await?;
    assert_ne!(before.0, after.0, "the data key is wrapped afresh");
    assert_ne!(before.1, after.1, "and so is the unattended wrap");

    assert!(store.authenticate("alice", "old").await?.is_none());
    let (_, key2) = store.authenticate("alice", "new").await?.ok_or("refused")?;
    assert_eq!(key2, key);
    let data = store.load(user, &key2).await?;
    assert_eq!(data.accounts[0].password, Some(Secret("im-pw".into())));
    assert_eq!(store.since(user, &key2, 0, 10).await?[0].entry.body, "kept");
    let logins = store.unattended_logins().await?;
    assert_eq!(logins[0].key, key);
    store.close().await;
    Ok(())
}

/// The wrapped key and the unattended wrap of the only user.
async fn columns(path: &Path) -> Result<(Vec<u8>, Vec<u8>), Box<dyn std::error::Error>> {
    let pool = raw(path).await?;
    let row = sqlx::query_as("SELECT wrapped_key, unattended_key FROM users")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(row)
}

/// The first credential format's columns: PHC hash, key salt, wrapped key.
type LegacyRow = (String, Vec<u8>, Vec<u8>);

/// A user row in the first credential format: a PHC hash, and the data key wrapped
/// under a second Argon2id run over its own salt.
fn legacy_row(password: &str, key: &UserKey) -> Result<LegacyRow, Box<dyn std::error::Error>> {
    use argon2::password_hash::PasswordHasher;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let phc = argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), b"0123456789abcdef")
        .map_err(|e| e.to_string())?
        .to_string();
    let key_salt = b"fedcba9876543210".to_vec();
    let mut kek = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), &key_salt, &mut kek)
        .map_err(|e| e.to_string())?;
    let nonce = [3u8; 24];
    let sealed = chacha20poly1305::XChaCha20Poly1305::new(&kek.into())
        .encrypt(
            &chacha20poly1305::XNonce::from(nonce),
            Payload {
                msg: &key.0,
                aad: b"waggle:data-key:v1",
            },
        )
        .map_err(|e| e.to_string())?;
    Ok((phc, key_salt, [nonce.as_slice(), &sealed].concat()))
}

#[tokio::test]
async fn old_format_users_are_converted_at_their_next_login() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, _) = store.create_user("alice", "placeholder").await?;
    let key = UserKey([42; 32]);
    let (phc, salt, wrapped) = legacy_row("old-secret", &key)?;
    let pool = raw(&path).await?;
    sqlx::query(
        "UPDATE users SET password_hash = ?, key_salt = ?, wrapped_key = ?, \
         login_params = NULL, login_verifier = NULL, key_check = NULL WHERE id = ?",
    )
    .bind(&phc)
    .bind(&salt)
    .bind(&wrapped)
    .bind(user.0)
    .execute(&pool)
    .await?;
    // An IM password sealed under that key by the old code.
    store
        .save_account(user, &key, &account("a@x", "jabber", Some("im-pw"), 0))
        .await?;

    assert!(store.authenticate("alice", "wrong").await?.is_none());
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(&pool)
        .await?;
    assert_eq!(hash, phc, "a failed login converts nothing");
    assert!(store.login_valid(user, &key).await?, "no check value yet");

    let (id, got) = store
        .authenticate("alice", "old-secret")
        .await?
        .ok_or("old password refused")?;
    assert_eq!((id, &got), (user, &key));
    let (hash, verifier): (String, Option<Vec<u8>>) =
        sqlx::query_as("SELECT password_hash, login_verifier FROM users")
            .fetch_one(&pool)
            .await?;
    pool.close().await;
    assert_eq!(hash, "");
    assert!(verifier.is_some());
    // Converted: the same password and the same key, the new way.
    let (_, again) = store
        .authenticate("alice", "old-secret")
        .await?
        .ok_or("refused after conversion")?;
    assert_eq!(again, key);
    assert!(store.authenticate("alice", "wrong").await?.is_none());
    assert!(store.login_valid(user, &key).await?);
    let data = store.load(user, &again).await?;
    assert_eq!(data.accounts[0].password, Some(Secret("im-pw".into())));
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_private() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    let store = SqliteStore::open(&path).await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    store
        .append(
            user,
            &key,
            &entry(Conversation::Local("&bitlbee".into()), 1, "m1", "x"),
        )
        .await?;
    let mode = |p: &Path| -> std::io::Result<u32> {
        Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
    };
    let mut files = vec![path.clone()];
    for suffix in ["-wal", "-shm", ".lock"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in &files {
        assert_eq!(mode(file)?, 0o600, "{}", file.display());
    }
    for created in [path.parent(), path.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        assert_eq!(mode(created)?, 0o700, "{}", created.display());
    }
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn two_openers_of_a_new_database_take_turns() -> TestResult {
    for _ in 0..5 {
        let dir = tempfile::tempdir()?;
        let path = db_path(&dir);
        let (a, b) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
        let (a, b) = (a?, b?);
        a.create_user("alice", "pw").await?;
        assert!(b.user_exists("alice").await?);
        a.close().await;
        b.close().await;
    }
    Ok(())
}
