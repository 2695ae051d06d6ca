//! The narrow context a handler gets: the user's state, the client whose input
//! is being handled (if any), the outbox, and requests to the task. Reading the
//! state goes through `Deref` to [`User`]; output goes only through the outbox.

use std::ops::{Deref, DerefMut};
use std::time::SystemTime;

use tokio::sync::mpsc;
use waggle_core::{Conversation, Direction, LogEntry, MessageKind};

use super::{CONTROL_CHANNEL, User, UserInput};
use crate::caps::Cap;
use crate::client::Client;
use crate::line::Line;
use crate::nick::irc_lower;
use crate::outbox::{Delivery, Out, Outbox, To};

/// What a handler asks of the task, carried out once it returns.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Hand the origin client over to this running user task, with root's
    /// greeting for it; this session then only forwards its lines.
    pub handover: Option<(mpsc::Sender<UserInput>, Option<String>)>,
    /// The user was deleted: let every client go with this reason and end.
    pub end: Option<String>,
}

/// Messages younger than this are shown without a timestamp prefix.
const TIMESTAMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// `t` without its sub-millisecond part.
fn truncate_to_millis(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(d.as_millis() as u64),
        Err(_) => t,
    }
}

/// A handler's context.
pub(crate) struct Cx<'a> {
    pub(super) u: &'a mut User,
    /// The client whose line is being handled; `None` for backend events and timers.
    pub client: Option<&'a mut Client>,
    pub out: &'a mut Outbox,
    pub ctl: &'a mut Control,
    /// Where root answers a command: the window it was typed in (the query with
    /// root, or the control channel).
    pub reply_to: Option<String>,
}

impl Deref for Cx<'_> {
    type Target = User;
    fn deref(&self) -> &User {
        self.u
    }
}

impl DerefMut for Cx<'_> {
    fn deref_mut(&mut self) -> &mut User {
        self.u
    }
}

/// A message to show, before it is logged and fanned out.
pub(crate) struct Shown<'a> {
    pub mask: &'a str,
    pub target: &'a str,
    pub body: &'a str,
    pub kind: MessageKind,
    /// When it was sent, if the network says (a delayed message).
    pub sent_at: Option<SystemTime>,
    /// Where it is logged (`None`: not logged).
    pub conversation: Option<Conversation>,
    pub direction: Direction,
    pub archive_id: Option<String>,
    pub origin_id: Option<String>,
}

impl Cx<'_> {
    /// Whether the origin client enabled `cap`.
    pub fn origin_has(&self, cap: Cap) -> bool {
        self.client.as_ref().is_some_and(|c| c.has(cap))
    }

    /// Check a login password through the brute-force guard: the attempt waits
    /// as long as earlier failures for this name or address ask, and its outcome
    /// is counted (and logged with the address, never with the password).
    pub async fn check_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<(waggle_core::UserId, waggle_core::UserKey)>, waggle_core::StoreError> {
        let peer = self.client.as_ref().and_then(|c| c.peer);
        let wait = self.shared.guard.delay(name, peer);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let result = self.shared.store.authenticate(name, password).await;
        match &result {
            Ok(Some(_)) => self.shared.guard.succeeded(name),
            Ok(None) => {
                tracing::info!(user = %name, peer = ?peer, "wrong password");
                self.shared.guard.failed(name, peer);
            }
            Err(_) => {}
        }
        result
    }

    /// The origin's pending password prompt.
    pub fn prompt(&self) -> Option<super::state::Prompt> {
        self.client.as_ref().and_then(|c| c.prompt)
    }

    /// Ask the origin for a password through /OPER (or clear the prompt).
    pub fn set_prompt(&mut self, prompt: Option<super::state::Prompt>) {
        if let Some(c) = self.client.as_mut() {
            c.prompt = prompt;
        }
    }

    /// Reply to the origin (every client when there is none).
    pub fn send(&mut self, line: Line) {
        self.out.line(To::Origin, line);
    }

    /// A line for every attached client.
    pub fn all(&mut self, line: Line) {
        self.out.line(To::All, line);
    }

    /// Queue an item.
    pub fn push(&mut self, to: To, out: Out) {
        self.out.push(to, out);
    }

    /// Root speaks. Answering a command, only to the client that typed it, in
    /// the window it was typed in; otherwise (an account's news, a question) to
    /// every client, logged, in the control channel when the user is in it,
    /// else privately. Several lines become several messages.
    pub fn root_say(&mut self, text: &str) {
        let mask = self.root_mask();
        if self.client.is_some() {
            let target = match &self.reply_to {
                Some(t) => t.clone(),
                None => self.root_window(),
            };
            for line in text.split('\n') {
                let line = if line.is_empty() { " " } else { line };
                self.send(
                    Line::new("PRIVMSG")
                        .prefix(&mask)
                        .param(&target)
                        .param(line),
                );
            }
            return;
        }
        let target = self.root_window();
        let conversation = if target.starts_with(['&', '#']) {
            Conversation::Local(irc_lower(&target))
        } else {
            Conversation::Local(irc_lower(&self.root_nick()))
        };
        let body: Vec<&str> = text
            .split('\n')
            .map(|l| if l.is_empty() { " " } else { l })
            .collect();
        self.show(
            To::All,
            Shown {
                mask: &mask,
                target: &target,
                body: &body.join("\n"),
                kind: MessageKind::Normal,
                sent_at: None,
                conversation: Some(conversation),
                direction: Direction::Incoming,
                archive_id: None,
                origin_id: None,
            },
        );
    }

    /// Where root talks unprompted: the control channel when joined, else the query.
    fn root_window(&self) -> String {
        if self.channel(CONTROL_CHANNEL).is_some_and(|c| c.joined) {
            CONTROL_CHANNEL.to_string()
        } else {
            self.nick.clone()
        }
    }

    /// Show a message: logged first (when it names a conversation; a session
    /// nobody identified logs in memory), then rendered for each client in `to`.
    pub fn show(&mut self, to: To, m: Shown<'_>) {
        let now = SystemTime::now();
        // Server time is kept to the millisecond, as the time tag shows it, so a
        // client's `timestamp=` reference means exactly that message.
        let at = truncate_to_millis(
            m.sent_at
                .map(|t| waggle_core::clock::clamp_remote(t, now))
                .unwrap_or(now),
        );
        // As BitlBee: a timestamp only for what is more than a minute old.
        let delayed = now.duration_since(at).is_ok_and(|d| d >= TIMESTAMP_AGE);
        let msgid = match &m.origin_id {
            Some(id) if m.direction == Direction::Outgoing => id.clone(),
            _ => super::new_msgid(),
        };
        let log = match m.conversation {
            Some(conversation) => Some(LogEntry {
                msgid: msgid.clone(),
                conversation,
                direction: m.direction,
                at,
                kind: m.kind,
                sender: m.mask.to_string(),
                body: m.body.to_string(),
                archive_id: m.archive_id,
                origin_id: m.origin_id,
            }),
            _ => None,
        };
        self.out.push(
            to,
            Out::Message(Box::new(Delivery {
                mask: m.mask.to_string(),
                target: m.target.to_string(),
                body: m.body.to_string(),
                kind: m.kind,
                at,
                delayed,
                msgid,
                log,
                seq: None,
            })),
        );
    }
}
