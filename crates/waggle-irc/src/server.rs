//! The listener: accepts connections, bounds how many run at once, starts the
//! users that may run unattended, and shuts everything down in order when asked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};
use waggle_core::{MessageLog, ProtocolRegistry, Store};

use crate::config::ServerConfig;
use crate::conn;
use crate::registration::Login;
use crate::user::{self, Start};
use crate::users::{Claim, Users};

/// What every connection and user task shares.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub log: Arc<dyn MessageLog>,
    pub protocols: ProtocolRegistry,
    pub motd: Vec<String>,
    /// The users running now.
    pub users: Users,
    /// Cancelled when the gateway stops: every user task ends.
    pub shutdown: CancellationToken,
    /// Every task the gateway started, waited for at shutdown.
    pub tracker: TaskTracker,
    next_client: AtomicU64,
}

impl Shared {
    /// A process-unique number for a new client.
    pub fn next_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed) + 1
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
    /// A gateway over `store` (users, accounts, settings) and `log` (messages)
    /// with the backends in `protocols`.
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        log: Arc<dyn MessageLog>,
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
                log,
                protocols,
                motd,
                users: Users::default(),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                next_client: AtomicU64::new(0),
            }),
        })
    }

    /// Serve on `listeners` until `shutdown` is cancelled, then close every
    /// connection, let every account sign off and every user save what it
    /// holds, and return.
    pub async fn serve(self, listeners: Vec<TcpListener>, shutdown: CancellationToken) {
        let shared = self.shared;
        let tracker = shared.tracker.clone();
        start_unattended(&shared).await;
        let limit = Arc::new(Semaphore::new(shared.config.max_connections));
        for listener in listeners {
            let shared = shared.clone();
            let limit = limit.clone();
            tracker.spawn(async move {
                accept_loop(listener, shared, limit).await;
            });
        }
        shutdown.cancelled().await;
        shared.shutdown.cancel();
        tracker.close();
        tracker.wait().await;
        info!("all connections closed");
    }
}

/// Start every user whose data key the store may unwrap without them.
async fn start_unattended(shared: &Arc<Shared>) {
    let logins = match shared.store.unattended_logins().await {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "cannot list the users to start unattended");
            return;
        }
    };
    for l in logins {
        let login = Login {
            id: l.id,
            key: l.key,
            name: l.name,
        };
        let id = login.id;
        let tx = user::spawn(shared.clone(), Start::Unattended(login));
        if let Claim::Running(_) = shared.users.claim(id, &tx) {
            warn!(user = id.0, "user already running at start");
        }
    }
    if shared.users.len() > 0 {
        info!(users = shared.users.len(), "users started unattended");
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, limit: Arc<Semaphore>) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening");
    }
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => return,
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
            shared.tracker.spawn(conn::refuse(
                stream,
                shared.config.name.clone(),
                "too many connections",
            ));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task_shared = shared.clone();
        let shutdown = shared.shutdown.child_token();
        let span = info_span!("conn", %peer);
        shared.tracker.spawn(
            async move {
                conn::run(stream, peer_host(peer), task_shared, shutdown).await;
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
