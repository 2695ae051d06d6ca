//! What the user task handles together before one flush: the account events
//! already queued, and a client's messages to contacts and rooms queued behind
//! one another. Their messages are then logged in one commit instead of one
//! each; nothing is acknowledged to an account, or sent on to it, before that
//! commit.
//!
//! A client's lines are taken together only while they are plain messages to a
//! contact or a room without a label: anything else (a command, a message to
//! root or a control channel, a labelled line) may change how the output before
//! it is rendered, so it ends the batch and is handled on its own.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use irc_proto::{Command as IrcCommand, Message};
use waggle_core::{AccountId, BackendEvent, Conversation};

use super::Task;
use crate::outbox::ClientId;
use crate::user::UserInput;

/// Changed contacts saved together at most, while a backend's events keep coming.
const CONTACT_BATCH: usize = 256;
/// How many queued account events are handled before their output is flushed
/// (and their messages logged) together.
const EVENT_BATCH: usize = 64;
/// How many of a client's queued messages are handled before one flush.
const LINE_BATCH: usize = 64;

impl Task {
    /// Handle `first` and the events already queued behind it (at most
    /// [`EVENT_BATCH`]), then flush what they brought at once, so that their
    /// messages are logged in one commit; each event is acknowledged to its
    /// account only after that.
    pub(super) async fn handle_events(&mut self, first: BackendEvent) {
        let mut handled = Vec::new();
        let mut failed = false;
        let mut next = Some(first);
        while let Some(BackendEvent {
            account,
            seq,
            event,
        }) = next.take()
        {
            let before = self.out.len();
            let step = AssertUnwindSafe(self.cx(None).handle_event(account, event))
                .catch_unwind()
                .await;
            handled.push((account, seq));
            if step.is_err() {
                // The events before it were handled in full: their output stays.
                self.out.truncate(before);
                failed = true;
            } else if handled.len() < EVENT_BATCH
                && self.forward.is_none()
                && self.ctl.end.is_none()
            {
                next = self.events.try_recv().ok();
            }
        }
        self.finish_events(&handled).await;
        if failed {
            self.recover("an event of an account").await;
        }
        self.after_input(None).await;
    }

    /// Flush what the `handled` events brought, save the contacts they changed
    /// once no more events wait (or many contacts do), then acknowledge them.
    async fn finish_events(&mut self, handled: &[(AccountId, u64)]) {
        let step = AssertUnwindSafe(async {
            self.flush(None).await;
            if self.events.is_empty() || self.user.contacts_unsaved.len() >= CONTACT_BATCH {
                self.save_unsaved_contacts().await;
            }
        })
        .catch_unwind()
        .await;
        if step.is_err() {
            self.recover("an event of an account").await;
        }
        for &(account, seq) in handled {
            self.ack(account, seq);
        }
    }

    /// Handle `first` and, while they are plain messages of one client to
    /// contacts or rooms, the lines queued behind it; anything else on its own.
    pub(super) async fn handle_inputs(&mut self, first: UserInput) {
        let mut next = Some(first);
        while let Some(input) = next.take() {
            match input {
                UserInput::Line(id, msg) if self.batchable(id, &msg) => {
                    next = self.lines(id, *msg).await;
                }
                other => {
                    let step = AssertUnwindSafe(self.input(other)).catch_unwind().await;
                    if step.is_err() {
                        self.recover("a command").await;
                    }
                }
            }
        }
    }

    /// Handle `first`, a batchable line of client `id`, and the batchable lines
    /// of that client queued behind it, then flush once; returns the queued
    /// input that ended the batch, still to be handled.
    async fn lines(&mut self, id: ClientId, first: Message) -> Option<UserInput> {
        let mut msg = first;
        let mut handled = 0;
        let mut failed = false;
        let left = loop {
            let before = self.out.len();
            let step = AssertUnwindSafe(self.cx(Some(id)).handle_irc(msg))
                .catch_unwind()
                .await;
            handled += 1;
            if step.is_err() {
                // The lines before it were handled in full: their output stays.
                self.out.truncate(before);
                failed = true;
                break None;
            }
            if handled >= LINE_BATCH || self.ctl.handover.is_some() || self.ctl.end.is_some() {
                break None;
            }
            match self.rx.try_recv() {
                Ok(UserInput::Line(next, m)) if next == id && self.batchable(id, &m) => msg = *m,
                Ok(other) => break Some(other),
                Err(_) => break None,
            }
        };
        let flushed = AssertUnwindSafe(self.flush(Some(id))).catch_unwind().await;
        if failed || flushed.is_err() {
            self.recover("a command").await;
        }
        self.after_input(Some(id)).await;
        left
    }

    /// Whether a line of client `id` may be handled in a batch: a PRIVMSG or
    /// NOTICE to one contact or room, without a label, from a client still here
    /// and not handed over.
    fn batchable(&self, id: ClientId, msg: &Message) -> bool {
        let target = match &msg.command {
            IrcCommand::PRIVMSG(target, _) | IrcCommand::NOTICE(target, _) => target,
            _ => return false,
        };
        let labelled = msg.tags.iter().flatten().any(|t| t.0 == "label");
        self.forward.is_none()
            && !labelled
            && self.clients.iter().any(|c| c.id == id)
            && matches!(
                self.user.conversation_of(target),
                Some(Conversation::Contact { .. } | Conversation::Room { .. })
            )
    }
}
