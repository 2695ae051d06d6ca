//! Backend events turned into IRC: root's account lines, contacts joining and
//! leaving, messages, questions and chat rooms.

use std::time::SystemTime;

use waggle_core::{
    AccountId, Contact, Conversation, Direction, Event, MessageIds, MessageKind, Occupant,
    PresenceState, Role,
};

use super::Cx;
use super::cx::Shown;
use super::settings::{HandleUnknown, SelfMessages, StripHtml};
use super::state::{AccountState, Member, Question};
use crate::caps::Cap;
use crate::line::Line;
use crate::nick::{NickStyle, clean_nick, irc_lower};
use crate::outbox::{Out, To};
use crate::sanitize;

/// A one-to-one message as a backend reported it.
struct Received<'a> {
    from: &'a str,
    body: &'a str,
    kind: MessageKind,
    sent_at: Option<SystemTime>,
    from_self: bool,
    ids: MessageIds,
}

impl Cx<'_> {
    pub(crate) async fn handle_event(&mut self, account: AccountId, event: Event) {
        let Some(acc) = self.account_by_id(account) else {
            return;
        };
        let tag = acc.rec.tag.clone();
        let online = acc.state == AccountState::Online;
        match event {
            Event::LoginProgress { text } => self.root_from(&tag, &format!("Logging in: {text}")),
            Event::LoggedIn => {
                if let Some(a) = self.account_mut(account) {
                    a.state = AccountState::Online;
                }
                self.root_say(&format!("{tag} - Logging in: Logged in"));
                self.announce_presence(account, false);
                self.rejoin_account_chats(account);
            }
            Event::Error { text } => {
                let what = if online { "Error" } else { "Login error" };
                self.root_from(&tag, &format!("{what}: {text}"));
            }
            Event::Notice { text } => {
                let text = if online {
                    text
                } else {
                    format!("Logging in: {text}")
                };
                // As in BitlBee, the tag leads the first line only: a notice's
                // further lines are the backend's own formatting (see Event::Notice).
                self.root_say(&format!("{tag} - {text}"));
            }
            Event::Disconnected { reconnect_in } => {
                let reason = self.account_quit_reason(account);
                self.contacts_offline(account, &reason);
                let rejoin: Vec<String> = self
                    .channels
                    .iter()
                    .filter(|c| {
                        c.cfg.auto_rejoin && c.room.as_ref().is_some_and(|(a, _)| *a == account)
                    })
                    .map(|c| c.name.clone())
                    .collect();
                self.leave_account_rooms(account);
                if reconnect_in.is_some() {
                    // auto_rejoin: back in once the account is online again.
                    for name in rejoin {
                        if let Some(c) = self.channel_mut(&name) {
                            c.join_pending = true;
                        }
                    }
                }
                self.root_say(&format!("{tag} - Signing off.."));
                if let Some(a) = self.account_mut(account) {
                    match reconnect_in {
                        Some(_) => a.state = AccountState::Connecting,
                        // A token that is still live belongs to a newer run: leave it be.
                        None if a.cancel.as_ref().is_none_or(|c| c.is_cancelled()) => {
                            a.state = AccountState::Off;
                            a.cancel = None;
                            a.commands = None;
                        }
                        None => {}
                    }
                }
                if let Some(secs) = reconnect_in {
                    self.root_say(&format!("{tag} - Reconnecting in {secs} seconds.."));
                }
            }
            Event::ContactUpdated(contact) => self.contact_updated(account, contact, online).await,
            Event::ContactRemoved { handle } => self.forget_contact(account, &handle).await,
            Event::MessageReceived {
                from,
                body,
                kind,
                sent_at,
                from_self,
                ids,
            } => {
                let m = Received {
                    from: &from,
                    body: &body,
                    kind,
                    sent_at,
                    from_self,
                    ids,
                };
                self.message_received(account, m).await
            }
            Event::TypingChanged { from, state } => self.typing_changed(account, &from, state),
            Event::QuestionAsked { id, text } => {
                self.questions.push(Question {
                    account,
                    id,
                    text: text.clone(),
                });
                self.root_say(&format!(
                    "{tag} - New request: {text}\nYou can use the \x02yes\x02/\x02no\x02 commands to accept/reject this request."
                ));
            }
            Event::ActionResult {
                handle,
                action,
                args,
            } => self.action_result(account, &handle, &action, &args),
            Event::BlockList { blocked, allowed } => {
                if let Some(a) = self.account_mut(account) {
                    a.blocked = blocked;
                    a.allowed = allowed;
                }
            }
            Event::Info { handle, lines } => {
                let nick = self
                    .contacts
                    .get(&(account, handle.clone()))
                    .map(|c| c.nick.clone())
                    .unwrap_or(handle);
                let mut text = format!("User info - {nick}:");
                for l in lines {
                    text.push('\n');
                    text.push_str(&l);
                }
                self.root_from(&tag, &text);
            }
            Event::SettingChanged { key, value } => {
                if let Some(a) = self.account_mut(account) {
                    a.rec.settings.insert(key.clone(), value.clone());
                    a.settings_changed();
                }
                self.save_account(account).await;
                self.root_say(&format!("{tag} - Setting {key} is now `{value}'"));
            }
            Event::ConsoleLine { from, line } => self.console_line(account, &from, &line),
            Event::RoomJoined {
                room,
                topic,
                occupants,
            } => self.chat_joined(account, room, topic, occupants),
            Event::RoomLeft { room, reason } => {
                if let Some(name) = self.chat_channel_for(account, &room) {
                    let rejoin = reason.is_some()
                        && self
                            .channel(&name)
                            .is_some_and(|c| c.joined && c.cfg.auto_rejoin);
                    self.chat_left(&name, reason.as_deref());
                    if rejoin {
                        // Put out (kicked, the room closed): auto_rejoin goes back in.
                        self.join_channel(&name).await;
                    }
                }
            }
            Event::OccupantUpdated { room, occupant } => {
                self.occupant_updated(account, &room, occupant)
            }
            Event::OccupantLeft {
                room,
                nick,
                reason,
                kicked_by,
            } => self.occupant_left(account, &room, &nick, reason, kicked_by),
            Event::OccupantRenamed { room, old, new } => {
                self.occupant_renamed(account, &room, &old, &new)
            }
            Event::RoomMessage {
                room,
                from,
                body,
                kind,
                sent_at,
                ids,
            } => {
                let Some(name) = self.chat_channel_for(account, &room) else {
                    return;
                };
                if ids
                    .origin
                    .as_ref()
                    .is_some_and(|id| self.sent_ids.contains(id))
                {
                    // The room reflecting what the user sent: shown when it was sent.
                    return;
                }
                let mask = self
                    .channel(&name)
                    .and_then(|c| {
                        c.members
                            .get(&irc_lower(&occupant_nick(&from)))
                            .map(|m| m.mask.clone())
                    })
                    .unwrap_or_else(|| {
                        format!("{0}!{0}@{1}", occupant_nick(&from), room_host(&room.0))
                    });
                let is_me = self.channel(&name).is_some_and(|c| c.room.is_some())
                    && mask.starts_with(&format!("{}!", self.nick));
                let (mask, direction) = if is_me {
                    (self.my_mask(), Direction::Outgoing)
                } else {
                    (mask, Direction::Incoming)
                };
                let conversation = Conversation::Room {
                    account: self.conversation_account(account),
                    room: room.0.clone(),
                };
                let sent_at = self.catch_up_time(account, &room.0, ids.archive.as_deref(), sent_at);
                self.show(
                    To::All,
                    Shown {
                        mask: &mask,
                        target: &name,
                        body: &body,
                        kind,
                        sent_at,
                        conversation: Some(conversation),
                        direction,
                        archive_id: ids.archive,
                        origin_id: ids.origin,
                    },
                );
            }
            Event::TopicChanged { room, by, topic } => {
                let Some(name) = self.chat_channel_for(account, &room) else {
                    return;
                };
                let setter = by
                    .map(|b| occupant_nick(&b))
                    .unwrap_or_else(|| self.root_nick());
                if let Some(ch) = self.channel_mut(&name) {
                    ch.set_topic(topic.clone(), setter.clone());
                }
                let mask = format!("{0}!{0}@{1}", setter, room_host(&room.0));
                self.all(Line::new("TOPIC").prefix(mask).param(&name).param(&topic));
            }
            Event::InvitedToRoom { room, from, reason } => {
                self.invited(account, &room, &from, reason.as_deref())
            }
            Event::RoomList { rooms } => self.room_list(account, rooms),
        }
    }

    /// Root speaks for an account: every line of `text`, which may come from
    /// the network, starts with the account's tag, so no line of it can pass
    /// for root's own.
    fn root_from(&mut self, tag: &str, text: &str) {
        let prefixed: Vec<String> = sanitize::lines(text)
            .into_iter()
            .map(|l| format!("{tag} - {l}"))
            .collect();
        self.root_say(&prefixed.join("\n"));
    }

    /// The QUIT reason of an account's contacts when the account goes off: as
    /// BitlBee, with `simulate_netsplit` two host names (the gateway's, the
    /// account's domain) so clients fold the quits as a netsplit, else
    /// `Account off-line`.
    pub(crate) fn account_quit_reason(&self, account: AccountId) -> String {
        if !self.cfg.simulate_netsplit {
            return "Account off-line".into();
        }
        let host = &self.shared.config.name;
        // A host name needs a dot for clients to see it as one.
        let prefix = if host.contains('.') { "" } else { "waggle." };
        match self.account_by_id(account) {
            Some(a) => match a.rec.handle.split_once('@') {
                Some((_, domain)) => format!("{prefix}{host} {domain}"),
                None => format!("{prefix}{host} {}.{host}", a.rec.protocol),
            },
            None => format!("{prefix}{host} {host}"),
        }
    }

    /// A contact changed. Only that contact's place in the channels is worked
    /// out again, and the store is written only when what it keeps (nick, group,
    /// name) changed: a presence update costs neither a rebuild nor a write.
    async fn contact_updated(&mut self, account: AccountId, contact: Contact, online: bool) {
        let handle = contact.handle.clone();
        let key = (account, handle.clone());
        let before = self
            .contacts
            .get(&key)
            .map(|c| (c.presence.clone(), c.group.clone(), c.display_name.clone()));
        let is_new = self.upsert_contact(account, contact, true);
        let went_offline = before
            .as_ref()
            .is_some_and(|b| b.0.state != PresenceState::Offline)
            && self
                .contacts
                .get(&key)
                .is_some_and(|c| c.presence.state == PresenceState::Offline);
        // One contact leaving is BitlBee's plain quit.
        let reason = went_offline.then(|| "Leaving...".to_string());
        let came_online = before
            .as_ref()
            .is_none_or(|b| b.0.state == PresenceState::Offline)
            && self.contacts.get(&key).is_some_and(|c| c.is_online());
        if came_online || went_offline {
            self.watch_notice(&key, came_online);
        }
        self.sync_contact(account, &handle, reason.as_deref());
        let old_state = before.as_ref().map(|b| b.0.clone());
        let record_changed = match (&before, self.contacts.get(&key)) {
            (Some((_, group, name)), Some(c)) => *group != c.group || *name != c.display_name,
            _ => true,
        };
        if let (Some(old), Some(c)) = (old_state, self.contacts.get(&(account, handle.clone()))) {
            let was_away = old.state == PresenceState::Away;
            let is_away = c.presence.state == PresenceState::Away;
            if was_away != is_away || (is_away && old.message != c.presence.message) {
                let line = Line::new("AWAY").prefix(c.mask());
                let line = if is_away {
                    line.param(c.presence.message.clone().unwrap_or_else(|| "Away".into()))
                } else {
                    line
                };
                self.push(To::All, Out::Capable(Cap::AwayNotify, line));
            }
        }
        let renamed = before.as_ref().and_then(|(_, _, old)| {
            let c = self.contacts.get(&key)?;
            let new = c.display_name.clone()?;
            (old.as_ref() != Some(&new)).then(|| (c.nick.clone(), new))
        });
        if let Some((nick, name)) = renamed.filter(|_| self.cfg.display_namechanges && online) {
            let name: String = name
                .chars()
                .map(|c| if c.is_whitespace() { ' ' } else { c })
                .collect();
            let tag = self
                .account_by_id(account)
                .map(|a| a.rec.tag.clone())
                .unwrap_or_default();
            self.root_from(&tag, &format!("User `{nick}' changed name to `{name}'"));
        }
        if is_new || record_changed {
            // A roster arrives as one event per contact: saving each on its own
            // would hold every contact's JOIN back behind a transaction.
            self.contacts_unsaved.insert((account, handle));
        }
    }

    async fn message_received(&mut self, account: AccountId, m: Received<'_>) {
        let from = m.from;
        let key = (account, from.to_string());
        if !self.contacts.contains_key(&key) {
            let mode = self
                .account_by_id(account)
                .and_then(|a| a.cfg.handle_unknown)
                .unwrap_or(self.cfg.handle_unknown);
            match mode {
                HandleUnknown::Ignore => {
                    self.skip_archived(account, m.ids.archive.as_deref()).await;
                    return;
                }
                HandleUnknown::Root => {
                    let tag = self
                        .account_by_id(account)
                        .map(|a| a.rec.tag.clone())
                        .unwrap_or_default();
                    let mut text = format!("Message from unknown handle {from}:");
                    for l in sanitize::lines(m.body) {
                        text.push('\n');
                        text.push_str(&l);
                    }
                    self.root_from(&tag, &text);
                    self.skip_archived(account, m.ids.archive.as_deref()).await;
                    return;
                }
                add => {
                    // As in BitlBee, a stranger is a temporary contact (never
                    // saved nor added to the buddy list), shown in a query or
                    // the control channel.
                    self.upsert_contact(
                        account,
                        Contact {
                            handle: from.to_string(),
                            ..Contact::default()
                        },
                        false,
                    );
                    let in_channel = match add {
                        HandleUnknown::AddChannel => true,
                        HandleUnknown::AddPrivate => false,
                        _ => !self.cfg.private,
                    };
                    if let Some(c) = self.contacts.get_mut(&key) {
                        c.last_channel = in_channel.then(|| super::CONTROL_CHANNEL.to_string());
                    }
                }
            }
        }
        let html = self
            .account_by_id(account)
            .and_then(|a| self.shared.protocols.get(&a.rec.protocol))
            .is_some_and(|b| b.sends_html());
        let body = match self.cfg.strip_html {
            StripHtml::Always => strip_html(m.body),
            StripHtml::Html if html => strip_html(m.body),
            _ => m.body.to_string(),
        };
        let body = if self.cfg.strip_newlines {
            sanitize::lines(&body).join(" ")
        } else {
            body
        };
        let Some(c) = self.contacts.get(&key).cloned() else {
            return;
        };
        let contact_conversation = Conversation::Contact {
            account: self.conversation_account(account),
            handle: c.handle.clone(),
        };
        let mask = c.mask();
        let sent_at = self.catch_up_time(account, "", m.ids.archive.as_deref(), m.sent_at);
        let m = Received { sent_at, ..m };
        let (archive_id, origin_id) = (m.ids.archive, m.ids.origin);
        if m.from_self {
            match self.cfg.self_messages {
                SelfMessages::Hidden => {
                    self.skip_archived(account, archive_id.as_deref()).await;
                }
                style @ (SelfMessages::Prefix | SelfMessages::PrefixNotice) => {
                    let text = format!("-> {body}");
                    let me = self.nick.clone();
                    // As BitlBee: from the contact, PRIVMSG (NOTICE for
                    // prefix_notice), an action staying an action.
                    let kind = match (style, m.kind) {
                        (_, MessageKind::Action) => MessageKind::Action,
                        (SelfMessages::PrefixNotice, _) => MessageKind::Notice,
                        _ => MessageKind::Normal,
                    };
                    self.show(
                        To::All,
                        Shown {
                            mask: &mask,
                            target: &me,
                            body: &text,
                            kind,
                            sent_at: m.sent_at,
                            conversation: Some(contact_conversation),
                            direction: Direction::Outgoing,
                            archive_id,
                            origin_id,
                        },
                    );
                }
                _ => {
                    let me = self.my_mask();
                    self.show(
                        To::All,
                        Shown {
                            mask: &me,
                            target: &c.nick,
                            body: &body,
                            kind: m.kind,
                            sent_at: m.sent_at,
                            conversation: Some(contact_conversation),
                            direction: Direction::Outgoing,
                            archive_id,
                            origin_id,
                        },
                    );
                }
            }
            return;
        }
        // As BitlBee: the channel the user last talked to them in while the
        // user is in it, else any channel they are in when `private` is off,
        // else a query.
        let target = match &c.last_channel {
            Some(ch) if self.channel(ch).is_some_and(|x| x.joined) => Some(ch.clone()),
            _ if !self.cfg.private => self
                .channels
                .iter()
                .find(|x| x.joined && x.members.contains_key(&irc_lower(&c.nick)))
                .map(|x| x.name.clone()),
            _ => None,
        };
        match target {
            Some(ch) => {
                let prefix = format!("{}{}", self.nick, self.cfg.to_char);
                let text = if m.kind == MessageKind::Action {
                    body.clone()
                } else {
                    sanitize::lines(&body)
                        .into_iter()
                        .map(|l| format!("{prefix}{l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                self.show(
                    To::All,
                    Shown {
                        mask: &mask,
                        target: &ch,
                        body: &text,
                        kind: m.kind,
                        sent_at: m.sent_at,
                        conversation: Some(Conversation::Local(irc_lower(&ch))),
                        direction: Direction::Incoming,
                        archive_id,
                        origin_id,
                    },
                );
            }
            None => {
                let me = self.nick.clone();
                self.show(
                    To::All,
                    Shown {
                        mask: &mask,
                        target: &me,
                        body: &body,
                        kind: m.kind,
                        sent_at: m.sent_at,
                        conversation: Some(contact_conversation),
                        direction: Direction::Incoming,
                        archive_id,
                        origin_id,
                    },
                );
            }
        }
    }

    /// WATCH's 600/601 for a contact on the list that came online or went off.
    fn watch_notice(&mut self, key: &(AccountId, String), online: bool) {
        let Some(c) = self.contacts.get(key) else {
            return;
        };
        if !self.watches.contains(&irc_lower(&c.nick)) {
            return;
        }
        let (code, text) = if online {
            ("600", "logged online")
        } else {
            ("601", "logged offline")
        };
        let line = self
            .numeric(code)
            .param(&c.nick)
            .param(&c.user)
            .param(&c.host)
            .param(super::state::unix_now().to_string())
            .param(text);
        self.all(line);
    }

    /// A message dropped on purpose still moves its archive's catch-up cursor.
    async fn skip_archived(&mut self, account: AccountId, archive_id: Option<&str>) {
        let Some(id) = archive_id else { return };
        let h = self.log_handle();
        let row = self.conversation_account(account);
        match h.log.set_archive_cursor(h.user, row, "", id).await {
            Ok(()) => {
                if let Some(a) = self.account_mut(account) {
                    a.cursors.insert(String::new(), id.to_string());
                }
            }
            Err(e) => tracing::warn!(error = %e, "moving the catch-up cursor failed"),
        }
    }

    fn typing_changed(&mut self, account: AccountId, from: &str, state: waggle_core::TypingState) {
        if !self.cfg.typing_notice {
            return;
        }
        let Some(c) = self.contacts.get(&(account, from.to_string())) else {
            return;
        };
        let (mask, target) = (c.mask(), self.nick.clone());
        self.push(
            To::All,
            Out::Typing {
                mask,
                target,
                state,
            },
        );
    }

    fn occupant_updated(
        &mut self,
        account: AccountId,
        room: &waggle_core::RoomId,
        occupant: Occupant,
    ) {
        let Some(name) = self.chat_channel_for(account, room) else {
            return;
        };
        if occupant.is_self {
            let modes = role_modes(occupant.role);
            let old = self
                .channel(&name)
                .map(|c| c.my_modes.clone())
                .unwrap_or_default();
            if let Some(ch) = self.channel_mut(&name) {
                ch.my_modes = modes.clone();
            }
            let nick = self.nick.clone();
            self.send_mode_change(&name, &nick, &old, &modes);
            return;
        }
        let member = self.occupant_member(account, room, &occupant);
        let key = irc_lower(&member.nick);
        let old = self
            .channel(&name)
            .and_then(|c| c.members.get(&key).cloned());
        if let Some(ch) = self.channel_mut(&name) {
            ch.members.insert(key, member.clone());
        }
        match old {
            None => self.send_member_join(&name, &member),
            Some(o) => self.send_mode_change(&name, &member.nick, &o.modes, &member.modes),
        }
    }

    fn occupant_left(
        &mut self,
        account: AccountId,
        room: &waggle_core::RoomId,
        nick: &str,
        reason: Option<String>,
        kicked_by: Option<String>,
    ) {
        let Some(name) = self.chat_channel_for(account, room) else {
            return;
        };
        let key = irc_lower(&occupant_nick(nick));
        let Some(old) = self.channel_mut(&name).and_then(|c| c.members.remove(&key)) else {
            return;
        };
        match kicked_by {
            Some(by) => {
                let by_mask = format!("{0}!{0}@{1}", occupant_nick(&by), room_host(&room.0));
                self.send(
                    Line::new("KICK")
                        .prefix(by_mask)
                        .param(&name)
                        .param(&old.nick)
                        .param(reason.unwrap_or_default()),
                );
            }
            None => {
                let l = Line::new("PART").prefix(&old.mask).param(&name);
                self.send(match reason {
                    Some(r) => l.param(r),
                    None => l,
                });
            }
        }
    }

    fn occupant_renamed(
        &mut self,
        account: AccountId,
        room: &waggle_core::RoomId,
        old: &str,
        new: &str,
    ) {
        let Some(name) = self.chat_channel_for(account, room) else {
            return;
        };
        let key = irc_lower(&occupant_nick(old));
        let Some(mut m) = self.channel_mut(&name).and_then(|c| c.members.remove(&key)) else {
            return;
        };
        let new_nick = occupant_nick(new);
        let old_mask = m.mask.clone();
        m.mask = format!(
            "{new_nick}!{}",
            m.mask.split_once('!').map(|x| x.1).unwrap_or("")
        );
        m.nick = new_nick.clone();
        m.room_nick = Some(new.to_string());
        if let Some(ch) = self.channel_mut(&name) {
            ch.members.insert(irc_lower(&new_nick), m);
        }
        self.send(Line::new("NICK").prefix(old_mask).param(new_nick));
    }

    pub(crate) fn occupant_member(
        &self,
        account: AccountId,
        room: &waggle_core::RoomId,
        o: &Occupant,
    ) -> Member {
        let known = o
            .handle
            .as_ref()
            .and_then(|h| self.contacts.get(&(account, h.clone())));
        match known {
            Some(c) => Member {
                nick: c.nick.clone(),
                mask: c.mask(),
                modes: role_modes(o.role),
                realname: c.display_name.clone().unwrap_or_else(|| c.handle.clone()),
                room_nick: Some(o.nick.clone()),
            },
            None => {
                let nick = occupant_nick(&o.nick);
                Member {
                    mask: format!("{nick}!{nick}@{}", room_host(&room.0)),
                    nick,
                    modes: role_modes(o.role),
                    realname: o.nick.clone(),
                    room_nick: Some(o.nick.clone()),
                }
            }
        }
    }
}

/// An occupant's room nick made IRC-safe.
pub(crate) fn occupant_nick(nick: &str) -> String {
    clean_nick(
        nick,
        NickStyle {
            underscores: true,
            ..NickStyle::default()
        },
    )
}

pub(crate) fn room_host(room: &str) -> String {
    match room.split_once('@') {
        Some((_, host)) => host.to_string(),
        None => "chat".to_string(),
    }
}

pub(crate) fn role_modes(role: Role) -> String {
    match role {
        Role::Moderator => "@".into(),
        Role::Participant => "+".into(),
        Role::Visitor => String::new(),
    }
}

/// Remove HTML tags and decode the common entities.
pub(crate) fn strip_html(text: &str) -> String {
    if !text.contains('<') && !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in text.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                let t = tag.trim().to_ascii_lowercase();
                if t == "br" || t == "br/" || t.starts_with("br ") || t == "/p" {
                    out.push('\n');
                }
                tag.clear();
            } else {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
        } else {
            out.push(c);
        }
    }
    if in_tag {
        out.push('<');
        out.push_str(&tag);
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html() {
        assert_eq!(strip_html("<b>hi</b> &amp; <i>bye</i>"), "hi & bye");
        assert_eq!(strip_html("a<br/>b"), "a\nb");
        assert_eq!(strip_html("1 < 2"), "1 < 2");
    }
}
