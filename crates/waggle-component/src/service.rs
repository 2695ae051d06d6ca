//! What the component answers as a server: for its own domain (disco#info with
//! identity `gateway/irc`, disco#items, XEP-0092 version, XEP-0199 ping,
//! presence subscriptions to the gateway itself), and for its users' JIDs
//! (disco#info, XEP-0054 vCard from the IRC nick and real name, ping,
//! version). The XEP-0115 caps users' presence carries are computed from the
//! users' disco#info.

use std::collections::BTreeSet;

use xmpp_parsers::caps::{Caps, compute_disco, hash_caps};
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, DiscoItemsResult, Identity};
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};
use xmpp_parsers::version::VersionResult;

use crate::shared::{bounce, stanza_error};

/// The XEP-0115 node naming this software.
pub(crate) const CAPS_NODE: &str = "urn:waggle:gateway";
/// The software's name in identities and version answers.
const NAME: &str = "Waggle";
/// XEP-0359 unique and stable stanza ids.
const SID: &str = "urn:xmpp:sid:0";

fn features(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The domain's disco#info: an IRC gateway.
pub(crate) fn domain_info() -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity {
            category: "gateway".into(),
            type_: "irc".into(),
            lang: None,
            name: Some(format!("{NAME} IRC gateway")),
        }],
        features: features(&[
            ns::DISCO_INFO,
            ns::DISCO_ITEMS,
            ns::VERSION,
            ns::PING,
            ns::VCARD,
        ]),
        extensions: vec![],
    }
}

/// A user's disco#info: a client on the gateway.
pub(crate) fn user_info() -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity {
            category: "client".into(),
            type_: "pc".into(),
            lang: None,
            name: Some(NAME.into()),
        }],
        features: features(&[
            ns::DISCO_INFO,
            ns::CAPS,
            ns::CHATSTATES,
            ns::RECEIPTS,
            ns::PING,
            ns::VERSION,
            ns::VCARD,
            ns::MUC,
            waggle_xmpp::convert::muc::CONFERENCE,
            SID,
        ]),
        extensions: vec![],
    }
}

/// The caps element of users' presence.
pub(crate) fn caps() -> Option<Caps> {
    let hash = hash_caps(&compute_disco(&user_info()), Algo::Sha_1).ok()?;
    Some(Caps::new(CAPS_NODE, hash))
}

/// The software version answer.
pub(crate) fn version() -> VersionResult {
    VersionResult {
        name: NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        os: None,
    }
}

/// A vCard with the IRC nick and real name.
pub(crate) fn vcard(nick: &str, realname: &str) -> Element {
    let mut b = Element::builder("vCard", ns::VCARD);
    if !realname.trim().is_empty() {
        b = b.append(
            Element::builder("FN", ns::VCARD)
                .append(realname.trim())
                .build(),
        );
    }
    if !nick.trim().is_empty() {
        b = b.append(
            Element::builder("NICKNAME", ns::VCARD)
                .append(nick.trim())
                .build(),
        );
    }
    b.build()
}

fn result(iq: &Iq, payload: Option<Element>) -> Stanza {
    let mut reply = match payload {
        Some(p) => Iq::Result {
            from: None,
            to: None,
            id: iq.id().to_string(),
            payload: Some(p),
        },
        None => Iq::Result {
            from: None,
            to: None,
            id: iq.id().to_string(),
            payload: None,
        },
    };
    *reply.to_mut() = iq.from().cloned();
    *reply.from_mut() = iq.to().cloned();
    reply.into()
}

fn unavailable(s: &Stanza) -> Option<Stanza> {
    bounce(
        s,
        stanza_error(ErrorType::Cancel, DefinedCondition::ServiceUnavailable, ""),
    )
}

/// A disco#info answer keeping the node asked about (caps queries name one).
fn info_answer(iq: &Iq, payload: &Element, mut info: DiscoInfoResult) -> Stanza {
    info.node = DiscoInfoQuery::try_from(payload.clone())
        .ok()
        .and_then(|q| q.node);
    result(iq, Some(info.into()))
}

/// The answer to a stanza for the domain itself.
pub(crate) fn for_domain(s: &Stanza) -> Vec<Stanza> {
    match s {
        Stanza::Iq(iq @ Iq::Get { payload, .. }) => {
            let reply = if payload.is("query", ns::DISCO_INFO) {
                info_answer(iq, payload, domain_info())
            } else if payload.is("query", ns::DISCO_ITEMS) {
                let items = DiscoItemsResult {
                    node: None,
                    items: vec![],
                    rsm: None,
                };
                result(iq, Some(items.into()))
            } else if payload.is("query", ns::VERSION) {
                result(iq, Some(version().into()))
            } else if payload.is("ping", ns::PING) {
                result(iq, None)
            } else {
                return unavailable(s).into_iter().collect();
            };
            vec![reply]
        }
        Stanza::Iq(Iq::Set { .. }) => unavailable(s).into_iter().collect(),
        Stanza::Iq(_) => vec![],
        Stanza::Message(m) if m.type_ != MessageType::Error => bounce(
            s,
            stanza_error(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "This is an IRC gateway; write to its users (name@this domain)",
            ),
        )
        .into_iter()
        .collect(),
        Stanza::Message(_) => vec![],
        Stanza::Presence(p) => {
            let Some(to) = p.from.clone() else {
                return vec![];
            };
            let me = p.to.clone();
            let reply = |type_| {
                let mut r = Presence::new(type_).with_to(to.clone());
                r.from = me.clone();
                Stanza::from(r)
            };
            match p.type_ {
                PresenceType::Subscribe => {
                    vec![reply(PresenceType::Subscribed), reply(PresenceType::None)]
                }
                PresenceType::Probe => vec![reply(PresenceType::None)],
                PresenceType::Unsubscribe => vec![reply(PresenceType::Unsubscribed)],
                _ => vec![],
            }
        }
    }
}

/// The answer to an IQ request for a user's JID: `nick` and `realname` for the
/// vCard; `running` whether the user's resource is online (it answers version
/// queries and pings to its full JID). `None` for IQs that are not requests.
pub(crate) fn for_user(s: &Stanza, nick: &str, realname: &str, running: bool) -> Option<Stanza> {
    let Stanza::Iq(iq) = s else {
        return None;
    };
    let full = iq.to().is_some_and(|t| t.resource().is_some());
    match iq {
        Iq::Get { payload, .. } => {
            if payload.is("query", ns::DISCO_INFO) {
                Some(info_answer(iq, payload, user_info()))
            } else if payload.is("vCard", ns::VCARD) {
                Some(result(iq, Some(vcard(nick, realname))))
            } else if payload.is("ping", ns::PING) && (running || !full) {
                Some(result(iq, None))
            } else if payload.is("query", ns::VERSION) && running {
                Some(result(iq, Some(version().into())))
            } else {
                unavailable(s)
            }
        }
        Iq::Set { .. } => unavailable(s),
        Iq::Result { .. } | Iq::Error { .. } => None,
    }
}

/// A message error for `to`, e.g. when the addressee cannot receive it.
pub(crate) fn message_error(s: &Stanza, condition: DefinedCondition, text: &str) -> Option<Stanza> {
    let type_ = match condition {
        DefinedCondition::ResourceConstraint => ErrorType::Wait,
        _ => ErrorType::Cancel,
    };
    bounce(s, stanza_error(type_, condition, text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn get(xml: &str) -> Stanza {
        let el: Element = format!(
            "<iq xmlns='jabber:client' type='get' id='q1' from='bob@example.org/pc' to='gw.example'>{xml}</iq>"
        )
        .parse()
        .expect("xml");
        Stanza::Iq(Iq::try_from(el).expect("iq"))
    }

    #[test]
    fn the_domain_is_an_irc_gateway() {
        let out = for_domain(&get(
            "<query xmlns='http://jabber.org/protocol/disco#info'/>",
        ));
        let Some(Stanza::Iq(Iq::Result {
            payload: Some(p),
            to,
            from,
            ..
        })) = out.first()
        else {
            panic!("no result: {out:?}")
        };
        assert_eq!(
            to.as_ref().map(|j| j.to_string()).as_deref(),
            Some("bob@example.org/pc")
        );
        assert_eq!(
            from.as_ref().map(|j| j.to_string()).as_deref(),
            Some("gw.example")
        );
        let info = DiscoInfoResult::try_from(p.clone()).expect("info");
        assert_eq!(info.identities[0].category, "gateway");
        assert_eq!(info.identities[0].type_, "irc");
        let out = for_domain(&get("<nope xmlns='urn:x'/>"));
        assert!(matches!(out.first(), Some(Stanza::Iq(Iq::Error { .. }))));
    }

    #[test]
    fn users_answer_vcards_and_caps_match_their_info() {
        let s = get("<vCard xmlns='vcard-temp'/>");
        let Some(Stanza::Iq(Iq::Result {
            payload: Some(v), ..
        })) = for_user(&s, "alice", "Alice L.", false)
        else {
            panic!("no vcard")
        };
        assert_eq!(
            v.get_child("FN", ns::VCARD).map(|e| e.text()).as_deref(),
            Some("Alice L.")
        );
        assert_eq!(
            v.get_child("NICKNAME", ns::VCARD)
                .map(|e| e.text())
                .as_deref(),
            Some("alice")
        );
        let caps = caps().expect("caps");
        let again = hash_caps(&compute_disco(&user_info()), Algo::Sha_1).expect("hash");
        assert_eq!(caps.ver, again.hash);
        let version = get("<query xmlns='jabber:iq:version'/>");
        assert!(matches!(
            for_user(&version, "a", "b", false),
            Some(Stanza::Iq(Iq::Error { .. }))
        ));
        assert!(matches!(
            for_user(&version, "a", "b", true),
            Some(Stanza::Iq(Iq::Result { .. }))
        ));
    }
}
