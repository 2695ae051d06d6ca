//! Chats: which Skype chat ids are shown as rooms, their members and topic.
//!
//! One-to-one dialogs (`STATUS DIALOG`) stay private conversations, unlike in
//! BitlBee 3.4.2 and later; a dialog becomes a room only when the user asked for
//! it (`chat with`, or `/join` of its id). Group chats (`MULTI_SUBSCRIBED`) are
//! rooms as soon as skyped mentions them.
//!
//! When a group chat shows up Waggle asks for its adder and topic. With
//! `skypeconsole_receive` on it asks once per chat, members included, so the
//! console isn't flooded with the same answers; without it, it asks again at
//! every `MULTI_SUBSCRIBED` status, as BitlBee's plugin did, which keeps the
//! topic fresh when a chat is re-subscribed. (The recorded transcripts come
//! from both behaviours of the plugin.)

use std::collections::{BTreeMap, BTreeSet};

use waggle_core::{Event, Occupant, Role, RoomId};

use super::Engine;
use super::messages::Pending;
use crate::protocol;

/// What we know of one chat.
#[derive(Debug, Default)]
struct Chat {
    /// Shown as a room now.
    joined: bool,
    /// We left it ourselves: ignore its member updates.
    left_by_us: bool,
    /// The user asked for it (`/join`, a bookmark): make it a room when it shows.
    wanted: bool,
    /// Members other than us, by handle.
    members: BTreeSet<String>,
    topic: String,
    adder: Option<String>,
    /// We changed the topic and wait for skyped to confirm it.
    topic_wait: bool,
}

/// All chats skyped told us about, and the messages being fetched.
#[derive(Debug, Default)]
pub(super) struct Chats {
    chats: BTreeMap<String, Chat>,
    /// `chat with` was asked: the next dialog is its room.
    pending_with: Option<String>,
    pub(super) messages: BTreeMap<String, Pending>,
}

impl Chats {
    /// Whether the chat is shown as a room.
    pub(super) fn is_room(&self, id: &str) -> bool {
        self.chats.get(id).is_some_and(|c| c.joined)
    }
}

impl Engine {
    fn chat(&mut self, id: &str) -> &mut Chat {
        self.chats.chats.entry(id.to_string()).or_default()
    }

    fn query_chat(&mut self, id: &str, members: bool) {
        self.send(protocol::get("CHAT", id, "ADDER"));
        self.send(protocol::get("CHAT", id, "TOPIC"));
        if members {
            self.send(protocol::get("CHAT", id, "ACTIVEMEMBERS"));
        }
    }

    fn occupant(&self, handle: &str) -> Occupant {
        let me = self.is_me(handle);
        Occupant {
            nick: handle.to_string(),
            handle: Some(handle.to_string()),
            // Any member may invite and set the topic; we show ourselves as op.
            role: if me {
                Role::Moderator
            } else {
                Role::Participant
            },
            is_self: me,
        }
    }

    /// Show a chat as a room, with only us in it so far.
    fn open_room(&mut self, id: &str) {
        let me = self.me.clone();
        let occupant = self.occupant(&me);
        let chat = self.chat(id);
        chat.joined = true;
        chat.left_by_us = false;
        chat.members.clear();
        chat.topic.clear();
        self.emit(Event::RoomJoined {
            room: RoomId(id.to_string()),
            topic: None,
            occupants: vec![occupant],
        });
    }

    pub(super) fn on_chat(&mut self, id: &str, prop: &str, value: &str) {
        match prop {
            "STATUS" => self.on_chat_status(id, value.trim()),
            "MEMBERS" => self.on_chat_members(id, value),
            "ADDER" => {
                self.chat(id).adder = Some(value.trim().to_string()).filter(|a| !a.is_empty());
            }
            "TOPIC" => {
                let chat = self.chat(id);
                let by = if chat.topic_wait {
                    Some(String::new())
                } else {
                    chat.adder.clone()
                };
                chat.topic_wait = false;
                let changed = chat.joined && chat.topic != value;
                chat.topic = value.to_string();
                if changed {
                    let by = by.map(|b| if b.is_empty() { self.me.clone() } else { b });
                    self.emit(Event::TopicChanged {
                        room: RoomId(id.to_string()),
                        by,
                        topic: value.to_string(),
                    });
                }
            }
            _ => {}
        }
    }

    fn on_chat_status(&mut self, id: &str, status: &str) {
        let once = self.cfg.skypeconsole_receive;
        let joined = self.chats.is_room(id);
        match status {
            "MULTI_SUBSCRIBED" => {
                if !joined {
                    self.open_room(id);
                    self.query_chat(id, once);
                } else if !once {
                    self.query_chat(id, false);
                }
            }
            "DIALOG" | "LEGACY_DIALOG" if !joined => {
                let asked = self.chats.pending_with.take().is_some();
                let wanted = std::mem::take(&mut self.chat(id).wanted);
                if asked || wanted {
                    self.open_room(id);
                    self.query_chat(id, true);
                }
            }
            "UNSUBSCRIBED" => {
                let chat = self.chat(id);
                if chat.joined {
                    chat.joined = false;
                    chat.members.clear();
                    self.emit(Event::RoomLeft {
                        room: RoomId(id.to_string()),
                        reason: Some("You are no longer in this chat".into()),
                    });
                } else if std::mem::take(&mut chat.wanted) && !chat.left_by_us {
                    // A bookmarked chat we had left: come back.
                    self.send(protocol::alter_chat(id, "JOIN", None));
                }
            }
            _ => {}
        }
    }

    fn on_chat_members(&mut self, id: &str, value: &str) {
        if !self.chats.is_room(id) {
            return;
        }
        let now: BTreeSet<String> = value
            .split_whitespace()
            .filter(|h| !self.is_me(h))
            .map(str::to_string)
            .collect();
        let before = std::mem::replace(&mut self.chat(id).members, now.clone());
        let room = RoomId(id.to_string());
        for h in now.difference(&before) {
            let occupant = self.occupant(h);
            self.emit(Event::OccupantUpdated {
                room: room.clone(),
                occupant,
            });
        }
        for h in before.difference(&now) {
            self.emit(Event::OccupantLeft {
                room: room.clone(),
                nick: h.clone(),
                reason: None,
                kicked_by: None,
            });
        }
    }

    /// Someone left a room (a `LEFT` chat message).
    pub(super) fn member_left(&mut self, id: &str, handle: &str) {
        if self.chats.is_room(id) && self.chat(id).members.remove(handle) {
            self.emit(Event::OccupantLeft {
                room: RoomId(id.to_string()),
                nick: handle.to_string(),
                reason: None,
                kicked_by: None,
            });
        }
    }

    /// A topic from a `SETTOPIC` chat message.
    pub(super) fn topic_set(&mut self, id: &str, by: &str, topic: &str) {
        if !self.chats.is_room(id) {
            return;
        }
        let chat = self.chat(id);
        if chat.topic == topic {
            return;
        }
        chat.topic = topic.to_string();
        self.emit(Event::TopicChanged {
            room: RoomId(id.to_string()),
            by: Some(by.to_string()),
            topic: topic.to_string(),
        });
    }

    pub(super) fn on_bookmarked_chats(&mut self, ids: Vec<String>) {
        for id in ids {
            self.chat(&id).wanted = true;
            self.send(protocol::get("CHAT", &id, "STATUS"));
        }
    }

    /// `/join` of a chat channel: a chat id is (re)joined, anything else is taken
    /// as handles to start a chat with.
    pub(super) fn join_room(&mut self, id: &str) {
        if self.chats.is_room(id) {
            let me = self.me.clone();
            let chat = self.chat(id);
            let members: Vec<String> = chat.members.iter().cloned().collect();
            let topic = Some(chat.topic.clone()).filter(|t| !t.is_empty());
            let occupants = std::iter::once(me)
                .chain(members)
                .map(|h| self.occupant(&h))
                .collect();
            self.emit(Event::RoomJoined {
                room: RoomId(id.to_string()),
                topic,
                occupants,
            });
            return;
        }
        if !id.starts_with('#') {
            self.chat_with(id);
            return;
        }
        let chat = self.chat(id);
        chat.wanted = true;
        chat.left_by_us = false;
        self.send(protocol::alter_chat(id, "JOIN", None));
        self.send(protocol::get("CHAT", id, "STATUS"));
    }

    pub(super) fn leave_room(&mut self, id: &str) {
        let chat = self.chat(id);
        chat.joined = false;
        chat.left_by_us = true;
        chat.wanted = false;
        chat.members.clear();
        self.send(protocol::alter_chat(id, "LEAVE", None));
    }

    pub(super) fn set_topic(&mut self, id: &str, topic: &str) {
        self.chat(id).topic_wait = true;
        self.send(protocol::alter_chat(id, "SETTOPIC", Some(topic)));
    }

    pub(super) fn chat_with(&mut self, handle: &str) {
        self.chats.pending_with = Some(handle.to_string());
        self.send(protocol::chat_create(handle));
    }
}
