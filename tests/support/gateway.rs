//! A real gateway for a test: [`waggle_irc::Gateway`] over a temporary SQLite
//! database, listening on 127.0.0.1 port 0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waggle_core::{ProtocolRegistry, Store};
use waggle_irc::{AuthMode, Gateway, ServerConfig};
use waggle_store::SqliteStore;

use crate::backend::{TestAccountHandle, TestBackend, TestHub};
use crate::client::IrcClient;

/// How a [`TestGateway`] is configured.
///
/// The defaults are those of [`ServerConfig`] except for flood control, which is
/// generous so that scripted clients are never throttled; tests of flood control
/// set their own limits.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The server name (prefix of numerics, host of root's mask).
    pub name: String,
    /// Who may use the gateway.
    pub auth_mode: AuthMode,
    /// The server password for [`AuthMode::Closed`].
    pub server_password: Option<String>,
    /// Send PING after this long without a line from the client.
    pub ping_interval: Duration,
    /// Drop the client after this long without a line.
    pub ping_timeout: Duration,
    /// Lines a client may send in a burst before throttling starts.
    pub flood_burst: u32,
    /// Lines per second a throttled client may send.
    pub flood_rate: u32,
    /// Lines a throttled client may have waiting before it is dropped.
    pub flood_max_queue: u32,
    /// Outgoing lines queued for a client before it is dropped.
    pub sendq_lines: usize,
    /// At most this many connections at once.
    pub max_connections: usize,
    /// At most this many connections at once from one address.
    pub max_connections_per_address: usize,
    /// IRCv3 REGISTER works before the connection is registered.
    pub register_before_connect: bool,
    /// Register the `test` backend (false: a gateway with no backend at all).
    pub with_test_backend: bool,
    /// What the `test` backend declares it can do (everything by default).
    pub capabilities: waggle_core::Capabilities,
    /// What one user may hold.
    pub user_limits: waggle_irc::UserLimits,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        let d = ServerConfig::default();
        GatewayOptions {
            name: d.name,
            auth_mode: d.auth_mode,
            server_password: d.server_password,
            ping_interval: d.ping_interval,
            ping_timeout: d.ping_timeout,
            flood_burst: 10_000,
            flood_rate: 10_000,
            flood_max_queue: 10_000,
            sendq_lines: d.sendq_lines,
            max_connections: d.max_connections,
            max_connections_per_address: d.max_connections,
            register_before_connect: d.register_before_connect,
            with_test_backend: true,
            capabilities: crate::backend::ALL_CAPABILITIES,
            user_limits: d.user_limits,
        }
    }
}

impl GatewayOptions {
    /// The options without the `test` backend.
    pub fn without_backend(mut self) -> Self {
        self.with_test_backend = false;
        self
    }

    /// The front-end settings these options stand for.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            name: self.name.clone(),
            auth_mode: self.auth_mode,
            server_password: self.server_password.clone(),
            ping_interval: self.ping_interval,
            ping_timeout: self.ping_timeout,
            flood_burst: self.flood_burst,
            flood_rate: self.flood_rate,
            flood_max_queue: self.flood_max_queue,
            sendq_lines: self.sendq_lines,
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            register_before_connect: self.register_before_connect,
            user_limits: self.user_limits,
            ..ServerConfig::default()
        }
    }
}

/// One run of a gateway over a database file, with whatever protocols it is
/// given; the launchers of every test gateway share it. Dropping it cancels the
/// gateway; [`RunningGateway::stop`] also waits for every connection to close.
pub struct RunningGateway {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    store: Arc<SqliteStore>,
}

impl RunningGateway {
    /// Open the store at `db_path` and serve on 127.0.0.1 port 0.
    pub async fn launch(
        db_path: &Path,
        config: ServerConfig,
        registry: ProtocolRegistry,
    ) -> Result<RunningGateway> {
        Self::launch_with_tls(db_path, config, registry, None).await
    }

    /// [`RunningGateway::launch`], also serving TLS on a second 127.0.0.1 port
    /// when `tls` is given.
    pub async fn launch_with_tls(
        db_path: &Path,
        config: ServerConfig,
        registry: ProtocolRegistry,
        tls: Option<waggle_irc::ServerTls>,
    ) -> Result<RunningGateway> {
        let store = Arc::new(SqliteStore::open(db_path).await.context("open the store")?);
        let gateway = Gateway::new(
            config,
            store.clone() as Arc<dyn Store>,
            store.clone() as Arc<dyn waggle_core::MessageLog>,
            registry,
        )
        .context("gateway")?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut listeners = vec![listener.into()];
        let mut tls_addr = None;
        if let Some(tls) = tls {
            let l = TcpListener::bind("127.0.0.1:0")
                .await
                .context("bind 127.0.0.1:0")?;
            tls_addr = Some(l.local_addr()?);
            listeners.push(waggle_irc::Listener::Tls(l, tls));
        }
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.serve(listeners, shutdown.clone()));
        Ok(RunningGateway {
            addr,
            tls_addr,
            shutdown,
            task: Some(task),
            store,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store it runs on (for tests that make users as the admin would).
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }

    /// Where it listens with TLS, if it does.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// Shut down, wait until every connection is closed, close the store.
    pub async fn stop(mut self) -> Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(15), task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => bail!("gateway task failed: {e}"),
                Err(_) => bail!("gateway did not shut down within 15 s"),
            }
        }
        self.store.close().await;
        Ok(())
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A gateway serving on loopback for one test.
pub struct TestGateway {
    // Declared (and so dropped) before `dir`: the database lives in it.
    running: Option<RunningGateway>,
    opts: GatewayOptions,
    hub: TestHub,
    db_path: PathBuf,
    dir: tempfile::TempDir,
}

impl TestGateway {
    /// Start a gateway with `opts` over a fresh database.
    pub async fn start(opts: GatewayOptions) -> Result<TestGateway> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let db_path = dir.path().join("waggle.db");
        let mut gw = TestGateway {
            running: None,
            opts,
            hub: TestHub::new(),
            db_path,
            dir,
        };
        gw.launch().await?;
        Ok(gw)
    }

    /// Start a gateway with the default options (open mode, `test` backend).
    pub async fn start_default() -> Result<TestGateway> {
        Self::start(GatewayOptions::default()).await
    }

    async fn launch(&mut self) -> Result<()> {
        let mut registry = ProtocolRegistry::new();
        if self.opts.with_test_backend {
            registry.register(Arc::new(TestBackend::with_capabilities(
                self.hub.clone(),
                self.opts.capabilities,
            )));
        }
        self.running =
            Some(RunningGateway::launch(&self.db_path, self.opts.server_config(), registry).await?);
        Ok(())
    }

    async fn halt(&mut self) -> Result<()> {
        match self.running.take() {
            Some(r) => r.stop().await,
            None => Ok(()),
        }
    }

    /// The store of the running gateway.
    pub fn store(&self) -> Result<&SqliteStore> {
        self.running
            .as_ref()
            .map(RunningGateway::store)
            .context("the test gateway is not running")
    }

    /// The address it listens on (changes with each restart).
    pub fn addr(&self) -> SocketAddr {
        self.running
            .as_ref()
            .map(|r| r.addr)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The options it runs with.
    pub fn options(&self) -> &GatewayOptions {
        &self.opts
    }

    /// Where test accounts register once logged in.
    pub fn hub(&self) -> &TestHub {
        &self.hub
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The temporary directory holding the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Shut down (closing every connection) and start again on the same database.
    pub async fn restart(&mut self) -> Result<()> {
        self.halt().await?;
        self.hub.clear();
        self.launch().await
    }

    /// [`TestGateway::restart`] with other options (e.g. without the backend).
    pub async fn restart_with(&mut self, opts: GatewayOptions) -> Result<()> {
        self.halt().await?;
        self.opts = opts;
        self.hub.clear();
        self.launch().await
    }

    /// Shut down and wait until every connection is closed.
    pub async fn stop(mut self) -> Result<()> {
        self.halt().await
    }

    /// Connect a client (not yet registered).
    pub async fn connect(&self) -> Result<IrcClient> {
        IrcClient::connect(self.addr()).await
    }

    /// Add a `test` account with `handle` for the client's user, log it in and
    /// return its handle. Waits for root's `<tag> - Logging in: Logged in`.
    pub async fn online_account(
        &self,
        c: &mut IrcClient,
        handle: &str,
    ) -> Result<TestAccountHandle> {
        let texts = c.root(&format!("account add test {handle} pw")).await?;
        let tag = texts
            .iter()
            .find_map(|t| t.strip_prefix("Account successfully added with tag "))
            .map(str::to_string)
            .with_context(|| format!("account add failed: {texts:?}"))?;
        c.root_wait(
            &format!("account {tag} on"),
            &format!("{tag} - Logging in: Logged in"),
        )
        .await?;
        self.hub.account(handle).await
    }

    /// Connect a client and register it as `nick`.
    pub async fn client(&self, nick: &str) -> Result<IrcClient> {
        let mut c = self.connect().await?;
        c.register(nick).await?;
        Ok(c)
    }
}
