//! Group chats (XEP-0045) joined as `alice@domain/waggle`: occupants, subject,
//! history, kicks, invitations, a nick taken retried with `_` appended, and a
//! rejoin after the connection to the server came back (with the history since
//! it was lost).
//!
//! A join is reported once complete: after our own presence (status 110) and the
//! subject, which XEP-0045 sends last; history received in between is held back
//! and delivered right after [`Event::RoomJoined`].
//!
//! How a presence changes the occupants (and the words for a kick or a ban)
//! is `waggle_xmpp::convert::occupants`, shared with the client backend; the
//! phases of a room, the rejoin and the farewell are this account's.

use std::collections::HashMap;
use std::time::Instant;

use waggle_core::{Event, MessageIds, RoomId};
use waggle_xmpp::convert::iq::RoomRequest;
use waggle_xmpp::convert::message::RoomLine;
use waggle_xmpp::convert::muc::{InstantRoom, InvitePasswords};
use waggle_xmpp::convert::occupants::{OccupantChange, Occupants};
use waggle_xmpp::convert::presence::{self as pres, Kind};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::muc::muc::{History, Muc};
use xmpp_parsers::presence::Presence;

use super::{Account, Pending};

/// How many times a join is retried with a longer nick after a conflict.
const NICK_RETRIES: u32 = 5;
/// How much history a first join asks for.
const HISTORY: u32 = 20;

/// Where we stand in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Joining { self_seen: bool },
    Joined,
    Leaving,
}

/// A room we are in or entering.
#[derive(Debug, Clone)]
pub(super) struct Room {
    pub id: RoomId,
    jid: BareJid,
    nick: String,
    password: Option<String>,
    attempts: u32,
    phase: Phase,
    occupants: Occupants,
    topic: Option<String>,
    held: Vec<Event>,
    rejoin: Option<(String, Option<String>)>,
    /// When the connection was lost while we were in it (history since then
    /// is asked for on rejoin).
    lost: Option<Instant>,
}

impl Room {
    fn occupant_jid(&self) -> Option<FullJid> {
        self.jid.with_resource_str(&self.nick).ok()
    }
}

/// Every room of the account, and passwords that came with invitations.
#[derive(Debug, Default)]
pub(super) struct Rooms {
    map: HashMap<BareJid, Room>,
    pub invite_passwords: InvitePasswords,
}

impl Rooms {
    pub fn get(&self, jid: &BareJid) -> Option<&Room> {
        self.map.get(jid)
    }

    /// Our occupant JIDs in the rooms we are in.
    pub fn joined_occupant_jids(&self) -> Vec<FullJid> {
        self.map
            .values()
            .filter(|r| r.phase == Phase::Joined)
            .filter_map(|r| r.occupant_jid())
            .collect()
    }
}

impl Account<'_> {
    fn join_presence(
        &self,
        occupant: FullJid,
        password: Option<&str>,
        lost: Option<Instant>,
    ) -> Presence {
        let history = match lost {
            Some(at) => {
                let secs =
                    u32::try_from(at.elapsed().as_secs().saturating_add(1)).unwrap_or(u32::MAX);
                History::new().with_seconds(secs)
            }
            None => History::new().with_maxstanzas(HISTORY),
        };
        let muc = Muc {
            password: password.map(str::to_string),
            history: Some(history),
        };
        let mut p = self.own_presence().with_to(occupant).with_payload(muc);
        p.from = Some(self.me_jid());
        p
    }

    /// Enter `jid` as `nick`.
    pub(super) async fn join_room(
        &mut self,
        id: RoomId,
        jid: BareJid,
        nick: String,
        password: Option<String>,
    ) {
        if let Some(room) = self.rooms.map.get_mut(&jid) {
            match room.phase {
                Phase::Leaving => {
                    room.rejoin = Some((nick, password));
                    return;
                }
                Phase::Joined => {
                    let event = room.occupants.joined(id, room.topic.clone());
                    self.emit(event).await;
                    return;
                }
                Phase::Joining { .. } => {}
            }
        }
        let password =
            password.or_else(|| self.rooms.invite_passwords.get(&jid).map(str::to_string));
        self.enter(Room {
            id,
            jid,
            nick,
            password,
            attempts: 0,
            phase: Phase::Joining { self_seen: false },
            occupants: Occupants::new(),
            topic: None,
            held: vec![],
            rejoin: None,
            lost: None,
        })
        .await;
    }

    async fn enter(&mut self, room: Room) {
        let Some(occupant) = room.occupant_jid() else {
            self.error(format!("Invalid nick {:?} for {}", room.nick, room.jid))
                .await;
            return;
        };
        if room.lost.is_some() && room.attempts == 0 {
            // The room may still count us in (a short drop): leave first so that
            // the join below is a full one, with occupants and subject.
            let mut leave = Presence::unavailable().with_to(occupant.clone());
            leave.from = Some(self.me_jid());
            self.send(leave);
        }
        let join = self.join_presence(occupant, room.password.as_deref(), room.lost);
        self.rooms.map.insert(room.jid.clone(), room);
        self.send(join);
    }

    /// Leave a room (the core shows the part at once).
    pub(super) fn leave_room(&mut self, jid: &BareJid) {
        let Some(room) = self.rooms.map.get_mut(jid) else {
            return;
        };
        room.phase = Phase::Leaving;
        if let Some(occupant) = room.occupant_jid() {
            let mut p = Presence::unavailable().with_to(occupant);
            p.from = Some(self.me_jid());
            self.send(p);
        }
        self.refresh_farewell();
    }

    /// The connection dropped: we are out of every room (until the rejoin).
    pub(super) async fn rooms_lost(&mut self) {
        let now = Instant::now();
        let mut left = Vec::new();
        for room in self.rooms.map.values_mut() {
            let was_in = room.phase == Phase::Joined;
            room.phase = Phase::Joining { self_seen: false };
            room.occupants.clear();
            room.held.clear();
            room.attempts = 0;
            if was_in {
                room.lost = Some(now);
                left.push(room.id.clone());
            }
        }
        for id in left {
            self.emit(Event::RoomLeft {
                room: id,
                reason: Some("Lost the connection to the XMPP server".into()),
            })
            .await;
        }
    }

    /// The connection is back: enter every room again.
    pub(super) async fn rejoin_rooms(&mut self) {
        let rooms: Vec<Room> = self
            .rooms
            .map
            .values()
            .filter(|r| r.phase != Phase::Leaving && r.phase != Phase::Joined)
            .cloned()
            .collect();
        for room in rooms {
            self.enter(room).await;
        }
    }

    /// A presence from a room or one of its occupants.
    pub(super) async fn room_presence(&mut self, p: pres::Inbound) {
        let jid = p.from.to_bare();
        let Some(room) = self.rooms.map.get_mut(&jid) else {
            return;
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
                    let retry = room.clone();
                    self.enter(retry).await;
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
            kind => {
                let Some(nick) = nick else { return };
                let joined = room.phase == Phase::Joined;
                let change = room.occupants.apply(&mut room.nick, nick, &info, kind);
                match change {
                    Some(OccupantChange::Present { occupant, changed }) => match room.phase {
                        Phase::Joining { .. } if occupant.is_self => {
                            room.phase = Phase::Joining { self_seen: true };
                            if info.created {
                                let mut iq = xmpp_parsers::iq::Iq::from_set(
                                    self.new_id(),
                                    InstantRoom::default(),
                                );
                                *iq.to_mut() = Some(Jid::from(jid.clone()));
                                *iq.from_mut() = Some(self.me_jid());
                                self.pending.insert(
                                    iq.id().to_string(),
                                    Pending::Room(RoomRequest::Configure(jid)),
                                );
                                self.send(iq);
                            }
                        }
                        Phase::Joined if changed => {
                            self.emit(Event::OccupantUpdated { room: id, occupant })
                                .await
                        }
                        _ => {}
                    },
                    Some(OccupantChange::Renamed { is_self: true, .. }) => self.refresh_farewell(),
                    Some(OccupantChange::Renamed { old, new, .. }) if joined => {
                        self.emit(Event::OccupantRenamed { room: id, old, new })
                            .await;
                    }
                    Some(OccupantChange::Left(departure)) if departure.is_self => {
                        let leaving = room.phase == Phase::Leaving;
                        if let (true, Some((nick, password))) = (leaving, room.rejoin.take()) {
                            self.rooms.map.remove(&jid);
                            self.join_room(id, jid, nick, password).await;
                            return;
                        }
                        if room.phase == (Phase::Joining { self_seen: false })
                            && room.lost.is_some()
                        {
                            // The echo of a leave from before the connection dropped.
                            return;
                        }
                        self.rooms.map.remove(&jid);
                        self.refresh_farewell();
                        self.emit(Event::RoomLeft {
                            room: id,
                            reason: if leaving { None } else { departure.why },
                        })
                        .await;
                    }
                    Some(OccupantChange::Left(departure)) if joined => {
                        self.emit(departure.occupant_left(id, &jid)).await;
                    }
                    _ => {}
                }
            }
        }
    }

    /// A message or subject in a room.
    pub(super) async fn room_line(&mut self, line: RoomLine, ids: MessageIds) {
        let Some(room) = self.rooms.map.get_mut(&line.room) else {
            return;
        };
        let id = room.id.clone();
        let mut out = Vec::new();
        let mut completed = false;
        if let Some(body) = line.body {
            let event = match &line.nick {
                Some(nick) => Event::RoomMessage {
                    room: id.clone(),
                    from: nick.clone(),
                    body,
                    kind: line.kind,
                    sent_at: line.sent_at,
                    ids,
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
            let old = room.topic.replace(subject.clone());
            match room.phase {
                Phase::Joining { self_seen: true } => {
                    room.phase = Phase::Joined;
                    room.lost = None;
                    completed = true;
                    out.push(room.occupants.joined(id, Some(subject)));
                    out.append(&mut room.held);
                }
                Phase::Joined
                    if old.as_deref() != Some(subject.as_str()) || line.nick.is_some() =>
                {
                    out.push(Event::TopicChanged {
                        room: id,
                        by: line.nick,
                        topic: subject,
                    })
                }
                _ => {}
            }
        }
        if completed {
            self.refresh_farewell();
        }
        for event in out {
            self.emit(event).await;
        }
    }

    /// The room nick to kick for `who`: an occupant's nick, or the occupant
    /// whose real JID is `who`.
    pub(super) fn occupant_nick(&self, room: &BareJid, who: &str) -> Option<String> {
        self.rooms.map.get(room)?.occupants.nick_for(who)
    }

    /// Whether we are in the room.
    pub(super) fn in_room(&self, jid: &BareJid) -> bool {
        self.rooms
            .map
            .get(jid)
            .is_some_and(|r| r.phase == Phase::Joined)
    }
}
