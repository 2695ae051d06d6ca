//! What is said in rooms: messages and subjects, live, from the history a
//! join brings, and from the room's archive when we come back to a room that
//! keeps one. Each message is emitted once (by its archive id, and a
//! history line the same as the last one seen is not shown again), and the
//! room's archive cursor follows what was emitted.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::SystemTime;

use waggle_core::{Event, MessageIds, MessageKind};
use xmpp_parsers::jid::BareJid;
use xmpp_parsers::mam::Fin;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::StanzaError;

use super::Session;
use super::catchup::MAX_PAGES;
use super::rooms::{LastLine, Phase};
use crate::convert::error_text;
use crate::convert::mam::Archived;
use crate::convert::message::{self as msg, RoomLine};
use crate::convert::presence::Backlog;
use crate::error::XmppError;

/// How many lines of history a room may hold back before the join completes
/// (the newest are kept).
const MAX_HISTORY_HELD: usize = 200;
/// How many live lines may wait for a room's catch-up (the oldest go first).
const MAX_LIVE_HELD: usize = 2000;

/// A room line held back until the join (or the catch-up) completes.
#[derive(Debug, Clone)]
pub struct HeldLine {
    /// The speaker (none: the room itself).
    nick: Option<String>,
    body: String,
    kind: MessageKind,
    sent_at: Option<SystemTime>,
    ids: MessageIds,
}

fn digest(nick: &str, body: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (nick, body).hash(&mut h);
    h.finish()
}

impl Session<'_> {
    /// A message or subject in a room.
    pub(super) async fn room_line(&mut self, line: RoomLine) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(&line.room) else {
            return Ok(());
        };
        let jid = line.room.clone();
        if let Some(body) = line.body {
            let held = HeldLine {
                nick: line.nick.clone(),
                body,
                kind: line.kind,
                sent_at: line.sent_at,
                ids: line.ids,
            };
            match room.phase {
                Phase::Probing | Phase::Joining { .. } => {
                    if room.held.len() >= MAX_HISTORY_HELD {
                        room.held.pop_front();
                    }
                    room.held.push_back(held);
                    self.held_now = Some(room.hold);
                }
                Phase::CatchingUp { .. } => {
                    if room.held.len() >= MAX_LIVE_HELD {
                        tracing::warn!(room = %jid, "too many lines waiting for the catch-up");
                        room.held.pop_front();
                    }
                    room.held.push_back(held);
                    self.held_now = Some(room.hold);
                }
                Phase::Joined => self.deliver_room_line(&jid, held).await,
                Phase::Leaving => {}
            }
        }
        let Some(subject) = line.subject else {
            return Ok(());
        };
        let Some(room) = self.rooms.get_mut(&jid) else {
            return Ok(());
        };
        room.topic = Some(subject.clone());
        match room.phase {
            Phase::Joining { self_seen: true } => self.joined_now(&jid, subject).await,
            Phase::Joined | Phase::CatchingUp { .. } => {
                let room = room.id.clone();
                self.emit(Event::TopicChanged {
                    room,
                    by: line.nick,
                    topic: subject,
                })
                .await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The join is complete (the subject came): report it, then read the
    /// room's archive, or show the history it sent.
    async fn joined_now(&mut self, jid: &BareJid, subject: String) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(jid) else {
            return Ok(());
        };
        let event = room.occupants.joined(room.id.clone(), Some(subject));
        let cursor = match room.backlog {
            Backlog::Nothing => self.ctx.spec.archive_cursors.get(&room.id.0).cloned(),
            _ => None,
        };
        self.emit(event).await;
        match cursor {
            Some(after) => {
                let queryid = self.room_archive_query(jid, &after).await?;
                if let Some(room) = self.rooms.get_mut(jid) {
                    room.phase = Phase::CatchingUp { queryid, pages: 1 };
                }
                Ok(())
            }
            None => self.room_ready(jid).await,
        }
    }

    /// The room is entered and caught up: what waited goes out, and so do the
    /// invitations and our messages that waited for it.
    async fn room_ready(&mut self, jid: &BareJid) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get_mut(jid) else {
            return Ok(());
        };
        room.phase = Phase::Joined;
        let held: Vec<HeldLine> = room.held.drain(..).collect();
        let invites = std::mem::take(&mut room.invite_on_join);
        let hold = room.hold;
        for line in held {
            self.deliver_room_line(jid, line).await;
        }
        self.sm.unblock(hold, self.ctx.emitted());
        for to in invites {
            self.send(msg::invite(jid.clone(), to, None)).await?;
        }
        for m in self.rooms.take_resend(jid) {
            self.send(m).await?;
        }
        Ok(())
    }

    /// Emit a room line unless it was emitted already; the room's cursor and
    /// last line follow.
    async fn deliver_room_line(&mut self, jid: &BareJid, line: HeldLine) {
        let Some(room) = self.rooms.get(jid) else {
            return;
        };
        let id = room.id.clone();
        let since = matches!(room.backlog, Backlog::Since(_));
        let Some(nick) = line.nick else {
            self.emit(Event::Notice {
                text: format!("{id}: {}", line.body),
            })
            .await;
            return;
        };
        if let Some(archive) = &line.ids.archive {
            if !self.recent.insert(&id.0, archive) {
                return;
            }
            self.ctx
                .spec
                .archive_cursors
                .insert(id.0.clone(), archive.clone());
        }
        let d = digest(&nick, &line.body);
        let again = self
            .rooms
            .last_line(jid)
            .is_some_and(|l: &LastLine| l.digests.contains(&d));
        if since && line.sent_at.is_some() && again {
            // History since the last lines seen starts with those lines.
            return;
        }
        self.rooms
            .saw(jid, line.sent_at.unwrap_or_else(SystemTime::now), d);
        self.emit(Event::RoomMessage {
            room: id,
            from: nick,
            body: line.body,
            kind: line.kind,
            sent_at: line.sent_at,
            ids: line.ids,
        })
        .await;
    }

    /// A message from a room's archive.
    pub(super) async fn room_archived(&mut self, a: Archived) -> Result<(), XmppError> {
        let Some(jid) = a.archive.clone() else {
            return Ok(());
        };
        let Some(room) = self.rooms.get(&jid) else {
            return Ok(());
        };
        let ours = matches!(&room.phase, Phase::CatchingUp { queryid, .. }
            if a.queryid.as_deref() == Some(queryid.as_str()));
        if !ours {
            tracing::debug!(room = %jid, "an archived room message for no query of ours, ignored");
            return Ok(());
        }
        if let Some(line) = msg::archived_room_line(a, &jid)
            && let Some(body) = line.body
        {
            let held = HeldLine {
                nick: line.nick,
                body,
                kind: line.kind,
                sent_at: line.sent_at,
                ids: line.ids,
            };
            self.deliver_room_line(&jid, held).await;
        }
        Ok(())
    }

    /// The end of a page of a room's archive (or a refusal).
    pub(super) async fn room_archive_page(
        &mut self,
        jid: BareJid,
        queryid: String,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        let Some(room) = self.rooms.get(&jid) else {
            return Ok(());
        };
        let Phase::CatchingUp {
            queryid: current,
            pages,
        } = &room.phase
        else {
            return Ok(());
        };
        if *current != queryid {
            return Ok(());
        }
        let pages = *pages;
        match result {
            Ok(Some(p)) => {
                if let Ok(fin) = Fin::try_from(p)
                    && !fin.complete
                    && let Some(after) = fin.set.last
                    && pages < MAX_PAGES
                {
                    let queryid = self.room_archive_query(&jid, &after).await?;
                    if let Some(room) = self.rooms.get_mut(&jid) {
                        room.phase = Phase::CatchingUp {
                            queryid,
                            pages: pages + 1,
                        };
                    }
                    return Ok(());
                }
            }
            Ok(None) => {}
            Err(e) => {
                let id = room.id.clone();
                tracing::info!(room = %jid, error = %error_text(&e), "the room's archive refused the catch-up");
                self.emit(Event::Notice {
                    text: format!("{id}: the room's archive could not be read ({}), so messages since you were last here may be missing", error_text(&e)),
                })
                .await;
            }
        }
        self.room_ready(&jid).await
    }
}
