//! The message log: appends and their order, backlog, de-duplication, archive
//! cursors, read positions and markers, sealing at rest.

mod common;

use std::time::{Duration, SystemTime};

use common::{TestResult, account, at, entry, fresh, raw};
use waggle_core::{
    Conversation, Direction, LogEntry, MessageKind, MessageLog, Store, StoreError, UserId, UserKey,
};

/// A user with one account; returns the user, key and the account row.
async fn alice(
    store: &waggle_store::SqliteStore,
) -> Result<(UserId, UserKey, i64), Box<dyn std::error::Error>> {
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("alice@x.org", "jabber", None, 0))
        .await?;
    Ok((user, key, row))
}

fn bob(account: i64) -> Conversation {
    Conversation::Contact {
        account,
        handle: "bob@x.org".into(),
    }
}

#[tokio::test]
async fn appends_grow_seq_and_come_back_in_order() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    assert_eq!(store.last_seq(user).await?, 0);
    let kinds = [
        MessageKind::Normal,
        MessageKind::Action,
        MessageKind::Notice,
    ];
    let mut seqs = Vec::new();
    for (i, kind) in (0..5).zip(kinds.iter().cycle()) {
        let mut e = entry(bob(row), 1000 + i, &format!("m{i}"), &format!("hello {i}"));
        e.sender = "bob".into();
        e.kind = *kind;
        e.direction = if i % 2 == 0 {
            Direction::Incoming
        } else {
            Direction::Outgoing
        };
        let logged = store.append(user, &key, &e).await?.ok_or("not logged")?;
        assert_eq!(logged.entry, e);
        seqs.push(logged.seq);
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(store.last_seq(user).await?, seqs[4]);

    let all = store.since(user, &key, 0, 100).await?;
    assert_eq!(all.iter().map(|m| m.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(all[1].entry.body, "hello 1");
    assert_eq!(all[1].entry.sender, "bob");
    assert_eq!(all[1].entry.kind, MessageKind::Action);
    assert_eq!(all[1].entry.direction, Direction::Outgoing);
    assert_eq!(all[2].entry.kind, MessageKind::Notice);
    assert_eq!(all[2].entry.at, at(1002));

    let tail = store.since(user, &key, seqs[1], 2).await?;
    assert_eq!(tail.iter().map(|m| m.seq).collect::<Vec<_>>(), &seqs[2..4]);
    assert!(store.since(user, &key, seqs[4], 10).await?.is_empty());
    assert!(store.since(user, &key, 0, 0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn appends_queued_together_keep_their_order_and_their_own_outcomes() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let (carol, carol_key) = store.create_user("carol", "pw").await?;
    let carols = store
        .save_account(
            carol,
            &carol_key,
            &account("carol@x.org", "jabber", None, 0),
        )
        .await?;
    let mut first = entry(bob(row), 1, "m1", "first");
    first.origin_id = Some("o1".into());
    let mut again = entry(bob(row), 2, "m2", "the first again");
    again.origin_id = Some("o1".into());
    let foreign = entry(bob(carols), 3, "m3", "into carol's account");
    let last = entry(bob(row), 4, "m4", "last");
    let results = store
        .append_all(user, &key, &[first, again, foreign, last.clone()])
        .await;
    let [first, again, foreign, fourth] = results.as_slice() else {
        return Err(format!("{} results for 4 entries", results.len()).into());
    };
    let first = first
        .as_ref()
        .map_err(|e| e.to_string())?
        .clone()
        .ok_or("first not logged")?;
    assert!(
        matches!(again, Ok(None)),
        "a duplicate in the same batch: {again:?}"
    );
    assert!(foreign.is_err(), "another user's account: {foreign:?}");
    let fourth = fourth
        .as_ref()
        .map_err(|e| e.to_string())?
        .clone()
        .ok_or("last not logged")?;
    assert!(first.seq < fourth.seq);
    assert_eq!(fourth.entry, last);
    let all = store.since(user, &key, 0, 10).await?;
    let bodies: Vec<_> = all.iter().map(|m| m.entry.body.as_str()).collect();
    assert_eq!(bodies, ["first", "last"]);
    assert!(store.append_all(user, &key, &[]).await.is_empty());
    Ok(())
}

#[tokio::test]
async fn seq_is_never_reused_after_the_newest_are_deleted() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let first = store
        .append(user, &key, &entry(bob(row), 1, "m1", "x"))
        .await?
        .ok_or("not logged")?;
    assert_eq!(store.clear_history(user, None).await?, 1);
    assert_eq!(store.last_seq(user).await?, 0);
    let second = store
        .append(user, &key, &entry(bob(row), 2, "m2", "y"))
        .await?
        .ok_or("not logged")?;
    assert!(second.seq > first.seq);
    // A client that had seen the first message still gets the second.
    assert_eq!(store.since(user, &key, first.seq, 10).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_log_is_its_users_own() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let (other, other_key) = store.create_user("carol", "pw").await?;
    store
        .append(user, &key, &entry(bob(row), 1, "a1", "for alice"))
        .await?;
    store
        .append(
            other,
            &other_key,
            &entry(Conversation::Local("&bitlbee".into()), 2, "c1", "for carol"),
        )
        .await?;
    let mine = store.since(user, &key, 0, 10).await?;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].entry.body, "for alice");
    let theirs = store.since(other, &other_key, 0, 10).await?;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].entry.body, "for carol");
    // Writing into another user's account is refused, and harms no other append.
    assert!(
        store
            .append(other, &other_key, &entry(bob(row), 3, "c2", "intruder"))
            .await
            .is_err()
    );
    assert!(
        store
            .append(user, &key, &entry(bob(row), 4, "a2", "still fine"))
            .await?
            .is_some()
    );
    Ok(())
}

#[tokio::test]
async fn duplicates_by_archive_id_or_origin_id_are_not_logged() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let mut first = entry(bob(row), 10, "m1", "hi");
    first.archive_id = Some("arch-1".into());
    first.origin_id = Some("orig-1".into());
    assert!(store.append(user, &key, &first).await?.is_some());

    let mut same_archive = entry(bob(row), 11, "m2", "hi again");
    same_archive.archive_id = Some("arch-1".into());
    assert_eq!(store.append(user, &key, &same_archive).await?, None);

    let mut same_origin = entry(bob(row), 12, "m3", "hi once more");
    same_origin.origin_id = Some("orig-1".into());
    same_origin.archive_id = Some("arch-2".into());
    assert_eq!(store.append(user, &key, &same_origin).await?, None);
    // A duplicate writes nothing, not even the cursor.
    assert_eq!(
        store.archive_cursors(user, row).await?.get(""),
        Some(&"arch-1".to_string())
    );

    // The same ids in another conversation are another message.
    let carol = Conversation::Contact {
        account: row,
        handle: "carol@x.org".into(),
    };
    let mut elsewhere = entry(carol, 13, "m4", "hi carol");
    elsewhere.archive_id = Some("arch-1".into());
    elsewhere.origin_id = Some("orig-1".into());
    assert!(store.append(user, &key, &elsewhere).await?.is_some());

    // Messages without ids are never duplicates of each other.
    for i in 0..2 {
        assert!(
            store
                .append(
                    user,
                    &key,
                    &entry(bob(row), 20 + i, &format!("n{i}"), "same")
                )
                .await?
                .is_some()
        );
    }
    assert_eq!(store.since(user, &key, 0, 100).await?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn archive_cursors_move_with_appends_and_on_request() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let room = Conversation::Room {
        account: row,
        room: "r@muc.x.org".into(),
    };
    assert!(store.archive_cursors(user, row).await?.is_empty());
    let mut one = entry(bob(row), 1, "m1", "a");
    one.archive_id = Some("A1".into());
    store.append(user, &key, &one).await?;
    let mut two = entry(room.clone(), 2, "m2", "b");
    two.archive_id = Some("R1".into());
    store.append(user, &key, &two).await?;
    let mut three = entry(bob(row), 3, "m3", "c");
    three.archive_id = Some("A2".into());
    store.append(user, &key, &three).await?;
    // Without an archive id the cursor stays.
    store
        .append(user, &key, &entry(bob(row), 4, "m4", "d"))
        .await?;
    let cursors = store.archive_cursors(user, row).await?;
    assert_eq!(cursors, common::map(&[("", "A2"), ("r@muc.x.org", "R1")]));

    store.set_archive_cursor(user, row, "", "A9").await?;
    store
        .set_archive_cursor(user, row, "other@muc.x.org", "O1")
        .await?;
    let cursors = store.archive_cursors(user, row).await?;
    assert_eq!(
        cursors,
        common::map(&[("", "A9"), ("other@muc.x.org", "O1"), ("r@muc.x.org", "R1")])
    );

    // Another user can neither move nor see these cursors.
    let (other, _) = store.create_user("carol", "pw").await?;
    assert!(store.set_archive_cursor(other, row, "", "X").await.is_err());
    assert!(
        store
            .set_archive_cursor(other, row, "new-scope", "X")
            .await
            .is_err()
    );
    assert!(store.archive_cursors(other, row).await?.is_empty());
    assert_eq!(
        store.archive_cursors(user, row).await?.get(""),
        Some(&"A9".to_string())
    );
    Ok(())
}

#[tokio::test]
async fn positions_only_move_forward() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, _key, _row) = alice(&store).await?;
    assert_eq!(store.position(user, "").await?, None);
    store
        .save_positions(user, &[("".into(), 5), ("phone".into(), 9)])
        .await?;
    assert_eq!(store.position(user, "").await?, Some(5));
    assert_eq!(store.position(user, "phone").await?, Some(9));
    store
        .save_positions(user, &[("".into(), 3), ("phone".into(), 12)])
        .await?;
    assert_eq!(store.position(user, "").await?, Some(5), "never backwards");
    assert_eq!(store.position(user, "phone").await?, Some(12));
    assert_eq!(store.position(user, "laptop").await?, None);
    store.save_positions(user, &[]).await?;
    let (other, _) = store.create_user("carol", "pw").await?;
    assert_eq!(store.position(other, "phone").await?, None);
    Ok(())
}

/// Positions share the writer's transactions with appends: saved at once with
/// many appends, every one of both is durable, and a position for a user that
/// does not exist fails alone.
#[tokio::test]
async fn positions_saved_among_appends_are_all_durable() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let store = std::sync::Arc::new(store);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40_i64 {
        let (appender, key) = (store.clone(), key.clone());
        tasks.spawn(async move {
            let msgid = format!("p{i}");
            appender
                .append(user, &key, &entry(bob(row), 10 + i as u64, &msgid, "x"))
                .await
                .map(|_| ())
        });
        let saver = store.clone();
        tasks.spawn(async move {
            saver
                .save_positions(user, &[(format!("client{}", i % 4), i)])
                .await
        });
    }
    let stranger = store
        .save_positions(UserId(9999), &[("phone".into(), 1)])
        .await;
    assert!(stranger.is_err(), "{stranger:?}");
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    for c in 0..4_i64 {
        let highest = (0..40).filter(|i| i % 4 == c).max();
        assert_eq!(store.position(user, &format!("client{c}")).await?, highest);
    }
    let pool = raw(&path).await?;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages WHERE msgid LIKE 'p%'")
        .fetch_one(&pool)
        .await?;
    assert_eq!(n, 40);
    Ok(())
}

#[tokio::test]
async fn read_markers_only_move_forward() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, _key, row) = alice(&store).await?;
    let local = Conversation::Local("&bitlbee".into());
    assert_eq!(store.read_marker(user, &bob(row)).await?, None);
    assert_eq!(
        store.set_read_marker(user, &bob(row), at(500)).await?,
        at(500)
    );
    assert_eq!(
        store.set_read_marker(user, &bob(row), at(300)).await?,
        at(500)
    );
    assert_eq!(store.read_marker(user, &bob(row)).await?, Some(at(500)));
    assert_eq!(
        store.set_read_marker(user, &bob(row), at(700)).await?,
        at(700)
    );
    // Each conversation has its own, local ones included.
    assert_eq!(store.read_marker(user, &local).await?, None);
    assert_eq!(store.set_read_marker(user, &local, at(100)).await?, at(100));
    assert_eq!(store.set_read_marker(user, &local, at(50)).await?, at(100));
    assert_eq!(store.read_marker(user, &bob(row)).await?, Some(at(700)));
    let (other, _) = store.create_user("carol", "pw").await?;
    assert_eq!(store.read_marker(other, &local).await?, None);
    Ok(())
}

#[tokio::test]
async fn bodies_and_senders_are_sealed_at_rest() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let body = "the-secret-rendezvous-is-at-noon";
    let mut e = entry(bob(row), 1, "m1", body);
    e.sender = "mysterious-sender-nick".into();
    store.append(user, &key, &e).await?;
    // Whatever is on disk, in the database or still in its write-ahead log.
    let mut bytes = std::fs::read(&path)?;
    let wal = path.with_extension("db-wal");
    if wal.exists() {
        bytes.extend(std::fs::read(&wal)?);
    }
    // The plain columns are there, for queries: the files were really read.
    assert!(bytes.windows(9).any(|w| w == b"bob@x.org"));
    for secret in [body, "mysterious-sender-nick"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is on disk in the clear"
        );
    }

    let wrong = UserKey([9; 32]);
    assert!(matches!(
        store.since(user, &wrong, 0, 10).await,
        Err(StoreError::Decrypt)
    ));
    assert!(matches!(
        store
            .history(
                user,
                &wrong,
                &bob(row),
                &waggle_core::HistoryQuery::Latest {
                    after: None,
                    limit: 10
                }
            )
            .await,
        Err(StoreError::Decrypt)
    ));

    // A blob moved to another row (another msgid) does not open.
    store
        .append(user, &key, &entry(bob(row), 2, "m2", "other"))
        .await?;
    let pool = raw(&path).await?;
    sqlx::query(
        "UPDATE messages SET sealed = (SELECT sealed FROM messages WHERE msgid = 'm1') \
         WHERE msgid = 'm2'",
    )
    .execute(&pool)
    .await?;
    pool.close().await;
    let first = store.since(user, &key, 0, 1).await?;
    assert_eq!(first[0].entry.body, body);
    assert!(matches!(
        store.since(user, &key, first[0].seq, 10).await,
        Err(StoreError::Decrypt)
    ));
    Ok(())
}

#[tokio::test]
async fn deleting_a_user_or_an_account_deletes_its_log() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    let second = store
        .save_account(user, &key, &account("alice@y.org", "jabber2", None, 1))
        .await?;
    let mut e = entry(bob(row), 1, "m1", "x");
    e.archive_id = Some("A".into());
    store.append(user, &key, &e).await?;
    store
        .append(user, &key, &entry(bob(second), 2, "m2", "y"))
        .await?;
    store
        .append(
            user,
            &key,
            &entry(Conversation::Local("&bitlbee".into()), 3, "m3", "z"),
        )
        .await?;
    store.set_read_marker(user, &bob(row), at(1)).await?;

    store.delete_account(user, row).await?;
    let left = store.since(user, &key, 0, 10).await?;
    assert_eq!(
        left.iter()
            .map(|m| m.entry.msgid.as_str())
            .collect::<Vec<_>>(),
        ["m2", "m3"]
    );
    assert!(store.archive_cursors(user, row).await?.is_empty());
    assert_eq!(store.read_marker(user, &bob(row)).await?, None);

    store.save_positions(user, &[("".into(), 3)]).await?;
    store
        .set_read_marker(user, &Conversation::Local("&bitlbee".into()), at(1))
        .await?;
    assert!(store.delete_user("alice").await?);
    let pool = raw(&path).await?;
    for table in [
        "messages",
        "archive_cursors",
        "client_positions",
        "read_markers",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await?;
        assert_eq!(n, 0, "{table} still has rows");
    }
    pool.close().await;
    Ok(())
}

#[tokio::test]
async fn times_out_of_range_are_clamped_not_a_panic() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    // 9999-12-31T23:59:59.999Z
    let last = at(253_402_300_799_999);
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    let mut e = entry(bob(row), 0, "future", "from year 12000");
    e.at = far;
    let logged = store.append(user, &key, &e).await?.ok_or("not logged")?;
    assert_eq!(logged.entry.at, last);
    let mut e = entry(bob(row), 0, "past", "from before 1970");
    e.at = SystemTime::UNIX_EPOCH
        .checked_sub(Duration::from_secs(3600))
        .ok_or("no time before 1970 here")?;
    let logged = store.append(user, &key, &e).await?.ok_or("not logged")?;
    assert_eq!(logged.entry.at, SystemTime::UNIX_EPOCH);
    let back = store.since(user, &key, 0, 10).await?;
    assert_eq!(back[0].entry.at, last);
    store.set_read_marker(user, &bob(row), far).await?;
    assert_eq!(store.read_marker(user, &bob(row)).await?, Some(last));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_of_many_users_are_all_durable() -> TestResult {
    let (_dir, path, store) = fresh().await?;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(store.create_user(&format!("u{i}"), "pw").await?);
    }
    let mut tasks = Vec::new();
    for (n, (user, key)) in users.iter().cloned().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                let e: LogEntry = entry(
                    Conversation::Local("&bitlbee".into()),
                    i,
                    &format!("u{n}-{i}"),
                    "burst",
                );
                seqs.push(store.append(user, &key, &e).await?.map(|m| m.seq));
            }
            Ok::<_, StoreError>(seqs)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let seqs = task.await??;
        assert!(seqs.iter().all(Option::is_some));
        let seqs: Vec<i64> = seqs.into_iter().flatten().collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "per user in order");
        all.extend(seqs);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 400, "every append has its own seq");
    // Acknowledged means committed: another connection sees them all.
    let pool = raw(&path).await?;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
        .fetch_one(&pool)
        .await?;
    assert_eq!(n, 400);
    pool.close().await;
    for (user, key) in &users {
        assert_eq!(store.since(*user, key, 0, 1000).await?.len(), 50);
    }
    Ok(())
}

#[tokio::test]
async fn a_closed_log_refuses_appends() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key, row) = alice(&store).await?;
    store
        .append(user, &key, &entry(bob(row), 1, "m1", "x"))
        .await?;
    store.close().await;
    assert!(
        store
            .append(user, &key, &entry(bob(row), 2, "m2", "y"))
            .await
            .is_err()
    );
    Ok(())
}

/// seq, account_id, conv_kind, target, direction, msgid, archive_id, sealed.
type LoggedColumns = (
    i64,
    Option<i64>,
    i64,
    String,
    i64,
    String,
    Option<String>,
    Vec<u8>,
);

/// A database made before the message log's checks became ranges (the first five
/// migrations) keeps every message, its seq and its AUTOINCREMENT position when
/// the store opens it and rebuilds the table, and the rebuilt table checks and
/// triggers as before.
#[tokio::test]
async fn rebuilding_the_log_for_its_range_checks_keeps_every_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let older = dir.path().join("migrations");
    std::fs::create_dir(&older)?;
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    for file in std::fs::read_dir(&all)? {
        let file = file?;
        let name = file.file_name();
        if name.to_string_lossy().as_ref() < "0006" {
            std::fs::copy(file.path(), older.join(&name))?;
        }
    }
    let path = dir.path().join("waggle.db");
    std::fs::File::create(&path)?;
    let pool = raw(&path).await?;
    sqlx::migrate::Migrator::new(older.as_path())
        .await?
        .run(&pool)
        .await?;
    sqlx::raw_sql(
        "INSERT INTO users (id, name, password_hash, key_salt, wrapped_key) \
             VALUES (7, 'alice', 'x', x'00', x'00'); \
         INSERT INTO accounts (id, user_id, position, protocol, handle, tag) \
             VALUES (3, 7, 0, 'jabber', 'alice@x.org', 'jabber'); \
         INSERT INTO messages (user_id, account_id, conv_kind, target, direction, at_ms, \
                               msgid, kind, archive_id, origin_id, sealed) VALUES \
             (7, 3, 0, 'bob@x.org', 0, 1000, 'm1', 0, 'A1', 'o1', x'0102'), \
             (7, 3, 1, 'room@muc.x.org', 1, 1001, 'm2', 1, NULL, NULL, x'03'), \
             (7, NULL, 2, '&bitlbee', 0, 1002, 'm3', 2, NULL, NULL, x'04'); \
         DELETE FROM messages WHERE msgid = 'm3';",
    )
    .execute(&pool)
    .await?;
    pool.close().await;

    let store = waggle_store::SqliteStore::open(&path).await?;
    assert_eq!(store.last_seq(UserId(7)).await?, 2);
    let pool = raw(&path).await?;
    let rows: Vec<LoggedColumns> = sqlx::query_as(
        "SELECT seq, account_id, conv_kind, target, direction, msgid, archive_id, sealed \
             FROM messages ORDER BY seq",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        rows,
        vec![
            (
                1,
                Some(3),
                0,
                "bob@x.org".into(),
                0,
                "m1".into(),
                Some("A1".into()),
                vec![1, 2]
            ),
            (
                2,
                Some(3),
                1,
                "room@muc.x.org".into(),
                1,
                "m2".into(),
                None,
                vec![3]
            ),
        ]
    );
    // The deleted third message's seq is not handed out again; the trigger moves
    // the archive cursor; the ranges refuse what the lists refused.
    sqlx::query(
        "INSERT INTO messages (user_id, account_id, conv_kind, target, direction, at_ms, \
                               msgid, kind, archive_id, sealed) \
         VALUES (7, 3, 0, 'bob@x.org', 0, 1003, 'm4', 0, 'A4', x'05')",
    )
    .execute(&pool)
    .await?;
    let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM messages WHERE msgid = 'm4'")
        .fetch_one(&pool)
        .await?;
    assert_eq!(seq, 4);
    let (cursor,): (String,) = sqlx::query_as(
        "SELECT archive_id FROM archive_cursors WHERE account_id = 3 AND scope = ''",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(cursor, "A4");
    let columns = "INSERT INTO messages (user_id, account_id, conv_kind, direction, kind, \
                   target, at_ms, msgid, sealed) VALUES ";
    for (bad, insert) in [
        (
            "conv_kind",
            "(7, 3, 3, 0, 0, 'bob@x.org', 1004, 'bad', x'06')",
        ),
        (
            "direction",
            "(7, 3, 0, 2, 0, 'bob@x.org', 1004, 'bad', x'06')",
        ),
        ("kind", "(7, 3, 0, 0, 3, 'bob@x.org', 1004, 'bad', x'06')"),
    ] {
        let sql = format!("{columns}{insert}");
        let refused = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
        assert!(
            matches!(&refused, Err(e) if e.to_string().contains(&format!("CHECK constraint failed: {bad}"))),
            "{bad} out of range: {refused:?}"
        );
    }
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'messages' AND type = 'index' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        indexes.into_iter().map(|(n,)| n).collect::<Vec<_>>(),
        [
            "messages_by_archive_id",
            "messages_by_conversation",
            "messages_by_msgid",
            "messages_by_origin_id",
            "messages_by_time",
            "messages_by_user"
        ]
    );
    Ok(())
}
