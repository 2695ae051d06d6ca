//! Waggle's IRC front end.
//!
//! Owns everything IRC: the listener, each connection's reader and writer, client
//! registration (PASS/NICK/USER/CAP/SASL), the per-user task with its nick table and
//! channels, the control channel and root's commands. It speaks IRC words only and
//! reaches protocols through `waggle-core`'s `Command`/`Event` seam; it never names
//! a protocol's types and never touches SQL (it uses the `Store` trait).

pub mod caps;
pub mod codec;
pub mod config;
mod connection;
pub mod input;
pub mod line;
pub mod nick;
mod registration;
mod root;
pub mod sanitize;
mod server;
mod session;

pub use config::{AuthMode, ServerConfig};
pub use server::{Gateway, GatewayError};
