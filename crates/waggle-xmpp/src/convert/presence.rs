//! `<presence/>` stanzas: contacts' availability, subscription requests, room
//! occupants, and the presences we send.

use std::time::SystemTime;

use waggle_core::{PresenceState, Role};
use xmpp_parsers::date::DateTime;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::muc::muc::{History, Muc};
use xmpp_parsers::muc::user::{MucUser, Role as MucRole, Status};
use xmpp_parsers::presence::{Presence, Show, Type};
use xmpp_parsers::stanza_error::StanzaError;

use super::{condition_name, error_text};

/// What a presence says about its sender.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Available, maybe away.
    Available {
        /// `away`, `xa`, `dnd`, `chat` or none.
        show: Option<Show>,
        /// The status text.
        status: Option<String>,
        /// The resource's priority.
        priority: i8,
    },
    /// Gone offline (or left a room).
    Unavailable {
        /// The status text.
        status: Option<String>,
    },
    /// Asks to see our presence.
    Subscribe,
    /// Accepted our request.
    Subscribed,
    /// Stopped seeing our presence.
    Unsubscribe,
    /// Refused or revoked our request.
    Unsubscribed,
    /// An error (e.g. a refused room join).
    Error {
        /// The condition's XML name.
        condition: &'static str,
        /// The condition and the server's text.
        text: String,
    },
    /// A probe (servers answer these for us).
    Probe,
}

/// The room part of an occupant's presence (XEP-0045 `muc#user`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoomInfo {
    /// The occupant's role.
    pub role: Role,
    /// Whether the role is `none` (leaving).
    pub role_none: bool,
    /// The real JID, in non-anonymous rooms.
    pub real_jid: Option<BareJid>,
    /// The new nick of a nick change (status 303).
    pub new_nick: Option<String>,
    /// This presence is about us (status 110).
    pub is_self: bool,
    /// We just created the room (status 201).
    pub created: bool,
    /// Kicked (307).
    pub kicked: bool,
    /// Banned (301).
    pub banned: bool,
    /// Who did it (the actor's nick).
    pub actor: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// An incoming presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The sender.
    pub from: Jid,
    /// What it says.
    pub kind: Kind,
    /// Room details, for occupants.
    pub room: Option<RoomInfo>,
}

fn best_status(p: &Presence) -> Option<String> {
    p.statuses
        .get("en")
        .or_else(|| p.statuses.get(""))
        .or_else(|| p.statuses.values().next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn role_of(r: &MucRole) -> Role {
    match r {
        MucRole::Moderator => Role::Moderator,
        MucRole::Participant => Role::Participant,
        MucRole::Visitor | MucRole::None => Role::Visitor,
    }
}

fn room_info(p: &Presence) -> Option<RoomInfo> {
    let el = p
        .payloads
        .iter()
        .find(|e| e.is("x", xmpp_parsers::ns::MUC_USER))?;
    let actor = el
        .get_child("item", xmpp_parsers::ns::MUC_USER)
        .and_then(|i| i.get_child("actor", xmpp_parsers::ns::MUC_USER))
        .and_then(|a| a.attr("nick"))
        .map(str::to_string);
    let user = MucUser::try_from(el.clone()).ok()?;
    let item = user.items.first();
    let has = |s: Status| user.status.contains(&s);
    Some(RoomInfo {
        role: item.map(|i| role_of(&i.role)).unwrap_or_default(),
        role_none: item.is_some_and(|i| i.role == MucRole::None),
        real_jid: item.and_then(|i| i.jid.as_ref()).map(|j| j.to_bare()),
        new_nick: item
            .and_then(|i| i.nick.clone())
            .filter(|_| has(Status::NewNick)),
        is_self: has(Status::SelfPresence),
        created: has(Status::RoomHasBeenCreated),
        kicked: has(Status::Kicked),
        banned: has(Status::Banned),
        actor,
        reason: item.and_then(|i| i.reason.as_ref()).map(|r| r.0.clone()),
    })
}

/// What a presence means; `None` for one without a sender.
pub fn classify(mut p: Presence) -> Option<Inbound> {
    let from = p.from.clone()?;
    let room = room_info(&p);
    let kind = match p.type_ {
        Type::None => Kind::Available {
            show: p.show.clone(),
            status: best_status(&p),
            priority: p.priority.0,
        },
        Type::Unavailable => Kind::Unavailable {
            status: best_status(&p),
        },
        Type::Subscribe => Kind::Subscribe,
        Type::Subscribed => Kind::Subscribed,
        Type::Unsubscribe => Kind::Unsubscribe,
        Type::Unsubscribed => Kind::Unsubscribed,
        Type::Probe => Kind::Probe,
        Type::Error => {
            let idx = p
                .payloads
                .iter()
                .position(|e| e.is("error", xmpp_parsers::ns::DEFAULT_NS));
            let err = idx.and_then(|i| StanzaError::try_from(p.payloads.swap_remove(i)).ok());
            Kind::Error {
                condition: err
                    .as_ref()
                    .map(|e| condition_name(&e.defined_condition))
                    .unwrap_or("undefined-condition"),
                text: err
                    .as_ref()
                    .map(error_text)
                    .unwrap_or_else(|| "undefined-condition".into()),
            }
        }
    };
    Some(Inbound { from, kind, room })
}

/// A contact's state and the protocol word for it (`away`, `xa`, `dnd`).
pub fn state_of(show: Option<&Show>) -> (PresenceState, Option<String>) {
    match show {
        None | Some(Show::Chat) => (PresenceState::Online, None),
        Some(Show::Away) => (PresenceState::Away, Some("away".into())),
        Some(Show::Xa) => (PresenceState::Away, Some("xa".into())),
        Some(Show::Dnd) => (PresenceState::Away, Some("dnd".into())),
    }
}

/// The `<show/>` and status text for an away message: BitlBee's state names
/// (`dnd`, `Do not disturb`, `xa`, `Extended away`, `chat`, `Free for chat`,
/// `away`) select that state; any other text is an away message.
pub fn away_show(away: &str) -> (Show, Option<String>) {
    let t = away.trim();
    match t.to_ascii_lowercase().as_str() {
        "away" => (Show::Away, None),
        "dnd" | "do not disturb" | "busy" => (Show::Dnd, None),
        "xa" | "extended away" | "na" => (Show::Xa, None),
        "chat" | "free for chat" => (Show::Chat, None),
        _ => (Show::Away, Some(t.to_string())),
    }
}

/// Our own presence: available, or away with a lowered priority.
pub fn own(away: Option<&str>, status: Option<&str>, priority: i8) -> Presence {
    let mut p = Presence::available();
    match away.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => {
            let (show, text) = away_show(a);
            if show != Show::Chat {
                p.priority.0 = priority.saturating_sub(5);
            } else {
                p.priority.0 = priority;
            }
            p.show = Some(show);
            if let Some(t) = text {
                p.set_status("", t);
            }
        }
        None => {
            p.priority.0 = priority;
            if let Some(s) = status.map(str::trim).filter(|s| !s.is_empty()) {
                p.set_status("", s);
            }
        }
    }
    p
}

/// A subscription presence (`subscribe`, `subscribed`, `unsubscribed` …) to `to`.
pub fn subscription(to: BareJid, type_: Type) -> Presence {
    Presence::new(type_).with_to(to)
}

/// How much of a room's history to ask for when entering it.
#[derive(Debug, Clone, PartialEq)]
pub enum Backlog {
    /// None: it comes from the room's archive instead.
    Nothing,
    /// The last few messages (a room entered for the first time).
    Recent,
    /// What was said since then (a room we were in before; at most a page).
    Since(SystemTime),
}

/// How many messages of history a room is asked for at most.
pub const HISTORY_STANZAS: u32 = 20;
/// How many when asking for everything since a time.
pub const HISTORY_SINCE_STANZAS: u32 = 100;

/// Enter a room as `nick`, with a password when it has one, asking for `backlog`.
pub fn join(occupant: FullJid, password: Option<&str>, backlog: &Backlog) -> Presence {
    let history = match backlog {
        Backlog::Nothing => History::new().with_maxstanzas(0),
        Backlog::Recent => History::new().with_maxstanzas(HISTORY_STANZAS),
        Backlog::Since(t) => {
            let since = chrono::DateTime::<chrono::Utc>::from(*t);
            History::new()
                .with_maxstanzas(HISTORY_SINCE_STANZAS)
                .with_since(DateTime(since.into()))
        }
    };
    let muc = Muc {
        password: password.map(str::to_string),
        history: Some(history),
    };
    Presence::available().with_to(occupant).with_payload(muc)
}

/// Leave a room.
pub fn leave(occupant: FullJid) -> Presence {
    Presence::unavailable().with_to(occupant)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn parse(xml: &str) -> Inbound {
        let el: Element = xml.parse().expect("xml");
        classify(Presence::try_from(el).expect("presence")).expect("from")
    }

    #[test]
    fn contact_presence() {
        let p = parse(
            "<presence xmlns='jabber:client' from='bob@example.org/pc'>\
             <show>dnd</show><status>busy busy</status><priority>5</priority></presence>",
        );
        assert_eq!(
            p.kind,
            Kind::Available {
                show: Some(Show::Dnd),
                status: Some("busy busy".into()),
                priority: 5
            }
        );
        assert_eq!(
            state_of(Some(&Show::Xa)),
            (PresenceState::Away, Some("xa".into()))
        );
    }

    #[test]
    fn occupant_kicked() {
        let p = parse(
            "<presence xmlns='jabber:client' from='room@conf.example/bob' type='unavailable'>\
             <x xmlns='http://jabber.org/protocol/muc#user'>\
             <item affiliation='none' role='none'><actor nick='alice'/><reason>spam</reason></item>\
             <status code='307'/></x></presence>",
        );
        let r = p.room.expect("room info");
        assert!(r.kicked && r.role_none && !r.is_self);
        assert_eq!(r.actor.as_deref(), Some("alice"));
        assert_eq!(r.reason.as_deref(), Some("spam"));
    }

    #[test]
    fn join_error() {
        let p = parse(
            "<presence xmlns='jabber:client' from='room@conf.example/me' type='error'>\
             <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>\
             </presence>",
        );
        assert!(matches!(
            p.kind,
            Kind::Error {
                condition: "conflict",
                ..
            }
        ));
    }

    #[test]
    fn own_presence_lowers_priority_when_away() {
        let p = own(Some("lunch"), None, 3);
        assert_eq!((p.show.clone(), p.priority.0), (Some(Show::Away), -2));
        assert_eq!(p.statuses.get("").map(String::as_str), Some("lunch"));
        let p = own(Some("Do not disturb"), None, 0);
        assert_eq!(p.show, Some(Show::Dnd));
        assert!(p.statuses.is_empty());
        let p = own(None, Some("here"), 3);
        assert_eq!((p.show, p.priority.0), (None, 3));
    }
}
