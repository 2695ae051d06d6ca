//! A real gateway whose only protocol is the Skype backend, on 127.0.0.1 port 0,
//! over a SQLite database in a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waggle_core::{ProtocolRegistry, Store};
use waggle_irc::{Gateway, ServerConfig};
use waggle_skype::SkypeBackend;
use waggle_store::SqliteStore;

/// The keepalive of the tests' Skype backend: a silent daemon is given up after
/// twice this.
pub const KEEPALIVE: Duration = Duration::from_secs(2);

/// A gateway with the `skype` protocol.
pub struct SkypeGateway {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl SkypeGateway {
    /// Start a gateway (open mode, no flood limits worth mentioning).
    pub async fn start() -> Result<SkypeGateway> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("waggle.db"))
                .await
                .context("open the store")?,
        );
        let mut registry = ProtocolRegistry::new();
        registry.register(Arc::new(SkypeBackend::with_keepalive(KEEPALIVE)));
        let config = ServerConfig {
            flood_burst: 10_000,
            flood_rate: 10_000,
            flood_max_queue: 10_000,
            ..ServerConfig::default()
        };
        let gateway =
            Gateway::new(config, store.clone() as Arc<dyn Store>, registry).context("gateway")?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gateway.serve(vec![listener], shutdown.clone()));
        Ok(SkypeGateway {
            addr,
            shutdown,
            task: Some(task),
            store,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shut down and wait until every connection is closed.
    pub async fn stop(mut self) -> Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .context("gateway did not stop")??;
        }
        self.store.close().await;
        Ok(())
    }
}

impl Drop for SkypeGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
