//! Accounts at run time: starting and stopping their supervised backend tasks,
//! sending them commands, and the contact list they report.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use waggle_core::reconnect::{Backoff, ReconnectPolicy, supervise};
use waggle_core::{
    AccountContext, AccountId, AccountSpec, Command, Contact, PresenceState, Secret,
};

use super::state::{AccountState, ContactEntry, NickOwner};
use super::{Cx, User};
use crate::nick::{NickSource, NickStyle, format_nick, irc_lower, unique_nick};

/// Why a command could not reach an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendError {
    NoAccount,
    Offline,
    Unsupported,
}

impl Cx<'_> {
    /// Turn an account on. Returns false (after saying why) when it can't start.
    pub(crate) fn start_account(&mut self, id: AccountId) -> bool {
        let Some(acc) = self.account_by_id(id) else {
            return false;
        };
        if acc.is_active() {
            self.root_say("Account already online");
            return false;
        }
        let Some(backend) = self.shared.protocols.get(&acc.rec.protocol).cloned() else {
            self.root_say(&format!(
                "Unknown protocol `{}': this Waggle has no backend for it (available: {})",
                acc.rec.protocol,
                self.available_protocols()
            ));
            return false;
        };
        let password = match acc.rec.password.clone() {
            Some(p) => p,
            None if !backend.needs_password() => Secret::default(),
            None => {
                self.root_say(&format!(
                    "Enter password for account {} first (use /OPER)",
                    acc.rec.tag
                ));
                self.set_prompt(Some(super::state::Prompt::AccountPassword(id)));
                return false;
            }
        };
        let auto_reconnect = acc.cfg.auto_reconnect && self.cfg.auto_reconnect;
        let backoff: Backoff = self.cfg.auto_reconnect_delay;
        let mut settings: BTreeMap<String, String> = acc.rec.settings.clone();
        if let Some(away) = self.away_for(acc) {
            settings.insert("away".into(), away);
        }
        settings.insert(waggle_core::backend::USER_NICK.into(), self.nick.clone());
        settings.insert(
            waggle_core::backend::USER_REALNAME.into(),
            self.realname.clone(),
        );
        let spec = AccountSpec {
            id,
            protocol: acc.rec.protocol.clone(),
            handle: acc.rec.handle.clone(),
            password: Secret(password.0.clone()),
            settings,
            archive_cursors: acc.cursors.clone(),
        };
        let (tx, rx) = mpsc::channel(1024);
        let cancel = self.cancel.child_token();
        let (ctx, ack) = AccountContext::new(spec, rx, self.events_tx.clone(), cancel.clone());
        let span = tracing::info_span!("account", id = id.0, proto = %acc.rec.protocol);
        let policy = ReconnectPolicy {
            auto_reconnect,
            backoff,
        };
        // When the supervisor gives up (a login error is never retried) the account
        // is off: mark it so, or it would look "connecting" forever and `account on`
        // would refuse it as already online.
        let done = cancel.clone();
        self.tracker.spawn(tracing::Instrument::instrument(
            async move {
                supervise(backend, ctx, policy).await;
                done.cancel();
            },
            span,
        ));
        if let Some(a) = self.account_mut(id) {
            a.commands = Some(tx);
            a.cancel = Some(cancel);
            a.ack = Some(ack);
            a.state = AccountState::Connecting;
        }
        true
    }

    /// Turn an account off; its contacts go offline.
    pub(crate) fn stop_account(&mut self, id: AccountId) {
        if let Some(a) = self.account_mut(id) {
            if let Some(c) = a.cancel.take() {
                c.cancel();
            }
            a.commands = None;
            a.state = AccountState::Off;
        }
        let reason = self.account_quit_reason(id);
        self.contacts_offline(id, &reason);
        self.leave_account_rooms(id);
    }

    /// Start every account that is off and has `auto_connect` (the default).
    pub(crate) fn start_auto_accounts(&mut self) {
        let ids: Vec<AccountId> = self
            .accounts
            .iter()
            .filter(|a| !a.is_active())
            .filter(|a| a.cfg.auto_connect)
            .map(|a| a.id)
            .collect();
        for id in ids {
            self.start_account(id);
        }
    }

    /// Mark an account's contacts offline; those shown quit with `reason`.
    pub(crate) fn contacts_offline(&mut self, account: AccountId, reason: &str) {
        let mut changed = false;
        for c in self.contacts.values_mut().filter(|c| c.account == account) {
            if c.is_online() {
                c.presence = Default::default();
                changed = true;
            }
        }
        if changed {
            self.sync_control_channels(Some(reason));
        }
    }

    pub(crate) fn stop_all_accounts(&mut self) {
        let ids: Vec<AccountId> = self.accounts.iter().map(|a| a.id).collect();
        for id in ids {
            self.stop_account(id);
        }
    }

    /// Drop a contact from memory (and the store).
    pub(crate) async fn forget_contact(&mut self, account: AccountId, handle: &str) {
        if let Some(c) = self.contacts.remove(&(account, handle.to_string())) {
            self.nicks.remove(&irc_lower(&c.nick));
            self.sync_control_channels(None);
            if c.persistent {
                self.delete_contact_row(account, handle).await;
            }
        }
    }

    /// Stop tracking chat rooms of an account that went off.
    pub(crate) fn leave_account_rooms(&mut self, id: AccountId) {
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|c| c.room.as_ref().is_some_and(|(a, _)| *a == id))
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            self.chat_left(&name, Some("Account signed off"));
        }
    }
}

impl User {
    /// Send a command to an online account, checking the protocol supports it.
    pub(crate) fn send_command(&self, id: AccountId, cmd: Command) -> Result<(), SendError> {
        self.check_command(id, &cmd)?;
        let tx = self
            .account_by_id(id)
            .and_then(|a| a.commands.as_ref())
            .ok_or(SendError::Offline)?;
        tx.try_send(cmd).map_err(|_| SendError::Offline)
    }

    /// The queue `cmd` goes into, once [`User::check_command`] allows it.
    pub(crate) fn command_queue(
        &self,
        id: AccountId,
        cmd: &Command,
    ) -> Result<mpsc::Sender<Command>, SendError> {
        self.check_command(id, cmd)?;
        self.account_by_id(id)
            .and_then(|a| a.commands.clone())
            .ok_or(SendError::Offline)
    }

    /// Whether `cmd` may go to the account now: it exists, its protocol can do
    /// it, and it is online (or connecting, for commands that may wait).
    pub(crate) fn check_command(&self, id: AccountId, cmd: &Command) -> Result<(), SendError> {
        let acc = self.account_by_id(id).ok_or(SendError::NoAccount)?;
        let backend = self
            .shared
            .protocols
            .get(&acc.rec.protocol)
            .ok_or(SendError::Unsupported)?;
        if !backend.capabilities().allows(cmd) {
            return Err(SendError::Unsupported);
        }
        // While an account is connecting, commands wait in its queue and run once
        // it is online (joins instead wait for auto_join: see `join_channel`).
        let queued = acc.accepts_commands() && !matches!(cmd, Command::JoinRoom { .. });
        if acc.state != AccountState::Online && !queued {
            return Err(SendError::Offline);
        }
        acc.commands.as_ref().map(|_| ()).ok_or(SendError::Offline)
    }

    pub(crate) fn available_protocols(&self) -> String {
        let names = self.shared.protocols.protocols();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    fn nick_style(&self) -> NickStyle {
        NickStyle {
            lowercase: self.cfg.nick_lowercase,
            underscores: self.cfg.nick_underscores,
            utf8: self.cfg.utf8_nicks,
        }
    }

    /// A fresh, unique nick for a contact.
    pub(crate) fn make_nick(
        &self,
        account: AccountId,
        handle: &str,
        display: Option<&str>,
        group: Option<&str>,
    ) -> String {
        let acc = self.account_by_id(account);
        let tag = acc.map(|a| a.rec.tag.as_str()).unwrap_or("");
        let format = acc
            .and_then(|a| a.cfg.nick_format.clone())
            .unwrap_or_else(|| self.cfg.nick_format.clone());
        let format = match acc.map(|a| a.cfg.nick_source.as_str()) {
            Some("full_name") if format == "%-@nick" => "%full_name".to_string(),
            Some("first_name") if format == "%-@nick" => "%first_name".to_string(),
            _ => format,
        };
        let src = NickSource {
            handle,
            full_name: display,
            group,
            account: tag,
        };
        let nick = format_nick(&format, &src, self.nick_style());
        unique_nick(&nick, |n| self.nick_taken(n))
    }

    /// A contact's state as the user sees it: away while on a mobile device
    /// when `mobile_is_away` is on.
    pub(crate) fn shown_state(&self, c: &ContactEntry) -> PresenceState {
        if self.cfg.mobile_is_away
            && c.presence.state == PresenceState::Online
            && c.presence.show.as_deref() == Some(waggle_core::backend::SHOW_MOBILE)
        {
            PresenceState::Away
        } else {
            c.presence.state
        }
    }

    /// What a 301 says of a contact shown as away (their state word, their
    /// message in brackets); `None` when they are not away.
    pub(crate) fn away_text(&self, c: &ContactEntry) -> Option<String> {
        if self.shown_state(c) != PresenceState::Away {
            return None;
        }
        let what = match c.presence.show.as_deref() {
            Some(waggle_core::backend::SHOW_MOBILE) => "Mobile".to_string(),
            Some(show) => show.to_string(),
            None => "Away".to_string(),
        };
        Some(match &c.presence.message {
            Some(m) => format!("{what} ({m})"),
            None => what,
        })
    }

    /// Whether a lower-cased nick is used by root, the user or a contact.
    pub(crate) fn nick_taken(&self, lower: &str) -> bool {
        self.nicks.contains_key(lower)
            || lower == irc_lower(&self.nick)
            || lower == irc_lower(&self.root_nick())
    }

    /// Add or update a contact from a backend report; returns whether it is new.
    pub(crate) fn upsert_contact(
        &mut self,
        account: AccountId,
        contact: Contact,
        persistent: bool,
    ) -> bool {
        let key = (account, contact.handle.clone());
        if let Some(existing) = self.contacts.get_mut(&key) {
            if contact.display_name.is_some() {
                existing.display_name = contact.display_name;
            }
            if contact.group.is_some() {
                existing.group = contact.group;
            }
            if existing.presence != contact.presence {
                // As BitlBee: a new state or message is worth a new 301.
                existing.away_reply_after = None;
            }
            if !existing.is_online() && contact.presence.state != PresenceState::Offline {
                existing.online_since = Some(super::state::unix_now());
            }
            existing.presence = contact.presence;
            existing.persistent |= persistent;
            return false;
        }
        let protocol = self
            .account_by_id(account)
            .map(|a| a.rec.protocol.clone())
            .unwrap_or_default();
        let nick = self.make_nick(
            account,
            &contact.handle,
            contact.display_name.as_deref(),
            contact.group.as_deref(),
        );
        let (user, host) = self.contact_user_host(&protocol, &contact.handle);
        let online_since =
            (contact.presence.state != PresenceState::Offline).then(super::state::unix_now);
        self.nicks.insert(
            irc_lower(&nick),
            NickOwner::Contact(account, contact.handle.clone()),
        );
        self.contacts.insert(
            key,
            Box::new(ContactEntry {
                account,
                handle: contact.handle,
                nick,
                display_name: contact.display_name,
                group: contact.group,
                presence: contact.presence,
                persistent,
                last_channel: None,
                away_reply_after: None,
                online_since,
                user,
                host,
            }),
        );
        true
    }

    /// Tell every online account our presence (away text, else status).
    pub(crate) fn broadcast_presence(&self) {
        for a in &self.accounts {
            self.announce_presence(a.id, true);
        }
    }

    /// The away text an account should show, as BitlBee picks it: the
    /// account's own `away`, else the user's (`set away` or /away); while no
    /// client is attached, `detach_away` stands in for "available".
    pub(crate) fn away_for(&self, account: &super::state::Account) -> Option<String> {
        account
            .cfg
            .away
            .clone()
            .or_else(|| self.cfg.away.clone())
            .or_else(|| {
                if self.detached {
                    self.cfg.detach_away.clone()
                } else {
                    None
                }
            })
    }

    /// Tell one account our presence: its own away/status settings win over the
    /// global ones, and /away wins over `set away`.
    pub(crate) fn announce_presence(&self, id: AccountId, always: bool) {
        let Some(a) = self.account_by_id(id) else {
            return;
        };
        let away = self.away_for(a);
        let status = a.cfg.status.clone().or_else(|| self.cfg.status.clone());
        if !always && away.is_none() && status.is_none() {
            return; // a fresh login is already "available" with no status
        }
        let detached = self.detached;
        let _ = self.send_command(
            id,
            Command::SetPresence {
                away,
                status,
                detached,
            },
        );
    }
}
