//! The Skype account's state machine, without I/O: it takes skyped's lines and
//! the core's commands, and yields the lines to send and the events to report,
//! in order. The session loop owns the socket and feeds it.
//!
//! The state lives in one [`Engine`]; each concern has its own module: contacts
//! and groups, chats (chat id ↔ room) and their messages, calls and file
//! transfers, and the profile lines of `info`.

mod calls;
mod chats;
mod contacts;
mod info;
mod messages;

use std::collections::BTreeMap;

use waggle_core::{Command, Event, MessageKind, QuestionId};

use crate::config::SkypeConfig;
use crate::protocol::{self, Kind, Reply};

/// The console contact's handle.
pub const CONSOLE: &str = "skypeconsole";

/// Something the engine wants done, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// A line for skyped (without the newline).
    Line(String),
    /// An event for the core.
    Event(Event),
}

/// What a pending question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Question {
    /// Someone asked to add us.
    Auth(String),
    /// Someone is calling (the call id).
    Call(String),
}

/// One Skype account's protocol state.
#[derive(Debug)]
pub struct Engine {
    cfg: SkypeConfig,
    me: String,
    online: bool,
    out: Vec<Out>,
    /// The status we last asked for, to not repeat it.
    requested_status: String,
    questions: BTreeMap<u64, Question>,
    next_question: u64,
    contacts: contacts::Contacts,
    chats: chats::Chats,
    calls: calls::Calls,
    info: info::Info,
}

/// Skype's away states: (code, name), as `/away <name>` selects them.
const AWAY_STATES: &[(&str, &str)] = &[
    ("AWAY", "Away"),
    ("NA", "Not available"),
    ("DND", "Do Not Disturb"),
    ("INVISIBLE", "Invisible"),
];

/// The USERSTATUS for an away text: a state's name or code picks that state,
/// anything else is plain away; no text is online.
pub fn status_for(away: Option<&str>) -> &'static str {
    let Some(text) = away.map(str::trim).filter(|t| !t.is_empty()) else {
        return "ONLINE";
    };
    AWAY_STATES
        .iter()
        .find(|(code, name)| text.eq_ignore_ascii_case(code) || text.eq_ignore_ascii_case(name))
        .map(|(code, _)| *code)
        .unwrap_or("AWAY")
}

impl Engine {
    /// An engine for the account `me`.
    pub fn new(cfg: SkypeConfig, me: &str) -> Engine {
        Engine {
            cfg,
            me: me.to_string(),
            online: false,
            out: Vec::new(),
            requested_status: String::new(),
            questions: BTreeMap::new(),
            next_question: 1,
            contacts: Default::default(),
            chats: Default::default(),
            calls: Default::default(),
            info: Default::default(),
        }
    }

    /// Whether skyped confirmed the login (commands are taken from then on).
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Take what is to be done.
    pub fn drain(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    fn send(&mut self, line: String) {
        self.out.push(Out::Line(line));
    }

    fn emit(&mut self, event: Event) {
        self.out.push(Out::Event(event));
    }

    fn notice(&mut self, text: String) {
        self.emit(Event::Notice { text });
    }

    fn error(&mut self, text: String) {
        self.emit(Event::Error { text });
    }

    fn is_me(&self, handle: &str) -> bool {
        handle.eq_ignore_ascii_case(&self.me)
    }

    fn ask(&mut self, about: Question, text: String) {
        let id = self.next_question;
        self.next_question += 1;
        self.questions.insert(id, about);
        self.emit(Event::QuestionAsked {
            id: QuestionId(id),
            text,
        });
    }

    /// skyped accepted our password: ask for the groups and the friends, go
    /// online, and set the status and profile the settings ask for. The account
    /// counts as logged in once skyped confirms our status (by then the friends
    /// are being asked for, so commands queued meanwhile come after that).
    pub fn start(&mut self) {
        self.send(protocol::search("GROUPS CUSTOM"));
        self.send(protocol::search("FRIENDS"));
        self.send(protocol::set_userstatus("ONLINE"));
        if self.cfg.auto_join {
            self.send(protocol::search("BOOKMARKEDCHATS"));
        }
        let status = status_for(self.cfg.away.as_deref());
        self.requested_status = status.to_string();
        self.send(protocol::set_userstatus(status));
        if let Some(name) = self.cfg.display_name.clone() {
            self.send(protocol::set_profile("FULLNAME", &name));
        }
        if let Some(mood) = self.cfg.mood_text.clone() {
            self.send(protocol::set_profile("MOOD_TEXT", &mood));
        }
    }

    /// Handle one line from skyped.
    pub fn on_line(&mut self, line: &str) {
        let reply = protocol::parse(line);
        if self.cfg.skypeconsole_receive && !matches!(reply, Reply::Ping | Reply::Pong) {
            self.emit(Event::ConsoleLine {
                from: CONSOLE.into(),
                line: line.to_string(),
            });
        }
        match reply {
            Reply::Ping => self.send("PONG".into()),
            Reply::Pong | Reply::Password(_) | Reply::Other => {}
            Reply::Users(users) => self.on_users(users),
            Reply::Groups(ids) => self.on_groups(ids),
            Reply::Chats(ids) => self.on_bookmarked_chats(ids),
            Reply::UserStatus(_) => {
                if !self.online {
                    self.online = true;
                    self.emit(Event::LoggedIn);
                    if self.cfg.skypeconsole {
                        self.emit(contacts::console_contact());
                    }
                }
            }
            Reply::Profile(p) => {
                if p.name == "PSTN_BALANCE" {
                    self.notice(format!("SkypeOut balance value is '{}'.", p.value));
                }
            }
            Reply::AlterGroup { id, action, handle } => self.on_alter_group(&id, &action, &handle),
            Reply::Error(text) => self.error(format!("skyped said: ERROR {text}")),
            Reply::Object(obj, prop) => match obj.kind {
                Kind::User => self.on_user(&obj.id, &prop.name, &prop.value),
                Kind::Group => self.on_group(&obj.id, &prop.name, &prop.value),
                Kind::Chat => self.on_chat(&obj.id, &prop.name, &prop.value),
                Kind::ChatMessage => self.on_chat_message(&obj.id, &prop.name, &prop.value),
                Kind::Call => self.on_call(&obj.id, &prop.name, &prop.value),
                Kind::FileTransfer => self.on_file_transfer(&obj.id, &prop.name, &prop.value),
            },
        }
    }

    /// Handle one command from the core.
    pub fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::SendMessage {
                to,
                body,
                kind,
                id: _,
            } => {
                let console = to.eq_ignore_ascii_case(CONSOLE);
                for line in protocol::body_lines(&body) {
                    if console {
                        self.send(line);
                    } else {
                        let text = with_kind(&line, kind);
                        self.send(protocol::message(&to, &text));
                    }
                }
            }
            Command::SendRoomMessage {
                room,
                body,
                kind,
                id: _,
            } => {
                for line in protocol::body_lines(&body) {
                    let text = with_kind(&line, kind);
                    self.send(protocol::chat_message(&room.0, &text));
                }
            }
            Command::SetPresence { away, .. } => {
                let status = status_for(away.as_deref());
                if status != self.requested_status {
                    self.requested_status = status.to_string();
                    self.send(protocol::set_userstatus(status));
                }
            }
            Command::AddContact { handle, group } => self.add_contact(&handle, group.as_deref()),
            Command::RemoveContact { handle } => {
                self.send(protocol::set("USER", &handle, "BUDDYSTATUS", "1"));
            }
            Command::Block { handle } => {
                self.send(protocol::set("USER", &handle, "ISBLOCKED", "TRUE"));
            }
            Command::Allow { handle } => {
                self.send(protocol::set("USER", &handle, "ISBLOCKED", "FALSE"));
            }
            Command::GetInfo { handle } => self.request_info(&handle),
            Command::AnswerQuestion { id, accept } => self.answer(id, accept),
            Command::JoinRoom { room, .. } => self.join_room(&room.0),
            Command::LeaveRoom { room } => self.leave_room(&room.0),
            Command::SetTopic { room, topic } => self.set_topic(&room.0, &topic),
            Command::InviteToRoom { room, handle } => {
                self.send(protocol::alter_chat(&room.0, "ADDMEMBERS", Some(&handle)));
            }
            Command::KickFromRoom { room, nick, .. } => {
                self.send(protocol::alter_chat(&room.0, "KICK", Some(&nick)));
            }
            Command::ChatWith { handle } => self.chat_with(&handle),
            Command::Raw { line } => {
                for l in protocol::body_lines(&line) {
                    self.send(l);
                }
            }
            Command::ContactAction {
                handle,
                action,
                args,
            } => match action.as_str() {
                "CALL" => {
                    let target = if args.is_empty() {
                        handle
                    } else {
                        args.join(" ")
                    };
                    self.send(protocol::call(&target));
                }
                "HANGUP" => self.hang_up(),
                other => self.error(format!("Unknown action {other}")),
            },
            Command::ApplySetting { key, value } => self.apply_setting(&key, value),
            Command::SendTyping { .. } | Command::ListRooms { .. } => {
                // Not in the capabilities: the core never sends these.
            }
        }
    }

    fn answer(&mut self, id: QuestionId, accept: bool) {
        match self.questions.remove(&id.0) {
            Some(Question::Auth(handle)) => {
                let value = if accept { "TRUE" } else { "FALSE" };
                self.send(protocol::set("USER", &handle, "ISAUTHORIZED", value));
            }
            Some(Question::Call(call)) => {
                let value = if accept { "INPROGRESS" } else { "FINISHED" };
                self.send(protocol::set("CALL", &call, "STATUS", value));
            }
            None => {}
        }
    }

    fn apply_setting(&mut self, key: &str, value: Option<String>) {
        let value = value.filter(|v| !v.trim().is_empty());
        match key {
            "call" => match value {
                Some(target) => self.send(protocol::call(&target)),
                None => self.hang_up(),
            },
            "balance" => self.send("GET PROFILE PSTN_BALANCE".into()),
            "display_name" => {
                let name = value.unwrap_or_default();
                self.send(protocol::set_profile("FULLNAME", &name));
                self.cfg.display_name = Some(name).filter(|n| !n.is_empty());
            }
            "mood_text" => {
                let mood = value.unwrap_or_default();
                self.send(protocol::set_profile("MOOD_TEXT", &mood));
                self.cfg.mood_text = Some(mood).filter(|m| !m.is_empty());
            }
            "edit_prefix" => {
                self.cfg.edit_prefix = value.unwrap_or_else(|| "EDIT:".into());
            }
            other => {
                let flag = value
                    .as_deref()
                    .and_then(waggle_core::settings::parse_bool)
                    .unwrap_or_else(|| SkypeConfig::flag_default(other));
                let was_console = self.cfg.skypeconsole;
                if self.cfg.set_flag(other, flag) && other == "skypeconsole" && flag && !was_console
                {
                    self.emit(contacts::console_contact());
                }
            }
        }
    }
}

fn with_kind(line: &str, kind: MessageKind) -> String {
    match kind {
        MessageKind::Action => format!("/me {line}"),
        MessageKind::Normal | MessageKind::Notice => line.to_string(),
    }
}

#[cfg(test)]
mod tests;
