//! The core's commands carried out as stanzas.

use waggle_core::{Command, RoomId};
use xmpp_parsers::disco::DiscoItemsQuery;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::vcard::VCardQuery;

use super::console::CONSOLE;
use super::live::Applied;
use super::{Pending, Question, Session, random_id};
use crate::convert::iq::{self as iqc, RoomRequest};
use crate::convert::message as msg;
use crate::convert::muc::AdminQuery;
use crate::convert::presence as pres;
use crate::error::XmppError;
use xmpp_parsers::version::VersionQuery;

impl Session<'_> {
    /// Carry out one command. Only a dead connection is an error; a command that
    /// cannot be done is reported to the user as [`Event::Error`].
    pub(super) async fn command(&mut self, cmd: Command) -> Result<(), XmppError> {
        match cmd {
            Command::SendMessage { to, body, kind, id } => {
                if to.eq_ignore_ascii_case(CONSOLE) {
                    return self.console_write(&body).await;
                }
                let Some(to) = self.recipient(&to).await else {
                    return Ok(());
                };
                let id = id.unwrap_or_else(random_id);
                self.send(msg::chat(to, &body, kind, &id)).await
            }
            Command::SendRoomMessage {
                room,
                body,
                kind,
                id,
            } => {
                let Some(jid) = self.joined_room(&room).await else {
                    return Ok(());
                };
                let id = id.unwrap_or_else(random_id);
                self.send(msg::groupchat(jid, &body, kind, &id)).await
            }
            Command::SendTyping { to, state } => match Jid::new(&to) {
                Ok(_) => match self.recipient(&to).await {
                    Some(to) => self.send(msg::typing(to, state)).await,
                    None => Ok(()),
                },
                Err(_) => Ok(()),
            },
            Command::SetPresence { away, status, .. } => {
                self.away = away.filter(|a| !a.trim().is_empty());
                self.status = status.filter(|s| !s.trim().is_empty());
                self.send_own_presence().await
            }
            Command::AddContact { handle, group } => {
                if handle.eq_ignore_ascii_case(CONSOLE) {
                    self.console_on().await;
                    return Ok(());
                }
                let Some(jid) = self.bare_jid(&handle).await else {
                    return Ok(());
                };
                let set = iqc::roster_set(random_id(), jid.clone(), group);
                self.iq(set, Pending::RosterSet(handle, true)).await?;
                self.send(pres::subscription(jid, PresenceType::Subscribe))
                    .await
            }
            Command::RemoveContact { handle } => {
                let Some(jid) = self.bare_jid(&handle).await else {
                    return Ok(());
                };
                let remove = iqc::roster_remove(random_id(), jid);
                self.iq(remove, Pending::RosterSet(handle, false)).await
            }
            Command::Block { handle } => self.block(handle, true).await,
            Command::Allow { handle } => self.block(handle, false).await,
            Command::GetInfo { handle } => {
                let Some(to) = self.jid(&handle).await else {
                    return Ok(());
                };
                self.iq_get(Some(to), VCardQuery, Pending::VCard(handle))
                    .await
            }
            Command::AnswerQuestion { id, accept } => match self.questions.answered(&id) {
                Some(q) => self.answer_question(q, accept).await,
                None => {
                    self.error("That request is no longer pending (the account reconnected)")
                        .await;
                    Ok(())
                }
            },
            Command::JoinRoom {
                room,
                nick,
                password,
            } => {
                let Some(jid) = self.bare_jid(&room.0).await else {
                    return Ok(());
                };
                self.join_room(room, jid, nick, password, None).await
            }
            Command::LeaveRoom { room } => match BareJid::new(&room.0) {
                Ok(jid) => self.leave_room(&jid).await,
                Err(_) => Ok(()),
            },
            Command::SetTopic { room, topic } => {
                let Some(jid) = self.joined_room(&room).await else {
                    return Ok(());
                };
                self.send(msg::subject(jid, &topic)).await
            }
            Command::InviteToRoom { room, handle } => {
                let Some(jid) = self.joined_room(&room).await else {
                    return Ok(());
                };
                let Some(to) = self.jid(&handle).await else {
                    return Ok(());
                };
                self.send(msg::invite(jid, to, None)).await
            }
            Command::KickFromRoom { room, nick, reason } => {
                let Some(jid) = self.joined_room(&room).await else {
                    return Ok(());
                };
                let Some(target) = self.occupant_nick(&jid, &nick) else {
                    self.error(format!("{nick} is not in {room}")).await;
                    return Ok(());
                };
                let query = AdminQuery::kick(&target, reason.as_deref());
                let why = Pending::Room(RoomRequest::Kick(room.0.clone(), target));
                self.iq_set(Some(Jid::from(jid)), query, why).await
            }
            Command::ChatWith { handle } => self.chat_with(handle).await,
            Command::ListRooms { server } => {
                let service = server
                    .filter(|s| !s.trim().is_empty())
                    .or_else(|| self.muc_service.as_ref().map(|s| s.to_string()));
                let Some(service) = service else {
                    self.error("No chatroom service known for this server; name one: chat list <account> <server>")
                        .await;
                    return Ok(());
                };
                let Some(to) = self.jid(&service).await else {
                    return Ok(());
                };
                let query = DiscoItemsQuery {
                    node: None,
                    rsm: None,
                };
                self.iq_get(Some(to), query, Pending::Room(RoomRequest::List(service)))
                    .await
            }
            Command::Raw { .. } => {
                self.error("Raw XML is not supported").await;
                Ok(())
            }
            // Kept for the next login (a reconnect); those the session uses
            // apply now.
            Command::ApplySetting { key, value } => {
                let applied = self.live.apply(&key, value.as_deref());
                match value {
                    Some(v) => self.ctx.spec.settings.insert(key, v),
                    None => self.ctx.spec.settings.remove(&key),
                };
                match applied {
                    Applied::Priority => self.send_own_presence().await,
                    Applied::ConsoleOn => {
                        self.console_note(
                            "XML console on: the stream follows (TX: sent, RX: received)",
                        )
                        .await;
                        Ok(())
                    }
                    Applied::Now | Applied::Later => Ok(()),
                }
            }
            Command::ContactAction { handle, action, .. } => {
                if action.eq_ignore_ascii_case("VERSION") {
                    self.ask_versions(&handle).await
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Our presence, to the server and every room we are in.
    async fn send_own_presence(&mut self) -> Result<(), XmppError> {
        let presence = self.own_presence();
        for occupant in self.rooms.joined_occupant_jids() {
            self.send(presence.clone().with_to(occupant)).await?;
        }
        self.send(presence).await
    }

    /// Where a message to `handle` goes: a full JID as given, else the
    /// resource `resource_select` picks.
    async fn recipient(&self, handle: &str) -> Option<Jid> {
        let jid = self.jid(handle).await?;
        if jid.resource().is_some() {
            return Some(jid);
        }
        Some(self.roster.target(
            &jid.to_bare(),
            self.live.resource_select,
            self.live.activity_timeout,
        ))
    }

    /// CTCP VERSION: a software version query to each of the contact's
    /// resources, as BitlBee's jabber does.
    async fn ask_versions(&mut self, handle: &str) -> Result<(), XmppError> {
        let Some(bare) = self.bare_jid(handle).await else {
            return Ok(());
        };
        let resources: Vec<String> = self
            .roster
            .resources(&bare)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if resources.is_empty() {
            self.error(format!(
                "{bare} is offline: no client to ask for its version"
            ))
            .await;
        }
        for r in resources {
            let Ok(to) = bare.with_resource_str(&r) else {
                continue;
            };
            let why = Pending::Version(handle.to_string(), r);
            self.iq_get(Some(Jid::from(to)), VersionQuery, why).await?;
        }
        Ok(())
    }

    /// Ask for our block list (XEP-0191), for `block <account>`.
    pub(super) async fn fetch_block_list(&mut self) -> Result<(), XmppError> {
        self.iq_get(
            None,
            xmpp_parsers::blocking::BlocklistRequest,
            Pending::BlockList,
        )
        .await
    }

    /// Parse a handle as a JID, saying so when it isn't one.
    async fn jid(&self, handle: &str) -> Option<Jid> {
        match Jid::new(handle.trim()) {
            Ok(j) => Some(j),
            Err(e) => {
                self.error(format!("Invalid handle {handle:?}: {e}")).await;
                None
            }
        }
    }

    async fn bare_jid(&self, handle: &str) -> Option<BareJid> {
        self.jid(handle).await.map(|j| j.to_bare())
    }

    /// The JID of a room we are in, saying so when we are not.
    async fn joined_room(&self, room: &RoomId) -> Option<BareJid> {
        let jid = BareJid::new(&room.0).ok();
        match jid.filter(|j| self.rooms.get(j).is_some()) {
            Some(j) => Some(j),
            None => {
                self.error(format!("You are not in {room}")).await;
                None
            }
        }
    }

    async fn block(&mut self, handle: String, block: bool) -> Result<(), XmppError> {
        let Some(jid) = self.jid(&handle).await else {
            return Ok(());
        };
        let iq = iqc::block(random_id(), jid, block);
        self.iq(iq, Pending::Block(handle, block)).await
    }

    async fn answer_question(&mut self, q: Question, accept: bool) -> Result<(), XmppError> {
        match (q, accept) {
            (Question::Subscribe(jid), true) => {
                self.send(pres::subscription(jid.clone(), PresenceType::Subscribed))
                    .await?;
                if !self.roster.sees(&jid) {
                    let text = format!(
                        "The user {jid} is not in your buddy list yet. Do you want to add him/her now?"
                    );
                    self.ask(Question::AddBack(jid), text).await;
                }
                Ok(())
            }
            (Question::Subscribe(jid), false) => {
                self.send(pres::subscription(jid, PresenceType::Unsubscribed))
                    .await
            }
            (Question::AddBack(jid), true) => {
                let set = iqc::roster_set(random_id(), jid.clone(), None);
                self.iq(set, Pending::RosterSet(jid.to_string(), true))
                    .await?;
                self.send(pres::subscription(jid, PresenceType::Subscribe))
                    .await
            }
            (Question::AddBack(_), false) => Ok(()),
        }
    }

    /// `chat with`: a new room on our group chat service, the contact invited.
    async fn chat_with(&mut self, handle: String) -> Result<(), XmppError> {
        let Some(service) = self.muc_service.clone() else {
            self.error("This server has no group chat service").await;
            return Ok(());
        };
        let Some(contact) = self.jid(&handle).await else {
            return Ok(());
        };
        let name: String = random_id().chars().take(12).collect();
        let me = self.me.node().map(|n| n.to_string()).unwrap_or_default();
        let local = format!("chat-{me}-{name}");
        let room = match BareJid::new(&format!("{local}@{}", service.domain())) {
            Ok(r) => r,
            Err(_) => BareJid::new(&format!("chat-{name}@{}", service.domain()))
                .map_err(|e| XmppError::Protocol(format!("room name: {e}")))?,
        };
        let nick = if me.is_empty() { "waggle".into() } else { me };
        let id = RoomId(room.to_string());
        self.join_room(id, room, nick, None, Some(contact)).await
    }
}
