//! A minimal skyped for tests of the Skype backend alone: a TLS server on
//! 127.0.0.1 that answers any `USERNAME`/`PASSWORD` with `PASSWORD OK`, echoes
//! `SET USERSTATUS x` as `USERSTATUS x` (which completes the login), answers
//! `PING` and ignores everything else. A test can drop every connection and
//! give it a new certificate for the connections that follow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::replay::make_certs;

/// A running daemon; it stops when dropped.
pub struct Daemon {
    port: u16,
    fingerprint: Mutex<String>,
    acceptor: Arc<Mutex<TlsAcceptor>>,
    drop_all: watch::Sender<u64>,
    logins: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

fn acceptor() -> Result<(TlsAcceptor, String)> {
    let certs = make_certs()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs.chain, certs.key)?;
    Ok((TlsAcceptor::from(Arc::new(config)), certs.fingerprint))
}

impl Daemon {
    /// Listen on a free port of 127.0.0.1.
    pub async fn start() -> Result<Daemon> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (acc, fingerprint) = acceptor()?;
        let acceptor = Arc::new(Mutex::new(acc));
        let (drop_all, drops) = watch::channel(0u64);
        let logins = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, acceptor.clone(), drops, logins.clone()));
        Ok(Daemon {
            port,
            fingerprint: Mutex::new(fingerprint),
            acceptor,
            drop_all,
            logins,
            task,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SHA-256 fingerprint of the certificate new connections get (`AB:CD:…`).
    pub fn fingerprint(&self) -> String {
        self.fingerprint
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Use a new certificate (from a new CA) from the next connection on;
    /// returns its fingerprint.
    pub fn new_certificate(&self) -> Result<String> {
        let (acc, fingerprint) = acceptor()?;
        if let Ok(mut a) = self.acceptor.lock() {
            *a = acc;
        }
        if let Ok(mut f) = self.fingerprint.lock() {
            *f = fingerprint.clone();
        }
        Ok(fingerprint)
    }

    /// Close every open connection.
    pub fn drop_connections(&self) {
        self.drop_all.send_modify(|g| *g += 1);
    }

    /// How many logins it accepted.
    pub fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: Arc<Mutex<TlsAcceptor>>,
    drops: watch::Receiver<u64>,
    logins: Arc<AtomicUsize>,
) {
    while let Ok((tcp, _)) = listener.accept().await {
        let Ok(acc) = acceptor.lock().map(|a| a.clone()) else {
            return;
        };
        let mut drops = drops.clone();
        drops.mark_unchanged();
        let logins = logins.clone();
        tokio::spawn(async move {
            let Ok(tls) = acc.accept(tcp).await else {
                return;
            };
            tokio::select! {
                _ = talk(tls, logins) => {}
                _ = drops.changed() => {}
            }
        });
    }
}

async fn talk(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    logins: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let (r, mut w) = tokio::io::split(tls);
    let mut lines = BufReader::new(r).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim_end_matches('\r');
        let reply = if line.starts_with("PASSWORD ") {
            logins.fetch_add(1, Ordering::SeqCst);
            Some("PASSWORD OK".to_string())
        } else if let Some(status) = line.strip_prefix("SET USERSTATUS ") {
            Some(format!("USERSTATUS {status}"))
        } else if line == "PING" {
            Some("PONG".to_string())
        } else {
            None
        };
        if let Some(reply) = reply {
            w.write_all(format!("{reply}\n").as_bytes()).await?;
            w.flush().await?;
        }
    }
    Ok(())
}
