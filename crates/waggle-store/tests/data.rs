//! A user's data: accounts, settings, contacts, channels; isolation between users;
//! concurrent writers.

mod common;

use common::{TestResult, account, fresh, map};
use waggle_core::{ChannelRecord, ContactRecord, Secret, Store, StoreError};

fn contact(account_row: i64, handle: &str, nick: &str) -> ContactRecord {
    ContactRecord {
        account_row,
        handle: handle.into(),
        nick: nick.into(),
        group: None,
        display_name: None,
    }
}

#[tokio::test]
async fn accounts_save_update_order_and_delete() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;

    let mut second = account("b@x.org", "jabber2", Some("pw-b"), 1);
    second.settings = map(&[("server", "b.example"), ("port", "5222")]);
    let second_row = store.save_account(user, &key, &second).await?;
    let first_row = store
        .save_account(user, &key, &account("a@x.org", "jabber", Some("pw-a"), 0))
        .await?;
    assert_ne!(first_row, second_row);

    let data = store.load(user, &key).await?;
    let tags: Vec<_> = data.accounts.iter().map(|a| a.tag.as_str()).collect();
    assert_eq!(tags, ["jabber", "jabber2"], "ordered by position");
    assert_eq!(data.accounts[1].settings, second.settings);

    // Update: same row, new fields, settings replaced, password removed.
    second.row = Some(second_row);
    second.tag = "work".into();
    second.handle = "b2@x.org".into();
    second.position = 5;
    second.password = None;
    second.settings = map(&[("server", "c.example")]);
    assert_eq!(store.save_account(user, &key, &second).await?, second_row);
    let data = store.load(user, &key).await?;
    assert_eq!(data.accounts.len(), 2);
    assert_eq!(data.accounts[1], second);
    assert_eq!(data.accounts[0].password, Some(Secret("pw-a".into())));

    // A password can be set again on update.
    second.password = Some(Secret("pw-b2".into()));
    store.save_account(user, &key, &second).await?;
    let data = store.load(user, &key).await?;
    assert_eq!(data.accounts[1].password, Some(Secret("pw-b2".into())));

    // Deleting an account takes its contacts and settings with it.
    store
        .save_contact(user, &contact(second_row, "x@y", "x"))
        .await?;
    store
        .save_contact(user, &contact(first_row, "z@y", "z"))
        .await?;
    store.delete_account(user, second_row).await?;
    let data = store.load(user, &key).await?;
    assert_eq!(data.accounts.len(), 1);
    assert_eq!(data.contacts, [contact(first_row, "z@y", "z")]);
    // Deleting again, or a row that never existed, is harmless.
    store.delete_account(user, second_row).await?;
    store.delete_account(user, 424_242).await?;
    // Updating a deleted row is an error, not a silent insert.
    assert!(matches!(
        store.save_account(user, &key, &second).await,
        Err(StoreError::Database(_))
    ));
    Ok(())
}

#[tokio::test]
async fn settings_round_trip_and_delete() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    store.set_setting(user, "away", Some("lunch")).await?;
    store.set_setting(user, "charset", Some("utf-8")).await?;
    store.set_setting(user, "away", Some("dinner")).await?;
    assert_eq!(
        store.load(user, &key).await?.settings,
        map(&[("away", "dinner"), ("charset", "utf-8")])
    );
    store.set_setting(user, "away", None).await?;
    store.set_setting(user, "never-set", None).await?;
    assert_eq!(
        store.load(user, &key).await?.settings,
        map(&[("charset", "utf-8")])
    );
    Ok(())
}

#[tokio::test]
async fn contacts_round_trip_and_delete() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("a@x.org", "jabber", None, 0))
        .await?;

    let mut bob = ContactRecord {
        account_row: row,
        handle: "bob@x.org".into(),
        nick: "bob".into(),
        group: Some("Friends".into()),
        display_name: Some("Bob B.".into()),
    };
    store.save_contact(user, &bob).await?;
    store
        .save_contact(user, &contact(row, "carol@x.org", "carol"))
        .await?;
    assert_eq!(
        store.load(user, &key).await?.contacts,
        [bob.clone(), contact(row, "carol@x.org", "carol")]
    );

    // Same (account, handle): updated in place.
    bob.nick = "bobby".into();
    bob.group = None;
    store.save_contact(user, &bob).await?;
    let contacts = store.load(user, &key).await?.contacts;
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0], bob);

    store.delete_contact(user, row, "bob@x.org").await?;
    store.delete_contact(user, row, "nobody@x.org").await?;
    assert_eq!(
        store.load(user, &key).await?.contacts,
        [contact(row, "carol@x.org", "carol")]
    );

    // A contact of an account that does not exist is refused.
    assert!(matches!(
        store
            .save_contact(user, &contact(row + 100, "d@x", "d"))
            .await,
        Err(StoreError::Database(_))
    ));
    Ok(())
}

/// Several contacts are saved in one transaction: all of them, or none when one
/// names an account that is not the user's.
#[tokio::test]
async fn contacts_saved_together_are_all_saved_or_none() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("a@x.org", "jabber", None, 0))
        .await?;
    let roster: Vec<ContactRecord> = (0..50)
        .map(|i| contact(row, &format!("c{i:02}@x.org"), &format!("c{i:02}")))
        .collect();
    store.save_contacts(user, &roster).await?;
    store.save_contacts(user, &[]).await?;
    assert_eq!(store.load(user, &key).await?.contacts, roster);

    let mut renamed = roster[3].clone();
    renamed.nick = "renamed".into();
    let refused = store
        .save_contacts(user, &[renamed, contact(row + 100, "d@x", "d")])
        .await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.load(user, &key).await?.contacts,
        roster,
        "nothing saved"
    );
    Ok(())
}

#[tokio::test]
async fn channels_round_trip_and_delete() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    store
        .save_channel(
            user,
            &ChannelRecord {
                name: "&bitlbee".into(),
                settings: map(&[]),
            },
        )
        .await?;
    store
        .save_channel(
            user,
            &ChannelRecord {
                name: "#Room".into(),
                settings: map(&[
                    ("type", "chat"),
                    ("room", "r@conf.x"),
                    ("account", "jabber"),
                ]),
            },
        )
        .await?;
    let channels = store.load(user, &key).await?.channels;
    assert_eq!(channels.len(), 2);
    // Ordered by name: `#` sorts before `&`.
    assert_eq!(channels[0].name, "#Room");
    assert_eq!(channels[0].settings.len(), 3);
    assert!(channels[1].settings.is_empty());

    // Same name in another case: the same channel, its settings replaced.
    let updated = ChannelRecord {
        name: "#room".into(),
        settings: map(&[("type", "chat"), ("fill_by", "group")]),
    };
    store.save_channel(user, &updated).await?;
    let channels = store.load(user, &key).await?.channels;
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0], updated);

    store.delete_channel(user, "#ROOM").await?;
    let channels = store.load(user, &key).await?.channels;
    assert_eq!(
        channels,
        [ChannelRecord {
            name: "&bitlbee".into(),
            settings: map(&[]),
        }]
    );
    // Its settings went with it: a new channel of that name starts empty.
    store
        .save_channel(
            user,
            &ChannelRecord {
                name: "#room".into(),
                settings: map(&[]),
            },
        )
        .await?;
    let channels = store.load(user, &key).await?.channels;
    assert!(channels.iter().all(|c| c.settings.is_empty()));
    Ok(())
}

#[tokio::test]
async fn users_are_isolated() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (alice, alice_key) = store.create_user("alice", "a").await?;
    let (bob, bob_key) = store.create_user("bob", "b").await?;

    let mut acc = account("alice@x.org", "jabber", Some("alice-im"), 0);
    acc.settings = map(&[("server", "x.org")]);
    let row = store.save_account(alice, &alice_key, &acc).await?;
    acc.row = Some(row);
    store
        .save_contact(alice, &contact(row, "carol@x.org", "carol"))
        .await?;
    store.set_setting(alice, "away", Some("out")).await?;
    let channel = ChannelRecord {
        name: "#shared-name".into(),
        settings: map(&[("type", "chat")]),
    };
    store.save_channel(alice, &channel).await?;
    let alice_before = store.load(alice, &alice_key).await?;

    // Bob sees nothing of Alice's.
    let bob_view = store.load(bob, &bob_key).await?;
    assert_eq!(bob_view, waggle_core::UserData::default());

    // Bob cannot delete, overwrite or extend Alice's rows.
    store.delete_account(bob, row).await?;
    let mut hijack = acc.clone();
    hijack.handle = "bob@x.org".into();
    hijack.password = Some(Secret("bob-im".into()));
    assert!(matches!(
        store.save_account(bob, &bob_key, &hijack).await,
        Err(StoreError::Database(_))
    ));
    assert!(matches!(
        store
            .save_contact(bob, &contact(row, "carol@x.org", "mallory"))
            .await,
        Err(StoreError::Database(_))
    ));
    assert!(
        store
            .save_contact(bob, &contact(row, "eve@x.org", "eve"))
            .await
            .is_err()
    );
    store.delete_contact(bob, row, "carol@x.org").await?;
    store.delete_channel(bob, "#shared-name").await?;
    store.set_setting(bob, "away", None).await?;

    // Bob's own channel of the same name is his alone.
    store
        .save_channel(
            bob,
            &ChannelRecord {
                name: "#shared-name".into(),
                settings: map(&[("type", "control")]),
            },
        )
        .await?;
    store.delete_channel(bob, "#shared-name").await?;

    assert_eq!(store.load(alice, &alice_key).await?, alice_before);
    assert_eq!(alice_before.accounts, [acc]);
    assert_eq!(
        store.load(bob, &bob_key).await?,
        waggle_core::UserData::default()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_writers() -> TestResult {
    let (_dir, _path, store) = fresh().await?;
    let (user, key) = store.create_user("alice", "pw").await?;
    let row = store
        .save_account(user, &key, &account("a@x.org", "jabber", None, 0))
        .await?;

    let mut tasks = Vec::new();
    for i in 0..30u32 {
        let store = store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            // Each task does a multi-statement write transaction, a single-statement
            // write and a read.
            let mut acc = account(&format!("u{i}@x.org"), &format!("j{i}"), Some("pw"), i + 1);
            acc.settings = map(&[("n", &i.to_string())]);
            store.save_account(user, &key, &acc).await?;
            store.set_setting(user, &format!("s{i}"), Some("v")).await?;
            store
                .save_contact(user, &contact(row, &format!("c{i}@x"), &format!("c{i}")))
                .await?;
            store.load(user, &key).await.map(|_| ())
        }));
    }
    for task in tasks {
        task.await??;
    }

    let data = store.load(user, &key).await?;
    assert_eq!(data.accounts.len(), 31);
    assert_eq!(data.settings.len(), 30);
    assert_eq!(data.contacts.len(), 30);
    Ok(())
}
