//! Root's commands about help, settings, accounts, channels and chats, plus
//! prefix abbreviation, quoting and unknown commands: each with a bad input too.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_core::{Command, PresenceState, RoomId};
use waggle_tests::{GatewayOptions, TestGateway, any_contains, assert_any, assert_none};

#[tokio::test]
async fn help_index_commands_and_subjects() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();

    let t = c.root("help").await.unwrap();
    assert_any(&t, "These are the subjects root knows about:");
    assert_any(&t, "\x02commands\x02");

    let t = c.root("help commands").await.unwrap();
    assert_any(&t, "These are all root commands.");
    for cmd in [
        "account", "add", "allow", "block", "blist", "channel", "chat", "drop", "group",
        "identify", "info", "no", "plugins", "qlist", "register", "remove", "rename", "save",
        "set", "transfer", "yes",
    ] {
        assert_any(&t, &format!("* \x02{cmd}\x02 - "));
    }

    let t = c.root("help set status").await.unwrap();
    assert_any(&t, "Help on setting `status' (global):");
    assert_any(&t, "Type: string");
    let t = c.root("help set ops").await.unwrap();
    assert_any(&t, "Type: both, root, user, none");
    assert_any(&t, "Default: both");
    // A name shared by scopes shows each.
    let t = c.root("help set auto_connect").await.unwrap();
    assert_any(&t, "(global)");
    assert_any(&t, "(account)");

    let t = c.root("help set").await.unwrap();
    assert_any(&t, "Global:");
    assert_none(&t, " password");

    let t = c.root("help account add").await.unwrap();
    assert_any(&t, "Syntax: account add <protocol> <handle> [<password>]");
    let t = c.root("help acc").await.unwrap();
    assert_any(&t, "Subcommands:");
    assert_any(&t, "help account <subcommand>");
    for subject in ["quickstart", "channels", "index"] {
        let t = c.root(&format!("help {subject}")).await.unwrap();
        assert!(t.len() > 1, "help {subject}: {t:?}");
    }

    // Bad input.
    let t = c.root("help set nosuchsetting").await.unwrap();
    assert_any(&t, "No help available on `set nosuchsetting'");
    let t = c.root("help frobnicate").await.unwrap();
    assert_any(&t, "No help available on `frobnicate'");

    // The IRC HELP command knows root's subjects too.
    c.send("HELP account").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 704 alice account :Syntax: account add");
    assert_any(&lines, " 706 alice account :End of /HELP");
    c.send("HELP nosuch").await.unwrap();
    c.expect_numeric("524").await.unwrap();
}

#[tokio::test]
async fn set_show_change_delete_and_refuse() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();

    let t = c.root("set").await.unwrap();
    assert_any(&t, "auto_connect = `true'");
    assert_any(&t, "ops = `both'");
    assert_any(&t, "status is empty");
    assert_none(&t, "password");

    c.root_expect("set strip_html off", "strip_html = `false'")
        .await
        .unwrap();
    c.root_expect("set strip_html", "strip_html = `false'")
        .await
        .unwrap();
    c.root_expect("set -del strip_html", "strip_html = `true'")
        .await
        .unwrap();
    c.root_expect("set ops ROOT", "ops = `root'").await.unwrap();

    // Quoting groups words.
    c.root_expect("set status \"out to lunch\"", "status = `out to lunch'")
        .await
        .unwrap();
    c.root_expect(r#"set status "say \"hi\"""#, "status = `say \"hi\"'")
        .await
        .unwrap();
    c.root_expect("set status 'single quotes'", "status = `single quotes'")
        .await
        .unwrap();
    c.root_expect("set -del status", "status is empty")
        .await
        .unwrap();

    // Bad input.
    c.root_expect(
        "set ops sometimes",
        "Invalid value for `ops': expected one of both, root, user, none",
    )
    .await
    .unwrap();
    c.root_expect(
        "set paste_buffer_delay soon",
        "Invalid value for `paste_buffer_delay'",
    )
    .await
    .unwrap();
    c.root_expect("set auto_reconnect_delay never", "Invalid value")
        .await
        .unwrap();
    let t = c.root("set nosuchsetting 1").await.unwrap();
    assert_any(&t, "Setting `nosuchsetting' does not exist");
    assert_any(&t, "account or channel setting");
    c.root_expect("set -del", "Not enough parameters")
        .await
        .unwrap();
    c.root_expect("set ops", "ops = `root'").await.unwrap();
    c.root_expect("set password x", "Please identify first")
        .await
        .unwrap();
}

#[tokio::test]
async fn set_root_nick_renames_root() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let lines = c.root_lines("set root_nick boss").await.unwrap();
    assert_any(&lines, ":root!root@localhost NICK boss");
    c.set_root_nick("boss");
    c.root_expect("set root_nick", "root_nick = `boss'")
        .await
        .unwrap();
    c.root_expect("set root_nick 1nvalid", "invalid or taken")
        .await
        .unwrap();
}

#[tokio::test]
async fn save_before_and_after_register() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("save", "Please create an account first")
        .await
        .unwrap();
    c.root("register pw").await.unwrap();
    c.root_expect("save", "Configuration saved").await.unwrap();
}

#[tokio::test]
async fn account_add_list_on_off_del() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();

    c.root_expect("account list", "End of account list")
        .await
        .unwrap();
    c.root_expect(
        "account add test bob pw",
        "Account successfully added with tag test",
    )
    .await
    .unwrap();
    c.root_expect("account add test carol pw", "with tag test2")
        .await
        .unwrap();
    c.root_expect(
        "account add test bob pw",
        "Are you accidentally trying to add it twice?",
    )
    .await
    .unwrap();
    let t = c.root("account list").await.unwrap();
    assert_eq!(t[0], " 0 (test): test, bob");
    assert_eq!(t[1], " 1 (test2): test, carol");
    assert_eq!(t.last().map(String::as_str), Some("End of account list"));

    // Prefix abbreviation.
    let t = c.root("acc li").await.unwrap();
    assert_any(&t, " 0 (test): test, bob");

    c.root_wait("account test on", "test - Logging in: Connecting")
        .await
        .unwrap();
    c.expect("test - Logging in: Logged in").await.unwrap();
    c.root_expect("account list", " 0 (test): test, bob (connected)")
        .await
        .unwrap();
    c.root_expect("account test on", "Account already online")
        .await
        .unwrap();
    c.root_expect(
        "account test del",
        "Account is still logged in, can't delete",
    )
    .await
    .unwrap();
    c.root_wait("account 0 off", "test - Signing off..")
        .await
        .unwrap();
    c.root_expect("account test off", "Account already offline")
        .await
        .unwrap();

    // All at once.
    c.root_wait("account on", "Trying to get all accounts connected...")
        .await
        .unwrap();
    gw.hub().account("bob").await.unwrap();
    gw.hub().account("carol").await.unwrap();
    c.root_wait("account off", "Deactivating all active (re)connections...")
        .await
        .unwrap();

    c.root_expect("account test2 del", "Account deleted")
        .await
        .unwrap();
    let t = c.root("account list").await.unwrap();
    assert_none(&t, "carol");

    // Bad input.
    c.root_expect("account nosuch on", "Could not find account `nosuch'.")
        .await
        .unwrap();
    c.root_expect("account add nosuchproto x y", "Unknown protocol")
        .await
        .unwrap();
    c.root_expect("account add test", "Not enough parameters")
        .await
        .unwrap();
    c.root_expect("account", "Not enough parameters")
        .await
        .unwrap();
    c.root_expect("account test frob", "Unknown command: account frob")
        .await
        .unwrap();
    c.root_expect("account 7 del", "Could not find account `7'.")
        .await
        .unwrap();
}

#[tokio::test]
async fn account_set_settings() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root("account add test bob pw").await.unwrap();
    let t = c.root("account test set").await.unwrap();
    assert_any(&t, "username = `bob'");
    assert_any(&t, "tag = `test'");
    assert_any(&t, "password = `********' (hidden)");
    assert_none(&t, "`pw'");
    c.root_expect(
        "account test set display_name \"Bob B\"",
        "display_name = `Bob B'",
    )
    .await
    .unwrap();
    c.root_expect(
        "account test set -del display_name",
        "display_name is empty",
    )
    .await
    .unwrap();
    c.root_expect("account test set tag im", "tag = `im'")
        .await
        .unwrap();
    c.root_expect("account im set auto_connect off", "auto_connect = `false'")
        .await
        .unwrap();
    c.root_expect(
        "account im set password newpw",
        "Setting changed successfully",
    )
    .await
    .unwrap();

    // Bad input.
    c.root_expect(
        "account im set username other",
        "This setting can not be changed",
    )
    .await
    .unwrap();
    c.root_expect("account im set nosuch 1", "Setting `nosuch' does not exist")
        .await
        .unwrap();
    c.root_expect(
        "account im set auto_connect maybe",
        "Invalid value for `auto_connect'",
    )
    .await
    .unwrap();
    c.root("account add test carol pw").await.unwrap();
    c.root_expect("account test set tag im", "Tag `im' is already in use")
        .await
        .unwrap();
}

#[tokio::test]
async fn account_with_a_protocol_without_backend() {
    let gw = TestGateway::start(GatewayOptions::default().without_backend())
        .await
        .unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("plugins", "Enabled Protocols: none")
        .await
        .unwrap();
    let t = c
        .root("account add jabber alice@example.org pw")
        .await
        .unwrap();
    assert_any(&t, "Account successfully added with tag jabber");
    assert_any(&t, "no `jabber' backend");
    let t = c.root("account list").await.unwrap();
    assert_any(&t, " 0 (jabber): jabber (missing!), alice@example.org");
    let t = c.root("account jabber on").await.unwrap();
    assert_any(&t, "Unknown protocol `jabber'");
    assert_any(&t, "can't go online");
    // A protocol nobody knows is refused outright.
    let t = c.root("account add test bob pw").await.unwrap();
    assert_any(&t, "Unknown protocol");
    assert_any(&t, "Protocols available: none");
}

#[tokio::test]
async fn channel_list_set_del() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("channel list", " 0. &bitlbee, control channel (joined)")
        .await
        .unwrap();
    c.send("JOIN &work").await.unwrap();
    c.expect(":alice!alice@127.0.0.1 JOIN &work").await.unwrap();
    let t = c.root("channel list").await.unwrap();
    assert_any(&t, " 1. &work, control channel (joined)");
    assert_any(&t, "End of channel list");

    c.root_expect("channel &work set fill_by group", "fill_by = `group'")
        .await
        .unwrap();
    c.root_expect("channel 1 set group Friends", "group = `Friends'")
        .await
        .unwrap();
    let t = c.root("channel &work set").await.unwrap();
    assert_any(&t, "fill_by = `group'");
    assert_any(&t, "auto_join = `false'");
    c.root_expect("channel &work set -del group", "group is empty")
        .await
        .unwrap();

    // Bad input.
    c.root_expect(
        "channel &work set fill_by nobody",
        "Invalid value for `fill_by'",
    )
    .await
    .unwrap();
    c.root_expect(
        "channel &work set nosuch 1",
        "Setting `nosuch' does not exist",
    )
    .await
    .unwrap();
    c.root_expect("channel #nosuch set", "Could not find channel `#nosuch'")
        .await
        .unwrap();
    c.root_expect("channel &work del", "Couldn't remove channel")
        .await
        .unwrap();
    c.root_expect("channel &bitlbee del", "Couldn't remove channel")
        .await
        .unwrap();
    c.root_expect("channel &work", "Not enough parameters")
        .await
        .unwrap();
    c.root_expect("channel &work frob", "Unknown command: channel [...] frob")
        .await
        .unwrap();

    c.send("PART &work").await.unwrap();
    c.expect("PART &work").await.unwrap();
    c.root_expect("channel &work del", "Channel &work deleted.")
        .await
        .unwrap();
    let t = c.root("channel list").await.unwrap();
    assert_none(&t, "&work");
}

#[tokio::test]
async fn chat_add_list_with_del() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();

    // Bad input before there is an account.
    c.root_expect("chat add nosuch room@conf.example", "Invalid account")
        .await
        .unwrap();

    let acc = gw
        .online_account(&mut c, "alice@test.example")
        .await
        .unwrap();
    c.root_expect(
        "chat add test room@conf.test.example",
        "Chatroom successfully added, join with \x02/join #room\x02",
    )
    .await
    .unwrap();
    c.root_expect(
        "chat add test other@conf.test.example &other",
        "join with \x02/join &other\x02",
    )
    .await
    .unwrap();
    c.root_expect(
        "chat add test room@conf.test.example",
        "A channel named `#room' already exists",
    )
    .await
    .unwrap();
    c.root_expect("chat add test", "Not enough parameters")
        .await
        .unwrap();
    let t = c.root("channel list").await.unwrap();
    assert_any(&t, "#room, chat channel");
    let t = c.root("channel #room set").await.unwrap();
    assert_any(&t, "room = `room@conf.test.example'");
    assert_any(&t, "account = `test'");

    // Joining the channel joins the room through the account.
    c.send("JOIN #room").await.unwrap();
    c.sync().await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::JoinRoom {
            room: RoomId("room@conf.test.example".into()),
            nick: "alice".into(),
            password: None,
        }
    );

    c.root("chat list test").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::ListRooms { server: None }
    );
    c.root("chat list test conf.test.example").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::ListRooms {
            server: Some("conf.test.example".into())
        }
    );
    c.root_expect("chat list nosuch", "Invalid account")
        .await
        .unwrap();

    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.root("chat with bob").await.unwrap();
    assert_eq!(
        acc.next_command().await.unwrap(),
        Command::ChatWith {
            handle: "bob".into()
        }
    );
    c.root_expect("chat with nobody", "Can't open a groupchat with nobody.")
        .await
        .unwrap();

    c.root_expect("chat del &other", "Channel &other deleted.")
        .await
        .unwrap();
    c.root_expect("chat del #nosuch", "Could not find channel `#nosuch'")
        .await
        .unwrap();
    c.root_expect("chat frob", "Unknown command: chat frob")
        .await
        .unwrap();

    // Listing needs the account online.
    c.root_wait("account test off", "Signing off..")
        .await
        .unwrap();
    c.root_expect("chat list test", "Not logged in to account.")
        .await
        .unwrap();
}

#[tokio::test]
async fn plugins_transfer_abbreviation_and_unknown_commands() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("plugins", "Enabled Protocols: test")
        .await
        .unwrap();
    c.root_expect("plug", "Enabled Protocols: test")
        .await
        .unwrap();
    c.root_expect("transfer", "No pending transfers")
        .await
        .unwrap();
    c.root_expect("transfer list", "No pending transfers")
        .await
        .unwrap();
    c.root_expect("transfer cancel 3", "No such transfer")
        .await
        .unwrap();
    c.root_expect("transfer frob", "Unknown command: transfer frob")
        .await
        .unwrap();

    let t = c.root("frobnicate now").await.unwrap();
    assert_eq!(
        t,
        [
            "Unknown command: frobnicate. Please use \x02help commands\x02 to get a list of available commands."
        ]
    );
    c.root_expect("a", "Ambiguous command: a (could be: account, add, allow)")
        .await
        .unwrap();

    // Root takes commands in a query too, and a "root:" address in the channel.
    c.send("PRIVMSG root :plugins").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(any_contains(&c.root_texts(&lines), "Enabled Protocols"));
    c.root_expect("root: plugins", "Enabled Protocols")
        .await
        .unwrap();
    // Whitespace only is nothing.
    let t = c.root("   ").await.unwrap();
    assert!(t.is_empty(), "{t:?}");
}
