//! A replaying skyped: a TLS server on 127.0.0.1 port 0 with a certificate made
//! for the test (signed by a test CA, for `localhost` and `127.0.0.1`), which
//! checks `USERNAME`/`PASSWORD`, answers `PASSWORD OK` or `KO`, then plays a
//! daemon-side transcript strictly: every line the gateway sends must be the next
//! expected one (PING is answered with PONG and PONG ignored, at any time). The
//! first mismatch ends the replay and is reported.
//!
//! After the last step the replayer keeps the connection, answers PINGs and
//! records further lines as "after the end" without failing: the recordings stop
//! where their test stopped, not where the gateway stopped talking.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::script::{DaemonStep, Records};

/// How long the replayer waits for each expected line.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a replay stands.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Every step was played.
    pub finished: bool,
    /// The first mismatch.
    pub failure: Option<String>,
    /// The index of the next step.
    pub position: usize,
    /// Connections accepted (TLS handshakes attempted).
    pub connections: usize,
    /// What happened, for failure reports.
    pub log: Vec<String>,
}

/// The certificate material of a test skyped.
pub(crate) struct Certs {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    pub(crate) fingerprint: String,
    pub(crate) ca_pem: String,
}

/// A new test CA and a certificate it signed for `localhost` and `127.0.0.1`.
pub(crate) fn make_certs() -> Result<Certs> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Waggle skyped test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params.distinguished_name.push(DnType::CommonName, "skyped");
    let cert = params.signed_by(&key, &issuer)?;
    let fingerprint = Sha256::digest(cert.der().as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(Certs {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        fingerprint,
        ca_pem: ca_cert.pem(),
    })
}

/// A running replayer.
pub struct Replayer {
    port: u16,
    fingerprint: String,
    cafile: PathBuf,
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The material to listen with, before the script is known (the script's
/// placeholders need the port and fingerprint).
pub struct Prepared {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    port: u16,
    fingerprint: String,
    cafile: PathBuf,
    dir: tempfile::TempDir,
}

impl Prepared {
    /// Make a certificate and bind a port.
    pub async fn new() -> Result<Prepared> {
        let certs = make_certs()?;
        let dir = tempfile::tempdir()?;
        let cafile = dir.path().join("skyped-ca.pem");
        std::fs::write(&cafile, &certs.ca_pem)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_single_cert(certs.chain, certs.key)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        Ok(Prepared {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            port,
            fingerprint: certs.fingerprint,
            cafile,
            dir,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SHA-256 fingerprint of its certificate (`AB:CD:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A PEM file with the CA that signed its certificate.
    pub fn cafile(&self) -> &std::path::Path {
        &self.cafile
    }

    /// Start replaying `steps` for user `user` with password `password`.
    pub fn start(self, steps: Vec<DaemonStep>, user: &str, password: &str) -> Replayer {
        let (tx, rx) = watch::channel(Status::default());
        let server = Server {
            steps,
            user: user.to_string(),
            password: password.to_string(),
            status: tx,
        };
        let task = tokio::spawn(server.serve(self.listener, self.acceptor));
        Replayer {
            port: self.port,
            fingerprint: self.fingerprint,
            cafile: self.cafile,
            status: rx,
            task,
            _dir: self.dir,
        }
    }
}

impl Replayer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its certificate's fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Its CA file.
    pub fn cafile(&self) -> &std::path::Path {
        &self.cafile
    }

    /// The status now.
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Resolves with the first mismatch (never, if there is none).
    pub async fn failed(&self) -> String {
        let mut rx = self.status.clone();
        loop {
            if let Some(f) = rx.borrow().failure.clone() {
                return f;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Wait until every step was played; fail with the mismatch, or after `limit`.
    pub async fn finished(&self, limit: Duration) -> Result<()> {
        let mut rx = self.status.clone();
        let wait = async {
            loop {
                {
                    let s = rx.borrow();
                    if let Some(f) = &s.failure {
                        return Err(anyhow!("{f}"));
                    }
                    if s.finished {
                        return Ok(());
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(anyhow!("the replayer stopped"));
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(r) => r,
            Err(_) => {
                let s = self.status();
                Err(anyhow!(
                    "the daemon side did not finish: stopped before step {}; log:\n  {}",
                    s.position + 1,
                    s.log.join("\n  ")
                ))
            }
        }
    }
}

type Reader = BufReader<ReadHalf<TlsStream<TcpStream>>>;
type Writer = WriteHalf<TlsStream<TcpStream>>;

/// How a connection ended.
enum End {
    /// Go on with the next connection.
    Next,
    /// The replay is over (mismatch).
    Stop,
}

struct Server {
    steps: Vec<DaemonStep>,
    user: String,
    password: String,
    status: watch::Sender<Status>,
}

async fn read_line(r: &mut Reader) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf).await? == 0 {
        return Ok(None);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

async fn write_all(w: &mut Writer, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

fn short(line: &str) -> String {
    if line.len() > 200 {
        let head: String = line.chars().take(200).collect();
        format!("{head}… ({} bytes)", line.len())
    } else {
        line.to_string()
    }
}

impl Server {
    fn log(&self, text: String) {
        self.status.send_modify(|s| s.log.push(text));
    }

    fn fail(&self, text: String) {
        self.status.send_modify(|s| {
            s.log.push(format!("MISMATCH: {text}"));
            if s.failure.is_none() {
                s.failure = Some(text);
            }
        });
    }

    fn position(&self) -> usize {
        self.status.borrow().position
    }

    fn advance(&self) {
        self.status.send_modify(|s| {
            s.position += 1;
            if s.position >= self.steps.len() {
                s.finished = true;
            }
        });
    }

    async fn serve(self, listener: TcpListener, acceptor: TlsAcceptor) {
        if self.steps.is_empty() {
            self.status.send_modify(|s| s.finished = true);
        }
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            self.status.send_modify(|s| s.connections += 1);
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    self.log(format!("TLS handshake failed: {e}"));
                    continue;
                }
            };
            let (r, w) = tokio::io::split(tls);
            let mut r = BufReader::new(r);
            let mut w = w;
            match self.connection(&mut r, &mut w).await {
                End::Next => continue,
                End::Stop => return,
            }
        }
    }

    async fn login(&self, r: &mut Reader, w: &mut Writer) -> Option<bool> {
        let user = tokio::time::timeout(LINE_TIMEOUT, read_line(r))
            .await
            .ok()?
            .ok()??;
        let pass = tokio::time::timeout(LINE_TIMEOUT, read_line(r))
            .await
            .ok()?
            .ok()??;
        let ok = user == format!("USERNAME {}", self.user)
            && pass == format!("PASSWORD {}", self.password);
        let answer: &[u8] = if ok {
            b"PASSWORD OK\n"
        } else {
            b"PASSWORD KO\n"
        };
        write_all(w, answer).await.ok()?;
        Some(ok)
    }

    async fn connection(&self, r: &mut Reader, w: &mut Writer) -> End {
        match self.login(r, w).await {
            None => {
                self.log("the gateway did not log in".into());
                return End::Next;
            }
            Some(false) => {
                self.log("wrong user name or password: answered PASSWORD KO".into());
                let _ = w.shutdown().await;
                return End::Next;
            }
            Some(true) => self.log("logged in".into()),
        }
        loop {
            let pos = self.position();
            let Some(step) = self.steps.get(pos) else {
                return self.after_end(r, w).await;
            };
            match step {
                DaemonStep::Send(lines, records) => {
                    if let Err(e) = self.send(w, lines, *records).await {
                        self.log(format!("sending failed: {e}"));
                        self.advance();
                        if matches!(self.steps.get(pos + 1), Some(DaemonStep::ExpectClose)) {
                            self.advance();
                            return End::Next;
                        }
                        self.fail(format!(
                            "the connection broke while sending step {}",
                            pos + 1
                        ));
                        return End::Stop;
                    }
                    self.advance();
                }
                DaemonStep::Expect(want) => match self.expect(r, w, want).await {
                    Ok(()) => self.advance(),
                    Err(e) => {
                        self.fail(format!("step {} (>> {}): {e}", pos + 1, short(want)));
                        return End::Stop;
                    }
                },
                DaemonStep::Close => {
                    self.log("closing the connection".into());
                    let _ = w.shutdown().await;
                    self.advance();
                    return End::Next;
                }
                DaemonStep::Hang => {
                    self.log("hanging".into());
                    self.advance();
                    while let Ok(Some(_)) = read_line(r).await {}
                    self.log("the gateway closed the hanging connection".into());
                    return End::Next;
                }
                DaemonStep::ExpectClose => {
                    match self.expect_close(r, w).await {
                        Ok(()) => self.advance(),
                        Err(e) => {
                            self.fail(format!("step {} (-- expect-close): {e}", pos + 1));
                            return End::Stop;
                        }
                    }
                    return End::Next;
                }
            }
        }
    }

    async fn send(
        &self,
        w: &mut Writer,
        lines: &[String],
        records: Records,
    ) -> std::io::Result<()> {
        match records {
            Records::PerLine => {
                for l in lines {
                    write_all(w, format!("{l}\n").as_bytes()).await?;
                }
            }
            Records::One => {
                let all: String = lines.iter().map(|l| format!("{l}\n")).collect();
                write_all(w, all.as_bytes()).await?;
            }
            Records::Size(n) => {
                let all: String = lines.iter().map(|l| format!("{l}\n")).collect();
                for chunk in all.as_bytes().chunks(n) {
                    write_all(w, chunk).await?;
                }
            }
        }
        Ok(())
    }

    /// The next line that is not PING or PONG (answering PING).
    async fn next_line(&self, r: &mut Reader, w: &mut Writer) -> Result<Option<String>> {
        loop {
            let line = tokio::time::timeout(LINE_TIMEOUT, read_line(r))
                .await
                .context("timed out")??;
            match line.as_deref() {
                Some("PING") => {
                    let _ = write_all(w, b"PONG\n").await;
                }
                Some("PONG") => {}
                _ => return Ok(line),
            }
        }
    }

    async fn expect(&self, r: &mut Reader, w: &mut Writer, want: &str) -> Result<()> {
        match self.next_line(r, w).await? {
            Some(got) if got == want => Ok(()),
            Some(got) => Err(anyhow!("expected {:?}, got {:?}", short(want), short(&got))),
            None => Err(anyhow!("the gateway closed the connection")),
        }
    }

    async fn expect_close(&self, r: &mut Reader, w: &mut Writer) -> Result<()> {
        loop {
            match tokio::time::timeout(LINE_TIMEOUT, read_line(r)).await {
                Err(_) => return Err(anyhow!("the gateway did not close the connection")),
                // EOF, or a reset while our data was still unread.
                Ok(Err(_)) | Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(l))) if l == "PING" => {
                    let _ = write_all(w, b"PONG\n").await;
                }
                Ok(Ok(Some(l))) if l == "PONG" => {}
                Ok(Ok(Some(got))) => {
                    return Err(anyhow!(
                        "expected the gateway to close, got {:?}",
                        short(&got)
                    ));
                }
            }
        }
    }

    async fn after_end(&self, r: &mut Reader, w: &mut Writer) -> End {
        loop {
            match read_line(r).await {
                Ok(Some(l)) if l == "PING" => {
                    let _ = write_all(w, b"PONG\n").await;
                }
                Ok(Some(l)) if l == "PONG" => {}
                Ok(Some(l)) => self.log(format!("after the end: {}", short(&l))),
                _ => return End::Next,
            }
        }
    }
}
