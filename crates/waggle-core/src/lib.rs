//! Waggle's vocabulary and seams.
//!
//! This crate owns the words both sides of the gateway share: identifiers, the
//! [`backend`] seam (imperative [`Command`]s to a protocol, past-tense [`Event`]s
//! back), the protocol [`registry`], the typed [`settings`] registry, the [`store`]
//! trait with its records, the [`history`] message log seam, the [`hosted`] seam of
//! protocols that host their users themselves, and the [`reconnect`] supervisor. It opens no sockets,
//! runs no SQL and knows nothing of IRC.

pub mod backend;
pub mod carry;
pub mod clock;
pub mod history;
pub mod hosted;
pub mod ids;
pub mod reconnect;
pub mod registry;
pub mod settings;
pub mod store;

pub use backend::{
    AccountContext, AccountSpec, Backend, BackendError, BackendEvent, Capabilities, Carry, Command,
    Contact, Event, EventAck, EventSink, ImplicitAccount, MessageIds, MessageKind, Occupant,
    Presence, PresenceState, Role, RoomInfo, Secret, TypingState,
};
pub use history::{
    Conversation, ConversationSummary, Direction, HistoryBound, HistoryQuery, HistoryStats,
    LogEntry, LoggedMessage, MessageLog, Retention,
};
pub use hosted::{HostedStore, InboxMessage, ListKind, RosterEntry, Subscription};
pub use ids::{AccountId, QuestionId, RoomId, UserId};
pub use registry::ProtocolRegistry;
pub use settings::{Scope, SettingDef, SettingError, SettingKind};
pub use store::{
    AccountRecord, ChannelRecord, ContactRecord, Store, StoreError, UnattendedLogin, UserData,
    UserKey, UserSummary,
};
