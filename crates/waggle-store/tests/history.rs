//! History queries over one conversation in every form, and the conversations
//! active between two times.

mod common;

use common::{TestResult, account, at, entry, fresh};
use waggle_core::{
    Conversation, HistoryBound, HistoryQuery, LoggedMessage, MessageLog, Store, UserId, UserKey,
};
use waggle_store::SqliteStore;

/// Ten messages `m0` … `m9` at 1000, 1010 … 1090 ms with bob, and some noise in
/// other conversations at the same times.
async fn ten(
    store: &SqliteStore,
) -> Result<(UserId, UserKey, Conversation), Box<dyn std::error::Error>> {
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("alice@x.org", "jabber", None, 0))
        .await?;
    let bob = Conversation::Contact {
        account: row,
        handle: "bob@x.org".into(),
    };
    let room = Conversation::Room {
        account: row,
        room: "bob@x.org".into(),
    };
    for i in 0..10 {
        let t = 1000 + 10 * i;
        store
            .append(
                user,
                &key,
                &entry(bob.clone(), t, &format!("m{i}"), &format!("body {i}")),
            )
            .await?;
        store
            .append(
                user,
                &key,
                &entry(room.clone(), t, &format!("r{i}"), "room noise"),
            )
            .await?;
    }
    Ok((user, key, bob))
}

fn ids(messages: &[LoggedMessage]) -> Vec<String> {
    messages.iter().map(|m| m.entry.msgid.clone()).collect()
}

fn m(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

fn id(s: &str) -> HistoryBound {
    HistoryBound::MsgId(s.into())
}

fn time(ms: u64) -> HistoryBound {
    HistoryBound::Time(at(ms))
}

async fn query(
    store: &SqliteStore,
    (user, key, c): &(UserId, UserKey, Conversation),
    q: HistoryQuery,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let found = store.history(*user, key, c, &q).await?;
    assert!(
        found
            .windows(2)
            .all(|w| (w[0].entry.at, w[0].seq) < (w[1].entry.at, w[1].seq)),
        "ascending order"
    );
    assert!(found.iter().all(|x| x.entry.conversation == *c));
    Ok(ids(&found))
}

#[tokio::test]
async fn latest() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let ctx = ten(&store).await?;
    let latest = |after, limit| HistoryQuery::Latest { after, limit };
    assert_eq!(query(&store, &ctx, latest(None, 20)).await?, m(0..10));
    assert_eq!(query(&store, &ctx, latest(None, 5)).await?, m(5..10));
    assert_eq!(query(&store, &ctx, latest(None, 1)).await?, m(9..10));
    assert_eq!(query(&store, &ctx, latest(None, 0)).await?, m(0..0));
    assert_eq!(
        query(&store, &ctx, latest(Some(id("m4")), 20)).await?,
        m(5..10)
    );
    assert_eq!(
        query(&store, &ctx, latest(Some(id("m4")), 2)).await?,
        m(8..10)
    );
    assert_eq!(
        query(&store, &ctx, latest(Some(time(1040)), 20)).await?,
        m(5..10)
    );
    assert_eq!(
        query(&store, &ctx, latest(Some(time(1041)), 20)).await?,
        m(5..10)
    );
    assert_eq!(
        query(&store, &ctx, latest(Some(time(1039)), 20)).await?,
        m(4..10)
    );
    assert!(
        query(&store, &ctx, latest(Some(id("nope")), 20))
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn before() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let ctx = ten(&store).await?;
    let before = |bound, limit| HistoryQuery::Before { bound, limit };
    assert_eq!(query(&store, &ctx, before(id("m6"), 20)).await?, m(0..6));
    assert_eq!(query(&store, &ctx, before(id("m6"), 2)).await?, m(4..6));
    assert_eq!(query(&store, &ctx, before(time(1060), 20)).await?, m(0..6));
    assert_eq!(query(&store, &ctx, before(time(1060), 2)).await?, m(4..6));
    assert_eq!(query(&store, &ctx, before(time(1061), 2)).await?, m(5..7));
    assert!(query(&store, &ctx, before(id("m0"), 20)).await?.is_empty());
    assert!(
        query(&store, &ctx, before(id("nope"), 20))
            .await?
            .is_empty()
    );
    // A msgid of another conversation is unknown here.
    assert!(query(&store, &ctx, before(id("r6"), 20)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn after() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let ctx = ten(&store).await?;
    let after = |bound, limit| HistoryQuery::After { bound, limit };
    assert_eq!(query(&store, &ctx, after(id("m3"), 20)).await?, m(4..10));
    assert_eq!(query(&store, &ctx, after(id("m3"), 3)).await?, m(4..7));
    assert_eq!(query(&store, &ctx, after(time(1030), 20)).await?, m(4..10));
    assert_eq!(query(&store, &ctx, after(time(1030), 3)).await?, m(4..7));
    assert_eq!(query(&store, &ctx, after(time(1029), 3)).await?, m(3..6));
    assert!(query(&store, &ctx, after(id("m9"), 20)).await?.is_empty());
    assert!(query(&store, &ctx, after(id("nope"), 20)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn around() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let ctx = ten(&store).await?;
    let around = |bound, limit| HistoryQuery::Around { bound, limit };
    assert_eq!(query(&store, &ctx, around(id("m7"), 1)).await?, m(7..8));
    assert_eq!(query(&store, &ctx, around(id("m7"), 3)).await?, m(6..9));
    assert_eq!(query(&store, &ctx, around(id("m7"), 4)).await?, m(5..9));
    assert_eq!(query(&store, &ctx, around(time(1070), 3)).await?, m(6..9));
    // Between two messages: the nearest on either side.
    assert_eq!(query(&store, &ctx, around(time(1075), 2)).await?, m(7..9));
    // Near the start the later side fills what the earlier cannot.
    assert_eq!(query(&store, &ctx, around(id("m0"), 4)).await?, m(0..4));
    assert!(query(&store, &ctx, around(id("nope"), 4)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn between() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let ctx = ten(&store).await?;
    let between = |from, to, limit| HistoryQuery::Between { from, to, limit };
    assert_eq!(
        query(&store, &ctx, between(id("m0"), id("m9"), 20)).await?,
        m(1..9)
    );
    assert_eq!(
        query(&store, &ctx, between(id("m9"), id("m0"), 20)).await?,
        m(1..9)
    );
    // More than the limit: the ones nearest the first bound given.
    assert_eq!(
        query(&store, &ctx, between(id("m0"), id("m9"), 3)).await?,
        m(1..4)
    );
    assert_eq!(
        query(&store, &ctx, between(id("m9"), id("m0"), 3)).await?,
        m(6..9)
    );
    assert_eq!(
        query(&store, &ctx, between(time(1000), time(1090), 20)).await?,
        m(1..9)
    );
    assert_eq!(
        query(&store, &ctx, between(time(1090), time(1000), 20)).await?,
        m(1..9)
    );
    assert_eq!(
        query(&store, &ctx, between(time(1000), time(1090), 3)).await?,
        m(1..4)
    );
    assert_eq!(
        query(&store, &ctx, between(id("m2"), time(1061), 20)).await?,
        m(3..7)
    );
    assert_eq!(
        query(&store, &ctx, between(time(1061), id("m2"), 20)).await?,
        m(3..7)
    );
    assert!(
        query(&store, &ctx, between(id("m3"), id("m4"), 20))
            .await?
            .is_empty()
    );
    assert!(
        query(&store, &ctx, between(id("m3"), id("nope"), 20))
            .await?
            .is_empty()
    );
    assert!(
        query(&store, &ctx, between(id("nope"), id("m3"), 20))
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn paging_by_msgid_keeps_messages_that_share_a_millisecond() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let c = Conversation::Local("&bitlbee".into());
    for i in 0..7 {
        store
            .append(
                user,
                &key,
                &entry(c.clone(), 5000, &format!("s{i}"), "same ms"),
            )
            .await?;
    }
    let mut seen = Vec::new();
    let mut bound = None;
    for _ in 0..10 {
        let page = match bound.take() {
            None => HistoryQuery::Latest {
                after: None,
                limit: 3,
            },
            Some(b) => HistoryQuery::Before { bound: b, limit: 3 },
        };
        let got = store.history(user, &key, &c, &page).await?;
        let Some(first) = got.first() else { break };
        bound = Some(HistoryBound::MsgId(first.entry.msgid.clone()));
        let mut page_ids = ids(&got);
        page_ids.extend(seen);
        seen = page_ids;
    }
    let all: Vec<String> = (0..7).map(|i| format!("s{i}")).collect();
    assert_eq!(seen, all);
    let after = store
        .history(
            user,
            &key,
            &c,
            &HistoryQuery::After {
                bound: id("s2"),
                limit: 10,
            },
        )
        .await?;
    assert_eq!(ids(&after), &all[3..]);
    Ok(())
}

#[tokio::test]
async fn conversations_between_times() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("alice@x.org", "jabber", None, 0))
        .await?;
    let bob = Conversation::Contact {
        account: row,
        handle: "bob@x.org".into(),
    };
    let room = Conversation::Room {
        account: row,
        room: "room@muc.x.org".into(),
    };
    let local = Conversation::Local("&bitlbee".into());
    for (c, t, msgid) in [
        (&bob, 100, "b1"),
        (&room, 150, "r1"),
        (&bob, 300, "b2"),
        (&local, 200, "l1"),
        (&room, 500, "r2"),
    ] {
        store
            .append(user, &key, &entry(c.clone(), t, msgid, "x"))
            .await?;
    }
    let (other, other_key) = store.create_user("carol", "pw").await?;
    store
        .append(other, &other_key, &entry(local.clone(), 250, "c1", "x"))
        .await?;

    let found = store.conversations(user, at(0), at(1000), 10).await?;
    let order: Vec<_> = found
        .iter()
        .map(|s| (s.conversation.clone(), s.latest))
        .collect();
    assert_eq!(
        order,
        [
            (local.clone(), at(200)),
            (bob.clone(), at(300)),
            (room.clone(), at(500))
        ]
    );
    // A conversation counts by its latest message (the room's is after this
    // window, though it has one in it), and the bounds are exclusive.
    let found = store.conversations(user, at(400), at(120), 10).await?;
    let order: Vec<_> = found
        .iter()
        .map(|s| (s.conversation.clone(), s.latest))
        .collect();
    assert_eq!(order, [(local.clone(), at(200)), (bob.clone(), at(300))]);
    let found = store.conversations(user, at(100), at(300), 10).await?;
    assert_eq!(found.len(), 1, "{found:?}");
    let found = store.conversations(user, at(0), at(1000), 2).await?;
    assert_eq!(found.len(), 2);
    assert!(
        store
            .conversations(user, at(600), at(900), 10)
            .await?
            .is_empty()
    );
    Ok(())
}
