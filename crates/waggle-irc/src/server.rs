//! The listener: accepts connections, bounds how many run at once, starts the
//! users that may run unattended, and shuts everything down in order when asked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};
use waggle_core::{MessageLog, ProtocolRegistry, Store};

use crate::config::ServerConfig;
use crate::conn;
use crate::registration::Login;
use crate::tls::ServerTls;
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
    /// Failed password attempts, by user and address.
    pub guard: crate::guard::AuthGuard,
    /// Open connections by address.
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Cancelled when the gateway stops: every user task ends.
    pub shutdown: CancellationToken,
    /// Every task the gateway started, waited for at shutdown.
    pub tracker: TaskTracker,
    next_client: AtomicU64,
}

/// One open connection counted against its address; uncounted when dropped.
struct AddressSlot {
    shared: Arc<Shared>,
    addr: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.addr);
            }
        }
    }
}

impl Shared {
    /// Count a connection from `addr`, unless that address has its limit.
    fn address_slot(self: &Arc<Self>, addr: IpAddr) -> Option<AddressSlot> {
        let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(addr).or_insert(0);
        if *n >= self.config.max_connections_per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            shared: self.clone(),
            addr,
        })
    }

    /// A process-unique number for a new client.
    pub fn next_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A socket the gateway accepts IRC connections on.
pub enum Listener {
    /// Plain TCP.
    Plain(TcpListener),
    /// TLS over TCP.
    Tls(TcpListener, ServerTls),
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener::Plain(l)
    }
}

/// How long a TLS client has for its handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

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
                guard: Default::default(),
                per_address: Default::default(),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                next_client: AtomicU64::new(0),
            }),
        })
    }

    /// Serve on `listeners` until `shutdown` is cancelled, then close every
    /// connection, let every account sign off and every user save what it
    /// holds, and return.
    pub async fn serve(self, listeners: Vec<Listener>, shutdown: CancellationToken) {
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

async fn accept_loop(listener: Listener, shared: Arc<Shared>, limit: Arc<Semaphore>) {
    let (listener, tls) = match listener {
        Listener::Plain(l) => (l, None),
        Listener::Tls(l, t) => (l, Some(t)),
    };
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, tls = tls.is_some(), "listening");
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
        let Some(slot) = shared.address_slot(peer.ip()) else {
            warn!(%peer, "connection limit of the address reached");
            shared.tracker.spawn(conn::refuse(
                stream,
                shared.config.name.clone(),
                "too many connections from your address",
            ));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task_shared = shared.clone();
        let shutdown = shared.shutdown.child_token();
        let span = info_span!("conn", %peer, tls = tls.is_some());
        let acceptor = tls.as_ref().map(ServerTls::acceptor);
        shared.tracker.spawn(
            async move {
                let host = peer_host(peer);
                match acceptor {
                    None => conn::run(stream, host, Some(peer.ip()), task_shared, shutdown).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                conn::run(tls, host, Some(peer.ip()), task_shared, shutdown).await
                            }
                            Ok(Err(e)) => info!(error = %e, "TLS handshake failed"),
                            Err(_) => info!("TLS handshake timed out"),
                        }
                    }
                }
                drop(slot);
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
