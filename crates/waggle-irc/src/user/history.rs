//! The message log, read back: the backlog a client gets on attach, IRCv3
//! `draft/chathistory` (`CHATHISTORY`) and `draft/read-marker` (`MARKREAD`).
//!
//! Logged messages name their conversation by the IM side's ids (account row
//! and handle or room); they are shown with today's nicks and channel names.

use std::time::{Duration, SystemTime};

use waggle_core::{
    Conversation, Direction, HistoryBound, HistoryQuery, LoggedMessage, MessageLog, UserId, UserKey,
};

use super::task::Task;
use super::{Cx, User};
use crate::caps::Cap;
use crate::client::format_time;
use crate::input::Input;
use crate::line::Line;
use crate::nick::irc_lower;
use crate::outbox::{ClientId, Delivery, Out, To};

/// Most messages one CHATHISTORY request returns (ISUPPORT `CHATHISTORY`).
pub(crate) const CHATHISTORY_LIMIT: u32 = 1000;
/// Most backlog messages one attach replays.
const REPLAY_LIMIT: u32 = 100_000;
/// Backlog messages read from the log at a time.
const REPLAY_PAGE: u32 = 500;
/// How long a client may take to drain its backlog before it is dropped.
const REPLAY_DRAIN: Duration = Duration::from_secs(30);

/// Where a user's messages are logged, with what identifies them there.
pub(crate) struct LogHandle {
    pub log: std::sync::Arc<dyn MessageLog>,
    pub user: UserId,
    pub key: UserKey,
}

impl User {
    /// The user's message log: the store's for an identified user, the session's
    /// own in memory otherwise.
    pub(crate) fn log_handle(&self) -> LogHandle {
        match &self.login {
            Some(l) => LogHandle {
                log: self.shared.log.clone(),
                user: l.id,
                key: l.key.clone(),
            },
            None => LogHandle {
                log: self.scratch.clone(),
                user: UserId(0),
                key: waggle_core::UserKey([0; 32]),
            },
        }
    }

    /// The number an account goes by in its conversations: its store row, or
    /// (in a session kept in memory) a negative stand-in.
    pub(crate) fn conversation_account(&self, id: waggle_core::AccountId) -> i64 {
        self.account_row(id).unwrap_or(-(id.0 as i64) - 1)
    }

    fn account_for_row(&self, row: i64) -> Option<waggle_core::AccountId> {
        self.accounts
            .iter()
            .find(|a| self.conversation_account(a.id) == row)
            .map(|a| a.id)
    }

    /// A logged entry moved its archive's cursor: keep the account's copy in step.
    pub(crate) fn note_cursor(&mut self, entry: &waggle_core::LogEntry) {
        let (Some(id), Some(scope), Some(row)) = (
            entry.archive_id.as_ref(),
            entry.archive_scope(),
            entry.conversation.account(),
        ) else {
            return;
        };
        let scope = scope.to_string();
        if let Some(a) = self.accounts.iter_mut().find(|a| a.rec.row == Some(row)) {
            a.cursors.insert(scope.clone(), id.clone());
            a.cursor_times.insert(scope, entry.at);
        }
    }

    /// A delayed message from an archive (a catch-up) is never shown as older
    /// than the message its archive holds before it: archives may keep stamps
    /// to the second only, and order must not suffer from that.
    pub(crate) fn catch_up_time(
        &self,
        account: waggle_core::AccountId,
        scope: &str,
        archive_id: Option<&str>,
        sent_at: Option<SystemTime>,
    ) -> Option<SystemTime> {
        let (Some(_), Some(t)) = (archive_id, sent_at) else {
            return sent_at;
        };
        let floor = self
            .account_by_id(account)
            .and_then(|a| a.cursor_times.get(scope).copied());
        Some(floor.map_or(t, |f| t.max(f)))
    }

    /// The conversation an IRC target (a nick, a channel) stands for.
    pub(crate) fn conversation_of(&self, target: &str) -> Option<Conversation> {
        if target.starts_with(['#', '&']) {
            let ch = self.channel(target)?;
            return Some(match &ch.room {
                Some((account, room)) => Conversation::Room {
                    account: self.conversation_account(*account),
                    room: room.0.clone(),
                },
                None => match (
                    ch.cfg.account.as_deref().and_then(|t| self.find_account(t)),
                    ch.cfg.room.as_deref(),
                ) {
                    (Some(account), Some(room)) if ch.is_chat() => Conversation::Room {
                        account: self.conversation_account(account),
                        room: room.to_string(),
                    },
                    _ => Conversation::Local(irc_lower(&ch.name)),
                },
            });
        }
        if self.is_root(target) || irc_lower(target) == irc_lower(&self.nick) {
            return Some(Conversation::Local(irc_lower(target)));
        }
        let c = self.contact_by_nick(target)?;
        Some(Conversation::Contact {
            account: self.conversation_account(c.account),
            handle: c.handle.clone(),
        })
    }

    /// A logged message as it is shown now; `None` when its conversation is gone.
    pub(crate) fn shown_again(&self, m: &LoggedMessage) -> Option<Delivery> {
        let e = &m.entry;
        let outgoing = e.direction == Direction::Outgoing;
        let (mask, target) = match &e.conversation {
            Conversation::Contact { account, handle } => {
                let contact = self
                    .account_for_row(*account)
                    .and_then(|id| self.contacts.get(&(id, handle.clone())));
                let nick = contact
                    .map(|c| c.nick.clone())
                    .unwrap_or_else(|| handle.clone());
                if outgoing {
                    (self.my_mask(), nick)
                } else {
                    (
                        contact
                            .map(|c| c.mask())
                            .unwrap_or_else(|| e.sender.clone()),
                        self.nick.clone(),
                    )
                }
            }
            Conversation::Room { account, room } => {
                let id = self.account_for_row(*account)?;
                let channel = self.chat_channel_for(id, &waggle_core::RoomId(room.clone()))?;
                let mask = if outgoing {
                    self.my_mask()
                } else {
                    e.sender.clone()
                };
                (mask, channel)
            }
            Conversation::Local(name) => {
                if name.starts_with(['#', '&']) {
                    let channel = self
                        .channel(name)
                        .map(|c| c.name.clone())
                        .unwrap_or_else(|| name.clone());
                    let mask = if outgoing {
                        self.my_mask()
                    } else {
                        e.sender.clone()
                    };
                    (mask, channel)
                } else if *name == irc_lower(&self.nick) || outgoing {
                    (self.my_mask(), self.nick.clone())
                } else {
                    (e.sender.clone(), self.nick.clone())
                }
            }
        };
        Some(Delivery {
            mask,
            target,
            body: e.body.clone(),
            kind: e.kind,
            at: e.at,
            delayed: true,
            msgid: e.msgid.clone(),
            log: None,
            seq: Some(m.seq),
        })
    }
}

/// A `timestamp=` or `msgid=` reference of CHATHISTORY/MARKREAD.
fn parse_bound(word: &str) -> Option<HistoryBound> {
    if let Some(t) = word.strip_prefix("timestamp=") {
        return parse_time(t).map(HistoryBound::Time);
    }
    word.strip_prefix("msgid=")
        .filter(|id| !id.is_empty())
        .map(|id| HistoryBound::MsgId(super::base_msgid(id).to_string()))
}

/// An IRCv3 server-time stamp (RFC 3339).
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    let dt =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(dt))
}

impl Cx<'_> {
    fn fail(&mut self, command: &str, code: &str, context: &[&str], text: &str) {
        let line = Line::new("FAIL")
            .prefix(&self.shared.config.name)
            .param(command)
            .param(code)
            .params(context)
            .param(text);
        self.send(line);
    }

    /// `CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS …`
    pub(crate) async fn chathistory(&mut self, input: &Input) {
        let sub = input.arg(0).to_ascii_uppercase();
        if sub.is_empty() {
            return self.fail("CHATHISTORY", "NEED_MORE_PARAMS", &[], "Missing parameters");
        }
        if sub == "TARGETS" {
            return self.chathistory_targets(input).await;
        }
        let needed = if sub == "BETWEEN" { 5 } else { 4 };
        if !matches!(
            sub.as_str(),
            "LATEST" | "BEFORE" | "AFTER" | "AROUND" | "BETWEEN"
        ) {
            return self.fail(
                "CHATHISTORY",
                "INVALID_PARAMS",
                &[&sub],
                "Unknown subcommand",
            );
        }
        if input.params.len() < needed {
            return self.fail(
                "CHATHISTORY",
                "NEED_MORE_PARAMS",
                &[&sub],
                "Missing parameters",
            );
        }
        let target = input.arg(1).to_string();
        let Some(conversation) = self.conversation_of(&target).filter(|_| {
            !target.starts_with(['#', '&']) || self.channel(&target).is_some_and(|c| c.joined)
        }) else {
            return self.fail(
                "CHATHISTORY",
                "INVALID_TARGET",
                &[&sub, &target],
                "Messages could not be retrieved",
            );
        };
        let Some(limit) = input
            .arg(needed - 1)
            .parse::<u32>()
            .ok()
            .map(|l| l.min(CHATHISTORY_LIMIT))
        else {
            return self.fail("CHATHISTORY", "INVALID_PARAMS", &[&sub], "Invalid limit");
        };
        let bound = |i: usize| parse_bound(input.arg(i));
        let query = match sub.as_str() {
            "LATEST" if input.arg(2) == "*" => Some(HistoryQuery::Latest { after: None, limit }),
            "LATEST" => bound(2).map(|b| HistoryQuery::Latest {
                after: Some(b),
                limit,
            }),
            "BEFORE" => bound(2).map(|bound| HistoryQuery::Before { bound, limit }),
            "AFTER" => bound(2).map(|bound| HistoryQuery::After { bound, limit }),
            "AROUND" => bound(2).map(|bound| HistoryQuery::Around { bound, limit }),
            _ => match (bound(2), bound(3)) {
                (Some(from), Some(to)) => Some(HistoryQuery::Between { from, to, limit }),
                _ => None,
            },
        };
        let Some(query) = query else {
            return self.fail(
                "CHATHISTORY",
                "INVALID_PARAMS",
                &[&sub],
                "Invalid message reference",
            );
        };
        let h = self.log_handle();
        let messages = match h.log.history(h.user, &h.key, &conversation, &query).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "history query failed");
                return self.fail(
                    "CHATHISTORY",
                    "MESSAGE_ERROR",
                    &[&sub, &target],
                    "Messages could not be retrieved",
                );
            }
        };
        let deliveries: Vec<Delivery> = messages
            .iter()
            .filter_map(|m| self.shown_again(m))
            .collect();
        self.history_batch(&target, deliveries);
    }

    /// A `chathistory` batch of messages for the origin.
    fn history_batch(&mut self, target: &str, deliveries: Vec<Delivery>) {
        let server = self.shared.config.name.clone();
        let reference = match self.client.as_mut() {
            Some(c) => c.batch_ref(),
            None => return,
        };
        self.send(
            Line::new("BATCH")
                .prefix(&server)
                .param(format!("+{reference}"))
                .param("chathistory")
                .param(target),
        );
        for mut d in deliveries {
            // History is history: the client has server-time (it asked for chathistory).
            d.delayed = false;
            self.push(
                To::Origin,
                Out::Batched(reference.clone(), Box::new(Out::Message(Box::new(d)))),
            );
        }
        self.send(
            Line::new("BATCH")
                .prefix(&server)
                .param(format!("-{reference}")),
        );
    }

    async fn chathistory_targets(&mut self, input: &Input) {
        if input.params.len() < 4 {
            return self.fail(
                "CHATHISTORY",
                "NEED_MORE_PARAMS",
                &["TARGETS"],
                "Missing parameters",
            );
        }
        let time_of = |w: &str| match parse_bound(w) {
            Some(HistoryBound::Time(t)) => Some(t),
            _ => None,
        };
        let (Some(from), Some(to), Some(limit)) = (
            time_of(input.arg(1)),
            time_of(input.arg(2)),
            input
                .arg(3)
                .parse::<u32>()
                .ok()
                .map(|l| l.min(CHATHISTORY_LIMIT)),
        ) else {
            return self.fail(
                "CHATHISTORY",
                "INVALID_PARAMS",
                &["TARGETS"],
                "Invalid parameters",
            );
        };
        let h = self.log_handle();
        let list = match h.log.conversations(h.user, from, to, limit).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "history targets query failed");
                return self.fail(
                    "CHATHISTORY",
                    "MESSAGE_ERROR",
                    &["TARGETS", "*"],
                    "Targets could not be retrieved",
                );
            }
        };
        let server = self.shared.config.name.clone();
        let reference = match self.client.as_mut() {
            Some(c) => c.batch_ref(),
            None => return,
        };
        self.send(
            Line::new("BATCH")
                .prefix(&server)
                .param(format!("+{reference}"))
                .param("draft/chathistory-targets"),
        );
        for s in list {
            let Some(name) = self.target_name(&s.conversation) else {
                continue;
            };
            self.send(
                Line::new("CHATHISTORY")
                    .tag("batch", reference.clone())
                    .prefix(&server)
                    .param("TARGETS")
                    .param(name)
                    .param(format_time(s.latest)),
            );
        }
        self.send(
            Line::new("BATCH")
                .prefix(&server)
                .param(format!("-{reference}")),
        );
    }

    /// The IRC name a conversation goes by now.
    fn target_name(&self, c: &Conversation) -> Option<String> {
        match c {
            Conversation::Contact { account, handle } => {
                let id = self.account_for_row(*account)?;
                self.contacts
                    .get(&(id, handle.clone()))
                    .map(|c| c.nick.clone())
            }
            Conversation::Room { account, room } => {
                let id = self.account_for_row(*account)?;
                self.chat_channel_for(id, &waggle_core::RoomId(room.clone()))
            }
            Conversation::Local(name) => Some(
                self.channel(name)
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| name.clone()),
            ),
        }
    }

    /// `MARKREAD <target> [timestamp=…]`: read or move the read marker; a move is
    /// told to every client that takes read markers.
    pub(crate) async fn markread(&mut self, input: &Input) {
        let Some(target) = input.params.first().filter(|t| !t.is_empty()).cloned() else {
            return self.fail("MARKREAD", "NEED_MORE_PARAMS", &[], "Missing parameters");
        };
        let conversation = self
            .conversation_of(&target)
            .unwrap_or_else(|| Conversation::Local(irc_lower(&target)));
        let h = self.log_handle();
        let Some(word) = input.params.get(1) else {
            let at = h
                .log
                .read_marker(h.user, &conversation)
                .await
                .ok()
                .flatten();
            let line = markread_line(&self.shared.config.name, &target, at);
            self.send(line);
            return;
        };
        let Some(at) = word.strip_prefix("timestamp=").and_then(parse_time) else {
            return self.fail(
                "MARKREAD",
                "INVALID_PARAMS",
                &[&target],
                "Invalid timestamp",
            );
        };
        let at = waggle_core::clock::clamp_remote(at, SystemTime::now());
        let before = h
            .log
            .read_marker(h.user, &conversation)
            .await
            .ok()
            .flatten();
        match h.log.set_read_marker(h.user, &conversation, at).await {
            Ok(now) => {
                let line = markread_line(&self.shared.config.name, &target, Some(now));
                if before != Some(now) {
                    self.push(To::All, Out::Capable(Cap::ReadMarker, line));
                } else {
                    self.send(line);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "read marker update failed");
                self.fail(
                    "MARKREAD",
                    "INTERNAL_ERROR",
                    &[&target],
                    "Could not store the read marker",
                );
            }
        }
    }
}

/// `MARKREAD <target> timestamp=…` (or `*` for none).
pub(crate) fn markread_line(server: &str, target: &str, at: Option<SystemTime>) -> Line {
    Line::new("MARKREAD")
        .prefix(server)
        .param(target)
        .param(match at {
            Some(t) => format!("timestamp={}", format_time(t)),
            None => "*".into(),
        })
}

impl Task {
    /// Send a client what it has not seen since its read position, in order,
    /// in `chathistory` batches per target (clients that asked for
    /// `draft/chathistory` fetch their history themselves).
    pub(super) async fn replay(&mut self, id: ClientId) {
        let h = self.user.log_handle();
        let last = h.log.last_seq(h.user).await.unwrap_or(0);
        let Some(client) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        let name = client.name.clone();
        let asks_itself = client.has(Cap::Chathistory);
        let position = match h.log.position(h.user, &name).await {
            Ok(Some(p)) => Some(p),
            Ok(None) if !name.is_empty() => h.log.position(h.user, "").await.ok().flatten(),
            _ => None,
        };
        let mut from = position.unwrap_or(last);
        if asks_itself {
            // It fetches its history itself; its read position stays where
            // it was and moves with what it is given from now on.
            if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
                c.delivered = c.delivered.max(from);
                c.saved = c.saved.max(from);
            }
            return;
        }
        let mut sent = 0u32;
        let server = self.user.shared.config.name.clone();
        let tz = self.user.cfg.timezone;
        let timestamps = self.user.cfg.display_timestamps;
        let addressed = format!("{}{}", self.user.nick, self.user.cfg.to_char);
        'pages: while from < last && sent < REPLAY_LIMIT {
            let page = match h.log.since(h.user, &h.key, from, REPLAY_PAGE).await {
                Ok(p) if !p.is_empty() => p,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "backlog read failed");
                    break;
                }
            };
            let mut run: Option<(String, String)> = None;
            for m in &page {
                from = from.max(m.seq);
                sent += 1;
                let Some(d) = self.user.shown_again(m) else {
                    continue;
                };
                let Some(client) = self.clients.iter_mut().find(|c| c.id == id) else {
                    return;
                };
                let render = crate::client::Render {
                    server: &server,
                    timestamps,
                    tz,
                    addressed: &addressed,
                };
                let batching = client.has(Cap::Batch);
                if batching && run.as_ref().is_none_or(|(t, _)| *t != d.target) {
                    if let Some((_, r)) = run.take() {
                        let end = Line::new("BATCH").prefix(&server).param(format!("-{r}"));
                        if !client.write_wait(end, REPLAY_DRAIN).await {
                            break 'pages;
                        }
                    }
                    let r = client.batch_ref();
                    let start = Line::new("BATCH")
                        .prefix(&server)
                        .param(format!("+{r}"))
                        .param("chathistory")
                        .param(&d.target);
                    if !client.write_wait(start, REPLAY_DRAIN).await {
                        break 'pages;
                    }
                    run = Some((d.target.clone(), r));
                }
                for mut line in client.message_lines(&d, &render) {
                    if let Some((_, r)) = &run {
                        line = line.tag("batch", r.clone());
                    }
                    if !client.write_wait(line, REPLAY_DRAIN).await {
                        break 'pages;
                    }
                }
            }
            if let (Some((_, r)), Some(client)) =
                (run.take(), self.clients.iter().find(|c| c.id == id))
            {
                let end = Line::new("BATCH").prefix(&server).param(format!("-{r}"));
                if !client.write_wait(end, REPLAY_DRAIN).await {
                    break;
                }
            }
            if page.len() < REPLAY_PAGE as usize {
                break;
            }
        }
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
            c.delivered = c.delivered.max(from);
            self.positions_dirty_mark();
        }
    }
}
