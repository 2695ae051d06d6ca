//! The message log seam: every message to or from a user is appended here before
//! any client sees it or the network is told it arrived, and clients read their
//! backlog and history from it.
//!
//! Entries are kept per user in one order (`seq`, growing with every append).
//! A client's read position is the `seq` of the last message it was given;
//! history queries (IRCv3 `CHATHISTORY`) go by server time within one
//! conversation. Bodies (and who spoke) are sealed at rest under the user's data
//! key; the conversation, time, direction and kind stay readable for queries.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::backend::MessageKind;
use crate::ids::UserId;
use crate::store::{StoreError, UserKey};

/// Where a logged message belongs. Accounts are named by their store row, so a
/// conversation keeps its history when the IRC side renames a contact or
/// renumbers accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Conversation {
    /// One-to-one with a contact of an account.
    Contact {
        /// The account's store row.
        account: i64,
        /// The contact's protocol handle.
        handle: String,
    },
    /// A group chat of an account.
    Room {
        /// The account's store row.
        account: i64,
        /// The room's protocol id.
        room: String,
    },
    /// A conversation of the gateway's own, by the name the user sees
    /// (`&bitlbee`, a control channel, the query with root).
    Local(String),
}

impl Conversation {
    /// The account row the conversation belongs to, if any.
    pub fn account(&self) -> Option<i64> {
        match self {
            Conversation::Contact { account, .. } | Conversation::Room { account, .. } => {
                Some(*account)
            }
            Conversation::Local(_) => None,
        }
    }
}

/// Who a message went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the network (or the gateway) to the user.
    Incoming,
    /// From the user to the network.
    Outgoing,
}

/// One message as it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The gateway's unique id for it (the IRCv3 `msgid`), chosen by the caller.
    pub msgid: String,
    /// Where it belongs.
    pub conversation: Conversation,
    /// Incoming or outgoing.
    pub direction: Direction,
    /// Server time: when it was sent (a delayed message's own stamp, already
    /// clamped to a sane range) or when it arrived.
    pub at: SystemTime,
    /// Plain, action or notice.
    pub kind: MessageKind,
    /// Who spoke, as the IRC side names them (a nick or mask); empty for the user.
    /// Sealed with the body.
    pub sender: String,
    /// The text, possibly several lines. Sealed.
    pub body: String,
    /// The id the protocol's archive gave the message ([`crate::MessageIds::archive`]):
    /// a second message with the same archive id in the same conversation is
    /// a duplicate, and the latest one logged per archive is the catch-up cursor.
    pub archive_id: Option<String>,
    /// The sender's own id ([`crate::MessageIds::origin`]): a second message with
    /// the same origin id in the same conversation is a duplicate.
    pub origin_id: Option<String>,
}

impl LogEntry {
    /// The archive this entry's [`LogEntry::archive_id`] belongs to, as keyed in
    /// [`crate::AccountSpec::archive_cursors`]: `""` for an account's own archive
    /// (one-to-one messages), the room id for a room's.
    pub fn archive_scope(&self) -> Option<&str> {
        match &self.conversation {
            Conversation::Contact { .. } => Some(""),
            Conversation::Room { room, .. } => Some(room),
            Conversation::Local(_) => None,
        }
    }
}

/// A logged message with its place in the user's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMessage {
    /// Its position in the user's log (strictly growing with every append).
    pub seq: i64,
    /// The entry as appended.
    pub entry: LogEntry,
}

/// A point in a conversation's history, as `CHATHISTORY` names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryBound {
    /// A server time.
    Time(SystemTime),
    /// A message by its `msgid`: a bound at that message, ordered by time and
    /// then by `seq`, so messages of the same millisecond are told apart (an
    /// unknown id matches nothing).
    MsgId(String),
}

/// A history query over one conversation. Results are always in ascending
/// order of time (then of `seq`), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The latest messages, optionally only those after a bound.
    Latest {
        /// Only messages strictly after this.
        after: Option<HistoryBound>,
        /// At most this many (the latest ones).
        limit: u32,
    },
    /// The messages strictly before a bound (the nearest ones).
    Before {
        /// The bound.
        bound: HistoryBound,
        /// At most this many.
        limit: u32,
    },
    /// The messages strictly after a bound (the nearest ones).
    After {
        /// The bound.
        bound: HistoryBound,
        /// At most this many.
        limit: u32,
    },
    /// About `limit / 2` messages on either side of a bound (including a message
    /// at the bound itself).
    Around {
        /// The bound.
        bound: HistoryBound,
        /// At most this many.
        limit: u32,
    },
    /// The messages strictly between two bounds, in either order of the bounds;
    /// when more than `limit` match, the ones nearest `from` (the earliest when
    /// `from` is the earlier bound, the latest when it is the later one).
    Between {
        /// One end.
        from: HistoryBound,
        /// The other end.
        to: HistoryBound,
        /// At most this many.
        limit: u32,
    },
}

/// A conversation with the time of its latest message (`CHATHISTORY TARGETS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// Its latest message's time.
    pub latest: SystemTime,
}

/// How long messages are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Delete messages older than this.
    pub max_age: Duration,
    /// Keep at most this many messages per user (the newest).
    pub max_count: Option<u64>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(90 * 24 * 3600),
            max_count: None,
        }
    }
}

/// What `waggle user history` shows about a user's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryStats {
    /// Messages logged.
    pub count: u64,
    /// The oldest one's time.
    pub oldest: Option<SystemTime>,
    /// The newest one's time.
    pub newest: Option<SystemTime>,
    /// Conversations with at least one message.
    pub conversations: u64,
}

/// Where messages are logged. A call has returned only once its change is durable.
#[async_trait]
pub trait MessageLog: Send + Sync + 'static {
    /// Append a message, sealing its sender and body under `key`. Returns `None`
    /// (and writes nothing) when the conversation already holds a message with
    /// the same archive id or origin id. When the entry has an archive id, the
    /// cursor of its archive ([`LogEntry::archive_scope`]) moves to it, in the
    /// same transaction.
    async fn append(
        &self,
        user: UserId,
        key: &UserKey,
        entry: &LogEntry,
    ) -> Result<Option<LoggedMessage>, StoreError>;

    /// Append several messages in their order, each as [`append`](Self::append)
    /// would, with a result of its own; a store may commit them in one
    /// transaction. Returns once every one of them is durable or has failed.
    async fn append_all(
        &self,
        user: UserId,
        key: &UserKey,
        entries: &[LogEntry],
    ) -> Vec<Result<Option<LoggedMessage>, StoreError>> {
        let mut results = Vec::with_capacity(entries.len());
        for entry in entries {
            results.push(self.append(user, key, entry).await);
        }
        results
    }

    /// Move an archive's catch-up cursor without logging a message (for a
    /// message the gateway dropped on purpose, e.g. from an ignored stranger).
    async fn set_archive_cursor(
        &self,
        user: UserId,
        account: i64,
        scope: &str,
        archive_id: &str,
    ) -> Result<(), StoreError>;

    /// The catch-up cursors of an account, by archive scope.
    async fn archive_cursors(
        &self,
        user: UserId,
        account: i64,
    ) -> Result<BTreeMap<String, String>, StoreError>;

    /// The time of the logged message an archive gave `archive_id` (in any
    /// conversation of the account), if there is one: where a catch-up's
    /// messages, which the archive holds after it, cannot be earlier than.
    async fn archive_time(
        &self,
        user: UserId,
        account: i64,
        archive_id: &str,
    ) -> Result<Option<SystemTime>, StoreError>;

    /// Messages with `seq` strictly after `after_seq`, in `seq` order, at most
    /// `limit` (the oldest ones): a client's backlog.
    async fn since(
        &self,
        user: UserId,
        key: &UserKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<LoggedMessage>, StoreError>;

    /// The `seq` of the user's latest message (0 when the log is empty).
    async fn last_seq(&self, user: UserId) -> Result<i64, StoreError>;

    /// One conversation's history.
    async fn history(
        &self,
        user: UserId,
        key: &UserKey,
        conversation: &Conversation,
        query: &HistoryQuery,
    ) -> Result<Vec<LoggedMessage>, StoreError>;

    /// Conversations whose latest message is strictly between two times (in
    /// either order), by ascending time of that message, at most `limit`.
    async fn conversations(
        &self,
        user: UserId,
        from: SystemTime,
        to: SystemTime,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>, StoreError>;

    /// A client's read position (the `seq` of the last message it was given);
    /// `None` for a client name never seen. The unnamed client is `""`.
    async fn position(&self, user: UserId, client: &str) -> Result<Option<i64>, StoreError>;

    /// Store read positions (client name, `seq`); a position only moves forward.
    async fn save_positions(
        &self,
        user: UserId,
        positions: &[(String, i64)],
    ) -> Result<(), StoreError>;

    /// The read marker of a conversation (IRCv3 `draft/read-marker`), if any.
    async fn read_marker(
        &self,
        user: UserId,
        conversation: &Conversation,
    ) -> Result<Option<SystemTime>, StoreError>;

    /// Move a conversation's read marker to `at` if that is later than where it
    /// is; returns the marker as it is now.
    async fn set_read_marker(
        &self,
        user: UserId,
        conversation: &Conversation,
        at: SystemTime,
    ) -> Result<SystemTime, StoreError>;

    /// Delete what retention no longer allows, for every user: messages older
    /// than `instance.max_age` or than the user's own `history_days` setting
    /// ([`crate::settings::HISTORY_DAYS`]) when that is shorter, and beyond the
    /// newest `instance.max_count`. Returns how many were deleted.
    async fn prune(&self, instance: Retention, now: SystemTime) -> Result<u64, StoreError>;

    /// What a user's log holds.
    async fn history_stats(&self, user: UserId) -> Result<HistoryStats, StoreError>;

    /// Delete a user's messages older than `before` (all of them with `None`);
    /// returns how many were deleted.
    async fn clear_history(
        &self,
        user: UserId,
        before: Option<SystemTime>,
    ) -> Result<u64, StoreError>;
}
