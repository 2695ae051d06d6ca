//! The message log's cost per append: one at a time (each awaited before the next),
//! and in bursts (many users appending at once, or one user's catch-up arriving
//! all at once), where the writer commits what is queued together.
//! Prints wall-clock and process CPU time (all threads) per append.
//!
//! Then the floor under the first figure: SQLite alone, one row per commit on
//! one connection in this thread (no writer thread, no channel, no sealing), into
//! the message table with its indexes and into a table without any, with the
//! connection settings the message log uses (WAL, `synchronous = NORMAL`).
//!
//! Run in release: `cargo run --release -p waggle-store --example append_bench`.
//! Linux only (CPU time comes from `/proc/self/stat`).

use std::error::Error;
use std::time::{Instant, SystemTime};

use waggle_core::{
    Conversation, Direction, LogEntry, MessageKind, MessageLog, Store, UserId, UserKey,
};
use waggle_store::SqliteStore;

/// Appends one at a time.
const SINGLE: usize = 20_000;
/// Users appending at once in a burst, and appends each.
const BURST_USERS: usize = 64;
const BURST_EACH: usize = 500;
/// One user's bursts: how many at once, how many times.
const CATCH_UP: usize = 64;
const CATCH_UPS: usize = 200;

/// User + system CPU time of the whole process, in seconds (`/proc` counts in
/// USER_HZ = 100 ticks a second on Linux).
fn cpu_seconds() -> Result<f64, Box<dyn Error>> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat.rsplit_once(") ").ok_or("malformed /proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line; the name was field 2.
    let ticks = |i: usize| -> Result<f64, Box<dyn Error>> {
        Ok(fields
            .get(i)
            .ok_or("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn message(n: usize, user: usize) -> LogEntry {
    LogEntry {
        msgid: format!("u{user}-m{n}"),
        conversation: Conversation::Contact {
            account: 0,
            handle: format!("contact{}@example.org", n % 20),
        },
        direction: Direction::Incoming,
        at: SystemTime::now(),
        kind: MessageKind::Normal,
        sender: format!("contact{}", n % 20),
        body: "A typical chat line of a few dozen characters, give or take.".into(),
        archive_id: Some(format!("archive-{user}-{n}")),
        origin_id: Some(format!("origin-{user}-{n}")),
    }
}

async fn user(store: &SqliteStore, name: &str) -> Result<(UserId, UserKey, i64), Box<dyn Error>> {
    let (id, key) = store.create_user(name, "password").await?;
    let account = waggle_core::AccountRecord {
        protocol: "jabber".into(),
        handle: format!("{name}@example.org"),
        tag: "jabber".into(),
        ..Default::default()
    };
    let row = store.save_account(id, &key, &account).await?;
    Ok((id, key, row))
}

fn with_account(mut e: LogEntry, row: i64) -> LogEntry {
    if let Conversation::Contact { account, .. } = &mut e.conversation {
        *account = row;
    }
    e
}

fn report(what: &str, count: usize, wall: f64, cpu: f64) {
    let n = count as f64;
    println!(
        "{what:<34} {count:>6} appends  {:>7.1} µs wall  {:>7.1} µs CPU  per append",
        wall * 1e6 / n,
        cpu * 1e6 / n
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("bench.db")).await?;

    let (id, key, row) = user(&store, "single").await?;
    let (cpu, wall) = (cpu_seconds()?, Instant::now());
    for n in 0..SINGLE {
        store
            .append(id, &key, &with_account(message(n, 0), row))
            .await?;
    }
    report(
        "one at a time",
        SINGLE,
        wall.elapsed().as_secs_f64(),
        cpu_seconds()? - cpu,
    );

    let mut users = Vec::new();
    for u in 0..BURST_USERS {
        users.push(user(&store, &format!("burst{u}")).await?);
    }
    let (cpu, wall) = (cpu_seconds()?, Instant::now());
    let mut tasks = Vec::new();
    for (u, (id, key, row)) in users.into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..BURST_EACH {
                store
                    .append(id, &key, &with_account(message(n, u + 1), row))
                    .await?;
            }
            Ok::<_, waggle_core::StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    report(
        &format!("bursts ({BURST_USERS} users at once)"),
        BURST_USERS * BURST_EACH,
        wall.elapsed().as_secs_f64(),
        cpu_seconds()? - cpu,
    );

    let (id, key, row) = user(&store, "catchup").await?;
    let (cpu, wall) = (cpu_seconds()?, Instant::now());
    for b in 0..CATCH_UPS {
        let mut tasks = Vec::with_capacity(CATCH_UP);
        for n in 0..CATCH_UP {
            let (store, key) = (store.clone(), key.clone());
            let e = with_account(message(b * CATCH_UP + n, BURST_USERS + 1), row);
            tasks.push(tokio::spawn(
                async move { store.append(id, &key, &e).await },
            ));
        }
        for task in tasks {
            task.await??;
        }
    }
    report(
        &format!("bursts (one user, {CATCH_UP} at once)"),
        CATCH_UP * CATCH_UPS,
        wall.elapsed().as_secs_f64(),
        cpu_seconds()? - cpu,
    );
    store.close().await;

    let messages = dir.path().join("bench.db");
    sqlite_alone("SQLite alone, the message table", &messages, None, row)?;
    let bare = dir.path().join("bare.db");
    sqlite_alone(
        "SQLite alone, a table without indexes",
        &bare,
        Some("CREATE TABLE bare (seq INTEGER PRIMARY KEY, at_ms INTEGER, sealed BLOB)"),
        row,
    )?;
    Ok(())
}

/// Insert SINGLE rows at `path`, each in its own transaction, and report the cost
/// per commit; `create` makes a table `bare` to write to instead of `messages`.
fn sqlite_alone(
    what: &str,
    path: &std::path::Path,
    create: Option<&str>,
    account: i64,
) -> Result<(), Box<dyn Error>> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    let insert = match create {
        Some(create) => {
            conn.execute_batch(create)?;
            "INSERT INTO bare (at_ms, sealed) VALUES (?6, ?11)"
        }
        None => {
            "INSERT INTO messages (user_id, account_id, conv_kind, target, direction, \
             at_ms, msgid, kind, archive_id, origin_id, sealed) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        }
    };
    let user: i64 = match create {
        Some(_) => 0,
        None => conn.query_row(
            "SELECT user_id FROM accounts WHERE id = ?1",
            [account],
            |r| r.get(0),
        )?,
    };
    let mut begin = conn.prepare("BEGIN IMMEDIATE")?;
    let mut commit = conn.prepare("COMMIT")?;
    let mut insert = conn.prepare(insert)?;
    // A sealed line of the size `message` gives: nonce, text, tag.
    let sealed = vec![0x5a_u8; 24 + 90 + 16];
    let (cpu, wall) = (cpu_seconds()?, Instant::now());
    for n in 0..SINGLE {
        begin.execute([])?;
        let (msgid, archive, origin) = (
            format!("alone-m{n}"),
            format!("alone-a{n}"),
            format!("alone-o{n}"),
        );
        insert.execute(rusqlite::params![
            user,
            account,
            0,
            format!("contact{}@example.org", n % 20),
            0,
            n as i64,
            msgid,
            0,
            archive,
            origin,
            sealed,
        ])?;
        commit.execute([])?;
    }
    report(
        what,
        SINGLE,
        wall.elapsed().as_secs_f64(),
        cpu_seconds()? - cpu,
    );
    Ok(())
}
