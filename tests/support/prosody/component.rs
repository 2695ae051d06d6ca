//! A real gateway with the XMPP component connected to the test Prosody (which
//! must have been started with [`ProsodyOptions::component`] for
//! [`GW_DOMAIN`] and [`SECRET`]), restartable on the same database.
//!
//! [`ProsodyOptions::component`]: super::ProsodyOptions::component

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waggle_component::{Component, ComponentConfig, LinkState};
use waggle_core::ProtocolRegistry;
use waggle_store::SqliteStore;

use super::Prosody;
use crate::client::IrcClient;
use crate::gateway::{GatewayOptions, RunningGateway};

/// The component's domain on the test server.
pub const GW_DOMAIN: &str = "gw.localhost";
/// The secret the test server shares with the component.
pub const SECRET: &str = "component-secret";
/// How long the component may take to connect (or to reconnect: it retries
/// every second in the tests).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

struct Run {
    gateway: RunningGateway,
    stop: CancellationToken,
    link: JoinHandle<()>,
    state: watch::Receiver<LinkState>,
    store: Arc<SqliteStore>,
}

/// A gateway whose only protocol is the component.
pub struct ComponentGateway {
    run: Option<Run>,
    port: u16,
    secret: String,
    keepalive: Option<Duration>,
    db_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl ComponentGateway {
    /// Start with the right secret and wait until the component is connected.
    pub async fn start(prosody: &Prosody) -> Result<ComponentGateway> {
        let mut gw = Self::start_with_secret(prosody, SECRET).await?;
        gw.wait_connected().await?;
        Ok(gw)
    }

    /// Start with the component pinging the server after `keepalive` of
    /// silence (and giving up after as long again), and wait until connected.
    pub async fn start_with_keepalive(
        prosody: &Prosody,
        keepalive: Duration,
    ) -> Result<ComponentGateway> {
        let mut gw = Self::new(prosody, SECRET, Some(keepalive))?;
        gw.launch().await?;
        gw.wait_connected().await?;
        Ok(gw)
    }

    /// Start with `secret` (not waiting for the connection).
    pub async fn start_with_secret(prosody: &Prosody, secret: &str) -> Result<ComponentGateway> {
        let mut gw = Self::new(prosody, secret, None)?;
        gw.launch().await?;
        Ok(gw)
    }

    fn new(
        prosody: &Prosody,
        secret: &str,
        keepalive: Option<Duration>,
    ) -> Result<ComponentGateway> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        Ok(ComponentGateway {
            run: None,
            port: prosody.component_port(),
            secret: secret.to_string(),
            keepalive,
            db_path: dir.path().join("waggle.db"),
            _dir: dir,
        })
    }

    async fn launch(&mut self) -> Result<()> {
        let store = Arc::new(
            SqliteStore::open(&self.db_path)
                .await
                .context("open the store")?,
        );
        let mut cfg =
            ComponentConfig::new(GW_DOMAIN, &format!("127.0.0.1:{}", self.port), &self.secret)?;
        cfg.backoff = "1".parse()?;
        if let Some(k) = self.keepalive {
            cfg.keepalive = k;
        }
        let (component, backend) = Component::new(cfg, store.clone())?;
        let state = backend.link_state();
        let mut registry = ProtocolRegistry::new();
        registry.register(Arc::new(backend));
        let stop = CancellationToken::new();
        let link = tokio::spawn(component.run(stop.clone()));
        let config = GatewayOptions::default().server_config();
        let gateway = RunningGateway::launch(&self.db_path, config, registry).await?;
        self.run = Some(Run {
            gateway,
            stop,
            link,
            state,
            store,
        });
        Ok(())
    }

    fn run(&self) -> Result<&Run> {
        self.run.as_ref().context("the gateway is stopped")
    }

    /// The component's link state now.
    pub fn link_state(&self) -> Option<LinkState> {
        self.run.as_ref().map(|r| r.state.borrow().clone())
    }

    /// Wait until the component's connection is up.
    pub async fn wait_connected(&mut self) -> Result<()> {
        self.wait_state(|s| matches!(s, LinkState::Up(_)))
            .await
            .map(|_| ())
    }

    /// Wait until the link is down with an error; returns it and the delay
    /// before the next attempt.
    pub async fn wait_failed(&mut self) -> Result<(String, Option<Duration>)> {
        match self
            .wait_state(|s| matches!(s, LinkState::Down { error: Some(_), .. }))
            .await?
        {
            LinkState::Down {
                error: Some(e),
                retry_in,
            } => Ok((e, retry_in)),
            other => bail!("unexpected link state {other:?}"),
        }
    }

    async fn wait_state(&mut self, f: impl Fn(&LinkState) -> bool) -> Result<LinkState> {
        let mut state = self.run()?.state.clone();
        let waited = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                let now = state.borrow_and_update().clone();
                if f(&now) {
                    return Ok(now);
                }
                if state.changed().await.is_err() {
                    bail!("the component stopped");
                }
            }
        })
        .await;
        match waited {
            Ok(r) => r,
            Err(_) => bail!(
                "the component's link did not reach the state wanted; it is {:?}",
                *state.borrow()
            ),
        }
    }

    /// Connect a client and register it as `nick` (not identified).
    pub async fn client(&self, nick: &str) -> Result<IrcClient> {
        let mut c = IrcClient::connect(self.run()?.gateway.addr()).await?;
        c.register(nick).await?;
        Ok(c)
    }

    /// Connect `nick`, `register` them with `password` and wait until their
    /// component account is logged in.
    pub async fn registered(&self, nick: &str, password: &str) -> Result<IrcClient> {
        let mut c = self.client(nick).await?;
        c.set_timeout(CONNECT_TIMEOUT);
        c.root_wait(
            &format!("register {password}"),
            "gw - Logging in: Logged in",
        )
        .await?;
        c.set_timeout(crate::DEFAULT_TIMEOUT);
        Ok(c)
    }

    /// Connect `nick` and identify with `password`; waits for their component
    /// account when `wait_online`.
    pub async fn identified(
        &self,
        nick: &str,
        password: &str,
        wait_online: bool,
    ) -> Result<IrcClient> {
        let mut c = self.client(nick).await?;
        if wait_online {
            c.set_timeout(CONNECT_TIMEOUT);
            c.root_wait(
                &format!("identify {password}"),
                "gw - Logging in: Logged in",
            )
            .await?;
        } else {
            c.root_expect(&format!("identify {password}"), "Password accepted")
                .await?;
        }
        c.set_timeout(crate::DEFAULT_TIMEOUT);
        Ok(c)
    }

    /// Shut down: the gateway, then the component (which sends the users'
    /// unavailable presences and closes its stream).
    pub async fn halt(&mut self) -> Result<()> {
        let Some(run) = self.run.take() else {
            return Ok(());
        };
        run.gateway.stop().await?;
        run.stop.cancel();
        tokio::time::timeout(Duration::from_secs(15), run.link)
            .await
            .context("the component did not stop")?
            .context("the component task failed")?;
        run.store.close().await;
        Ok(())
    }

    /// Stop and start again on the same database (no unattended key: users
    /// are not running until they identify).
    pub async fn restart(&mut self) -> Result<()> {
        self.halt().await?;
        self.launch().await?;
        self.wait_connected().await
    }
}

impl Drop for ComponentGateway {
    fn drop(&mut self) {
        if let Some(run) = &self.run {
            run.stop.cancel();
        }
    }
}
