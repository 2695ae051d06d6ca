//! The questions the account asked the user (a subscription request, adding
//! someone back) and waits an answer for: each asked once however often the
//! network repeats it, and only so many at a time, so a flood of requests
//! can't make the session (or root's list of questions) grow.

use std::collections::HashMap;

use waggle_core::QuestionId;
use xmpp_parsers::jid::BareJid;

/// How many questions may wait for an answer.
pub const MAX_QUESTIONS: usize = 100;

/// A question we asked the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// `jid` wants to see our presence.
    Subscribe(BareJid),
    /// Add `jid` (who now sees us) to our own list.
    AddBack(BareJid),
}

/// The questions waiting for an answer.
#[derive(Debug, Default)]
pub struct Questions {
    map: HashMap<QuestionId, Question>,
}

impl Questions {
    /// Whether `q` is to be asked now (not waiting already, room for it);
    /// then it waits under `id`.
    pub fn add(&mut self, id: QuestionId, q: Question) -> bool {
        if self.map.values().any(|asked| *asked == q) || self.map.len() >= MAX_QUESTIONS {
            return false;
        }
        self.map.insert(id, q);
        true
    }

    /// The question `id`, answered now.
    pub fn answered(&mut self, id: &QuestionId) -> Option<Question> {
        self.map.remove(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jid(n: usize) -> BareJid {
        BareJid::new(&format!("u{n}@example.org")).unwrap()
    }

    #[test]
    fn asked_once_until_answered() {
        let mut q = Questions::default();
        assert!(q.add(QuestionId(1), Question::Subscribe(jid(1))));
        assert!(!q.add(QuestionId(2), Question::Subscribe(jid(1))));
        assert!(q.add(QuestionId(3), Question::AddBack(jid(1))));
        assert_eq!(
            q.answered(&QuestionId(1)),
            Some(Question::Subscribe(jid(1)))
        );
        assert!(q.add(QuestionId(4), Question::Subscribe(jid(1))));
    }

    #[test]
    fn only_so_many_wait() {
        let mut q = Questions::default();
        for n in 0..MAX_QUESTIONS {
            assert!(q.add(QuestionId(n as u64), Question::Subscribe(jid(n))));
        }
        assert!(!q.add(QuestionId(9999), Question::Subscribe(jid(9999))));
        q.answered(&QuestionId(0));
        assert!(q.add(QuestionId(9999), Question::Subscribe(jid(9999))));
    }
}
