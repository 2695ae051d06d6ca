//! Nothing root acknowledged is lost when the real binary is killed with
//! `kill -9` right after: settings, an account and its settings, its new tag, a
//! contact's new nick, and channels with their settings, all found again after a
//! restart on the same database, with a real Prosody behind the account.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod daemon;

use daemon::{Daemon, DaemonConfig};
use waggle_tests::prosody::gateway::LOGIN_TIMEOUT;
use waggle_tests::prosody::{MUC, Prosody, XmppContact, befriend};
use waggle_tests::{DEFAULT_TIMEOUT, IrcClient, assert_any, pred};

const PW: &str = "pw";

async fn client(d: &Daemon) -> IrcClient {
    let mut c = IrcClient::connect(d.addr()).await.unwrap();
    c.register("alice").await.unwrap();
    c
}

#[tokio::test]
async fn what_root_acknowledged_survives_kill_9() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    // bob stays online throughout, so he is in the channel each time.
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    {
        let mut alice = XmppContact::connect(&p, "alice", PW).await.unwrap();
        befriend(&mut alice, &mut bob, None, Some("Friends"))
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = DaemonConfig::new(&dir.path().join("waggle.db"));
    let d = Daemon::start(dir.path(), &cfg).unwrap();
    let mut c = client(&d).await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    // Settings.
    c.root_expect("set status \"out to lunch\"", "status = `out to lunch'")
        .await
        .unwrap();
    c.root_expect("set private false", "private = `false'")
        .await
        .unwrap();
    // An account, its settings and a new tag.
    c.root_expect(
        "account add jabber alice@localhost pw",
        "Account successfully added with tag jabber",
    )
    .await
    .unwrap();
    for (k, v) in p.account_settings() {
        c.root_expect(&format!("account jabber set {k} {v}"), &format!("{k} = `"))
            .await
            .unwrap();
    }
    c.root_expect(
        "account jabber set resource crashtest",
        "resource = `crashtest'",
    )
    .await
    .unwrap();
    c.root_expect("account jabber set tag xmpp", "tag = `xmpp'")
        .await
        .unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account xmpp on", "xmpp - Logging in: Logged in")
        .await
        .unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    c.set_timeout(DEFAULT_TIMEOUT);
    // A contact renamed.
    c.root_expect("rename bob robert", "Nick successfully changed")
        .await
        .unwrap();
    // A chat channel and a control channel, with settings.
    c.root_expect(
        &format!("chat add xmpp lounge@{MUC} #lounge"),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.root_expect("channel #lounge set nick alicia", "nick = `alicia'")
        .await
        .unwrap();
    c.send("JOIN &friends").await.unwrap();
    c.expect(" 366 alice &friends ").await.unwrap();
    c.root_expect("channel &friends set fill_by group", "fill_by = `group'")
        .await
        .unwrap();
    c.root_expect("channel &friends set group Friends", "group = `Friends'")
        .await
        .unwrap();
    // The last acknowledgement has just come: crash now.
    d.crash().await.unwrap();

    let d = Daemon::start(dir.path(), &cfg).unwrap();
    let mut c = client(&d).await;
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("identify s3cret", "Password accepted")
        .await
        .unwrap();
    c.expect("xmpp - Logging in: Logged in").await.unwrap();
    let robert = c
        .expect(pred("robert joins", |m| {
            m.is("JOIN") && m.nick() == Some("robert")
        }))
        .await
        .unwrap();
    assert!(robert.starts_with(":robert!bob@localhost "), "{robert}");
    c.set_timeout(DEFAULT_TIMEOUT);
    c.root_expect("set status", "status = `out to lunch'")
        .await
        .unwrap();
    c.root_expect("set private", "private = `false'")
        .await
        .unwrap();
    let list = c.root("account list").await.unwrap();
    assert_any(&list, " 0 (xmpp): jabber, alice@localhost (connected)");
    c.root_expect("account xmpp set resource", "resource = `crashtest'")
        .await
        .unwrap();
    let channels = c.root("channel list").await.unwrap();
    assert_any(&channels, "#lounge");
    assert_any(&channels, "&friends");
    c.root_expect("channel #lounge set nick", "nick = `alicia'")
        .await
        .unwrap();
    c.root_expect(
        "channel #lounge set room",
        &format!("room = `lounge@{MUC}'"),
    )
    .await
    .unwrap();
    c.root_expect("channel &friends set fill_by", "fill_by = `group'")
        .await
        .unwrap();
    c.root_expect("channel &friends set group", "group = `Friends'")
        .await
        .unwrap();
}
