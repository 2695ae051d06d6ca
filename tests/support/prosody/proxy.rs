//! A TCP relay on loopback between the backend and the test Prosody, that a
//! test can cut mid-stream (every relayed connection is dropped at once, both
//! sides see it closed), make refuse new connections for a while, or make
//! swallow what the client sends (a link that died without anyone noticing).
//! It keeps
//! what the clients sent, so a test on an unencrypted stream can read the
//! client's side of the conversation (e.g. its XEP-0198 acknowledgements).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running relay; it stops when dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
    refusing: Arc<AtomicBool>,
    swallowing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TcpProxy {
    /// Relay connections to 127.0.0.1:`upstream_port`, listening on a free port
    /// of 127.0.0.1.
    pub async fn start(upstream_port: u16) -> Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the proxy")?;
        let addr = listener.local_addr()?;
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let (cut, cut_rx) = watch::channel(0u64);
        let refusing = Arc::new(AtomicBool::new(false));
        let swallowing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let relay = Relay {
            cut: cut_rx,
            refusing: refusing.clone(),
            swallowing: swallowing.clone(),
            accepted: accepted.clone(),
            sent: sent.clone(),
        };
        let task = tokio::spawn(accept_loop(listener, upstream, relay));
        Ok(TcpProxy {
            addr,
            cut,
            refusing,
            swallowing,
            accepted,
            sent,
            task,
        })
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Drop every relayed connection now.
    pub fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// While on, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    /// While on, what clients send is kept (see [`TcpProxy::client_text`]) but
    /// not passed on: the server hears nothing, the client does not know.
    pub fn swallow(&self, on: bool) {
        self.swallowing.store(on, Ordering::SeqCst);
    }

    /// How many connections were relayed so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Everything the clients sent so far, as text (lossy).
    pub fn client_text(&self) -> String {
        let sent = self.sent.lock().map(|s| s.clone()).unwrap_or_default();
        String::from_utf8_lossy(&sent).into_owned()
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// What every relayed connection shares.
#[derive(Clone)]
struct Relay {
    cut: watch::Receiver<u64>,
    refusing: Arc<AtomicBool>,
    swallowing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<u8>>>,
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, relay: Relay) {
    while let Ok((client, _)) = listener.accept().await {
        if relay.refusing.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream).await else {
            continue;
        };
        relay.accepted.fetch_add(1, Ordering::SeqCst);
        let mut cut = relay.cut.clone();
        cut.mark_unchanged();
        let relay = relay.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = copy(client, server, relay) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

/// Copy both ways until either side closes; what the client sends is kept.
async fn copy(client: TcpStream, server: TcpStream, relay: Relay) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = buf.get(..n).unwrap_or_default();
            if let Ok(mut s) = relay.sent.lock() {
                s.extend_from_slice(chunk);
            }
            if relay.swallowing.load(Ordering::SeqCst) {
                continue;
            }
            if sw.write_all(chunk).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
