//! Waggle's [`Store`](waggle_core::Store) on SQLite.
//!
//! This crate owns the database file and everything about it: opening it in WAL mode,
//! the embedded forward-only migrations of the workspace's `migrations/` directory,
//! every SQL statement, and the cryptography of stored credentials (Argon2id password
//! hashes, per-user data keys wrapped under a password-derived key, IM passwords sealed
//! with XChaCha20-Poly1305). It speaks only the vocabulary of `waggle-core`'s store
//! records and must not depend on the IRC front end or on any IM protocol.

mod crypto;
mod data;
mod hosted;
mod sqlite;
mod users;

pub use sqlite::SqliteStore;
