//! The message log of a session nobody identified yet: in memory only, like the
//! rest of such a session, bounded, and gone when the session ends. It keeps
//! the [`MessageLog`] contract so backlog and CHATHISTORY work the same way for
//! every session.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;
use waggle_core::{
    Conversation, ConversationSummary, HistoryBound, HistoryQuery, HistoryStats, LogEntry,
    LoggedMessage, MessageLog, Retention, StoreError, UserId, UserKey,
};

/// Most messages an in-memory log keeps (the oldest go first).
pub const MEMORY_LOG_LIMIT: usize = 2000;

#[derive(Default)]
struct Inner {
    messages: VecDeque<LoggedMessage>,
    next_seq: i64,
    positions: BTreeMap<String, i64>,
    markers: BTreeMap<Conversation, SystemTime>,
}

/// A bounded in-memory message log.
#[derive(Default)]
pub struct MemoryLog {
    inner: Mutex<Inner>,
}

impl MemoryLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key(m: &LoggedMessage) -> (SystemTime, i64) {
    (m.entry.at, m.seq)
}

/// The (time, seq) a bound stands for; `None` for an unknown msgid.
fn resolve(msgs: &[&LoggedMessage], bound: &HistoryBound) -> Option<(SystemTime, i64)> {
    match bound {
        HistoryBound::Time(t) => Some((*t, i64::MIN)),
        HistoryBound::MsgId(id) => msgs.iter().find(|m| m.entry.msgid == *id).map(|m| key(m)),
    }
}

/// Everything strictly after a bound: for a time bound, messages at a later time;
/// for a message, those after it.
fn after(m: &LoggedMessage, bound: &HistoryBound, at: (SystemTime, i64)) -> bool {
    match bound {
        HistoryBound::Time(t) => m.entry.at > *t,
        HistoryBound::MsgId(_) => key(m) > at,
    }
}

fn before(m: &LoggedMessage, bound: &HistoryBound, at: (SystemTime, i64)) -> bool {
    match bound {
        HistoryBound::Time(t) => m.entry.at < *t,
        HistoryBound::MsgId(_) => key(m) < at,
    }
}

fn last_n(mut v: Vec<LoggedMessage>, n: usize) -> Vec<LoggedMessage> {
    let skip = v.len().saturating_sub(n);
    v.drain(..skip);
    v
}

#[async_trait]
impl MessageLog for MemoryLog {
    async fn append(
        &self,
        _user: UserId,
        _key: &UserKey,
        entry: &LogEntry,
    ) -> Result<Option<LoggedMessage>, StoreError> {
        let mut inner = self.lock();
        let duplicate = inner.messages.iter().any(|m| {
            m.entry.conversation == entry.conversation
                && ((entry.archive_id.is_some() && m.entry.archive_id == entry.archive_id)
                    || (entry.origin_id.is_some() && m.entry.origin_id == entry.origin_id))
        });
        if duplicate {
            return Ok(None);
        }
        inner.next_seq += 1;
        let logged = LoggedMessage {
            seq: inner.next_seq,
            entry: entry.clone(),
        };
        inner.messages.push_back(logged.clone());
        while inner.messages.len() > MEMORY_LOG_LIMIT {
            inner.messages.pop_front();
        }
        Ok(Some(logged))
    }

    async fn set_archive_cursor(
        &self,
        _user: UserId,
        _account: i64,
        _scope: &str,
        _archive_id: &str,
    ) -> Result<(), StoreError> {
        // Accounts of a session in memory start from scratch every time.
        Ok(())
    }

    async fn archive_cursors(
        &self,
        _user: UserId,
        _account: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        Ok(BTreeMap::new())
    }

    async fn archive_time(
        &self,
        _user: UserId,
        account: i64,
        archive_id: &str,
    ) -> Result<Option<SystemTime>, StoreError> {
        Ok(self
            .lock()
            .messages
            .iter()
            .find(|m| {
                m.entry.conversation.account() == Some(account)
                    && m.entry.archive_id.as_deref() == Some(archive_id)
            })
            .map(|m| m.entry.at))
    }

    async fn since(
        &self,
        _user: UserId,
        _key: &UserKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        Ok(self
            .lock()
            .messages
            .iter()
            .filter(|m| m.seq > after_seq)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn last_seq(&self, _user: UserId) -> Result<i64, StoreError> {
        Ok(self.lock().next_seq)
    }

    async fn history(
        &self,
        _user: UserId,
        _key: &UserKey,
        conversation: &Conversation,
        query: &HistoryQuery,
    ) -> Result<Vec<LoggedMessage>, StoreError> {
        let inner = self.lock();
        let mut msgs: Vec<&LoggedMessage> = inner
            .messages
            .iter()
            .filter(|m| m.entry.conversation == *conversation)
            .collect();
        msgs.sort_by_key(|m| key(m));
        let pick = |f: &dyn Fn(&LoggedMessage) -> bool| -> Vec<LoggedMessage> {
            msgs.iter().filter(|m| f(m)).map(|m| (*m).clone()).collect()
        };
        Ok(match query {
            HistoryQuery::Latest { after: None, limit } => last_n(pick(&|_| true), *limit as usize),
            HistoryQuery::Latest {
                after: Some(b),
                limit,
            } => match resolve(&msgs, b) {
                Some(at) => last_n(pick(&|m| after(m, b, at)), *limit as usize),
                None => Vec::new(),
            },
            HistoryQuery::Before { bound, limit } => match resolve(&msgs, bound) {
                Some(at) => last_n(pick(&|m| before(m, bound, at)), *limit as usize),
                None => Vec::new(),
            },
            HistoryQuery::After { bound, limit } => match resolve(&msgs, bound) {
                Some(at) => {
                    let mut v = pick(&|m| after(m, bound, at));
                    v.truncate(*limit as usize);
                    v
                }
                None => Vec::new(),
            },
            HistoryQuery::Around { bound, limit } => match resolve(&msgs, bound) {
                Some(at) => {
                    let limit = *limit as usize;
                    let centre = pick(&|m| key(m) == at);
                    let room = limit.saturating_sub(centre.len());
                    let older = last_n(pick(&|m| key(m) < at), room / 2);
                    let mut newer = pick(&|m| key(m) > at);
                    newer.truncate(room - older.len());
                    let mut v = older;
                    v.extend(centre.into_iter().take(limit));
                    v.extend(newer);
                    v
                }
                None => Vec::new(),
            },
            HistoryQuery::Between { from, to, limit } => {
                match (resolve(&msgs, from), resolve(&msgs, to)) {
                    (Some(a), Some(b)) => {
                        let (lo, lo_b, hi, hi_b, backwards) = if a <= b {
                            (a, from, b, to, false)
                        } else {
                            (b, to, a, from, true)
                        };
                        let v = pick(&|m| after(m, lo_b, lo) && before(m, hi_b, hi));
                        if backwards {
                            last_n(v, *limit as usize)
                        } else {
                            let mut v = v;
                            v.truncate(*limit as usize);
                            v
                        }
                    }
                    _ => Vec::new(),
                }
            }
        })
    }

    async fn conversations(
        &self,
        _user: UserId,
        from: SystemTime,
        to: SystemTime,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
        let mut latest: BTreeMap<Conversation, SystemTime> = BTreeMap::new();
        for m in &self.lock().messages {
            let e = latest
                .entry(m.entry.conversation.clone())
                .or_insert(m.entry.at);
            *e = (*e).max(m.entry.at);
        }
        latest.retain(|_, at| *at > lo && *at < hi);
        let mut v: Vec<ConversationSummary> = latest
            .into_iter()
            .map(|(conversation, latest)| ConversationSummary {
                conversation,
                latest,
            })
            .collect();
        v.sort_by_key(|s| s.latest);
        v.truncate(limit as usize);
        Ok(v)
    }

    async fn position(&self, _user: UserId, client: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.lock().positions.get(client).copied())
    }

    async fn save_positions(
        &self,
        _user: UserId,
        positions: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for (name, seq) in positions {
            let e = inner.positions.entry(name.clone()).or_insert(*seq);
            *e = (*e).max(*seq);
        }
        Ok(())
    }

    async fn read_marker(
        &self,
        _user: UserId,
        conversation: &Conversation,
    ) -> Result<Option<SystemTime>, StoreError> {
        Ok(self.lock().markers.get(conversation).copied())
    }

    async fn set_read_marker(
        &self,
        _user: UserId,
        conversation: &Conversation,
        at: SystemTime,
    ) -> Result<SystemTime, StoreError> {
        let mut inner = self.lock();
        let e = inner.markers.entry(conversation.clone()).or_insert(at);
        *e = (*e).max(at);
        Ok(*e)
    }

    async fn prune(&self, _instance: Retention, _now: SystemTime) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn history_stats(&self, _user: UserId) -> Result<HistoryStats, StoreError> {
        let inner = self.lock();
        let conversations: std::collections::BTreeSet<&Conversation> = inner
            .messages
            .iter()
            .map(|m| &m.entry.conversation)
            .collect();
        Ok(HistoryStats {
            count: inner.messages.len() as u64,
            oldest: inner.messages.iter().map(|m| m.entry.at).min(),
            newest: inner.messages.iter().map(|m| m.entry.at).max(),
            conversations: conversations.len() as u64,
        })
    }

    async fn clear_history(
        &self,
        _user: UserId,
        before: Option<SystemTime>,
    ) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let n = inner.messages.len();
        match before {
            Some(t) => inner.messages.retain(|m| m.entry.at >= t),
            None => inner.messages.clear(),
        }
        Ok((n - inner.messages.len()) as u64)
    }
}
