//! XEP-0198 stream management, the bookkeeping without I/O.
//!
//! Inbound: every stanza the server sends after `<enabled/>` is counted. A
//! stanza counts as handled (and may be acknowledged with `<a h=…/>`) only
//! once the core has handled every event emitted up to the end of its
//! processing: the core marks an event handled once it has durably logged
//! what it carried. After a resumption the server sends again what we did not
//! acknowledge; the ones we had already processed are skipped, not reported
//! twice.
//!
//! Outbound: every stanza we send after `<enable/>` is kept until the server
//! acknowledges it, so that a resumed stream can send again what the server
//! did not get, and a failed resumption can hand it to the next session.

use std::collections::VecDeque;

use xmpp_parsers::stanza::Stanza;

use super::Pending;

/// How many unacknowledged stanzas we keep for sending again; older ones are
/// given up (the server acknowledges at once, so this means a dead link).
pub const MAX_UNACKED: usize = 2000;
/// How many processed but not yet handled stanzas are tracked; past this the
/// oldest is counted as handled (the core is that far behind).
pub const MAX_WAITING: usize = 10_000;

/// What a processed stanza waits for before it counts as handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The core handling events up to this number.
    Event(u64),
    /// Its events are held back (a catch-up is running) under this token:
    /// [`Sm::unblock`] says when they are emitted.
    Held(u64),
}

impl Need {
    fn met(self, handled: u64) -> bool {
        matches!(self, Need::Event(n) if n <= handled)
    }
}

/// A copy of a stanza (the type itself is not `Clone`).
pub fn copy(s: &Stanza) -> Stanza {
    match s {
        Stanza::Iq(i) => Stanza::Iq(i.clone()),
        Stanza::Message(m) => Stanza::Message(m.clone()),
        Stanza::Presence(p) => Stanza::Presence(p.clone()),
    }
}

/// A stanza we sent, with what its answer means when it is an IQ.
#[derive(Debug)]
pub struct Sent {
    /// The stanza.
    pub stanza: Stanza,
    /// Why an IQ was sent (to track its answer again when it is resent).
    pub why: Option<Pending>,
}

/// The stream management state of one session (kept across resumptions).
#[derive(Debug, Default)]
pub struct Sm {
    /// `<enable/>` was sent (outbound stanzas are counted from then on).
    requested: bool,
    /// `<enabled/>` came back (inbound stanzas are counted from then on).
    enabled: bool,
    /// The resumption id, when the server allows resuming.
    resume_id: Option<String>,
    /// Stanzas received since `<enabled/>` (wrapping like XEP-0198's `h`).
    inbound: u64,
    /// The inbound count handled so far.
    handled: u64,
    /// The `h` we last told the server.
    reported: u64,
    /// We answered an `<r/>` with less than we had received: tell the server
    /// as soon as more is handled.
    owed: bool,
    /// Received stanzas not handled yet: (stanza count, what it waits for).
    waiting: VecDeque<(u64, Need)>,
    /// Stanzas we sent since `<enable/>`.
    outbound: u64,
    /// Those not acknowledged yet, oldest first.
    unacked: VecDeque<Sent>,
    /// An `<r/>` of ours is unanswered.
    asked: bool,
    /// Stanzas the server sends again after a resumption that we had processed.
    skip: u64,
}

impl Sm {
    /// `<enable/>` was sent.
    pub fn requested(&mut self) {
        self.requested = true;
    }

    /// `<enabled/>` came back, resumable under `id` if given.
    pub fn enabled(&mut self, id: Option<String>) {
        self.enabled = true;
        self.resume_id = id;
    }

    /// `<failed/>` answered our `<enable/>`: no stream management.
    pub fn refused(&mut self) {
        *self = Sm::default();
    }

    /// Whether inbound stanzas are counted and acknowledged.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The id to resume with, when resuming is possible.
    pub fn resume_id(&self) -> Option<&str> {
        self.resume_id.as_deref()
    }

    /// A stanza arrived: false when it is one the server sent again after a
    /// resumption and we had already processed (skip it).
    pub fn arrived(&mut self) -> bool {
        if !self.enabled {
            return true;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.inbound += 1;
        true
    }

    /// The stanza that arrived last was processed and waits for `need`; the
    /// core has handled events up to `handled`.
    pub fn processed(&mut self, need: Need, handled: u64) {
        if !self.enabled {
            return;
        }
        if !need.met(handled) || !self.waiting.is_empty() {
            if self.waiting.len() >= MAX_WAITING {
                self.waiting.pop_front();
            }
            self.waiting.push_back((self.inbound, need));
        }
        self.advance(handled);
    }

    /// The stanzas held under `token` had their events emitted, up to number
    /// `emitted` (or were dropped).
    pub fn unblock(&mut self, token: u64, emitted: u64) {
        for entry in self.waiting.iter_mut() {
            if entry.1 == Need::Held(token) {
                entry.1 = Need::Event(emitted);
            }
        }
    }

    /// The core has handled events up to `handled`: how far the handled
    /// stanza count goes now.
    pub fn advance(&mut self, handled: u64) -> u64 {
        while let Some(&(n, need)) = self.waiting.front() {
            if !need.met(handled) {
                break;
            }
            self.handled = n;
            self.waiting.pop_front();
        }
        if self.waiting.is_empty() {
            self.handled = self.inbound;
        }
        self.handled
    }

    /// The `h` to answer an `<r/>` with; remembers to say more once more is handled.
    pub fn answer(&mut self) -> u32 {
        self.reported = self.handled;
        self.owed = self.handled < self.inbound;
        wrap(self.handled)
    }

    /// An unsolicited `<a h=…/>` to send now, if we answered an `<r/>` short
    /// and more has been handled since.
    pub fn owed_ack(&mut self) -> Option<u32> {
        if self.enabled && self.owed && self.handled > self.reported {
            Some(self.answer())
        } else {
            None
        }
    }

    /// The `h` to resume with, and from then on skip the stanzas we processed
    /// but did not acknowledge: the server sends them again first.
    pub fn resume_from(&mut self) -> u32 {
        // They keep their numbers: our count already includes them.
        self.skip = self.inbound - self.handled;
        self.reported = self.handled;
        self.owed = false;
        wrap(self.handled)
    }

    /// We sent `stanza` (with `why`, for an IQ); true when an `<r/>` should
    /// follow (none is unanswered).
    pub fn sent(&mut self, stanza: Stanza, why: Option<Pending>) -> bool {
        if !self.requested {
            return false;
        }
        self.outbound += 1;
        if self.unacked.len() >= MAX_UNACKED {
            self.unacked.pop_front();
        }
        self.unacked.push_back(Sent { stanza, why });
        let ask = !self.asked;
        self.asked = true;
        ask
    }

    /// The server acknowledged our stanzas up to `h`.
    pub fn acked(&mut self, h: u32) {
        self.asked = false;
        let pending = wrap(self.outbound).wrapping_sub(h) as u64;
        let keep = pending.min(self.unacked.len() as u64) as usize;
        while self.unacked.len() > keep {
            self.unacked.pop_front();
        }
    }

    /// What the server did not acknowledge, oldest first; the count restarts
    /// from the server's `h` (they are counted again when sent again).
    pub fn take_unacked(&mut self) -> Vec<Sent> {
        self.outbound = self.outbound.saturating_sub(self.unacked.len() as u64);
        self.asked = false;
        self.unacked.drain(..).collect()
    }

    /// Stanzas waiting for the server's acknowledgement.
    #[cfg(test)]
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }
}

fn wrap(n: u64) -> u32 {
    (n % (1u64 << 32)) as u32
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use xmpp_parsers::message::Message;
    use xmpp_parsers::presence::Presence;

    fn enabled() -> Sm {
        let mut sm = Sm::default();
        sm.requested();
        sm.enabled(Some("id1".into()));
        sm
    }

    #[test]
    fn stanzas_count_as_handled_only_with_their_events() {
        let mut sm = enabled();
        // Stanza 1 caused event 1, stanza 2 event 2; the core handled none.
        assert!(sm.arrived());
        sm.processed(Need::Event(1), 0);
        assert!(sm.arrived());
        sm.processed(Need::Event(2), 0);
        assert_eq!(sm.answer(), 0);
        assert_eq!(sm.owed_ack(), None);
        assert_eq!(sm.advance(1), 1);
        assert_eq!(sm.owed_ack(), Some(1));
        // A stanza without events after unhandled ones waits for them too.
        assert!(sm.arrived());
        sm.processed(Need::Event(2), 1);
        assert_eq!(sm.advance(1), 1);
        assert_eq!(sm.advance(2), 3);
        assert_eq!(sm.owed_ack(), Some(3));
        assert_eq!(sm.owed_ack(), None);
    }

    #[test]
    fn held_stanzas_wait_until_unblocked() {
        let mut sm = enabled();
        sm.arrived();
        sm.processed(Need::Held(1), 5);
        sm.arrived();
        sm.processed(Need::Held(2), 5);
        sm.arrived();
        sm.processed(Need::Event(5), 5);
        assert_eq!(sm.advance(100), 0);
        sm.unblock(2, 6);
        assert_eq!(sm.advance(100), 0);
        sm.unblock(1, 7);
        assert_eq!(sm.advance(6), 0);
        assert_eq!(sm.advance(7), 3);
    }

    #[test]
    fn a_resumption_skips_what_was_processed() {
        let mut sm = enabled();
        for seq in 1..=3 {
            sm.arrived();
            sm.processed(Need::Event(seq), 1);
        }
        assert_eq!(sm.resume_from(), 1);
        // The server sends 2 and 3 again, then a new one.
        assert!(!sm.arrived());
        assert!(!sm.arrived());
        assert!(sm.arrived());
        sm.processed(Need::Event(4), 1);
        assert_eq!(sm.advance(4), 4);
    }

    #[test]
    fn unacknowledged_stanzas_are_kept_in_order() {
        let mut sm = enabled();
        let m = |b: &str| {
            Stanza::Message(
                Message::chat(None).with_body(xmpp_parsers::message::Lang::new(), b.into()),
            )
        };
        assert!(sm.sent(m("1"), None));
        assert!(!sm.sent(m("2"), None));
        assert!(!sm.sent(Stanza::Presence(Presence::available()), None));
        sm.acked(1);
        assert_eq!(sm.unacked_len(), 2);
        assert!(sm.sent(m("4"), None));
        let left = sm.take_unacked();
        assert_eq!(left.len(), 3);
        assert!(matches!(&left[0].stanza, Stanza::Message(_)));
        // Sent again, they count from the server's h on.
        for s in left {
            sm.sent(s.stanza, s.why);
        }
        sm.acked(4);
        assert_eq!(sm.unacked_len(), 0);
    }

    #[test]
    fn without_stream_management_nothing_is_kept() {
        let mut sm = Sm::default();
        assert!(sm.arrived());
        sm.processed(Need::Event(9), 0);
        assert!(!sm.sent(Stanza::Presence(Presence::available()), None));
        assert_eq!(sm.unacked_len(), 0);
        assert_eq!(sm.owed_ack(), None);
    }
}
