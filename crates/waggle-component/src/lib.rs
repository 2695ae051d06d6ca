//! Waggle's XMPP component (XEP-0114): with a subdomain of an XMPP server, every
//! registered gateway user `alice` is reachable as `alice@<domain>` without an
//! XMPP account of their own, and talks back from IRC.
//!
//! One connection serves the whole instance ([`Component::run`]: stream in
//! `jabber:component:accept`, SHA-1 handshake, reconnect with backoff, a bounded
//! queue while down). To each user the component is an account of protocol
//! `gw` ([`ComponentBackend`]), given to every identified user by the gateway:
//! running it registers the user's localpart with the connection's router and
//! relays stanzas both ways, so the IRC side needs no special case. The
//! gateway is the home server of these JIDs, so it keeps their rosters (RFC 6121
//! states), block/allow lists and an inbox for what arrives while a user is not
//! running, through [`waggle_core::HostedStore`].
//!
//! Layout: [`config`], [`jid`] (XEP-0106 localparts), `stream` (the XEP-0114
//! stream and the namespace translation), `link` (the connection task),
//! `router`, `service` (answers for the domain and users' JIDs), `offline`
//! (users not running), `roster` (RFC 6121 steps), `inbox` (sealed boxes) and
//! `account` (a running user). It parses with xmpp-parsers' client-namespace
//! types and reuses the client backend's pure `convert` layer; it knows nothing
//! of IRC or SQL.

pub mod config;
pub mod error;
pub mod jid;

mod account;
mod header;
mod inbox;
mod link;
mod offline;
mod roster;
mod router;
mod service;
mod shared;
mod stream;

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use waggle_core::{
    AccountContext, Backend, BackendError, Capabilities, HostedStore, ImplicitAccount, Secret,
};

pub use config::{ComponentConfig, ConfigError};
pub use error::{AccountError, LinkError};
pub use shared::LinkState;

use shared::Shared;

/// The protocol name of component accounts (`account gw off`).
pub const PROTOCOL: &str = "gw";

/// The component's connection task, to run for as long as the gateway.
pub struct Component {
    link: link::Link,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Component")
    }
}

impl Component {
    /// The connection task and the backend of the users' accounts, over `store`.
    pub fn new(
        cfg: ComponentConfig,
        store: Arc<dyn HostedStore>,
    ) -> Result<(Component, ComponentBackend), ConfigError> {
        let (out_tx, out_rx) = mpsc::channel(cfg.queue.max(16));
        let (farewell_tx, farewell_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(LinkState::down());
        let domain = cfg.domain.clone();
        let shared = Shared::new(cfg, store, out_tx, farewell_tx, state_rx)
            .ok_or(ConfigError::Domain(domain))?;
        let shared = Arc::new(shared);
        let link = link::Link::new(shared.clone(), state_tx, out_rx, farewell_rx);
        Ok((Component { link }, ComponentBackend { shared }))
    }

    /// Connect and serve until `shutdown`; then send what the accounts left
    /// (their unavailable presences) and close the stream. Cancel `shutdown`
    /// only once the gateway's accounts have stopped.
    pub async fn run(self, shutdown: CancellationToken) {
        self.link.run(shutdown).await;
    }
}

/// The users' accounts on the component, protocol [`PROTOCOL`].
pub struct ComponentBackend {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ComponentBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentBackend")
            .field("domain", &self.shared.cfg.domain)
            .finish()
    }
}

impl ComponentBackend {
    /// Where the connection to the server stands, as it changes.
    pub fn link_state(&self) -> watch::Receiver<LinkState> {
        self.shared.state.clone()
    }

    /// The JID of the gateway user `user`.
    pub fn jid_of(&self, user: &str) -> String {
        format!("{}@{}", jid::localpart(user), self.shared.cfg.domain)
    }
}

#[async_trait]
impl Backend for ComponentBackend {
    fn protocol(&self) -> &'static str {
        PROTOCOL
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["component"]
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rooms: true,
            contact_list: true,
            block: true,
            typing: true,
            room_list: true,
            chat_with: false,
            raw: false,
        }
    }

    fn implicit_account(&self, user: &str) -> Option<ImplicitAccount> {
        Some(ImplicitAccount {
            handle: self.jid_of(user),
            password: inbox::InboxKey::generate().map(Secret),
        })
    }

    fn needs_password(&self) -> bool {
        false
    }

    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
        account::run(self.shared.clone(), ctx).await.map_err(|e| {
            tracing::info!(error = %e, "component account ended");
            BackendError::from(e)
        })
    }
}
