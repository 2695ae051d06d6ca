//! Waggle's [`Store`](waggle_core::Store) and [`MessageLog`](waggle_core::MessageLog)
//! on SQLite.
//!
//! This crate owns the database file and everything about it: creating it privately
//! and opening it in WAL mode under a lock that concurrent openers respect, the
//! embedded forward-only migrations of the workspace's `migrations/` directory, every
//! SQL statement, the message log's group-commit writer, and the cryptography of
//! stored secrets (one Argon2id run per login through a bounded pool, per-user data
//! keys wrapped under a password-derived key and optionally the instance's unattended
//! key, IM passwords and messages sealed with XChaCha20-Poly1305). It speaks only the
//! vocabulary of `waggle-core` and must not depend on the IRC front end or on any IM
//! protocol.
//!
//! [`bitlbee`] imports BitlBee's user files; their logins convert at the first identify.

pub mod bitlbee;
mod columns;
mod crypto;
mod data;
mod files;
mod hashing;
mod history;
mod hosted;
mod instance;
mod messages;
mod retention;
mod sqlite;
mod unattended;
mod users;
mod writer;

pub use instance::{INSTANCE_KEY_LEN, InstanceKey};
pub use sqlite::{OpenOptions, SqliteStore};
pub use users::ResetReport;
