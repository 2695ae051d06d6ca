//! The listener: accepts connections, bounds how many run at once, and shuts
//! everything down in order when asked.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};
use waggle_core::{ProtocolRegistry, Store};

use crate::config::ServerConfig;
use crate::connection;

/// What every connection and user task shares.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub protocols: ProtocolRegistry,
    pub motd: Vec<String>,
    /// Names of users identified right now (lower-case), so a login is never live twice.
    pub online: Mutex<HashSet<String>>,
}

impl Shared {
    /// Claim a login name for this session; false when another session holds it.
    pub fn claim(&self, name: &str) -> bool {
        match self.online.lock() {
            Ok(mut set) => set.insert(name.to_lowercase()),
            Err(_) => false,
        }
    }

    /// Release a claimed login name.
    pub fn release(&self, name: &str) {
        if let Ok(mut set) = self.online.lock() {
            set.remove(&name.to_lowercase());
        }
    }
}

/// The IRC side of the gateway.
pub struct Gateway {
    shared: Arc<Shared>,
}

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The MOTD file could not be read.
    #[error("cannot read MOTD file {path}: {source}")]
    Motd {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Gateway {
    /// A gateway over `store` with the backends in `protocols`.
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        protocols: ProtocolRegistry,
    ) -> Result<Self, GatewayError> {
        let motd = match &config.motd_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| GatewayError::Motd {
                    path: path.display().to_string(),
                    source,
                })?
                .lines()
                .map(str::to_string)
                .collect(),
            None => default_motd(&config.name),
        };
        Ok(Gateway {
            shared: Arc::new(Shared {
                config,
                store,
                protocols,
                motd,
                online: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// Serve on `listeners` until `shutdown` is cancelled, then close every
    /// connection (each user's state is already on disk) and return.
    pub async fn serve(self, listeners: Vec<TcpListener>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let limit = Arc::new(Semaphore::new(self.shared.config.max_connections));
        for listener in listeners {
            let shared = self.shared.clone();
            let tracker2 = tracker.clone();
            let shutdown = shutdown.clone();
            let limit = limit.clone();
            tracker.spawn(async move {
                accept_loop(listener, shared, tracker2, shutdown, limit).await;
            });
        }
        shutdown.cancelled().await;
        tracker.close();
        tracker.wait().await;
        info!("all connections closed");
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    limit: Arc<Semaphore>,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening");
    }
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            warn!(%peer, "connection limit reached");
            tracker.spawn(connection::refuse(stream, shared.config.name.clone()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let shutdown = shutdown.child_token();
        let span = info_span!("conn", %peer);
        let tracker2 = tracker.clone();
        tracker.spawn(
            async move {
                connection::run(stream, peer_host(peer), shared, shutdown, tracker2).await;
                drop(permit);
            }
            .instrument(span),
        );
    }
}

fn peer_host(peer: SocketAddr) -> String {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) if ip.is_loopback() => "localhost".into(),
        std::net::IpAddr::V6(ip) => ip.to_string().replace(':', "-"),
    }
}

fn default_motd(name: &str) -> Vec<String> {
    vec![
        format!("Welcome to Waggle on {name}."),
        "Talk to root in &bitlbee: `help' lists what it can do.".into(),
    ]
}
