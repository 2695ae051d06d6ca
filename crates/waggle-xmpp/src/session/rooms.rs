//! Group chats (XEP-0045): the rooms we are in or entering, their occupants,
//! and the events their presences become; their messages are in
//! [`room_lines`](super::room_lines). How a presence changes the occupants
//! (and the words for a kick or a ban) is
//! [`convert::occupants`](crate::convert::occupants), shared with the
//! component; the phases of a room are this session's.
//!
//! Entering a room: first its features are asked for (does it keep an
//! archive?), then the join asks for the history that fits: none when the
//! room's archive will be read from the room's cursor, what was said since
//! the last line seen when we were in it before, else the last few messages.
//! A join is reported once complete: after our own presence (status 110) and
//! the room's subject, which XEP-0045 sends last; history received in between
//! is held back (a bounded amount) and delivered right after
//! [`Event::RoomJoined`], then the room's archive is read if it is to be.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use waggle_core::{Event, RoomId};
use xmpp_parsers::disco::DiscoInfoQuery;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::catchup::has_archive;
use super::room_lines::HeldLine;
use super::{Pending, Session};
use crate::convert::iq::RoomRequest;
use crate::convert::message as msg;
use crate::convert::muc::InstantRoom;
use crate::convert::occupants::{OccupantChange, Occupants};
use crate::convert::presence::{self as pres, Backlog, Kind};
use crate::error::XmppError;

/// How many times a join is retried with a longer nick after a conflict.
const NICK_RETRIES: u32 = 5;
/// How many of our own room messages wait for a room to be entered again.
const MAX_RESEND: usize = 50;
/// How many rooms' last lines are remembered.
const MAX_LAST_LINES: usize = 500;
/// How much earlier than the last line seen a `<history since=…/>` starts.
const SINCE_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Where we stand in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Asking for its features before entering.
    Probing,
    /// Join sent; `self_seen` once our own presence came back.
    Joining {
        /// Our presence came back.
        self_seen: bool,
    },
    /// In the room, reading its archive (the query id, pages read);
    /// live messages wait.
    CatchingUp {
        /// The query.
        queryid: String,
        /// Pages read so far.
        pages: u32,
    },
    /// In the room.
    Joined,
    /// Leave sent.
    Leaving,
}

/// The last lines seen in a room: where a `<history since=…/>` starts, and
/// how the same lines coming again are recognised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastLine {
    /// When the last one was said (or seen, for a live one).
    pub at: Option<SystemTime>,
    /// Hashes of who said what, the last few lines.
    pub digests: VecDeque<u64>,
}

/// How many lines' hashes are kept per room.
const DIGESTS: usize = 8;

impl LastLine {
    /// A line was seen.
    pub fn push(&mut self, at: SystemTime, digest: u64) {
        self.at = Some(at);
        if self.digests.len() >= DIGESTS {
            self.digests.pop_front();
        }
        self.digests.push_back(digest);
    }
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
    pub occupants: Occupants,
    /// The subject.
    pub topic: Option<String>,
    /// The history asked for in the join.
    pub backlog: Backlog,
    /// Lines held back until the join (or the catch-up) completes.
    pub held: VecDeque<HeldLine>,
    /// The hold token of those lines (stream management waits for them).
    pub hold: u64,
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
    /// The last line seen in each room (kept across sessions).
    last_lines: HashMap<BareJid, LastLine>,
    /// Our messages to rooms to send once we are in them again.
    resend: HashMap<BareJid, Vec<Message>>,
}

impl Rooms {
    /// No rooms yet; the last lines a previous session saw.
    pub fn with_last_lines(last_lines: HashMap<BareJid, LastLine>) -> Rooms {
        Rooms {
            last_lines,
            ..Rooms::default()
        }
    }

    /// The last lines seen, for the next session.
    pub fn take_last_lines(&mut self) -> HashMap<BareJid, LastLine> {
        std::mem::take(&mut self.last_lines)
    }

    /// The last line seen in `jid`.
    pub fn last_line(&self, jid: &BareJid) -> Option<&LastLine> {
        self.last_lines.get(jid)
    }

    /// Note a line seen in `jid`.
    pub fn saw(&mut self, jid: &BareJid, at: SystemTime, digest: u64) {
        if self.last_lines.len() >= MAX_LAST_LINES && !self.last_lines.contains_key(jid) {
            return;
        }
        self.last_lines
            .entry(jid.clone())
            .or_default()
            .push(at, digest);
    }

    /// The room with this JID.
    pub fn get(&self, jid: &BareJid) -> Option<&Room> {
        self.map.get(jid)
    }

    /// The room with this JID, to change.
    pub fn get_mut(&mut self, jid: &BareJid) -> Option<&mut Room> {
        self.map.get_mut(jid)
    }

    /// Forget a room.
    pub fn remove(&mut self, jid: &BareJid) -> Option<Room> {
        self.map.remove(jid)
    }

    /// Our occupant JIDs in every room we are in.
    pub fn joined_occupant_jids(&self) -> Vec<FullJid> {
        self.map
            .values()
            .filter(|r| matches!(r.phase, Phase::Joined | Phase::CatchingUp { .. }))
            .filter_map(|r| r.occupant_jid())
            .collect()
    }

    /// Send `m` once we are in `room` again.
    pub fn send_when_joined(&mut self, room: BareJid, m: Message) {
        let queue = self.resend.entry(room).or_default();
        if queue.len() < MAX_RESEND {
            queue.push(m);
        }
    }

    /// Our messages waiting for `room`.
    pub fn take_resend(&mut self, room: &BareJid) -> Vec<Message> {
        self.resend.remove(room).unwrap_or_default()
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
        if let Some(room) = self.rooms.get_mut(&jid)
            && room.phase != Phase::Leaving
        {
            if matches!(room.phase, Phase::Joined | Phase::CatchingUp { .. }) {
                let event = room.occupants.joined(id, room.topic.clone());
                self.emit(event).await;
                if let Some(to) = invite {
                    self.send(msg::invite(jid, to, None)).await?;
                }
            } else {
                room.invite_on_join.extend(invite);
            }
            return Ok(());
        }
        let password = password.or_else(|| self.invite_passwords.get(&jid).map(str::to_string));
        let hold = self.new_hold();
        let room = Room {
            id,
            jid: jid.clone(),
            nick,
            password,
            attempts: 0,
            phase: Phase::Probing,
            occupants: Occupants::new(),
            topic: None,
            backlog: Backlog::Recent,
            held: VecDeque::new(),
            hold,
            invite_on_join: invite.into_iter().collect(),
            rejoin: None,
        };
        if room.occupant_jid().is_none() {
            self.error(format!("Invalid nick {:?} for {jid}", room.nick))
                .await;
            return Ok(());
        }
        self.rooms.map.insert(jid.clone(), room);
        let to = Some(Jid::from(jid.clone()));
        self.iq_get(to, DiscoInfoQuery { node: None }, Pending::RoomInfo(jid))
            .await
    }

    /// A room's features came (or an error: a room that does not exist yet):
    /// enter it, asking for the history that fits.
    pub(super) async fn room_info(
        &mut self,
        jid: BareJid,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        let archive = has_archive(&result);
        // A little earlier than the last line: clocks differ; what comes
        // twice is recognised.
        let last = self
            .rooms
            .last_line(&jid)
            .and_then(|l| l.at)
            .map(|at| at.checked_sub(SINCE_MARGIN).unwrap_or(at));
        let Some(room) = self.rooms.get_mut(&jid) else {
            return Ok(());
        };
        if room.phase != Phase::Probing {
            return Ok(());
        }
        let cursor = self.ctx.spec.archive_cursors.contains_key(&room.id.0);
        room.backlog = match (archive && cursor, last) {
            (true, _) => Backlog::Nothing,
            (false, Some(at)) => Backlog::Since(at),
            (false, None) => Backlog::Recent,
        };
        room.phase = Phase::Joining { self_seen: false };
        let Some(occupant) = room.occupant_jid() else {
            return Ok(());
        };
        let join = pres::join(occupant, room.password.as_deref(), &room.backlog);
        self.send(join).await
    }

    /// Leave a room (the core shows the part at once).
    pub(super) async fn leave_room(&mut self, jid: &BareJid) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(jid) else {
            return Ok(());
        };
        if room.phase == Phase::Probing {
            self.drop_room(jid);
            return Ok(());
        }
        room.phase = Phase::Leaving;
        let occupant = room.occupant_jid();
        self.release_held(jid);
        match occupant {
            Some(occupant) => self.send(pres::leave(occupant)).await,
            None => Ok(()),
        }
    }

    /// Drop what a room held back (it will not be shown): the stanzas count
    /// as handled.
    fn release_held(&mut self, jid: &BareJid) {
        if let Some(room) = self.rooms.get_mut(jid) {
            room.held.clear();
            let hold = room.hold;
            self.sm.unblock(hold, self.ctx.emitted());
        }
    }

    /// Forget a room and what it held back.
    pub(super) fn drop_room(&mut self, jid: &BareJid) -> Option<Room> {
        self.release_held(jid);
        self.rooms.remove(jid)
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
        let in_room = matches!(room.phase, Phase::Joined | Phase::CatchingUp { .. });
        match p.kind {
            Kind::Error { condition, text } => {
                let joining = matches!(room.phase, Phase::Joining { .. });
                if joining && condition == "conflict" && room.attempts < NICK_RETRIES {
                    room.attempts += 1;
                    room.nick.push('_');
                    let retry = room
                        .occupant_jid()
                        .map(|o| pres::join(o, room.password.as_deref(), &room.backlog));
                    tracing::debug!(room = %jid, nick = %room.nick, "nick taken, retrying");
                    if let Some(retry) = retry {
                        self.send(retry).await?;
                    }
                } else if joining {
                    self.drop_room(&jid);
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
                let Some(nick) = nick else { return Ok(()) };
                let change = room.occupants.apply(&mut room.nick, nick, &info, kind);
                match change {
                    Some(OccupantChange::Present { occupant, changed }) => match room.phase {
                        Phase::Joining { .. } if occupant.is_self => {
                            room.phase = Phase::Joining { self_seen: true };
                            if info.created {
                                let to = Some(Jid::from(jid.clone()));
                                self.iq_set(
                                    to,
                                    InstantRoom::default(),
                                    Pending::Room(RoomRequest::Configure(jid)),
                                )
                                .await?;
                            }
                        }
                        _ if in_room && changed => {
                            self.emit(Event::OccupantUpdated { room: id, occupant })
                                .await;
                        }
                        _ => {}
                    },
                    Some(OccupantChange::Renamed {
                        old,
                        new,
                        is_self: false,
                    }) if in_room => {
                        self.emit(Event::OccupantRenamed { room: id, old, new })
                            .await;
                    }
                    Some(OccupantChange::Left(departure)) if departure.is_self => {
                        let leaving = room.phase == Phase::Leaving;
                        let rejoin = if leaving { room.rejoin.take() } else { None };
                        let invites = std::mem::take(&mut room.invite_on_join);
                        self.drop_room(&jid);
                        if let Some((nick, password)) = rejoin {
                            return self
                                .join_room(id, jid, nick, password, invites.into_iter().next())
                                .await;
                        }
                        self.emit(Event::RoomLeft {
                            room: id,
                            reason: if leaving { None } else { departure.why },
                        })
                        .await;
                    }
                    Some(OccupantChange::Left(departure)) if in_room => {
                        self.emit(departure.occupant_left(id, &jid)).await;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The room nick to kick for `who`: an occupant's nick, or the occupant
    /// whose real JID is `who`.
    pub(super) fn occupant_nick(&self, room: &BareJid, who: &str) -> Option<String> {
        self.rooms.get(room)?.occupants.nick_for(who)
    }
}
