//! Chat messages: a new (`STATUS RECEIVED`) or edited (`EDITED_TIMESTAMP`) message
//! is known by its id only, so its sender, body, type and chat are asked for;
//! when the chat name arrives, the message is delivered (privately, or in its
//! room) and a received one is marked seen.

use waggle_core::{Event, MessageKind, RoomId};

use super::Engine;
use crate::protocol;

/// How many messages may be half-known at once (bounds memory when skyped
/// sends properties of messages we never complete: with [`MAX_BODY`], 16 MiB
/// at most).
const MAX_PENDING: usize = 64;
/// The longest message body kept, in bytes (a long paste still arrives
/// whole); the rest is cut off and marked.
pub const MAX_BODY: usize = 256 * 1024;
/// What marks a body that was cut.
const CUT: &str = " [message cut]";

/// A message whose properties are arriving.
#[derive(Debug, Default)]
pub(super) struct Pending {
    from: Option<String>,
    /// One entry per line (skyped sends a multi-line body as several BODY lines).
    body: Vec<String>,
    /// Bytes in `body`.
    body_len: usize,
    /// Lines were dropped or cut to keep the body within [`MAX_BODY`].
    cut: bool,
    kind: Option<String>,
    edited: bool,
    /// A new message (to be marked seen), not an edit.
    received: bool,
}

impl Pending {
    /// Add a line of the body, as far as [`MAX_BODY`] allows.
    fn add_line(&mut self, line: &str) {
        let room = MAX_BODY.saturating_sub(self.body_len);
        if room == 0 {
            self.cut = true;
            return;
        }
        let kept = protocol::truncated(line, room);
        self.cut |= kept.len() < line.len();
        self.body_len += kept.len() + 1;
        self.body.push(kept.to_string());
    }
}

impl Engine {
    fn pending(&mut self, id: &str) -> &mut Pending {
        let messages = &mut self.chats.messages;
        if !messages.contains_key(id) && messages.len() >= MAX_PENDING {
            messages.pop_first();
        }
        messages.entry(id.to_string()).or_default()
    }

    pub(super) fn on_chat_message(&mut self, id: &str, prop: &str, value: &str) {
        match prop {
            "STATUS" if value.trim() == "RECEIVED" => {
                *self.pending(id) = Pending {
                    received: true,
                    ..Pending::default()
                };
                for what in ["FROM_HANDLE", "BODY", "TYPE", "CHATNAME"] {
                    self.send(protocol::get("CHATMESSAGE", id, what));
                }
            }
            "EDITED_TIMESTAMP" if !matches!(value.trim(), "" | "0") => {
                let p = self.pending(id);
                p.edited = true;
                let need_body = p.body.is_empty();
                self.send(protocol::get("CHATMESSAGE", id, "FROM_HANDLE"));
                if need_body {
                    self.send(protocol::get("CHATMESSAGE", id, "BODY"));
                }
                self.send(protocol::get("CHATMESSAGE", id, "TYPE"));
                self.send(protocol::get("CHATMESSAGE", id, "CHATNAME"));
            }
            "FROM_HANDLE" | "EDITED_BY" => {
                if let Some(p) = self.chats.messages.get_mut(id) {
                    p.from = Some(value.trim().to_string());
                }
            }
            "BODY" => self.pending(id).add_line(value),
            "TYPE" => {
                if let Some(p) = self.chats.messages.get_mut(id) {
                    p.kind = Some(value.trim().to_string());
                }
            }
            "CHATNAME" => self.deliver(id, value.trim()),
            _ => {}
        }
    }

    fn deliver(&mut self, id: &str, chat: &str) {
        let Some(p) = self.chats.messages.remove(id) else {
            return;
        };
        let (Some(from), Some(kind)) = (p.from, p.kind) else {
            return;
        };
        let mut body = p.body.join("\n");
        if p.cut {
            body.push_str(CUT);
        }
        let room = self.chats.is_room(chat);
        match kind.as_str() {
            "SAID" | "EMOTED" => {
                if body.trim().is_empty() || self.is_me(&from) {
                    return;
                }
                let (text, kind) = match (kind.as_str(), p.edited) {
                    ("EMOTED", _) => (body, MessageKind::Action),
                    (_, true) => (
                        format!("{} {body}", self.cfg.edit_prefix),
                        MessageKind::Normal,
                    ),
                    _ => (body, MessageKind::Normal),
                };
                let event = if room {
                    Event::RoomMessage {
                        room: RoomId(chat.to_string()),
                        from,
                        body: text,
                        kind,
                        sent_at: None,
                        ids: Default::default(),
                    }
                } else {
                    Event::MessageReceived {
                        from,
                        body: text,
                        kind,
                        sent_at: None,
                        from_self: false,
                        ids: Default::default(),
                    }
                };
                self.emit(event);
                if p.received {
                    self.send(protocol::set_seen(id));
                }
            }
            "SETTOPIC" => self.topic_set(chat, &from, &body),
            "LEFT" => self.member_left(chat, &from),
            _ => {}
        }
    }
}
