//! Users, passwords and keys; the database file itself (WAL, persistence).

mod common;

use common::{TestResult, account, fresh, raw};
use waggle_core::{Secret, Store, StoreError};
use waggle_store::SqliteStore;

#[tokio::test]
async fn create_then_authenticate() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (id, key) = store.create_user("alice", "correct horse").await?;
    let (id2, key2) = store
        .authenticate("alice", "correct horse")
        .await?
        .ok_or("authentication failed")?;
    assert_eq!(id, id2);
    assert_eq!(key, key2);
    // The name is matched case-insensitively.
    let (id3, _) = store
        .authenticate("ALICE", "correct horse")
        .await?
        .ok_or("case-insensitive authentication failed")?;
    assert_eq!(id, id3);
    assert!(store.user_exists("Alice").await?);
    assert!(!store.user_exists("bob").await?);
    Ok(())
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_none() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    store.create_user("alice", "secret").await?;
    assert!(store.authenticate("alice", "Secret").await?.is_none());
    assert!(store.authenticate("alice", "").await?.is_none());
    assert!(store.authenticate("mallory", "secret").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn duplicate_name_is_case_insensitive() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    store.create_user("alice", "one").await?;
    match store.create_user("Alice", "two").await {
        Err(StoreError::UserExists(name)) => assert_eq!(name, "Alice"),
        other => return Err(format!("expected UserExists, got {other:?}").into()),
    }
    // The first password still works and the second never took.
    assert!(store.authenticate("alice", "one").await?.is_some());
    assert!(store.authenticate("alice", "two").await?.is_none());
    assert_eq!(store.list_users().await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn account_password_is_encrypted_at_rest() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "gateway-pw").await?;
    let plaintext = "my-very-secret-im-password";
    let row = store
        .save_account(
            user,
            &key,
            &account("alice@example.org", "jabber", Some(plaintext), 0),
        )
        .await?;

    let data = store.load(user, &key).await?;
    assert_eq!(data.accounts.len(), 1);
    assert_eq!(data.accounts[0].row, Some(row));
    assert_eq!(data.accounts[0].password, Some(Secret(plaintext.into())));

    let pool = raw(&path).await?;
    let (blob,): (Option<Vec<u8>>,) =
        sqlx::query_as("SELECT password_enc FROM accounts WHERE id = ?")
            .bind(row)
            .fetch_one(&pool)
            .await?;
    let blob = blob.ok_or("no password stored")?;
    assert!(blob.len() >= 24 + plaintext.len() + 16);
    assert!(
        !blob
            .windows(plaintext.len())
            .any(|w| w == plaintext.as_bytes())
    );
    // Nor is the gateway password or the data key stored in the clear.
    let (hash, params, verifier, wrapped): (String, String, Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT password_hash, login_params, login_verifier, wrapped_key FROM users \
         WHERE name = 'alice'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(hash, "", "one-hash credentials keep no PHC string");
    assert_eq!(params, "m=19456,t=2,p=1");
    assert_eq!(verifier.len(), 32);
    assert!(!verifier.windows(10).any(|w| w == b"gateway-pw"));
    assert!(!wrapped.windows(32).any(|w| w == key.0));
    pool.close().await;

    // A wrong key cannot read it.
    let wrong = waggle_core::UserKey([7; 32]);
    assert!(matches!(
        store.load(user, &wrong).await,
        Err(StoreError::Decrypt)
    ));
    Ok(())
}

#[tokio::test]
async fn change_password_keeps_im_passwords() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "old-pw").await?;
    store
        .save_account(user, &key, &account("a@x.org", "jabber", Some("im-pw"), 0))
        .await?;

    store.change_password(user, &key, "new-pw").await?;
    assert!(store.authenticate("alice", "old-pw").await?.is_none());
    let (user2, key2) = store
        .authenticate("alice", "new-pw")
        .await?
        .ok_or("new password refused")?;
    assert_eq!(user, user2);
    assert_eq!(key, key2, "the data key is re-wrapped, not replaced");
    let data = store.load(user2, &key2).await?;
    assert_eq!(data.accounts[0].password, Some(Secret("im-pw".into())));

    assert!(matches!(
        store
            .change_password(waggle_core::UserId(9999), &key, "x")
            .await,
        Err(StoreError::NoSuchUser(_))
    ));
    Ok(())
}

#[tokio::test]
async fn reset_password_clears_im_passwords() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "forgotten").await?;
    store
        .save_account(user, &key, &account("a@x.org", "jabber", Some("pw1"), 0))
        .await?;
    store
        .save_account(user, &key, &account("b@x.org", "jabber2", Some("pw2"), 1))
        .await?;
    store
        .save_account(user, &key, &account("c@x.org", "jabber3", None, 2))
        .await?;
    // Another user's passwords are untouched.
    let (bob, bob_key) = store.create_user("bob", "bob-pw").await?;
    store
        .save_account(
            bob,
            &bob_key,
            &account("bob@x.org", "jabber", Some("bob-im"), 0),
        )
        .await?;

    assert_eq!(store.reset_password("ALICE", "fresh").await?, 2);
    assert!(store.authenticate("alice", "forgotten").await?.is_none());
    let (user2, key2) = store
        .authenticate("alice", "fresh")
        .await?
        .ok_or("reset password refused")?;
    assert_eq!(user, user2);
    assert_ne!(key, key2, "a new data key is made");
    let data = store.load(user2, &key2).await?;
    assert_eq!(data.accounts.len(), 3);
    assert!(data.accounts.iter().all(|a| a.password.is_none()));

    let bob_data = store.load(bob, &bob_key).await?;
    assert_eq!(bob_data.accounts[0].password, Some(Secret("bob-im".into())));

    assert!(matches!(
        store.reset_password("nobody", "x").await,
        Err(StoreError::NoSuchUser(_))
    ));
    Ok(())
}

#[tokio::test]
async fn list_and_delete_users() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (bob, bob_key) = store.create_user("bob", "b").await?;
    let (alice, alice_key) = store.create_user("Alice", "a").await?;
    store
        .save_account(bob, &bob_key, &account("b1@x", "jabber", Some("p"), 0))
        .await?;
    store
        .save_account(bob, &bob_key, &account("b2@x", "jabber2", None, 1))
        .await?;
    store.set_setting(alice, "away", Some("brb")).await?;

    let users = store.list_users().await?;
    let names: Vec<_> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Alice", "bob"]);
    assert_eq!(users[0].accounts, 0);
    assert_eq!(users[1].accounts, 2);
    // `YYYY-MM-DD HH:MM:SS`
    assert_eq!(users[0].created.len(), 19);

    // Give bob one of everything, then delete him.
    let row = store
        .save_account(bob, &bob_key, &account("b3@x", "jabber3", None, 2))
        .await?;
    store.set_setting(bob, "away", Some("gone")).await?;
    store
        .save_contact(
            bob,
            &waggle_core::ContactRecord {
                account_row: row,
                handle: "carol@x".into(),
                nick: "carol".into(),
                group: None,
                display_name: None,
            },
        )
        .await?;
    store
        .save_channel(
            bob,
            &waggle_core::ChannelRecord {
                name: "#room".into(),
                settings: common::map(&[("type", "chat")]),
            },
        )
        .await?;
    let mut account_with_settings = account("b4@x", "jabber4", None, 3);
    account_with_settings.settings = common::map(&[("server", "x")]);
    store
        .save_account(bob, &bob_key, &account_with_settings)
        .await?;

    assert!(store.delete_user("BOB").await?);
    assert!(!store.delete_user("bob").await?);
    assert!(!store.user_exists("bob").await?);
    assert!(store.authenticate("bob", "b").await?.is_none());

    let pool = raw(&path).await?;
    for table in [
        "accounts",
        "account_settings",
        "contacts",
        "channels",
        "channel_settings",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await?;
        assert_eq!(n, 0, "{table} still has rows");
    }
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_settings WHERE user_id = ?")
        .bind(alice.0)
        .fetch_one(&pool)
        .await?;
    assert_eq!(n, 1, "alice's settings survive");
    pool.close().await;

    let remaining = store.list_users().await?;
    assert_eq!(remaining.len(), 1);
    assert!(
        store
            .load(alice, &alice_key)
            .await?
            .settings
            .contains_key("away")
    );
    Ok(())
}

#[tokio::test]
async fn data_persists_across_reopen() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let mut acc = account("a@x.org", "jabber", Some("im"), 0);
    acc.settings = common::map(&[("nick_source", "full_name")]);
    store.save_account(user, &key, &acc).await?;
    store.set_setting(user, "charset", Some("utf-8")).await?;
    let before = store.load(user, &key).await?;
    store.close().await;
    assert!(
        store.user_exists("alice").await.is_err(),
        "closed store refuses"
    );

    let store = SqliteStore::open(&path).await?;
    let (user2, key2) = store
        .authenticate("alice", "pw")
        .await?
        .ok_or("password lost on reopen")?;
    assert_eq!(user, user2);
    assert_eq!(store.load(user2, &key2).await?, before);
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn journal_mode_is_wal() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let pool = raw(&path).await?;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await?;
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    pool.close().await;
    store.close().await;
    Ok(())
}
