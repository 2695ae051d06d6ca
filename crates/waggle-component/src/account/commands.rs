//! The core's commands carried out as stanzas from `alice@domain/waggle`.

use waggle_core::{Command, Event, ListKind};
use waggle_xmpp::convert::iq::RoomRequest;
use waggle_xmpp::convert::message as msg;
use waggle_xmpp::convert::muc::AdminQuery;
use xmpp_parsers::disco::DiscoItemsQuery;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::vcard::VCardQuery;

use super::{Account, Pending};

/// Give a message our id: as its `id` and as its XEP-0359 origin-id.
/// The id a message goes out under: the gateway's msgid, or a fresh one.
fn message_id(id: Option<String>) -> String {
    id.unwrap_or_else(|| {
        let mut bytes = [0u8; 12];
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

impl Account<'_> {
    /// Carry out one command; what cannot be done is reported as an error event.
    pub(super) async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::SendMessage { to, body, kind, id } => {
                let Some(to) = self.jid(&to).await else {
                    return;
                };
                let mut m = msg::chat(to.clone(), &body, kind, &message_id(id));
                m.from = Some(self.me_jid());
                if !self.send(m) {
                    self.error(format!("Could not send the message to {to}: the gateway's queue to the XMPP server is full"))
                        .await;
                }
            }
            Command::SendRoomMessage {
                room,
                body,
                kind,
                id,
            } => {
                let Some(jid) = self.joined_room(&room.0).await else {
                    return;
                };
                let mut m = msg::groupchat(jid, &body, kind, &message_id(id));
                m.from = Some(self.me_jid());
                if !self.send(m) {
                    self.error(format!("Could not send the message to {room}: the gateway's queue to the XMPP server is full"))
                        .await;
                }
            }
            Command::SendTyping { to, state } => {
                if let Ok(to) = Jid::new(&to) {
                    let mut m = msg::typing(to, state);
                    m.from = Some(self.me_jid());
                    self.send(m);
                }
            }
            Command::SetPresence {
                away,
                status,
                detached,
            } => {
                self.own.away = away.filter(|a| !a.trim().is_empty());
                self.own.status = status.filter(|s| !s.trim().is_empty());
                self.own.detached = detached;
                self.broadcast_presence();
            }
            Command::AddContact { handle, group } => self.add_contact(&handle, group).await,
            Command::RemoveContact { handle } => self.remove_contact(&handle).await,
            Command::Block { handle } => self.set_list(&handle, ListKind::Block).await,
            Command::Allow { handle } => self.set_list(&handle, ListKind::Allow).await,
            Command::GetInfo { handle } => {
                let Some(to) = self.jid(&handle).await else {
                    return;
                };
                let id = self.new_id();
                let mut iq = Iq::from_get(id.clone(), VCardQuery);
                *iq.to_mut() = Some(Jid::from(to.to_bare()));
                *iq.from_mut() = Some(self.me_jid());
                self.pending.insert(id, Pending::VCard(handle));
                self.send(iq);
            }
            Command::AnswerQuestion { id, accept } => match self.questions.remove(&id) {
                Some(q) => self.answer(q, accept).await,
                None => self.error("That request is no longer pending").await,
            },
            Command::JoinRoom {
                room,
                nick,
                password,
            } => {
                let Some(jid) = self.jid(&room.0).await.map(|j| j.to_bare()) else {
                    return;
                };
                self.join_room(room, jid, nick, password).await;
            }
            Command::LeaveRoom { room } => {
                if let Ok(jid) = BareJid::new(&room.0) {
                    self.leave_room(&jid);
                }
            }
            Command::SetTopic { room, topic } => {
                let Some(jid) = self.joined_room(&room.0).await else {
                    return;
                };
                let mut m = msg::subject(jid, &topic);
                m.from = Some(self.me_jid());
                self.send(m);
            }
            Command::InviteToRoom { room, handle } => {
                let Some(jid) = self.joined_room(&room.0).await else {
                    return;
                };
                let Some(to) = self.jid(&handle).await else {
                    return;
                };
                let mut m = msg::invite(jid, to, None);
                m.from = Some(self.me_jid());
                self.send(m);
            }
            Command::KickFromRoom { room, nick, reason } => {
                let Some(jid) = self.joined_room(&room.0).await else {
                    return;
                };
                let Some(target) = self.occupant_nick(&jid, &nick) else {
                    self.error(format!("{nick} is not in {room}")).await;
                    return;
                };
                let id = self.new_id();
                let mut iq = Iq::from_set(id.clone(), AdminQuery::kick(&target, reason.as_deref()));
                *iq.to_mut() = Some(Jid::from(jid));
                *iq.from_mut() = Some(self.me_jid());
                self.pending
                    .insert(id, Pending::Room(RoomRequest::Kick(room.0, target)));
                self.send(iq);
            }
            Command::ChatWith { .. } => {
                self.error(
                    "The gateway has no group chat service of its own; join a room with chat add",
                )
                .await
            }
            Command::ListRooms { server } => {
                let Some(service) = server.filter(|s| !s.trim().is_empty()) else {
                    self.error("Name the chatroom service to list: chat list <account> <server>")
                        .await;
                    return;
                };
                let Some(to) = self.jid(&service).await else {
                    return;
                };
                let id = self.new_id();
                let mut iq = Iq::from_get(
                    id.clone(),
                    DiscoItemsQuery {
                        node: None,
                        rsm: None,
                    },
                );
                *iq.to_mut() = Some(to);
                *iq.from_mut() = Some(self.me_jid());
                self.pending
                    .insert(id, Pending::Room(RoomRequest::List(service)));
                self.send(iq);
            }
            Command::Raw { .. } => self.error("Raw XML is not supported").await,
            // No contact actions; settings are read when the account starts.
            Command::ContactAction { .. } | Command::ApplySetting { .. } => {}
        }
    }

    /// A handle as a JID, saying so when it is not one.
    async fn jid(&self, handle: &str) -> Option<Jid> {
        match Jid::new(handle.trim()) {
            Ok(j) => Some(j),
            Err(e) => {
                self.emit(Event::Error {
                    text: format!("Invalid handle {handle:?}: {e}"),
                })
                .await;
                None
            }
        }
    }

    /// The JID of a room we are in, saying so when we are not.
    async fn joined_room(&self, room: &str) -> Option<BareJid> {
        match BareJid::new(room).ok().filter(|j| self.in_room(j)) {
            Some(j) => Some(j),
            None => {
                self.error(format!("You are not in {room}")).await;
                None
            }
        }
    }
}
