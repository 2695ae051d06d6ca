//! Every benchmark message carries its identity in its body; the tracker keeps
//! when each was sent and received, and from that counts what was lost,
//! duplicated or reordered and how long delivery took.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From an XMPP contact to the user's IRC client.
    ToIrc,
    /// From the user's IRC client to an XMPP contact.
    ToXmpp,
}

impl Dir {
    fn code(self) -> char {
        match self {
            Dir::ToIrc => 'i',
            Dir::ToXmpp => 'x',
        }
    }

    /// `xmpp→irc` or `irc→xmpp`.
    pub fn label(self) -> &'static str {
        match self {
            Dir::ToIrc => "xmpp→irc",
            Dir::ToXmpp => "irc→xmpp",
        }
    }
}

/// One message: phase, direction, user, contact, and its place in the stream
/// between that user and that contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The phase number.
    pub phase: u16,
    /// The direction.
    pub dir: Dir,
    /// The user's index.
    pub user: u32,
    /// The contact's index within the user's roster.
    pub contact: u32,
    /// The sequence number within (phase, direction, user, contact).
    pub seq: u32,
}

/// Text after the identity, so a body has the length of a typical chat line.
const FILLER: &str = "are we still on for lunch tomorrow at noon?";
const MAGIC: &str = "bench:";
/// How many lost messages [`Flow::lost_sample`] keeps.
const LOST_SAMPLE: usize = 3;

impl Key {
    /// The message body.
    pub fn body(&self) -> String {
        format!(
            "{MAGIC}{}:{}:{}:{}:{} {FILLER}",
            self.phase,
            self.dir.code(),
            self.user,
            self.contact,
            self.seq
        )
    }

    /// The key in a received body, if it is one of ours (a replayed message
    /// may carry its time in front of it).
    pub fn parse(body: &str) -> Option<Key> {
        let at = body.find(MAGIC)?;
        let id = body.get(at + MAGIC.len()..)?.split(' ').next()?;
        let mut f = id.split(':');
        let phase = f.next()?.parse().ok()?;
        let dir = match f.next()? {
            "i" => Dir::ToIrc,
            "x" => Dir::ToXmpp,
            _ => return None,
        };
        let user = f.next()?.parse().ok()?;
        let contact = f.next()?.parse().ok()?;
        let seq = f.next()?.parse().ok()?;
        Some(Key {
            phase,
            dir,
            user,
            contact,
            seq,
        })
    }

    fn stream(&self) -> (u16, Dir, u32, u32) {
        (self.phase, self.dir, self.user, self.contact)
    }
}

/// What became of the messages of one phase and direction.
#[derive(Debug, Clone, Default)]
pub struct Flow {
    /// Messages sent.
    pub sent: u64,
    /// Distinct messages received.
    pub delivered: u64,
    /// Sent but never received.
    pub lost: u64,
    /// Receipts beyond the first of a message.
    pub duplicated: u64,
    /// Messages received after a later one of the same stream.
    pub reordered: u64,
    /// Send-to-first-receipt times, sorted.
    pub latencies: Vec<Duration>,
    /// A few of the lost messages, lowest first.
    pub lost_sample: Vec<Key>,
}

impl Flow {
    /// The `p`-quantile (0..=1) of the latencies.
    pub fn latency(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies.get(i).copied()
    }
}

#[derive(Default)]
struct Inner {
    sent: HashMap<Key, Instant>,
    first: HashMap<Key, Instant>,
    duplicated: HashMap<(u16, Dir), u64>,
    reordered: HashMap<(u16, Dir), u64>,
    distinct: HashMap<(u16, Dir), u64>,
    max_seq: HashMap<(u16, Dir, u32, u32), u32>,
}

/// The shared record of sends and receipts.
#[derive(Default)]
pub struct Tracker {
    inner: Mutex<Inner>,
    notify: Notify,
}

impl Tracker {
    /// Record that `key` is being sent now (call before writing it).
    pub fn sent(&self, key: Key) {
        if let Ok(mut i) = self.inner.lock() {
            i.sent.insert(key, Instant::now());
        }
    }

    /// Record a receipt of `key` at `at`.
    pub fn received(&self, key: Key, at: Instant) {
        if let Ok(mut i) = self.inner.lock() {
            let flow = (key.phase, key.dir);
            if let std::collections::hash_map::Entry::Vacant(e) = i.first.entry(key) {
                e.insert(at);
                *i.distinct.entry(flow).or_default() += 1;
                let max = i.max_seq.entry(key.stream()).or_insert(key.seq);
                if key.seq < *max {
                    *i.reordered.entry(flow).or_default() += 1;
                } else {
                    *max = key.seq;
                }
            } else {
                *i.duplicated.entry(flow).or_default() += 1;
            }
        }
        self.notify.notify_one();
    }

    fn is_received(&self, key: &Key) -> bool {
        self.inner
            .lock()
            .map(|i| i.first.contains_key(key))
            .unwrap_or(false)
    }

    fn distinct(&self, phase: u16, dir: Dir) -> u64 {
        self.inner
            .lock()
            .map(|i| i.distinct.get(&(phase, dir)).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Wait until `key` has arrived, at most `timeout`; whether it did.
    /// Only one task may wait on the tracker at a time.
    pub async fn wait_one(&self, key: &Key, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.is_received(key) {
                return true;
            }
            if tokio::time::timeout_at(deadline, self.notify.notified())
                .await
                .is_err()
            {
                return self.is_received(key);
            }
        }
    }

    /// Wait until `expected` distinct messages of (`phase`, `dir`) have arrived,
    /// or nothing new came for `stall`, or `cap` has passed.
    pub async fn wait_all(
        &self,
        phase: u16,
        dir: Dir,
        expected: u64,
        stall: Duration,
        cap: Duration,
    ) {
        let end = tokio::time::Instant::now() + cap;
        let mut count = self.distinct(phase, dir);
        let mut progress = tokio::time::Instant::now();
        while count < expected {
            let now = tokio::time::Instant::now();
            let until = end.min(progress + stall);
            if now >= until {
                return;
            }
            let _ = tokio::time::timeout_at(until, self.notify.notified()).await;
            let n = self.distinct(phase, dir);
            if n > count {
                count = n;
                progress = tokio::time::Instant::now();
            }
        }
    }

    /// When the last of the messages of (`phase`, `dir`) first arrived.
    pub fn last_arrival(&self, phase: u16, dir: Dir) -> Option<Instant> {
        let i = self.inner.lock().ok()?;
        i.first
            .iter()
            .filter(|(k, _)| k.phase == phase && k.dir == dir)
            .map(|(_, at)| *at)
            .max()
    }

    /// The outcome of (`phase`, `dir`).
    pub fn flow(&self, phase: u16, dir: Dir) -> Flow {
        let Ok(i) = self.inner.lock() else {
            return Flow::default();
        };
        let mut f = Flow::default();
        for (key, sent) in i
            .sent
            .iter()
            .filter(|(k, _)| k.phase == phase && k.dir == dir)
        {
            f.sent += 1;
            match i.first.get(key) {
                Some(at) => {
                    f.delivered += 1;
                    f.latencies.push(at.saturating_duration_since(*sent));
                }
                None => {
                    f.lost += 1;
                    f.lost_sample.push(*key);
                }
            }
        }
        f.lost_sample.sort_by_key(|k| (k.user, k.contact, k.seq));
        f.lost_sample.truncate(LOST_SAMPLE);
        f.duplicated = i.duplicated.get(&(phase, dir)).copied().unwrap_or(0);
        f.reordered = i.reordered.get(&(phase, dir)).copied().unwrap_or(0);
        f.latencies.sort();
        f
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(seq: u32) -> Key {
        Key {
            phase: 2,
            dir: Dir::ToXmpp,
            user: 7,
            contact: 3,
            seq,
        }
    }

    #[test]
    fn a_body_gives_its_key_back() {
        let k = key(41);
        assert_eq!(Key::parse(&k.body()), Some(k));
        assert_eq!(Key::parse(&format!("[12:00:00] {}", k.body())), Some(k));
        assert_eq!(Key::parse("hello"), None);
        assert_eq!(Key::parse("bench:1:q:1:1:1"), None);
    }

    #[test]
    fn losses_duplicates_and_reordering_are_counted() {
        let t = Tracker::default();
        for s in 0..5 {
            t.sent(key(s));
        }
        let now = Instant::now();
        t.received(key(0), now);
        t.received(key(2), now);
        t.received(key(1), now);
        t.received(key(2), now);
        let f = t.flow(2, Dir::ToXmpp);
        assert_eq!((f.sent, f.delivered, f.lost), (5, 3, 2));
        assert_eq!((f.duplicated, f.reordered), (1, 1));
        assert_eq!(f.latencies.len(), 3);
        assert_eq!(t.flow(2, Dir::ToIrc).sent, 0);
    }
}
