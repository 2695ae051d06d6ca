//! What a session holds: accounts, contacts, channels, questions.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use waggle_core::{AccountId, AccountRecord, Command, Presence, PresenceState, QuestionId, RoomId};

use super::settings::{AccountSettings, ChannelSettings, ChannelType};

/// Where an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountState {
    Off,
    Connecting,
    Online,
}

/// An account and, while it is on, its running task.
#[derive(Debug)]
pub(crate) struct Account {
    pub id: AccountId,
    pub rec: AccountRecord,
    /// The common settings of `rec.settings`, typed (see [`Account::settings_changed`]).
    pub cfg: AccountSettings,
    pub state: AccountState,
    pub commands: Option<mpsc::Sender<Command>>,
    pub cancel: Option<CancellationToken>,
    /// Where handled events of the running account are acknowledged.
    pub ack: Option<waggle_core::EventAck>,
    /// The handles on its block and allow lists, as the backend last reported.
    pub blocked: Vec<String>,
    pub allowed: Vec<String>,
    /// The rooms its last `chat list` found (for `chat add <account> !N`).
    pub room_list: Vec<waggle_core::RoomInfo>,
    /// Where each archive's catch-up starts: the last archive id logged, by
    /// scope (kept in step with the message log, given to the account at start).
    pub cursors: BTreeMap<String, String>,
    /// The time of the message each cursor points at: what an archive sends
    /// after it cannot be earlier (its stamps may be to the second only).
    pub cursor_times: BTreeMap<String, std::time::SystemTime>,
}

impl Account {
    /// An account that is off.
    pub fn new(id: AccountId, rec: AccountRecord) -> Account {
        Account {
            id,
            cfg: AccountSettings::from_map(&rec.settings),
            rec,
            state: AccountState::Off,
            commands: None,
            cancel: None,
            ack: None,
            blocked: Vec::new(),
            allowed: Vec::new(),
            room_list: Vec::new(),
            cursors: Default::default(),
            cursor_times: Default::default(),
        }
    }

    /// Rebuild the typed settings after `rec.settings` changed.
    pub fn settings_changed(&mut self) {
        self.cfg = AccountSettings::from_map(&self.rec.settings);
    }

    /// Whether a reconnect loop or a live connection exists.
    pub fn is_active(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| !c.is_cancelled())
    }

    /// Whether commands reach the account: online, or connecting (they wait in
    /// its queue until it is online).
    pub fn accepts_commands(&self) -> bool {
        self.state == AccountState::Online
            || (self.state == AccountState::Connecting && self.is_active())
    }
}

/// A contact shown as an IRC user.
#[derive(Debug, Clone)]
pub(crate) struct ContactEntry {
    pub account: AccountId,
    pub handle: String,
    pub nick: String,
    pub display_name: Option<String>,
    pub group: Option<String>,
    pub presence: Presence,
    /// Kept in the store (false for temporary contacts from `add -tmp` or unknown senders).
    pub persistent: bool,
    /// The channel the user last talked to this contact in; replies go there.
    pub last_channel: Option<String>,
    /// While away: no 301 for messages to them before this (`away_reply_timeout`).
    pub away_reply_after: Option<std::time::Instant>,
    /// When they were last seen coming online (Unix seconds, for WHOIS 317).
    pub online_since: Option<u64>,
    pub user: String,
    pub host: String,
}

impl ContactEntry {
    pub fn mask(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }

    pub fn is_online(&self) -> bool {
        self.presence.state != PresenceState::Offline
    }
}

/// Someone shown in a channel.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub nick: String,
    pub mask: String,
    /// Channel modes held, a subset of `@%+`, strongest first.
    pub modes: String,
    pub realname: String,
    /// In a chat: the occupant's nick in the room (what kicks name).
    pub room_nick: Option<String>,
}

/// A channel of the session.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub name: String,
    /// The settings as stored (change them through [`Channel::set`]).
    settings: BTreeMap<String, String>,
    /// The same, typed.
    pub cfg: ChannelSettings,
    pub joined: bool,
    pub topic: Option<String>,
    pub topic_by: Option<String>,
    /// Everyone shown except the user, by lower-case nick.
    pub members: BTreeMap<String, Member>,
    /// For a chat: the live room binding once joined.
    pub room: Option<(AccountId, RoomId)>,
    /// For a chat: our own modes from our role.
    pub my_modes: String,
    /// When the channel was made (Unix seconds, for 329).
    pub created: u64,
    /// Its flags among `imnpst`, in order (shown by MODE; `t` to begin with).
    pub flags: String,
    /// A /join that waits for the chat's account to come online.
    pub join_pending: bool,
    /// Made for an invitation: not saved, and gone once parted (BitlBee's
    /// temporary channels).
    pub temporary: bool,
    /// When its topic was last set (Unix seconds, for 333).
    pub topic_at: u64,
}

impl Channel {
    pub fn new(name: &str) -> Self {
        Channel {
            name: name.to_string(),
            settings: BTreeMap::new(),
            cfg: ChannelSettings::from_map(&BTreeMap::new()),
            joined: false,
            topic: None,
            topic_by: None,
            members: BTreeMap::new(),
            room: None,
            my_modes: String::new(),
            created: unix_now(),
            flags: "t".into(),
            join_pending: false,
            temporary: false,
            topic_at: unix_now(),
        }
    }

    /// Set the topic, and who set it, now.
    pub fn set_topic(&mut self, topic: String, by: String) {
        self.topic = Some(topic);
        self.topic_by = Some(by);
        self.topic_at = unix_now();
    }

    /// The settings as stored.
    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }

    /// Change one setting (`None`: back to its default).
    pub fn set(&mut self, key: &str, value: Option<String>) {
        match value {
            Some(v) => self.settings.insert(key.to_string(), v),
            None => self.settings.remove(key),
        };
        self.cfg = ChannelSettings::from_map(&self.settings);
    }

    /// Replace every setting (a channel loaded from the store).
    pub fn set_all(&mut self, settings: BTreeMap<String, String>) {
        self.settings = settings;
        self.cfg = ChannelSettings::from_map(&self.settings);
    }

    pub fn is_chat(&self) -> bool {
        self.cfg.kind == ChannelType::Chat
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A question a backend asked.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub account: AccountId,
    pub id: QuestionId,
    pub text: String,
}

/// What the next `/OPER` password answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prompt {
    Identify { load: bool, force: bool },
    Register,
    AccountPassword(AccountId),
}

/// Who owns a nick in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NickOwner {
    Root,
    Contact(AccountId, String),
}
