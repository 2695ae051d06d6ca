//! The engine driven line by line, as the transcripts drive skyped.

use std::collections::BTreeMap;

use waggle_core::{
    AccountId, AccountSpec, Command, Event, MessageKind, PresenceState, QuestionId, RoomId, Secret,
};

use super::{Engine, Out, status_for};
use crate::config::SkypeConfig;

fn engine(settings: &[(&str, &str)]) -> Engine {
    let spec = AccountSpec {
        id: AccountId(0),
        protocol: "skype".into(),
        handle: "alice".into(),
        password: Secret("foo".into()),
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        archive_cursors: Default::default(),
    };
    match SkypeConfig::from_spec(&spec) {
        Ok(cfg) => Engine::new(cfg, "alice"),
        Err(e) => panic!("{e}"),
    }
}

fn lines(out: &[Out]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Out::Line(l) => Some(l.clone()),
            Out::Event(_) => None,
        })
        .collect()
}

fn events(out: &[Out]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Out::Event(e) => Some(e.clone()),
            Out::Line(_) => None,
        })
        .collect()
}

/// Feed lines, return what came out.
fn feed(e: &mut Engine, input: &[&str]) -> Vec<Out> {
    for l in input {
        e.on_line(l);
    }
    e.drain()
}

fn online(e: &mut Engine) {
    e.start();
    e.on_line("USERSTATUS ONLINE");
    e.drain();
}

#[test]
fn login_sequence() {
    let mut e = engine(&[]);
    e.start();
    let out = e.drain();
    assert!(events(&out).is_empty() && !e.is_online());
    assert_eq!(
        lines(&out),
        vec![
            "SEARCH GROUPS CUSTOM",
            "SEARCH FRIENDS",
            "SET USERSTATUS ONLINE",
            "SET USERSTATUS ONLINE"
        ]
    );
    let out = feed(
        &mut e,
        &["GROUPS 48, 49", "USERS echo123, bob", "USERSTATUS ONLINE"],
    );
    assert_eq!(events(&out), vec![Event::LoggedIn]);
    assert_eq!(
        lines(&out),
        vec![
            "GET USER echo123 ONLINESTATUS",
            "GET USER echo123 FULLNAME",
            "GET USER bob ONLINESTATUS",
            "GET USER bob FULLNAME"
        ]
    );
    let out = feed(
        &mut e,
        &[
            "USER echo123 ONLINESTATUS ONLINE",
            "USER bob ONLINESTATUS AWAY",
            "USER bob FULLNAME Bob",
        ],
    );
    let ev = events(&out);
    assert_eq!(ev.len(), 2, "{ev:?}");
    let Event::ContactUpdated(c) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(c.handle, "bob");
    assert_eq!(c.display_name.as_deref(), Some("Bob"));
    assert_eq!(c.presence.state, PresenceState::Away);
}

#[test]
fn away_states_and_no_repeats() {
    assert_eq!(status_for(None), "ONLINE");
    assert_eq!(status_for(Some("work")), "AWAY");
    assert_eq!(status_for(Some("do not disturb")), "DND");
    assert_eq!(status_for(Some("NA")), "NA");
    let mut e = engine(&[("away", "lunch")]);
    e.start();
    assert_eq!(lines(&e.drain())[3], "SET USERSTATUS AWAY");
    e.on_command(Command::SetPresence {
        away: Some("still lunch".into()),
        status: None,
        detached: false,
    });
    assert!(lines(&e.drain()).is_empty());
    e.on_command(Command::SetPresence {
        away: None,
        status: None,
        detached: false,
    });
    assert_eq!(lines(&e.drain()), vec!["SET USERSTATUS ONLINE"]);
}

#[test]
fn received_messages_are_fetched_delivered_and_marked_seen() {
    let mut e = engine(&[]);
    online(&mut e);
    let out = feed(
        &mut e,
        &[
            "CHATMESSAGE 290 STATUS SENT",
            "CHATMESSAGE 293 STATUS RECEIVED",
        ],
    );
    assert_eq!(
        lines(&out),
        vec![
            "GET CHATMESSAGE 293 FROM_HANDLE",
            "GET CHATMESSAGE 293 BODY",
            "GET CHATMESSAGE 293 TYPE",
            "GET CHATMESSAGE 293 CHATNAME"
        ]
    );
    let out = feed(
        &mut e,
        &[
            "CHATMESSAGE 293 FROM_HANDLE bob",
            "CHATMESSAGE 293 BODY line one",
            "CHATMESSAGE 293 BODY line two",
            "CHATMESSAGE 293 TYPE SAID",
            "CHATMESSAGE 293 CHATNAME #alice/$bob;ea753190f0a3e49b",
        ],
    );
    assert_eq!(
        events(&out),
        vec![Event::MessageReceived {
            from: "bob".into(),
            body: "line one\nline two".into(),
            kind: MessageKind::Normal,
            sent_at: None,
            from_self: false,
            ids: Default::default(),
        }]
    );
    assert_eq!(lines(&out), vec!["SET CHATMESSAGE 293 SEEN"]);
}

#[test]
fn huge_bodies_are_cut() {
    let mut e = engine(&[]);
    online(&mut e);
    feed(&mut e, &["CHATMESSAGE 7 STATUS RECEIVED"]);
    let long = format!("CHATMESSAGE 7 BODY {}", "é".repeat(20_000));
    let mut input = vec!["CHATMESSAGE 7 FROM_HANDLE bob"];
    input.extend(std::iter::repeat_n(long.as_str(), 20));
    input.extend([
        "CHATMESSAGE 7 TYPE SAID",
        "CHATMESSAGE 7 CHATNAME #alice/$bob;1",
    ]);
    let out = feed(&mut e, &input);
    let got = events(&out);
    let [Event::MessageReceived { body, .. }] = got.as_slice() else {
        panic!("one message expected: {out:?}")
    };
    assert!(
        body.len() <= super::messages::MAX_BODY + 20,
        "{}",
        body.len()
    );
    assert!(body.ends_with("[message cut]"));
    assert!(body.starts_with("éé"));
}

#[test]
fn edits_get_the_prefix_and_emotes_are_actions() {
    let mut e = engine(&[("edit_prefix", "[edited]")]);
    online(&mut e);
    let out = feed(
        &mut e,
        &[
            "CHATMESSAGE 300 BODY fixed text",
            "CHATMESSAGE 300 EDITED_BY bob",
            "CHATMESSAGE 300 EDITED_TIMESTAMP 1358344213",
        ],
    );
    assert_eq!(
        lines(&out),
        vec![
            "GET CHATMESSAGE 300 FROM_HANDLE",
            "GET CHATMESSAGE 300 TYPE",
            "GET CHATMESSAGE 300 CHATNAME"
        ]
    );
    let out = feed(
        &mut e,
        &[
            "CHATMESSAGE 300 FROM_HANDLE bob",
            "CHATMESSAGE 300 TYPE SAID",
            "CHATMESSAGE 300 CHATNAME #alice/$bob;1",
        ],
    );
    assert!(matches!(
        &events(&out)[..],
        [Event::MessageReceived { body, .. }] if body == "[edited] fixed text"
    ));
    assert!(lines(&out).is_empty(), "an edit is not marked seen again");
    e.on_command(Command::SendMessage {
        to: "bob".into(),
        body: "waves".into(),
        kind: MessageKind::Action,
        id: None,
    });
    assert_eq!(lines(&e.drain()), vec!["MESSAGE bob /me waves"]);
}

#[test]
fn group_chat_then_leave() {
    let mut e = engine(&[("skypeconsole_receive", "true")]);
    online(&mut e);
    let chat = "#cecil/$bob;4d8cc9965791c6b9";
    let out = feed(
        &mut e,
        &[
            &format!("CHAT {chat} STATUS MULTI_SUBSCRIBED"),
            &format!("CHAT {chat} STATUS MULTI_SUBSCRIBED"),
            &format!("CHAT {chat} MEMBERS bob cecil alice"),
        ],
    );
    assert_eq!(
        lines(&out),
        vec![
            format!("GET CHAT {chat} ADDER"),
            format!("GET CHAT {chat} TOPIC"),
            format!("GET CHAT {chat} ACTIVEMEMBERS")
        ]
    );
    let ev = events(&out);
    assert!(matches!(&ev[1], Event::RoomJoined { occupants, .. } if occupants.len() == 1));
    assert!(
        ev.iter()
            .filter(|e| matches!(e, Event::OccupantUpdated { .. }))
            .count()
            == 2
    );
    e.on_command(Command::LeaveRoom {
        room: RoomId(chat.into()),
    });
    assert_eq!(lines(&e.drain()), vec![format!("ALTER CHAT {chat} LEAVE")]);
    let out = feed(&mut e, &[&format!("CHAT {chat} MEMBERS bob cecil")]);
    assert!(
        events(&out)
            .iter()
            .all(|e| matches!(e, Event::ConsoleLine { .. }))
    );
}

#[test]
fn without_the_console_every_subscription_refreshes_the_topic() {
    let mut e = engine(&[]);
    online(&mut e);
    let out = feed(
        &mut e,
        &[
            "CHAT #c STATUS MULTI_SUBSCRIBED",
            "CHAT #c STATUS MULTI_SUBSCRIBED",
        ],
    );
    assert_eq!(
        lines(&out),
        vec![
            "GET CHAT #c ADDER",
            "GET CHAT #c TOPIC",
            "GET CHAT #c ADDER",
            "GET CHAT #c TOPIC"
        ]
    );
    let out = feed(&mut e, &["CHAT #c ADDER bob", "CHAT #c TOPIC Plans"]);
    assert_eq!(
        events(&out),
        vec![Event::TopicChanged {
            room: RoomId("#c".into()),
            by: Some("bob".into()),
            topic: "Plans".into()
        }]
    );
}

#[test]
fn dialogs_stay_private_unless_asked_for() {
    let mut e = engine(&[]);
    online(&mut e);
    assert!(events(&feed(&mut e, &["CHAT #d STATUS DIALOG"])).is_empty());
    e.on_command(Command::ChatWith {
        handle: "bob".into(),
    });
    assert_eq!(lines(&e.drain()), vec!["CHAT CREATE bob"]);
    let out = feed(&mut e, &["CHAT #e STATUS DIALOG", "CHAT #e STATUS DIALOG"]);
    assert_eq!(
        lines(&out),
        vec![
            "GET CHAT #e ADDER",
            "GET CHAT #e TOPIC",
            "GET CHAT #e ACTIVEMEMBERS"
        ]
    );
    assert!(matches!(&events(&out)[..], [Event::RoomJoined { .. }]));
}

#[test]
fn calls_both_ways() {
    let mut e = engine(&[]);
    online(&mut e);
    e.on_command(Command::ContactAction {
        handle: "bob".into(),
        action: "CALL".into(),
        args: vec![],
    });
    assert_eq!(lines(&e.drain()), vec!["CALL bob"]);
    let out = feed(
        &mut e,
        &[
            "CALL 178 STATUS UNPLACED",
            "CALL 178 STATUS ROUTING",
            "CALL 178 STATUS RINGING",
        ],
    );
    assert_eq!(lines(&out), vec!["GET CALL 178 PARTNER_HANDLE"]);
    let out = feed(&mut e, &["CALL 178 PARTNER_HANDLE bob"]);
    assert_eq!(
        events(&out),
        vec![Event::Notice {
            text: "You are currently ringing the user bob.".into()
        }]
    );
    e.on_command(Command::ContactAction {
        handle: "bob".into(),
        action: "HANGUP".into(),
        args: vec![],
    });
    assert_eq!(lines(&e.drain()), vec!["SET CALL 178 STATUS FINISHED"]);
    e.on_command(Command::ContactAction {
        handle: "bob".into(),
        action: "HANGUP".into(),
        args: vec![],
    });
    assert!(matches!(&events(&e.drain())[..], [Event::Error { .. }]));

    let out = feed(
        &mut e,
        &["CALL 208 STATUS RINGING", "CALL 208 PARTNER_HANDLE bob"],
    );
    let ev = events(&out);
    let [Event::QuestionAsked { id, text }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(text, "The user bob is currently ringing you.");
    e.on_command(Command::AnswerQuestion {
        id: *id,
        accept: false,
    });
    assert_eq!(lines(&e.drain()), vec!["SET CALL 208 STATUS FINISHED"]);
    e.on_command(Command::AnswerQuestion {
        id: QuestionId(999),
        accept: true,
    });
    assert!(e.drain().is_empty());
}

#[test]
fn authorisation_requests_and_adding() {
    let mut e = engine(&[]);
    online(&mut e);
    let out = feed(&mut e, &["USER bob RECEIVEDAUTHREQUEST Hi, it's Bob"]);
    let ev = events(&out);
    let [Event::QuestionAsked { id, text }] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert!(text.starts_with("The user bob wants to add you"));
    e.on_command(Command::AnswerQuestion {
        id: *id,
        accept: true,
    });
    assert_eq!(lines(&e.drain()), vec!["SET USER bob ISAUTHORIZED TRUE"]);
    let out = feed(
        &mut e,
        &[
            "USER bob RECEIVEDAUTHREQUEST ",
            "USER bob BUDDYSTATUS 3",
            "USER bob ONLINESTATUS ONLINE",
        ],
    );
    assert_eq!(events(&out).len(), 2);
    e.on_command(Command::RemoveContact {
        handle: "bob".into(),
    });
    assert_eq!(lines(&e.drain()), vec!["SET USER bob BUDDYSTATUS 1"]);
    let out = feed(&mut e, &["USER bob BUDDYSTATUS 1"]);
    assert_eq!(
        events(&out),
        vec![Event::ContactRemoved {
            handle: "bob".into()
        }]
    );
}

#[test]
fn groups_are_read_and_contacts_moved() {
    let mut e = engine(&[("read_groups", "true")]);
    online(&mut e);
    let out = feed(
        &mut e,
        &[
            "GROUPS 70",
            "USERS bob",
            "GROUP 70 DISPLAYNAME Family",
            "GROUP 70 USERS bob",
            "USER bob ONLINESTATUS ONLINE",
        ],
    );
    let ev = events(&out);
    assert!(matches!(
        &ev[..],
        [Event::ContactUpdated(c)] if c.group.as_deref() == Some("Family")
    ));
    e.on_command(Command::AddContact {
        handle: "bob".into(),
        group: Some("Work".into()),
    });
    assert_eq!(
        lines(&e.drain()),
        vec!["CREATE GROUP Work", "ALTER GROUP 70 REMOVEUSER bob"]
    );
    let out = feed(
        &mut e,
        &["GROUP 71 NROFUSERS 0", "GROUP 71 DISPLAYNAME Work"],
    );
    assert_eq!(
        lines(&out),
        vec!["GET GROUP 71 DISPLAYNAME", "ALTER GROUP 71 ADDUSER bob"]
    );
}

#[test]
fn file_transfers_and_balance() {
    let mut e = engine(&[]);
    online(&mut e);
    let out = feed(
        &mut e,
        &[
            "FILETRANSFER 208 TYPE INCOMING",
            "FILETRANSFER 208 PARTNER_HANDLE bob",
            "FILETRANSFER 208 STATUS NEW",
            "FILETRANSFER 208 PARTNER_HANDLE bob",
        ],
    );
    assert_eq!(lines(&out), vec!["GET FILETRANSFER 208 PARTNER_HANDLE"]);
    assert_eq!(
        events(&out),
        vec![Event::Notice {
            text: "The user bob offered a new file for you.".into()
        }]
    );
    e.on_command(Command::ApplySetting {
        key: "balance".into(),
        value: Some("query".into()),
    });
    assert_eq!(lines(&e.drain()), vec!["GET PROFILE PSTN_BALANCE"]);
    let out = feed(&mut e, &["PROFILE PSTN_BALANCE 1234"]);
    assert_eq!(
        events(&out),
        vec![Event::Notice {
            text: "SkypeOut balance value is '1234'.".into()
        }]
    );
}

#[test]
fn console_in_and_out() {
    let mut e = engine(&[("skypeconsole", "true"), ("skypeconsole_receive", "true")]);
    e.start();
    e.on_line("USERSTATUS ONLINE");
    let ev = events(&e.drain());
    assert!(matches!(&ev[1], Event::LoggedIn));
    assert!(matches!(&ev[2], Event::ContactUpdated(c) if c.handle == "skypeconsole"));
    e.on_command(Command::SendMessage {
        to: "skypeconsole".into(),
        body: "GET USER bob MOOD_TEXT".into(),
        kind: MessageKind::Normal,
        id: None,
    });
    assert_eq!(lines(&e.drain()), vec!["GET USER bob MOOD_TEXT"]);
    let out = feed(&mut e, &["PING", "USER bob MOOD_TEXT busy"]);
    assert_eq!(lines(&out), vec!["PONG"]);
    assert_eq!(
        events(&out),
        vec![Event::ConsoleLine {
            from: "skypeconsole".into(),
            line: "USER bob MOOD_TEXT busy".into()
        }]
    );
}
