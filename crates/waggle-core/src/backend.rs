//! The core ↔ backend seam.
//!
//! The core tells a backend what to do with [`Command`]s; the backend answers only
//! with [`Event`]s, including the confirmation of the core's own changes. Every
//! backend matches `Command` exhaustively, so a new command is a compile error in
//! each of them. What a protocol cannot do is declared in its [`Capabilities`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use crate::carry::Carry;
use crate::ids::{AccountId, QuestionId, RoomId};
use crate::settings::SettingDef;

/// Whether a message is plain text or an action (`/me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// An ordinary message.
    Normal,
    /// An action, shown as CTCP ACTION on IRC.
    Action,
    /// A notice (no automatic reply expected).
    Notice,
}

/// A contact's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PresenceState {
    /// Not connected.
    #[default]
    Offline,
    /// Available.
    Online,
    /// Away (XMPP `away`, `xa`, `dnd` and the like).
    Away,
}

/// A contact's availability and status text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    /// Online, away or offline.
    pub state: PresenceState,
    /// The protocol's word for the state when it says more than away (`dnd`, `xa` …).
    pub show: Option<String>,
    /// The contact's own status text.
    pub message: Option<String>,
    /// Where the presence comes from, when the protocol says (an XMPP resource).
    pub device: Option<String>,
}

/// A buddy-list entry as a backend reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The protocol's handle (`bob@example.org`, `bob`).
    pub handle: String,
    /// A human name, when the protocol has one.
    pub display_name: Option<String>,
    /// The contact's group on the buddy list.
    pub group: Option<String>,
    /// Availability.
    pub presence: Presence,
}

/// A room a server lists for `chat list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    /// What `chat add` takes (an XMPP room's JID).
    pub id: String,
    /// Its name or topic, when the server gives one.
    pub name: Option<String>,
}

/// An occupant's standing in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// May moderate (IRC `@`).
    Moderator,
    /// May speak (IRC `+`).
    Participant,
    /// Listens only.
    #[default]
    Visitor,
}

/// Someone in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupant {
    /// The occupant's nick in the room.
    pub nick: String,
    /// The real handle behind the nick, when the room discloses it.
    pub handle: Option<String>,
    /// Their role.
    pub role: Role,
    /// Whether this occupant is the account itself.
    pub is_self: bool,
}

/// A typing notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingState {
    /// Typing now.
    Active,
    /// Stopped typing, text entered.
    Paused,
    /// Stopped typing, nothing entered.
    Done,
}

/// The ids a protocol gives a message, so that the gateway recognises a message
/// it has already logged (an archive replaying what arrived live, a room
/// reflecting our own message) and knows where a catch-up should start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageIds {
    /// The id the archive that holds the message gave it (XMPP: the XEP-0359
    /// stanza-id by our own account for one-to-one messages, by the room for room
    /// messages). It orders a catch-up: the last one the gateway logged is where
    /// the next catch-up starts (see [`AccountSpec::archive_cursors`]).
    pub archive: Option<String>,
    /// The sender's own id (XMPP: XEP-0359 origin-id). For messages the gateway
    /// sent it is the gateway's `msgid` ([`Command::SendMessage::id`]).
    pub origin: Option<String>,
}

/// What the core asks a backend to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send a one-to-one message.
    SendMessage {
        /// The contact's handle.
        to: String,
        /// The text, one or more lines.
        body: String,
        /// Plain, action or notice.
        kind: MessageKind,
        /// The gateway's id for the message (its `msgid`): protocols that carry a
        /// sender-chosen id (XMPP's origin-id) send this one, so that the copy an
        /// archive hands back later is recognised as the same message.
        id: Option<String>,
    },
    /// Send a message to a joined room.
    SendRoomMessage {
        /// The room.
        room: RoomId,
        /// The text.
        body: String,
        /// Plain, action or notice.
        kind: MessageKind,
        /// The gateway's id for the message, as for [`Command::SendMessage`]; the
        /// room's reflection of it carries it back.
        id: Option<String>,
    },
    /// Tell a contact we are typing.
    SendTyping {
        /// The contact's handle.
        to: String,
        /// The state.
        state: TypingState,
    },
    /// Change our own presence on this account.
    SetPresence {
        /// Away text, `None` when available.
        away: Option<String>,
        /// Status text while available.
        status: Option<String>,
        /// No IRC client is attached (the away text, if any, may be `detach_away`'s):
        /// protocols with a state for that show it (XMPP's extended away).
        detached: bool,
    },
    /// Add a contact to the buddy list (and ask for authorisation where needed).
    AddContact {
        /// The handle.
        handle: String,
        /// A group to put it in.
        group: Option<String>,
    },
    /// Remove a contact from the buddy list.
    RemoveContact {
        /// The handle.
        handle: String,
    },
    /// Block a contact.
    Block {
        /// The handle.
        handle: String,
    },
    /// Unblock a contact.
    Allow {
        /// The handle.
        handle: String,
    },
    /// Ask for a contact's profile (answered with [`Event::Info`]).
    GetInfo {
        /// The handle.
        handle: String,
    },
    /// Answer a question the backend asked with [`Event::QuestionAsked`].
    AnswerQuestion {
        /// The question.
        id: QuestionId,
        /// `yes` (true) or `no`.
        accept: bool,
    },
    /// Join a room.
    JoinRoom {
        /// The room.
        room: RoomId,
        /// Our nick there.
        nick: String,
        /// The room password, if it has one.
        password: Option<String>,
    },
    /// Leave a room.
    LeaveRoom {
        /// The room.
        room: RoomId,
    },
    /// Change a room's topic (shown when the room confirms it).
    SetTopic {
        /// The room.
        room: RoomId,
        /// The new topic.
        topic: String,
    },
    /// Invite a contact to a room.
    InviteToRoom {
        /// The room.
        room: RoomId,
        /// The contact's handle.
        handle: String,
    },
    /// Remove an occupant from a room.
    KickFromRoom {
        /// The room.
        room: RoomId,
        /// The occupant's nick in the room.
        nick: String,
        /// Why.
        reason: Option<String>,
    },
    /// Open an ad-hoc room with a contact.
    ChatWith {
        /// The contact's handle.
        handle: String,
    },
    /// List the rooms a server offers (answered with [`Event::Notice`] lines).
    ListRooms {
        /// The server to ask, or the account's default.
        server: Option<String>,
    },
    /// Send a raw protocol line where the protocol has a console.
    Raw {
        /// The line.
        line: String,
    },
    /// Run one of the protocol's contact actions ([`Backend::contact_actions`]),
    /// e.g. a CTCP `CALL` or `HANGUP` the IRC client sent to a contact.
    ContactAction {
        /// The contact's handle.
        handle: String,
        /// The action's name, upper case (`CALL`).
        action: String,
        /// Words after the action name.
        args: Vec<String>,
    },
    /// An account setting changed while the account is online (or an action
    /// setting such as Skype's `call` was run); the backend applies what it knows
    /// and ignores the rest.
    ApplySetting {
        /// The setting's name.
        key: String,
        /// Its new value, `None` when it was reset (`set -del`).
        value: Option<String>,
    },
}

impl Command {
    /// The name used in "not supported" errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::SendMessage { .. } => "message",
            Command::SendRoomMessage { .. } => "room message",
            Command::SendTyping { .. } => "typing notice",
            Command::SetPresence { .. } => "presence",
            Command::AddContact { .. } => "add",
            Command::RemoveContact { .. } => "remove",
            Command::Block { .. } => "block",
            Command::Allow { .. } => "allow",
            Command::GetInfo { .. } => "info",
            Command::AnswerQuestion { .. } => "answer",
            Command::JoinRoom { .. } => "join",
            Command::LeaveRoom { .. } => "part",
            Command::SetTopic { .. } => "topic",
            Command::InviteToRoom { .. } => "invite",
            Command::KickFromRoom { .. } => "kick",
            Command::ChatWith { .. } => "chat with",
            Command::ListRooms { .. } => "chat list",
            Command::Raw { .. } => "raw",
            Command::ContactAction { .. } => "contact action",
            Command::ApplySetting { .. } => "set",
        }
    }
}

/// What a backend reports. Always past tense: something happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A step of logging in (`Connecting`, `Authenticating` …).
    LoginProgress {
        /// The step, shown as `tag - Logging in: <text>`.
        text: String,
    },
    /// The account is online.
    LoggedIn,
    /// The connection ended; the supervisor retries after `reconnect_in` seconds,
    /// or not at all (`None`: switched off, logged off, or failed for good).
    Disconnected {
        /// Seconds until the next attempt.
        reconnect_in: Option<u64>,
    },
    /// A problem worth showing, the account stays as it is.
    Error {
        /// The text, shown as `tag - Error: <text>`.
        text: String,
    },
    /// Something informational for the control channel.
    Notice {
        /// The text, shown as `tag - <text>`. As in BitlBee only its first line
        /// carries the tag, so every further line must be the backend's own
        /// formatting (a label and a value, say), never text from the network
        /// as it came: that would let a remote party write lines that look like
        /// root's. Remote text goes into [`Event::Error`] or [`Event::Info`],
        /// whose every line is tagged.
        text: String,
    },
    /// A contact was added or changed (also the initial buddy list).
    ContactUpdated(Contact),
    /// A contact was removed from the buddy list.
    ContactRemoved {
        /// The handle.
        handle: String,
    },
    /// A one-to-one message arrived (or, with `from_self`, one we sent elsewhere).
    MessageReceived {
        /// The contact's handle (the peer also when `from_self`).
        from: String,
        /// The text, possibly several lines.
        body: String,
        /// Plain, action or notice.
        kind: MessageKind,
        /// When it was sent, for delayed delivery.
        sent_at: Option<SystemTime>,
        /// Sent by the account itself from another client.
        from_self: bool,
        /// The message's ids, for catch-up cursors and de-duplication.
        ids: MessageIds,
    },
    /// A contact's typing state changed.
    TypingChanged {
        /// The contact's handle.
        from: String,
        /// The state.
        state: TypingState,
    },
    /// The backend asks the user something (authorisation, call …).
    QuestionAsked {
        /// Pass back with [`Command::AnswerQuestion`].
        id: QuestionId,
        /// The question, shown by root.
        text: String,
    },
    /// The answer to a [`Command::ContactAction`] (BitlBee's buddy action
    /// response), shown as a CTCP reply from the contact.
    ActionResult {
        /// The contact.
        handle: String,
        /// The action (`VERSION`).
        action: String,
        /// What it answered, word by word.
        args: Vec<String>,
    },
    /// The rooms a server offers (the answer to [`Command::ListRooms`]).
    RoomList {
        /// The rooms, in the server's order.
        rooms: Vec<RoomInfo>,
    },
    /// The account's block and allow lists as the server keeps them (at login
    /// and after each change), for `block <account>` and `allow <account>`.
    BlockList {
        /// Handles whose messages and presence requests are refused.
        blocked: Vec<String>,
        /// Handles explicitly allowed, where the protocol has such a list.
        allowed: Vec<String>,
    },
    /// Profile lines for `info`.
    Info {
        /// The handle asked about.
        handle: String,
        /// Lines to show.
        lines: Vec<String>,
    },
    /// We are in a room.
    RoomJoined {
        /// The room.
        room: RoomId,
        /// Its topic.
        topic: Option<String>,
        /// Everyone there, us included.
        occupants: Vec<Occupant>,
    },
    /// We are out of a room.
    RoomLeft {
        /// The room.
        room: RoomId,
        /// Why, when we did not ask.
        reason: Option<String>,
    },
    /// Someone joined a room or changed role.
    OccupantUpdated {
        /// The room.
        room: RoomId,
        /// Who.
        occupant: Occupant,
    },
    /// Someone left a room.
    OccupantLeft {
        /// The room.
        room: RoomId,
        /// Their nick.
        nick: String,
        /// Why.
        reason: Option<String>,
        /// Kicked by this nick, if it was a kick.
        kicked_by: Option<String>,
    },
    /// Someone in a room changed nick.
    OccupantRenamed {
        /// The room.
        room: RoomId,
        /// Old nick.
        old: String,
        /// New nick.
        new: String,
    },
    /// A message in a room.
    RoomMessage {
        /// The room.
        room: RoomId,
        /// The speaker's nick in the room.
        from: String,
        /// The text.
        body: String,
        /// Plain, action or notice.
        kind: MessageKind,
        /// When it was sent (room history).
        sent_at: Option<SystemTime>,
        /// The message's ids, for catch-up cursors and de-duplication.
        ids: MessageIds,
    },
    /// A room's topic changed.
    TopicChanged {
        /// The room.
        room: RoomId,
        /// Who changed it, if known.
        by: Option<String>,
        /// The topic.
        topic: String,
    },
    /// We were invited to a room.
    InvitedToRoom {
        /// The room.
        room: RoomId,
        /// Who invited us.
        from: String,
        /// Their reason.
        reason: Option<String>,
    },
    /// The backend changed an account setting (e.g. a recorded certificate fingerprint).
    SettingChanged {
        /// The setting's name.
        key: String,
        /// Its new value.
        value: String,
    },
    /// A line of the protocol's raw traffic for its console contact (Skype's
    /// `skypeconsole` with `skypeconsole_receive`), shown in the control channel.
    ConsoleLine {
        /// The console contact's handle.
        from: String,
        /// The raw line.
        line: String,
    },
}

/// What a protocol supports; a command outside it is answered with an error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Group chats.
    pub rooms: bool,
    /// Adding and removing contacts.
    pub contact_list: bool,
    /// Blocking and allowing.
    pub block: bool,
    /// Typing notices.
    pub typing: bool,
    /// Listing a server's rooms.
    pub room_list: bool,
    /// Ad-hoc rooms with a contact.
    pub chat_with: bool,
    /// A raw console.
    pub raw: bool,
}

impl Capabilities {
    /// Whether the protocol can carry out `command`.
    pub fn allows(&self, command: &Command) -> bool {
        match command {
            Command::SendMessage { .. }
            | Command::SetPresence { .. }
            | Command::GetInfo { .. }
            | Command::AnswerQuestion { .. } => true,
            Command::SendTyping { .. } => self.typing,
            Command::AddContact { .. } | Command::RemoveContact { .. } => self.contact_list,
            Command::Block { .. } | Command::Allow { .. } => self.block,
            Command::SendRoomMessage { .. }
            | Command::JoinRoom { .. }
            | Command::LeaveRoom { .. }
            | Command::SetTopic { .. }
            | Command::InviteToRoom { .. }
            | Command::KickFromRoom { .. } => self.rooms,
            Command::ChatWith { .. } => self.chat_with,
            Command::ListRooms { .. } => self.room_list,
            Command::Raw { .. } => self.raw,
            // Only actions the backend lists are ever sent, and every backend
            // may ignore settings it does not know.
            Command::ContactAction { .. } | Command::ApplySetting { .. } => true,
        }
    }
}

/// A password that never shows up in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The [`AccountSpec::settings`] key under which the core passes the user's IRC
/// nick when the account starts (for protocols that show it, e.g. in a vCard).
pub const USER_NICK: &str = "irc_nick";
/// The [`AccountSpec::settings`] key under which the core passes the user's IRC
/// real name when the account starts.
pub const USER_REALNAME: &str = "irc_realname";

/// The [`Presence::show`] of a contact a backend knows to be on a mobile device
/// (the state stays what the contact says; `mobile_is_away` shows it as away).
pub const SHOW_MOBILE: &str = "mobile";

/// The account a protocol gives every identified user when it hosts its users
/// itself (the XMPP component: `alice` is `alice@gw.example.org`), added by the
/// gateway rather than with `account add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImplicitAccount {
    /// The login handle: the user's address on the protocol.
    pub handle: String,
    /// A secret made for the account, stored (encrypted) like an IM password.
    pub password: Option<Secret>,
}

/// Everything a backend needs to log an account in.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    /// The account's id in this user's session.
    pub id: AccountId,
    /// The protocol name as registered (`jabber`, `skype` …).
    pub protocol: String,
    /// The login handle.
    pub handle: String,
    /// The IM password.
    pub password: Secret,
    /// The account's settings (explicitly set ones; defaults come from the backend's defs),
    /// plus what the core adds when it starts the account: `away` when the user is
    /// away, the user's IRC nick and real name under [`USER_NICK`] and [`USER_REALNAME`].
    pub settings: BTreeMap<String, String>,
    /// Where each archive's catch-up starts: the archive id
    /// ([`MessageIds::archive`]) of the last message the gateway logged from it,
    /// keyed by archive (`""` for the account's own archive, a room's id for a
    /// room's). Empty when nothing was logged yet (a first catch-up fetches only
    /// what the protocol considers recent, or nothing).
    pub archive_cursors: BTreeMap<String, String>,
}

impl AccountSpec {
    /// A setting's value, or `default` when unset.
    pub fn setting<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.settings
            .get(key)
            .map(String::as_str)
            .unwrap_or(default)
    }
}

/// A backend's failure; the supervisor decides from it whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Credentials were refused: never retried.
    #[error("{0}")]
    Auth(String),
    /// The account's configuration cannot work: never retried.
    #[error("{0}")]
    Config(String),
    /// The connection failed or dropped: retried per `auto_reconnect`.
    #[error("{0}")]
    Network(String),
    /// The peer broke the protocol: retried per `auto_reconnect`.
    #[error("{0}")]
    Protocol(String),
}

impl BackendError {
    /// Whether reconnecting may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BackendError::Network(_) | BackendError::Protocol(_))
    }
}

/// One event from an account, numbered in the order the account emitted it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendEvent {
    /// The account it comes from.
    pub account: AccountId,
    /// Its number: 1 for the first event of an account context, then counting up.
    pub seq: u64,
    /// What happened.
    pub event: Event,
}

/// The core's side of an account's events: the core marks each event handled
/// once it is done with it (for a message: once it is durably logged), so that
/// the backend may acknowledge it to the network only then.
#[derive(Debug)]
pub struct EventAck {
    handled: watch::Sender<u64>,
}

impl EventAck {
    /// Every event up to and including `seq` has been handled.
    pub fn handled(&self, seq: u64) {
        self.handled.send_if_modified(|current| {
            if seq > *current {
                *current = seq;
                true
            } else {
                false
            }
        });
    }
}

/// Where an account's events go: numbered in queue order. Cloneable, so a
/// backend's helper tasks (or a test playing the backend) can emit too.
#[derive(Debug, Clone)]
pub struct EventSink {
    account: AccountId,
    tx: mpsc::Sender<BackendEvent>,
    /// The number of the last event emitted; locked while an event is numbered
    /// and queued, so numbers follow the queue's order.
    emitted: Arc<Mutex<u64>>,
}

impl EventSink {
    /// Report an event and return its number; `None` when the core is gone.
    pub async fn emit(&self, event: Event) -> Option<u64> {
        let permit = self.tx.reserve().await.ok()?;
        let mut emitted = self.emitted.lock().unwrap_or_else(|e| e.into_inner());
        *emitted += 1;
        let seq = *emitted;
        permit.send(BackendEvent {
            account: self.account,
            seq,
            event,
        });
        Some(seq)
    }

    /// The number of the last event emitted so far.
    pub fn emitted(&self) -> u64 {
        *self.emitted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a running account gets: its spec, its command queue and its event sink.
///
/// The command receiver outlives one connection attempt, so commands queued while
/// reconnecting are delivered once the account is back. A backend may update
/// `spec` as the account changes (a recorded fingerprint, an applied setting, a
/// catch-up cursor) so that the next run uses the account's current state.
#[derive(Debug)]
pub struct AccountContext {
    /// The account to log in.
    pub spec: AccountSpec,
    /// Commands from the core, in order.
    pub commands: mpsc::Receiver<Command>,
    /// Events back to the core.
    sink: EventSink,
    /// The number of the last event the core has handled.
    handled: watch::Receiver<u64>,
    /// Cancelled when the account is switched off or the gateway stops.
    pub cancel: CancellationToken,
    /// What the backend's previous run kept for this one.
    pub carry: Carry,
}

impl AccountContext {
    /// A context for one account, and the acknowledgement handle the core keeps.
    pub fn new(
        spec: AccountSpec,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<BackendEvent>,
        cancel: CancellationToken,
    ) -> (AccountContext, EventAck) {
        let (handled_tx, handled) = watch::channel(0);
        let sink = EventSink {
            account: spec.id,
            tx: events,
            emitted: Arc::new(Mutex::new(0)),
        };
        (
            AccountContext {
                spec,
                commands,
                sink,
                handled,
                cancel,
                carry: Carry::default(),
            },
            EventAck {
                handled: handled_tx,
            },
        )
    }

    /// Report an event; false when the core is gone (the backend should stop).
    pub async fn emit(&self, event: Event) -> bool {
        self.sink.emit(event).await.is_some()
    }

    /// Report an event and return its number, to compare with
    /// [`AccountContext::handled`] before acknowledging what it carried;
    /// `None` when the core is gone.
    pub async fn emit_numbered(&self, event: Event) -> Option<u64> {
        self.sink.emit(event).await
    }

    /// A handle that emits into this account's numbered event stream.
    pub fn sink(&self) -> EventSink {
        self.sink.clone()
    }

    /// The number of the last event emitted so far.
    pub fn emitted(&self) -> u64 {
        self.sink.emitted()
    }

    /// The number of the last event the core has handled: every event up to it
    /// is done with (messages logged durably), so it may be acknowledged.
    pub fn handled(&self) -> u64 {
        *self.handled.borrow()
    }

    /// A receiver that changes whenever [`AccountContext::handled`] moves, for a
    /// backend loop to wait on beside its socket.
    pub fn handled_watch(&self) -> watch::Receiver<u64> {
        self.handled.clone()
    }
}

/// A protocol implementation.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The protocol's canonical name (`jabber`, `skype`).
    fn protocol(&self) -> &'static str;
    /// Other names `account add` accepts for it (`xmpp`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// What the protocol can do.
    fn capabilities(&self) -> Capabilities;
    /// The host part of a contact's IRC hostmask when the handle has no domain.
    fn contact_host(&self) -> &'static str {
        self.protocol()
    }
    /// Account settings this protocol adds to the common ones.
    fn settings(&self) -> &'static [SettingDef] {
        &[]
    }
    /// Whether handles are `user@domain` with the account's own domain implied:
    /// `add <account> bob` then adds `bob@<the account's domain>` (handles
    /// starting with `_`, the protocol's special contacts, are left alone).
    fn handle_domains(&self) -> bool {
        false
    }
    /// Whether message bodies of this protocol are HTML (`strip_html` applies to
    /// them); plain-text protocols (the default) are shown as sent.
    fn sends_html(&self) -> bool {
        false
    }
    /// Actions the IRC client can run on a contact with a CTCP of that name,
    /// with a short description each (listed, in this order, by CTCP `HELP`).
    fn contact_actions(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The account every identified user whose login name is `user` has on this
    /// protocol, when the protocol hosts its users itself; `None` (the default)
    /// for protocols whose accounts users add. The gateway adds it when it loads
    /// the user (and renews a missing secret), and refuses `account add` for it.
    fn implicit_account(&self, user: &str) -> Option<ImplicitAccount> {
        let _ = user;
        None
    }
    /// Whether an account of this protocol needs a password to go online; when
    /// false, an account without one starts with an empty password instead of
    /// asking for it.
    fn needs_password(&self) -> bool {
        true
    }
    /// Log in and serve the account until it is cancelled (`Ok`) or fails.
    ///
    /// Emits [`Event::LoggedIn`] once online. Returning `Ok(())` means a clean log-off.
    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError>;
}
