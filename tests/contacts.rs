//! Contacts reported by the test backend shown as IRC users in `&bitlbee`:
//! joins with their hostmask and voice, away, offline, removal, WHOIS.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Contact, Event, Presence, PresenceState};
use waggle_tests::{
    IrcClient, Msg, TestAccountHandle, TestGateway, assert_any, assert_none, canon,
};

async fn setup(caps: &[&str]) -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register_with_caps("alice", caps).await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    (gw, c, acc)
}

fn away(handle: &str, message: Option<&str>) -> Contact {
    Contact {
        handle: handle.into(),
        display_name: None,
        group: None,
        presence: Presence {
            state: PresenceState::Away,
            show: Some("away".into()),
            message: message.map(str::to_string),
            device: None,
        },
    }
}

#[tokio::test]
async fn online_contact_joins_with_hostmask_and_voice() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    let join = c.expect("JOIN").await.unwrap();
    let join = Msg::parse(&join);
    assert_eq!(join.prefix.as_deref(), Some("bob!bob@test.example"));
    assert_eq!(join.params, ["&bitlbee"]);
    let mode = c.expect("MODE").await.unwrap();
    assert_eq!(canon(&mode), ":localhost MODE &bitlbee +v :bob");

    c.send("NAMES &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    let names = lines
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("353"))
        .unwrap();
    assert!(
        names.trailing().split(' ').any(|n| n == "+bob"),
        "{names:?}"
    );

    // An update that changes nothing sends nothing.
    acc.contact("bob", PresenceState::Online).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, "bob");

    // A handle with a domain keeps it as the host; nicks stay unique.
    acc.contact("bob@example.org", PresenceState::Online)
        .await
        .unwrap();
    let join = c.expect("JOIN").await.unwrap();
    assert_eq!(canon(&join), ":bob_!bob@example.org JOIN :&bitlbee");
}

#[tokio::test]
async fn away_and_back_with_away_notify() {
    let (_gw, mut c, acc) = setup(&["away-notify"]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":localhost MODE &bitlbee +v bob").await.unwrap();

    acc.emit_handled(Event::ContactUpdated(away("bob", Some("out for lunch"))))
        .await
        .unwrap();
    c.expect(":localhost MODE &bitlbee -v bob").await.unwrap();
    c.expect(":bob!bob@test.example AWAY :out for lunch")
        .await
        .unwrap();

    // A new away text is announced too.
    acc.emit_handled(Event::ContactUpdated(away("bob", Some("in a meeting"))))
        .await
        .unwrap();
    c.expect(":bob!bob@test.example AWAY :in a meeting")
        .await
        .unwrap();

    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 301 alice bob :away (in a meeting)");

    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":localhost MODE &bitlbee +v bob").await.unwrap();
    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " 301 ");
}

#[tokio::test]
async fn back_from_away_sends_bare_away() {
    let (_gw, mut c, acc) = setup(&["away-notify"]).await;
    acc.emit_handled(Event::ContactUpdated(away("bob", None)))
        .await
        .unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    let back = c
        .expect(waggle_tests::pred("AWAY", |m| m.is("AWAY")))
        .await
        .unwrap();
    assert_eq!(canon(&back), ":bob!bob@test.example AWAY");
}

#[tokio::test]
async fn no_away_lines_without_away_notify() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":localhost MODE &bitlbee +v bob").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(away("bob", Some("gone"))))
        .await
        .unwrap();
    c.expect(":localhost MODE &bitlbee -v bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " AWAY");
}

#[tokio::test]
async fn offline_contact_quits() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Offline).await.unwrap();
    let quit = Msg::parse(&c.expect(" QUIT ").await.unwrap());
    assert_eq!(quit.prefix.as_deref(), Some("bob!bob@test.example"));
    // One contact going offline: BitlBee's plain quit (netsplits are for accounts).
    assert_eq!(quit.trailing(), "Leaving...");

    // With offline_user_quits off it is a PART.
    c.root("set offline_user_quits false").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Offline).await.unwrap();
    c.expect(":bob!bob@test.example PART &bitlbee")
        .await
        .unwrap();

    // show_users can show offline contacts.
    c.root("set show_users online+,away,offline").await.unwrap();
    c.send("NAMES &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| Msg::parse(l).is("353") && l.contains(" bob")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn removed_contact_and_account_off() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.contact("carol", PresenceState::Online).await.unwrap();
    c.expect(":carol!carol@test.example JOIN &bitlbee")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactRemoved {
        handle: "bob".into(),
    })
    .await
    .unwrap();
    c.expect(":bob!bob@test.example PART &bitlbee")
        .await
        .unwrap();
    let t = c.root("blist all").await.unwrap();
    assert_none(&t, "bob");

    // Switching the account off takes its contacts away.
    c.send("PRIVMSG &bitlbee :account test off").await.unwrap();
    c.expect(":carol!carol@test.example QUIT").await.unwrap();
    c.expect("test - Signing off..").await.unwrap();
}

#[tokio::test]
async fn whois_who_ison_userhost_for_contacts() {
    let (_gw, mut c, acc) = setup(&[]).await;
    acc.emit_handled(Event::ContactUpdated(Contact {
        handle: "bob".into(),
        display_name: Some("Bob Builder".into()),
        group: None,
        presence: Presence {
            state: PresenceState::Online,
            show: None,
            message: Some("can we fix it".into()),
            device: Some("laptop".into()),
        },
    }))
    .await
    .unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();

    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":localhost 311 alice bob bob test.example * :Bob Builder",
    );
    assert_any(
        &lines,
        ":localhost 312 alice bob alice. :test network, resource laptop",
    );
    assert_any(&lines, ":localhost 320 alice bob :can we fix it");
    assert_any(&lines, ":localhost 318 alice bob :End of /WHOIS list");

    c.send("WHOIS nobody").await.unwrap();
    c.expect_numeric("401").await.unwrap();

    c.send("WHO &bitlbee").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        " 352 alice &bitlbee bob test.example localhost bob H+ :0 Bob Builder",
    );
    assert_any(&lines, " 315 alice &bitlbee :End of /WHO list");

    c.send("ISON bob nobody root").await.unwrap();
    let ison = c.expect_numeric("303").await.unwrap();
    assert_eq!(Msg::parse(&ison).trailing(), "bob root");

    c.send("USERHOST bob").await.unwrap();
    let uh = c.expect_numeric("302").await.unwrap();
    assert_eq!(Msg::parse(&uh).trailing(), "bob=+bob@test.example");
}

#[tokio::test]
async fn nick_from_display_name() {
    let (_gw, mut c, acc) = setup(&[]).await;
    c.root("account test set nick_source full_name")
        .await
        .unwrap();
    acc.emit_handled(Event::ContactUpdated(Contact {
        handle: "u12345".into(),
        display_name: Some("Bob Builder".into()),
        group: None,
        presence: Presence {
            state: PresenceState::Online,
            ..Presence::default()
        },
    }))
    .await
    .unwrap();
    c.expect(":BobBuilder!u12345@test.example JOIN &bitlbee")
        .await
        .unwrap();
}
