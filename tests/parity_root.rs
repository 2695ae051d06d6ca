//! BitlBee parity of root: where it answers, identification, and the root
//! sub-features users type from memory (issue items 1, 4 and 8), with
//! BitlBee 3.6's wording.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Event, PresenceState};
use waggle_irc::AuthMode;
use waggle_tests::{GatewayOptions, Msg, TestGateway, assert_any, assert_none};

#[tokio::test]
async fn root_answers_in_the_query_or_the_channel_the_command_was_typed_in() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("PRIVMSG root :help").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":root!root@localhost PRIVMSG alice :These are the subjects",
    );
    assert_none(&lines, "PRIVMSG &bitlbee");
    c.send("JOIN &work").await.unwrap();
    c.sync().await.unwrap();
    c.send("PRIVMSG &work :help").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":root!root@localhost PRIVMSG &work :These are the subjects",
    );
    assert_none(&lines, "PRIVMSG &bitlbee");
    assert_none(&lines, "PRIVMSG alice :");
}

#[tokio::test]
async fn identify_force_keeps_the_accounts_of_the_session() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register pw", "Account successfully created")
        .await
        .unwrap();
    c.root("account add test stored@test.example pw")
        .await
        .unwrap();
    c.root("drop pw").await.unwrap();
    // Registered again with one account stored; a new session adds another.
    c.root("register pw").await.unwrap();
    c.quit().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test fresh@test.example pw")
        .await
        .unwrap();
    let t = c.root("identify pw").await.unwrap();
    assert_any(
        &t,
        "Use \x02identify -noload\x02 or \x02identify -force\x02 instead",
    );
    c.root_expect("identify -force pw", "Password accepted")
        .await
        .unwrap();
    let t = c.root("account list").await.unwrap();
    assert_any(&t, "stored@test.example");
    assert_any(&t, "fresh@test.example");
}

#[tokio::test]
async fn closed_mode_wants_the_server_password_only() {
    let opts = GatewayOptions {
        auth_mode: AuthMode::Closed,
        server_password: Some("letmein".into()),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("PASS letmein").await.unwrap();
    c.register("alice").await.unwrap();
    c.root_expect(
        "account add test alice@test.example pw",
        "Account successfully added",
    )
    .await
    .unwrap();
    let t = c.root("blist").await.unwrap();
    assert_any(&t, "0 buddies");
}

#[tokio::test]
async fn accounts_and_channels_are_found_by_a_unique_part_of_their_names() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test alice@one.example pw")
        .await
        .unwrap();
    c.root("account add test bob@two.example pw").await.unwrap();
    c.root_expect("account two.ex set tag second", "tag = `second'")
        .await
        .unwrap();
    // A part two accounts share finds neither.
    c.root_expect("account .example set tag x", "Could not find account")
        .await
        .unwrap();
    c.send("JOIN &workmates").await.unwrap();
    c.sync().await.unwrap();
    c.root_expect("channel workm set auto_join true", "auto_join = `true'")
        .await
        .unwrap();
    // BitlBee's short form, typed in the channel it is about.
    c.send("PRIVMSG &workmates :channel set show_users online,away")
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "PRIVMSG &workmates :show_users = `online,away'");
}

#[tokio::test]
async fn block_and_allow_list_an_accounts_lists_and_want_an_argument() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    acc.emit_handled(Event::BlockList {
        blocked: vec!["bob".into(), "spam@x.example".into()],
        allowed: vec![],
    })
    .await
    .unwrap();
    let t = c.root("block").await.unwrap();
    assert_any(&t, "Not enough parameters given (need 1).");
    let t = c.root("block test").await.unwrap();
    assert_eq!(
        t,
        vec![
            format!("{:<32}  {:<16}", "Handle", "Nickname"),
            format!("{:<32}  {:<16}", "bob", "bob"),
            format!("{:<32}  {:<16}", "spam@x.example", "(none)"),
            "End of list.".to_string(),
        ]
    );
    let t = c.root("allow test").await.unwrap();
    assert_eq!(t.last().map(String::as_str), Some("End of list."));
    // With umode +b, BitlBee's tab-separated form.
    c.send("MODE alice +b").await.unwrap();
    let t = c.root("block test").await.unwrap();
    assert_any(&t, "Handle\tNickname");
    assert_any(&t, "bob\tbob");
}

#[tokio::test]
async fn plugins_ft_nickserv_and_help_topics_as_in_bitlbee() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let t = c.root("plugins").await.unwrap();
    assert_eq!(
        t.first().map(String::as_str),
        Some(format!("{:<30}  Version", "Plugin").as_str())
    );
    assert_any(&t, "Enabled Protocols: test");
    let t = c.root("plugins info test").await.unwrap();
    assert_eq!(t.first().map(String::as_str), Some("test:"));
    assert_any(&t, "  Version: ");
    c.root_expect("ft", "No pending transfers").await.unwrap();
    // NickServ passes any root command.
    c.send("NICKSERV help away").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "/away <message>");
    for topic in [
        "away",
        "groupchats",
        "nick_changes",
        "identify_methods",
        "nick_format",
    ] {
        let t = c.root(&format!("help {topic}")).await.unwrap();
        assert!(
            !t.iter().any(|l| l.contains("No help available")),
            "help {topic}: {t:?}"
        );
    }
    let t = c.root("otr info").await.unwrap();
    assert_any(&t, "OTR is not offered by Waggle");
}

#[tokio::test]
async fn blist_in_a_control_channel_lists_that_channels_contacts() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    let work = |h: &str| waggle_core::Contact {
        group: Some("Work".into()),
        ..waggle_tests::contact(h, PresenceState::Online)
    };
    acc.emit_handled(Event::ContactUpdated(work("carol")))
        .await
        .unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.send("JOIN &work").await.unwrap();
    c.sync().await.unwrap();
    c.send("PRIVMSG &work :blist").await.unwrap();
    let lines = c.sync().await.unwrap();
    let texts: Vec<String> = lines
        .iter()
        .map(|l| Msg::parse(l))
        .filter(|m| m.is("PRIVMSG") && m.param(0) == "&work")
        .map(|m| m.trailing().to_string())
        .collect();
    assert_any(&texts, "carol");
    assert!(!texts.iter().any(|t| t.starts_with("bob ")), "{texts:?}");
    assert_any(&texts, "1 buddies (1 available, 0 away, 0 offline)");
    // In &bitlbee, everyone.
    let t = c.root("blist").await.unwrap();
    assert_any(&t, "2 buddies (2 available, 0 away, 0 offline)");
}

#[tokio::test]
async fn rename_root_renames_root() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("PRIVMSG &bitlbee :rename root rooty").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":root!root@localhost NICK :rooty");
    assert_any(
        &lines,
        ":rooty!rooty@localhost PRIVMSG &bitlbee :Nick successfully changed",
    );
    c.set_root_nick("rooty");
    c.root_expect("set root_nick", "root_nick = `rooty'")
        .await
        .unwrap();
}
