//! XMPP group chats through the whole gateway, on a real Prosody: occupant
//! roles as channel modes and their changes, nick changes as NICK lines, our
//! room nick from the channel's `nick`, invitations both ways, the room's
//! history with server-time and with the prefix, a password-protected room
//! joined with the channel's `password`, and `auto_join` when the account
//! comes online.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::prosody::gateway::LOGIN_TIMEOUT;
use waggle_tests::prosody::{MUC, Prosody, XmppContact, XmppGateway};
use waggle_tests::{DEFAULT_TIMEOUT, IrcClient, Msg, canon, pred};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;

const PW: &str = "pw";

fn room(name: &str) -> String {
    format!("{name}@{MUC}")
}

/// Alice on IRC (asking for `caps`) with her jabber account online.
async fn alice(p: &Prosody, gw: &XmppGateway, caps: &[&str]) -> IrcClient {
    let mut c = IrcClient::connect(gw.addr()).await.unwrap();
    c.register_with_caps("alice", caps).await.unwrap();
    gw.add_account(&mut c, p, "alice", PW, &[]).await.unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    c.set_timeout(DEFAULT_TIMEOUT);
    c
}

/// `chat add` the room as `channel` and join it; returns the NAMES members.
async fn join(c: &mut IrcClient, name: &str, channel: &str) -> Vec<String> {
    c.root_expect(
        &format!("chat add jabber {} {channel}", room(name)),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.send(&format!("JOIN {channel}")).await.unwrap();
    let names = c.expect(format!(" 353 alice = {channel} ")).await.unwrap();
    c.expect(format!(" 366 alice {channel} ")).await.unwrap();
    members(&names)
}

/// The members a 353 line names, sorted.
fn members(names: &str) -> Vec<String> {
    let mut members: Vec<String> = Msg::parse(names)
        .trailing()
        .split(' ')
        .map(str::to_string)
        .collect();
    members.sort_unstable();
    members
}

/// An IQ to a room from its owner, given as XML.
async fn to_room(who: &mut XmppContact, name: &str, id: &str, xml: &str) {
    let payload: Element = xml.parse().unwrap();
    who.iq(Iq::Set {
        from: None,
        to: Some(Jid::new(&room(name)).unwrap()),
        id: id.into(),
        payload,
    })
    .await
    .unwrap();
}

async fn set_role(owner: &mut XmppContact, name: &str, nick: &str, role: &str) {
    to_room(
        owner,
        name,
        &format!("role-{nick}-{role}"),
        &format!(
            "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='{nick}' role='{role}'/></query>"
        ),
    )
    .await;
}

/// The next MODE on `channel` naming `nick`: its mode string.
async fn mode_of(c: &mut IrcClient, channel: &str, nick: &str) -> String {
    let (channel, nick) = (channel.to_string(), nick.to_string());
    let l = c
        .expect(pred(format!("MODE for {nick}"), move |m| {
            m.is("MODE") && m.param(0) == channel && m.params.iter().skip(2).any(|p| *p == nick)
        }))
        .await
        .unwrap();
    Msg::parse(&l).param(1).to_string()
}

#[tokio::test]
async fn roles_are_modes_and_nick_changes_are_nick_lines() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW), ("carol", PW)])
        .await
        .unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("den"), "bob").await.unwrap();
    let mut c = alice(&p, &gw, &[]).await;
    // Our room nick comes from the channel's `nick'.
    c.root_expect(
        &format!("chat add jabber {} #den", room("den")),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.root_expect("channel #den set nick alicia", "nick = `alicia'")
        .await
        .unwrap();
    c.send("JOIN #den").await.unwrap();
    let names = c.expect(" 353 alice = #den ").await.unwrap();
    // The owner is a moderator (@), we are a participant (+).
    assert_eq!(members(&names), ["+alice", "@bob", "@root"], "{names}");
    let want = format!("{}/alicia", room("den"));
    bob.expect("alicia's presence", move |s| {
        matches!(s, Stanza::Presence(p) if p.from.as_ref().is_some_and(|f| f.to_string() == want))
    })
    .await
    .unwrap();

    let mut carol = XmppContact::connect(&p, "carol", PW).await.unwrap();
    carol.join_room(&room("den"), "carol").await.unwrap();
    c.expect(pred("carol joins", |m| {
        m.is("JOIN") && m.param(0) == "#den" && m.nick() == Some("carol")
    }))
    .await
    .unwrap();

    // Role changes are mode changes, ours and others'.
    set_role(&mut bob, "den", "alicia", "moderator").await;
    let modes = mode_of(&mut c, "#den", "alice").await;
    assert!(modes.contains("+o"), "{modes}");
    set_role(&mut bob, "den", "carol", "visitor").await;
    let modes = mode_of(&mut c, "#den", "carol").await;
    assert!(modes.contains("-v") && !modes.contains('+'), "{modes}");

    // carol takes another room nick.
    carol
        .send(Presence::available().with_to(Jid::new(&format!("{}/carla", room("den"))).unwrap()))
        .await
        .unwrap();
    let l = c
        .expect(pred("carol's NICK", |m| m.is("NICK")))
        .await
        .unwrap();
    assert!(
        l.starts_with(":carol!") && canon(&l).ends_with(" NICK :carla"),
        "{l}"
    );
    c.send("NAMES #den").await.unwrap();
    let names = c.expect(" 353 alice = #den ").await.unwrap();
    assert_eq!(
        members(&names),
        ["@alice", "@bob", "@root", "carla"],
        "{names}"
    );
}

#[tokio::test]
async fn invitations_both_ways_on_irc() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW), ("carol", PW)])
        .await
        .unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut c = alice(&p, &gw, &[]).await;
    join(&mut c, "party", "#party").await;
    let mut carol = XmppContact::connect(&p, "carol", PW).await.unwrap();
    // carol is not a contact: the room's real JID is given.
    c.root_expect(
        "add -tmp jabber carol@localhost carol",
        "Temporarily assigned",
    )
    .await
    .unwrap();
    c.send("INVITE carol #party").await.unwrap();
    c.expect(" 341 alice carol #party").await.unwrap();
    let m = carol
        .expect_message("the invitation", |m| {
            m.from
                .as_ref()
                .is_some_and(|f| f.to_string() == room("party"))
                && m.payloads
                    .iter()
                    .any(|x| x.is("x", xmpp_parsers::ns::MUC_USER))
        })
        .await
        .unwrap();
    assert!(
        String::from(&Element::from(m)).contains("<invite"),
        "not an invitation"
    );

    // bob invites us to his room, through it.
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("attic"), "bob").await.unwrap();
    let invite: Element = "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='alice@localhost'><reason>come up</reason></invite></x>"
        .parse()
        .unwrap();
    bob.send(Message::normal(Jid::new(&room("attic")).unwrap()).with_payloads(vec![invite]))
        .await
        .unwrap();
    // As BitlBee: root says who invited where and why, then a channel waits.
    c.expect(format!("Invitation to chatroom {} >>", room("attic")))
        .await
        .unwrap();
    c.expect("PRIVMSG alice :come up").await.unwrap();
    c.expect("To join the room, just /join #attic")
        .await
        .unwrap();
    c.expect(" INVITE alice :#attic").await.unwrap();
}

#[tokio::test]
async fn room_history_has_server_time_and_no_prefix_when_under_a_minute_old() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("past"), "bob").await.unwrap();
    bob.room_say(&room("past"), "before you came")
        .await
        .unwrap();
    // A round trip: the room has it by now.
    bob.set_vcard("<FN>Bob</FN>").await.unwrap();
    let said = time::OffsetDateTime::now_utc();
    // The gateway marks as delayed what is at least a second old.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let mut c = alice(&p, &gw, &["server-time"]).await;
    c.root_expect("register s3cret", "Account successfully created")
        .await
        .unwrap();
    c.root_expect("set timezone gmt", "timezone = `gmt'")
        .await
        .unwrap();
    let mut d = gw.attach("alice", "s3cret").await.unwrap();
    join(&mut c, "past", "#past").await;

    let l = c.expect("before you came").await.unwrap();
    let m = Msg::parse(&l);
    assert_eq!(m.trailing(), "before you came", "{l}");
    let at = time::OffsetDateTime::parse(
        m.tag("time").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((said - at).abs() < time::Duration::minutes(1), "{l}");

    // Less than a minute old: as in BitlBee, no timestamp prefix for a
    // client without server-time (the prefix itself: tests/xmpp_irc.rs).
    let l = d.expect("before you came").await.unwrap();
    assert_eq!(Msg::parse(&l).trailing(), "before you came", "{l}");
}

#[tokio::test]
async fn a_password_room_is_joined_with_the_channel_password_and_auto_join() {
    let p = Prosody::start(&[("alice", PW), ("bob", PW)]).await.unwrap();
    let gw = XmppGateway::start().await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    bob.join_room(&room("vault"), "bob").await.unwrap();
    to_room(
        &mut bob,
        "vault",
        "config",
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
         <field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>\
         <field var='muc#roomconfig_roomsecret'><value>sesame</value></field>\
         </x></query>",
    )
    .await;
    let mut c = alice(&p, &gw, &[]).await;
    c.root_expect(
        &format!("chat add jabber {} #vault", room("vault")),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    // Without the password: refused by the room.
    c.allow("jabber - Error: ");
    c.send("JOIN #vault").await.unwrap();
    let refusal = c.expect("jabber - Error: ").await.unwrap();
    assert!(refusal.contains(&room("vault")), "{refusal}");
    c.disallow_all();
    c.root_expect(
        "channel #vault set password sesame",
        "Setting changed successfully",
    )
    .await
    .unwrap();
    c.send("JOIN #vault").await.unwrap();
    c.expect(" 366 alice #vault ").await.unwrap();
    let want = format!("{}/alice", room("vault"));
    bob.expect("alice's presence", move |s| {
        matches!(s, Stanza::Presence(p) if p.type_ == PresenceType::None
            && p.from.as_ref().is_some_and(|f| f.to_string() == want))
    })
    .await
    .unwrap();

    // auto_join: joined when the account comes online, without /join.
    c.root_expect("channel #vault set auto_join true", "auto_join = `true'")
        .await
        .unwrap();
    c.root_expect(
        &format!("chat add jabber {} #other", room("other")),
        "Chatroom successfully added",
    )
    .await
    .unwrap();
    c.root_wait("account jabber off", "jabber - Signing off..")
        .await
        .unwrap();
    c.set_timeout(LOGIN_TIMEOUT);
    c.root_wait("account jabber on", "jabber - Logging in: Logged in")
        .await
        .unwrap();
    c.expect(pred("we join #vault", |m| {
        m.is("JOIN") && m.param(0) == "#vault" && m.nick() == Some("alice")
    }))
    .await
    .unwrap();
    c.expect(" 366 alice #vault ").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert!(
        !c.history()
            .iter()
            .chain(&lines)
            .any(|l| l.contains("JOIN :#other") || l.contains("JOIN #other")),
        "#other has auto_join off"
    );
}
