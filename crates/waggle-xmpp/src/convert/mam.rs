//! Message ids and archives: XEP-0359 stanza-ids (the id an archive gave a
//! message) and origin-ids (the sender's own), and XEP-0313 archive queries
//! and the archived messages they return.

use std::time::SystemTime;

use waggle_core::MessageIds;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::mam::{Query, QueryId, Result_};
use xmpp_parsers::message::Message;
use xmpp_parsers::ns;
use xmpp_parsers::rsm::SetQuery;

use super::system_time;

/// How many archived messages one page asks for (Prosody's largest page).
pub const PAGE: usize = 50;

/// The stanza-id the archive of `by` gave `msg`, if it carries one.
pub fn stanza_id_by(msg: &Message, by: &BareJid) -> Option<String> {
    let by = Jid::from(by.clone());
    msg.payloads
        .iter()
        .filter(|e| e.is("stanza-id", ns::SID))
        .find(|e| e.attr("by").and_then(|b| Jid::new(b).ok()).as_ref() == Some(&by))
        .and_then(|e| e.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// The sender's own id for `msg` (its origin-id), if it carries one.
pub fn origin_id(msg: &Message) -> Option<String> {
    msg.payloads
        .iter()
        .find(|e| e.is("origin-id", ns::SID))
        .and_then(|e| e.attr("id"))
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// The ids of `msg` in the archive of `by`.
pub fn ids(msg: &Message, by: &BareJid) -> MessageIds {
    MessageIds {
        archive: stanza_id_by(msg, by),
        origin: origin_id(msg),
    }
}

/// A page of the archive: up to [`PAGE`] messages after archive id `after`.
pub fn query_after(queryid: &str, after: &str) -> Query {
    query(
        queryid,
        SetQuery {
            max: Some(PAGE),
            after: Some(after.to_string()),
            before: None,
            index: None,
        },
    )
}

/// The archive's last message only: where a catch-up would start from now.
pub fn query_last(queryid: &str) -> Query {
    query(
        queryid,
        SetQuery {
            max: Some(1),
            after: None,
            before: Some(String::new()),
            index: None,
        },
    )
}

fn query(queryid: &str, set: SetQuery) -> Query {
    Query {
        queryid: Some(QueryId(queryid.to_string())),
        node: None,
        form: None,
        set: Some(set),
        flip_page: false,
    }
}

/// A message as an archive query returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Archived {
    /// The archive that sent it: `None` or our bare JID for our own archive,
    /// a room's JID for a room's.
    pub archive: Option<BareJid>,
    /// The query it answers.
    pub queryid: Option<String>,
    /// Its id in the archive.
    pub id: String,
    /// When it was originally sent (made sane with [`system_time`]).
    pub sent_at: Option<SystemTime>,
    /// The message as it was.
    pub message: Message,
}

/// The archived message `msg` carries (XEP-0313 `<result/>`), if it is one.
pub fn archived(msg: &Message) -> Option<Archived> {
    let el = msg.payloads.iter().find(|e| e.is("result", ns::MAM))?;
    let result = Result_::try_from(el.clone()).ok()?;
    Some(Archived {
        archive: msg.from.as_ref().map(|f| f.to_bare()),
        queryid: result.queryid.map(|q| q.0),
        id: result.id,
        sent_at: result
            .forwarded
            .delay
            .as_ref()
            .map(|d| system_time(&d.stamp)),
        message: result.forwarded.message,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::minidom::Element;

    fn message(xml: &str) -> Message {
        let el: Element = xml.parse().unwrap();
        Message::try_from(el).unwrap()
    }

    #[test]
    fn ids_by_the_right_archive() {
        let m = message(
            "<message xmlns='jabber:client' from='bob@example.org/pc' type='chat'>\
             <body>hi</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='room@conf.example' id='R1'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' by='me@example.org' id='A1'/>\
             <origin-id xmlns='urn:xmpp:sid:0' id='O1'/></message>",
        );
        let me = BareJid::new("me@example.org").unwrap();
        assert_eq!(
            ids(&m, &me),
            MessageIds {
                archive: Some("A1".into()),
                origin: Some("O1".into())
            }
        );
        let other = BareJid::new("else@example.org").unwrap();
        assert_eq!(stanza_id_by(&m, &other), None);
    }

    #[test]
    fn archived_results() {
        let m = message(
            "<message xmlns='jabber:client' to='me@example.org/w'>\
             <result xmlns='urn:xmpp:mam:2' queryid='q1' id='A7'>\
             <forwarded xmlns='urn:xmpp:forward:0'>\
             <delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/>\
             <message xmlns='jabber:client' from='bob@example.org/pc' to='me@example.org' type='chat'>\
             <body>while you were out</body></message></forwarded></result></message>",
        );
        let a = archived(&m).expect("archived");
        assert_eq!(a.archive, None);
        assert_eq!((a.queryid.as_deref(), a.id.as_str()), (Some("q1"), "A7"));
        assert!(a.sent_at.is_some());
        assert_eq!(
            a.message.get_best_body(vec![]).map(|(_, b)| b.as_str()),
            Some("while you were out")
        );
        let plain = message(
            "<message xmlns='jabber:client' from='bob@example.org'><body>x</body></message>",
        );
        assert!(archived(&plain).is_none());
    }

    #[test]
    fn queries_page_after_a_cursor_or_ask_for_the_end() {
        let q: Element = query_after("q", "A1").into();
        let set = q.get_child("set", ns::RSM).expect("set");
        assert_eq!(
            set.get_child("after", ns::RSM).map(|a| a.text()),
            Some("A1".into())
        );
        let q: Element = query_last("q").into();
        let set = q.get_child("set", ns::RSM).expect("set");
        assert!(set.has_child("before", ns::RSM));
        assert_eq!(
            set.get_child("max", ns::RSM).map(|m| m.text()),
            Some("1".into())
        );
    }
}
