//! The IQs we sent and are waiting for: each under an unpredictable id, and
//! answered only by the entity it was sent to (RFC 6120 §8.2.3: a result
//! comes from the `to` of the request; one sent without `to` is answered by our
//! own account or the server). A result with the right id from anyone else is
//! ignored, so no contact can answer in someone else's name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use xmpp_parsers::jid::{FullJid, Jid};

use super::Pending;

/// Forget an unanswered IQ after this long.
const IQ_LIFETIME: Duration = Duration::from_secs(600);
/// How many IQs may be waiting at once; the oldest is forgotten past this.
const MAX_PENDING: usize = 1000;

/// A fresh id no one can guess: 128 random bits in hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Not expected on any supported system; unique, if not secret.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[8..].copy_from_slice(&t.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Waiting {
    why: Pending,
    to: Option<Jid>,
    at: Instant,
}

/// The IQs waiting for an answer.
#[derive(Debug, Default)]
pub struct Iqs {
    map: HashMap<String, Waiting>,
}

impl Iqs {
    /// Remember that the IQ `id` went to `to` (our account when `None`) because of `why`.
    pub fn track(&mut self, id: String, to: Option<Jid>, why: Pending) {
        let now = Instant::now();
        self.map
            .retain(|_, w| now.duration_since(w.at) < IQ_LIFETIME);
        if self.map.len() >= MAX_PENDING
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, w)| w.at)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        self.map.insert(id, Waiting { why, to, at: now });
    }

    /// The reason for IQ `id`, if `from` may answer it (it is then forgotten);
    /// `me` is our own full JID.
    pub fn answer(&mut self, id: &str, from: Option<&Jid>, me: &FullJid) -> Option<Pending> {
        let waiting = self.map.get(id)?;
        if !may_answer(waiting.to.as_ref(), from, me) {
            tracing::debug!(
                %id,
                from = from.map(|f| f.to_string()).unwrap_or_default(),
                "IQ answer from someone it was not sent to, ignored"
            );
            return None;
        }
        self.map.remove(id).map(|w| w.why)
    }
}

/// Whether `from` may answer an IQ sent to `to`.
fn may_answer(to: Option<&Jid>, from: Option<&Jid>, me: &FullJid) -> bool {
    let bare = me.to_bare();
    let our_account = |j: &Jid| j.resource().is_none() && j.to_bare() == bare;
    let ours = |j: &Jid| {
        our_account(j)
            || (j.to_bare() == bare && j.resource() == Some(me.resource()))
            || (j.node().is_none() && j.resource().is_none() && j.domain() == me.domain())
    };
    match (to, from) {
        // Sent to our own account: the server answers for it.
        (None, None) => true,
        (None, Some(f)) => ours(f),
        (Some(t), None) => our_account(t),
        (Some(t), Some(f)) => t == f,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).unwrap()
    }

    #[test]
    fn ids_are_random_and_long() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn only_the_addressee_answers() {
        let me = FullJid::new("me@example.org/w").unwrap();
        let mut iqs = Iqs::default();
        iqs.track("1".into(), Some(jid("bob@example.org/pc")), Pending::Ping);
        assert!(
            iqs.answer("1", Some(&jid("mallory@evil.example")), &me)
                .is_none()
        );
        assert!(iqs.answer("1", None, &me).is_none());
        assert!(
            iqs.answer("1", Some(&jid("bob@example.org")), &me)
                .is_none()
        );
        assert!(matches!(
            iqs.answer("1", Some(&jid("bob@example.org/pc")), &me),
            Some(Pending::Ping)
        ));
        assert!(
            iqs.answer("1", Some(&jid("bob@example.org/pc")), &me)
                .is_none()
        );
    }

    #[test]
    fn our_account_answers_for_itself() {
        let me = FullJid::new("me@example.org/w").unwrap();
        let mut iqs = Iqs::default();
        for from in [
            None,
            Some(jid("me@example.org")),
            Some(jid("me@example.org/w")),
            Some(jid("example.org")),
        ] {
            iqs.track("r".into(), None, Pending::Roster);
            assert!(iqs.answer("r", from.as_ref(), &me).is_some(), "{from:?}");
        }
        iqs.track("r".into(), None, Pending::Roster);
        assert!(
            iqs.answer("r", Some(&jid("me@example.org/phone")), &me)
                .is_none()
        );
        assert!(iqs.answer("r", Some(&jid("other.example")), &me).is_none());
        iqs.track("v".into(), Some(jid("me@example.org")), Pending::Ping);
        assert!(iqs.answer("v", None, &me).is_some());
    }
}
