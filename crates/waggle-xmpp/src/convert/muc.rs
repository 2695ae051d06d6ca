//! Multi-user chat payloads that xmpp-parsers 0.23 does not have: the admin
//! query used to kick (XEP-0045 §8.2), the owner query that accepts the default
//! configuration of a new room (§10.1.2), and direct invitations (XEP-0249);
//! and the room passwords invitations bring, kept for the join.

use std::collections::HashMap;

use xmpp_parsers::iq::{IqResultPayload, IqSetPayload};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::message::MessagePayload;
use xso::{AsXml, FromXml};

/// The MUC admin namespace.
pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
/// The MUC owner namespace.
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// The XEP-0249 direct invitation namespace.
pub const CONFERENCE: &str = "jabber:x:conference";

/// One item of a MUC admin query.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = MUC_ADMIN, name = "item")]
pub struct AdminItem {
    /// The occupant's room nick.
    #[xml(attribute(default))]
    pub nick: Option<String>,
    /// The new role (`none` kicks).
    #[xml(attribute(default))]
    pub role: Option<String>,
    /// Why.
    #[xml(extract(default, fields(text(type_ = String))))]
    pub reason: Option<String>,
}

/// `<query xmlns='…muc#admin'/>`.
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = MUC_ADMIN, name = "query")]
pub struct AdminQuery {
    /// The items to change.
    #[xml(child(n = ..))]
    pub items: Vec<AdminItem>,
}

impl IqSetPayload for AdminQuery {}

impl AdminQuery {
    /// Kick `nick` (set its role to none).
    pub fn kick(nick: &str, reason: Option<&str>) -> AdminQuery {
        AdminQuery {
            items: vec![AdminItem {
                nick: Some(nick.to_string()),
                role: Some("none".into()),
                reason: reason.map(str::to_string),
            }],
        }
    }
}

/// An empty submitted data form: "keep the defaults".
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = "jabber:x:data", name = "x")]
pub struct SubmitForm {
    /// Always `submit`.
    #[xml(attribute(name = "type"))]
    pub type_: String,
}

/// `<query xmlns='…muc#owner'><x type='submit'/></query>`: accept the default
/// configuration of a room we just created (an "instant room").
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = MUC_OWNER, name = "query")]
pub struct InstantRoom {
    /// The form.
    #[xml(child)]
    pub form: SubmitForm,
}

impl IqSetPayload for InstantRoom {}
impl IqResultPayload for InstantRoom {}

impl Default for InstantRoom {
    fn default() -> Self {
        InstantRoom {
            form: SubmitForm {
                type_: "submit".into(),
            },
        }
    }
}

/// A direct invitation (XEP-0249).
#[derive(FromXml, AsXml, Debug, Clone, PartialEq)]
#[xml(namespace = CONFERENCE, name = "x")]
pub struct DirectInvite {
    /// The room.
    #[xml(attribute)]
    pub jid: String,
    /// The room's password.
    #[xml(attribute(default))]
    pub password: Option<String>,
    /// Why.
    #[xml(attribute(default))]
    pub reason: Option<String>,
}

impl MessagePayload for DirectInvite {}

/// How many rooms' invitation passwords are remembered.
pub const MAX_INVITE_PASSWORDS: usize = 100;

/// The passwords invitations gave for rooms, used when the room is joined
/// without one. Anyone may send invitations, so at most
/// [`MAX_INVITE_PASSWORDS`] rooms are remembered: past that, only the rooms
/// already known get a new password.
#[derive(Debug, Clone, Default)]
pub struct InvitePasswords {
    by_room: HashMap<BareJid, String>,
}

impl InvitePasswords {
    /// Remember `password` for `room` (while there is space).
    pub fn remember(&mut self, room: BareJid, password: String) {
        if self.by_room.len() >= MAX_INVITE_PASSWORDS && !self.by_room.contains_key(&room) {
            return;
        }
        self.by_room.insert(room, password);
    }

    /// The password an invitation gave for `room`.
    pub fn get(&self, room: &BareJid) -> Option<&str> {
        self.by_room.get(room).map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    #[test]
    fn kick_serialises() {
        let el: Element = AdminQuery::kick("bob", Some("spam")).into();
        let item = el.get_child("item", MUC_ADMIN).expect("item");
        assert_eq!(item.attr("nick"), Some("bob"));
        assert_eq!(item.attr("role"), Some("none"));
        assert_eq!(
            item.get_child("reason", MUC_ADMIN).map(|r| r.text()),
            Some("spam".into())
        );
    }

    #[test]
    fn invite_passwords_are_bounded_but_known_rooms_are_updated() {
        let room = |n: usize| BareJid::new(&format!("r{n}@conference.example.org")).expect("jid");
        let mut p = InvitePasswords::default();
        for n in 0..MAX_INVITE_PASSWORDS {
            p.remember(room(n), format!("pw{n}"));
        }
        assert_eq!(p.get(&room(0)), Some("pw0"));
        p.remember(room(MAX_INVITE_PASSWORDS), "late".into());
        assert_eq!(p.get(&room(MAX_INVITE_PASSWORDS)), None);
        p.remember(room(1), "new".into());
        assert_eq!(p.get(&room(1)), Some("new"));
    }

    #[test]
    fn direct_invites_parse() {
        let el: Element = "<x xmlns='jabber:x:conference' jid='room@conf.example' reason='hi'/>"
            .parse()
            .expect("xml");
        let inv = DirectInvite::try_from(el).expect("invite");
        assert_eq!(inv.jid, "room@conf.example");
        assert_eq!(inv.reason.as_deref(), Some("hi"));
        let form: Element = InstantRoom::default().into();
        assert!(form.has_child("x", "jabber:x:data"));
    }
}
