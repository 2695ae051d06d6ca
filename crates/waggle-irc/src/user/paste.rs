//! Outgoing one-to-one messages, with `paste_buffer`: lines a client sends in
//! quick succession to the same contact are joined into one multi-line message.
//! The buffer is the client's own (it is about one keyboard).

use tokio::time::Instant;
use waggle_core::{AccountId, Command, Conversation, Direction, MessageKind};

use super::Cx;
use super::cx::Shown;
use crate::outbox::{Out, To};

/// Lines waiting to go out together.
#[derive(Debug)]
pub(crate) struct Paste {
    account: AccountId,
    handle: String,
    nick: String,
    lines: Vec<String>,
    /// The channel the lines were already shown (and logged) in, when they were
    /// typed there as "nick: text"; `None` for a query.
    shown_in: Option<String>,
    pub deadline: Instant,
}

impl Cx<'_> {
    /// Send a message to a contact, through the paste buffer when it is on.
    pub(crate) fn queue_message(
        &mut self,
        account: AccountId,
        handle: String,
        nick: String,
        body: String,
        kind: MessageKind,
        shown_in: Option<String>,
    ) {
        if !self.cfg.paste_buffer || kind != MessageKind::Normal || self.client.is_none() {
            self.flush_paste();
            self.send_now(account, handle, &nick, body, kind, shown_in.is_some());
            return;
        }
        let deadline = Instant::now() + self.cfg.paste_buffer_delay;
        if let Some(p) = self.client.as_mut().and_then(|c| c.paste.as_mut())
            && p.account == account
            && p.handle == handle
            && p.shown_in == shown_in
        {
            p.lines.push(body);
            p.deadline = deadline;
            return;
        }
        self.flush_paste();
        if let Some(c) = self.client.as_mut() {
            c.paste = Some(Paste {
                account,
                handle,
                nick,
                lines: vec![body],
                shown_in,
                deadline,
            });
        }
    }

    /// Send what the origin's paste buffer holds.
    pub(crate) fn flush_paste(&mut self) {
        if let Some(p) = self.client.as_mut().and_then(|c| c.paste.take()) {
            self.send_now(
                p.account,
                p.handle,
                &p.nick,
                p.lines.join("\n"),
                MessageKind::Normal,
                p.shown_in.is_some(),
            );
        }
    }

    /// Log the message, send it to the account, and show it on the user's other
    /// clients (and the origin with echo-message), unless it was `shown` where
    /// it was typed already.
    fn send_now(
        &mut self,
        account: AccountId,
        handle: String,
        nick: &str,
        body: String,
        kind: MessageKind,
        shown: bool,
    ) {
        let msgid = super::new_msgid();
        let command = Command::SendMessage {
            to: handle.clone(),
            body: body.clone(),
            kind,
            id: Some(msgid.clone()),
        };
        if let Err(e) = self.check_command(account, &command) {
            self.send_failed(nick, e);
            return;
        }
        if shown {
            self.push(
                To::Origin,
                Out::Command {
                    account,
                    command: Box::new(command),
                    target: nick.to_string(),
                },
            );
            return;
        }
        let mask = self.my_mask();
        let conversation = Conversation::Contact {
            account: self.conversation_account(account),
            handle,
        };
        self.show(
            To::Echo,
            Shown {
                mask: &mask,
                target: nick,
                body: &body,
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
                target: nick.to_string(),
            },
        );
    }
}
