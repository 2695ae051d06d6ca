//! Group chats (XEP-0045): the rooms we are in or entering, their occupants, and
//! the events their presences and messages become.
//!
//! A join is reported once it is complete: after our own presence (status 110)
//! and the room's subject, which XEP-0045 sends last; history received in
//! between is held back and delivered right after [`Event::RoomJoined`].

use std::collections::{BTreeMap, HashMap};

use waggle_core::{Event, Occupant, RoomId};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};

use super::{Pending, Session};
use crate::convert::message::{self as msg, RoomLine};
use crate::convert::muc::InstantRoom;
use crate::convert::presence::{self as pres, Kind};
use crate::error::XmppError;

/// How many times a join is retried with a longer nick after a conflict.
const NICK_RETRIES: u32 = 5;

/// Where we stand in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Join sent; `self_seen` once our own presence came back.
    Joining {
        /// Our presence came back.
        self_seen: bool,
    },
    /// In the room.
    Joined,
    /// Leave sent.
    Leaving,
}

/// A room we are in or entering.
#[derive(Debug, Clone)]
pub struct Room {
    /// The room as the core names it.
    pub id: RoomId,
    /// The room's JID.
    pub jid: BareJid,
    /// Our nick there.
    pub nick: String,
    /// The password we joined with.
    pub password: Option<String>,
    /// Conflicts retried so far.
    pub attempts: u32,
    /// Where we stand.
    pub phase: Phase,
    /// Everyone there, by nick (us included).
    pub occupants: BTreeMap<String, Occupant>,
    /// The subject.
    pub topic: Option<String>,
    /// History held back until the join completes.
    pub held: Vec<Event>,
    /// Contacts to invite once joined (`chat with`).
    pub invite_on_join: Vec<Jid>,
    /// Join again (nick, password) once the pending leave is confirmed.
    pub rejoin: Option<(String, Option<String>)>,
}

impl Room {
    fn occupant_jid(&self) -> Option<FullJid> {
        self.jid.with_resource_str(&self.nick).ok()
    }
}

/// All rooms of the connection.
#[derive(Debug, Default)]
pub struct Rooms {
    map: HashMap<BareJid, Room>,
}

impl Rooms {
    /// The room with this JID.
    pub fn get(&self, jid: &BareJid) -> Option<&Room> {
        self.map.get(jid)
    }

    fn get_mut(&mut self, jid: &BareJid) -> Option<&mut Room> {
        self.map.get_mut(jid)
    }

    /// Our occupant JIDs in every room we are in.
    pub fn joined_occupant_jids(&self) -> Vec<FullJid> {
        self.map
            .values()
            .filter(|r| r.phase == Phase::Joined)
            .filter_map(|r| r.occupant_jid())
            .collect()
    }
}

impl Session<'_> {
    /// Enter `jid` as `nick`; `invite` is asked in once we are in.
    pub(super) async fn join_room(
        &mut self,
        id: RoomId,
        jid: BareJid,
        nick: String,
        password: Option<String>,
        invite: Option<Jid>,
    ) -> Result<(), XmppError> {
        if let Some(room) = self.rooms.get_mut(&jid)
            && room.phase == Phase::Leaving
        {
            // A part then a join (`/cycle`): enter again once the part is done.
            room.rejoin = Some((nick, password));
            room.invite_on_join.extend(invite);
            return Ok(());
        }
        if let Some(room) = self.rooms.get(&jid)
            && room.phase == Phase::Joined
        {
            let event = Event::RoomJoined {
                room: id,
                topic: room.topic.clone().filter(|t| !t.is_empty()),
                occupants: room.occupants.values().cloned().collect(),
            };
            self.emit(event).await;
            if let Some(to) = invite {
                self.send(msg::invite(jid, to, None)).await?;
            }
            return Ok(());
        }
        let password = password.or_else(|| self.invite_passwords.get(&jid).cloned());
        let room = Room {
            id,
            jid: jid.clone(),
            nick,
            password,
            attempts: 0,
            phase: Phase::Joining { self_seen: false },
            occupants: BTreeMap::new(),
            topic: None,
            held: vec![],
            invite_on_join: invite.into_iter().collect(),
            rejoin: None,
        };
        let Some(occupant) = room.occupant_jid() else {
            self.error(format!("Invalid nick {:?} for {jid}", room.nick))
                .await;
            return Ok(());
        };
        let join = pres::join(occupant, room.password.as_deref());
        self.rooms.map.insert(jid, room);
        self.send(join).await
    }

    /// Leave a room (the core shows the part at once).
    pub(super) async fn leave_room(&mut self, jid: &BareJid) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(jid) else {
            return Ok(());
        };
        room.phase = Phase::Leaving;
        match room.occupant_jid() {
            Some(occupant) => self.send(pres::leave(occupant)).await,
            None => Ok(()),
        }
    }

    /// A presence from a room or one of its occupants.
    pub(super) async fn room_presence(&mut self, p: pres::Inbound) -> Result<(), XmppError> {
        let jid = p.from.to_bare();
        let Some(room) = self.rooms.get_mut(&jid) else {
            return Ok(());
        };
        let id = room.id.clone();
        let nick = p.from.resource().map(|r| r.to_string());
        let info = p.room.clone().unwrap_or_default();
        match p.kind {
            Kind::Error { condition, text } => {
                let joining = matches!(room.phase, Phase::Joining { .. });
                if joining && condition == "conflict" && room.attempts < NICK_RETRIES {
                    room.attempts += 1;
                    room.nick.push('_');
                    let retry = room
                        .occupant_jid()
                        .map(|o| pres::join(o, room.password.as_deref()));
                    tracing::debug!(room = %jid, nick = %room.nick, "nick taken, retrying");
                    if let Some(retry) = retry {
                        self.send(retry).await?;
                    }
                } else if joining {
                    self.rooms.map.remove(&jid);
                    self.error(format!("Could not join {id}: {text}")).await;
                    self.emit(Event::RoomLeft {
                        room: id,
                        reason: Some(text),
                    })
                    .await;
                } else {
                    self.error(format!("{id}: {text}")).await;
                }
            }
            Kind::Available { .. } => {
                let Some(nick) = nick else { return Ok(()) };
                let is_self = info.is_self || nick == room.nick;
                let occupant = Occupant {
                    nick: nick.clone(),
                    handle: info.real_jid.as_ref().map(|j| j.to_string()),
                    role: info.role,
                    is_self,
                };
                if is_self {
                    room.nick = nick.clone();
                }
                let changed = room.occupants.get(&nick) != Some(&occupant);
                room.occupants.insert(nick, occupant.clone());
                match room.phase {
                    Phase::Joining { .. } if is_self => {
                        room.phase = Phase::Joining { self_seen: true };
                        if info.created {
                            let to = Some(Jid::from(jid.clone()));
                            self.iq_set(to, InstantRoom::default(), Pending::RoomConfig(jid))
                                .await?;
                        }
                    }
                    Phase::Joined if changed => {
                        self.emit(Event::OccupantUpdated { room: id, occupant })
                            .await
                    }
                    _ => {}
                }
            }
            Kind::Unavailable { status } => {
                let Some(nick) = nick else { return Ok(()) };
                let is_self = info.is_self || nick == room.nick;
                let joined = room.phase == Phase::Joined;
                if let Some(new) = info.new_nick.clone() {
                    if let Some(mut o) = room.occupants.remove(&nick) {
                        o.nick = new.clone();
                        room.occupants.insert(new.clone(), o);
                    }
                    if is_self {
                        room.nick = new;
                    } else if joined {
                        self.emit(Event::OccupantRenamed {
                            room: id,
                            old: nick,
                            new,
                        })
                        .await;
                    }
                    return Ok(());
                }
                room.occupants.remove(&nick);
                let why = if info.kicked {
                    Some(format!(
                        "Kicked by {}{}",
                        info.actor.clone().unwrap_or_else(|| "a moderator".into()),
                        info.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ))
                } else if info.banned {
                    Some("Banned from the room".to_string())
                } else {
                    info.reason.clone().or(status)
                };
                if is_self {
                    let leaving = room.phase == Phase::Leaving;
                    if let (true, Some((nick, password))) = (leaving, room.rejoin.take()) {
                        let invites = std::mem::take(&mut room.invite_on_join);
                        self.rooms.map.remove(&jid);
                        return self
                            .join_room(id, jid, nick, password, invites.into_iter().next())
                            .await;
                    }
                    self.rooms.map.remove(&jid);
                    self.emit(Event::RoomLeft {
                        room: id,
                        reason: if leaving { None } else { why },
                    })
                    .await;
                } else if joined {
                    let kicked_by = info.kicked.then(|| {
                        info.actor.clone().unwrap_or_else(|| {
                            jid.node().map(|n| n.to_string()).unwrap_or_default()
                        })
                    });
                    let reason = if info.kicked { info.reason } else { why };
                    self.emit(Event::OccupantLeft {
                        room: id,
                        nick,
                        reason,
                        kicked_by,
                    })
                    .await;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A message or subject in a room.
    pub(super) async fn room_line(&mut self, line: RoomLine) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(&line.room) else {
            return Ok(());
        };
        let id = room.id.clone();
        let mut out = Vec::new();
        let mut invites = Vec::new();
        if let Some(body) = line.body {
            let event = match &line.nick {
                Some(nick) => Event::RoomMessage {
                    room: id.clone(),
                    from: nick.clone(),
                    body,
                    kind: line.kind,
                    sent_at: line.sent_at,
                    ids: Default::default(),
                },
                None => Event::Notice {
                    text: format!("{id}: {body}"),
                },
            };
            match room.phase {
                Phase::Joining { .. } => room.held.push(event),
                Phase::Joined => out.push(event),
                Phase::Leaving => {}
            }
        }
        if let Some(subject) = line.subject {
            room.topic = Some(subject.clone());
            match room.phase {
                Phase::Joining { self_seen: true } => {
                    room.phase = Phase::Joined;
                    out.push(Event::RoomJoined {
                        room: id,
                        topic: Some(subject).filter(|s| !s.is_empty()),
                        occupants: room.occupants.values().cloned().collect(),
                    });
                    out.append(&mut room.held);
                    invites = std::mem::take(&mut room.invite_on_join);
                }
                Phase::Joined => out.push(Event::TopicChanged {
                    room: id,
                    by: line.nick,
                    topic: subject,
                }),
                _ => {}
            }
        }
        for event in out {
            self.emit(event).await;
        }
        for to in invites {
            self.send(msg::invite(line.room.clone(), to, None)).await?;
        }
        Ok(())
    }

    /// The room nick to kick for `who`: an occupant's nick, or the occupant
    /// whose real JID is `who`.
    pub(super) fn occupant_nick(&self, room: &BareJid, who: &str) -> Option<String> {
        let r = self.rooms.get(room)?;
        if r.occupants.contains_key(who) {
            return Some(who.to_string());
        }
        r.occupants
            .values()
            .find(|o| {
                o.handle
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(who))
                    || o.nick.eq_ignore_ascii_case(who)
            })
            .map(|o| o.nick.clone())
    }
}
