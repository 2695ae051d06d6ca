//! PRIVMSG, NOTICE and TAGMSG: to contacts, rooms, root, the control channel
//! and oneself. What the user says to a contact or a room is logged, sent, and
//! shown on the user's other clients (and echoed to the origin with
//! echo-message); commands to root are answered to the origin only.

use waggle_core::{Command, Conversation, Direction, MessageKind, TypingState};

use crate::caps::Cap;
use crate::input::Input;
use crate::line::Line;
use crate::nick::irc_lower;
use crate::outbox::{Out, To};
use crate::user::Cx;
use crate::user::accounts::SendError;
use crate::user::cx::Shown;
use crate::user::state::Channel;

/// How many of the user's own room message ids are remembered, to recognise
/// the room reflecting them back.
const SENT_IDS: usize = 256;

impl Cx<'_> {
    pub(super) async fn privmsg(&mut self, input: &Input) {
        let notice = input.verb == "NOTICE";
        let Some(target) = input.params.first().filter(|t| !t.is_empty()).cloned() else {
            if !notice {
                let line = self
                    .numeric("411")
                    .param(format!("No recipient given ({})", input.verb));
                self.send(line);
            }
            return;
        };
        let Some(text) = input.params.get(1).filter(|t| !t.is_empty()).cloned() else {
            if !notice {
                let line = self.numeric("412").param("No text to send");
                self.send(line);
            }
            return;
        };
        let (kind, body, ctcp) = parse_ctcp(&text, notice);
        if self.is_root(&target) || target.eq_ignore_ascii_case("nickserv") {
            self.echo_to_origin(&input.verb, &target, &text);
            if let Some((verb, arg)) = ctcp {
                self.root_ctcp(&verb, &arg);
            } else if !notice {
                self.reply_to = Some(self.nick.clone());
                self.root_command_line(&body).await;
            }
            return;
        }
        if irc_lower(&target) == irc_lower(&self.nick) {
            self.message_to_self(&target, &body, kind);
            return;
        }
        if target.starts_with(['#', '&']) {
            let Some(ch) = self.channel(&target).cloned() else {
                if !notice {
                    self.no_such_channel(&target);
                }
                return;
            };
            if !ch.joined {
                if !notice {
                    let line = self
                        .numeric("404")
                        .param(&target)
                        .param("Cannot send to channel");
                    self.send(line);
                }
                return;
            }
            if ctcp.is_some() {
                // CTCPs to channels mean nothing to an IM room: never sent as text.
                return;
            }
            if ch.is_chat() {
                self.room_message(&ch, &body, kind);
                return;
            }
            self.control_channel_message(&ch, &text, &body, kind).await;
            return;
        }
        let Some(contact) = self.contact_by_nick(&target).cloned() else {
            if !notice {
                self.no_such_nick(&target);
            }
            return;
        };
        if let Some((verb, arg)) = ctcp {
            self.echo_to_origin(&input.verb, &target, &text);
            if verb != "TYPING" {
                // HELP and the protocol's contact actions (Skype's CALL/HANGUP).
                self.contact_ctcp(&contact, &verb, &arg);
                return;
            }
            if self.cfg.typing_notice {
                let state = match arg.trim() {
                    "1" => TypingState::Active,
                    "2" => TypingState::Paused,
                    _ => TypingState::Done,
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
        if !notice {
            self.away_reply(&contact);
        }
        self.queue_message(contact.account, contact.handle, target, body, kind, None);
    }

    /// BitlBee's 301 for a message to an away contact, at most once per
    /// `away_reply_timeout` (and again when their state changes).
    fn away_reply(&mut self, contact: &crate::user::state::ContactEntry) {
        let key = (contact.account, contact.handle.clone());
        let Some(text) = self.contacts.get(&key).and_then(|c| self.away_text(c)) else {
            return;
        };
        let now = std::time::Instant::now();
        let timeout = self.cfg.away_reply_timeout;
        let Some(c) = self.contacts.get_mut(&key) else {
            return;
        };
        if c.away_reply_after.is_some_and(|t| now < t) {
            return;
        }
        c.away_reply_after = Some(now + timeout);
        let line = self.numeric("301").param(&contact.nick).param(text);
        self.send(line);
    }

    /// The echo of a line that is not logged (commands to root).
    fn echo_to_origin(&mut self, verb: &str, target: &str, text: &str) {
        if self.origin_has(Cap::EchoMessage) {
            let line = Line::new(verb)
                .prefix(self.my_mask())
                .param(target)
                .param(text);
            self.send(line);
        }
    }

    /// A message to oneself: logged, delivered to every client, and echoed apart
    /// with echo-message.
    fn message_to_self(&mut self, target: &str, body: &str, kind: MessageKind) {
        let mask = self.my_mask();
        let me = self.nick.clone();
        self.show(
            To::AllUnlabeled,
            Shown {
                mask: &mask,
                target,
                body,
                kind,
                sent_at: None,
                conversation: Some(Conversation::Local(irc_lower(&me))),
                direction: Direction::Incoming,
                archive_id: None,
                origin_id: None,
            },
        );
        if self.origin_has(Cap::EchoMessage) {
            self.out.echo_last(To::Origin);
        }
    }

    /// A message to a chat channel: to its room when joined; an unbound channel
    /// only keeps it (nobody but the user and root is there).
    fn room_message(&mut self, ch: &Channel, body: &str, kind: MessageKind) {
        let mask = self.my_mask();
        let Some((account, room)) = ch.room.clone() else {
            self.show(
                To::Echo,
                Shown {
                    mask: &mask,
                    target: &ch.name,
                    body,
                    kind,
                    sent_at: None,
                    conversation: Some(Conversation::Local(irc_lower(&ch.name))),
                    direction: Direction::Outgoing,
                    archive_id: None,
                    origin_id: None,
                },
            );
            return;
        };
        let msgid = crate::user::new_msgid();
        let command = Command::SendRoomMessage {
            room: room.clone(),
            body: translate_to_nicks(ch, body),
            kind,
            id: Some(msgid.clone()),
        };
        if let Err(e) = self.check_command(account, &command) {
            return self.send_failed(&ch.name, e);
        }
        self.sent_ids.push_back(msgid.clone());
        while self.sent_ids.len() > SENT_IDS {
            self.sent_ids.pop_front();
        }
        let conversation = Conversation::Room {
            account: self.conversation_account(account),
            room: room.0,
        };
        self.show(
            To::Echo,
            Shown {
                mask: &mask,
                target: &ch.name,
                body,
                kind,
                sent_at: None,
                conversation: Some(conversation),
                direction: Direction::Outgoing,
                archive_id: None,
                origin_id: Some(msgid),
            },
        );
        self.push(
            To::Origin,
            Out::Command {
                account,
                command: Box::new(command),
                target: ch.name.clone(),
            },
        );
    }

    pub(crate) fn send_failed(&mut self, target: &str, e: SendError) {
        let why = match e {
            SendError::Offline => "Cannot send: the account is not online",
            SendError::NoAccount => "Cannot send: no such account",
            SendError::Unsupported => "Cannot send: not supported by this protocol",
        };
        let line = self.numeric("404").param(target).param(why);
        self.send(line);
    }

    /// A line in a control channel: "nick: text" (or "nick, text") goes to that
    /// contact, shown in the channel; anything else to `default_target`: root
    /// (as a command) or the contact last addressed.
    async fn control_channel_message(
        &mut self,
        ch: &Channel,
        text: &str,
        body: &str,
        kind: MessageKind,
    ) {
        self.reply_to = Some(ch.name.clone());
        let addressed = body.split_once([':', ',']).and_then(|(n, rest)| {
            let n = n.trim();
            (!n.is_empty() && !n.contains(' '))
                .then(|| (n.to_string(), rest.trim_start().to_string()))
        });
        let to_contact = match &addressed {
            Some((nick, _)) if self.is_root(nick) => None,
            Some((nick, rest)) => self
                .contact_by_nick(nick)
                .cloned()
                .map(|c| (c, rest.clone())),
            None => None,
        };
        let to_contact = to_contact.or_else(|| {
            if self.cfg.default_target != crate::user::settings::DefaultTarget::Last {
                return None;
            }
            let last = self.client.as_ref().and_then(|c| c.last_target.clone())?;
            self.contact_by_nick(&last)
                .cloned()
                .map(|c| (c, body.to_string()))
        });
        if let Some((c, rest)) = to_contact {
            if let Some(client) = self.client.as_deref_mut() {
                client.last_target = Some(c.nick.clone());
            }
            if let Some(e) = self.contacts.get_mut(&(c.account, c.handle.clone())) {
                e.last_channel = Some(ch.name.clone());
            }
            // Shown as typed, in the channel, and logged there.
            let mask = self.my_mask();
            self.show(
                To::Echo,
                Shown {
                    mask: &mask,
                    target: &ch.name,
                    body,
                    kind,
                    sent_at: None,
                    conversation: Some(Conversation::Local(irc_lower(&ch.name))),
                    direction: Direction::Outgoing,
                    archive_id: None,
                    origin_id: None,
                },
            );
            self.queue_message(
                c.account,
                c.handle,
                c.nick,
                rest,
                kind,
                Some(ch.name.clone()),
            );
            return;
        }
        self.echo_to_origin(
            if kind == MessageKind::Notice {
                "NOTICE"
            } else {
                "PRIVMSG"
            },
            &ch.name,
            text,
        );
        if kind != MessageKind::Normal {
            return;
        }
        let command = match &addressed {
            Some((nick, rest)) if self.is_root(nick) => rest.clone(),
            _ => body.to_string(),
        };
        self.root_command_line(&command).await;
    }

    async fn root_command_line(&mut self, text: &str) {
        let words = crate::root::split_words(text);
        if !words.is_empty() {
            crate::root::run_line(self, &words).await;
        }
    }

    fn root_ctcp(&mut self, verb: &str, arg: &str) {
        let mask = self.root_mask();
        let reply = match verb {
            "VERSION" => format!("\x01VERSION Waggle {}\x01", env!("CARGO_PKG_VERSION")),
            "PING" => format!("\x01PING {arg}\x01"),
            "TIME" => format!("\x01TIME {}\x01", time::OffsetDateTime::now_utc()),
            "CLIENTINFO" => "\x01CLIENTINFO ACTION PING TIME VERSION CLIENTINFO\x01".into(),
            _ => return,
        };
        let line = Line::new("NOTICE")
            .prefix(mask)
            .param(&self.nick)
            .param(reply);
        self.send(line);
    }

    pub(super) fn tagmsg(&mut self, input: &Input) {
        let Some(target) = input.params.first().cloned() else {
            return self.need_more_params("TAGMSG");
        };
        // Only client-only tags (+name) travel with a TAGMSG.
        let tagged = |mut line: Line| {
            for (k, v) in input.tags.iter().filter(|(k, _)| k.starts_with('+')) {
                line = line.tag(k.clone(), v.clone().unwrap_or_default());
            }
            line
        };
        let line = tagged(Line::new("TAGMSG").prefix(self.my_mask()).param(&target));
        if self.origin_has(Cap::MessageTags) {
            if self.origin_has(Cap::EchoMessage) {
                self.push(To::Origin, Out::Capable(Cap::MessageTags, line.clone()));
            }
            if irc_lower(&target) == irc_lower(&self.nick) {
                self.push(To::AllUnlabeled, Out::Capable(Cap::MessageTags, line));
                return;
            }
        }
        let Some(state) = input.tag("+typing") else {
            return;
        };
        if !self.cfg.typing_notice {
            return;
        }
        let state = match state {
            "active" => TypingState::Active,
            "paused" => TypingState::Paused,
            _ => TypingState::Done,
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
}

/// As BitlBee's `translate_to_nicks`: a line starting with a member's IRC nick
/// and `:` or `,` goes to the room with their nick in the room instead.
fn translate_to_nicks(ch: &Channel, body: &str) -> String {
    if !ch.cfg.translate_to_nicks {
        return body.to_string();
    }
    let head: String = body.chars().take(crate::nick::NICKLEN).collect();
    let Some(cut) = head.find([':', ',']) else {
        return body.to_string();
    };
    let (Some(nick), Some(rest)) = (head.get(..cut), body.get(cut..)) else {
        return body.to_string();
    };
    match ch
        .members
        .get(&irc_lower(nick))
        .and_then(|m| m.room_nick.as_deref())
    {
        Some(room_nick) => format!("{room_nick}{rest}"),
        None => body.to_string(),
    }
}

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
