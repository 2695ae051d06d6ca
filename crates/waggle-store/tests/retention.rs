//! Retention: pruning by the instance's age and count and by each user's
//! `history_days`, statistics, clearing a user's history, and the admin reset.

mod common;

use std::time::Duration;

use common::{TestResult, at, entry, fresh};
use waggle_core::settings::HISTORY_DAYS;
use waggle_core::{Conversation, HistoryStats, MessageLog, Retention, Store, UserId, UserKey};
use waggle_store::SqliteStore;

const DAY_MS: u64 = 24 * 3600 * 1000;
/// "Now" for these tests: day 200 after the epoch.
const NOW: u64 = 200 * DAY_MS;

/// A user with one message at each of the given days (counted back from `NOW`).
async fn user_with(
    store: &SqliteStore,
    name: &str,
    days_ago: &[u64],
) -> Result<(UserId, UserKey), Box<dyn std::error::Error>> {
    let (user, key) = store.create_user(name, "pw").await?;
    for (i, d) in days_ago.iter().enumerate() {
        let c = Conversation::Local(format!("&chan{}", i % 2));
        store
            .append(
                user,
                &key,
                &entry(c, NOW - d * DAY_MS, &format!("{name}-{i}"), "x"),
            )
            .await?;
    }
    Ok((user, key))
}

async fn bodies(
    store: &SqliteStore,
    (user, key): &(UserId, UserKey),
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(store
        .since(*user, key, 0, 1000)
        .await?
        .into_iter()
        .map(|m| m.entry.msgid)
        .collect())
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

#[tokio::test]
async fn prune_by_instance_age() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let alice = user_with(&store, "alice", &[120, 91, 89, 1]).await?;
    let bob = user_with(&store, "bob", &[95, 10]).await?;
    let retention = Retention {
        max_age: days(90),
        max_count: None,
    };
    assert_eq!(store.prune(retention, at(NOW)).await?, 3);
    assert_eq!(bodies(&store, &alice).await?, ["alice-2", "alice-3"]);
    assert_eq!(bodies(&store, &bob).await?, ["bob-1"]);
    assert_eq!(
        store.prune(retention, at(NOW)).await?,
        0,
        "nothing left to prune"
    );
    Ok(())
}

#[tokio::test]
async fn a_users_history_days_applies_when_shorter() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let alice = user_with(&store, "alice", &[60, 20, 5]).await?;
    let bob = user_with(&store, "bob", &[60, 20, 5]).await?;
    let carol = user_with(&store, "carol", &[60, 20, 5]).await?;
    store.set_setting(alice.0, HISTORY_DAYS, Some("10")).await?;
    // Longer than the instance allows: the instance wins.
    store.set_setting(bob.0, HISTORY_DAYS, Some("365")).await?;
    let retention = Retention {
        max_age: days(30),
        max_count: None,
    };
    assert_eq!(store.prune(retention, at(NOW)).await?, 4);
    assert_eq!(bodies(&store, &alice).await?, ["alice-2"]);
    assert_eq!(bodies(&store, &bob).await?, ["bob-1", "bob-2"]);
    assert_eq!(bodies(&store, &carol).await?, ["carol-1", "carol-2"]);
    // Zero days keeps nothing.
    store.set_setting(carol.0, HISTORY_DAYS, Some("0")).await?;
    assert_eq!(store.prune(retention, at(NOW)).await?, 2);
    assert!(bodies(&store, &carol).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn prune_by_count_keeps_the_newest_per_user() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    // Appended out of time order: the newest by time stay.
    let alice = user_with(&store, "alice", &[3, 50, 1, 20, 2]).await?;
    let bob = user_with(&store, "bob", &[7, 8]).await?;
    let retention = Retention {
        max_age: days(90),
        max_count: Some(3),
    };
    assert_eq!(store.prune(retention, at(NOW)).await?, 2);
    assert_eq!(
        bodies(&store, &alice).await?,
        ["alice-0", "alice-2", "alice-4"]
    );
    assert_eq!(bodies(&store, &bob).await?, ["bob-0", "bob-1"]);
    Ok(())
}

#[tokio::test]
async fn pruning_many_deletes_them_all() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    // More than one deletion chunk.
    let old: Vec<u64> = std::iter::repeat_n(95, 2100).collect();
    let alice = user_with(&store, "alice", &old).await?;
    let retention = Retention::default();
    assert_eq!(store.prune(retention, at(NOW)).await?, 2100);
    assert!(bodies(&store, &alice).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn stats_and_clearing() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let alice = user_with(&store, "alice", &[30, 20, 10, 5]).await?;
    let bob = user_with(&store, "bob", &[1]).await?;
    assert_eq!(
        store.history_stats(alice.0).await?,
        HistoryStats {
            count: 4,
            oldest: Some(at(NOW - 30 * DAY_MS)),
            newest: Some(at(NOW - 5 * DAY_MS)),
            conversations: 2,
        }
    );
    assert_eq!(
        store
            .clear_history(alice.0, Some(at(NOW - 15 * DAY_MS)))
            .await?,
        2
    );
    assert_eq!(bodies(&store, &alice).await?, ["alice-2", "alice-3"]);
    assert_eq!(store.clear_history(alice.0, None).await?, 2);
    assert_eq!(store.history_stats(alice.0).await?, HistoryStats::default());
    assert_eq!(bodies(&store, &bob).await?, ["bob-0"], "others keep theirs");
    Ok(())
}

#[tokio::test]
async fn an_admin_reset_deletes_what_the_old_key_sealed() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let alice = user_with(&store, "alice", &[3, 2, 1]).await?;
    let bob = user_with(&store, "bob", &[1]).await?;
    let report = store.reset_password_report("alice", "new").await?;
    assert_eq!(report.messages_deleted, 3);
    assert_eq!(report.im_passwords_cleared, 0);
    assert_eq!(store.history_stats(alice.0).await?.count, 0);
    assert_eq!(bodies(&store, &bob).await?, ["bob-0"]);
    let (_, new_key) = store
        .authenticate("alice", "new")
        .await?
        .ok_or("new password refused")?;
    // The log goes on under the new key.
    store
        .append(
            alice.0,
            &new_key,
            &entry(Conversation::Local("&bitlbee".into()), NOW, "after", "x"),
        )
        .await?;
    assert_eq!(bodies(&store, &(alice.0, new_key)).await?, ["after"]);
    Ok(())
}
