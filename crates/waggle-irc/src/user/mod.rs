//! The user task: owns one user's state (nick table, channels, accounts,
//! questions, settings) and outlives any one connection. Clients attach and
//! detach; several may be attached at once. It handles one input at a time —
//! a client's line, a backend event, a timer — builds its output in an
//! [`Outbox`], and flushes it: messages into the message log first, then out to
//! every attached client. It awaits only short Store calls, never the network.
//!
//! - [`cx`]: the narrow context handlers get (`Cx`), and its output helpers.
//! - [`task`]: the loop, attach/detach, the flush, read positions.
//! - [`attach`]: what a newly attached client is sent (welcome, channels, backlog).
//! - the rest: accounts, contacts, channels, chats, events, persistence, MONITOR,
//!   the paste buffer, and the IRC commands ([`irc`]).

mod accounts;
mod actions;
pub(crate) mod attach;
mod channels;
mod chats;
pub(crate) mod cx;
mod events;
mod history;
mod irc;
pub(crate) mod monitor;
pub(crate) mod paste;
mod persist;
pub(crate) mod settings;
pub(crate) mod state;
mod task;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use irc_proto::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use waggle_core::settings::SettingDef;
use waggle_core::{AccountId, BackendEvent};

use crate::conn::ClientTx;
use crate::outbox::ClientId;
pub(crate) use crate::registration::ClientInfo;
use crate::registration::Login;
use crate::server::Shared;
pub(crate) use cx::Cx;
use state::{Account, Channel, ContactEntry, NickOwner, Question};
pub(crate) use task::spawn;

/// The control channel every user starts in.
pub(crate) const CONTROL_CHANNEL: &str = "&bitlbee";
const CONTROL_TOPIC: &str = "Welcome to the control channel. Type help for help information.";

/// How a user task starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// A session nobody identified yet (it ends with its last client).
    Anonymous,
    /// An identified user: load their data and connect their accounts.
    Login(Login),
    /// An identified user started without a client (unattended restart).
    Unattended(Login),
}

/// A connection attaching to a user.
#[derive(Debug)]
pub(crate) struct NewClient {
    pub id: ClientId,
    pub tx: ClientTx,
    /// Cancelled by the user task when it lets go of the client.
    pub closed: CancellationToken,
    pub info: ClientInfo,
    /// It was already welcomed (handed over by the session it identified in).
    pub welcomed: bool,
    /// What it shows now (handed over): channels and their members (lower-case).
    pub view: Vec<(String, Vec<String>)>,
    /// Root's words for it once attached ("Password accepted").
    pub greeting: Option<String>,
    /// Accounts the session it identified in had (and whether each was on),
    /// kept by the user (`identify -force`).
    pub accounts: Vec<(waggle_core::AccountRecord, bool)>,
}

/// What connections feed a user task.
#[derive(Debug)]
pub(crate) enum UserInput {
    /// A connection attaches.
    Attach(Box<NewClient>),
    /// A line from a client.
    Line(ClientId, Box<Message>),
    /// A client sent a line over the length limit (it was discarded).
    TooLong(ClientId),
    /// A client said QUIT (with this reason): answer with ERROR and let it go.
    Quit(ClientId, String),
    /// A client's connection is gone (closed, ping timeout, SendQ).
    Gone(ClientId, &'static str),
}

/// One user's state, whatever clients are attached.
pub(crate) struct User {
    pub shared: Arc<Shared>,
    pub nick: String,
    /// The user part of the user's hostmask, fixed when the task starts.
    pub user: String,
    pub realname: String,
    /// The host part of the user's hostmask, fixed when the task starts.
    pub host: String,
    /// No client is attached.
    pub detached: bool,
    /// User mode +B.
    pub bot: bool,
    /// User mode +b: root's listings in BitlBee's tab-separated form, with headers.
    pub tabular: bool,
    /// Nicks on the WATCH list (lower-case).
    pub watches: std::collections::BTreeSet<String>,
    pub login: Option<Login>,
    /// The user's settings as stored (what `set` lists and saves).
    pub settings: BTreeMap<String, String>,
    /// The same, typed: what the code reads (see [`User::settings_changed`]).
    pub cfg: settings::UserSettings,
    pub accounts: Vec<Account>,
    pub next_account: u64,
    /// Every contact, by account and handle; boxed, since each node of the map
    /// holds eleven slots whether or not they are used.
    pub contacts: BTreeMap<(AccountId, String), Box<ContactEntry>>,
    /// Contacts whose stored record (nick, group, name) is behind: saved together
    /// once the backends' events have been handled (see `Task::serve`).
    pub contacts_unsaved: std::collections::BTreeSet<(AccountId, String)>,
    pub nicks: HashMap<String, NickOwner>,
    pub channels: Vec<Channel>,
    pub questions: Vec<Question>,
    /// Chat channels waiting for the group chat an /invite there started, by account.
    pub adhoc: HashMap<AccountId, String>,
    /// Ids of messages the user sent lately, to recognise a room's reflection.
    pub sent_ids: std::collections::VecDeque<String>,
    /// The task's own input queue, to register in the users map on identify.
    pub self_tx: mpsc::WeakSender<UserInput>,
    /// The message log of a session nobody identified (in memory).
    pub scratch: Arc<crate::memlog::MemoryLog>,
    pub events_tx: mpsc::Sender<BackendEvent>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
}

impl User {
    /// A numeric reply addressed to the user.
    pub(crate) fn numeric(&self, code: &str) -> crate::line::Line {
        crate::line::Line::new(code)
            .prefix(&self.shared.config.name)
            .param(&self.nick)
    }

    pub(crate) fn my_mask(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }

    pub(crate) fn root_nick(&self) -> String {
        self.cfg.root_nick.clone()
    }

    pub(crate) fn root_mask(&self) -> String {
        format!("{0}!{0}@{1}", self.root_nick(), self.shared.config.name)
    }

    /// Rebuild the typed settings after [`User::settings`] changed.
    pub(crate) fn settings_changed(&mut self) {
        self.cfg = settings::UserSettings::from_map(&self.settings);
    }

    /// Change one global setting in memory (`None`: back to its default).
    pub(crate) fn put_setting(&mut self, name: &str, value: Option<String>) {
        match value {
            Some(v) => self.settings.insert(name.to_string(), v),
            None => self.settings.remove(name),
        };
        self.settings_changed();
    }

    /// The away text set with /away or `set away`.
    pub(crate) fn away(&self) -> Option<&str> {
        self.cfg.away.as_deref()
    }

    /// Why the user may not have one more channel (a chat channel when
    /// `chat`), or `None` when they may.
    pub(crate) fn channel_limit_reached(&self, chat: bool) -> Option<String> {
        let limits = self.shared.config.user_limits;
        if self.channels.len() >= limits.channels {
            return Some(format!(
                "You may have at most {} channels on this server",
                limits.channels
            ));
        }
        let chats = self.channels.iter().filter(|c| c.is_chat()).count();
        if chat && chats >= limits.chats {
            return Some(format!(
                "You may have at most {} chat channels on this server",
                limits.chats
            ));
        }
        None
    }

    pub(crate) fn channel(&self, name: &str) -> Option<&Channel> {
        let lower = crate::nick::irc_lower(name);
        self.channels
            .iter()
            .find(|c| crate::nick::irc_lower(&c.name) == lower)
    }

    pub(crate) fn channel_mut(&mut self, name: &str) -> Option<&mut Channel> {
        let lower = crate::nick::irc_lower(name);
        self.channels
            .iter_mut()
            .find(|c| crate::nick::irc_lower(&c.name) == lower)
    }

    pub(crate) fn account_by_id(&self, id: AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub(crate) fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.id == id)
    }

    /// An account as BitlBee finds one: by tag, by `protocol(handle)`, by its
    /// number in `account list`, else by protocol name or a part of its handle,
    /// when just one account matches.
    pub(crate) fn find_account(&self, key: &str) -> Option<AccountId> {
        if let Some(a) = self
            .accounts
            .iter()
            .find(|a| a.rec.tag.eq_ignore_ascii_case(key))
        {
            return Some(a.id);
        }
        if let Some((proto, rest)) = key.split_once('(')
            && let Some(handle) = rest.strip_suffix(')')
            && let Some(a) = self.accounts.iter().rev().find(|a| {
                a.rec.protocol.eq_ignore_ascii_case(proto)
                    && a.rec.handle.eq_ignore_ascii_case(handle)
            })
        {
            return Some(a.id);
        }
        let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>()
            && n < 1000
        {
            return self.accounts.get(n).map(|a| a.id);
        }
        let mut found = None;
        for a in &self.accounts {
            if a.rec.protocol.eq_ignore_ascii_case(key) || a.rec.handle.contains(key) {
                if found.is_some() {
                    return None;
                }
                found = Some(a.id);
            }
        }
        found
    }

    /// A channel as BitlBee finds one: by number in `channel list`, by name,
    /// else by a part of its name that just one channel has.
    pub(crate) fn find_channel(&self, key: &str) -> Option<String> {
        let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>()
            && n < 1000
        {
            return self.channels.get(n).map(|c| c.name.clone());
        }
        if let Some(c) = self.channel(key) {
            return Some(c.name.clone());
        }
        let mut found = None;
        for c in &self.channels {
            if c.name.contains(key) {
                if found.is_some() {
                    return None;
                }
                found = Some(c.name.clone());
            }
        }
        found
    }

    /// Extra account settings of a protocol.
    pub(crate) fn protocol_settings(&self, protocol: &str) -> &'static [SettingDef] {
        self.shared
            .protocols
            .get(protocol)
            .map(|b| b.settings())
            .unwrap_or(&[])
    }

    /// The contact behind a nick.
    pub(crate) fn contact_by_nick(&self, nick: &str) -> Option<&ContactEntry> {
        match self.nicks.get(&crate::nick::irc_lower(nick)) {
            Some(NickOwner::Contact(a, h)) => self.contacts.get(&(*a, h.clone())).map(|c| &**c),
            _ => None,
        }
    }

    /// Whether the nick is root's.
    pub(crate) fn is_root(&self, nick: &str) -> bool {
        crate::nick::irc_lower(nick) == crate::nick::irc_lower(&self.root_nick())
    }

    /// Whether the user is identified.
    pub(crate) fn identified(&self) -> bool {
        self.login.is_some()
    }

    /// The account's store row, when it has one.
    pub(crate) fn account_row(&self, id: AccountId) -> Option<i64> {
        self.account_by_id(id).and_then(|a| a.rec.row)
    }
}

/// A fresh message id: 128 random bits, base32 (26 characters).
pub(crate) fn new_msgid() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: still unique within the process.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes[8..].copy_from_slice(&now.to_le_bytes());
    }
    let mut value = u128::from_le_bytes(bytes);
    let mut out = String::with_capacity(26);
    for _ in 0..26 {
        out.push(char::from(ALPHABET[(value & 31) as usize]));
        value >>= 5;
    }
    out
}

/// A msgid as a client may send it back: the id of the first line of a message
/// (later lines carry `-N`).
pub(crate) fn base_msgid(id: &str) -> &str {
    match id.split_once('-') {
        Some((base, n)) if base.len() == 26 && n.parse::<u32>().is_ok() => base,
        _ => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgids_are_unique_and_parse_back() {
        let a = new_msgid();
        let b = new_msgid();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert_eq!(base_msgid(&format!("{a}-2")), a);
        assert_eq!(base_msgid(&a), a);
        assert_eq!(base_msgid("x-2"), "x-2");
    }
}
