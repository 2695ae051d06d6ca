//! Protocol extras a backend may offer: contact actions reached through CTCP
//! (`CALL`, `HANGUP`, and `HELP` listing them), and the raw console contact whose
//! lines are shown in the control channel.

use waggle_core::{
    AccountId, Command, Contact, Conversation, Direction, MessageKind, Presence, PresenceState,
};

use super::Cx;
use super::cx::Shown;
use super::state::{Channel, ContactEntry};
use crate::line::Line;
use crate::outbox::To;
use crate::sanitize;

impl Cx<'_> {
    /// A CTCP other than ACTION and TYPING that the user sent to a contact: `HELP`
    /// lists the protocol's contact actions, a listed action runs on the account.
    /// Returns false when the CTCP means nothing here.
    pub(crate) fn contact_ctcp(&mut self, contact: &ContactEntry, verb: &str, arg: &str) -> bool {
        let Some(backend) = self
            .account_by_id(contact.account)
            .and_then(|a| self.shared.protocols.get(&a.rec.protocol))
            .cloned()
        else {
            return false;
        };
        let actions = backend.contact_actions();
        if verb == "HELP" {
            if actions.is_empty() {
                return false;
            }
            let list: Vec<String> = actions
                .iter()
                .map(|(name, what)| format!("{name} ({what})"))
                .collect();
            self.send(
                Line::new("NOTICE")
                    .prefix(contact.mask())
                    .param(&self.nick)
                    .param(format!("\x01HELP Supported CTCPs: {}\x01", list.join(", "))),
            );
            return true;
        }
        let Some((name, _)) = actions.iter().find(|(n, _)| n.eq_ignore_ascii_case(verb)) else {
            return false;
        };
        let cmd = Command::ContactAction {
            handle: contact.handle.clone(),
            action: name.to_string(),
            args: arg.split_whitespace().map(str::to_string).collect(),
        };
        if let Err(e) = self.send_command(contact.account, cmd) {
            self.send_failed(&contact.nick, e);
        }
        true
    }

    /// A contact action's answer, as BitlBee shows it: a CTCP reply from the
    /// contact, words with spaces in double quotes.
    pub(crate) fn action_result(
        &mut self,
        account: AccountId,
        handle: &str,
        action: &str,
        args: &[String],
    ) {
        let Some(mask) = self
            .contacts
            .get(&(account, handle.to_string()))
            .map(|c| c.mask())
        else {
            return;
        };
        let mut text = format!("\x01{action}");
        for a in args {
            if a.contains(' ') {
                text.push_str(&format!(" \"{a}\""));
            } else {
                text.push(' ');
                text.push_str(a);
            }
        }
        text.push('\x01');
        let line = Line::new("NOTICE")
            .prefix(mask)
            .param(&self.nick)
            .param(sanitize::one_line(&text));
        self.all(line);
    }

    /// `/invite nick` into a control channel filled by a buddy-list group: as in
    /// BitlBee, the contact is added to (moved into) that group.
    pub(crate) fn invite_to_group(&mut self, ch: &Channel, contact: &ContactEntry) {
        let Some(group) = ch.cfg.group.clone() else {
            return;
        };
        let cmd = Command::AddContact {
            handle: contact.handle.clone(),
            group: Some(group),
        };
        match self.send_command(contact.account, cmd) {
            Ok(()) => self.send(self.numeric("341").param(&contact.nick).param(&ch.name)),
            Err(e) => self.send_failed(&ch.name, e),
        }
    }

    /// A raw line for the account's console contact: shown in the control channel,
    /// addressed to the user, from the console (created on first use, not saved).
    pub(crate) fn console_line(&mut self, account: AccountId, from: &str, line: &str) {
        let key = (account, from.to_string());
        if !self.contacts.contains_key(&key) {
            let console = Contact {
                handle: from.to_string(),
                presence: Presence {
                    state: PresenceState::Online,
                    ..Presence::default()
                },
                ..Contact::default()
            };
            self.upsert_contact(account, console, false);
            self.sync_control_channels(None);
        }
        let Some(mask) = self.contacts.get(&key).map(|c| c.mask()) else {
            return;
        };
        let prefix = format!("{}{}", self.nick, self.cfg.to_char);
        let text = sanitize::lines(line)
            .into_iter()
            .map(|l| format!("{prefix}{l}"))
            .collect::<Vec<_>>()
            .join("\n");
        self.show(
            To::All,
            Shown {
                mask: &mask,
                target: super::CONTROL_CHANNEL,
                body: &text,
                kind: MessageKind::Normal,
                sent_at: None,
                conversation: Some(Conversation::Local(super::CONTROL_CHANNEL.to_string())),
                direction: Direction::Incoming,
                archive_id: None,
                origin_id: None,
            },
        );
    }
}
