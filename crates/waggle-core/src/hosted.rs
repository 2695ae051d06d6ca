//! The persistence seam of protocols that host their users themselves (the XMPP
//! component: the gateway is the home server of `alice@gw.example.org`): each
//! user's roster with its RFC 6121 subscription states, their block and allow
//! lists, their profile as contacts see it, and an inbox for messages that arrive
//! while the user is not running, sealed to a per-user public key.
//!
//! Everything is keyed by the gateway user and goes when the user is deleted.
//! Implementations write through, like [`crate::Store`].

use std::time::SystemTime;

use async_trait::async_trait;

use crate::ids::UserId;
use crate::store::StoreError;

/// Who sees whose presence (RFC 6121 §2.1.2.5), from the user's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Subscription {
    /// Neither.
    #[default]
    None,
    /// The user sees the contact's presence.
    To,
    /// The contact sees the user's presence.
    From,
    /// Both ways.
    Both,
}

impl Subscription {
    /// Whether the user sees the contact's presence.
    pub fn to(self) -> bool {
        matches!(self, Subscription::To | Subscription::Both)
    }

    /// Whether the contact sees the user's presence.
    pub fn from(self) -> bool {
        matches!(self, Subscription::From | Subscription::Both)
    }

    /// The state with the two directions given.
    pub fn with(to: bool, from: bool) -> Subscription {
        match (to, from) {
            (false, false) => Subscription::None,
            (true, false) => Subscription::To,
            (false, true) => Subscription::From,
            (true, true) => Subscription::Both,
        }
    }

    /// The RFC 6121 word (`none`, `to`, `from`, `both`).
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
        }
    }

    /// The state an RFC 6121 word names.
    pub fn parse(word: &str) -> Option<Subscription> {
        Some(match word {
            "none" => Subscription::None,
            "to" => Subscription::To,
            "from" => Subscription::From,
            "both" => Subscription::Both,
            _ => return None,
        })
    }
}

/// What the user's server knows about one contact: a roster item, a pending
/// request, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RosterEntry {
    /// The contact's bare address.
    pub contact: String,
    /// Who sees whose presence.
    pub subscription: Subscription,
    /// The user asked to see the contact's presence; no answer yet ("pending out").
    pub ask_out: bool,
    /// The contact asked to see the user's presence; the user has not answered
    /// ("pending in").
    pub pending_in: bool,
    /// It is an item of the user's roster (a contact on their list), not only a
    /// pending request.
    pub listed: bool,
    /// The name the user gave the contact.
    pub name: Option<String>,
    /// The contact's group.
    pub group: Option<String>,
}

/// A list a contact can be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Blocked: nothing from them reaches the user, they see no presence.
    Block,
    /// Allowed: their subscription requests are approved without asking.
    Allow,
}

/// A message kept for a user who was not running when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMessage {
    /// Its row, to delete it once delivered.
    pub row: i64,
    /// When it arrived.
    pub received: SystemTime,
    /// The message, sealed to the user's inbox key: only the user's own secret,
    /// kept with their account under their data key, opens it.
    pub sealed: Vec<u8>,
}

/// Where a hosting protocol keeps its users' state.
#[async_trait]
pub trait HostedStore: Send + Sync + 'static {
    /// The user whose login name is `name` (case-insensitive) and that name as
    /// registered.
    async fn hosted_user(&self, name: &str) -> Result<Option<(UserId, String)>, StoreError>;

    /// Every roster entry of a user.
    async fn roster(&self, user: UserId) -> Result<Vec<RosterEntry>, StoreError>;

    /// One roster entry, by the contact's bare address (case-insensitive).
    async fn roster_entry(
        &self,
        user: UserId,
        contact: &str,
    ) -> Result<Option<RosterEntry>, StoreError>;

    /// Insert or replace a roster entry.
    async fn save_roster_entry(&self, user: UserId, entry: &RosterEntry) -> Result<(), StoreError>;

    /// Delete a roster entry.
    async fn delete_roster_entry(&self, user: UserId, contact: &str) -> Result<(), StoreError>;

    /// How many entries of a user are requests only (pending in, not listed).
    async fn pending_requests(&self, user: UserId) -> Result<u64, StoreError>;

    /// Which list a contact is on, if any.
    async fn list_of(&self, user: UserId, contact: &str) -> Result<Option<ListKind>, StoreError>;

    /// Every contact on one of the user's lists.
    async fn lists(&self, user: UserId) -> Result<Vec<(String, ListKind)>, StoreError>;

    /// Put a contact on a list (`None`: on neither).
    async fn set_list(
        &self,
        user: UserId,
        contact: &str,
        list: Option<ListKind>,
    ) -> Result<(), StoreError>;

    /// The user's nick and real name as last shown to contacts.
    async fn profile(&self, user: UserId) -> Result<Option<(String, String)>, StoreError>;

    /// Record the user's nick and real name.
    async fn set_profile(&self, user: UserId, nick: &str, realname: &str)
    -> Result<(), StoreError>;

    /// The public key messages for the user are sealed to while they are not
    /// running; `None` when they have none (their messages are refused then).
    async fn inbox_key(&self, user: UserId) -> Result<Option<Vec<u8>>, StoreError>;

    /// Set or clear the inbox key.
    async fn set_inbox_key(&self, user: UserId, key: Option<&[u8]>) -> Result<(), StoreError>;

    /// Keep a sealed message; returns its row.
    async fn inbox_put(
        &self,
        user: UserId,
        received: SystemTime,
        sealed: &[u8],
    ) -> Result<i64, StoreError>;

    /// The oldest `limit` kept messages of a user, oldest first.
    async fn inbox(&self, user: UserId, limit: u32) -> Result<Vec<InboxMessage>, StoreError>;

    /// How many messages are kept for a user.
    async fn inbox_len(&self, user: UserId) -> Result<u64, StoreError>;

    /// Delete kept messages by row.
    async fn inbox_delete(&self, user: UserId, rows: &[i64]) -> Result<(), StoreError>;
}
