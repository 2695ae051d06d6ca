//! A TCP relay on loopback between the backend and the test Prosody, that a
//! test can cut mid-stream (every relayed connection is dropped at once, both
//! sides see it closed) or make refuse new connections for a while. It keeps
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
        let accepted = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept_loop(
            listener,
            upstream,
            cut_rx,
            refusing.clone(),
            accepted.clone(),
            sent.clone(),
        ));
        Ok(TcpProxy {
            addr,
            cut,
            refusing,
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

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    cut: watch::Receiver<u64>,
    refusing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<u8>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        if refusing.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect(upstream).await else {
            continue;
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        let mut cut = cut.clone();
        cut.mark_unchanged();
        let sent = sent.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = relay(client, server, sent) => {}
                _ = cut.changed() => {}
            }
        });
    }
}

/// Copy both ways until either side closes; what the client sends is kept.
async fn relay(client: TcpStream, server: TcpStream, sent: Arc<Mutex<Vec<u8>>>) {
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
            if let Ok(mut s) = sent.lock() {
                s.extend_from_slice(chunk);
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
