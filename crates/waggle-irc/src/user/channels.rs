//! Channel membership: who a control channel shows (per `fill_by` and `show_users`),
//! joins with their burst (topic, NAMES), and the JOIN/PART/MODE lines that keep a
//! client's view in step when contacts change.

use waggle_core::PresenceState;

use super::settings::FillBy;
use super::state::{Channel, ContactEntry, Member};
use super::{Cx, User};
use crate::line::Line;
use crate::nick::irc_lower;
use crate::outbox::{Join, NameEntry, Names, Out, To};

impl User {
    /// Whether a control channel's `fill_by` takes the contact (whatever its state).
    pub(crate) fn channel_wants(&self, ch: &Channel, c: &ContactEntry) -> bool {
        if ch.is_chat() {
            return false;
        }
        let Some(account) = self.account_by_id(c.account) else {
            return false;
        };
        match &ch.cfg.fill_by {
            FillBy::Group(g) => g.as_deref().is_some_and(|g| {
                c.group
                    .as_deref()
                    .is_some_and(|cg| cg.eq_ignore_ascii_case(g))
            }),
            FillBy::Account(t) => t.as_deref().is_some_and(|t| {
                account.rec.tag.eq_ignore_ascii_case(t) || self.find_account(t) == Some(account.id)
            }),
            FillBy::Protocol(p) => p
                .as_deref()
                .is_some_and(|p| account.rec.protocol.eq_ignore_ascii_case(p)),
            FillBy::All => true,
        }
    }

    /// The modes `show_users` gives a contact in `ch`, or `None` when it is not shown there.
    pub(crate) fn contact_modes_in(&self, ch: &Channel, c: &ContactEntry) -> Option<String> {
        if !self.channel_wants(ch, c) {
            return None;
        }
        let show = ch.cfg.show_users.as_ref().unwrap_or(&self.cfg.show_users);
        match self.shown_state(c) {
            PresenceState::Online => show.online.clone(),
            PresenceState::Away => show.away.clone(),
            PresenceState::Offline => show.offline.clone(),
        }
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
            ch.set(key, Some(value));
            ch.set("fill_by", Some(fill_by.into()));
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
        out.push(Member {
            nick: self.root_nick(),
            mask: self.root_mask(),
            modes: if self.cfg.ops.root() {
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

    pub(crate) fn my_modes_in(&self, ch: &Channel) -> String {
        if ch.is_chat() {
            return ch.my_modes.clone();
        }
        if self.cfg.ops.user() {
            "@".into()
        } else {
            String::new()
        }
    }
}

impl Cx<'_> {
    /// Join the user to a known channel now and send every client the join burst.
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
        self.channel_burst(To::All, &ch.name);
    }

    /// JOIN, topic, read marker and NAMES of a joined channel, for `to`.
    pub(crate) fn channel_burst(&mut self, to: To, name: &str) {
        let join = self.my_join(name);
        self.push(to, Out::Join(join));
        self.send_topic_to(to, name, false);
        self.push(to, Out::ReadMarker(name.to_string()));
        self.send_names(to, name);
    }

    /// The user's own JOIN of a channel.
    fn my_join(&self, channel: &str) -> Join {
        Join {
            mask: self.my_mask(),
            channel: channel.to_string(),
            account: self
                .login
                .as_ref()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "*".into()),
            realname: self.realname.clone(),
        }
    }

    /// Bring one newly attached client's view in line with the user's channels:
    /// `view` is what it shows already (a client handed over from the session it
    /// identified in), by channel with its members (lower-case nicks).
    pub(crate) fn burst_channels(&mut self, to: To, view: &[(String, Vec<String>)]) {
        let joined: Vec<String> = self
            .channels
            .iter()
            .filter(|c| c.joined)
            .map(|c| c.name.clone())
            .collect();
        for (name, members) in view {
            if !joined.iter().any(|j| irc_lower(j) == irc_lower(name)) {
                let line = Line::new("PART").prefix(self.my_mask()).param(name);
                self.push(to, Out::Line(line));
                continue;
            }
            let Some(ch) = self.channel(name).cloned() else {
                continue;
            };
            for m in members {
                if !ch.members.contains_key(m) {
                    let nick = m.clone();
                    let line = Line::new("PART")
                        .prefix(format!("{nick}!{nick}@{}", self.shared.config.name))
                        .param(&ch.name);
                    self.push(to, Out::Line(line));
                }
            }
            for (key, m) in &ch.members {
                if !members.contains(key) {
                    self.push(
                        to,
                        Out::Join(Join {
                            mask: m.mask.clone(),
                            channel: ch.name.clone(),
                            account: "*".into(),
                            realname: m.realname.clone(),
                        }),
                    );
                }
            }
            self.send_topic_to(to, &ch.name, false);
            self.send_names(to, &ch.name);
        }
        for name in joined {
            if !view.iter().any(|(v, _)| irc_lower(v) == irc_lower(&name)) {
                self.channel_burst(to, &name);
            }
        }
    }

    /// 332/333 (or 331 when `explicit` and no topic), to the origin.
    pub(crate) fn send_topic(&mut self, name: &str, explicit: bool) {
        self.send_topic_to(To::Origin, name, explicit);
    }

    /// 332/333 (or 331 when `explicit` and no topic).
    pub(crate) fn send_topic_to(&mut self, to: To, name: &str, explicit: bool) {
        let Some(ch) = self.channel(name).cloned() else {
            return;
        };
        match &ch.topic {
            Some(t) if !t.is_empty() => {
                let line = self.numeric("332").param(&ch.name).param(t);
                self.push(to, Out::Line(line));
                if let Some(by) = &ch.topic_by {
                    let line = self
                        .numeric("333")
                        .param(&ch.name)
                        .param(by)
                        .param(ch.topic_at.to_string());
                    self.push(to, Out::Line(line));
                }
            }
            _ if explicit => {
                let line = self.numeric("331").param(&ch.name).param("No topic is set");
                self.push(to, Out::Line(line));
            }
            _ => {}
        }
    }

    /// 353/366 for a channel.
    pub(crate) fn send_names(&mut self, to: To, name: &str) {
        let Some(ch) = self.channel(name).cloned() else {
            let line = self.numeric("366").param(name).param("End of /NAMES list");
            self.push(to, Out::Line(line));
            return;
        };
        let mut entries = Vec::new();
        if ch.joined {
            entries.push(NameEntry {
                modes: self.my_modes_in(&ch),
                nick: self.nick.clone(),
                mask: self.my_mask(),
            });
        }
        for m in ch.members.values() {
            entries.push(NameEntry {
                modes: m.modes.clone(),
                nick: m.nick.clone(),
                mask: m.mask.clone(),
            });
        }
        if ch.is_chat() && ch.joined {
            // As in BitlBee, root is in every channel, chats included.
            let modes = if self.cfg.ops.root() { "@" } else { "" };
            entries.push(NameEntry {
                modes: modes.into(),
                nick: self.root_nick(),
                mask: self.root_mask(),
            });
        }
        let names = Names {
            me: self.nick.clone(),
            channel: ch.name.clone(),
            entries,
        };
        self.push(to, Out::Names(names));
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
                        Some(reason) if self.cfg.offline_user_quits => {
                            if !quitted.contains(key) {
                                quitted.push(key.clone());
                                self.all(Line::new("QUIT").prefix(&old.mask).param(reason));
                            }
                        }
                        _ => self.all(Line::new("PART").prefix(&old.mask).param(&name)),
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
                            self.all(Line::new("PART").prefix(&old.mask).param(&name));
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

    /// Bring one contact's membership of every joined control channel in line
    /// with its state: JOIN, PART (or one QUIT), MODE as needed.
    pub(crate) fn sync_contact(
        &mut self,
        account: waggle_core::AccountId,
        handle: &str,
        quit_reason: Option<&str>,
    ) {
        let Some(c) = self.contacts.get(&(account, handle.to_string())).cloned() else {
            return;
        };
        let key = irc_lower(&c.nick);
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|ch| ch.joined && !ch.is_chat())
            .map(|ch| ch.name.clone())
            .collect();
        let mut quitted = false;
        for name in names {
            let Some(ch) = self.channel(&name) else {
                continue;
            };
            let wanted = self.contact_modes_in(ch, &c).map(|modes| Member {
                nick: c.nick.clone(),
                mask: c.mask(),
                modes,
                realname: c.display_name.clone().unwrap_or_else(|| c.handle.clone()),
                room_nick: None,
            });
            let old = ch.members.get(&key).cloned();
            match (old, wanted) {
                (None, None) => {}
                (Some(old), None) => {
                    if let Some(ch) = self.channel_mut(&name) {
                        ch.members.remove(&key);
                    }
                    match quit_reason {
                        Some(reason) if self.cfg.offline_user_quits => {
                            if !quitted {
                                quitted = true;
                                self.all(Line::new("QUIT").prefix(&old.mask).param(reason));
                            }
                        }
                        _ => self.all(Line::new("PART").prefix(&old.mask).param(&name)),
                    }
                }
                (None, Some(new)) => {
                    if let Some(ch) = self.channel_mut(&name) {
                        ch.members.insert(key.clone(), new.clone());
                    }
                    self.send_member_join(&name, &new);
                }
                (Some(old), Some(new)) => {
                    if let Some(ch) = self.channel_mut(&name) {
                        ch.members.insert(key.clone(), new.clone());
                    }
                    if old.mask != new.mask {
                        self.all(Line::new("PART").prefix(&old.mask).param(&name));
                        self.send_member_join(&name, &new);
                    } else if old.modes != new.modes {
                        self.send_mode_change(&name, &new.nick, &old.modes, &new.modes);
                    }
                }
            }
        }
    }

    /// JOIN for a member plus the MODE giving their modes, to every client.
    pub(crate) fn send_member_join(&mut self, channel: &str, m: &Member) {
        self.push(
            To::All,
            Out::Join(Join {
                mask: m.mask.clone(),
                channel: channel.to_string(),
                account: "*".into(),
                realname: m.realname.clone(),
            }),
        );
        self.send_mode_change(channel, &m.nick, "", &m.modes);
    }

    /// MODE lines turning `old` channel modes of `nick` into `new`, to every client.
    pub(crate) fn send_mode_change(&mut self, channel: &str, nick: &str, old: &str, new: &str) {
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
        self.all(
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
