//! Write-through to the Store. Every change is saved as it happens once the user is
//! identified; before that (open mode) the session lives in memory only, and
//! `register` saves all of it at once.

use tracing::warn;
use waggle_core::{AccountId, AccountRecord, ChannelRecord, ContactRecord, StoreError};

use super::Cx;
use super::state::{Account, Channel, ContactEntry, NickOwner};
use crate::line::Line;
use crate::nick::irc_lower;
use crate::registration::Login;
use crate::users::Claim;

impl Cx<'_> {
    fn report(&mut self, what: &str, e: StoreError) {
        warn!(error = %e, "store write failed: {what}");
        self.root_say(&format!("Warning: could not save {what}: {e}"));
    }

    pub(crate) async fn save_setting(&mut self, name: &str, value: Option<&str>) {
        let Some(login) = &self.login else { return };
        if let Err(e) = self.shared.store.set_setting(login.id, name, value).await {
            self.report("the setting", e);
        }
    }

    pub(crate) async fn save_account(&mut self, id: AccountId) {
        let Some(login) = self.login.clone() else {
            return;
        };
        let Some(acc) = self.account_by_id(id) else {
            return;
        };
        match self
            .shared
            .store
            .save_account(login.id, &login.key, &acc.rec)
            .await
        {
            Ok(row) => {
                if let Some(a) = self.account_mut(id) {
                    a.rec.row = Some(row);
                }
            }
            Err(e) => self.report("the account", e),
        }
    }

    pub(crate) async fn delete_account_row(&mut self, row: Option<i64>) {
        let (Some(login), Some(row)) = (&self.login, row) else {
            return;
        };
        if let Err(e) = self.shared.store.delete_account(login.id, row).await {
            self.report("the account deletion", e);
        }
    }

    fn contact_record(&self, c: &ContactEntry) -> Option<ContactRecord> {
        let row = self.account_by_id(c.account)?.rec.row?;
        Some(ContactRecord {
            account_row: row,
            handle: c.handle.clone(),
            nick: c.nick.clone(),
            group: c.group.clone(),
            display_name: c.display_name.clone(),
        })
    }

    pub(crate) async fn save_contact(&mut self, account: AccountId, handle: &str) {
        let key = (account, handle.to_string());
        self.save_contacts(std::iter::once(&key)).await;
    }

    /// Save the contacts `contacts_unsaved` names.
    pub(crate) async fn save_unsaved_contacts(&mut self) {
        let unsaved = std::mem::take(&mut self.contacts_unsaved);
        self.save_contacts(unsaved.iter()).await;
    }

    /// Save the kept contacts among `keys` (those of saved accounts), in one
    /// transaction.
    async fn save_contacts<'k>(&mut self, keys: impl Iterator<Item = &'k (AccountId, String)>) {
        let Some(login) = &self.login else { return };
        let records: Vec<ContactRecord> = keys
            .filter_map(|key| self.contacts.get(key))
            .filter(|c| c.persistent)
            .filter_map(|c| self.contact_record(c))
            .collect();
        let what = match records.len() {
            0 => return,
            1 => "the contact",
            _ => "the contacts",
        };
        if let Err(e) = self.shared.store.save_contacts(login.id, &records).await {
            self.report(what, e);
        }
    }

    pub(crate) async fn delete_contact_row(&mut self, account: AccountId, handle: &str) {
        let Some(login) = &self.login else { return };
        let Some(row) = self.account_by_id(account).and_then(|a| a.rec.row) else {
            return;
        };
        if let Err(e) = self
            .shared
            .store
            .delete_contact(login.id, row, handle)
            .await
        {
            self.report("the contact deletion", e);
        }
    }

    pub(crate) async fn save_channel(&mut self, name: &str) {
        let Some(login) = &self.login else { return };
        let Some(ch) = self.channel(name).filter(|c| !c.temporary) else {
            return;
        };
        let rec = ChannelRecord {
            name: ch.name.clone(),
            settings: ch.settings().clone(),
        };
        if let Err(e) = self.shared.store.save_channel(login.id, &rec).await {
            self.report("the channel", e);
        }
    }

    pub(crate) async fn delete_channel_row(&mut self, name: &str) {
        let Some(login) = &self.login else { return };
        if let Err(e) = self.shared.store.delete_channel(login.id, name).await {
            self.report("the channel deletion", e);
        }
    }

    /// Save everything held in memory under a freshly created login (`register`).
    pub(crate) async fn save_everything(&mut self) {
        let names: Vec<(String, String)> = self.settings.clone().into_iter().collect();
        for (k, v) in names {
            self.save_setting(&k, Some(&v)).await;
        }
        let ids: Vec<AccountId> = self.accounts.iter().map(|a| a.id).collect();
        for id in ids {
            self.save_account(id).await;
        }
        let keys: Vec<(AccountId, String)> = self.contacts.keys().cloned().collect();
        self.save_contacts(keys.iter()).await;
        let chans: Vec<String> = self
            .channels
            .iter()
            .filter(|c| !c.settings().is_empty())
            .map(|c| c.name.clone())
            .collect();
        for c in chans {
            self.save_channel(&c).await;
        }
    }

    /// Become `login`. With `load`, the stored state replaces what the session
    /// holds — except its accounts when `force` is set (`identify -force` keeps
    /// them, as in BitlBee) — and auto_join channels are joined.
    ///
    /// When the user is already running elsewhere, this session's client is
    /// handed over to that task instead (see [`Control::handover`]), and false is
    /// returned: the caller says nothing more.
    ///
    /// [`Control::handover`]: super::cx::Control::handover
    pub(crate) async fn adopt_login(&mut self, login: Login, load: bool, force: bool) -> bool {
        let Some(me) = self.self_tx.upgrade() else {
            return false;
        };
        if let Claim::Running(other) = self.shared.users.claim(login.id, &me) {
            let greeting = if load {
                "Password accepted, settings and accounts loaded"
            } else {
                "Password accepted"
            };
            self.ctl.handover = Some((other, Some(greeting.to_string())));
            return false;
        }
        if load {
            let data = match self.shared.store.load(login.id, &login.key).await {
                Ok(d) => d,
                Err(e) => {
                    self.shared.users.release(login.id, &me);
                    warn!(error = %e, "loading user data failed");
                    self.root_say("Unknown error while loading configuration");
                    return false;
                }
            };
            let kept: Vec<Account> = if force {
                std::mem::take(&mut self.accounts)
            } else {
                self.stop_all_accounts();
                Vec::new()
            };
            self.accounts.clear();
            self.contacts
                .retain(|k, _| kept.iter().any(|a| a.id == k.0));
            self.nicks.retain(
                |_, o| matches!(o, NickOwner::Contact(a, _) if kept.iter().any(|k| k.id == *a)),
            );
            self.nicks.insert("root".into(), NickOwner::Root);
            self.settings = data.settings;
            self.settings_changed();
            for rec in data.accounts {
                let id = AccountId(self.next_account);
                self.next_account += 1;
                self.accounts.push(Account::new(id, rec));
            }
            // Where each account's archive catch-up starts.
            let log = self.shared.log.clone();
            for a in &mut self.u.accounts {
                if let Some(row) = a.rec.row {
                    match log.archive_cursors(login.id, row).await {
                        Ok(c) => a.cursors = c,
                        Err(e) => warn!(error = %e, "reading catch-up cursors failed"),
                    }
                    for (scope, id) in &a.cursors {
                        if let Ok(Some(at)) = log.archive_time(login.id, row, id).await {
                            a.cursor_times.insert(scope.clone(), at);
                        }
                    }
                }
            }
            for c in data.contacts {
                let Some((acc_id, protocol)) = self
                    .accounts
                    .iter()
                    .find(|a| a.rec.row == Some(c.account_row))
                    .map(|a| (a.id, a.rec.protocol.clone()))
                else {
                    continue;
                };
                let (user, host) = self.contact_user_host(&protocol, &c.handle);
                let entry = ContactEntry {
                    account: acc_id,
                    handle: c.handle.clone(),
                    nick: c.nick.clone(),
                    display_name: c.display_name,
                    group: c.group,
                    presence: Default::default(),
                    persistent: true,
                    last_channel: None,
                    away_reply_after: None,
                    online_since: None,
                    user,
                    host,
                };
                self.nicks.insert(
                    irc_lower(&c.nick),
                    NickOwner::Contact(acc_id, c.handle.clone()),
                );
                self.contacts.insert((acc_id, c.handle), Box::new(entry));
            }
            for mut a in kept {
                // Kept accounts get their own row under the login, tags made unique.
                a.rec.row = None;
                a.rec.tag = self.unique_tag(&a.rec.tag);
                a.rec.position = self.accounts.len() as u32;
                self.accounts.push(a);
            }
            for rec in data.channels {
                match self.channel_mut(&rec.name) {
                    Some(ch) => ch.set_all(rec.settings),
                    None => {
                        let mut ch = Channel::new(&rec.name);
                        ch.set_all(rec.settings);
                        self.channels.push(ch);
                    }
                }
            }
        }
        // The user's span was named at start; an anonymous session gets its
        // name now.
        tracing::Span::current().record("name", tracing::field::display(&login.name));
        self.login = Some(login);
        if force {
            let ids: Vec<AccountId> = self
                .accounts
                .iter()
                .filter(|a| a.rec.row.is_none())
                .map(|a| a.id)
                .collect();
            for id in ids {
                self.save_account(id).await;
            }
        }
        if load {
            self.add_implicit_accounts().await;
            self.sync_control_channels(None);
            let auto: Vec<String> = self
                .channels
                .iter()
                .filter(|c| !c.joined && c.cfg.auto_join)
                .map(|c| c.name.clone())
                .collect();
            for name in auto {
                self.join_channel(&name).await;
            }
        }
        true
    }

    /// Give the identified user the account each protocol that hosts its users
    /// requires ([`waggle_core::Backend::implicit_account`]), saved, and renew
    /// its secret when none is stored. Returns the accounts it added.
    pub(crate) async fn add_implicit_accounts(&mut self) -> Vec<AccountId> {
        let Some(name) = self.login.as_ref().map(|l| l.name.clone()) else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for protocol in self.shared.protocols.protocols() {
            let Some(implicit) = self
                .shared
                .protocols
                .get(protocol)
                .and_then(|b| b.implicit_account(&name))
            else {
                continue;
            };
            let existing = self.accounts.iter().find(|a| a.rec.protocol == protocol);
            let id = match existing.map(|a| (a.id, a.rec.password.is_some())) {
                Some((_, true)) => continue,
                Some((id, false)) => {
                    if let Some(a) = self.account_mut(id) {
                        a.rec.password = implicit.password;
                    }
                    id
                }
                None => {
                    let id = AccountId(self.next_account);
                    self.next_account += 1;
                    let rec = AccountRecord {
                        row: None,
                        protocol: protocol.to_string(),
                        handle: implicit.handle,
                        tag: self.unique_tag(protocol),
                        password: implicit.password,
                        settings: Default::default(),
                        position: self.accounts.len() as u32,
                    };
                    self.accounts.push(Account::new(id, rec));
                    added.push(id);
                    id
                }
            };
            self.save_account(id).await;
        }
        added
    }

    /// Keep an account of the session this client identified in: a new account
    /// here, saved, and switched on when it was on there.
    pub(crate) async fn keep_account(&mut self, mut rec: AccountRecord, was_on: bool) {
        let id = AccountId(self.next_account);
        self.next_account += 1;
        rec.row = None;
        rec.tag = self.unique_tag(&rec.tag);
        rec.position = self.accounts.len() as u32;
        self.accounts.push(Account::new(id, rec));
        self.save_account(id).await;
        if was_on {
            self.start_account(id);
        }
    }

    /// `tag`, or `tag2`, `tag3` … when another account has it.
    pub(crate) fn unique_tag(&self, tag: &str) -> String {
        let base = tag.trim_end_matches(|c: char| c.is_ascii_digit());
        let base = if base.is_empty() { tag } else { base };
        let mut candidate = tag.to_string();
        let mut n = 2;
        while self
            .accounts
            .iter()
            .any(|a| a.rec.tag.eq_ignore_ascii_case(&candidate))
        {
            candidate = format!("{base}{n}");
            n += 1;
        }
        candidate
    }

    /// What an identified client is told: 900 with SASL, and user mode +R.
    pub(crate) fn logged_in_numerics(&mut self) {
        if self.login.is_none() {
            return;
        }
        if self.origin_has(crate::caps::Cap::Sasl) {
            let name = self
                .login
                .as_ref()
                .map(|l| l.name.clone())
                .unwrap_or_default();
            let line = self
                .numeric("900")
                .param(self.my_mask())
                .param(&name)
                .param(format!("You are now logged in as {name}"));
            self.send(line);
        }
        let line = Line::new("MODE")
            .prefix(self.my_mask())
            .param(&self.nick)
            .param("+R");
        self.send(line);
    }
}

impl super::User {
    /// The user and host parts of a contact's hostmask.
    pub(crate) fn contact_user_host(&self, protocol: &str, handle: &str) -> (String, String) {
        let clean = |s: &str| -> String {
            s.chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, '!' | '@' | ':' | ','))
                .collect()
        };
        match handle.split_once('@') {
            Some((user, host)) => (clean(user), clean(host)),
            None => {
                let host = self
                    .shared
                    .protocols
                    .get(protocol)
                    .map(|b| b.contact_host().to_string())
                    .unwrap_or_else(|| protocol.to_string());
                (clean(handle), host)
            }
        }
    }
}
