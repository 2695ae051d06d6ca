//! `<message/>` stanzas: what an incoming one means, and the ones we send.

use std::time::SystemTime;

use waggle_core::{MessageIds, MessageKind, TypingState};
use xmpp_parsers::carbons;
use xmpp_parsers::chatstates::ChatState;
use xmpp_parsers::delay::Delay;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Id, Lang, Message, MessageType};
use xmpp_parsers::muc::user::{Invite, MucUser};
use xmpp_parsers::receipts;
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::stanza_id::OriginId;

use super::mam::{self, Archived};
use super::muc::DirectInvite;
use super::{error_text, outgoing_body, split_action, system_time};

/// A one-to-one message, or a chat state or receipt request on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    /// The other party (full JID as it came; for our own carbons, the recipient).
    pub peer: Jid,
    /// The text, if any.
    pub body: Option<String>,
    /// Plain or action.
    pub kind: MessageKind,
    /// When it was sent, for delayed delivery.
    pub sent_at: Option<SystemTime>,
    /// Sent by one of our other clients (a carbon of a sent message).
    pub from_self: bool,
    /// A chat state that came with it.
    pub typing: Option<TypingState>,
    /// The id to acknowledge, when the sender asked for a receipt.
    pub receipt_for: Option<String>,
    /// Its ids: in our own archive, and the sender's.
    pub ids: MessageIds,
}

/// A line in a room: a message, the subject, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomLine {
    /// The room.
    pub room: BareJid,
    /// The speaker's nick (none for the room itself).
    pub nick: Option<String>,
    /// The text, if any.
    pub body: Option<String>,
    /// A new subject (possibly empty: cleared).
    pub subject: Option<String>,
    /// Plain or action.
    pub kind: MessageKind,
    /// When it was said (room history).
    pub sent_at: Option<SystemTime>,
    /// Its ids: in the room's archive, and the sender's.
    pub ids: MessageIds,
}

/// What an incoming message means.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A one-to-one message.
    Chat(Chat),
    /// A room message or subject.
    Room(RoomLine),
    /// An invitation to a room (mediated or direct).
    Invite {
        /// The room.
        room: BareJid,
        /// Who invited us.
        from: String,
        /// Their reason.
        reason: Option<String>,
        /// The room password, if given.
        password: Option<String>,
    },
    /// A message bounced with an error.
    Error {
        /// Who bounced it (the recipient, or a room).
        from: Option<Jid>,
        /// The error.
        text: String,
    },
    /// A message an archive query returned (the session checks that it
    /// comes from the archive it asked).
    Archived(Archived),
    /// A headline or server announcement.
    Headline {
        /// Who sent it.
        from: String,
        /// The text.
        body: String,
    },
    /// Nothing for the user (a receipt, an empty message, a forged carbon …).
    Nothing,
}

fn best_body(msg: &Message) -> Option<String> {
    msg.get_best_body(vec!["en", ""])
        .map(|(_, b)| b.clone())
        .filter(|b| !b.is_empty())
}

fn typing_of(state: ChatState) -> TypingState {
    match state {
        ChatState::Composing => TypingState::Active,
        ChatState::Paused => TypingState::Paused,
        ChatState::Active | ChatState::Inactive | ChatState::Gone => TypingState::Done,
    }
}

fn payload<T>(msg: &mut Message) -> Option<T>
where
    T: TryFrom<xmpp_parsers::minidom::Element, Error = xso::error::FromElementError>,
{
    msg.extract_payload::<T>().ok().flatten()
}

/// What `msg` means, for an account whose bare JID is `me`.
pub fn classify(mut msg: Message, me: &BareJid) -> Inbound {
    if msg.type_ == MessageType::Error {
        let error = payload::<StanzaError>(&mut msg);
        return Inbound::Error {
            from: msg.from.clone(),
            text: error
                .as_ref()
                .map(error_text)
                .unwrap_or_else(|| "undefined-condition".into()),
        };
    }
    // Archives are bare JIDs (our account, a room); a full JID is a client.
    if msg.from.as_ref().is_none_or(|f| f.resource().is_none())
        && let Some(a) = mam::archived(&msg)
    {
        return Inbound::Archived(a);
    }
    let from_me = msg.from.as_ref().is_none_or(|f| f.to_bare() == *me);
    if from_me {
        if let Some(sent) = payload::<carbons::Sent>(&mut msg) {
            return carbon(sent.forwarded.message, sent.forwarded.delay, true, me);
        }
        if let Some(received) = payload::<carbons::Received>(&mut msg) {
            return carbon(
                received.forwarded.message,
                received.forwarded.delay,
                false,
                me,
            );
        }
    }
    let Some(from) = msg.from.clone() else {
        return Inbound::Nothing;
    };
    if let Some(user) = payload::<MucUser>(&mut msg)
        && let Some(Invite {
            from: inviter,
            reason,
            ..
        }) = user.invite
    {
        let room = from.to_bare();
        // Rooms that hide real JIDs name the inviter by their occupant JID.
        let from = match inviter {
            Some(j) if j.to_bare() == room => j
                .resource()
                .map(|r| r.to_string())
                .unwrap_or_else(|| room.to_string()),
            Some(j) => j.to_bare().to_string(),
            None => room.to_string(),
        };
        return Inbound::Invite {
            room,
            from,
            reason,
            password: None,
        };
    }
    if let Some(direct) = payload::<DirectInvite>(&mut msg)
        && let Ok(room) = BareJid::new(&direct.jid)
    {
        return Inbound::Invite {
            room,
            from: from.to_bare().to_string(),
            reason: direct.reason,
            password: direct.password,
        };
    }
    let sent_at = payload::<Delay>(&mut msg).map(|d| system_time(&d.stamp));
    let body = best_body(&msg);
    match msg.type_ {
        MessageType::Groupchat => {
            let ids = mam::ids(&msg, &from.to_bare());
            let subject = msg.get_best_subject(vec!["en", ""]).map(|(_, s)| s.clone());
            let (body, kind) = match body {
                Some(b) => {
                    let (b, k) = split_action(&b);
                    (Some(b), k)
                }
                None => (None, MessageKind::Normal),
            };
            Inbound::Room(RoomLine {
                room: from.to_bare(),
                nick: from.resource().map(|r| r.to_string()),
                body,
                subject,
                kind,
                sent_at,
                ids,
            })
        }
        MessageType::Headline => match body {
            Some(body) => Inbound::Headline {
                from: from.to_string(),
                body,
            },
            None => Inbound::Nothing,
        },
        MessageType::Chat | MessageType::Normal | MessageType::Error => {
            let ids = mam::ids(&msg, me);
            let typing = payload::<ChatState>(&mut msg).map(typing_of);
            let receipt_for = match (&body, payload::<receipts::Request>(&mut msg), &msg.id) {
                (Some(_), Some(_), Some(id)) => Some(id.0.clone()),
                _ => None,
            };
            if body.is_none() && typing.is_none() {
                return Inbound::Nothing;
            }
            let (body, kind) = match body {
                Some(b) => {
                    let (b, k) = split_action(&b);
                    (Some(b), k)
                }
                None => (None, MessageKind::Normal),
            };
            Inbound::Chat(Chat {
                peer: from,
                body,
                kind,
                sent_at,
                from_self: false,
                typing,
                receipt_for,
                ids,
            })
        }
    }
}

/// A carbon copy (XEP-0280): `sent` ones are ours from another client.
fn carbon(mut inner: Message, delay: Option<Delay>, sent: bool, me: &BareJid) -> Inbound {
    if inner.type_ == MessageType::Groupchat || inner.type_ == MessageType::Error {
        return Inbound::Nothing;
    }
    let peer = if sent {
        inner.to.clone()
    } else {
        inner.from.clone()
    };
    let Some(peer) = peer else {
        return Inbound::Nothing;
    };
    let delay = delay.or_else(|| payload::<Delay>(&mut inner));
    let ids = mam::ids(&inner, me);
    let typing = payload::<ChatState>(&mut inner).map(typing_of);
    let Some(body) = best_body(&inner) else {
        return match (sent, typing) {
            (false, Some(t)) => Inbound::Chat(Chat {
                peer,
                body: None,
                kind: MessageKind::Normal,
                sent_at: None,
                from_self: false,
                typing: Some(t),
                receipt_for: None,
                ids: MessageIds::default(),
            }),
            _ => Inbound::Nothing,
        };
    };
    let (body, kind) = split_action(&body);
    Inbound::Chat(Chat {
        peer,
        body: Some(body),
        kind,
        sent_at: delay.map(|d| system_time(&d.stamp)),
        from_self: sent,
        typing: None,
        receipt_for: None,
        ids,
    })
}

/// A message from our own archive as a chat: one we received, or (with
/// `from_self`) one we sent from any client. Room messages and errors are not
/// chats.
pub fn archived_chat(a: Archived, me: &BareJid) -> Option<Chat> {
    let inner = a.message;
    if !matches!(inner.type_, MessageType::Chat | MessageType::Normal) {
        return None;
    }
    let from_self = inner.from.as_ref().is_some_and(|f| f.to_bare() == *me);
    let peer = if from_self {
        inner.to.clone()
    } else {
        inner.from.clone()
    }?;
    let body = best_body(&inner)?;
    let (body, kind) = split_action(&body);
    Some(Chat {
        peer,
        body: Some(body),
        kind,
        sent_at: a.sent_at,
        from_self,
        typing: None,
        receipt_for: None,
        ids: MessageIds {
            archive: Some(a.id),
            origin: mam::origin_id(&inner),
        },
    })
}

/// A message from a room's archive as a room line (messages only: no subject).
pub fn archived_room_line(a: Archived, room: &BareJid) -> Option<RoomLine> {
    let inner = a.message;
    if inner.type_ != MessageType::Groupchat {
        return None;
    }
    let from = inner.from.clone()?;
    if from.to_bare() != *room {
        return None;
    }
    let body = best_body(&inner)?;
    let (body, kind) = split_action(&body);
    Some(RoomLine {
        room: room.clone(),
        nick: from.resource().map(|r| r.to_string()),
        body: Some(body),
        subject: None,
        kind,
        sent_at: a.sent_at,
        ids: MessageIds {
            archive: Some(a.id),
            origin: mam::origin_id(&inner),
        },
    })
}

/// A one-to-one message (with an `<active/>` chat state, XEP-0085) under our
/// id `id`, also sent as its origin-id (XEP-0359).
pub fn chat(to: Jid, body: &str, kind: MessageKind, id: &str) -> Message {
    let mut m = Message::chat(to)
        .with_body(Lang::new(), outgoing_body(body, kind))
        .with_payload(ChatState::Active)
        .with_payload(OriginId { id: id.to_string() });
    m.id = Some(Id(id.to_string()));
    m
}

/// A standalone chat state notification.
pub fn typing(to: Jid, state: TypingState) -> Message {
    let state = match state {
        TypingState::Active => ChatState::Composing,
        TypingState::Paused => ChatState::Paused,
        TypingState::Done => ChatState::Active,
    };
    Message::chat(to).with_payload(state)
}

/// A delivery receipt (XEP-0184) for message `id`.
pub fn receipt(to: Jid, id: String) -> Message {
    Message::chat(to).with_payload(receipts::Received { id })
}

/// A message to a room under our id `id`, also its origin-id: the room's
/// copy back to us carries it.
pub fn groupchat(room: BareJid, body: &str, kind: MessageKind, id: &str) -> Message {
    let mut m = Message::groupchat(Jid::from(room))
        .with_body(Lang::new(), outgoing_body(body, kind))
        .with_payload(OriginId { id: id.to_string() });
    m.id = Some(Id(id.to_string()));
    m
}

/// A request to change a room's subject.
pub fn subject(room: BareJid, topic: &str) -> Message {
    let mut m = Message::groupchat(Jid::from(room));
    m.subjects.insert(Lang::new(), topic.to_string());
    m
}

/// A mediated invitation (XEP-0045 §7.8.2), sent through the room.
pub fn invite(room: BareJid, to: Jid, reason: Option<String>) -> Message {
    let user = MucUser {
        invite: Some(Invite {
            from: None,
            to: Some(to),
            reason,
        }),
        ..MucUser::new()
    };
    Message::normal(Jid::from(room)).with_payload(user)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn me() -> BareJid {
        BareJid::new("me@example.org").expect("jid")
    }

    fn parse(xml: &str) -> Inbound {
        let el: Element = xml.parse().expect("xml");
        classify(Message::try_from(el).expect("message"), &me())
    }

    #[test]
    fn chat_with_receipt_state_and_delay() {
        let got = parse(
            "<message xmlns='jabber:client' from='bob@example.org/pc' id='m1' type='chat' xml:lang='en'>\
             <body>/me waves\nline two</body>\
             <active xmlns='http://jabber.org/protocol/chatstates'/>\
             <request xmlns='urn:xmpp:receipts'/>\
             <delay xmlns='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z'/></message>",
        );
        let Inbound::Chat(c) = got else {
            panic!("not a chat: {got:?}")
        };
        assert_eq!(c.peer.to_string(), "bob@example.org/pc");
        assert_eq!(c.body.as_deref(), Some("waves\nline two"));
        assert_eq!(c.kind, MessageKind::Action);
        assert_eq!(c.typing, Some(TypingState::Done));
        assert_eq!(c.receipt_for.as_deref(), Some("m1"));
        assert!(c.sent_at.is_some() && !c.from_self);
    }

    #[test]
    fn composing_alone() {
        let got = parse(
            "<message xmlns='jabber:client' from='bob@example.org/pc' type='chat'>\
             <composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        );
        assert!(matches!(
            got,
            Inbound::Chat(Chat {
                body: None,
                typing: Some(TypingState::Active),
                ..
            })
        ));
    }

    #[test]
    fn carbons_only_from_ourselves() {
        let sent = "<message xmlns='jabber:client' from='FROM' to='me@example.org/w' type='chat'>\
             <sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
             <message xmlns='jabber:client' from='me@example.org/phone' to='bob@example.org' type='chat'>\
             <body>hi bob</body></message></forwarded></sent></message>";
        let got = parse(&sent.replace("FROM", "me@example.org"));
        let Inbound::Chat(c) = got else {
            panic!("not a chat: {got:?}")
        };
        assert!(c.from_self);
        assert_eq!(c.peer.to_string(), "bob@example.org");
        assert_eq!(c.body.as_deref(), Some("hi bob"));
        let forged = parse(&sent.replace("FROM", "mallory@evil.example"));
        assert_eq!(forged, Inbound::Nothing);
    }

    #[test]
    fn errors_and_invites() {
        let got = parse(
            "<message xmlns='jabber:client' from='bob@example.org' type='error'>\
             <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             </error></message>",
        );
        assert!(matches!(got, Inbound::Error { ref text, .. } if text == "service-unavailable"));
        let got = parse(
            "<message xmlns='jabber:client' from='room@conf.example.org'>\
             <x xmlns='http://jabber.org/protocol/muc#user'>\
             <invite from='bob@example.org/pc'><reason>join us</reason></invite></x></message>",
        );
        assert_eq!(
            got,
            Inbound::Invite {
                room: BareJid::new("room@conf.example.org").expect("jid"),
                from: "bob@example.org".into(),
                reason: Some("join us".into()),
                password: None,
            }
        );
        let got = parse(
            "<message xmlns='jabber:client' from='bob@example.org/pc'>\
             <x xmlns='jabber:x:conference' jid='room@conf.example.org' password='s3'/></message>",
        );
        assert!(
            matches!(got, Inbound::Invite { ref password, .. } if password.as_deref() == Some("s3"))
        );
    }

    #[test]
    fn archive_results_only_from_archives() {
        let result = "<message xmlns='jabber:client' from='FROM' to='me@example.org/w'>\
             <result xmlns='urn:xmpp:mam:2' queryid='q' id='A1'>\
             <forwarded xmlns='urn:xmpp:forward:0'>\
             <delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/>\
             <message xmlns='jabber:client' from='me@example.org/phone' to='bob@example.org' type='chat'>\
             <body>sent elsewhere</body><origin-id xmlns='urn:xmpp:sid:0' id='o9'/></message>\
             </forwarded></result></message>";
        let Inbound::Archived(a) = parse(&result.replace("FROM", "me@example.org")) else {
            panic!("not archived")
        };
        let c = archived_chat(a, &me()).expect("a chat");
        assert!(c.from_self);
        assert_eq!(c.peer.to_string(), "bob@example.org");
        assert_eq!(c.ids.archive.as_deref(), Some("A1"));
        assert_eq!(c.ids.origin.as_deref(), Some("o9"));
        // A client can't pose as an archive.
        let got = parse(&result.replace("FROM", "bob@example.org/pc"));
        assert!(!matches!(got, Inbound::Archived(_)), "{got:?}");
    }

    #[test]
    fn room_lines() {
        let got = parse(
            "<message xmlns='jabber:client' from='room@conf.example.org/bob' type='groupchat'>\
             <subject>News</subject></message>",
        );
        let Inbound::Room(l) = got else {
            panic!("not a room line: {got:?}")
        };
        assert_eq!(l.nick.as_deref(), Some("bob"));
        assert_eq!((l.body, l.subject.as_deref()), (None, Some("News")));
    }

    #[test]
    fn outgoing() {
        let m: Element = chat(
            Jid::new("bob@example.org").expect("jid"),
            "hi",
            MessageKind::Action,
            "gw-1",
        )
        .into();
        assert_eq!(
            m.get_child("body", "jabber:client").map(|b| b.text()),
            Some("/me hi".into())
        );
        assert_eq!(m.attr("id"), Some("gw-1"));
        assert_eq!(
            m.get_child("origin-id", xmpp_parsers::ns::SID)
                .and_then(|o| o.attr("id")),
            Some("gw-1")
        );
        let m: Element = subject(BareJid::new("r@c.example").expect("jid"), "T").into();
        assert_eq!(m.attr("type"), Some("groupchat"));
        assert!(m.has_child("subject", "jabber:client"));
    }
}
