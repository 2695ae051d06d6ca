//! XMPP one-to-one through the whole gateway: an IRC client, the gateway with
//! the XMPP backend and a real Prosody, tokio-xmpp clients playing the contacts
//! and the user's other devices. Typing both ways, our own messages from another
//! client (carbons) under each `self_messages`, `carbons false`, delayed messages
//! with server-time and with the prefix, `tls try`, PLAIN and SCRAM,
//! `user_agent`, and the first certificate recorded with `tls_verify` off.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::prosody::gateway::LOGIN_TIMEOUT;
use waggle_tests::prosody::{Prosody, TcpProxy, XmppContact, XmppGateway, befriend};
use waggle_tests::{DEFAULT_TIMEOUT, IrcClient, Msg, assert_none, canon, pred};
use xmpp_parsers::chatstates::ChatState;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message};
use xmpp_parsers::minidom::Element;

const PW: &str = "pw";

/// Alice on IRC (asking for `caps`), her account online with `extra` settings,
/// bob her contact and online; returns bob.
async fn online(
    p: &Prosody,
    gw: &XmppGateway,
    caps: &[&str],
    extra: &[(&str, &str)],
) -> (IrcClient, XmppContact) {
    let mut alice = XmppContact::connect(p, "alice", PW).await.unwrap();
    let mut bob = XmppContact::connect(p, "bob", PW).await.unwrap();
    befriend(&mut alice, &mut bob, None, None).await.unwrap();
    drop(alice);
    let mut c = IrcClient::connect(gw.addr()).await.unwrap();
    c.register_with_caps("alice", caps).await.unwrap();
    gw.add_account(&mut c, p, "alice", PW, extra).await.unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    c.expect(pred("bob joins", |m| {
        m.is("JOIN") && m.nick() == Some("bob")
    }))
    .await
    .unwrap();
    c.set_timeout(DEFAULT_TIMEOUT);
    (c, bob)
}

/// A round trip through the account's stream (`info` asks the server), so
/// whatever the login set up (carbons) is in place.
async fn round_trip(c: &mut IrcClient) {
    c.send("PRIVMSG &bitlbee :info bob").await.unwrap();
    c.expect("jabber - User info - bob:").await.unwrap();
}

#[tokio::test]
async fn typing_notices_both_ways_on_irc() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(&p, &gw, &["message-tags"], &[]).await;
    c.root_expect("set typing_notice true", "typing_notice = `true'")
        .await
        .unwrap();
    let to = Jid::new("alice@localhost").unwrap();
    for (state, shown) in [
        (ChatState::Composing, "active"),
        (ChatState::Paused, "paused"),
        (ChatState::Active, "done"),
    ] {
        bob.send(Message::chat(to.clone()).with_payload(state))
            .await
            .unwrap();
        let l = c.expect(" TAGMSG ").await.unwrap();
        assert_eq!(
            canon(&l),
            format!("@+typing={shown} :bob!bob@localhost TAGMSG :alice")
        );
    }
    for (sent, wire) in [("active", "composing"), ("paused", "paused")] {
        c.send(&format!("@+typing={sent} TAGMSG bob"))
            .await
            .unwrap();
        bob.expect_message(wire, |m| {
            m.payloads
                .iter()
                .any(|x| x.is(wire, xmpp_parsers::ns::CHATSTATES))
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn our_other_clients_messages_under_each_self_messages() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(&p, &gw, &[], &[]).await;
    round_trip(&mut c).await;
    let mut phone = XmppContact::connect(&p, "alice", PW).await.unwrap();
    let mut from_phone = async |c: &mut IrcClient, text: &str| {
        phone.say("bob@localhost", text).await.unwrap();
        assert_eq!(bob.expect_body("alice@localhost").await.unwrap(), text);
        // bob answers after the copy went out: the answer shows after it.
        bob.say("alice@localhost", &format!("got {text}"))
            .await
            .unwrap();
        c.expect(format!("got {text}")).await.unwrap();
        c.history()
            .iter()
            .rev()
            .skip(1)
            .take_while(|l| !l.contains(" :got "))
            .find(|l| l.contains(text))
            .map(|l| canon(l))
    };
    // true (the default): as sent by us.
    assert_eq!(
        from_phone(&mut c, "first-copy").await.as_deref(),
        Some(":alice!alice@127.0.0.1 PRIVMSG bob :first-copy")
    );
    c.root("set self_messages false").await.unwrap();
    assert_eq!(from_phone(&mut c, "second-copy").await, None);
    c.root("set self_messages prefix_notice").await.unwrap();
    assert_eq!(
        from_phone(&mut c, "third-copy").await.as_deref(),
        Some(":bob!bob@localhost NOTICE alice :-> third-copy")
    );
}

#[tokio::test]
async fn carbons_false_shows_nothing_of_our_other_client() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(
        &p,
        &gw,
        &[],
        &[("carbons", "false"), ("resource", "gateway")],
    )
    .await;
    round_trip(&mut c).await;
    let mut phone = XmppContact::connect(&p, "alice", PW).await.unwrap();
    phone.say("bob@localhost", "sent by phone").await.unwrap();
    bob.expect_body("alice@localhost").await.unwrap();
    bob.say(&phone.full_jid().unwrap(), "to the phone")
        .await
        .unwrap();
    phone.expect_body("bob@localhost").await.unwrap();
    bob.say("alice@localhost/gateway", "to the gateway")
        .await
        .unwrap();
    c.expect("to the gateway").await.unwrap();
    assert_none(c.history(), "sent by phone");
    assert_none(c.history(), "to the phone");
}

fn delayed(to: &str, body: &str, stamp: &str) -> Message {
    let delay: Element = format!("<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>")
        .parse()
        .unwrap();
    Message::chat(Jid::new(to).unwrap())
        .with_body(Lang::new(), body.into())
        .with_payloads(vec![delay])
}

#[tokio::test]
async fn a_stamp_past_year_9999_is_shown_as_now_and_the_session_lives_on() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(&p, &gw, &["server-time"], &[]).await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    let mut d = gw.attach("alice", "s3cret").await.unwrap();
    bob.send(delayed(
        "alice@localhost",
        "from the far future",
        "9999-12-31T23:59:59-23:59",
    ))
    .await
    .unwrap();
    // Shown at the time it arrived: no prefix, a time tag of now.
    let l = d.expect("from the far future").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@localhost PRIVMSG alice :from the far future"
    );
    let l = c.expect("from the far future").await.unwrap();
    let at = time::OffsetDateTime::parse(
        Msg::parse(&l).tag("time").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let age = time::OffsetDateTime::now_utc() - at;
    assert!(
        age >= -time::Duration::seconds(1) && age < time::Duration::minutes(1),
        "{l}"
    );
    // The session lives: the next message arrives on both clients, and a
    // new client can still identify and attach.
    bob.say("alice@localhost", "and the next one")
        .await
        .unwrap();
    c.expect("and the next one").await.unwrap();
    d.expect("and the next one").await.unwrap();
    gw.attach("alice", "s3cret").await.unwrap();
}

#[tokio::test]
async fn delayed_messages_with_server_time_and_with_the_prefix() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(&p, &gw, &["server-time"], &[]).await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("set timezone gmt", "timezone = `gmt'")
        .await
        .unwrap();
    // A second client of alice's, without server-time.
    let mut d = gw.attach("alice", "s3cret").await.unwrap();
    bob.send(delayed(
        "alice@localhost",
        "from the past",
        "2020-09-13T12:26:40Z",
    ))
    .await
    .unwrap();
    let l = c.expect("from the past").await.unwrap();
    assert_eq!(
        canon(&l),
        "@time=2020-09-13T12:26:40.000Z :bob!bob@localhost PRIVMSG alice :from the past"
    );
    let l = d.expect("from the past").await.unwrap();
    assert_eq!(
        canon(&l),
        ":bob!bob@localhost PRIVMSG alice :\x02[\x02\x02\x022020-09-13 12:26:40\x02]\x02 from the past"
    );
    // Not delayed: no prefix, and the time it arrived.
    bob.say("alice@localhost", "right now").await.unwrap();
    let l = d.expect("right now").await.unwrap();
    assert_eq!(canon(&l), ":bob!bob@localhost PRIVMSG alice :right now");
    let l = c.expect("right now").await.unwrap();
    let m = Msg::parse(&l);
    let at = time::OffsetDateTime::parse(
        m.tag("time").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let age = time::OffsetDateTime::now_utc() - at;
    assert!(
        age >= -time::Duration::seconds(1) && age < time::Duration::minutes(1),
        "{l}"
    );
}

#[tokio::test]
async fn tls_try_logs_in_unencrypted_with_a_warning_and_tls_true_refuses() {
    let p = Prosody::options()
        .no_starttls()
        .start(&[("alice", PW)])
        .await
        .unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    gw.add_account(&mut c, &p, "alice", PW, &[]).await.unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    // tls true (the default): refused, for good.
    c.allow("jabber - Login error: ");
    let refusal = c
        .root_wait("account jabber on", "jabber - Login error: ")
        .await
        .unwrap();
    assert!(refusal.contains("TLS"), "{refusal}");
    c.expect("jabber - Signing off..").await.unwrap();
    c.disallow_all();
    c.root_expect("account jabber set tls try", "tls = `try'")
        .await
        .unwrap();
    c.send("PRIVMSG &bitlbee :account jabber on").await.unwrap();
    // Said while logging in, so it is a login progress line.
    c.expect(format!(
        "jabber - Logging in: {}",
        waggle_xmpp::UNENCRYPTED_WARNING
    ))
    .await
    .unwrap();
    c.expect("jabber - Logging in: Logged in").await.unwrap();
    assert_none(c.history(), "Converting stream to TLS");
}

/// How the client's SASL `<auth/>` named its mechanism, from what it sent.
fn mechanism(proxy: &TcpProxy) -> Option<String> {
    let text = proxy.client_text();
    let at = text.find("<auth ")?;
    let auth = &text[at..];
    let m = auth.find("mechanism=")? + "mechanism=".len();
    let quoted = &auth[m..];
    let q = quoted.chars().next()?;
    quoted[1..].split(q).next().map(str::to_string)
}

async fn via_proxy(p: &Prosody, gw: &XmppGateway, proxy: &TcpProxy) -> IrcClient {
    let mut c = gw.client("alice").await.unwrap();
    let port = proxy.port().to_string();
    gw.add_account(&mut c, p, "alice", PW, &[("tls", "false"), ("port", &port)])
        .await
        .unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c
}

#[tokio::test]
async fn scram_is_used_where_offered_and_plain_only_where_allowed() {
    // Without TLS, Prosody offers SCRAM only; SCRAM is what we use.
    let p = Prosody::start(&[("alice", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let mut c = via_proxy(&p, &gw, &proxy).await;
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    assert_eq!(mechanism(&proxy).as_deref(), Some("SCRAM-SHA-1"));

    // A server offering only PLAIN, unencrypted: refused unless allowed.
    let p = Prosody::options()
        .only_plain_sasl()
        .start(&[("alice", PW)])
        .await
        .unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let proxy = TcpProxy::start(p.port()).await.unwrap();
    let mut c = via_proxy(&p, &gw, &proxy).await;
    c.allow("jabber - Login error: ");
    let refusal = c
        .root_wait("account jabber on", "jabber - Login error: ")
        .await
        .unwrap();
    assert!(
        refusal.contains("PLAIN is refused without TLS unless allow_plaintext_auth is on"),
        "{refusal}"
    );
    assert_eq!(mechanism(&proxy), None, "{}", proxy.client_text());
    c.expect("jabber - Signing off..").await.unwrap();
    c.disallow_all();
    c.root_expect(
        "account jabber set allow_plaintext_auth true",
        "allow_plaintext_auth = `true'",
    )
    .await
    .unwrap();
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    assert_eq!(mechanism(&proxy).as_deref(), Some("PLAIN"));
}

#[tokio::test]
async fn user_agent_and_resource_are_what_contacts_see() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (_c, mut bob) = online(
        &p,
        &gw,
        &[],
        &[("user_agent", "\"Hive Mind\""), ("resource", "comb")],
    )
    .await;
    let answer = bob
        .iq(Iq::Get {
            from: None,
            to: Some(Jid::new("alice@localhost/comb").unwrap()),
            id: "v1".into(),
            payload: "<query xmlns='jabber:iq:version'/>".parse().unwrap(),
        })
        .await
        .unwrap();
    let Iq::Result {
        payload: Some(version),
        ..
    } = answer
    else {
        panic!("no version: {answer:?}")
    };
    assert_eq!(
        version
            .get_child("name", "jabber:iq:version")
            .map(|n| n.text())
            .as_deref(),
        Some("Hive Mind")
    );
}

#[tokio::test]
async fn tls_verify_off_records_the_first_certificate_in_the_account() {
    let mut p = Prosody::start(&[("alice", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    gw.add_account(&mut c, &p, "alice", PW, &[("tls_verify", "false")])
        .await
        .unwrap();
    c.root("account jabber set -del cafile").await.unwrap();
    c.root_expect("account jabber set fingerprint", "fingerprint is empty")
        .await
        .unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    // Recorded as the account's setting (no CA could have vouched for it).
    let first = p.fingerprint().to_string();
    c.root_expect(
        "account jabber set fingerprint",
        &format!("fingerprint = `{first}'"),
    )
    .await
    .unwrap();
    // The next connection, a fresh login from the stored settings, is pinned.
    c.root_wait("account jabber off", "jabber - Signing off..")
        .await
        .unwrap();
    let second = p.new_certificate().unwrap();
    p.stop();
    p.resume().await.unwrap();
    c.allow("jabber - Login error: ");
    let refusal = c
        .root_wait("account jabber on", "jabber - Login error: ")
        .await
        .unwrap();
    assert!(
        refusal.contains(&first) && refusal.contains(&second),
        "{refusal}"
    );
    c.expect("jabber - Signing off..").await.unwrap();
    c.root_expect(
        "account jabber set fingerprint",
        &format!("fingerprint = `{first}'"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn priority_is_what_contacts_see_and_away_lowers_it() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let (mut c, mut bob) = online(&p, &gw, &[], &[("priority", "7")]).await;
    let alice_presence = |show_away: bool| {
        move |s: &xmpp_parsers::stanza::Stanza| {
            matches!(s, xmpp_parsers::stanza::Stanza::Presence(p)
                if p.type_ == xmpp_parsers::presence::Type::None
                && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == "alice@localhost")
                && (p.show == Some(xmpp_parsers::presence::Show::Away)) == show_away
                // Not the stored presence the server sent when bob came online.
                && !p.payloads.iter().any(|e| e.is("delay", "urn:xmpp:delay")))
        }
    };
    c.send("AWAY :out").await.unwrap();
    let away = bob
        .expect("alice away", alice_presence(true))
        .await
        .unwrap();
    let xmpp_parsers::stanza::Stanza::Presence(away) = away else {
        unreachable!()
    };
    assert_eq!(away.priority.0, 2, "{away:?}");
    c.send("AWAY").await.unwrap();
    let back = bob
        .expect("alice back", alice_presence(false))
        .await
        .unwrap();
    let xmpp_parsers::stanza::Stanza::Presence(back) = back else {
        unreachable!()
    };
    assert_eq!(back.priority.0, 7, "{back:?}");
}
