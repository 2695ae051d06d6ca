//! Stanzas for the user turned into events: one-to-one messages (with their
//! ids, receipts sent once the core has logged them), chat states, room lines
//! and presences, invitations, subscriptions, probes, and the IQs the user's
//! JID answers or that answer ours.

use std::time::SystemTime;

use waggle_core::{Event, MessageIds, RoomId};
use waggle_xmpp::convert::iq as iqc;
use waggle_xmpp::convert::message::{self as msg, Chat, Inbound};
use waggle_xmpp::convert::presence::{self as pres, Kind};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, StanzaError};

use super::{Account, AfterAck, Pending};
use crate::roster::Inbound as Sub;

/// XEP-0359 stanza ids.
const SID: &str = "urn:xmpp:sid:0";

/// The ids a message carries: the sender's origin-id (else its `id`, for
/// one-to-one messages), and for a room's message the room's stanza-id.
pub(crate) fn message_ids(m: &Message, room: Option<&BareJid>) -> MessageIds {
    let mut ids = MessageIds::default();
    for p in &m.payloads {
        if p.is("origin-id", SID) {
            ids.origin = p.attr("id").map(str::to_string);
        } else if p.is("stanza-id", SID)
            && let Some(room) = room
            && p.attr("by")
                .is_some_and(|by| by.eq_ignore_ascii_case(room.as_str()))
        {
            ids.archive = p.attr("id").map(str::to_string);
        }
    }
    if ids.origin.is_none() && room.is_none() {
        ids.origin = m.id.as_ref().map(|id| id.0.clone());
    }
    ids
}

impl Account<'_> {
    /// A stanza for the user.
    pub(super) async fn stanza(&mut self, s: Stanza) {
        match s {
            Stanza::Message(m) => self.message(m).await,
            Stanza::Presence(p) => self.presence(p).await,
            Stanza::Iq(iq) => self.iq(iq).await,
        }
    }

    fn sender_blocked(&self, from: &Jid) -> bool {
        self.lists.get(&from.to_bare().to_string().to_lowercase())
            == Some(&waggle_core::ListKind::Block)
    }

    async fn message(&mut self, m: Message) {
        let Some(from) = m.from.clone() else { return };
        let bare = from.to_bare();
        let room = self.rooms.get(&bare).is_some();
        if !room && self.sender_blocked(&from) {
            if m.type_ != MessageType::Error
                && let Some(reply) = crate::service::message_error(
                    &Stanza::Message(m),
                    DefinedCondition::ServiceUnavailable,
                    "",
                )
            {
                self.send(reply);
            }
            return;
        }
        let ids = message_ids(&m, room.then_some(&bare));
        match msg::classify(m, &self.bare) {
            Inbound::Nothing => {}
            // Nobody's archive is queried through the component: a result is
            // someone else's answer, or forged.
            Inbound::Archived(_) => tracing::debug!("archive result nobody asked for ignored"),
            Inbound::Chat(c) => {
                if let Some(seq) = self.chat(c.clone(), ids, None).await
                    && let Some(id) = c.receipt_for
                {
                    self.receipt_after(seq, c.peer, id);
                }
            }
            Inbound::Room(line) => self.room_line(line, ids).await,
            Inbound::Invite {
                room,
                from,
                reason,
                password,
            } => {
                if let Some(p) = password {
                    self.rooms.invite_passwords.remember(room.clone(), p);
                }
                self.emit(Event::InvitedToRoom {
                    room: RoomId(room.to_string()),
                    from,
                    reason,
                })
                .await;
            }
            Inbound::Error { from, text } => {
                let who = from.map(|f| f.to_string()).unwrap_or_default();
                let room = Jid::new(&who)
                    .ok()
                    .and_then(|j| self.rooms.get(&j.to_bare()).map(|r| r.id.0.clone()));
                match room {
                    Some(room) => self.error(format!("{room}: {text}")).await,
                    None => {
                        self.error(format!("Could not deliver message to {who}: {text}"))
                            .await
                    }
                }
            }
            Inbound::Headline { from, body } => {
                self.emit(Event::Notice {
                    text: format!("Message from {from}: {body}"),
                })
                .await
            }
        }
    }

    /// The handle a one-to-one peer is known by: the bare JID, or the full one
    /// for a private message from a room occupant.
    fn peer_handle(&self, peer: &Jid) -> String {
        let bare = peer.to_bare();
        if self.rooms.get(&bare).is_some() && peer.resource().is_some() {
            peer.to_string()
        } else {
            bare.to_string()
        }
    }

    /// A one-to-one message or chat state; returns the message event's number.
    async fn chat(
        &mut self,
        c: Chat,
        ids: MessageIds,
        received: Option<SystemTime>,
    ) -> Option<u64> {
        let from = self.peer_handle(&c.peer);
        match c.body {
            Some(body) => {
                let event = Event::MessageReceived {
                    from,
                    body,
                    kind: c.kind,
                    sent_at: c.sent_at.or(received),
                    from_self: false,
                    ids,
                };
                self.ctx.emit_numbered(event).await
            }
            None => {
                if let Some(state) = c.typing {
                    self.emit(Event::TypingChanged { from, state }).await;
                }
                None
            }
        }
    }

    /// Send a delivery receipt once event `seq` is handled (logged).
    fn receipt_after(&mut self, seq: u64, to: Jid, id: String) {
        let mut receipt = msg::receipt(to, id);
        receipt.from = Some(self.me_jid());
        self.acks
            .push_back((seq, AfterAck::Send(Box::new(receipt.into()))));
    }

    /// A message taken from the inbox.
    pub(super) async fn inbox_message(&mut self, row: i64, received: SystemTime, m: Message) {
        let mut ids = message_ids(&m, None);
        if ids.origin.is_none() {
            ids.origin = Some(format!("waggle-inbox-{row}"));
        }
        let seq = match msg::classify(m, &self.bare) {
            Inbound::Chat(c) if c.body.is_some() => {
                let receipt = c.receipt_for.clone().map(|id| (c.peer.clone(), id));
                let seq = self.chat(c, ids, Some(received)).await;
                if let (Some(seq), Some((peer, id))) = (seq, receipt) {
                    self.receipt_after(seq, peer, id);
                }
                seq
            }
            _ => None,
        };
        let seq = seq.unwrap_or_else(|| self.ctx.emitted());
        self.acks.push_back((seq, AfterAck::DropInbox(row)));
    }

    async fn presence(&mut self, p: Presence) {
        let Some(inbound) = pres::classify(p) else {
            return;
        };
        let bare = inbound.from.to_bare();
        if self.rooms.get(&bare).is_some() {
            return self.room_presence(inbound).await;
        }
        let from = inbound.from.clone();
        match inbound.kind {
            Kind::Subscribe => self.subscription(&from, Sub::Subscribe).await,
            Kind::Subscribed => self.subscription(&from, Sub::Subscribed).await,
            Kind::Unsubscribe => self.subscription(&from, Sub::Unsubscribe).await,
            Kind::Unsubscribed => self.subscription(&from, Sub::Unsubscribed).await,
            Kind::Probe => self.probe(&from),
            kind @ (Kind::Available { .. } | Kind::Unavailable { .. }) => {
                self.contact_presence(&from, kind).await
            }
            Kind::Error { text, .. } => {
                tracing::debug!(from = %from, %text, "presence error");
            }
        }
    }

    async fn iq(&mut self, iq: Iq) {
        match iq {
            Iq::Result { id, payload, .. } => self.iq_answer(&id, Ok(payload)).await,
            Iq::Error { id, error, .. } => self.iq_answer(&id, Err(error)).await,
            request @ (Iq::Get { .. } | Iq::Set { .. }) => {
                let blocked = request.from().is_some_and(|f| self.sender_blocked(f));
                let s = Stanza::Iq(request);
                let reply = if blocked {
                    crate::service::message_error(&s, DefinedCondition::ServiceUnavailable, "")
                } else {
                    crate::service::for_user(&s, &self.nick, &self.realname, true)
                };
                if let Some(r) = reply {
                    self.send(r);
                }
            }
        }
    }

    /// The answer to one of our IQs.
    async fn iq_answer(&mut self, id: &str, result: Result<Option<Element>, StanzaError>) {
        let Some(why) = self.pending.remove(id) else {
            return;
        };
        match (why, result) {
            (Pending::VCard(handle), result) => {
                let mut lines = iqc::profile_lines(result);
                if lines.is_empty() {
                    lines.push("No profile available".into());
                }
                self.emit(Event::Info { handle, lines }).await;
            }
            (Pending::Room(request), result) => self.tell(iqc::room_answer(request, result)).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Message {
        let el: Element = xml.parse().expect("xml");
        Message::try_from(el).expect("message")
    }

    #[test]
    fn ids_come_from_origin_id_then_id_and_rooms_stamp() {
        let m = parse(
            "<message xmlns='jabber:client' from='bob@x/pc' id='m1' type='chat'><body>hi</body>\
             <origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>",
        );
        assert_eq!(message_ids(&m, None).origin.as_deref(), Some("o1"));
        let m = parse(
            "<message xmlns='jabber:client' from='bob@x/pc' id='m1' type='chat'><body>hi</body></message>",
        );
        assert_eq!(message_ids(&m, None).origin.as_deref(), Some("m1"));
        let room = BareJid::new("r@conf.x").expect("jid");
        let m = parse(
            "<message xmlns='jabber:client' from='r@conf.x/bob' id='m2' type='groupchat'><body>hi</body>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='s9' by='r@conf.x'/>\
             <stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='evil@x'/></message>",
        );
        let ids = message_ids(&m, Some(&room));
        assert_eq!((ids.archive.as_deref(), ids.origin), (Some("s9"), None));
    }
}
