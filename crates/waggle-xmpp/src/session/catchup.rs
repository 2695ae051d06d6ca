//! Catching up with the archives (XEP-0313) after every login that was not a
//! resumption: our own archive from the last archive id the gateway logged
//! (`archive_cursors[""]`, then the last one emitted in this context), page by
//! page (RSM), each message emitted as a delayed one, in order; live messages
//! arriving meanwhile wait and follow, each emitted once even when the archive
//! also returned it. With no cursor at all nothing old is fetched: the
//! gateway never logged anything from this archive, so there is no point to
//! go on from, and a whole archive replayed would flood the user with what
//! other clients already showed. The archive's last id is noted instead, so a
//! reconnect in this context catches up from there; messages that arrived
//! while no client was online still come from offline storage.
//!
//! Rooms catch up the same way when they are entered, from their own cursor
//! ([`rooms`](super::rooms) decides when).

use std::collections::{HashSet, VecDeque};

use waggle_core::Event;
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::mam::Fin;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, StanzaError};

use super::{Pending, Session, random_id};
use crate::convert::error_text;
use crate::convert::mam::{self, Archived};
use crate::convert::message::{self as msg, Chat};
use crate::error::XmppError;

/// The hold token of the account's own catch-up (rooms get theirs from 1 on).
pub const ACCOUNT_HOLD: u64 = 0;
/// How many pages one catch-up fetches at most (a message count of
/// `PAGES × mam::PAGE`); the rest waits for the next catch-up.
pub const MAX_PAGES: u32 = 100;
/// How many live messages may wait for a catch-up; past this the catch-up is
/// cut short so they can go.
pub const MAX_HELD: usize = 1000;
/// How many archive ids are remembered to recognise a message seen twice.
const RECENT: usize = 4096;

/// Where our own archive's catch-up stands.
#[derive(Debug, Default)]
enum State {
    /// Not started: waiting for the login, then for our account's features.
    #[default]
    Waiting,
    /// Asking for the archive's last id only (no cursor yet).
    Learning {
        queryid: String,
        last: Option<String>,
    },
    /// Paging through the archive after the cursor.
    Paging { queryid: String, pages: u32 },
    /// Done: live messages go out as they come.
    Done,
}

/// A live message held back while catching up.
#[derive(Debug)]
struct Held {
    event: Event,
    archive: Option<String>,
    receipt: Option<Stanza>,
}

/// The account's catch-up.
#[derive(Debug, Default)]
pub struct CatchUp {
    state: State,
    held: Vec<Held>,
}

impl CatchUp {
    /// Whether live messages must wait.
    pub fn holding(&self) -> bool {
        !matches!(self.state, State::Done)
    }
}

/// The archive ids of messages emitted lately, per archive.
#[derive(Debug, Default)]
pub struct RecentIds {
    set: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl RecentIds {
    /// Note `id` of `archive` (`""`: ours, else a room); false when it was
    /// already emitted.
    pub fn insert(&mut self, archive: &str, id: &str) -> bool {
        let key = (archive.to_string(), id.to_string());
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() >= RECENT
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Whether a disco#info answer says the entity keeps an archive.
pub fn has_archive(result: &Result<Option<Element>, StanzaError>) -> bool {
    match result {
        Ok(Some(p)) => {
            DiscoInfoResult::try_from(p.clone()).is_ok_and(|i| i.features.contains(ns::MAM))
        }
        _ => false,
    }
}

impl Session<'_> {
    /// Logged in: ask whether our account has an archive.
    pub(super) async fn start_catchup(&mut self) -> Result<(), XmppError> {
        let me = Jid::from(self.bare());
        self.iq_get(
            Some(me),
            DiscoInfoQuery { node: None },
            Pending::AccountInfo,
        )
        .await
    }

    /// Our account's features came: catch up if it has an archive.
    pub(super) async fn account_info(
        &mut self,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        if !has_archive(&result) {
            tracing::debug!("no archive: nothing to catch up with");
            return self.finish_catchup().await;
        }
        let queryid = random_id();
        match self.ctx.spec.archive_cursors.get("").cloned() {
            Some(after) => {
                tracing::debug!("catching up with the archive");
                self.catchup.state = State::Paging {
                    queryid: queryid.clone(),
                    pages: 1,
                };
                let q = mam::query_after(&queryid, &after);
                self.iq_set(None, q, Pending::ArchivePage(queryid)).await
            }
            None => {
                self.catchup.state = State::Learning {
                    queryid: queryid.clone(),
                    last: None,
                };
                let q = mam::query_last(&queryid);
                self.iq_set(None, q, Pending::ArchivePage(queryid)).await
            }
        }
    }

    /// A message an archive query returned.
    pub(super) async fn archived(&mut self, a: Archived) -> Result<(), XmppError> {
        let ours = a.archive.as_ref().is_none_or(|j| *j == self.bare());
        if !ours {
            return self.room_archived(a).await;
        }
        let queryid = a.queryid.clone().unwrap_or_default();
        match &mut self.catchup.state {
            State::Learning { queryid: q, last } if *q == queryid => {
                *last = Some(a.id);
                Ok(())
            }
            State::Paging { queryid: q, .. } if *q == queryid => {
                let me = self.bare();
                match msg::archived_chat(a, &me) {
                    Some(c) => self.chat_event(c, false).await,
                    None => Ok(()),
                }
            }
            _ => {
                tracing::debug!("an archived message for no query of ours, ignored");
                Ok(())
            }
        }
    }

    /// The end of a page of our archive (or a refusal).
    pub(super) async fn archive_page(
        &mut self,
        queryid: String,
        result: Result<Option<Element>, StanzaError>,
    ) -> Result<(), XmppError> {
        let fin = match &result {
            Ok(Some(p)) => Fin::try_from(p.clone()).ok(),
            _ => None,
        };
        match std::mem::take(&mut self.catchup.state) {
            State::Learning { queryid: q, last } if q == queryid => {
                if let Some(last) = last {
                    self.ctx
                        .spec
                        .archive_cursors
                        .entry(String::new())
                        .or_insert(last);
                }
            }
            State::Paging { queryid: q, pages } if q == queryid => {
                if let Err(e) = &result {
                    self.archive_refused(e).await;
                } else if let Some(fin) = fin
                    && !fin.complete
                    && let Some(after) = fin.set.last
                {
                    if pages < MAX_PAGES {
                        let queryid = random_id();
                        self.catchup.state = State::Paging {
                            queryid: queryid.clone(),
                            pages: pages + 1,
                        };
                        let q = mam::query_after(&queryid, &after);
                        return self.iq_set(None, q, Pending::ArchivePage(queryid)).await;
                    }
                    self.emit(Event::Notice {
                        text: format!(
                            "The archive holds more than {} messages since the last one shown; the rest follows at the next login",
                            MAX_PAGES as usize * mam::PAGE
                        ),
                    })
                    .await;
                }
            }
            other => {
                self.catchup.state = other;
                return Ok(());
            }
        }
        self.finish_catchup().await
    }

    /// The archive refused a catch-up query.
    async fn archive_refused(&mut self, e: &StanzaError) {
        if e.defined_condition == DefinedCondition::ItemNotFound {
            // The cursor is gone from the archive (expired, or another server).
            self.ctx.spec.archive_cursors.remove("");
            self.emit(Event::Notice {
                text: "The archive no longer holds the last message shown, so messages since then may be missing".into(),
            })
            .await;
        } else {
            tracing::info!(error = %error_text(e), "the archive refused the catch-up");
        }
    }

    /// The catch-up is over: the live messages that waited go out.
    pub(super) async fn finish_catchup(&mut self) -> Result<(), XmppError> {
        self.catchup.state = State::Done;
        for h in std::mem::take(&mut self.catchup.held) {
            self.emit_chat(h.event, h.archive, h.receipt).await?;
        }
        self.sm.unblock(ACCOUNT_HOLD, self.ctx.emitted());
        Ok(())
    }

    /// A one-to-one message to report: now, or after the catch-up; `live`
    /// when it came as it was sent (its receipt is then due).
    pub(super) async fn chat_event(&mut self, c: Chat, live: bool) -> Result<(), XmppError> {
        let Some(body) = c.body else {
            return Ok(());
        };
        let receipt = match (&c.receipt_for, live) {
            (Some(id), true) => Some(Stanza::Message(msg::receipt(c.peer.clone(), id.clone()))),
            _ => None,
        };
        let archive = c.ids.archive.clone();
        let event = Event::MessageReceived {
            from: self.peer_handle(&c.peer),
            body,
            kind: c.kind,
            sent_at: c.sent_at,
            from_self: c.from_self,
            ids: c.ids,
        };
        if live && self.catchup.holding() {
            if self.catchup.held.len() >= MAX_HELD {
                tracing::warn!("too many messages waiting for the catch-up; it ends here");
                self.finish_catchup().await?;
                return self.emit_chat(event, archive, receipt).await;
            }
            self.catchup.held.push(Held {
                event,
                archive,
                receipt,
            });
            self.held_now = Some(ACCOUNT_HOLD);
            return Ok(());
        }
        self.emit_chat(event, archive, receipt).await
    }

    /// Emit a one-to-one message unless its archive id was emitted already;
    /// the archive cursor follows; the receipt waits for the core.
    async fn emit_chat(
        &mut self,
        event: Event,
        archive: Option<String>,
        receipt: Option<Stanza>,
    ) -> Result<(), XmppError> {
        if let Some(id) = &archive {
            if !self.recent.insert("", id) {
                tracing::debug!("a message emitted already, not again");
                return Ok(());
            }
            self.ctx
                .spec
                .archive_cursors
                .insert(String::new(), id.clone());
        }
        let seq = self.emit(event).await;
        if let Some(r) = receipt {
            self.after_handled(seq, r).await?;
        }
        Ok(())
    }

    /// Ask a room's archive for a page after `after`.
    pub(super) async fn room_archive_query(
        &mut self,
        room: &BareJid,
        after: &str,
    ) -> Result<String, XmppError> {
        let queryid = random_id();
        let q = mam::query_after(&queryid, after);
        let why = Pending::RoomArchivePage(room.clone(), queryid.clone());
        self.iq_set(Some(Jid::from(room.clone())), q, why).await?;
        Ok(queryid)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_the_oldest() {
        let mut r = RecentIds::default();
        assert!(r.insert("", "a"));
        assert!(!r.insert("", "a"));
        assert!(r.insert("room@conf", "a"));
        for i in 0..RECENT {
            r.insert("", &i.to_string());
        }
        assert!(r.insert("", "a"), "the oldest is forgotten");
    }

    #[test]
    fn archives_are_found_in_features() {
        let el: Element = "<query xmlns='http://jabber.org/protocol/disco#info'>\
             <identity category='account' type='registered'/>\
             <feature var='urn:xmpp:mam:2'/></query>"
            .parse()
            .unwrap();
        assert!(has_archive(&Ok(Some(el))));
        assert!(!has_archive(&Ok(None)));
    }
}
