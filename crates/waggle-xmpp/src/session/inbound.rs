//! Stanzas from the server turned into events: one-to-one messages, contacts'
//! presence and subscriptions (IQs are in [`answers`](super::answers)).
//! Presence is kept only for roster contacts, and a subscription request is
//! asked once however often it comes, so no stranger can make the session
//! grow.

use tokio_xmpp::xmlstream::{StreamElementError, XmppStreamElement};
use waggle_core::{Event, RoomId};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::roster::Resource;
use super::{Question, Session};
use crate::convert::message::{self as msg, Chat, Inbound};
use crate::convert::presence::{self as pres, Kind};
use crate::error::XmppError;
use crate::login::stream_error;

impl Session<'_> {
    /// A stream-level element.
    pub(super) async fn element(&mut self, el: XmppStreamElement) -> Result<(), XmppError> {
        match el {
            XmppStreamElement::Stanza(Stanza::Message(m)) => {
                let inbound = msg::classify(m, &self.bare());
                self.message(inbound).await
            }
            XmppStreamElement::Stanza(Stanza::Presence(p)) => match pres::classify(p) {
                Some(p) => self.presence(p).await,
                None => Ok(()),
            },
            XmppStreamElement::Stanza(Stanza::Iq(iq)) => self.iq_in(iq).await,
            XmppStreamElement::StreamError(e) => Err(stream_error(&e)),
            other => {
                tracing::debug!(?other, "ignored stream element");
                Ok(())
            }
        }
    }

    /// A stanza that did not parse: answer IQ requests with an error, drop the rest.
    pub(super) async fn invalid_stanza(&mut self, e: StreamElementError) -> Result<(), XmppError> {
        tracing::debug!(error = %e, "invalid stanza");
        if let StreamElementError::InvalidStanza { header, .. } = e
            && matches!(header.type_.as_deref(), Some("get" | "set"))
            && let Some(id) = header.id
        {
            let to = header.from.and_then(|f| Jid::new(&f).ok());
            let err = StanzaError::new(ErrorType::Modify, DefinedCondition::BadRequest, "en", "");
            let mut iq = Iq::from_error(id, err);
            *iq.to_mut() = to;
            return self.send(iq).await;
        }
        Ok(())
    }

    async fn message(&mut self, inbound: Inbound) -> Result<(), XmppError> {
        match inbound {
            Inbound::Nothing => Ok(()),
            Inbound::Chat(c) => self.chat(c).await,
            Inbound::Archived(a) => self.archived(a).await,
            Inbound::Room(line) => self.room_line(line).await,
            Inbound::Invite {
                room,
                from,
                reason,
                password,
            } => {
                if let Some(p) = password {
                    self.invite_passwords.remember(room.clone(), p);
                }
                self.emit(Event::InvitedToRoom {
                    room: RoomId(room.to_string()),
                    from,
                    reason,
                })
                .await;
                Ok(())
            }
            Inbound::Error { from, text } => {
                let who = from.map(|f| f.to_string()).unwrap_or_default();
                match from_room(&self.rooms, &who) {
                    Some(room) => self.error(format!("{room}: {text}")).await,
                    None => {
                        self.error(format!("Could not deliver message to {who}: {text}"))
                            .await
                    }
                }
                Ok(())
            }
            Inbound::Headline { from, body } => {
                self.emit(Event::Notice {
                    text: format!("Message from {from}: {body}"),
                })
                .await;
                Ok(())
            }
        }
    }

    /// The handle a one-to-one peer is known by: the bare JID, or the full one
    /// for a private message from a room occupant.
    pub(super) fn peer_handle(&self, peer: &Jid) -> String {
        let bare = peer.to_bare();
        if self.rooms.get(&bare).is_some() && peer.resource().is_some() {
            peer.to_string()
        } else {
            bare.to_string()
        }
    }

    /// A live one-to-one message or chat state. Its receipt (XEP-0184) goes
    /// out once the core has handled the message.
    async fn chat(&mut self, c: Chat) -> Result<(), XmppError> {
        if c.body.is_some() && !c.from_self {
            // For resource_select activity: replies go where they wrote from.
            self.roster.active(&c.peer);
        }
        if c.body.is_some() {
            return self.chat_event(c, true).await;
        }
        if let Some(state) = c.typing {
            let from = self.peer_handle(&c.peer);
            self.emit(Event::TypingChanged { from, state }).await;
        }
        Ok(())
    }

    async fn presence(&mut self, p: pres::Inbound) -> Result<(), XmppError> {
        let bare = p.from.to_bare();
        if self.rooms.get(&bare).is_some() {
            return self.room_presence(p).await;
        }
        if bare == self.bare() {
            return Ok(());
        }
        match p.kind {
            // Presence from someone not on the roster is not kept.
            Kind::Available { .. } | Kind::Unavailable { .. }
                if self.roster.item(&bare).is_none() => {}
            Kind::Available {
                show,
                status,
                priority,
            } => {
                self.roster.available(
                    &p.from,
                    Resource {
                        priority,
                        show,
                        status,
                    },
                );
                self.contact_changed(&bare).await;
            }
            Kind::Unavailable { .. } => {
                self.roster.unavailable(&p.from);
                self.contact_changed(&bare).await;
            }
            Kind::Subscribe => {
                if self.roster.seen_by(&bare) {
                    let ok = pres::subscription(bare, PresenceType::Subscribed);
                    return self.send(ok).await;
                }
                if self.live.ignore_auth_requests {
                    tracing::debug!("subscription request left unanswered (ignore_auth_requests)");
                    return Ok(());
                }
                let name = self
                    .roster
                    .item(&bare)
                    .and_then(|i| i.name.clone())
                    .filter(|n| !n.trim().is_empty());
                let text = match name {
                    Some(n) => {
                        format!("The user {bare} ({n}) wants to add you to his/her buddy list.")
                    }
                    None => format!("The user {bare} wants to add you to his/her buddy list."),
                };
                self.ask(Question::Subscribe(bare), text).await;
            }
            Kind::Subscribed => {
                self.emit(Event::Notice {
                    text: format!("{bare} accepted your contact request"),
                })
                .await;
            }
            Kind::Unsubscribed => {
                self.emit(Event::Notice {
                    text: format!("{bare} refused or cancelled your contact request"),
                })
                .await;
            }
            Kind::Unsubscribe | Kind::Probe => {}
            Kind::Error { text, .. } => {
                tracing::debug!(from = %p.from, %text, "presence error");
            }
        }
        Ok(())
    }

    /// Tell the core about a roster contact's current state.
    pub(super) async fn contact_changed(&self, jid: &BareJid) {
        if let Some(c) = self.roster.contact(jid) {
            self.emit(Event::ContactUpdated(c)).await;
        }
    }
}

/// The room a JID belongs to, if we are in it.
fn from_room(rooms: &super::rooms::Rooms, jid: &str) -> Option<String> {
    let bare = Jid::new(jid).ok()?.to_bare();
    rooms.get(&bare).map(|r| r.id.0.clone())
}
