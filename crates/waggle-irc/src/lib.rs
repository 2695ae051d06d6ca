//! Waggle's IRC front end.
//!
//! Owns everything IRC: the listener, each connection's reader and writer, client
//! registration (PASS/NICK/USER/CAP/SASL), the user task (outliving connections,
//! shared by every client of a user) with its nick table and
//! channels, the control channel and root's commands. It speaks IRC words only and
//! reaches protocols through `waggle-core`'s `Command`/`Event` seam; it never names
//! a protocol's types and never touches SQL (it uses the `Store` trait).

mod accounts_reg;
pub mod caps;
mod client;
pub mod codec;
pub mod config;
mod conn;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
pub mod input;
pub mod line;
pub mod memlog;
pub mod nick;
mod outbox;
mod registration;
mod root;
pub mod sanitize;
mod server;
pub mod tls;
mod user;
mod users;

pub use config::{AuthMode, ServerConfig, UserLimits};
pub use memlog::MemoryLog;
pub use server::{Gateway, GatewayError, Listener};
pub use tls::{ServerTls, TlsError};
