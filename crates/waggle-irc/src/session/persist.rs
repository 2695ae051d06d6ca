//! Write-through to the Store. Every change is saved as it happens once the user is
//! identified; before that (open mode) the session lives in memory only, and
//! `register` saves all of it at once.

use tracing::warn;
use waggle_core::{AccountId, ChannelRecord, ContactRecord, StoreError};

use super::Session;
use super::state::{Account, AccountState, Channel, ContactEntry, NickOwner};
use crate::nick::irc_lower;
use crate::registration::Login;

impl Session {
    fn report(&self, what: &str, e: StoreError) {
        warn!(error = %e, "store write failed: {what}");
        self.root_say(&format!("Warning: could not save {what}: {e}"));
    }

    pub(crate) async fn save_setting(&self, name: &str, value: Option<&str>) {
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

    pub(crate) async fn delete_account_row(&self, row: Option<i64>) {
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

    pub(crate) async fn save_contact(&self, account: AccountId, handle: &str) {
        let Some(login) = &self.login else { return };
        let Some(c) = self.contacts.get(&(account, handle.to_string())) else {
            return;
        };
        if !c.persistent {
            return;
        }
        let Some(rec) = self.contact_record(c) else {
            return;
        };
        if let Err(e) = self.shared.store.save_contact(login.id, &rec).await {
            self.report("the contact", e);
        }
    }

    pub(crate) async fn delete_contact_row(&self, account: AccountId, handle: &str) {
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

    pub(crate) async fn save_channel(&self, name: &str) {
        let Some(login) = &self.login else { return };
        let Some(ch) = self.channel(name) else { return };
        let rec = ChannelRecord {
            name: ch.name.clone(),
            settings: ch.settings.clone(),
        };
        if let Err(e) = self.shared.store.save_channel(login.id, &rec).await {
            self.report("the channel", e);
        }
    }

    pub(crate) async fn delete_channel_row(&self, name: &str) {
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
        for (a, h) in keys {
            self.save_contact(a, &h).await;
        }
        let chans: Vec<String> = self
            .channels
            .iter()
            .filter(|c| !c.settings.is_empty())
            .map(|c| c.name.clone())
            .collect();
        for c in chans {
            self.save_channel(&c).await;
        }
    }

    /// Become `login`; with `load`, replace the in-memory state with the stored one,
    /// join auto_join channels and connect auto_connect accounts.
    pub(crate) async fn adopt_login(&mut self, login: Login, load: bool) -> bool {
        if !self.shared.claim(&login.name) {
            self.root_say("That user is already logged in on another connection.");
            return false;
        }
        if load {
            let data = match self.shared.store.load(login.id, &login.key).await {
                Ok(d) => d,
                Err(e) => {
                    self.shared.release(&login.name);
                    warn!(error = %e, "loading user data failed");
                    self.root_say("Unknown error while loading configuration");
                    return false;
                }
            };
            self.stop_all_accounts();
            self.accounts.clear();
            self.contacts.clear();
            self.nicks.clear();
            self.settings = data.settings;
            for rec in data.accounts {
                let id = AccountId(self.next_account);
                self.next_account += 1;
                self.accounts.push(Account {
                    id,
                    rec,
                    state: AccountState::Off,
                    commands: None,
                    cancel: None,
                    ack: None,
                });
            }
            for c in data.contacts {
                let Some(acc) = self
                    .accounts
                    .iter()
                    .find(|a| a.rec.row == Some(c.account_row))
                else {
                    continue;
                };
                let (user, host) = self.contact_user_host(&acc.rec.protocol, &c.handle);
                let entry = ContactEntry {
                    account: acc.id,
                    handle: c.handle.clone(),
                    nick: c.nick.clone(),
                    display_name: c.display_name,
                    group: c.group,
                    presence: Default::default(),
                    persistent: true,
                    last_channel: None,
                    user,
                    host,
                };
                self.nicks.insert(
                    irc_lower(&c.nick),
                    NickOwner::Contact(acc.id, c.handle.clone()),
                );
                self.contacts.insert((acc.id, c.handle), entry);
            }
            for rec in data.channels {
                match self.channel_mut(&rec.name) {
                    Some(ch) => ch.settings = rec.settings,
                    None => {
                        let mut ch = Channel::new(&rec.name);
                        ch.settings = rec.settings;
                        self.channels.push(ch);
                    }
                }
            }
        }
        self.login = Some(login);
        if load {
            self.sync_control_channels(None);
            let auto: Vec<String> = self
                .channels
                .iter()
                .filter(|c| {
                    !c.joined
                        && c.setting("auto_join")
                            .and_then(waggle_core::settings::parse_bool)
                            .unwrap_or(false)
                })
                .map(|c| c.name.clone())
                .collect();
            for name in auto {
                self.join_channel(&name).await;
            }
        }
        true
    }

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
