//! Chat channels: channels bound to a group chat of an account (`chat add`), joined
//! when the user joins them and filled from the room's occupants.

use waggle_core::{AccountId, Command, Conversation, Direction, MessageKind, Occupant, RoomId};

use super::Cx;
use super::accounts::SendError;
use super::cx::Shown;
use super::state::AccountState;
use crate::line::Line;
use crate::nick::irc_lower;
use crate::outbox::To;

impl Cx<'_> {
    /// Join a channel by name: control channels at once, chats through their account.
    pub(crate) async fn join_channel(&mut self, name: &str) {
        let Some(ch) = self.channel(name).cloned() else {
            return;
        };
        if ch.joined {
            return;
        }
        if !ch.is_chat() {
            self.join_channel_now(name);
            return;
        }
        let (Some(tag), Some(room)) = (ch.cfg.account.as_deref(), ch.cfg.room.as_deref()) else {
            // Not bound to a room: the user (and root) are there alone until
            // an invitation starts a group chat.
            self.join_channel_now(name);
            return;
        };
        let Some(account) = self.find_account(tag) else {
            self.send(self.numeric("403").param(name).param("No such channel"));
            return;
        };
        let cmd = Command::JoinRoom {
            room: RoomId(room.to_string()),
            nick: self.room_nick(&ch, account),
            password: ch.cfg.password.clone(),
        };
        match self.send_command(account, cmd) {
            Ok(()) => {
                if let Some(c) = self.channel_mut(name) {
                    c.room = Some((account, RoomId(room.to_string())));
                }
            }
            Err(SendError::Offline) | Err(SendError::NoAccount) => {
                // Joined once the account is online, this time only: the
                // channel's auto_join setting stays as the user set it.
                self.send(
                    self.numeric("437").param(name).param(
                        "The account of this chat is not online; it will be joined when it is",
                    ),
                );
                if let Some(c) = self.channel_mut(name) {
                    c.join_pending = true;
                }
            }
            Err(SendError::Unsupported) => {
                self.send(
                    self.numeric("403")
                        .param(name)
                        .param("Named chatrooms not supported on that account"),
                );
            }
        }
    }

    /// The room confirmed our join: show the channel.
    pub(crate) fn chat_joined(
        &mut self,
        account: AccountId,
        room: RoomId,
        topic: Option<String>,
        occupants: Vec<Occupant>,
    ) {
        let adhoc = self
            .adhoc
            .remove(&account)
            .filter(|n| self.channel(n).is_some_and(|c| c.cfg.room.is_none()));
        let name = match self.chat_channel_for(account, &room) {
            Some(n) => n,
            None if adhoc.is_some() => {
                // The group chat an /invite in this channel started.
                let name = adhoc.unwrap_or_default();
                let tag = self.account_by_id(account).map(|a| a.rec.tag.clone());
                if let Some(ch) = self.channel_mut(&name) {
                    ch.set("room", Some(room.0.clone()));
                    if let Some(tag) = tag {
                        ch.set("account", Some(tag));
                    }
                }
                name
            }
            None => {
                if let Some(why) = self.channel_limit_reached(true) {
                    // Not kept: the gateway leaves the room again.
                    let _ = self.send_command(account, Command::LeaveRoom { room: room.clone() });
                    let tag = self
                        .account_by_id(account)
                        .map(|a| a.rec.tag.clone())
                        .unwrap_or_default();
                    self.root_say(&format!("{tag} - Left the group chat {}: {why}", room.0));
                    return;
                }
                // A room we did not ask for (ad-hoc chat, invitation accepted elsewhere):
                // named like BitlBee does, `#` and the room id (its part before `@`)
                // without characters a channel name can't hold, cut to 24 characters
                // (a Skype chat `#bob/$alice;4d8c…` becomes `##bob/$alice;4d8c…`).
                let mut base: String = room
                    .0
                    .split('@')
                    .next()
                    .unwrap_or("chat")
                    .chars()
                    .filter(|c| !c.is_control() && !matches!(c, ' ' | ',' | ':'))
                    .collect();
                if base.is_empty() {
                    base = "chat".into();
                }
                let mut name: String = format!("#{base}")
                    .chars()
                    .take(crate::nick::NICKLEN)
                    .collect();
                while self.channel(&name).is_some() {
                    name.push('_');
                }
                let mut ch = super::state::Channel::new(&name);
                ch.set("type", Some("chat".into()));
                ch.set("room", Some(room.0.clone()));
                if let Some(a) = self.account_by_id(account) {
                    ch.set("account", Some(a.rec.tag.clone()));
                }
                self.channels.push(ch);
                name
            }
        };
        let mut members = std::collections::BTreeMap::new();
        let mut my_modes = String::new();
        for o in &occupants {
            if o.is_self {
                my_modes = super::events::role_modes(o.role);
                continue;
            }
            let m = self.occupant_member(account, &room, o);
            members.insert(irc_lower(&m.nick), m);
        }
        let already_in = self.channel(&name).is_some_and(|c| c.joined);
        if let Some(ch) = self.channel_mut(&name) {
            ch.room = Some((account, room));
            ch.members = members.clone();
            ch.my_modes = my_modes.clone();
            if topic.is_some() {
                ch.topic = topic;
            }
        }
        if already_in {
            // The user was there waiting (an ad-hoc chat): the room's people
            // come in, and the user's own modes follow the room.
            for m in members.values() {
                self.send_member_join(&name, m);
            }
            let nick = self.nick.clone();
            self.send_mode_change(&name, &nick, "", &my_modes);
        } else {
            self.join_channel_now(&name);
        }
    }

    /// We are out of a chat: PART the user.
    pub(crate) fn chat_left(&mut self, name: &str, reason: Option<&str>) {
        let Some(ch) = self.channel_mut(name) else {
            return;
        };
        let was_joined = ch.joined;
        ch.joined = false;
        ch.room = None;
        ch.members.clear();
        ch.my_modes.clear();
        if was_joined {
            let l = Line::new("PART").prefix(self.my_mask()).param(name);
            self.send(match reason {
                Some(r) => l.param(r),
                None => l,
            });
        }
    }

    /// After an account logs in, join its chats that want auto_join or were joined.
    pub(crate) fn rejoin_account_chats(&mut self, account: AccountId) {
        let Some(acc) = self.account_by_id(account) else {
            return;
        };
        if acc.state != AccountState::Online {
            return;
        }
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|c| c.is_chat() && !c.joined)
            .filter(|c| {
                c.cfg.account.as_deref().and_then(|t| self.find_account(t)) == Some(account)
            })
            .filter(|c| c.join_pending || c.cfg.auto_join)
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            let Some(ch) = self.channel(&name).cloned() else {
                continue;
            };
            let Some(room) = ch.cfg.room.clone() else {
                continue;
            };
            let cmd = Command::JoinRoom {
                room: RoomId(room.clone()),
                nick: self.room_nick(&ch, account),
                password: ch.cfg.password.clone(),
            };
            if self.send_command(account, cmd).is_ok()
                && let Some(c) = self.channel_mut(&name)
            {
                c.room = Some((account, RoomId(room)));
                c.join_pending = false;
            }
        }
    }
}

impl super::User {
    /// The user's nick in a chat: the channel's `nick`, else the account's
    /// `display_name` (as BitlBee's jabber does), else the IRC nick.
    pub(crate) fn room_nick(&self, ch: &super::state::Channel, account: AccountId) -> String {
        ch.cfg
            .nick
            .clone()
            .or_else(|| {
                self.account_by_id(account)
                    .and_then(|a| a.cfg.display_name.clone())
            })
            .unwrap_or_else(|| self.nick.clone())
    }

    /// The channel bound to a room of an account.
    pub(crate) fn chat_channel_for(&self, account: AccountId, room: &RoomId) -> Option<String> {
        self.channels
            .iter()
            .find(|c| {
                c.room
                    .as_ref()
                    .is_some_and(|(a, r)| *a == account && r == room)
            })
            .or_else(|| {
                self.channels.iter().find(|c| {
                    c.is_chat()
                        && c.cfg
                            .room
                            .as_deref()
                            .is_some_and(|r| r.eq_ignore_ascii_case(&room.0))
                        && c.cfg.account.as_deref().and_then(|t| self.find_account(t))
                            == Some(account)
                })
            })
            .map(|c| c.name.clone())
    }
}

impl Cx<'_> {
    /// An invitation to a room, as BitlBee shows it: a channel for the room
    /// (temporary: gone once parted), the inviter's words in a query, and an
    /// IRC INVITE; /join accepts.
    pub(crate) fn invited(
        &mut self,
        account: AccountId,
        room: &RoomId,
        from: &str,
        reason: Option<&str>,
    ) {
        let bare = from.split('/').next().unwrap_or(from);
        let inviter = self
            .contacts
            .get(&(account, from.to_string()))
            .or_else(|| self.contacts.get(&(account, bare.to_string())))
            .map(|c| (c.mask(), c.nick.clone(), c.handle.clone()));
        let channel = self
            .chat_channel_for(account, room)
            .or_else(|| self.invitation_channel(account, room, inviter.as_ref().map(|i| &i.1)));
        let (mask, conversation) = match &inviter {
            Some((mask, _, handle)) => (
                mask.clone(),
                Conversation::Contact {
                    account: self.conversation_account(account),
                    handle: handle.clone(),
                },
            ),
            None => (
                self.root_mask(),
                Conversation::Local(irc_lower(&self.root_nick())),
            ),
        };
        let mut text = format!("<< \x02Waggle\x02 - Invitation to chatroom {} >>", room.0);
        if let Some(r) = reason {
            text.push('\n');
            text.push_str(r);
        }
        if let Some(ch) = &channel {
            text.push_str(&format!("\nTo join the room, just /join {ch}"));
        }
        let me = self.nick.clone();
        self.show(
            To::All,
            Shown {
                mask: &mask,
                target: &me,
                body: &text,
                kind: MessageKind::Normal,
                sent_at: None,
                conversation: Some(conversation),
                direction: Direction::Incoming,
                archive_id: None,
                origin_id: None,
            },
        );
        if let Some(ch) = channel {
            self.all(Line::new("INVITE").prefix(mask).param(&me).param(ch));
        }
    }

    /// A new temporary chat channel for an invitation, named as BitlBee does:
    /// `#` and the room's name before the `@`, or the inviter's nick when that
    /// is too long; `None` when the name is taken.
    fn invitation_channel(
        &mut self,
        account: AccountId,
        room: &RoomId,
        inviter_nick: Option<&String>,
    ) -> Option<String> {
        let local = room.0.split('@').next().unwrap_or(&room.0);
        let clean: String = local
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, ' ' | ',' | ':'))
            .collect();
        let mut name = if clean.starts_with(['#', '&']) {
            clean
        } else {
            format!("#{clean}")
        };
        if name.len() > crate::nick::NICKLEN
            && let Some(nick) = inviter_nick
            && self.channel(&format!("#{nick}")).is_none()
        {
            name = format!("#{nick}");
        }
        if name.len() < 2
            || !crate::nick::is_valid_channel(&name)
            || self.channel(&name).is_some()
            || self.channel_limit_reached(true).is_some()
        {
            return None;
        }
        let tag = self.account_by_id(account)?.rec.tag.clone();
        let mut ch = super::state::Channel::new(&name);
        ch.set("type", Some("chat".into()));
        ch.set("chat_type", Some("room".into()));
        ch.set("account", Some(tag));
        ch.set("room", Some(room.0.clone()));
        ch.temporary = true;
        self.channels.push(ch);
        Some(name)
    }

    /// A server's rooms for `chat list`, in BitlBee's table (numbered for
    /// `chat add <account> !N`).
    pub(crate) fn room_list(&mut self, account: AccountId, rooms: Vec<waggle_core::RoomInfo>) {
        let tag = self
            .account_by_id(account)
            .map(|a| a.rec.tag.clone())
            .unwrap_or_default();
        if let Some(a) = self.account_mut(account) {
            a.room_list = rooms.clone();
        }
        if rooms.is_empty() {
            return self.root_say("No existing chatrooms");
        }
        let width = rooms
            .iter()
            .map(|r| r.id.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(20, 100);
        let tabs = self.tabular;
        let pad = |t: &str| {
            let n = t.chars().count();
            if n > width {
                let cut: String = t.chars().take(width.saturating_sub(5)).collect();
                format!("{cut}[...]")
            } else {
                format!("{t}{}", " ".repeat(width - n))
            }
        };
        let mut lines = vec![if tabs {
            "Index\tTitle\tTopic".to_string()
        } else {
            format!("Index  {}  Topic", pad("Title"))
        }];
        for (i, r) in rooms.iter().enumerate() {
            let topic = r.name.clone().unwrap_or_default();
            lines.push(if tabs {
                format!("{}\t{}\t{topic}", i + 1, r.id)
            } else {
                format!("{:5}  {}  {topic}", i + 1, pad(&r.id))
            });
        }
        lines.push(format!("{} {tag} chatrooms", rooms.len()));
        for l in lines {
            self.root_from_list(&l);
        }
    }

    /// One line of a listing that may hold the network's text: kept to one line.
    fn root_from_list(&mut self, line: &str) {
        self.root_say(&crate::sanitize::one_line(line));
    }
}
