//! The occupants of a room joined through the XMPP component, as IRC shows
//! them: a nick change is a NICK, a leave a PART with its status, someone
//! else's kick a KICK by the moderator, and our own kick a PART that says by
//! whom and why.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use waggle_tests::prosody::{ComponentGateway, GW_DOMAIN, MUC, Prosody, SECRET, XmppContact};
use waggle_tests::{IrcClient, pred};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;

const PW: &str = "pw";

/// The owner `who` kicks `nick` from `room` for `reason`.
async fn kick(who: &mut XmppContact, room: &str, nick: &str, reason: &str) {
    let payload: Element = format!(
        "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='{nick}' role='none'><reason>{reason}</reason></item></query>"
    )
    .parse()
    .unwrap();
    who.iq(Iq::Set {
        from: None,
        to: Some(Jid::new(room).unwrap()),
        id: format!("kick-{nick}"),
        payload,
    })
    .await
    .unwrap();
}

/// `who` enters `room` as `nick` and alice's channel shows it.
async fn comes_in(alice: &mut IrcClient, who: &mut XmppContact, room: &str, nick: &str) {
    who.join_room(room, nick).await.unwrap();
    let nick = nick.to_string();
    alice
        .expect(pred(format!("{nick} joins"), move |m| {
            m.is("JOIN") && m.param(0) == "#lounge" && m.nick() == Some(nick.as_str())
        }))
        .await
        .unwrap();
}

#[tokio::test]
async fn occupants_rename_leave_and_are_kicked_through_the_component() {
    let p = Prosody::options()
        .component(GW_DOMAIN, SECRET)
        .start(&[("bob", PW), ("carol", PW), ("dave", PW)])
        .await
        .unwrap();
    let gw = ComponentGateway::start(&p).await.unwrap();
    let mut alice = gw.registered("alice", "secret").await.unwrap();
    let mut bob = XmppContact::connect(&p, "bob", PW).await.unwrap();
    let room = format!("lounge@{MUC}");
    bob.join_room(&room, "bob").await.unwrap();
    alice
        .root(&format!("chat add gw {room} #lounge"))
        .await
        .unwrap();
    alice.send("JOIN #lounge").await.unwrap();
    let names = alice.expect_numeric("353").await.unwrap();
    assert!(names.contains("bob"), "{names}");
    let want = format!("{room}/alice");
    bob.expect("alice in the room", move |s| {
        matches!(s, Stanza::Presence(p) if p.from.as_ref().is_some_and(|f| f.to_string() == want))
    })
    .await
    .unwrap();

    // carol takes another nick: one NICK line.
    let mut carol = XmppContact::connect(&p, "carol", PW).await.unwrap();
    comes_in(&mut alice, &mut carol, &room, "carol").await;
    carol
        .send(Presence::available().with_to(Jid::new(&format!("{room}/carla")).unwrap()))
        .await
        .unwrap();
    let l = alice
        .expect(pred("carol's NICK", |m| m.is("NICK")))
        .await
        .unwrap();
    assert!(
        l.starts_with(":carol!") && l.ends_with(" NICK :carla"),
        "{l}"
    );

    // carla leaves with a status: a PART giving it.
    let mut bye = Presence::unavailable().with_to(Jid::new(&format!("{room}/carla")).unwrap());
    bye.set_status("", "gone home");
    carol.send(bye).await.unwrap();
    let l = alice
        .expect(pred("carla's PART", |m| m.is("PART")))
        .await
        .unwrap();
    assert!(
        l.starts_with(":carla!") && l.ends_with(" PART #lounge :gone home"),
        "{l}"
    );

    // bob kicks dave: a KICK by bob with the reason.
    let mut dave = XmppContact::connect(&p, "dave", PW).await.unwrap();
    comes_in(&mut alice, &mut dave, &room, "dave").await;
    kick(&mut bob, &room, "dave", "noise").await;
    let l = alice
        .expect(pred("dave's KICK", |m| m.is("KICK")))
        .await
        .unwrap();
    assert!(
        l.starts_with(":bob!") && l.ends_with(" KICK #lounge dave :noise"),
        "{l}"
    );

    // bob kicks alice: she is out, told by whom and why.
    kick(&mut bob, &room, "alice", "enough").await;
    let l = alice
        .expect(pred("alice's PART", |m| {
            m.is("PART") && m.nick() == Some("alice")
        }))
        .await
        .unwrap();
    assert!(l.ends_with(" PART #lounge :Kicked by bob: enough"), "{l}");
}
