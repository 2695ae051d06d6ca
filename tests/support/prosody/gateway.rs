//! A real gateway whose only protocol is the XMPP backend, for end-to-end tests
//! against the test Prosody.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use waggle_core::ProtocolRegistry;
use waggle_xmpp::XmppBackend;

use super::{DOMAIN, Prosody};
use crate::client::IrcClient;
use crate::gateway::{GatewayOptions, RunningGateway};

/// How long an account may take to log in.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);

/// A gateway with the `jabber` protocol, on 127.0.0.1 port 0.
pub struct XmppGateway {
    // Declared (and so dropped) before `_dir`: the database lives in it.
    running: RunningGateway,
    _dir: tempfile::TempDir,
}

impl XmppGateway {
    /// Start a gateway with the default XMPP backend.
    pub async fn start() -> Result<XmppGateway> {
        Self::with_backend(XmppBackend::new()).await
    }

    /// Start a gateway with this XMPP backend (e.g. a short keepalive).
    pub async fn with_backend(backend: XmppBackend) -> Result<XmppGateway> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let mut registry = ProtocolRegistry::new();
        registry.register(Arc::new(backend));
        let config = GatewayOptions::default().server_config();
        let running =
            RunningGateway::launch(&dir.path().join("waggle.db"), config, registry).await?;
        Ok(XmppGateway { running, _dir: dir })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.addr()
    }

    /// Connect a client and register it as `nick`.
    pub async fn client(&self, nick: &str) -> Result<IrcClient> {
        let mut c = IrcClient::connect(self.running.addr()).await?;
        c.register(nick).await?;
        Ok(c)
    }

    /// Another client of the registered user `nick`: it identifies with
    /// `password` and has been given whatever attaching brings.
    pub async fn attach(&self, nick: &str, password: &str) -> Result<IrcClient> {
        let mut c = self.client(nick).await?;
        c.root_expect(&format!("identify {password}"), "Password accepted")
            .await?;
        c.sync().await?;
        Ok(c)
    }

    /// `account add jabber user@localhost password`, pointed at `prosody`
    /// (STARTTLS with the test CA) plus `extra` settings; returns the tag. The
    /// account is not switched on.
    pub async fn add_account(
        &self,
        c: &mut IrcClient,
        prosody: &Prosody,
        user: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> Result<String> {
        let texts = c
            .root(&format!("account add jabber {user}@{DOMAIN} {password}"))
            .await?;
        let tag = texts
            .iter()
            .find_map(|t| t.strip_prefix("Account successfully added with tag "))
            .map(str::to_string)
            .with_context(|| format!("account add failed: {texts:?}"))?;
        let mut settings = prosody.account_settings();
        for (k, v) in extra {
            settings.retain(|(key, _)| key != k);
            settings.push((k.to_string(), v.to_string()));
        }
        for (k, v) in settings {
            let reply = c.root(&format!("account {tag} set {k} {v}")).await?;
            if reply
                .iter()
                .any(|r| r.contains("Invalid") || r.contains("not exist"))
            {
                bail!("account {tag} set {k} {v}: {reply:?}");
            }
        }
        Ok(tag)
    }

    /// [`XmppGateway::add_account`], then switch it on and wait for `Logged in`.
    pub async fn online_account(
        &self,
        c: &mut IrcClient,
        prosody: &Prosody,
        user: &str,
        password: &str,
    ) -> Result<String> {
        let tag = self.add_account(c, prosody, user, password, &[]).await?;
        c.set_timeout(LOGIN_TIMEOUT);
        c.root_wait(
            &format!("account {tag} on"),
            &format!("{tag} - Logging in: Logged in"),
        )
        .await?;
        c.set_timeout(crate::DEFAULT_TIMEOUT);
        Ok(tag)
    }

    /// Shut down and wait until every connection is closed.
    pub async fn stop(self) -> Result<()> {
        self.running.stop().await
    }
}
