//! Waggle's Skype backend: a client of `skyped`, the daemon that relays the Skype
//! API over TLS (the protocol BitlBee's Skype plugin spoke).
//!
//! It owns the connection to skyped and the account's Skype state, and reports
//! to the core only through [`waggle_core::Event`]s; it depends on nothing but
//! `waggle-core` and `waggle-tls` among Waggle's crates and knows nothing of IRC.
//!
//! - [`codec`]: framing skyped's stream into bounded lines.
//! - [`protocol`]: parsing and formatting Skype API lines, without I/O.
//! - [`tls`]: the TLS client with fingerprint pinning or a CA file (on `waggle-tls`).
//! - [`engine`]: the account's state machine (contacts, chats ↔ rooms, messages,
//!   calls, file transfers, profiles), without I/O.
//! - `session`: the connection loop that drives the engine.

pub mod codec;
pub mod config;
pub mod engine;
pub mod error;
pub mod protocol;
mod session;
pub mod tls;

use std::time::Duration;

use async_trait::async_trait;
use waggle_core::{AccountContext, Backend, BackendError, Capabilities, SettingDef};

pub use config::{SETTINGS, SkypeConfig, Trust};
pub use error::SkypeError;

/// How long skyped may be silent before we PING it, and then before we give up.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);

/// The contact actions (CTCPs) a Skype contact understands, as CTCP HELP lists them.
pub const CONTACT_ACTIONS: &[(&str, &str)] =
    &[("HANGUP", "Hang up a call"), ("CALL", "Initiate a call")];

/// The `skype` protocol.
#[derive(Debug, Clone)]
pub struct SkypeBackend {
    keepalive: Duration,
}

impl Default for SkypeBackend {
    fn default() -> Self {
        SkypeBackend::new()
    }
}

impl SkypeBackend {
    /// The backend with the default keepalive.
    pub fn new() -> Self {
        SkypeBackend {
            keepalive: DEFAULT_KEEPALIVE,
        }
    }

    /// The backend pinging a silent skyped after `keepalive` (and giving up after
    /// twice that).
    pub fn with_keepalive(keepalive: Duration) -> Self {
        SkypeBackend {
            keepalive: keepalive.max(Duration::from_millis(100)),
        }
    }
}

#[async_trait]
impl Backend for SkypeBackend {
    fn protocol(&self) -> &'static str {
        "skype"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rooms: true,
            contact_list: true,
            block: true,
            typing: false,
            room_list: false,
            chat_with: true,
            raw: true,
        }
    }

    fn contact_host(&self) -> &'static str {
        "skype.com"
    }

    fn settings(&self) -> &'static [SettingDef] {
        SETTINGS
    }

    fn contact_actions(&self) -> &'static [(&'static str, &'static str)] {
        CONTACT_ACTIONS
    }

    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
        session::run(ctx, self.keepalive).await.map_err(Into::into)
    }
}
