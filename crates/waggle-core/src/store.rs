//! The persistence seam: what the gateway keeps per user and the [`Store`] trait that
//! keeps it. Implementations write through: a call has returned only once the change
//! is durable.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::backend::Secret;
use crate::ids::UserId;

/// A user's data-encryption key, unwrapped with their password at identify time.
/// IM passwords are encrypted under it; it never reaches the disk unwrapped, and
/// its bytes are wiped when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct UserKey(pub [u8; 32]);

impl Drop for UserKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserKey(..)")
    }
}

/// A user as `waggle user list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The login name.
    pub name: String,
    /// How many IM accounts they have.
    pub accounts: u32,
    /// When they registered (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub created: String,
}

/// An IM account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountRecord {
    /// The store's row id; `None` until first saved.
    pub row: Option<i64>,
    /// Protocol name (`jabber`, `skype` …).
    pub protocol: String,
    /// Login handle.
    pub handle: String,
    /// The tag root uses for it (`jabber`, `jabber2` …).
    pub tag: String,
    /// The IM password, decrypted; `None` when not stored.
    pub password: Option<Secret>,
    /// Explicitly set account settings.
    pub settings: BTreeMap<String, String>,
    /// Its place in `account list`.
    pub position: u32,
}

/// A buddy-list entry as stored, so the list shows before the IM server answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactRecord {
    /// The owning account's row id.
    pub account_row: i64,
    /// The protocol handle.
    pub handle: String,
    /// The IRC nick assigned to it.
    pub nick: String,
    /// Buddy-list group.
    pub group: Option<String>,
    /// Human name.
    pub display_name: Option<String>,
}

/// A channel of the user's with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelRecord {
    /// The channel name (`&bitlbee`, `#room`).
    pub name: String,
    /// Explicitly set channel settings (`type`, `room`, `account`, `fill_by` …).
    pub settings: BTreeMap<String, String>,
}

/// Everything stored for one user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserData {
    /// Explicitly set global settings.
    pub settings: BTreeMap<String, String>,
    /// Accounts in `account list` order.
    pub accounts: Vec<AccountRecord>,
    /// Contacts of every account.
    pub contacts: Vec<ContactRecord>,
    /// Channels.
    pub channels: Vec<ChannelRecord>,
}

/// A persistence failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `register` or `user add` of a name that is taken.
    #[error("user {0} already exists")]
    UserExists(String),
    /// No such user.
    #[error("no such user {0}")]
    NoSuchUser(String),
    /// A stored secret could not be decrypted with the key at hand.
    #[error("a stored password could not be decrypted")]
    Decrypt,
    /// Hashing or encryption failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
}

/// Where users, their accounts, settings, contacts and channels live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create a user with an Argon2id password hash and a fresh wrapped data key.
    async fn create_user(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(UserId, UserKey), StoreError>;

    /// Check a name and password; `None` when either is wrong.
    async fn authenticate(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<(UserId, UserKey)>, StoreError>;

    /// Whether a user of that name exists (case-insensitive).
    async fn user_exists(&self, name: &str) -> Result<bool, StoreError>;

    /// All users, by name.
    async fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Delete a user and everything they own; false when there was no such user.
    async fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    /// Change a password knowing the current key: the data key is re-wrapped, nothing is lost.
    async fn change_password(
        &self,
        user: UserId,
        key: &UserKey,
        new_password: &str,
    ) -> Result<(), StoreError>;

    /// Set a password without the old one (admin): a new data key is made and the
    /// IM passwords stored under the old one are cleared. Returns how many were cleared.
    async fn reset_password(&self, name: &str, new_password: &str) -> Result<u32, StoreError>;

    /// Load a user's data, decrypting IM passwords with `key`.
    async fn load(&self, user: UserId, key: &UserKey) -> Result<UserData, StoreError>;

    /// Set (`Some`) or delete (`None`) a global setting.
    async fn set_setting(
        &self,
        user: UserId,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Insert or update an account with its settings; returns its row id.
    async fn save_account(
        &self,
        user: UserId,
        key: &UserKey,
        account: &AccountRecord,
    ) -> Result<i64, StoreError>;

    /// Delete an account and its contacts.
    async fn delete_account(&self, user: UserId, row: i64) -> Result<(), StoreError>;

    /// Insert or update a contact (keyed by account and handle).
    async fn save_contact(&self, user: UserId, contact: &ContactRecord) -> Result<(), StoreError> {
        self.save_contacts(user, std::slice::from_ref(contact))
            .await
    }

    /// Insert or update several contacts in one transaction: all are saved, or
    /// none when one of them names an account that is not the user's.
    async fn save_contacts(
        &self,
        user: UserId,
        contacts: &[ContactRecord],
    ) -> Result<(), StoreError>;

    /// Delete a contact.
    async fn delete_contact(
        &self,
        user: UserId,
        account_row: i64,
        handle: &str,
    ) -> Result<(), StoreError>;

    /// Insert or update a channel with its settings (keyed by name, case-insensitive).
    async fn save_channel(&self, user: UserId, channel: &ChannelRecord) -> Result<(), StoreError>;

    /// Delete a channel.
    async fn delete_channel(&self, user: UserId, name: &str) -> Result<(), StoreError>;

    /// The users who can be started without their password: when the store was
    /// opened with the instance's unattended key, every user whose data key is
    /// also wrapped under it (done at each successful `authenticate`), with their
    /// name and unwrapped data key. Empty without an unattended key.
    async fn unattended_logins(&self) -> Result<Vec<UnattendedLogin>, StoreError>;

    /// Whether a user still exists with the same data key (the admin may delete
    /// a user or reset their password while they are running): false when the
    /// user is gone or their key was replaced.
    async fn login_valid(&self, user: UserId, key: &UserKey) -> Result<bool, StoreError>;
}

/// A user the gateway may start unattended.
#[derive(Debug, Clone)]
pub struct UnattendedLogin {
    /// The user.
    pub id: UserId,
    /// Their login name.
    pub name: String,
    /// Their data key.
    pub key: UserKey,
}
