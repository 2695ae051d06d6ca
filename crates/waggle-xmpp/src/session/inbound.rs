//! Stanzas from the server turned into events: one-to-one messages, contacts'
//! presence and subscriptions, roster pushes, IQ answers and the IQs we answer.

use tokio_xmpp::xmlstream::{StreamElementError, XmppStreamElement};
use waggle_core::{Event, RoomId};
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, DiscoItemsResult};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::roster::{Roster as RosterQuery, Subscription};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};
use xmpp_parsers::vcard::VCard;

use super::roster::Resource;
use super::{Pending, Question, Session};
use crate::convert::iq as iqc;
use crate::convert::message::{self as msg, Chat, Inbound};
use crate::convert::presence::{self as pres, Kind};
use crate::convert::{condition_name, error_text};
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
            Inbound::Room(line) => self.room_line(line).await,
            Inbound::Invite {
                room,
                from,
                reason,
                password,
            } => {
                if let Some(p) = password {
                    self.invite_passwords.insert(room.clone(), p);
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
    fn peer_handle(&self, peer: &Jid) -> String {
        let bare = peer.to_bare();
        if self.rooms.get(&bare).is_some() && peer.resource().is_some() {
            peer.to_string()
        } else {
            bare.to_string()
        }
    }

    async fn chat(&mut self, c: Chat) -> Result<(), XmppError> {
        let handle = self.peer_handle(&c.peer);
        if let Some(id) = c.receipt_for.clone() {
            self.send(msg::receipt(c.peer.clone(), id)).await?;
        }
        match c.body {
            Some(body) => {
                self.emit(Event::MessageReceived {
                    from: handle,
                    body,
                    kind: c.kind,
                    sent_at: c.sent_at,
                    from_self: c.from_self,
                    ids: Default::default(),
                })
                .await
            }
            None => {
                if let Some(state) = c.typing {
                    self.emit(Event::TypingChanged {
                        from: handle,
                        state,
                    })
                    .await
                }
            }
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
                let id = self.question_id();
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
                self.questions.insert(id, Question::Subscribe(bare));
                self.emit(Event::QuestionAsked { id, text }).await;
            }
            Kind::Subscribed => {
                self.emit(Event::Notice {
                    text: format!("{bare} accepted your contact request"),
                })
                .await
            }
            Kind::Unsubscribed => {
                self.emit(Event::Notice {
                    text: format!("{bare} refused or cancelled your contact request"),
                })
                .await
            }
            Kind::Unsubscribe | Kind::Probe => {}
            Kind::Error { text, .. } => {
                tracing::debug!(from = %p.from, %text, "presence error");
            }
        }
        Ok(())
    }

    /// Tell the core about a roster contact's current state.
    async fn contact_changed(&self, jid: &BareJid) {
        if let Some(c) = self.roster.contact(jid) {
            self.emit(Event::ContactUpdated(c)).await;
        }
    }

    async fn iq_in(&mut self, iq: Iq) -> Result<(), XmppError> {
        match iq {
            Iq::Result { id, payload, .. } => self.answer(&id, Ok(payload)).await,
            Iq::Error { id, error, .. } => self.answer(&id, Err(error)).await,
            Iq::Get {
                from, id, payload, ..
            } => self.request(from, id, payload, false).await,
            Iq::Set {
                from, id, payload, ..
            } => self.request(from, id, payload, true).await,
        }
    }

    /// An IQ someone sent us: answer it.
    async fn request(
        &mut self,
        from: Option<Jid>,
        id: String,
        payload: Element,
        set: bool,
    ) -> Result<(), XmppError> {
        let trusted = from.as_ref().is_none_or(|f| *f == self.bare());
        let mut reply = if set && trusted && payload.is("query", ns::ROSTER) {
            if let Ok(push) = RosterQuery::try_from(payload) {
                self.roster_push(push).await;
            }
            Iq::empty_result(self.bare().into(), id)
        } else if !set && payload.is("ping", ns::PING) {
            Iq::empty_result(self.bare().into(), id)
        } else if !set && payload.is("query", ns::DISCO_INFO) {
            let query = DiscoInfoQuery::try_from(payload).ok();
            let mut info = iqc::disco_info(&self.cfg.user_agent);
            info.node = query.and_then(|q| q.node);
            Iq::from_result(id, Some(info))
        } else if !set && payload.is("query", ns::VERSION) {
            Iq::from_result(id, Some(iqc::version(&self.cfg.user_agent)))
        } else {
            let err = StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "en",
                "",
            );
            Iq::from_error(id, err)
        };
        // Answer whoever asked (the server itself when there is no sender).
        *reply.to_mut() = from;
        self.send(reply).await
    }

    async fn roster_push(&mut self, push: RosterQuery) {
        for item in push.items {
            let jid = item.jid.clone();
            if item.subscription == Subscription::Remove {
                self.roster.remove(&jid);
                self.emit(Event::ContactRemoved {
                    handle: jid.to_string(),
                })
                .await;
            } else {
                self.roster.upsert(item);
                self.contact_changed(&jid).await;
            }
        }
    }

    /// The answer to one of our IQs.
    async fn answer(
        &mut self,
        id: &str,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        let Some((why, _)) = self.pending.remove(id) else {
            return Ok(());
        };
        match (why, result) {
            (Pending::Roster, Ok(payload)) => {
                let items = payload
                    .and_then(|p| RosterQuery::try_from(p).ok())
                    .map(|r| r.items)
                    .unwrap_or_default();
                self.roster.replace(items);
                let jids: Vec<BareJid> = self.roster.items().map(|i| i.jid.clone()).collect();
                for jid in jids {
                    self.contact_changed(&jid).await;
                }
                self.logged_in().await?;
            }
            (Pending::Roster, Err(e)) => {
                return Err(XmppError::Protocol(format!(
                    "Could not get the buddy list: {}",
                    error_text(&e)
                )));
            }
            (Pending::RosterSet(handle, adding), Err(e)) => {
                let what = if adding { "add" } else { "remove" };
                self.error(format!("Could not {what} {handle}: {}", error_text(&e)))
                    .await
            }
            (Pending::VCard(handle), result) => {
                let mut lines = match result {
                    Ok(Some(p)) => VCard::try_from(p)
                        .map(|v| iqc::vcard_lines(&v))
                        .unwrap_or_default(),
                    Ok(None) => vec![],
                    Err(e) => vec![format!(
                        "No profile available ({})",
                        condition_name(&e.defined_condition)
                    )],
                };
                if let Ok(jid) = BareJid::new(&handle)
                    && self.roster.item(&jid).is_some()
                {
                    lines.extend(self.roster.resource_lines(&jid));
                }
                if lines.is_empty() {
                    lines.push("No profile available".into());
                }
                self.emit(Event::Info { handle, lines }).await;
            }
            (Pending::Block(handle, block), Err(e)) => {
                let what = if block { "block" } else { "unblock" };
                self.error(format!("Could not {what} {handle}: {}", error_text(&e)))
                    .await
            }
            (Pending::ServerItems, Ok(Some(p))) => {
                if let Ok(items) = DiscoItemsResult::try_from(p) {
                    for item in items.items.into_iter().take(20) {
                        let jid = item.jid.to_bare();
                        self.iq_get(
                            Some(item.jid),
                            DiscoInfoQuery { node: None },
                            Pending::ServiceInfo(jid),
                        )
                        .await?;
                    }
                }
            }
            (Pending::ServiceInfo(jid), Ok(Some(p))) => {
                if self.muc_service.is_none()
                    && DiscoInfoResult::try_from(p).is_ok_and(|i| iqc::is_muc_service(&i))
                {
                    tracing::debug!(service = %jid, "group chat service found");
                    self.muc_service = Some(jid);
                }
            }
            (Pending::RoomList(service), Ok(payload)) => {
                let items = payload
                    .and_then(|p| DiscoItemsResult::try_from(p).ok())
                    .unwrap_or(DiscoItemsResult {
                        node: None,
                        items: vec![],
                        rsm: None,
                    });
                for text in iqc::room_list_lines(&service, &items) {
                    self.emit(Event::Notice { text }).await;
                }
            }
            (Pending::RoomList(service), Err(e)) => {
                self.error(format!(
                    "Could not list the chatrooms on {service}: {}",
                    error_text(&e)
                ))
                .await
            }
            (Pending::Kick(room, nick), Err(e)) => {
                self.error(format!(
                    "Could not kick {nick} from {room}: {}",
                    error_text(&e)
                ))
                .await
            }
            (Pending::RoomConfig(room), Err(e)) => {
                self.error(format!(
                    "Could not configure new room {room}: {}",
                    error_text(&e)
                ))
                .await
            }
            (Pending::Carbons, Err(e)) => {
                tracing::debug!(error = %error_text(&e), "carbons not enabled");
            }
            (why, result) => {
                tracing::trace!(?why, ok = result.is_ok(), "IQ answered");
            }
        }
        Ok(())
    }
}

/// The room a JID belongs to, if we are in it.
fn from_room(rooms: &super::rooms::Rooms, jid: &str) -> Option<String> {
    let bare = Jid::new(jid).ok()?.to_bare();
    rooms.get(&bare).map(|r| r.id.0.clone())
}
