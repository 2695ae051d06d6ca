//! IQ payloads: the roster (RFC 6121), vCards (XEP-0054), service discovery
//! (XEP-0030), blocking (XEP-0191), and the queries we answer (ping, version,
//! disco#info).

use std::collections::BTreeSet;

use waggle_core::{Contact, Event, Presence as CorePresence};
use xmpp_parsers::blocking::{Block, Unblock};
use xmpp_parsers::disco::{DiscoInfoResult, DiscoItemsResult, Identity};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::roster::{Group, Item, Roster, Subscription};
use xmpp_parsers::stanza_error::StanzaError;
use xmpp_parsers::vcard::VCard;
use xmpp_parsers::version::VersionResult;

/// A roster item as a contact (presence filled in by the caller).
pub fn contact(item: &Item, presence: CorePresence) -> Contact {
    Contact {
        handle: item.jid.to_string(),
        display_name: item
            .name
            .as_ref()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        group: item.groups.first().map(|g| g.0.clone()),
        presence,
    }
}

/// A roster set adding or updating `jid` (in `group`, if any).
pub fn roster_set(id: String, jid: BareJid, group: Option<String>) -> Iq {
    let item = Item {
        jid,
        name: None,
        subscription: Subscription::None,
        ask: Default::default(),
        groups: group.into_iter().map(Group).collect(),
        approved: None,
    };
    Iq::from_set(
        id,
        Roster {
            ver: None,
            items: vec![item],
        },
    )
}

/// A roster set removing `jid` (which also cancels both subscriptions).
pub fn roster_remove(id: String, jid: BareJid) -> Iq {
    let item = Item {
        jid,
        name: None,
        subscription: Subscription::Remove,
        ask: Default::default(),
        groups: vec![],
        approved: None,
    };
    Iq::from_set(
        id,
        Roster {
            ver: None,
            items: vec![item],
        },
    )
}

/// A block (`true`) or unblock request for `jid`.
pub fn block(id: String, jid: Jid, block: bool) -> Iq {
    if block {
        Iq::from_set(id, Block { items: vec![jid] })
    } else {
        Iq::from_set(id, Unblock { items: vec![jid] })
    }
}

fn child_text(el: &Element, name: &str) -> Option<String> {
    el.get_child(name, ns::VCARD)
        .map(|c| c.text().trim().to_string())
        .filter(|t| !t.is_empty())
}

fn flatten(el: &Element) -> String {
    el.children()
        .map(|c| c.text().trim().to_string())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The profile lines of `info` from the answer to a vCard request: empty
/// when there is no vCard, the reason when the request failed.
pub fn profile_lines(answer: Result<Option<Element>, StanzaError>) -> Vec<String> {
    match answer {
        Ok(Some(p)) => VCard::try_from(p)
            .map(|v| vcard_lines(&v))
            .unwrap_or_default(),
        Ok(None) => Vec::new(),
        Err(e) => vec![format!(
            "No profile available ({})",
            super::condition_name(&e.defined_condition)
        )],
    }
}

/// A request about group chats whose answer is only told to the user: what
/// an IQ was sent for, kept until its answer comes.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomRequest {
    /// `chat list` on this service.
    List(String),
    /// Kicking this occupant (room, nick).
    Kick(String, String),
    /// Accepting this new room's default configuration.
    Configure(BareJid),
}

/// What the user is told of the answer to `request`: `chat list`'s rooms, or
/// why the request failed; `None` when a success needs no word.
pub fn room_answer(
    request: RoomRequest,
    answer: Result<Option<Element>, StanzaError>,
) -> Option<Event> {
    let failed = |what: String, e: &StanzaError| {
        Some(Event::Error {
            text: format!("{what}: {}", super::error_text(e)),
        })
    };
    match (request, answer) {
        (RoomRequest::List(_), Ok(payload)) => Some(Event::RoomList {
            rooms: payload
                .and_then(|p| DiscoItemsResult::try_from(p).ok())
                .map(|items| room_list(&items))
                .unwrap_or_default(),
        }),
        (RoomRequest::List(service), Err(e)) => {
            failed(format!("Could not list the chatrooms on {service}"), &e)
        }
        (RoomRequest::Kick(room, nick), Err(e)) => {
            failed(format!("Could not kick {nick} from {room}"), &e)
        }
        (RoomRequest::Configure(room), Err(e)) => {
            failed(format!("Could not configure new room {room}"), &e)
        }
        (RoomRequest::Kick(..) | RoomRequest::Configure(_), Ok(_)) => None,
    }
}

/// The profile lines of a vCard, in BitlBee's order and words.
pub fn vcard_lines(vcard: &VCard) -> Vec<String> {
    let mut lines = Vec::new();
    let find = |name: &str| vcard.payloads.iter().find(|e| e.name() == name);
    let all = |name: &'static str| vcard.payloads.iter().filter(move |e| e.name() == name);
    // A field's trimmed text, when it has any.
    let text = |name: &str| {
        find(name)
            .map(|e| e.text().trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let full_name = text("FN").or_else(|| find("N").map(flatten).filter(|t| !t.is_empty()));
    if let Some(n) = full_name {
        lines.push(format!("Full name: {n}"));
    }
    if let Some(n) = text("NICKNAME") {
        lines.push(format!("Nickname: {n}"));
    }
    if let Some(b) = text("BDAY") {
        lines.push(format!("Birthday: {b}"));
    }
    for e in all("EMAIL") {
        if let Some(a) = child_text(e, "USERID")
            .or_else(|| Some(e.text().trim().to_string()).filter(|t| !t.is_empty()))
        {
            lines.push(format!("E-mail: {a}"));
        }
    }
    for e in all("TEL") {
        if let Some(n) = child_text(e, "NUMBER") {
            lines.push(format!("Phone: {n}"));
        }
    }
    for e in all("URL") {
        let u = e.text().trim().to_string();
        if !u.is_empty() {
            lines.push(format!("Homepage: {u}"));
        }
    }
    for e in all("ADR") {
        let parts: Vec<String> = ["STREET", "LOCALITY", "REGION", "PCODE", "CTRY"]
            .iter()
            .filter_map(|n| child_text(e, n))
            .collect();
        if !parts.is_empty() {
            lines.push(format!("Address: {}", parts.join(", ")));
        }
    }
    if let Some(o) = find("ORG").map(flatten).filter(|t| !t.is_empty()) {
        lines.push(format!("Organization: {o}"));
    }
    if let Some(t) = text("TITLE") {
        lines.push(format!("Title: {t}"));
    }
    if let Some(d) = text("DESC") {
        lines.push("Description:".into());
        lines.extend(d.lines().map(|l| format!("  {l}")));
    }
    lines
}

/// The rooms of a disco#items answer, for `chat list`.
pub fn room_list(items: &DiscoItemsResult) -> Vec<waggle_core::RoomInfo> {
    items
        .items
        .iter()
        .map(|item| waggle_core::RoomInfo {
            id: item.jid.to_string(),
            name: item
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        })
        .collect()
}

/// Whether a disco#info answer describes a text group chat service.
pub fn is_muc_service(info: &DiscoInfoResult) -> bool {
    info.identities
        .iter()
        .any(|i| i.category == "conference" && i.type_ == "text")
        || info.features.contains(ns::MUC)
}

/// Features we implement, announced in our disco#info answer.
pub fn our_features() -> BTreeSet<String> {
    [
        ns::DISCO_INFO,
        ns::CHATSTATES,
        ns::RECEIPTS,
        ns::PING,
        ns::VERSION,
        ns::MUC,
        ns::CARBONS,
        super::muc::CONFERENCE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Our answer to a disco#info query.
pub fn disco_info(user_agent: &str) -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity {
            category: "client".into(),
            type_: "pc".into(),
            lang: None,
            name: Some(user_agent.to_string()),
        }],
        features: our_features(),
        extensions: vec![],
    }
}

/// Our answer to a software version query.
pub fn version(user_agent: &str) -> VersionResult {
    VersionResult {
        name: user_agent.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        os: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

    #[test]
    fn room_answers_say_what_failed_and_successes_of_kicks_say_nothing() {
        let forbidden = || StanzaError::new(ErrorType::Auth, DefinedCondition::Forbidden, "en", "");
        let room = BareJid::new("attic@conference.example.org").unwrap();
        let texts: Vec<String> = [
            room_answer(
                RoomRequest::List("conference.example.org".into()),
                Err(forbidden()),
            ),
            room_answer(
                RoomRequest::Kick("attic@conference.example.org".into(), "bob".into()),
                Err(forbidden()),
            ),
            room_answer(RoomRequest::Configure(room.clone()), Err(forbidden())),
        ]
        .into_iter()
        .map(|e| match e {
            Some(Event::Error { text }) => text,
            other => panic!("{other:?}"),
        })
        .collect();
        assert!(
            texts[0].starts_with("Could not list the chatrooms on conference.example.org: "),
            "{texts:?}"
        );
        assert!(
            texts[1].starts_with("Could not kick bob from attic@conference.example.org: "),
            "{texts:?}"
        );
        assert!(
            texts[2].starts_with("Could not configure new room attic@conference.example.org: "),
            "{texts:?}"
        );
        assert!(room_answer(RoomRequest::Kick("r".into(), "n".into()), Ok(None)).is_none());
        assert!(room_answer(RoomRequest::Configure(room), Ok(None)).is_none());
        assert!(matches!(
            room_answer(RoomRequest::List("s".into()), Ok(None)),
            Some(Event::RoomList { rooms }) if rooms.is_empty()
        ));
        assert_eq!(profile_lines(Ok(None)), Vec::<String>::new());
        assert_eq!(
            profile_lines(Err(forbidden())),
            ["No profile available (forbidden)"]
        );
    }

    #[test]
    fn vcard_rendering() {
        let el: Element = "<vCard xmlns='vcard-temp'><FN>Bob Builder</FN><NICKNAME>bob</NICKNAME>\
             <EMAIL><USERID>bob@example.org</USERID></EMAIL><URL>https://bob.example</URL>\
             <ORG><ORGNAME>Builders</ORGNAME></ORG><DESC>line1\nline2</DESC></vCard>"
            .parse()
            .expect("xml");
        let v = VCard::try_from(el).expect("vcard");
        assert_eq!(
            vcard_lines(&v),
            vec![
                "Full name: Bob Builder",
                "Nickname: bob",
                "E-mail: bob@example.org",
                "Homepage: https://bob.example",
                "Organization: Builders",
                "Description:",
                "  line1",
                "  line2",
            ]
        );
    }

    #[test]
    fn roster_items() {
        let el: Element = "<query xmlns='jabber:iq:roster'><item jid='bob@example.org' name='Bob' \
             subscription='both'><group>Friends</group></item></query>"
            .parse()
            .expect("xml");
        let r = Roster::try_from(el).expect("roster");
        let c = contact(&r.items[0], CorePresence::default());
        assert_eq!(c.handle, "bob@example.org");
        assert_eq!(c.display_name.as_deref(), Some("Bob"));
        assert_eq!(c.group.as_deref(), Some("Friends"));
    }

    #[test]
    fn room_lists() {
        let el: Element = "<query xmlns='http://jabber.org/protocol/disco#items'>\
             <item jid='a@conf.example' name='Room A'/><item jid='b@conf.example'/></query>"
            .parse()
            .expect("xml");
        let items = DiscoItemsResult::try_from(el).expect("items");
        let rooms = room_list(&items);
        assert_eq!(rooms.len(), 2);
        assert_eq!(rooms[0].id, "a@conf.example");
        assert_eq!(rooms[0].name.as_deref(), Some("Room A"));
        assert_eq!(rooms[1].name, None);
    }
}
