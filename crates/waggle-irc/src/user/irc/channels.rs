//! JOIN, PART, TOPIC, NAMES, LIST, INVITE, KICK and channel MODE. Channels are
//! the user's: joining, leaving and topics show on every attached client.

use waggle_core::Command;

use crate::input::Input;
use crate::line::Line;
use crate::nick::{irc_lower, is_valid_channel};
use crate::outbox::To;
use crate::user::Cx;
use crate::user::settings::FillBy;
use crate::user::state::Channel;

impl Cx<'_> {
    pub(super) async fn join(&mut self, input: &Input) {
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
                if let Some(why) = self.channel_limit_reached(!name.starts_with('&')) {
                    self.send(self.numeric("405").param(name).param(why));
                    continue;
                }
                // As in BitlBee: a new &channel is a control channel (filled by
                // the account, protocol or group it is named after), a new
                // #channel a chat channel not bound to a room yet (/invite a
                // contact to start a group chat there).
                let mut ch = Channel::new(name);
                if name.starts_with('&') {
                    ch.set("type", Some("control".into()));
                    self.guess_fill_by(&mut ch);
                } else {
                    ch.set("type", Some("chat".into()));
                }
                self.channels.push(ch);
                self.save_channel(name).await;
            }
            if let Some(key) = keys.get(i).filter(|k| !k.is_empty())
                && let Some(ch) = self.channel_mut(name)
                && ch.is_chat()
                && ch.cfg.password.is_none()
            {
                ch.set("password", Some(key.to_string()));
            }
            self.join_channel(name).await;
        }
    }

    pub(super) async fn part(&mut self, input: &Input) {
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
        // As BitlBee: the channel an invitation made goes with the PART.
        if ch.temporary {
            let lower = irc_lower(name);
            self.channels.retain(|c| irc_lower(&c.name) != lower);
        }
    }

    pub(super) async fn topic(&mut self, input: &Input) {
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

    pub(super) fn mode(&mut self, input: &Input) {
        let Some(target) = input.params.first().cloned() else {
            self.send(
                self.numeric("461")
                    .param("MODE")
                    .param("Not enough parameters"),
            );
            return;
        };
        if target.starts_with('#') || target.starts_with('&') {
            let Some(ch) = self.channel(&target).cloned() else {
                self.send(self.numeric("403").param(&target).param("No such channel"));
                return;
            };
            match input.params.get(1).map(String::as_str) {
                None => {
                    // As BitlBee: control channels also have +C (no CTCPs).
                    let flags = if ch.is_chat() {
                        ch.flags.clone()
                    } else {
                        format!("C{}", ch.flags)
                    };
                    self.send(
                        self.numeric("324")
                            .param(&ch.name)
                            .param(format!("+{flags}")),
                    );
                    self.send(
                        self.numeric("329")
                            .param(&ch.name)
                            .param(ch.created.to_string()),
                    );
                }
                Some(change) => {
                    self.channel_mode(&ch, change, input.params.get(2..).unwrap_or_default())
                }
            }
            return;
        }
        self.user_mode(&target, input);
    }

    /// A channel mode change. List queries (b, e, I) get their list ends;
    /// the flags imnpst are the channel's (kept and shown); o/h/v set what a
    /// member is shown with in a control channel. An op is never told 482.
    fn channel_mode(&mut self, ch: &Channel, change: &str, args: &[String]) {
        let mut args = args.iter();
        let mut adding = true;
        let mut applied = String::new();
        let mut applied_args = Vec::new();
        let mut sign = ' ';
        let mut is_op = None;
        for c in change.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'b' | 'e' | 'I' if args.len() == 0 => {
                    let (code, text) = match c {
                        'b' => ("368", "End of channel ban list"),
                        'e' => ("349", "End of channel exception list"),
                        _ => ("347", "End of channel invite list"),
                    };
                    let line = self.numeric(code).param(&ch.name).param(text);
                    self.send(line);
                }
                'i' | 'm' | 'n' | 'p' | 's' | 't' | 'o' | 'h' | 'v' | 'b' | 'e' | 'I' => {
                    let op = *is_op.get_or_insert_with(|| self.is_chanop(ch));
                    if !op {
                        let line = self
                            .numeric("482")
                            .param(&ch.name)
                            .param("You're not channel operator");
                        return self.send(line);
                    }
                    let done = match c {
                        'o' | 'h' | 'v' => {
                            let Some(nick) = args.next() else {
                                return self.need_more_params("MODE");
                            };
                            match self.member_mode(&ch.name, nick, c, adding) {
                                Ok(true) => {
                                    applied_args.push(nick.clone());
                                    true
                                }
                                Ok(false) => false,
                                Err(line) => return self.send(line),
                            }
                        }
                        'b' | 'e' | 'I' => {
                            args.next();
                            let line = self
                                .numeric("472")
                                .param(c.to_string())
                                .param("is not a mode one can set on this gateway");
                            self.send(line);
                            false
                        }
                        flag => self.set_flag(&ch.name, flag, adding),
                    };
                    if done {
                        let want = if adding { '+' } else { '-' };
                        if want != sign {
                            applied.push(want);
                            sign = want;
                        }
                        applied.push(c);
                    }
                }
                other => {
                    let line = self
                        .numeric("472")
                        .param(other.to_string())
                        .param("is unknown mode char to me");
                    self.send(line);
                }
            }
        }
        if !applied.is_empty() {
            let line = Line::new("MODE")
                .prefix(self.my_mask())
                .param(&ch.name)
                .param(applied)
                .params(applied_args);
            self.all(line);
        }
    }

    /// Whether the user holds @ in the channel.
    fn is_chanop(&self, ch: &Channel) -> bool {
        if ch.is_chat() {
            return ch.my_modes.contains('@');
        }
        self.cfg.ops.user()
    }

    /// Set or clear a channel flag; whether it changed.
    fn set_flag(&mut self, name: &str, flag: char, adding: bool) -> bool {
        let Some(ch) = self.channel_mut(name) else {
            return false;
        };
        let has = ch.flags.contains(flag);
        match (adding, has) {
            (true, false) => {
                ch.flags.push(flag);
                let mut v: Vec<char> = ch.flags.chars().collect();
                v.sort_unstable();
                ch.flags = v.into_iter().collect();
                true
            }
            (false, true) => {
                ch.flags.retain(|c| c != flag);
                true
            }
            _ => false,
        }
    }

    /// Give or take a member's @, % or + as shown in a control channel; an error
    /// line when the mode cannot apply.
    fn member_mode(
        &mut self,
        channel: &str,
        nick: &str,
        mode: char,
        adding: bool,
    ) -> Result<bool, Line> {
        let prefix = match mode {
            'o' => '@',
            'h' => '%',
            _ => '+',
        };
        let Some(ch) = self.channel(channel) else {
            return Ok(false);
        };
        if ch.is_chat() {
            // A room's roles are the room's: nothing a mode here could change.
            return Err(self
                .numeric("472")
                .param(mode.to_string())
                .param("is set by the chat room itself"));
        }
        let key = irc_lower(nick);
        let Some(m) = ch.members.get(&key) else {
            return Err(self
                .numeric("441")
                .param(nick)
                .param(channel)
                .param("They aren't on that channel"));
        };
        let has = m.modes.contains(prefix);
        if has == adding {
            return Ok(false);
        }
        let Some(m) = self
            .channel_mut(channel)
            .and_then(|c| c.members.get_mut(&key))
        else {
            return Ok(false);
        };
        if adding {
            m.modes.push(prefix);
            let order = |c: &char| "@%+".find(*c).unwrap_or(3);
            let mut v: Vec<char> = m.modes.chars().collect();
            v.sort_by_key(order);
            m.modes = v.into_iter().collect();
        } else {
            m.modes.retain(|c| c != prefix);
        }
        Ok(true)
    }

    pub(super) fn names(&mut self, input: &Input) {
        for name in input.arg(0).split(',').filter(|n| !n.is_empty()) {
            match self.channel(name) {
                Some(ch) if ch.joined => self.send_names(To::Origin, name),
                _ => {
                    let line = self.numeric("366").param(name).param("End of /NAMES list");
                    self.send(line);
                }
            }
        }
    }

    pub(super) fn invite(&mut self, input: &Input) {
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
            None if !ch.is_chat() && matches!(ch.cfg.fill_by, FillBy::Group(_)) => {
                self.invite_to_group(&ch, &c)
            }
            None if ch.is_chat() && !ch.cfg.named_room && ch.joined => {
                // An unbound chat channel: start a group chat with the contact
                // there (BitlBee's ad-hoc chats).
                match self.send_command(
                    c.account,
                    Command::ChatWith {
                        handle: c.handle.clone(),
                    },
                ) {
                    Ok(()) => {
                        self.adhoc.insert(c.account, ch.name.clone());
                        let line = self.numeric("341").param(&c.nick).param(&ch.name);
                        self.send(line);
                    }
                    Err(e) => self.send_failed(&chan, e),
                }
            }
            None => self.send(
                self.numeric("482")
                    .param(&chan)
                    .param("Invitations are only possible to fill_by=group channels"),
            ),
        }
    }

    pub(super) fn kick(&mut self, input: &Input) {
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

    pub(super) fn list(&mut self, input: &Input) {
        let mut out = Vec::new();
        out.push(self.numeric("321").param("Channel").param("Users  Name"));
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
            out.push(
                self.numeric("322")
                    .param(&ch.name)
                    .param(users.to_string())
                    .param(ch.topic.clone().unwrap_or_default()),
            );
        }
        out.push(self.numeric("323").param("End of /LIST"));
        for line in out {
            self.send(line);
        }
    }
}
