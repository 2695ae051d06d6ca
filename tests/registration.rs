//! Client registration: NICK/USER, the welcome burst, CAP negotiation, the
//! server password of the closed mode, commands before registration, ping timeout.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use waggle_irc::AuthMode;
use waggle_tests::{GatewayOptions, Msg, TestGateway, assert_any, assert_none, pred};

#[tokio::test]
async fn welcome_burst_joins_control_channel_with_root_greeting() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    let burst = c.register("alice").await.unwrap();
    for code in ["001", "002", "003", "004", "005", "375", "372", "376"] {
        assert!(
            burst.iter().any(|l| Msg::parse(l).is(code)),
            "no {code} in burst:\n{}",
            burst.join("\n")
        );
    }
    assert_any(&burst, ":alice!alice@");
    assert_any(&burst, "JOIN &bitlbee");
    // Topic and names: root is opped, and so is the user.
    assert_any(&burst, "332 alice &bitlbee :Welcome to the control channel");
    let names = burst
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("353"))
        .expect("353");
    assert_eq!(names.param(2), "&bitlbee");
    assert!(names.trailing().split(' ').any(|n| n == "@root"));
    assert!(names.trailing().split(' ').any(|n| n == "@alice"));
    // Root's greeting comes from root!root@<server name>.
    assert_any(
        &burst,
        ":root!root@localhost PRIVMSG &bitlbee :Welcome to the Waggle gateway!",
    );
    assert_any(&burst, "identify");
}

#[tokio::test]
async fn server_name_is_configurable() {
    let gw = TestGateway::start(GatewayOptions {
        name: "im.example".into(),
        ..GatewayOptions::default()
    })
    .await
    .unwrap();
    let mut c = gw.connect().await.unwrap();
    let burst = c.register("alice").await.unwrap();
    assert!(
        burst[0].starts_with(":im.example 001 alice "),
        "{}",
        burst[0]
    );
    assert_any(&burst, ":root!root@im.example PRIVMSG &bitlbee");
}

#[tokio::test]
async fn cap_ls_302_req_ack_nak_list_end() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS 302").await.unwrap();
    let ls = c
        .expect(pred("CAP LS", |m| m.is("CAP") && m.param(1) == "LS"))
        .await
        .unwrap();
    let ls = Msg::parse(&ls);
    assert_eq!(ls.param(0), "*");
    let offered: Vec<&str> = ls.trailing().split(' ').collect();
    for cap in [
        "away-notify",
        "echo-message",
        "extended-join",
        "message-tags",
        "multi-prefix",
        "sasl=PLAIN",
        "server-time",
        "userhost-in-names",
    ] {
        assert!(offered.contains(&cap), "{cap} not in {offered:?}");
    }
    c.send("NICK alice").await.unwrap();
    c.send("USER alice 0 * :Alice").await.unwrap();

    // Registration waits while capabilities are negotiated.
    let lines = c.sync().await.unwrap();
    assert!(
        !lines.iter().any(|l| Msg::parse(l).is("001")),
        "welcomed before CAP END: {lines:?}"
    );

    c.send("CAP REQ :server-time multi-prefix").await.unwrap();
    let ack = c.expect("CAP").await.unwrap();
    let ack = Msg::parse(&ack);
    assert_eq!(ack.param(1), "ACK");
    assert_eq!(ack.trailing(), "server-time multi-prefix");

    // All or nothing: one unknown capability refuses the whole request.
    c.send("CAP REQ :echo-message no-such-cap").await.unwrap();
    let nak = Msg::parse(&c.expect("CAP").await.unwrap());
    assert_eq!(nak.param(1), "NAK");
    assert_eq!(nak.trailing(), "echo-message no-such-cap");

    c.send("CAP LIST").await.unwrap();
    let list = Msg::parse(&c.expect("CAP").await.unwrap());
    assert_eq!(list.param(1), "LIST");
    let enabled: Vec<&str> = list.trailing().split(' ').collect();
    assert!(enabled.contains(&"server-time") && enabled.contains(&"multi-prefix"));
    assert!(!enabled.contains(&"echo-message"));

    c.send("CAP END").await.unwrap();
    c.finish_registration("alice").await.unwrap();

    // After registration CAP still works, and removing a capability is a REQ too.
    c.send("CAP REQ :-multi-prefix").await.unwrap();
    let ack = Msg::parse(&c.expect("CAP").await.unwrap());
    assert_eq!((ack.param(1), ack.trailing()), ("ACK", "-multi-prefix"));
    c.send("CAP LIST").await.unwrap();
    let list = Msg::parse(&c.expect("CAP").await.unwrap());
    // cap-notify is implied by CAP LS 302.
    assert_eq!(list.trailing(), "cap-notify server-time");
    c.send("CAP BOGUS").await.unwrap();
    c.expect_numeric("410").await.unwrap();
}

#[tokio::test]
async fn cap_ls_without_302_has_no_values() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("CAP LS").await.unwrap();
    let ls = Msg::parse(&c.expect("CAP").await.unwrap());
    let offered: Vec<&str> = ls.trailing().split(' ').collect();
    assert!(offered.contains(&"sasl"), "{offered:?}");
    assert!(!offered.iter().any(|c| c.contains('=')), "{offered:?}");
}

#[tokio::test]
async fn extended_join_and_userhost_in_names() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    let burst = c
        .register_with_caps("alice", &["extended-join", "userhost-in-names"])
        .await
        .unwrap();
    let join = burst
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("JOIN"))
        .unwrap();
    assert_eq!(join.params, ["&bitlbee", "*", "Test alice"]);
    let names = burst
        .iter()
        .map(|l| Msg::parse(l))
        .find(|m| m.is("353"))
        .unwrap();
    assert!(
        names.trailing().contains("@root!root@localhost"),
        "{names:?}"
    );
}

#[tokio::test]
async fn commands_before_registration_get_451() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("PRIVMSG root :help").await.unwrap();
    let l = Msg::parse(&c.expect_numeric("451").await.unwrap());
    assert_eq!(l.params[..2], ["*", "PRIVMSG"]);
    c.send("JOIN #x").await.unwrap();
    c.expect_numeric("451").await.unwrap();
    // The connection is still usable.
    c.register("alice").await.unwrap();
}

#[tokio::test]
async fn invalid_nick_gets_432_before_and_after_registration() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.send("NICK 1abc").await.unwrap();
    c.expect_numeric("432").await.unwrap();
    c.send("NICK root").await.unwrap();
    c.expect_numeric("433").await.unwrap();
    c.register("alice").await.unwrap();
    c.send("NICK bad!nick").await.unwrap();
    let l = Msg::parse(&c.expect_numeric("432").await.unwrap());
    assert_eq!(l.param(1), "bad!nick");
    c.send("NICK").await.unwrap();
    c.expect_numeric("431").await.unwrap();
    // A valid change works (not identified yet).
    c.send("NICK alice2").await.unwrap();
    c.expect(":alice!alice@127.0.0.1 NICK alice2")
        .await
        .unwrap();
}

#[tokio::test]
async fn closed_mode_needs_the_server_password() {
    let opts = GatewayOptions {
        auth_mode: AuthMode::Closed,
        server_password: Some("letmein".into()),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();

    let mut wrong = gw.connect().await.unwrap();
    wrong.send("PASS nope").await.unwrap();
    wrong.send("NICK alice").await.unwrap();
    wrong.send("USER alice 0 * :Alice").await.unwrap();
    wrong.expect_numeric("464").await.unwrap();
    let rest = wrong.expect_closed().await.unwrap();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("ERROR ") && l.contains("Password incorrect")),
        "{rest:?}"
    );

    let mut none = gw.connect().await.unwrap();
    none.send("NICK alice").await.unwrap();
    none.send("USER alice 0 * :Alice").await.unwrap();
    none.expect_numeric("464").await.unwrap();
    none.expect_closed().await.unwrap();

    let mut right = gw.connect().await.unwrap();
    right.send("PASS letmein").await.unwrap();
    right.register("alice").await.unwrap();
}

#[tokio::test]
async fn registered_mode_refuses_register_and_anonymous_commands() {
    let opts = GatewayOptions {
        auth_mode: AuthMode::Registered,
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("register secret", "does not allow registering")
        .await
        .unwrap();
    c.root_expect("account list", "only accepts registered users")
        .await
        .unwrap();
    // Help stays available.
    c.root_expect("help", "quickstart").await.unwrap();
}

#[tokio::test]
async fn quit_closes_with_error() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.send("QUIT :see you").await.unwrap();
    let rest = c.expect_closed().await.unwrap();
    assert_any(&rest, "ERROR :Closing link");
    assert_any(&rest, "see you");
}

#[tokio::test]
async fn ping_timeout_drops_a_silent_client() {
    let opts = GatewayOptions {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(600),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    // The gateway pings first, then gives up; the client never answers.
    let ping = Msg::parse(&c.expect(pred("PING", |m| m.is("PING"))).await.unwrap());
    assert_eq!(ping.param(0), "localhost");
    let rest = c.expect_closed().await.unwrap();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("ERROR ") && l.contains("Ping timeout")),
        "{rest:?}"
    );
}

#[tokio::test]
async fn answering_the_ping_keeps_the_client() {
    let opts = GatewayOptions {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(1000),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start(opts).await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    // Answer every PING, and nothing else, for well past ping_timeout.
    let until = tokio::time::Instant::now() + Duration::from_millis(2500);
    let mut pongs = 0;
    while tokio::time::Instant::now() < until && pongs < 100 {
        let ping = Msg::parse(&c.expect(pred("PING", |m| m.is("PING"))).await.unwrap());
        c.send(&format!("PONG :{}", ping.param(0))).await.unwrap();
        pongs += 1;
    }
    assert!(pongs >= 3, "only {pongs} pings");
    let lines = c.root("help").await.unwrap();
    assert_none(&lines, "Ping timeout");
    assert!(!lines.is_empty());
}

#[tokio::test]
async fn bot_mode_and_setname() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    let burst = c.register_with_caps("alice", &["setname"]).await.unwrap();
    assert_any(&burst, "BOT=B");
    c.send("MODE alice +B").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":alice!alice@");
    assert_any(&lines, "MODE alice :+B");
    c.send("MODE alice +Z").await.unwrap();
    assert_any(&c.sync().await.unwrap(), " 501 alice ");
    c.send("SETNAME :Alice Liddell").await.unwrap();
    assert_any(&c.sync().await.unwrap(), "SETNAME :Alice Liddell");
    c.send("WHOIS alice").await.unwrap();
    let whois = c.sync().await.unwrap();
    assert_any(&whois, "311 alice alice");
    assert_any(&whois, ":Alice Liddell");
    assert_any(&whois, "335 alice alice :is a bot");
    c.send("MODE alice").await.unwrap();
    assert_any(&c.sync().await.unwrap(), "221 alice +B");
    c.send("MODE alice -B").await.unwrap();
    assert_any(&c.sync().await.unwrap(), "MODE alice :-B");
}

#[tokio::test]
async fn help_command_answers_with_help_numerics() {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.connect().await.unwrap();
    c.register("alice").await.unwrap();
    c.send("HELP PRIVMSG").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "704 alice PRIVMSG :PRIVMSG <nick|channel> <text>");
    assert_any(&lines, "706 alice PRIVMSG :End of /HELP");
    // Root's subjects are reachable too, and unknown ones are an error.
    c.send("HELP account add").await.unwrap();
    assert_any(
        &c.sync().await.unwrap(),
        "Syntax: account add <protocol> <handle> [<password>]",
    );
    c.send("HELPOP nosuchthing").await.unwrap();
    assert_any(&c.sync().await.unwrap(), "524 alice nosuchthing");
}
