//! Typed views of the settings: the user's ([`UserSettings`]), a channel's
//! ([`ChannelSettings`]) and the common ones of an account ([`AccountSettings`]).
//! Each is rebuilt from its registry map when that map is loaded or changed by
//! `set`, so the code reads fields, never names, and nothing is parsed per
//! message. Values missing from a map take the registry's default.

use std::collections::BTreeMap;
use std::time::Duration;

use waggle_core::reconnect::Backoff;
use waggle_core::settings::{self, SettingDef, parse_bool};

/// A value from `map`, else the default `table` gives `name`.
fn raw<'a>(
    map: &'a BTreeMap<String, String>,
    table: &'static [SettingDef],
    name: &str,
) -> Option<&'a str> {
    map.get(name)
        .map(String::as_str)
        .or_else(|| settings::find(table, &[], name).and_then(|d| d.default))
}

fn text(
    map: &BTreeMap<String, String>,
    table: &'static [SettingDef],
    name: &str,
) -> Option<String> {
    raw(map, table, name)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn flag(map: &BTreeMap<String, String>, table: &'static [SettingDef], name: &str) -> bool {
    raw(map, table, name).and_then(parse_bool).unwrap_or(false)
}

fn number(map: &BTreeMap<String, String>, table: &'static [SettingDef], name: &str) -> i64 {
    raw(map, table, name)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Where a control-channel line without `nick:` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultTarget {
    Root,
    Last,
}

/// What happens to a message from someone not on the buddy list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleUnknown {
    /// Root says who wrote what.
    Root,
    /// A temporary contact, in a query or the channel as `private` says.
    Add,
    /// A temporary contact, in a query.
    AddPrivate,
    /// A temporary contact, in the control channel.
    AddChannel,
    /// Dropped.
    Ignore,
}

impl HandleUnknown {
    /// The value of a `handle_unknown` setting (BitlBee: any `add…` adds).
    pub fn parse(v: &str) -> HandleUnknown {
        match v.trim().to_ascii_lowercase().as_str() {
            "ignore" => HandleUnknown::Ignore,
            "add_private" => HandleUnknown::AddPrivate,
            "add_channel" => HandleUnknown::AddChannel,
            v if v.starts_with("add") => HandleUnknown::Add,
            _ => HandleUnknown::Root,
        }
    }
}

/// Who holds @ in control channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ops {
    Both,
    Root,
    User,
    None,
}

impl Ops {
    /// Whether root is opped.
    pub fn root(self) -> bool {
        matches!(self, Ops::Both | Ops::Root)
    }

    /// Whether the user is opped.
    pub fn user(self) -> bool {
        matches!(self, Ops::Both | Ops::User)
    }
}

/// How messages the user sent from elsewhere are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelfMessages {
    /// As the user's own PRIVMSG to the contact.
    Swapped,
    /// Dropped.
    Hidden,
    /// From the contact, prefixed with `-> `.
    Prefix,
    /// As [`SelfMessages::Prefix`], but a NOTICE.
    PrefixNotice,
}

/// When HTML is taken out of incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StripHtml {
    /// Never.
    Off,
    /// From protocols that send HTML.
    Html,
    /// From every message.
    Always,
}

/// The time zone timestamps are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timezone {
    /// The gateway machine's own zone, daylight saving time included.
    Local,
    /// A fixed offset (`utc`, `gmt`, `+5:30`).
    Fixed(time::UtcOffset),
}

impl Timezone {
    /// BitlBee's values: `local`, `utc`/`gmt`, or `[+-]H[:MM]`; anything else is UTC.
    pub fn parse(tz: &str) -> Timezone {
        let tz = tz.trim().to_ascii_lowercase();
        match tz.as_str() {
            "local" => return Timezone::Local,
            "gmt" | "utc" => return Timezone::Fixed(time::UtcOffset::UTC),
            _ => {}
        }
        let (sign, rest) = match tz.strip_prefix('-') {
            Some(r) => (-1i32, r),
            None => (1, tz.strip_prefix('+').unwrap_or(&tz)),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let offset = match (h.parse::<i32>(), m.parse::<i32>()) {
            (Ok(h), Ok(m)) => time::UtcOffset::from_whole_seconds(sign * (h * 3600 + m * 60))
                .unwrap_or(time::UtcOffset::UTC),
            _ => time::UtcOffset::UTC,
        };
        Timezone::Fixed(offset)
    }

    /// The offset from UTC at `t` (for `local`, the zone's rules at that moment).
    pub fn offset_at(self, t: std::time::SystemTime) -> time::UtcOffset {
        match self {
            Timezone::Fixed(o) => o,
            Timezone::Local => {
                use chrono::Offset;
                let secs = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let Some(utc) = chrono::DateTime::from_timestamp(secs, 0) else {
                    return time::UtcOffset::UTC;
                };
                let local = utc.with_timezone(&chrono::Local);
                time::UtcOffset::from_whole_seconds(local.offset().fix().local_minus_utc())
                    .unwrap_or(time::UtcOffset::UTC)
            }
        }
    }
}

/// One presence class's place in a control channel (`show_users`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShowUsers {
    /// The mode prefix (`""`, `+`, `%`, `@`) for each class, `None` when hidden:
    /// online, away, offline; `special` is kept for compatibility but no contact is special.
    pub online: Option<String>,
    pub away: Option<String>,
    pub offline: Option<String>,
}

impl ShowUsers {
    /// Parse `online+,special%,away`.
    pub fn parse(spec: &str) -> ShowUsers {
        let mut out = ShowUsers::default();
        for item in spec.split(',') {
            let item = item.trim();
            let (name, mode) = match item.char_indices().last() {
                Some((i, m @ ('+' | '%' | '@'))) => (&item[..i], m.to_string()),
                _ => (item, String::new()),
            };
            match name {
                "online" => out.online = Some(mode),
                "away" => out.away = Some(mode),
                "offline" => out.offline = Some(mode),
                _ => {}
            }
        }
        out
    }
}

/// The user's (global) settings.
#[derive(Debug, Clone)]
pub(crate) struct UserSettings {
    pub auto_connect: bool,
    pub auto_reconnect: bool,
    pub auto_reconnect_delay: Backoff,
    /// `set away` and /away: one state.
    pub away: Option<String>,
    pub away_reply_timeout: Duration,
    pub default_target: DefaultTarget,
    pub detach_away: Option<String>,
    pub display_namechanges: bool,
    pub display_timestamps: bool,
    pub handle_unknown: HandleUnknown,
    pub mobile_is_away: bool,
    pub nick_format: String,
    pub nick_lowercase: bool,
    pub nick_underscores: bool,
    pub offline_user_quits: bool,
    pub ops: Ops,
    pub paste_buffer: bool,
    pub paste_buffer_delay: Duration,
    pub private: bool,
    /// `query_order fifo`: yes/no answer the oldest question.
    pub fifo: bool,
    pub root_nick: String,
    pub self_messages: SelfMessages,
    pub show_users: ShowUsers,
    pub simulate_netsplit: bool,
    pub status: Option<String>,
    pub strip_html: StripHtml,
    pub strip_newlines: bool,
    pub timezone: Timezone,
    pub to_char: String,
    pub typing_notice: bool,
    pub utf8_nicks: bool,
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings::from_map(&BTreeMap::new())
    }
}

impl UserSettings {
    /// The typed settings for a user's stored values.
    pub fn from_map(m: &BTreeMap<String, String>) -> UserSettings {
        let g = settings::GLOBAL;
        let delay = number(m, g, "paste_buffer_delay").max(0) as u64;
        UserSettings {
            auto_connect: flag(m, g, "auto_connect"),
            auto_reconnect: flag(m, g, "auto_reconnect"),
            auto_reconnect_delay: raw(m, g, "auto_reconnect_delay")
                .and_then(|v| v.parse().ok())
                .unwrap_or_default(),
            away: text(m, g, "away"),
            away_reply_timeout: Duration::from_secs(
                number(m, g, "away_reply_timeout").max(0) as u64
            ),
            default_target: match raw(m, g, "default_target") {
                Some("last") => DefaultTarget::Last,
                _ => DefaultTarget::Root,
            },
            detach_away: text(m, g, settings::DETACH_AWAY),
            display_namechanges: flag(m, g, "display_namechanges"),
            display_timestamps: flag(m, g, "display_timestamps"),
            handle_unknown: HandleUnknown::parse(raw(m, g, "handle_unknown").unwrap_or("")),
            mobile_is_away: flag(m, g, "mobile_is_away"),
            nick_format: text(m, g, "nick_format").unwrap_or_else(|| "%-@nick".into()),
            nick_lowercase: flag(m, g, "nick_lowercase"),
            nick_underscores: flag(m, g, "nick_underscores"),
            offline_user_quits: flag(m, g, "offline_user_quits"),
            ops: match raw(m, g, "ops") {
                Some("root") => Ops::Root,
                Some("user") => Ops::User,
                Some("none") => Ops::None,
                _ => Ops::Both,
            },
            paste_buffer: flag(m, g, "paste_buffer"),
            // As in BitlBee: 5 and less are seconds, more are milliseconds.
            paste_buffer_delay: if delay <= 5 {
                Duration::from_secs(delay)
            } else {
                Duration::from_millis(delay.min(60_000))
            },
            private: flag(m, g, "private"),
            fifo: raw(m, g, "query_order") == Some("fifo"),
            root_nick: text(m, g, "root_nick").unwrap_or_else(|| "root".into()),
            self_messages: match raw(m, g, "self_messages") {
                Some("false") => SelfMessages::Hidden,
                Some("prefix") => SelfMessages::Prefix,
                Some("prefix_notice") => SelfMessages::PrefixNotice,
                _ => SelfMessages::Swapped,
            },
            show_users: ShowUsers::parse(raw(m, g, "show_users").unwrap_or("")),
            simulate_netsplit: flag(m, g, "simulate_netsplit"),
            status: text(m, g, "status"),
            strip_html: match raw(m, g, "strip_html") {
                Some("always") => StripHtml::Always,
                Some(v) if parse_bool(v) == Some(false) => StripHtml::Off,
                _ => StripHtml::Html,
            },
            strip_newlines: flag(m, g, "strip_newlines"),
            timezone: Timezone::parse(raw(m, g, "timezone").unwrap_or("local")),
            to_char: raw(m, g, "to_char").unwrap_or(": ").to_string(),
            typing_notice: flag(m, g, "typing_notice"),
            utf8_nicks: flag(m, g, "utf8_nicks"),
        }
    }
}

/// What a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelType {
    Control,
    Chat,
}

/// Which contacts a control channel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FillBy {
    All,
    Group(Option<String>),
    Account(Option<String>),
    Protocol(Option<String>),
}

/// A channel's settings.
#[derive(Debug, Clone)]
pub(crate) struct ChannelSettings {
    pub kind: ChannelType,
    pub fill_by: FillBy,
    /// For chats: the account's tag.
    pub account: Option<String>,
    /// For `fill_by group`: the group (also what an /invite there adds to).
    pub group: Option<String>,
    pub auto_join: bool,
    pub auto_rejoin: bool,
    /// For chats: the user's nick in the room.
    pub nick: Option<String>,
    /// For chats: the room it is bound to.
    pub room: Option<String>,
    pub password: Option<String>,
    pub show_users: Option<ShowUsers>,
    /// For chats: a named room (`chat add`, an invitation) rather than an ad-hoc group chat.
    pub named_room: bool,
    pub translate_to_nicks: bool,
}

impl ChannelSettings {
    /// The typed settings for a channel's stored values.
    pub fn from_map(m: &BTreeMap<String, String>) -> ChannelSettings {
        let c = settings::CHANNEL;
        let account = text(m, c, "account");
        let group = text(m, c, "group");
        ChannelSettings {
            kind: match raw(m, c, "type") {
                Some("chat") => ChannelType::Chat,
                _ => ChannelType::Control,
            },
            fill_by: match raw(m, c, "fill_by") {
                Some("group") => FillBy::Group(group.clone()),
                Some("account") => FillBy::Account(account.clone()),
                Some("protocol") => FillBy::Protocol(text(m, c, "protocol")),
                _ => FillBy::All,
            },
            account,
            group,
            auto_join: flag(m, c, "auto_join"),
            auto_rejoin: flag(m, c, "auto_rejoin"),
            nick: text(m, c, "nick"),
            room: text(m, c, "room"),
            password: text(m, c, "password"),
            show_users: text(m, c, "show_users").map(|s| ShowUsers::parse(&s)),
            named_room: raw(m, c, "chat_type") == Some("room") || text(m, c, "room").is_some(),
            translate_to_nicks: flag(m, c, "translate_to_nicks"),
        }
    }
}

/// The settings every account has, as the IRC side reads them.
#[derive(Debug, Clone)]
pub(crate) struct AccountSettings {
    pub auto_connect: bool,
    pub auto_reconnect: bool,
    pub away: Option<String>,
    pub status: Option<String>,
    pub display_name: Option<String>,
    pub nick_format: Option<String>,
    /// `nick_source`: `handle`, `full_name` or `first_name`.
    pub nick_source: String,
    /// The account's own `handle_unknown`, over the user's.
    pub handle_unknown: Option<HandleUnknown>,
}

impl AccountSettings {
    /// The typed settings for an account's stored values.
    pub fn from_map(m: &BTreeMap<String, String>) -> AccountSettings {
        let a = settings::ACCOUNT;
        AccountSettings {
            auto_connect: flag(m, a, "auto_connect"),
            auto_reconnect: flag(m, a, "auto_reconnect"),
            away: text(m, a, "away"),
            status: text(m, a, "status"),
            display_name: text(m, a, "display_name"),
            nick_format: text(m, a, "nick_format"),
            nick_source: text(m, a, "nick_source").unwrap_or_else(|| "handle".into()),
            handle_unknown: text(m, a, "handle_unknown").map(|v| HandleUnknown::parse(&v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_come_from_the_registry() {
        let s = UserSettings::default();
        assert!(s.auto_connect && s.private && !s.paste_buffer);
        assert_eq!(s.root_nick, "root");
        assert_eq!(s.handle_unknown, HandleUnknown::AddChannel);
        assert_eq!(s.paste_buffer_delay, Duration::from_millis(200));
        assert_eq!(s.show_users.online.as_deref(), Some("+"));
        assert_eq!(s.show_users.offline, None);
    }

    #[test]
    fn small_paste_delays_are_seconds() {
        let s = UserSettings::from_map(&map(&[("paste_buffer_delay", "2")]));
        assert_eq!(s.paste_buffer_delay, Duration::from_secs(2));
        let s = UserSettings::from_map(&map(&[("paste_buffer_delay", "6")]));
        assert_eq!(s.paste_buffer_delay, Duration::from_millis(6));
    }

    #[test]
    fn timezones() {
        assert_eq!(
            Timezone::parse("gmt"),
            Timezone::Fixed(time::UtcOffset::UTC)
        );
        let Timezone::Fixed(o) = Timezone::parse("+5:30") else {
            panic!("not fixed")
        };
        assert_eq!(o.whole_minutes(), 330);
        let Timezone::Fixed(o) = Timezone::parse("-8") else {
            panic!("not fixed")
        };
        assert_eq!(o.whole_hours(), -8);
        assert_eq!(Timezone::parse("local"), Timezone::Local);
    }

    #[test]
    fn channel_settings() {
        let c = ChannelSettings::from_map(&map(&[("fill_by", "group"), ("group", "Work")]));
        assert_eq!(c.fill_by, FillBy::Group(Some("Work".into())));
        assert_eq!(c.kind, ChannelType::Control);
        assert!(c.translate_to_nicks && !c.auto_join);
    }
}
