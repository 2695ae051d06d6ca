//! Channel membership: who a control channel shows (per `fill_by` and `show_users`),
//! joins with their burst (topic, NAMES), and the JOIN/PART/MODE lines that keep a
//! client's view in step when contacts change.

use waggle_core::PresenceState;

use super::Session;
use super::state::{Channel, ContactEntry, Member};
use crate::caps::Cap;
use crate::line::Line;
use crate::nick::irc_lower;

impl Session {
    /// The modes `show_users` gives a contact in `ch`, or `None` when it is not shown there.
    pub(crate) fn contact_modes_in(&self, ch: &Channel, c: &ContactEntry) -> Option<String> {
        if ch.is_chat() {
            return None;
        }
        let account = self.account_by_id(c.account)?;
        let fits = match ch.setting("fill_by").unwrap_or("all") {
            "group" => ch.setting("group").is_some_and(|g| {
                c.group
                    .as_deref()
                    .is_some_and(|cg| cg.eq_ignore_ascii_case(g))
            }),
            "account" => ch.setting("account").is_some_and(|t| {
                account.rec.tag.eq_ignore_ascii_case(t) || self.find_account(t) == Some(account.id)
            }),
            "protocol" => ch
                .setting("protocol")
                .is_some_and(|p| account.rec.protocol.eq_ignore_ascii_case(p)),
            _ => true,
        };
        if !fits {
            return None;
        }
        let wanted = match c.presence.state {
            PresenceState::Online => "online",
            PresenceState::Away => "away",
            PresenceState::Offline => "offline",
        };
        let spec = ch
            .setting("show_users")
            .or_else(|| self.setting("show_users"))
            .unwrap_or("online+,special%,away");
        for item in spec.split(',') {
            let item = item.trim();
            let (name, mode) = match item.chars().last() {
                Some(m @ ('+' | '%' | '@')) => (&item[..item.len() - 1], Some(m)),
                _ => (item, None),
            };
            if name == wanted {
                return Some(mode.map(|m| m.to_string()).unwrap_or_default());
            }
        }
        None
    }

    /// BitlBee's guess for a control channel the user creates by joining it: named
    /// after an account tag, a protocol or a buddy-list group, it shows that
    /// account's, protocol's or group's contacts (`&family` shows group Family).
    pub(crate) fn guess_fill_by(&self, ch: &mut Channel) {
        let word = ch.name.get(1..).unwrap_or_default().to_string();
        if word.is_empty() {
            return;
        }
        let mut set = |fill_by: &str, key: &str, value: String| {
            ch.settings.insert("fill_by".into(), fill_by.into());
            ch.settings.insert(key.into(), value);
        };
        if let Some(a) = self
            .accounts
            .iter()
            .find(|a| a.rec.tag.eq_ignore_ascii_case(&word))
        {
            set("account", "account", a.rec.tag.clone());
        } else if let Some(a) = self
            .accounts
            .iter()
            .find(|a| a.rec.protocol.eq_ignore_ascii_case(&word))
        {
            set("protocol", "protocol", a.rec.protocol.clone());
        } else if let Some(g) = self
            .contacts
            .values()
            .filter_map(|c| c.group.as_deref())
            .find(|g| g.eq_ignore_ascii_case(&word))
        {
            set("group", "group", g.to_string());
        }
    }

    /// Recompute a control channel's members from the contact list.
    pub(crate) fn control_members(&self, ch: &Channel) -> Vec<Member> {
        let mut out = Vec::new();
        let ops = self.setting("ops").unwrap_or("both");
        out.push(Member {
            nick: self.root_nick(),
            mask: self.root_mask(),
            modes: if matches!(ops, "both" | "root") {
                "@".into()
            } else {
                String::new()
            },
            realname: "Waggle control bot".into(),
            room_nick: None,
        });
        for c in self.contacts.values() {
            if let Some(modes) = self.contact_modes_in(ch, c) {
                out.push(Member {
                    nick: c.nick.clone(),
                    mask: c.mask(),
                    modes,
                    realname: c.display_name.clone().unwrap_or_else(|| c.handle.clone()),
                    room_nick: None,
                });
            }
        }
        out
    }

    fn my_modes_in(&self, ch: &Channel) -> String {
        if ch.is_chat() {
            return ch.my_modes.clone();
        }
        match self.setting("ops").unwrap_or("both") {
            "both" | "user" => "@".into(),
            _ => String::new(),
        }
    }

    /// Join the user to a known channel now and send the join burst.
    pub(crate) fn join_channel_now(&mut self, name: &str) {
        let Some(ch) = self.channel(name).cloned() else {
            return;
        };
        let members = if ch.is_chat() {
            ch.members.values().cloned().collect()
        } else {
            self.control_members(&ch)
        };
        if let Some(c) = self.channel_mut(name) {
            c.joined = true;
            if !c.is_chat() {
                c.members = members
                    .iter()
                    .map(|m| (irc_lower(&m.nick), m.clone()))
                    .collect();
            }
        }
        let join = if self.caps.has(Cap::ExtendedJoin) {
            let account = self
                .login
                .as_ref()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "*".into());
            Line::new("JOIN")
                .prefix(self.my_mask())
                .param(&ch.name)
                .param(account)
                .param(&self.realname)
        } else {
            Line::new("JOIN").prefix(self.my_mask()).param(&ch.name)
        };
        self.send(join);
        self.send_topic(&ch.name, false);
        self.send_names(&ch.name);
    }

    /// 332/333 (or 331 when `explicit` and no topic).
    pub(crate) fn send_topic(&self, name: &str, explicit: bool) {
        let Some(ch) = self.channel(name) else { return };
        match &ch.topic {
            Some(t) if !t.is_empty() => {
                self.send(self.numeric("332").param(&ch.name).param(t));
                if let Some(by) = &ch.topic_by {
                    self.send(self.numeric("333").param(&ch.name).param(by).param("0"));
                }
            }
            _ if explicit => {
                self.send(self.numeric("331").param(&ch.name).param("No topic is set"))
            }
            _ => {}
        }
    }

    /// 353/366 for a channel.
    pub(crate) fn send_names(&self, name: &str) {
        let Some(ch) = self.channel(name) else {
            self.send(self.numeric("366").param(name).param("End of /NAMES list"));
            return;
        };
        let multi = self.caps.has(Cap::MultiPrefix);
        let uhnames = self.caps.has(Cap::UserhostInNames);
        let mut entries = Vec::new();
        if ch.joined {
            entries.push(format_name(
                &self.my_modes_in(ch),
                &self.nick,
                &self.my_mask(),
                multi,
                uhnames,
            ));
        }
        for m in ch.members.values() {
            entries.push(format_name(&m.modes, &m.nick, &m.mask, multi, uhnames));
        }
        if ch.is_chat() && ch.joined {
            // As in BitlBee, root is in every channel, chats included.
            let modes = match self.setting("ops").unwrap_or("both") {
                "both" | "root" => "@",
                _ => "",
            };
            entries.push(format_name(
                modes,
                &self.root_nick(),
                &self.root_mask(),
                multi,
                uhnames,
            ));
        }
        // BitlBee's symbol for every channel, chats included.
        let symbol = "=";
        let mut chunk = String::new();
        for e in entries {
            if chunk.len() + e.len() > 380 {
                self.send(
                    self.numeric("353")
                        .param(symbol)
                        .param(&ch.name)
                        .param(&chunk),
                );
                chunk.clear();
            }
            if !chunk.is_empty() {
                chunk.push(' ');
            }
            chunk.push_str(&e);
        }
        if !chunk.is_empty() {
            self.send(
                self.numeric("353")
                    .param(symbol)
                    .param(&ch.name)
                    .param(&chunk),
            );
        }
        self.send(
            self.numeric("366")
                .param(&ch.name)
                .param("End of /NAMES list"),
        );
    }

    /// Bring every joined control channel in line with the contact list, sending
    /// JOIN/PART/QUIT/MODE for the differences.
    pub(crate) fn sync_control_channels(&mut self, quit_reason: Option<&str>) {
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|c| c.joined && !c.is_chat())
            .map(|c| c.name.clone())
            .collect();
        let mut quitted: Vec<String> = Vec::new();
        for name in names {
            let Some(ch) = self.channel(&name).cloned() else {
                continue;
            };
            let wanted: std::collections::BTreeMap<String, Member> = self
                .control_members(&ch)
                .into_iter()
                .map(|m| (irc_lower(&m.nick), m))
                .collect();
            for (key, old) in &ch.members {
                if !wanted.contains_key(key) {
                    match quit_reason {
                        Some(reason) if self.flag("offline_user_quits") => {
                            if !quitted.contains(key) {
                                quitted.push(key.clone());
                                self.send(Line::new("QUIT").prefix(&old.mask).param(reason));
                            }
                        }
                        _ => self.send(Line::new("PART").prefix(&old.mask).param(&name)),
                    }
                }
            }
            for (key, new) in &wanted {
                match ch.members.get(key) {
                    None => {
                        self.send_member_join(&name, new);
                    }
                    Some(old) => {
                        if old.mask != new.mask {
                            self.send(Line::new("PART").prefix(&old.mask).param(&name));
                            self.send_member_join(&name, new);
                        } else if old.modes != new.modes {
                            self.send_mode_change(&name, &new.nick, &old.modes, &new.modes);
                        }
                    }
                }
            }
            if let Some(c) = self.channel_mut(&name) {
                c.members = wanted;
            }
        }
    }

    /// JOIN for a member plus the MODE giving their modes.
    pub(crate) fn send_member_join(&self, channel: &str, m: &Member) {
        let join = if self.caps.has(Cap::ExtendedJoin) {
            Line::new("JOIN")
                .prefix(&m.mask)
                .param(channel)
                .param("*")
                .param(&m.realname)
        } else {
            Line::new("JOIN").prefix(&m.mask).param(channel)
        };
        self.send(join);
        self.send_mode_change(channel, &m.nick, "", &m.modes);
    }

    /// MODE lines turning `old` channel modes of `nick` into `new`.
    pub(crate) fn send_mode_change(&self, channel: &str, nick: &str, old: &str, new: &str) {
        let letter = |c: char| match c {
            '@' => 'o',
            '%' => 'h',
            _ => 'v',
        };
        let mut modes = String::new();
        let mut args = Vec::new();
        for c in old.chars().filter(|c| !new.contains(*c)) {
            modes.push('-');
            modes.push(letter(c));
            args.push(nick.to_string());
        }
        for c in new.chars().filter(|c| !old.contains(*c)) {
            modes.push('+');
            modes.push(letter(c));
            args.push(nick.to_string());
        }
        if modes.is_empty() {
            return;
        }
        let modes = compress_modes(&modes);
        self.send(
            Line::new("MODE")
                .prefix(&self.shared.config.name)
                .param(channel)
                .param(modes)
                .params(args),
        );
    }
}

fn compress_modes(modes: &str) -> String {
    let mut out = String::new();
    let mut last_sign = ' ';
    let mut chars = modes.chars();
    while let (Some(sign), Some(m)) = (chars.next(), chars.next()) {
        if sign != last_sign {
            out.push(sign);
            last_sign = sign;
        }
        out.push(m);
    }
    out
}

fn format_name(modes: &str, nick: &str, mask: &str, multi: bool, uhnames: bool) -> String {
    let prefix: String = if multi {
        modes.to_string()
    } else {
        modes.chars().take(1).collect()
    };
    format!("{prefix}{}", if uhnames { mask } else { nick })
}
