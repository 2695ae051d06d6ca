//! WHO, WHOIS, ISON, USERHOST, NICK, user MODE, AWAY and SETNAME. The nick and
//! the away state are the user's: a change shows on every attached client.

use crate::caps::Cap;
use crate::input::Input;
use crate::line::Line;
use crate::nick::{irc_lower, is_valid_nick};
use crate::outbox::{Out, To};
use crate::user::Cx;

impl Cx<'_> {
    pub(super) fn user_mode(&mut self, target: &str, input: &Input) {
        if irc_lower(target) != irc_lower(&self.nick) {
            if self.present_nick(target).is_some() {
                self.send(
                    self.numeric("502")
                        .param("Can't change mode for other users"),
                );
            } else {
                self.send(
                    self.numeric("401")
                        .param(target)
                        .param("No such nick/channel"),
                );
            }
            return;
        }
        let Some(change) = input.params.get(1) else {
            let mut modes = String::from("+");
            if self.login.is_some() {
                modes.push('R');
            }
            if self.bot {
                modes.push('B');
            }
            if self.tabular {
                modes.push('b');
            }
            self.send(self.numeric("221").param(modes));
            return;
        };
        // +B (bot) and +b (BitlBee's tab-separated listings) are the user's to
        // change; R follows identification.
        let mut adding = true;
        let mut applied = String::new();
        let mut last_sign = ' ';
        for c in change.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'B' | 'b' => {
                    let flag = if c == 'B' {
                        &mut self.bot
                    } else {
                        &mut self.tabular
                    };
                    if *flag == adding {
                        continue;
                    }
                    *flag = adding;
                    let sign = if adding { '+' } else { '-' };
                    if sign != last_sign {
                        applied.push(sign);
                        last_sign = sign;
                    }
                    applied.push(c);
                }
                'R' | 'i' | 'w' | 's' | 'a' => {}
                _ => {
                    self.send(self.numeric("501").param("Unknown MODE flag"));
                    return;
                }
            }
        }
        if !applied.is_empty() {
            self.send(
                Line::new("MODE")
                    .prefix(self.my_mask())
                    .param(&self.nick)
                    .param(applied),
            );
        }
    }

    /// WHO as BitlBee answers it: a channel's members with their H/G and
    /// channel prefix, one user, or (without a mask, or `0`/`*`) everyone.
    pub(super) fn who(&mut self, input: &Input) {
        let mask = input.arg(0).to_string();
        let server = self.shared.config.name.clone();
        let row = |nick: &str, full: &str, realname: &str, channel: &str, here: String| {
            let (user, host) = full
                .split_once('!')
                .and_then(|(_, uh)| uh.split_once('@'))
                .unwrap_or(("", ""));
            self.numeric("352")
                .param(channel)
                .param(user)
                .param(host)
                .param(&server)
                .param(nick)
                .param(here)
                .param(format!("0 {realname}"))
        };
        let gone = |away: bool| if away { "G" } else { "H" };
        let me_away = self.away().is_some();
        let mut out = Vec::new();
        let everyone = mask.is_empty() || mask.starts_with(['0', '*']);
        if everyone {
            out.push(row(
                &self.root_nick(),
                &self.root_mask(),
                "Waggle control bot",
                "*",
                "H".into(),
            ));
            out.push(row(
                &self.nick,
                &self.my_mask(),
                &self.realname,
                "*",
                gone(me_away).into(),
            ));
            let mut all: Vec<_> = self.contacts.values().collect();
            all.sort_by_key(|c| irc_lower(&c.nick));
            for c in all {
                let away = self.shown_state(c) != waggle_core::PresenceState::Online;
                out.push(row(
                    &c.nick,
                    &c.mask(),
                    c.display_name.as_deref().unwrap_or(&c.handle),
                    "*",
                    gone(away).into(),
                ));
            }
        } else if let Some(ch) = self.channel(&mask) {
            if ch.joined {
                let mine = self.my_modes_in(ch);
                out.push(row(
                    &self.nick,
                    &self.my_mask(),
                    &self.realname,
                    &ch.name,
                    format!(
                        "{}{}",
                        gone(me_away),
                        mine.chars().next().map(String::from).unwrap_or_default()
                    ),
                ));
                for m in ch.members.values() {
                    let away = self
                        .contact_by_nick(&m.nick)
                        .is_some_and(|c| self.shown_state(c) != waggle_core::PresenceState::Online);
                    let prefix: String = m.modes.chars().take(1).collect();
                    out.push(row(
                        &m.nick,
                        &m.mask,
                        &m.realname,
                        &ch.name,
                        format!("{}{prefix}", gone(away)),
                    ));
                }
            }
        } else if let Some(c) = self.contact_by_nick(&mask) {
            let away = self.shown_state(c) != waggle_core::PresenceState::Online;
            out.push(row(
                &c.nick,
                &c.mask(),
                c.display_name.as_deref().unwrap_or(&c.handle),
                &mask,
                gone(away).into(),
            ));
        } else if self.is_root(&mask) {
            out.push(row(
                &self.root_nick(),
                &self.root_mask(),
                "Waggle control bot",
                &mask,
                "H".into(),
            ));
        } else if irc_lower(&mask) == irc_lower(&self.nick) {
            out.push(row(
                &self.nick,
                &self.my_mask(),
                &self.realname,
                &mask,
                gone(me_away).into(),
            ));
        } else {
            out.push(self.numeric("403").param(&mask).param("No such channel"));
        }
        let end = if everyone { "**" } else { mask.as_str() };
        out.push(self.numeric("315").param(end).param("End of /WHO list"));
        for line in out {
            self.send(line);
        }
    }

    /// WHOWAS: nobody is remembered (BitlBee answers so that clients tell the user).
    pub(super) fn whowas(&mut self, input: &Input) {
        let nick = input.arg(0).to_string();
        let line = self
            .numeric("406")
            .param(&nick)
            .param("Nick does not exist");
        self.send(line);
        let line = self.numeric("369").param(&nick).param("End of WHOWAS");
        self.send(line);
    }

    /// WATCH +nick / -nick, as BitlBee: 604/605 now, 600/601 on changes, 602
    /// when a watch is dropped.
    pub(super) fn watch(&mut self, input: &Input) {
        let now = crate::user::state::unix_now().to_string();
        for item in input.params.iter().flat_map(|p| p.split_whitespace()) {
            let (sign, nick) = item.split_at(item.chars().next().map_or(0, char::len_utf8));
            if nick.is_empty() {
                break;
            }
            let key = irc_lower(nick);
            if sign == "+" {
                if self.watches.len() < crate::user::monitor::MONITOR_LIMIT {
                    self.watches.insert(key);
                }
                let line = match self.contact_by_nick(nick).filter(|c| c.is_online()) {
                    Some(c) => self
                        .numeric("604")
                        .param(&c.nick)
                        .param(&c.user)
                        .param(&c.host)
                        .param(&now)
                        .param("is online"),
                    None => self
                        .numeric("605")
                        .param(nick)
                        .param("*")
                        .param("*")
                        .param(&now)
                        .param("is offline"),
                };
                self.send(line);
            } else if sign == "-" && self.watches.remove(&key) {
                let line = self
                    .numeric("602")
                    .param(nick)
                    .param("*")
                    .param("*")
                    .param("0")
                    .param("Stopped watching");
                self.send(line);
            }
        }
    }

    pub(super) fn whois(&mut self, input: &Input) {
        let Some(nick) = input.params.last().cloned() else {
            self.send(self.numeric("431").param("No nickname given"));
            return;
        };
        let server = self.shared.config.name.clone();
        let mut out = Vec::new();
        if let Some(c) = self.contact_by_nick(&nick) {
            // As BitlBee: the account's login and server, then the protocol.
            let (login, protocol) = self
                .account_by_id(c.account)
                .map(|a| {
                    let server = a.rec.settings.get("server").cloned().unwrap_or_default();
                    (format!("{}.{server}", a.rec.handle), a.rec.protocol.clone())
                })
                .unwrap_or_default();
            out.push(
                self.numeric("311")
                    .param(&c.nick)
                    .param(&c.user)
                    .param(&c.host)
                    .param("*")
                    .param(c.display_name.as_deref().unwrap_or(&c.handle)),
            );
            out.push(self.numeric("312").param(&c.nick).param(login).param(
                match &c.presence.device {
                    Some(device) => format!("{protocol} network, resource {device}"),
                    None => format!("{protocol} network"),
                },
            ));
            if !c.is_online() {
                out.push(self.numeric("301").param(&c.nick).param("User is offline"));
            } else if let Some(text) = self.away_text(c) {
                out.push(self.numeric("301").param(&c.nick).param(text));
            } else if let Some(m) = &c.presence.message {
                out.push(self.numeric("320").param(&c.nick).param(m));
            }
            if let Some(since) = c.online_since.filter(|_| c.is_online()) {
                out.push(
                    self.numeric("317")
                        .param(&c.nick)
                        .param("0")
                        .param(since.to_string())
                        .param("seconds idle, signon time"),
                );
            }
        } else if self.is_root(&nick) {
            let root = self.root_nick();
            out.push(
                self.numeric("311")
                    .param(&root)
                    .param(&root)
                    .param(&server)
                    .param("*")
                    .param("Waggle control bot"),
            );
            out.push(
                self.numeric("312")
                    .param(&root)
                    .param(&server)
                    .param("Waggle IRC gateway"),
            );
        } else if irc_lower(&nick) == irc_lower(&self.nick) {
            out.push(
                self.numeric("311")
                    .param(&self.nick)
                    .param(&self.user)
                    .param(&self.host)
                    .param("*")
                    .param(&self.realname),
            );
            out.push(
                self.numeric("312")
                    .param(&self.nick)
                    .param(&server)
                    .param("Waggle IRC gateway"),
            );
            if let Some(a) = self.away() {
                out.push(self.numeric("301").param(&self.nick).param(a));
            }
            if self.bot {
                out.push(self.numeric("335").param(&self.nick).param("is a bot"));
            }
        } else {
            out.push(
                self.numeric("401")
                    .param(&nick)
                    .param("No such nick/channel"),
            );
        }
        out.push(self.numeric("318").param(&nick).param("End of /WHOIS list"));
        for line in out {
            self.send(line);
        }
    }

    pub(crate) fn present_nick(&self, nick: &str) -> Option<String> {
        if self.is_root(nick) {
            return Some(self.root_nick());
        }
        if irc_lower(nick) == irc_lower(&self.nick) {
            return Some(self.nick.clone());
        }
        self.contact_by_nick(nick)
            .filter(|c| c.is_online())
            .map(|c| c.nick.clone())
    }

    fn userhost(&self, nick: &str) -> Option<String> {
        if irc_lower(nick) == irc_lower(&self.nick) {
            let away = if self.away().is_some() { '-' } else { '+' };
            return Some(format!("{}={away}{}@{}", self.nick, self.user, self.host));
        }
        if self.is_root(nick) {
            return Some(format!(
                "{0}=+{0}@{1}",
                self.root_nick(),
                self.shared.config.name
            ));
        }
        let c = self.contact_by_nick(nick)?;
        let away = if c.presence.state == waggle_core::PresenceState::Online {
            '+'
        } else {
            '-'
        };
        Some(format!("{}={away}{}@{}", c.nick, c.user, c.host))
    }

    /// `/away`: the user's `away` setting (one state with `set away`, saved),
    /// answered with BitlBee's 305/306 on every client and told to every
    /// online account.
    pub(crate) async fn set_away(&mut self, text: Option<String>) {
        // As BitlBee: control characters are dropped (XMPP refuses them).
        let text = text
            .map(|t| t.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|t| !t.is_empty());
        let line = match &text {
            Some(t) => self.numeric("306").param(format!("You're now away: {t}")),
            None => self.numeric("305").param("Welcome back"),
        };
        self.put_setting("away", text.clone());
        self.save_setting("away", text.as_deref()).await;
        self.all(line);
        self.broadcast_presence();
    }

    pub(super) fn ison(&mut self, input: &Input) {
        let present: Vec<String> = input
            .params
            .iter()
            .flat_map(|p| p.split_whitespace())
            .filter_map(|n| self.present_nick(n))
            .collect();
        let line = self.numeric("303").param(present.join(" "));
        self.send(line);
    }

    pub(super) fn userhost_cmd(&mut self, input: &Input) {
        let replies: Vec<String> = input
            .params
            .iter()
            .flat_map(|p| p.split_whitespace())
            .take(5)
            .filter_map(|n| self.userhost(n))
            .collect();
        let line = self.numeric("302").param(replies.join(" "));
        self.send(line);
    }

    /// SETNAME: the user's real name, shown to every client that takes it.
    pub(super) fn setname(&mut self, input: &Input) {
        match input.params.first().filter(|r| !r.is_empty()) {
            Some(name) => {
                self.realname = name.chars().take(200).collect();
                let line = Line::new("SETNAME")
                    .prefix(self.my_mask())
                    .param(&self.realname);
                self.push(To::All, Out::Capable(Cap::Setname, line));
            }
            None => {
                let line = Line::new("FAIL")
                    .prefix(&self.shared.config.name)
                    .param("SETNAME")
                    .param("INVALID_REALNAME")
                    .param("Realname is not valid");
                self.send(line);
            }
        }
    }

    /// NICK: the user's nick changes on every client (also once identified,
    /// as in BitlBee).
    pub(super) fn nick_change(&mut self, input: &Input) {
        let Some(new) = input.params.first().filter(|n| !n.is_empty()).cloned() else {
            self.send(self.numeric("431").param("No nickname given"));
            return;
        };
        if !is_valid_nick(&new) {
            self.send(self.numeric("432").param(&new).param("Erroneous nickname"));
            return;
        }
        let lower = irc_lower(&new);
        if lower != irc_lower(&self.nick)
            && (self.nicks.contains_key(&lower) || lower == irc_lower(&self.root_nick()))
        {
            self.send(
                self.numeric("433")
                    .param(&new)
                    .param("Nickname is already in use"),
            );
            return;
        }
        let line = Line::new("NICK").prefix(self.my_mask()).param(&new);
        self.all(line);
        self.nick = new;
    }
}
