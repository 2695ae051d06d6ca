//! The typed settings registry: every setting's name, scope, default, validation and
//! help text in one table, so `set`, `help set <name>` and the code reading a value
//! cannot disagree.

use crate::reconnect::Backoff;

/// Where a setting lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One value per user (`set key value`).
    Global,
    /// One value per account (`account <id> set key value`).
    Account,
    /// One value per channel (`channel <ch> set key value`).
    Channel,
}

/// A setting's value type and its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// `true`/`false` (also accepts on/off, yes/no, 1/0).
    Bool,
    /// A whole number.
    Int,
    /// Free text.
    Str,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// A reconnect delay schedule like `5*3<900`.
    Backoff,
    /// Not a stored value but a command to the online account (Skype's `call`,
    /// `balance`): `set` hands the text to the backend, `set -del` undoes it.
    Action,
}

/// A setting's definition.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    /// The name used with `set`.
    pub name: &'static str,
    /// Where it lives.
    pub scope: Scope,
    /// The default, or `None` for "not set".
    pub default: Option<&'static str>,
    /// The value type.
    pub kind: SettingKind,
    /// One paragraph for `help set <name>`.
    pub help: &'static str,
    /// Hidden from listings and never echoed (passwords).
    pub secret: bool,
    /// Only the gateway changes it.
    pub read_only: bool,
    /// Kept for old configurations but not listed (`set` shows it when named).
    pub hidden: bool,
    /// Read when the account logs in: a change while it is online applies from
    /// its next login.
    pub at_login: bool,
}

/// A value `set` refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// No such setting.
    #[error("Setting `{0}' does not exist.")]
    Unknown(String),
    /// The value does not fit the setting.
    #[error("Invalid value for `{name}': {why}")]
    Invalid {
        /// The setting.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The setting cannot be changed by the user.
    #[error("Setting `{0}' is read-only")]
    ReadOnly(String),
}

impl SettingDef {
    const fn new(
        name: &'static str,
        scope: Scope,
        default: Option<&'static str>,
        kind: SettingKind,
        help: &'static str,
    ) -> Self {
        SettingDef {
            name,
            scope,
            default,
            kind,
            help,
            secret: false,
            read_only: false,
            hidden: false,
            at_login: false,
        }
    }

    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    const fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Mark an account setting as read at login (see [`SettingDef::at_login`]).
    pub const fn at_login(mut self) -> Self {
        self.at_login = true;
        self
    }

    /// Check a value and return it in canonical form (`on` becomes `true`).
    pub fn validate(&self, value: &str) -> Result<String, SettingError> {
        let invalid = |why: String| SettingError::Invalid {
            name: self.name.to_string(),
            why,
        };
        match self.kind {
            SettingKind::Bool => parse_bool(value)
                .map(|b| b.to_string())
                .ok_or_else(|| invalid("expected true or false".into())),
            SettingKind::Int => value
                .trim()
                .parse::<i64>()
                .map(|n| n.to_string())
                .map_err(|_| invalid("expected a number".into())),
            SettingKind::Str | SettingKind::Action => {
                if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                    Err(invalid("line breaks are not allowed".into()))
                } else {
                    Ok(value.to_string())
                }
            }
            SettingKind::Choice(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(value.trim()))
                .map(|w| w.to_string())
                .or_else(|| {
                    // A choice among true, false and more takes any boolean spelling.
                    parse_bool(value)
                        .map(|b| b.to_string())
                        .filter(|b| words.contains(&b.as_str()))
                })
                .ok_or_else(|| invalid(format!("expected one of {}", words.join(", ")))),
            SettingKind::Backoff => value
                .parse::<Backoff>()
                .map(|_| value.trim().to_string())
                .map_err(|e| invalid(e.to_string())),
        }
    }

    /// A human description of the type for `help set`.
    pub fn type_name(&self) -> String {
        match self.kind {
            SettingKind::Bool => "boolean".into(),
            SettingKind::Int => "integer".into(),
            SettingKind::Str => "string".into(),
            SettingKind::Choice(w) => w.join(", "),
            SettingKind::Backoff => "string (e.g. 5*3<900)".into(),
            SettingKind::Action => "action (runs on the online account)".into(),
        }
    }
}

/// An account setting a protocol adds (for [`Backend::settings`](crate::Backend::settings)).
pub const fn account_setting(
    name: &'static str,
    default: Option<&'static str>,
    kind: SettingKind,
    help: &'static str,
) -> SettingDef {
    SettingDef::new(name, Scope::Account, default, kind, help)
}

/// Parse BitlBee's boolean spellings.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" | "enabled" => Some(true),
        "false" | "off" | "no" | "0" | "disabled" => Some(false),
        _ => None,
    }
}

/// The global setting with the away text used while no client is attached.
pub const DETACH_AWAY: &str = "detach_away";
/// The global setting with the days a user's message history is kept.
pub const HISTORY_DAYS: &str = "history_days";

use Scope::{Account, Channel, Global};
use SettingKind::{Bool, Choice, Int, Str};

/// Every global setting.
pub static GLOBAL: &[SettingDef] = &[
    SettingDef::new(
        "auto_connect",
        Global,
        Some("true"),
        Bool,
        "Log in to all accounts with auto_connect set when you identify.",
    ),
    SettingDef::new(
        "auto_reconnect",
        Global,
        Some("true"),
        Bool,
        "Reconnect an account automatically after the connection drops.",
    ),
    SettingDef::new(
        "auto_reconnect_delay",
        Global,
        Some("5*3<900"),
        SettingKind::Backoff,
        "Seconds to wait before reconnecting: a number, or start*factor<max, or start+step<max.",
    ),
    SettingDef::new(
        "away",
        Global,
        None,
        Str,
        "Your away message on every account (empty: available). /away sets it too.",
    ),
    SettingDef::new(
        "away_devoice",
        Global,
        Some("true"),
        Bool,
        "Obsolete: setting it sets show_users on every channel instead (false: online,special%,away; true: online+,special%,away), as in BitlBee.",
    )
    .hidden(),
    SettingDef::new(
        "away_reply_timeout",
        Global,
        Some("3600"),
        Int,
        "Seconds before a message to an away contact is answered with their away message again (0: every time).",
    ),
    SettingDef::new(
        "default_target",
        Global,
        Some("root"),
        Choice(&["root", "last"]),
        "Where a line without a nick: prefix in the control channel goes: to root, or to the last contact addressed.",
    ),
    SettingDef::new(
        DETACH_AWAY,
        Global,
        Some("Detached"),
        Str,
        "Your away message on every IM account while no IRC client is attached; empty keeps your presence as it is. Attaching a client restores it.",
    ),
    SettingDef::new(
        "display_namechanges",
        Global,
        Some("false"),
        Bool,
        "Show contacts' display-name changes.",
    ),
    SettingDef::new(
        "display_timestamps",
        Global,
        Some("true"),
        Bool,
        "Prefix delayed messages with their time when the client did not ask for server-time.",
    ),
    SettingDef::new(
        "handle_unknown",
        Global,
        Some("add_channel"),
        Choice(&["root", "add", "add_private", "add_channel", "ignore"]),
        "What to do with messages from people not on the buddy list: show them through root, add them (in a query or the channel), or ignore them.",
    ),
    SettingDef::new(
        HISTORY_DAYS,
        Global,
        Some("90"),
        Int,
        "Days your message history is kept (for backlog on attach and CHATHISTORY); the instance may keep less.",
    ),
    SettingDef::new(
        "mobile_is_away",
        Global,
        Some("false"),
        Bool,
        "Show contacts who are on a mobile device as away (status Mobile), where the protocol tells.",
    ),
    SettingDef::new(
        "nick_format",
        Global,
        Some("%-@nick"),
        Str,
        "How a contact's nick is made: %nick, %handle, %full_name, %first_name, %group, %account; %-@ cuts at the first @.",
    ),
    SettingDef::new(
        "nick_lowercase",
        Global,
        Some("false"),
        Bool,
        "Lower-case generated nicks.",
    ),
    SettingDef::new(
        "nick_underscores",
        Global,
        Some("false"),
        Bool,
        "Turn spaces in generated nicks into underscores instead of removing them.",
    ),
    SettingDef::new(
        "offline_user_quits",
        Global,
        Some("true"),
        Bool,
        "Show a QUIT when a contact goes offline (else a PART).",
    ),
    SettingDef::new(
        "ops",
        Global,
        Some("both"),
        Choice(&["both", "root", "user", "none"]),
        "Who is opped in the control channel.",
    ),
    SettingDef::new(
        "password",
        Global,
        None,
        Str,
        "Change your gateway password (stored IM passwords are re-encrypted).",
    )
    .secret(),
    SettingDef::new(
        "paste_buffer",
        Global,
        Some("false"),
        Bool,
        "Collect lines sent quickly one after another into one message.",
    ),
    SettingDef::new(
        "paste_buffer_delay",
        Global,
        Some("200"),
        Int,
        "How long to wait for more lines when paste_buffer is on: milliseconds, or seconds for 5 and less.",
    ),
    SettingDef::new(
        "private",
        Global,
        Some("true"),
        Bool,
        "Show contacts' messages in private queries (else in the control channel).",
    ),
    SettingDef::new(
        "query_order",
        Global,
        Some("lifo"),
        Choice(&["lifo", "fifo"]),
        "Which pending question yes/no answers without a number: the newest (lifo) or the oldest (fifo).",
    ),
    SettingDef::new(
        "root_nick",
        Global,
        Some("root"),
        Str,
        "The nick of the control bot.",
    ),
    SettingDef::new(
        "save_on_quit",
        Global,
        Some("true"),
        Bool,
        "Kept for compatibility: everything is saved as it changes.",
    ),
    SettingDef::new(
        "self_messages",
        Global,
        Some("true"),
        Choice(&["true", "false", "prefix", "prefix_notice"]),
        "How messages you sent from other clients are shown.",
    ),
    SettingDef::new(
        "show_users",
        Global,
        Some("online+,special%,away"),
        Str,
        "Which contacts are in channels and with what mode: online, special, away, offline, each optionally with + (voice), % (halfop) or @ (op).",
    ),
    SettingDef::new(
        "simulate_netsplit",
        Global,
        Some("true"),
        Bool,
        "Make contacts' quits look like a netsplit so clients fold them.",
    ),
    SettingDef::new(
        "status",
        Global,
        None,
        Str,
        "Your status message while available.",
    ),
    SettingDef::new(
        "strip_html",
        Global,
        Some("true"),
        Choice(&["true", "false", "always"]),
        "Remove HTML from incoming messages of protocols that send HTML; always: from every message (plain text with < and > then suffers).",
    ),
    SettingDef::new(
        "strip_newlines",
        Global,
        Some("false"),
        Bool,
        "Join multi-line incoming messages into one line.",
    ),
    SettingDef::new(
        "timezone",
        Global,
        Some("local"),
        Str,
        "The time zone of message timestamps: local (the gateway's), utc, gmt, or an offset in hours[:minutes] such as -8 or +5:30.",
    ),
    SettingDef::new(
        "to_char",
        Global,
        Some(": "),
        Str,
        "What follows a nick when addressing someone in a channel.",
    ),
    SettingDef::new(
        "typing_notice",
        Global,
        Some("false"),
        Bool,
        "Send and show typing notices.",
    ),
    SettingDef::new(
        "utf8_nicks",
        Global,
        Some("false"),
        Bool,
        "Allow non-ASCII letters in generated nicks.",
    ),
];

/// Settings every account has, whatever its protocol.
pub static ACCOUNT: &[SettingDef] = &[
    SettingDef::new(
        "auto_connect",
        Account,
        Some("true"),
        Bool,
        "Log this account in when you identify.",
    ),
    SettingDef::new(
        "auto_reconnect",
        Account,
        Some("true"),
        Bool,
        "Reconnect this account when the connection drops.",
    ),
    SettingDef::new(
        "away",
        Account,
        None,
        Str,
        "Away message for this account only.",
    ),
    SettingDef::new(
        "display_name",
        Account,
        None,
        Str,
        "Your display name on this account (for jabber: your nick in group chats whose channel sets none).",
    ),
    SettingDef::new(
        "handle_unknown",
        Account,
        None,
        Choice(&["root", "add", "add_private", "add_channel", "ignore"]),
        "handle_unknown for this account (else the global one).",
    ),
    SettingDef::new(
        "ignore_auth_requests",
        Account,
        Some("false"),
        Bool,
        "Ignore contacts' requests to see your presence instead of asking you (they stay unanswered).",
    ),
    SettingDef::new(
        "nick_format",
        Account,
        None,
        Str,
        "nick_format for this account's contacts (else the global one).",
    ),
    SettingDef::new(
        "nick_source",
        Account,
        Some("handle"),
        Choice(&["handle", "full_name", "first_name"]),
        "What contact nicks are made from.",
    ),
    SettingDef::new("password", Account, None, Str, "The account's password.").secret(),
    SettingDef::new(
        "status",
        Account,
        None,
        Str,
        "Status message for this account only.",
    ),
    SettingDef::new(
        "tag",
        Account,
        None,
        Str,
        "A short name for the account, used in root's lines and commands.",
    ),
    SettingDef::new(
        "username",
        Account,
        None,
        Str,
        "The account's login handle.",
    )
    .read_only(),
];

/// Settings every channel has.
pub static CHANNEL: &[SettingDef] = &[
    SettingDef::new(
        "account",
        Channel,
        None,
        Str,
        "For fill_by account: the account whose contacts fill this channel; for chats: the account.",
    ),
    SettingDef::new(
        "auto_join",
        Channel,
        Some("false"),
        Bool,
        "Join this channel when you identify.",
    ),
    SettingDef::new(
        "auto_rejoin",
        Channel,
        Some("false"),
        Bool,
        "Join a chat again when its account reconnects after a drop, or after being kicked.",
    ),
    SettingDef::new(
        "chat_type",
        Channel,
        Some("groupchat"),
        Choice(&["groupchat", "room"]),
        "For chat channels: groupchat (invite people to start talking) or room (a named room of chat add or an invitation).",
    ),
    SettingDef::new(
        "fill_by",
        Channel,
        Some("all"),
        Choice(&["all", "group", "account", "protocol"]),
        "Which contacts a control channel shows.",
    ),
    SettingDef::new(
        "group",
        Channel,
        None,
        Str,
        "For fill_by group: the buddy-list group.",
    ),
    SettingDef::new("nick", Channel, None, Str, "Your nick in this chat."),
    SettingDef::new(
        "protocol",
        Channel,
        None,
        Str,
        "For fill_by protocol: the protocol.",
    ),
    SettingDef::new(
        "room",
        Channel,
        None,
        Str,
        "The chat room this channel is bound to.",
    )
    .read_only(),
    SettingDef::new(
        "show_users",
        Channel,
        None,
        Str,
        "show_users for this channel (else the global one).",
    ),
    SettingDef::new(
        "type",
        Channel,
        Some("control"),
        Choice(&["control", "chat"]),
        "A control channel (contacts, root) or a chat room.",
    ),
    SettingDef::new(
        "translate_to_nicks",
        Channel,
        Some("true"),
        Bool,
        "In chats: a line starting with someone's IRC nick and a colon or comma goes to the room with their nick in the room instead.",
    ),
    SettingDef::new("password", Channel, None, Str, "The chat room's password.").secret(),
];

/// Look up a definition in a table, also among a protocol's extra account settings.
pub fn find<'a>(
    table: &'a [SettingDef],
    extra: &'a [SettingDef],
    name: &str,
) -> Option<&'a SettingDef> {
    table
        .iter()
        .chain(extra.iter())
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_canonicalises() {
        let d = find(GLOBAL, &[], "strip_html").map(|d| d.validate("on"));
        assert_eq!(d, Some(Ok("true".into())));
        let d = find(GLOBAL, &[], "ops").map(|d| d.validate("ROOT"));
        assert_eq!(d, Some(Ok("root".into())));
        assert!(find(GLOBAL, &[], "ops").is_some_and(|d| d.validate("x").is_err()));
        assert!(find(GLOBAL, &[], "paste_buffer_delay").is_some_and(|d| d.validate("1x").is_err()));
        assert!(
            find(GLOBAL, &[], "auto_reconnect_delay")
                .is_some_and(|d| d.validate("5*3<900").is_ok())
        );
        assert!(find(GLOBAL, &[], "status").is_some_and(|d| d.validate("a\r\nb").is_err()));
    }

    #[test]
    fn defaults_are_valid() {
        for d in GLOBAL.iter().chain(ACCOUNT).chain(CHANNEL) {
            if let Some(v) = d.default {
                assert_eq!(d.validate(v).as_deref(), Ok(v), "{}", d.name);
            }
        }
    }

    #[test]
    fn names_unique_per_scope() {
        for table in [GLOBAL, ACCOUNT, CHANNEL] {
            let mut names: Vec<_> = table.iter().map(|d| d.name).collect();
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(n, names.len());
        }
    }
}
