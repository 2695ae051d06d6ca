//! Multi-user chat payloads that xmpp-parsers 0.23 does not have: the admin
//! query used to kick (XEP-0045 §8.2), the owner query that accepts the default
//! configuration of a new room (§10.1.2), and direct invitations (XEP-0249).

use xmpp_parsers::iq::{IqResultPayload, IqSetPayload};
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
