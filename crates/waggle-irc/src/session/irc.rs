//! IRC commands of a registered client: messages, channels, queries about users,
//! away, and the password prompt through OPER.

use irc_proto::Message;
use waggle_core::{Command, MessageKind};

use super::Session;
use super::accounts::SendError;
use super::state::Channel;
use crate::caps::{self, Cap};
use crate::input::Input;
use crate::line::Line;
use crate::nick::{irc_lower, is_valid_channel, is_valid_nick};

impl Session {
    pub(crate) async fn handle_irc(&mut self, msg: Message) {
        let input = Input::from_message(&msg);
        tracing::trace!(verb = %input.verb, "<-");
        match input.verb.as_str() {
            "PRIVMSG" | "NOTICE" => self.privmsg(&input).await,
            "TAGMSG" => self.tagmsg(&input),
            "JOIN" => self.join(&input).await,
            "PART" => self.part(&input).await,
            "NAMES" => {
                for name in input.arg(0).split(',').filter(|n| !n.is_empty()) {
                    match self.channel(name) {
                        Some(ch) if ch.joined => self.send_names(name),
                        _ => self.send(self.numeric("366").param(name).param("End of /NAMES list")),
                    }
                }
            }
            "TOPIC" => self.topic(&input).await,
            "MODE" => self.mode(&input),
            "WHO" => self.who(&input),
            "WHOIS" => self.whois(&input),
            "ISON" => {
                let present: Vec<String> = input
                    .params
                    .iter()
                    .flat_map(|p| p.split_whitespace())
                    .filter_map(|n| self.present_nick(n))
                    .collect();
                self.send(self.numeric("303").param(present.join(" ")));
            }
            "USERHOST" => {
                let replies: Vec<String> = input
                    .params
                    .iter()
                    .flat_map(|p| p.split_whitespace())
                    .take(5)
                    .filter_map(|n| self.userhost(n))
                    .collect();
                self.send(self.numeric("302").param(replies.join(" ")));
            }
            "AWAY" => {
                self.set_away(input.params.first().filter(|t| !t.is_empty()).cloned())
                    .await
            }
            "INVITE" => self.invite(&input),
            "KICK" => self.kick(&input),
            "LIST" => self.list(&input),
            "OPER" => {
                if input.params.len() < 2 {
                    self.send(
                        self.numeric("461")
                            .param("OPER")
                            .param("Not enough parameters"),
                    );
                } else {
                    self.oper_password(input.params[1].clone()).await;
                }
            }
            "NICK" => self.nick_change(&input),
            "NICKSERV" | "NS" => {
                let words = crate::root::split_words(&input.params.join(" "));
                if let Some(first) = words.first()
                    && (first.eq_ignore_ascii_case("identify")
                        || first.eq_ignore_ascii_case("register")
                        || first.eq_ignore_ascii_case("drop"))
                {
                    crate::root::run_line(self, &words).await;
                    return;
                }
                self.root_say("NickServ understands identify, register and drop here.");
            }
            "MOTD" => self.motd(),
            "HELP" | "HELPOP" => self.irc_help(&input.params),
            "MONITOR" => self.monitor(&input),
            "VERSION" => {
                self.send(
                    self.numeric("351")
                        .param(format!("Waggle-{}", env!("CARGO_PKG_VERSION")))
                        .param(&self.shared.config.name)
                        .param("Waggle IRC gateway"),
                );
            }
            "TIME" => {
                let now = time::OffsetDateTime::now_utc();
                let fmt = time::macros::format_description!(
                    "[weekday] [month repr:long] [day] [year] -- [hour]:[minute]:[second] +00:00"
                );
                let text = now.format(&fmt).unwrap_or_default();
                self.send(
                    self.numeric("391")
                        .param(&self.shared.config.name)
                        .param(text),
                );
            }
            "CAP" => self.cap(&input),
            "SETNAME" => match input.params.first().filter(|r| !r.is_empty()) {
                Some(name) => {
                    self.realname = name.chars().take(200).collect();
                    if self.caps.has(Cap::Setname) {
                        self.send(
                            Line::new("SETNAME")
                                .prefix(self.my_mask())
                                .param(&self.realname),
                        );
                    }
                }
                None => self.send(
                    Line::new("FAIL")
                        .prefix(&self.shared.config.name)
                        .param("SETNAME")
                        .param("INVALID_REALNAME")
                        .param("Realname is not valid"),
                ),
            },
            "USER" | "PASS" => self.send(self.numeric("462").param("You may not reregister")),
            "PING" => self.send(crate::line::ping_reply(
                &self.shared.config.name,
                &self.nick,
                input.params.first(),
            )),
            "PONG" | "QUIT" | "AUTHENTICATE" => {}
            "WALLOPS" => self.send(
                self.numeric("481")
                    .param("Permission Denied- You're not an IRC operator"),
            ),
            _ => {
                self.send(
                    self.numeric("421")
                        .param(&input.verb)
                        .param("Unknown command"),
                );
            }
        }
    }

    /// HELP/HELPOP: IRC commands, then root's help subjects (704/705/706, 524).
    fn irc_help(&self, args: &[String]) {
        let subject = args.join(" ");
        let text = if subject.is_empty() {
            Some(IRC_HELP_INDEX.to_string())
        } else {
            IRC_HELP
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(&subject))
                .map(|(_, t)| t.to_string())
                .or_else(|| {
                    crate::root::help::text(
                        &crate::root::split_words(&subject),
                        &self.shared.protocols,
                    )
                })
        };
        let shown = if subject.is_empty() {
            "*".to_string()
        } else {
            subject.clone()
        };
        let Some(text) = text else {
            self.send(
                self.numeric("524")
                    .param(&shown)
                    .param("No help available on this topic"),
            );
            return;
        };
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or_default();
        self.send(self.numeric("704").param(&shown).param(first));
        for l in lines {
            self.send(
                self.numeric("705")
                    .param(&shown)
                    .param(if l.is_empty() { " " } else { l }),
            );
        }
        self.send(self.numeric("706").param(&shown).param("End of /HELP"));
    }

    fn cap(&mut self, input: &Input) {
        let name = self.shared.config.name.clone();
        match input.arg(0).to_ascii_uppercase().as_str() {
            "LS" => self.send(
                Line::new("CAP")
                    .prefix(name)
                    .param(&self.nick)
                    .param("LS")
                    .param(caps::ls_list(self.cap_302)),
            ),
            "LIST" => self.send(
                Line::new("CAP")
                    .prefix(name)
                    .param(&self.nick)
                    .param("LIST")
                    .param(self.caps.names()),
            ),
            "REQ" => {
                let req = input.arg(1).to_string();
                match caps::apply_req(self.caps, &req) {
                    Some(next) => {
                        self.caps = next;
                        self.send(
                            Line::new("CAP")
                                .prefix(name)
                                .param(&self.nick)
                                .param("ACK")
                                .param(req),
                        );
                    }
                    None => self.send(
                        Line::new("CAP")
                            .prefix(name)
                            .param(&self.nick)
                            .param("NAK")
                            .param(req),
                    ),
                }
            }
            "END" => {}
            other => self.send(
                self.numeric("410")
                    .param(other)
                    .param("Invalid CAP command"),
            ),
        }
    }

    async fn privmsg(&mut self, input: &Input) {
        let notice = input.verb == "NOTICE";
        let Some(target) = input.params.first().filter(|t| !t.is_empty()).cloned() else {
            if !notice {
                self.send(
                    self.numeric("411")
                        .param(format!("No recipient given ({})", input.verb)),
                );
            }
            return;
        };
        let Some(text) = input.params.get(1).filter(|t| !t.is_empty()).cloned() else {
            if !notice {
                self.send(self.numeric("412").param("No text to send"));
            }
            return;
        };
        let (kind, body, ctcp) = parse_ctcp(&text, notice);
        if self.caps.has(Cap::EchoMessage) {
            self.send(
                Line::new(&input.verb)
                    .prefix(self.my_mask())
                    .param(&target)
                    .param(&text),
            );
        }
        if self.is_root(&target) || target.eq_ignore_ascii_case("nickserv") {
            if let Some((verb, arg)) = ctcp {
                self.root_ctcp(&verb, &arg);
            } else if !notice {
                self.root_command_line(&body).await;
            }
            return;
        }
        if irc_lower(&target) == irc_lower(&self.nick) {
            // To oneself: delivered like any message (and echoed above when asked).
            self.send_unlabeled(
                Line::new(&input.verb)
                    .prefix(self.my_mask())
                    .param(&target)
                    .param(&text),
            );
            return;
        }
        if target.starts_with('#') || target.starts_with('&') {
            let Some(ch) = self.channel(&target).cloned() else {
                if !notice {
                    self.send(self.numeric("403").param(&target).param("No such channel"));
                }
                return;
            };
            if !ch.joined {
                if !notice {
                    self.send(
                        self.numeric("404")
                            .param(&target)
                            .param("Cannot send to channel"),
                    );
                }
                return;
            }
            if ch.is_chat() {
                let Some((account, room)) = ch.room.clone() else {
                    return;
                };
                if let Err(e) = self.send_command(
                    account,
                    Command::SendRoomMessage {
                        room,
                        body,
                        kind,
                        id: None,
                    },
                ) {
                    self.send_failed(&target, e);
                }
                return;
            }
            self.control_channel_message(&ch, &body, kind).await;
            return;
        }

        let Some(contact) = self.contact_by_nick(&target).cloned() else {
            if !notice {
                self.send(
                    self.numeric("401")
                        .param(&target)
                        .param("No such nick/channel"),
                );
            }
            return;
        };
        if let Some((verb, arg)) = ctcp {
            if verb != "TYPING" {
                // HELP and the protocol's contact actions (Skype's CALL/HANGUP).
                self.contact_ctcp(&contact, &verb, &arg);
                return;
            }
            if self.flag("typing_notice") {
                let state = match arg.trim() {
                    "1" => waggle_core::TypingState::Active,
                    "2" => waggle_core::TypingState::Paused,
                    _ => waggle_core::TypingState::Done,
                };
                let _ = self.send_command(
                    contact.account,
                    Command::SendTyping {
                        to: contact.handle,
                        state,
                    },
                );
            }
            return;
        }
        if let Some(c) = self
            .contacts
            .get_mut(&(contact.account, contact.handle.clone()))
        {
            c.last_channel = None;
        }
        self.queue_message(
            contact.account,
            contact.handle.clone(),
            target.clone(),
            body,
            kind,
        );
    }

    pub(crate) fn send_failed(&self, target: &str, e: SendError) {
        let why = match e {
            SendError::Offline => "Cannot send: the account is not online",
            SendError::NoAccount => "Cannot send: no such account",
            SendError::Unsupported => "Cannot send: not supported by this protocol",
        };
        self.send(self.numeric("404").param(target).param(why));
    }

    async fn control_channel_message(&mut self, ch: &Channel, body: &str, kind: MessageKind) {
        // "nick: text" or "nick, text" addresses someone; otherwise default_target decides.
        let addressed = body.split_once([':', ',']).and_then(|(n, rest)| {
            let n = n.trim();
            (!n.is_empty() && !n.contains(' '))
                .then(|| (n.to_string(), rest.trim_start().to_string()))
        });
        if let Some((nick, rest)) = &addressed {
            if self.is_root(nick) {
                self.root_command_line(rest).await;
                return;
            }
            if let Some(c) = self.contact_by_nick(nick).cloned() {
                self.last_target = Some(c.nick.clone());
                if let Some(e) = self.contacts.get_mut(&(c.account, c.handle.clone())) {
                    e.last_channel = Some(ch.name.clone());
                }
                self.queue_message(c.account, c.handle, c.nick, rest.clone(), kind);
                return;
            }
        }
        if self.setting("default_target") == Some("last")
            && let Some(c) = self
                .last_target
                .clone()
                .and_then(|n| self.contact_by_nick(&n).cloned())
        {
            if let Some(e) = self.contacts.get_mut(&(c.account, c.handle.clone())) {
                e.last_channel = Some(ch.name.clone());
            }
            self.queue_message(c.account, c.handle, c.nick, body.to_string(), kind);
            return;
        }
        if kind == MessageKind::Normal {
            self.root_command_line(body).await;
        }
    }

    async fn root_command_line(&mut self, text: &str) {
        let words = crate::root::split_words(text);
        if !words.is_empty() {
            crate::root::run_line(self, &words).await;
        }
    }

    fn root_ctcp(&self, verb: &str, arg: &str) {
        let mask = self.root_mask();
        let reply = match verb {
            "VERSION" => format!("\x01VERSION Waggle {}\x01", env!("CARGO_PKG_VERSION")),
            "PING" => format!("\x01PING {arg}\x01"),
            "TIME" => format!("\x01TIME {}\x01", time::OffsetDateTime::now_utc()),
            "CLIENTINFO" => "\x01CLIENTINFO ACTION PING TIME VERSION CLIENTINFO\x01".into(),
            _ => return,
        };
        self.send(
            Line::new("NOTICE")
                .prefix(mask)
                .param(&self.nick)
                .param(reply),
        );
    }

    fn tagmsg(&mut self, input: &Input) {
        let Some(target) = input.params.first().cloned() else {
            self.send(
                self.numeric("461")
                    .param("TAGMSG")
                    .param("Not enough parameters"),
            );
            return;
        };
        if self.caps.has(Cap::MessageTags) {
            // Only client-only tags (+name) travel with a TAGMSG.
            let tagged = |mut line: Line| {
                for (k, v) in input.tags.iter().filter(|(k, _)| k.starts_with('+')) {
                    line = line.tag(k.clone(), v.clone().unwrap_or_default());
                }
                line
            };
            if self.caps.has(Cap::EchoMessage) {
                self.send(tagged(
                    Line::new("TAGMSG").prefix(self.my_mask()).param(&target),
                ));
            }
            if irc_lower(&target) == irc_lower(&self.nick) {
                self.send_unlabeled(tagged(
                    Line::new("TAGMSG").prefix(self.my_mask()).param(&target),
                ));
                return;
            }
        }
        let Some(state) = input.tag("+typing") else {
            return;
        };
        if !self.flag("typing_notice") {
            return;
        }
        let state = match state {
            "active" => waggle_core::TypingState::Active,
            "paused" => waggle_core::TypingState::Paused,
            _ => waggle_core::TypingState::Done,
        };
        if let Some(c) = self.contact_by_nick(input.arg(0)).cloned() {
            let _ = self.send_command(
                c.account,
                Command::SendTyping {
                    to: c.handle,
                    state,
                },
            );
        }
    }

    async fn join(&mut self, input: &Input) {
        let Some(list) = input.params.first() else {
            self.send(
                self.numeric("461")
                    .param("JOIN")
                    .param("Not enough parameters"),
            );
            return;
        };
        if list == "0" {
            let joined: Vec<String> = self
                .channels
                .iter()
                .filter(|c| c.joined)
                .map(|c| c.name.clone())
                .collect();
            for name in joined {
                self.part_channel(&name, None).await;
            }
            return;
        }
        let keys: Vec<&str> = input.arg(1).split(',').collect();
        for (i, name) in list.split(',').enumerate() {
            if name.is_empty() {
                continue;
            }
            if !is_valid_channel(name) {
                self.send(self.numeric("403").param(name).param("No such channel"));
                continue;
            }
            if self.channel(name).is_none() {
                let mut ch = Channel::new(name);
                ch.settings.insert("type".into(), "control".into());
                self.guess_fill_by(&mut ch);
                self.channels.push(ch);
                self.save_channel(name).await;
            }
            if let Some(key) = keys.get(i).filter(|k| !k.is_empty())
                && let Some(ch) = self.channel_mut(name)
                && ch.is_chat()
                && ch.setting("password").is_none()
            {
                ch.settings.insert("password".into(), key.to_string());
            }
            self.join_channel(name).await;
        }
    }

    async fn part(&mut self, input: &Input) {
        let Some(list) = input.params.first() else {
            self.send(
                self.numeric("461")
                    .param("PART")
                    .param("Not enough parameters"),
            );
            return;
        };
        let reason = input.params.get(1).cloned();
        for name in list.split(',').filter(|n| !n.is_empty()) {
            match self.channel(name) {
                None => self.send(self.numeric("403").param(name).param("No such channel")),
                Some(ch) if !ch.joined => self.send(
                    self.numeric("442")
                        .param(name)
                        .param("You're not on that channel"),
                ),
                Some(_) => self.part_channel(name, reason.as_deref()).await,
            }
        }
    }

    pub(crate) async fn part_channel(&mut self, name: &str, reason: Option<&str>) {
        let Some(ch) = self.channel(name).cloned() else {
            return;
        };
        if let Some((account, room)) = ch.room.clone() {
            let _ = self.send_command(account, Command::LeaveRoom { room });
        }
        let l = Line::new("PART").prefix(self.my_mask()).param(&ch.name);
        self.send(match reason {
            Some(r) => l.param(r),
            None => l,
        });
        if let Some(c) = self.channel_mut(name) {
            c.joined = false;
            c.room = None;
            c.members.clear();
        }
    }

    async fn topic(&mut self, input: &Input) {
        let Some(name) = input.params.first().cloned() else {
            self.send(
                self.numeric("461")
                    .param("TOPIC")
                    .param("Not enough parameters"),
            );
            return;
        };
        let Some(ch) = self.channel(&name).cloned() else {
            self.send(self.numeric("403").param(&name).param("No such channel"));
            return;
        };
        let Some(text) = input.params.get(1).cloned() else {
            self.send_topic(&name, true);
            return;
        };
        if !ch.joined {
            self.send(
                self.numeric("442")
                    .param(&name)
                    .param("You're not on that channel"),
            );
            return;
        }
        match ch.room {
            Some((account, room)) => {
                if let Err(e) = self.send_command(account, Command::SetTopic { room, topic: text })
                {
                    self.send_failed(&name, e);
                }
            }
            None => {
                let me = self.nick.clone();
                if let Some(c) = self.channel_mut(&name) {
                    c.topic = Some(text.clone());
                    c.topic_by = Some(me);
                }
                self.send(
                    Line::new("TOPIC")
                        .prefix(self.my_mask())
                        .param(&name)
                        .param(text),
                );
            }
        }
    }

    fn mode(&mut self, input: &Input) {
        let Some(target) = input.params.first().cloned() else {
            self.send(
                self.numeric("461")
                    .param("MODE")
                    .param("Not enough parameters"),
            );
            return;
        };
        if target.starts_with('#') || target.starts_with('&') {
            let Some(ch) = self.channel(&target) else {
                self.send(self.numeric("403").param(&target).param("No such channel"));
                return;
            };
            match input.params.get(1).map(String::as_str) {
                None => {
                    self.send(self.numeric("324").param(&ch.name).param("+t"));
                    self.send(self.numeric("329").param(&ch.name).param("0"));
                }
                Some("b" | "+b") => self.send(
                    self.numeric("368")
                        .param(&ch.name)
                        .param("End of channel ban list"),
                ),
                Some(_) => self.send(
                    self.numeric("482")
                        .param(&ch.name)
                        .param("You're not channel operator"),
                ),
            }
            return;
        }
        if irc_lower(&target) != irc_lower(&self.nick) {
            if self.present_nick(&target).is_some() {
                self.send(
                    self.numeric("502")
                        .param("Can't change mode for other users"),
                );
            } else {
                self.send(
                    self.numeric("401")
                        .param(&target)
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
            self.send(self.numeric("221").param(modes));
            return;
        };
        // Only +B (bot) is the user's to change; R follows identification.
        let mut adding = true;
        let mut applied = String::new();
        let mut last_sign = ' ';
        for c in change.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'B' if self.bot != adding => {
                    self.bot = adding;
                    let sign = if adding { '+' } else { '-' };
                    if sign != last_sign {
                        applied.push(sign);
                        last_sign = sign;
                    }
                    applied.push('B');
                }
                'B' | 'R' | 'i' | 'w' | 's' => {}
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

    fn who(&self, input: &Input) {
        let mask = input.arg(0).to_string();
        let server = self.shared.config.name.clone();
        let row = |nick: &str, full: &str, realname: &str, channel: &str, here: &str| {
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
        if let Some(ch) = self.channel(&mask) {
            if ch.joined {
                self.send(row(
                    &self.nick,
                    &self.my_mask(),
                    &self.realname,
                    &ch.name,
                    if self.away.is_some() { "G" } else { "H" },
                ));
                for m in ch.members.values() {
                    let here = match self.contact_by_nick(&m.nick) {
                        Some(c) if c.presence.state == waggle_core::PresenceState::Away => "G",
                        _ => "H",
                    };
                    self.send(row(&m.nick, &m.mask, &m.realname, &ch.name, here));
                }
            }
        } else if let Some(c) = self.contact_by_nick(&mask) {
            self.send(row(
                &c.nick,
                &c.mask(),
                c.display_name.as_deref().unwrap_or(&c.handle),
                "*",
                "H",
            ));
        } else if self.is_root(&mask) {
            self.send(row(
                &self.root_nick(),
                &self.root_mask(),
                "Waggle control bot",
                "*",
                "H",
            ));
        } else if irc_lower(&mask) == irc_lower(&self.nick) {
            self.send(row(&self.nick, &self.my_mask(), &self.realname, "*", "H"));
        }
        self.send(self.numeric("315").param(&mask).param("End of /WHO list"));
    }

    fn whois(&self, input: &Input) {
        let Some(nick) = input.params.last().cloned() else {
            self.send(self.numeric("431").param("No nickname given"));
            return;
        };
        let server = self.shared.config.name.clone();
        if let Some(c) = self.contact_by_nick(&nick) {
            let tag = self
                .account_by_id(c.account)
                .map(|a| a.rec.tag.clone())
                .unwrap_or_default();
            self.send(
                self.numeric("311")
                    .param(&c.nick)
                    .param(&c.user)
                    .param(&c.host)
                    .param("*")
                    .param(c.display_name.as_deref().unwrap_or(&c.handle)),
            );
            self.send(self.numeric("312").param(&c.nick).param(&server).param(
                match &c.presence.device {
                    Some(device) => format!("{tag} network, resource {device}"),
                    None => format!("{tag} network"),
                },
            ));
            match c.presence.state {
                waggle_core::PresenceState::Offline => {
                    self.send(self.numeric("301").param(&c.nick).param("User is offline"));
                }
                waggle_core::PresenceState::Away => {
                    let what = c.presence.show.clone().unwrap_or_else(|| "Away".into());
                    let text = match &c.presence.message {
                        Some(m) => format!("{what} ({m})"),
                        None => what,
                    };
                    self.send(self.numeric("301").param(&c.nick).param(text));
                }
                waggle_core::PresenceState::Online => {
                    if let Some(m) = &c.presence.message {
                        self.send(self.numeric("320").param(&c.nick).param(m));
                    }
                }
            }
        } else if self.is_root(&nick) {
            let root = self.root_nick();
            self.send(
                self.numeric("311")
                    .param(&root)
                    .param(&root)
                    .param(&server)
                    .param("*")
                    .param("Waggle control bot"),
            );
            self.send(
                self.numeric("312")
                    .param(&root)
                    .param(&server)
                    .param("Waggle IRC gateway"),
            );
        } else if irc_lower(&nick) == irc_lower(&self.nick) {
            self.send(
                self.numeric("311")
                    .param(&self.nick)
                    .param(&self.user)
                    .param(&self.host)
                    .param("*")
                    .param(&self.realname),
            );
            self.send(
                self.numeric("312")
                    .param(&self.nick)
                    .param(&server)
                    .param("Waggle IRC gateway"),
            );
            if let Some(a) = &self.away {
                self.send(self.numeric("301").param(&self.nick).param(a));
            }
            if self.bot {
                self.send(self.numeric("335").param(&self.nick).param("is a bot"));
            }
        } else {
            self.send(
                self.numeric("401")
                    .param(&nick)
                    .param("No such nick/channel"),
            );
        }
        self.send(self.numeric("318").param(&nick).param("End of /WHOIS list"));
    }

    fn present_nick(&self, nick: &str) -> Option<String> {
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
            let away = if self.away.is_some() { '-' } else { '+' };
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

    pub(crate) async fn set_away(&mut self, text: Option<String>) {
        self.away = text.clone();
        match &text {
            Some(_) => self.send(
                self.numeric("306")
                    .param("You have been marked as being away"),
            ),
            None => self.send(
                self.numeric("305")
                    .param("You are no longer marked as being away"),
            ),
        }
        self.broadcast_presence();
    }

    /// Tell every online account our presence (away text, else status).
    pub(crate) fn broadcast_presence(&self) {
        for a in &self.accounts {
            self.announce_presence(a.id, true);
        }
    }

    /// Tell one account our presence: its own away/status settings win over the
    /// global ones, and /away wins over `set away`.
    pub(crate) fn announce_presence(&self, id: waggle_core::AccountId, always: bool) {
        let Some(a) = self.account_by_id(id) else {
            return;
        };
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let away = nonempty(self.away.clone())
            .or_else(|| nonempty(a.rec.settings.get("away").cloned()))
            .or_else(|| nonempty(self.setting("away").map(str::to_string)));
        let status = nonempty(a.rec.settings.get("status").cloned())
            .or_else(|| nonempty(self.setting("status").map(str::to_string)));
        if !always && away.is_none() && status.is_none() {
            return; // a fresh login is already "available" with no status
        }
        let _ = self.send_command(id, Command::SetPresence { away, status });
    }

    fn invite(&mut self, input: &Input) {
        if input.params.len() < 2 {
            self.send(
                self.numeric("461")
                    .param("INVITE")
                    .param("Not enough parameters"),
            );
            return;
        }
        let (nick, chan) = (input.params[0].clone(), input.params[1].clone());
        let Some(ch) = self.channel(&chan).cloned() else {
            self.send(self.numeric("403").param(&chan).param("No such channel"));
            return;
        };
        let Some(c) = self.contact_by_nick(&nick).cloned() else {
            self.send(
                self.numeric("401")
                    .param(&nick)
                    .param("No such nick/channel"),
            );
            return;
        };
        match ch.room {
            Some((account, room)) => match self.send_command(
                account,
                Command::InviteToRoom {
                    room,
                    handle: c.handle,
                },
            ) {
                Ok(()) => self.send(self.numeric("341").param(&c.nick).param(&ch.name)),
                Err(e) => self.send_failed(&chan, e),
            },
            None if !ch.is_chat() && ch.setting("fill_by") == Some("group") => {
                self.invite_to_group(&ch, &c)
            }
            None => self.send(
                self.numeric("482")
                    .param(&chan)
                    .param("Invitations only work in chat channels"),
            ),
        }
    }

    fn kick(&mut self, input: &Input) {
        if input.params.len() < 2 {
            self.send(
                self.numeric("461")
                    .param("KICK")
                    .param("Not enough parameters"),
            );
            return;
        }
        let (chan, nick) = (input.params[0].clone(), input.params[1].clone());
        let Some(ch) = self.channel(&chan).cloned() else {
            self.send(self.numeric("403").param(&chan).param("No such channel"));
            return;
        };
        let Some(member) = ch.members.get(&irc_lower(&nick)).cloned() else {
            self.send(
                self.numeric("441")
                    .param(&nick)
                    .param(&chan)
                    .param("They aren't on that channel"),
            );
            return;
        };
        match ch.room {
            Some((account, room)) => {
                let room_nick = member
                    .room_nick
                    .clone()
                    .unwrap_or_else(|| member.nick.clone());
                let cmd = Command::KickFromRoom {
                    room,
                    nick: room_nick,
                    reason: input.params.get(2).cloned(),
                };
                if let Err(e) = self.send_command(account, cmd) {
                    self.send_failed(&chan, e);
                }
            }
            None => self.send(
                self.numeric("482")
                    .param(&chan)
                    .param("You're not channel operator"),
            ),
        }
    }

    fn list(&self, input: &Input) {
        self.send(self.numeric("321").param("Channel").param("Users  Name"));
        let filter: Vec<String> = input
            .arg(0)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(irc_lower)
            .collect();
        for ch in &self.channels {
            if !filter.is_empty() && !filter.contains(&irc_lower(&ch.name)) {
                continue;
            }
            let users = ch.members.len() + usize::from(ch.joined);
            self.send(
                self.numeric("322")
                    .param(&ch.name)
                    .param(users.to_string())
                    .param(ch.topic.clone().unwrap_or_default()),
            );
        }
        self.send(self.numeric("323").param("End of /LIST"));
    }

    fn nick_change(&mut self, input: &Input) {
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
        if self.login.is_some() && lower != irc_lower(&self.nick) {
            self.send(
                self.numeric("484")
                    .param("You are identified; your nick is your login name here"),
            );
            return;
        }
        self.send(Line::new("NICK").prefix(self.my_mask()).param(&new));
        self.nick = new;
    }

    async fn oper_password(&mut self, password: String) {
        let Some(prompt) = self.prompt.take() else {
            self.send(
                self.numeric("491")
                    .param("No password was asked for (OPER only answers root's password prompts)"),
            );
            return;
        };
        match prompt {
            super::state::Prompt::Identify { load, force } => {
                let flag = if !load {
                    "-noload"
                } else if force {
                    "-force"
                } else {
                    ""
                };
                let mut words = vec!["identify".to_string()];
                if !flag.is_empty() {
                    words.push(flag.to_string());
                }
                words.push(password);
                crate::root::run_line(self, &words).await;
            }
            super::state::Prompt::Register => {
                crate::root::run_line(self, &["register".to_string(), password]).await;
            }
            super::state::Prompt::AccountPassword(id) => {
                if let Some(a) = self.account_mut(id) {
                    a.rec.password = Some(waggle_core::Secret(password));
                }
                self.save_account(id).await;
                self.root_say("Password set");
            }
        }
    }
}

const IRC_HELP_INDEX: &str = "Waggle is an IRC gateway: root in &bitlbee takes its commands (/msg root help).\n\
IRC commands: AWAY CAP HELP INVITE ISON JOIN KICK LIST MODE MOTD NAMES NICK NOTICE OPER PART PING PRIVMSG QUIT TAGMSG TIME TOPIC USERHOST VERSION WHO WHOIS";

const IRC_HELP: &[(&str, &str)] = &[
    (
        "AWAY",
        "AWAY [<text>]: mark yourself away on every IM account, or back without text.",
    ),
    (
        "INVITE",
        "INVITE <nick> <channel>: invite a contact into a chat channel.",
    ),
    ("ISON", "ISON <nick> ...: which of these nicks are online."),
    (
        "JOIN",
        "JOIN <channel>[,<channel>] [<key>]: join a control channel or a chat added with chat add.",
    ),
    (
        "KICK",
        "KICK <channel> <nick> [<reason>]: remove someone from a chat where you moderate.",
    ),
    ("LIST", "LIST [<channel>]: list your channels."),
    ("MODE", "MODE <nick|channel> [<modes>]: show modes."),
    ("NAMES", "NAMES <channel>: who is in a channel."),
    (
        "NICK",
        "NICK <nick>: change your nick (before you identify).",
    ),
    ("NOTICE", "NOTICE <target> <text>: send a notice."),
    (
        "OPER",
        "OPER <anything> <password>: answer root's password prompt without the password showing in a log.",
    ),
    (
        "PART",
        "PART <channel> [<reason>]: leave a channel (and its chat room).",
    ),
    (
        "PRIVMSG",
        "PRIVMSG <nick|channel> <text>: talk to a contact, a chat, or root (commands).",
    ),
    (
        "TOPIC",
        "TOPIC <channel> [<topic>]: show or change a channel's topic.",
    ),
    ("WHO", "WHO <channel|nick>: list users."),
    (
        "WHOIS",
        "WHOIS <nick>: a contact's handle, account and status.",
    ),
];

/// Split CTCP: returns the message kind, the text, and (verb, argument) for CTCPs other than ACTION.
fn parse_ctcp(text: &str, notice: bool) -> (MessageKind, String, Option<(String, String)>) {
    let base = if notice {
        MessageKind::Notice
    } else {
        MessageKind::Normal
    };
    let Some(inner) = text.strip_prefix('\x01') else {
        return (base, text.to_string(), None);
    };
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (verb, arg) = inner.split_once(' ').unwrap_or((inner, ""));
    let verb = verb.to_ascii_uppercase();
    if verb == "ACTION" {
        return (MessageKind::Action, arg.to_string(), None);
    }
    (base, inner.to_string(), Some((verb, arg.to_string())))
}
