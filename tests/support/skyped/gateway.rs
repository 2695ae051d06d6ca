//! A real gateway whose only protocol is the Skype backend, on 127.0.0.1 port 0,
//! over a SQLite database in a temporary directory.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use waggle_core::ProtocolRegistry;
use waggle_skype::SkypeBackend;

use crate::gateway::{GatewayOptions, RunningGateway};

/// The keepalive of the tests' Skype backend: a silent daemon is given up after
/// twice this.
pub const KEEPALIVE: Duration = Duration::from_secs(2);

/// A gateway with the `skype` protocol.
pub struct SkypeGateway {
    // Declared (and so dropped) before `_dir`: the database lives in it.
    running: RunningGateway,
    _dir: tempfile::TempDir,
}

impl SkypeGateway {
    /// Start a gateway (open mode, no flood limits worth mentioning).
    pub async fn start() -> Result<SkypeGateway> {
        let dir = tempfile::tempdir().context("temporary directory")?;
        let mut registry = ProtocolRegistry::new();
        registry.register(Arc::new(SkypeBackend::with_keepalive(KEEPALIVE)));
        let config = GatewayOptions::default().server_config();
        let running =
            RunningGateway::launch(&dir.path().join("waggle.db"), config, registry).await?;
        Ok(SkypeGateway { running, _dir: dir })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.running.addr()
    }

    /// Shut down and wait until every connection is closed.
    pub async fn stop(self) -> Result<()> {
        self.running.stop().await
    }
}
