//! How the message log's values map to its columns: conversations, directions,
//! kinds and times (milliseconds since the Unix epoch, never a panic whatever the
//! time).

use std::time::{Duration, SystemTime};

use waggle_core::{Conversation, Direction, MessageKind, StoreError};

/// The latest time the log stores: 9999-12-31T23:59:59.999Z. Later stamps are
/// clamped to it, so whatever reads the log can format every time it holds.
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// The columns that name a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvKey {
    /// 0 contact, 1 room, 2 the gateway's own.
    pub(crate) kind: i64,
    /// The account row; `None` for the gateway's own conversations.
    pub(crate) account: Option<i64>,
    /// The handle, room id or local name.
    pub(crate) target: String,
}

impl ConvKey {
    /// The columns of a conversation.
    pub(crate) fn of(conversation: &Conversation) -> ConvKey {
        match conversation {
            Conversation::Contact { account, handle } => ConvKey {
                kind: 0,
                account: Some(*account),
                target: handle.clone(),
            },
            Conversation::Room { account, room } => ConvKey {
                kind: 1,
                account: Some(*account),
                target: room.clone(),
            },
            Conversation::Local(name) => ConvKey {
                kind: 2,
                account: None,
                target: name.clone(),
            },
        }
    }

    /// The conversation these columns name.
    pub(crate) fn conversation(self) -> Result<Conversation, StoreError> {
        match (self.kind, self.account) {
            (0, Some(account)) => Ok(Conversation::Contact {
                account,
                handle: self.target,
            }),
            (1, Some(account)) => Ok(Conversation::Room {
                account,
                room: self.target,
            }),
            (2, None) => Ok(Conversation::Local(self.target)),
            (kind, _) => Err(StoreError::Database(format!(
                "message log: bad conversation kind {kind}"
            ))),
        }
    }
}

/// A direction as stored.
pub(crate) fn direction_code(direction: Direction) -> i64 {
    match direction {
        Direction::Incoming => 0,
        Direction::Outgoing => 1,
    }
}

/// A stored direction.
pub(crate) fn direction_from(code: i64) -> Result<Direction, StoreError> {
    match code {
        0 => Ok(Direction::Incoming),
        1 => Ok(Direction::Outgoing),
        other => Err(StoreError::Database(format!(
            "message log: bad direction {other}"
        ))),
    }
}

/// A message kind as stored.
pub(crate) fn kind_code(kind: MessageKind) -> i64 {
    match kind {
        MessageKind::Normal => 0,
        MessageKind::Action => 1,
        MessageKind::Notice => 2,
    }
}

/// A stored message kind.
pub(crate) fn kind_from(code: i64) -> Result<MessageKind, StoreError> {
    match code {
        0 => Ok(MessageKind::Normal),
        1 => Ok(MessageKind::Action),
        2 => Ok(MessageKind::Notice),
        other => Err(StoreError::Database(format!(
            "message log: bad message kind {other}"
        ))),
    }
}

/// Nanoseconds since the epoch (negative before it), exact for every `SystemTime`.
fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    }
}

fn saturate(ms: i128) -> i64 {
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// A time in whole milliseconds, rounded down (saturating at the ends of `i64`).
pub(crate) fn floor_ms(t: SystemTime) -> i64 {
    saturate(nanos(t).div_euclid(1_000_000))
}

/// A time in whole milliseconds, rounded up (saturating at the ends of `i64`).
pub(crate) fn ceil_ms(t: SystemTime) -> i64 {
    saturate(-(-nanos(t)).div_euclid(1_000_000))
}

/// The stored time of a message: whole milliseconds, clamped to 1970 … 9999.
pub(crate) fn entry_ms(t: SystemTime) -> i64 {
    floor_ms(t).clamp(0, MAX_MS)
}

/// A stored time (clamped to 1970 … 9999 first, so it is always representable).
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    let ms = u64::try_from(ms.clamp(0, MAX_MS)).unwrap_or(0);
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// `now - age` in milliseconds, saturating instead of overflowing.
pub(crate) fn cutoff_ms(now: SystemTime, age: Duration) -> i64 {
    let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
    floor_ms(now).saturating_sub(age_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_round_trip() -> Result<(), StoreError> {
        for c in [
            Conversation::Contact {
                account: 3,
                handle: "bob@x".into(),
            },
            Conversation::Room {
                account: 3,
                room: "r@muc.x".into(),
            },
            Conversation::Local("&bitlbee".into()),
        ] {
            assert_eq!(ConvKey::of(&c).conversation()?, c);
        }
        let bad = ConvKey {
            kind: 9,
            account: None,
            target: String::new(),
        };
        assert!(bad.conversation().is_err());
        Ok(())
    }

    #[test]
    fn times_round_and_clamp_without_panicking() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!(floor_ms(t), 1);
        assert_eq!(ceil_ms(t), 2);
        let exact = SystemTime::UNIX_EPOCH + Duration::from_millis(7);
        assert_eq!((floor_ms(exact), ceil_ms(exact)), (7, 7));
        if let Some(before) = SystemTime::UNIX_EPOCH.checked_sub(Duration::from_micros(1_500)) {
            assert_eq!(floor_ms(before), -2);
            assert_eq!(ceil_ms(before), -1);
            assert_eq!(entry_ms(before), 0);
        }
        // Year 9999 and far beyond: clamped, never a panic.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(entry_ms(far), MAX_MS);
        assert_eq!(from_ms(i64::MAX), from_ms(MAX_MS));
        assert_eq!(from_ms(i64::MIN), SystemTime::UNIX_EPOCH);
        assert_eq!(
            from_ms(1234),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1234)
        );
        assert_eq!(cutoff_ms(exact, Duration::MAX), 7 - i64::MAX);
        assert_eq!(cutoff_ms(exact, Duration::from_millis(2)), 5);
    }
}
