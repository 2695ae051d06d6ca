//! Waggle's XMPP backend: client (c2s) accounts, protocol names `jabber` and `xmpp`.
//!
//! It owns the XMPP side of an account: connecting (STARTTLS or direct TLS on
//! our own rustls configuration, with a CA file or a pinned certificate
//! fingerprint), SASL through tokio-xmpp, and a session loop that turns stanzas
//! into [`waggle_core::Event`]s and [`waggle_core::Command`]s into stanzas. It
//! drives tokio-xmpp's lower level (XML stream, `client_login`) rather than its
//! `Client`, so that a wrong password ends the attempt for good and a dropped
//! connection is left to the core's reconnect supervisor.
//!
//! Layout: [`config`] (settings), [`dns`] (SRV lookups), [`tls`], [`connect`]
//! (with the stanza size bound of [`limit`], the prompt acknowledgements of
//! [`quickack`] and the on-demand read buffer of [`read_buffer`]), [`login`],
//! [`convert`]
//! (pure stanza ⇄ event translation) and the session loop. It depends on
//! `waggle-core` and `waggle-tls` only; it knows nothing of IRC or the store.

pub mod config;
pub mod connect;
pub mod convert;
pub mod dns;
pub mod error;
mod io_forward;
pub mod limit;
pub mod login;
pub mod quickack;
pub mod read_buffer;
pub(crate) mod session;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use tokio_xmpp::xmlstream::Timeouts;
use waggle_core::{AccountContext, Backend, BackendError, Capabilities, Event, SettingDef};

pub use config::{AccountConfig, SETTINGS, Security};
pub use connect::XmppConnector;
pub use dns::Dns;
pub use error::XmppError;

/// What an account with `tls try` is told when the server offers no STARTTLS.
pub const UNENCRYPTED_WARNING: &str =
    "Warning: the server does not offer STARTTLS, so this connection is not encrypted (tls is try)";

/// The XMPP client backend.
#[derive(Debug)]
pub struct XmppBackend {
    timeouts: Timeouts,
    question_ids: AtomicU64,
    dns: Dns,
}

impl Default for XmppBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl XmppBackend {
    /// The backend with its default keepalive: a ping after 2 minutes of silence,
    /// the connection given up 1 minute later.
    pub fn new() -> XmppBackend {
        Self::with_keepalive(Duration::from_secs(120), Duration::from_secs(60))
    }

    /// The backend with another keepalive: after `idle` without data it pings
    /// the server (XEP-0199); after `timeout` more without an answer the
    /// connection counts as dead and the account reconnects.
    pub fn with_keepalive(idle: Duration, timeout: Duration) -> XmppBackend {
        XmppBackend {
            timeouts: Timeouts {
                read_timeout: idle,
                response_timeout: timeout,
            },
            question_ids: AtomicU64::new(1),
            dns: Dns::System,
        }
    }

    /// The backend with its default keepalive, asking these name servers instead
    /// of the system's (`/etc/resolv.conf`) for the SRV and address lookups of
    /// accounts without a `server` setting. For tests with a DNS server of their own.
    pub fn with_name_servers(servers: Vec<SocketAddr>) -> XmppBackend {
        XmppBackend {
            dns: Dns::NameServers(servers),
            ..Self::new()
        }
    }

    async fn run_once(&self, ctx: &mut AccountContext) -> Result<(), XmppError> {
        let cfg = AccountConfig::from_spec(&ctx.spec)?;
        let target = connect::Target::for_account(&cfg, &self.dns).await?;
        let password = ctx.spec.password.0.clone();
        // Boxed: the stream is 2 KiB, and inline it would stay in this future
        // (and the session's) for as long as the account is online.
        let online = Box::new({
            let ctx_ref: &AccountContext = ctx;
            login::login(&cfg, &password, &target, self.timeouts, |text| async move {
                ctx_ref
                    .emit(Event::LoginProgress {
                        text: text.to_string(),
                    })
                    .await;
            })
            .await?
        });
        let seen = target.observation();
        if seen.unverified
            && cfg.fingerprint.is_none()
            && let Some(fp) = seen.fingerprint
        {
            // Pinned from now on, automatic reconnects included.
            ctx.spec.settings.insert("fingerprint".into(), fp.clone());
            ctx.emit(Event::SettingChanged {
                key: "fingerprint".into(),
                value: fp,
            })
            .await;
        }
        if !online.encrypted && cfg.security == (Security::StartTls { required: false }) {
            ctx.emit(Event::Notice {
                text: UNENCRYPTED_WARNING.into(),
            })
            .await;
        }
        let link = session::Link {
            dns: self.dns.clone(),
            timeouts: self.timeouts,
        };
        session::run(ctx, &cfg, online, &link, &self.question_ids).await
    }
}

#[async_trait]
impl Backend for XmppBackend {
    fn protocol(&self) -> &'static str {
        "jabber"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["xmpp"]
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            rooms: true,
            contact_list: true,
            block: true,
            typing: true,
            room_list: true,
            chat_with: true,
            raw: false,
        }
    }

    fn settings(&self) -> &'static [SettingDef] {
        SETTINGS
    }

    fn contact_actions(&self) -> &'static [(&'static str, &'static str)] {
        &[("VERSION", "Get client (version) information")]
    }

    fn handle_domains(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
        let result = self.run_once(ctx).await;
        if let Err(e) = &result {
            tracing::info!(error = %e, "XMPP connection ended");
        }
        result.map_err(BackendError::from)
    }
}
