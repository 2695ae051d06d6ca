//! The only way the user task makes IRC output: handlers push [`Out`] items
//! addressed [`To`] an audience, and the task flushes them after each input, in
//! order: a message with a log entry is appended to the message log first, and
//! only then rendered for each attached client (store, then fan out).
//!
//! Items stay semantic where clients differ (extended-join, NAMES prefixes,
//! typing notices, server-time and timestamps), so each client gets the form
//! its capabilities ask for.

use std::time::SystemTime;

use waggle_core::{AccountId, Command, LogEntry, MessageKind, TypingState};

use crate::caps::Cap;
use crate::line::Line;

/// A client of the user, unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClientId(pub u64);

/// Who gets an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum To {
    /// The client whose input is being handled; every client when the input is
    /// not a client's (a backend event, a timer).
    Origin,
    /// Every attached client.
    All,
    /// Every client but an origin that did not ask for `echo-message`: what the
    /// user sent, shown on their other devices and echoed where asked.
    Echo,
    /// One client.
    Client(ClientId),
    /// Every attached client, never as part of a labeled reply (a message to
    /// oneself is delivered apart from its echo).
    AllUnlabeled,
}

/// A JOIN, with the extended-join form for clients that asked for it.
#[derive(Debug, Clone)]
pub(crate) struct Join {
    pub mask: String,
    pub channel: String,
    /// The account name (`*` for none) and real name of extended-join.
    pub account: String,
    pub realname: String,
}

/// One member in a NAMES reply.
#[derive(Debug, Clone)]
pub(crate) struct NameEntry {
    /// Channel modes held, strongest first (`@+`).
    pub modes: String,
    pub nick: String,
    pub mask: String,
}

/// A 353/366 reply.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// The user's nick (the numeric's target).
    pub me: String,
    pub channel: String,
    pub entries: Vec<NameEntry>,
}

/// A message shown to the user (from a contact, a room, root, or the user's own
/// from another client).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// Who it is from (`nick!user@host`).
    pub mask: String,
    /// Where it shows (a channel, the user's nick for a query, or a contact's
    /// nick for the user's own messages).
    pub target: String,
    /// The text, possibly several lines.
    pub body: String,
    pub kind: MessageKind,
    /// Server time.
    pub at: SystemTime,
    /// Sent well before it arrived (offline storage, history, catch-up): shown
    /// with its time for clients without server-time.
    pub delayed: bool,
    /// The message's id (`msgid` tag).
    pub msgid: String,
    /// Appended to the message log before anyone sees it; a duplicate of a
    /// logged message is dropped.
    pub log: Option<LogEntry>,
    /// The log position once appended (for read positions).
    pub seq: Option<i64>,
}

/// An IRC output item.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    /// A line; tags are dropped for clients that did not ask for them.
    Line(Line),
    /// A line only for clients with the capability.
    Capable(Cap, Line),
    /// A JOIN.
    Join(Join),
    /// A NAMES reply.
    Names(Names),
    /// A message.
    Message(Box<Delivery>),
    /// A typing notice: TAGMSG `+typing` with message-tags, else CTCP TYPING.
    Typing {
        mask: String,
        target: String,
        state: TypingState,
    },
    /// An item inside a batch the origin opened (CHATHISTORY): its lines carry
    /// the batch tag.
    Batched(String, Box<Out>),
    /// The read marker of a target (`MARKREAD`), read from the log when flushed,
    /// for clients that take read markers.
    ReadMarker(String),
    /// A command for an account, sent in order with the output (after the
    /// message log has what precedes it). A refusal is reported to the origin
    /// as 404 on `target`.
    Command {
        account: AccountId,
        command: Box<Command>,
        target: String,
    },
}

/// Output collected while one input is handled.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    items: Vec<(To, Out)>,
}

impl Outbox {
    /// Queue an item.
    pub fn push(&mut self, to: To, out: Out) {
        self.items.push((to, out));
    }

    /// Queue a line.
    pub fn line(&mut self, to: To, line: Line) {
        self.items.push((to, Out::Line(line)));
    }

    /// Queue the last message again for `to`, with the same id and time but not
    /// logged a second time (a message to oneself and its echo).
    pub fn echo_last(&mut self, to: To) {
        let copy = self.items.iter().rev().find_map(|(_, o)| match o {
            Out::Message(d) => {
                let mut d = d.clone();
                d.log = None;
                Some(Out::Message(d))
            }
            _ => None,
        });
        if let Some(copy) = copy {
            self.items.push((to, copy));
        }
    }

    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Drop what was queued after the first `len` items.
    pub fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
    }

    /// Take everything queued, in order.
    pub fn take(&mut self) -> Vec<(To, Out)> {
        std::mem::take(&mut self.items)
    }
}
