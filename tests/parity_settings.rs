//! BitlBee parity of settings: each one does what BitlBee's help says (issue
//! items 2, 3 and 5), with BitlBee 3.6's wording where it matters.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime};

use waggle_core::{Command, Contact, Event, MessageKind, Presence, PresenceState};
use waggle_tests::{
    IrcClient, TestAccountHandle, TestGateway, assert_any, assert_none, contact, strip_id,
};

async fn setup() -> (TestGateway, IrcClient, TestAccountHandle) {
    let gw = TestGateway::start_default().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    let acc = gw.online_account(&mut c, "alice").await.unwrap();
    acc.contact("bob", PresenceState::Online).await.unwrap();
    c.expect(":bob!bob@test.example JOIN &bitlbee")
        .await
        .unwrap();
    c.sync().await.unwrap();
    (gw, c, acc)
}

fn from(who: &str, body: &str) -> Event {
    Event::MessageReceived {
        from: who.into(),
        body: body.into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: false,
        ids: Default::default(),
    }
}

#[tokio::test]
async fn plain_text_with_angle_brackets_is_not_stripped() {
    let (_gw, mut c, acc) = setup().await;
    acc.emit_handled(from("bob", "a<b and c>d end"))
        .await
        .unwrap();
    acc.emit_handled(from("bob", "<b>tags</b> & co"))
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":bob!bob@test.example PRIVMSG alice :a<b and c>d end",
    );
    assert_any(
        &lines,
        ":bob!bob@test.example PRIVMSG alice :<b>tags</b> & co",
    );
    // `always` strips whatever the protocol.
    c.root_expect("set strip_html always", "strip_html = `always'")
        .await
        .unwrap();
    acc.emit_handled(from("bob", "<b>tags</b> &amp; co"))
        .await
        .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":bob!bob@test.example PRIVMSG alice :tags & co");
}

#[tokio::test]
async fn away_devoice_is_bitlbees_compatibility_switch_for_show_users() {
    let (_gw, mut c, acc) = setup().await;
    let t = c.root("set away_devoice false").await.unwrap();
    assert_any(
        &t,
        "Setting `away_devoice' is obsolete, use the `show_users' channel setting instead.",
    );
    assert_any(&t, "away_devoice = `true'");
    let t = c.root("channel &bitlbee set show_users").await.unwrap();
    assert_any(&t, "show_users = `online,special%,away'");
    // Online contacts lose their voice, as BitlBee's value says.
    let lines = c.sync().await.unwrap();
    let _ = lines;
    acc.contact("carol", PresenceState::Online).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":carol!carol@test.example JOIN &bitlbee");
    assert_none(&lines, "+v carol");
    // Listed settings do not show it (BitlBee hides it).
    let all = c.root("set").await.unwrap();
    assert!(
        !all.iter().any(|l| l.starts_with("away_devoice")),
        "{all:?}"
    );
}

#[tokio::test]
async fn display_namechanges_says_when_a_contact_renames_itself() {
    let (_gw, mut c, acc) = setup().await;
    let renamed = |name: &str| {
        Event::ContactUpdated(Contact {
            display_name: Some(name.into()),
            ..contact("bob", PresenceState::Online)
        })
    };
    acc.emit_handled(renamed("Bob One")).await.unwrap();
    let t = c.sync_root().await.unwrap();
    assert!(!t.iter().any(|l| l.contains("changed name")), "{t:?}");
    c.root("set display_namechanges true").await.unwrap();
    acc.emit_handled(renamed("Bob Two")).await.unwrap();
    let t = c.sync_root().await.unwrap();
    assert_any(&t, "test - User `bob' changed name to `Bob Two'");
}

#[tokio::test]
async fn mobile_is_away_shows_mobile_contacts_as_away() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set mobile_is_away true").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(Contact {
        presence: Presence {
            state: PresenceState::Online,
            show: Some(waggle_core::backend::SHOW_MOBILE.into()),
            ..Presence::default()
        },
        ..contact("bob", PresenceState::Online)
    }))
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, "MODE &bitlbee -v bob");
    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 301 alice bob :Mobile");
    c.root("set mobile_is_away false").await.unwrap();
    let lines = c.sync().await.unwrap();
    let _ = lines;
    c.send("WHOIS bob").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " 301 alice bob");
}

#[tokio::test]
async fn handle_unknown_add_channel_shows_strangers_in_the_channel_and_keeps_them_temporary() {
    let (mut gw, mut c, acc) = setup().await;
    c.root("register pw").await.unwrap();
    acc.emit_handled(from("carol", "hi there")).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":carol!carol@test.example PRIVMSG &bitlbee :alice: hi there",
    );
    // add_private: in a query.
    c.root("set handle_unknown add_private").await.unwrap();
    acc.emit_handled(from("dave", "psst")).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":dave!dave@test.example PRIVMSG alice :psst");
    // The account's own handle_unknown wins over the user's.
    c.root("account test set handle_unknown ignore")
        .await
        .unwrap();
    acc.emit_handled(from("erin", "ignored")).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, "ignored");
    // Strangers were never saved: after a restart nobody but bob is known.
    c.root("set handle_unknown add").await.unwrap();
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify pw", "Password accepted")
        .await
        .unwrap();
    let t = c.root("blist all").await.unwrap();
    assert_any(&t, "1 buddies");
    assert!(!t.iter().any(|l| l.starts_with("carol")), "{t:?}");
}

#[tokio::test]
async fn self_messages_prefix_is_a_privmsg_and_prefix_notice_a_notice() {
    let (_gw, mut c, acc) = setup().await;
    let mine = |body: &str| Event::MessageReceived {
        from: "bob".into(),
        body: body.into(),
        kind: MessageKind::Normal,
        sent_at: None,
        from_self: true,
        ids: Default::default(),
    };
    c.root("set self_messages prefix").await.unwrap();
    acc.emit_handled(mine("from my phone")).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(
        &lines,
        ":bob!bob@test.example PRIVMSG alice :-> from my phone",
    );
    c.root("set self_messages prefix_notice").await.unwrap();
    acc.emit_handled(mine("again")).await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":bob!bob@test.example NOTICE alice :-> again");
}

#[tokio::test]
async fn paste_buffer_delay_of_five_or_less_is_seconds() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set paste_buffer true").await.unwrap();
    c.root("set paste_buffer_delay 5").await.unwrap();
    c.send("PRIVMSG bob :first").await.unwrap();
    c.sync().await.unwrap();
    // Far longer than 5 ms, far shorter than 5 s: still one message.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send("PRIVMSG bob :second").await.unwrap();
    let cmd = acc
        .next_command_within(Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(
        strip_id(cmd),
        Command::SendMessage {
            to: "bob".into(),
            body: "first\nsecond".into(),
            kind: MessageKind::Normal,
            id: None,
        }
    );
}

#[tokio::test]
async fn away_and_set_away_are_one_saved_state_with_bitlbees_numerics() {
    let (mut gw, mut c, _acc) = setup().await;
    c.root("register pw").await.unwrap();
    c.send("AWAY :gone fishing").await.unwrap();
    c.expect(":localhost 306 alice :You're now away: gone fishing")
        .await
        .unwrap();
    c.root_expect("set away", "away = `gone fishing'")
        .await
        .unwrap();
    c.send("AWAY").await.unwrap();
    c.expect(":localhost 305 alice :Welcome back")
        .await
        .unwrap();
    c.root_expect("set away", "away is empty").await.unwrap();
    c.root("set away \"on the phone\"").await.unwrap();
    c.send("WHOIS alice").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, " 301 alice alice :on the phone");
    // Saved: still away after a restart.
    gw.restart().await.unwrap();
    let mut c = gw.client("alice").await.unwrap();
    c.root_expect("identify pw", "Password accepted")
        .await
        .unwrap();
    c.send("USERHOST alice").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":alice=-alice@");
}

#[tokio::test]
async fn a_message_to_an_away_contact_is_answered_with_301_once_per_timeout() {
    let (_gw, mut c, acc) = setup().await;
    acc.emit_handled(Event::ContactUpdated(Contact {
        presence: Presence {
            state: PresenceState::Away,
            show: Some("away".into()),
            message: Some("lunch".into()),
            device: None,
        },
        ..contact("bob", PresenceState::Away)
    }))
    .await
    .unwrap();
    c.send("PRIVMSG bob :are you there?").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":localhost 301 alice bob :");
    assert_any(&lines, "lunch");
    // Within away_reply_timeout (an hour by default): not again.
    c.send("PRIVMSG bob :hello?").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_none(&lines, " 301 ");
    // A new state is worth a new 301.
    acc.emit_handled(Event::ContactUpdated(Contact {
        presence: Presence {
            state: PresenceState::Away,
            show: Some("dnd".into()),
            message: None,
            device: None,
        },
        ..contact("bob", PresenceState::Away)
    }))
    .await
    .unwrap();
    c.send("PRIVMSG bob :now?").await.unwrap();
    let lines = c.sync().await.unwrap();
    assert_any(&lines, ":localhost 301 alice bob :dnd");
}

#[tokio::test]
async fn away_reply_timeout_zero_answers_every_message() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set away_reply_timeout 0").await.unwrap();
    acc.emit_handled(Event::ContactUpdated(contact("bob", PresenceState::Away)))
        .await
        .unwrap();
    for text in ["one", "two"] {
        c.send(&format!("PRIVMSG bob :{text}")).await.unwrap();
        let lines = c.sync().await.unwrap();
        assert_any(&lines, ":localhost 301 alice bob :Away");
    }
}

#[tokio::test]
async fn display_timestamps_use_bitlbees_format_after_the_addressed_nick() {
    let (_gw, mut c, acc) = setup().await;
    c.root("set timezone utc").await.unwrap();
    c.root("set private false").await.unwrap();
    let at = SystemTime::now() - Duration::from_secs(2 * 86_400);
    acc.emit_handled(Event::MessageReceived {
        from: "bob".into(),
        body: "old news".into(),
        kind: MessageKind::Normal,
        sent_at: Some(at),
        from_self: false,
        ids: Default::default(),
    })
    .await
    .unwrap();
    let lines = c.sync().await.unwrap();
    let line = lines
        .iter()
        .find(|l| l.contains("old news"))
        .expect("the message");
    let stamp = time::OffsetDateTime::from(at);
    let want = format!(
        ":bob!bob@test.example PRIVMSG &bitlbee :alice: \x02[\x02\x02\x02{:04}-{:02}-{:02} {:02}:{:02}:{:02}\x02]\x02 old news",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    assert!(line.ends_with(&want), "{line:?} is not {want:?}");
}
