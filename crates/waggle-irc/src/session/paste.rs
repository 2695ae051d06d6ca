//! Outgoing one-to-one messages, with `paste_buffer`: lines sent in quick
//! succession to the same contact are joined into one multi-line message.

use std::time::Duration;

use tokio::time::Instant;
use waggle_core::{AccountId, Command, MessageKind};

use super::Session;

/// Lines waiting to go out together.
#[derive(Debug)]
pub(crate) struct Paste {
    account: AccountId,
    handle: String,
    nick: String,
    lines: Vec<String>,
    pub deadline: Instant,
}

impl Session {
    /// Send a message to a contact, through the paste buffer when it is on.
    pub(crate) fn queue_message(
        &mut self,
        account: AccountId,
        handle: String,
        nick: String,
        body: String,
        kind: MessageKind,
    ) {
        if !self.flag("paste_buffer") || kind != MessageKind::Normal {
            self.flush_paste();
            self.send_now(account, handle, &nick, body, kind);
            return;
        }
        let delay = self
            .setting("paste_buffer_delay")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(200)
            .min(10_000);
        let deadline = Instant::now() + Duration::from_millis(delay);
        if let Some(p) = &mut self.paste
            && p.account == account
            && p.handle == handle
        {
            p.lines.push(body);
            p.deadline = deadline;
            return;
        }
        self.flush_paste();
        self.paste = Some(Paste {
            account,
            handle,
            nick,
            lines: vec![body],
            deadline,
        });
    }

    /// Send what the paste buffer holds.
    pub(crate) fn flush_paste(&mut self) {
        if let Some(p) = self.paste.take() {
            self.send_now(
                p.account,
                p.handle,
                &p.nick,
                p.lines.join("\n"),
                MessageKind::Normal,
            );
        }
    }

    fn send_now(
        &mut self,
        account: AccountId,
        handle: String,
        nick: &str,
        body: String,
        kind: MessageKind,
    ) {
        if let Err(e) = self.send_command(
            account,
            Command::SendMessage {
                to: handle,
                body,
                kind,
                id: None,
            },
        ) {
            self.send_failed(nick, e);
        }
    }
}
