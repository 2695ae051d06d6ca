//! A real Prosody for the XMPP tests.
//!
//! [`Prosody::start`] writes its own configuration, data directory and a test CA
//! with a server certificate for `localhost` into a temporary directory, picks
//! free loopback ports (c2s with STARTTLS, and direct TLS), registers the given
//! accounts with `prosodyctl`, starts `prosody -F` with a group chat component
//! on `conference.localhost`, waits until it listens, and kills it on drop. A
//! second virtual host, [`DNS_DOMAIN`], serves the tests that find the server
//! through DNS (accounts there with [`Prosody::register_at`]). It
//! can be stopped and started again on the same ports and data (a server that
//! goes down and comes back), and frozen with SIGSTOP (a dead link).
//!
//! - [`contact`]: [`XmppContact`], a tokio-xmpp client that plays a contact.
//! - [`account`]: [`BackendAccount`], the backend driven directly (no IRC).
//! - [`gateway`]: [`XmppGateway`], a real gateway with the XMPP backend.
//! - [`component`]: [`ComponentGateway`], a real gateway with the XMPP component.
//! - [`dns`]: [`Dnsmasq`], a DNS server on loopback with the records a test gives.

pub mod account;
pub mod component;
pub mod contact;
pub mod dns;
pub mod gateway;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use sha2::{Digest, Sha256};

pub use account::{BackendAccount, spec};
pub use component::{ComponentGateway, GW_DOMAIN, SECRET};
pub use contact::{XmppContact, befriend};
pub use dns::Dnsmasq;
pub use gateway::XmppGateway;

/// The XMPP domain of the test server.
pub const DOMAIN: &str = "localhost";
/// The group chat service.
pub const MUC: &str = "conference.localhost";
/// A second virtual host, for finding the server through DNS: `localhost` will
/// not do there, resolvers answer it themselves (RFC 6761) and never ask a DNS
/// server for its SRV records. `.test` is reserved for testing (RFC 2606).
pub const DNS_DOMAIN: &str = "waggle.test";

/// How long Prosody may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Which parts of Prosody a test wants beyond the plain server.
#[derive(Debug, Clone, Default)]
pub struct ProsodyOptions {
    component: Option<(String, String)>,
}

impl ProsodyOptions {
    /// An external component (XEP-0114) `domain` with `secret`, on
    /// [`Prosody::component_port`].
    pub fn component(mut self, domain: &str, secret: &str) -> Self {
        self.component = Some((domain.to_string(), secret.to_string()));
        self
    }

    /// Start a Prosody with these accounts (user name, password) on `localhost`.
    pub async fn start(self, users: &[(&str, &str)]) -> Result<Prosody> {
        Prosody::launch(self, users).await
    }
}

/// A running (or stopped) Prosody.
pub struct Prosody {
    child: Option<Child>,
    config: PathBuf,
    c2s_port: u16,
    tls_port: u16,
    component_port: Option<u16>,
    fingerprint: String,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Prosody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prosody")
            .field("c2s_port", &self.c2s_port)
            .field("tls_port", &self.tls_port)
            .finish()
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind a free port")?;
    Ok(l.local_addr()?.port())
}

/// Colon-separated upper-case hex, as the backend prints fingerprints.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Write a CA and a server certificate for our hosts signed by it; returns the
/// server certificate's SHA-256 fingerprint.
fn write_certs(dir: &Path) -> Result<String> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Waggle test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec![
        DOMAIN.to_string(),
        MUC.to_string(),
        DNS_DOMAIN.to_string(),
    ])?;
    params.distinguished_name.push(DnType::CommonName, DOMAIN);
    let cert = params.signed_by(&key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("server.crt"), cert.pem())?;
    std::fs::write(dir.join("server.key"), key.serialize_pem())?;
    Ok(colon_hex(&Sha256::digest(cert.der().as_ref())))
}

fn config_text(dir: &Path, c2s: u16, tls: u16, component: Option<(&str, &str, u16)>) -> String {
    let d = dir.display();
    let (component_ports, component) = match component {
        Some((domain, secret, port)) => (
            port.to_string(),
            format!("Component \"{domain}\"\n    component_secret = \"{secret}\"\n"),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"-- Written by the Waggle tests.
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
run_as_root = true
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ {tls} }}
s2s_ports = {{ }}
component_ports = {{ {component_ports} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{
    "roster"; "saslauth"; "tls"; "disco"; "carbons"; "ping"; "vcard";
    "blocklist"; "offline"; "version"; "posix";
}}
modules_disabled = {{ "s2s"; "admin_socket"; }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_registration = false
ssl = {{ certificate = "{d}/server.crt"; key = "{d}/server.key"; }}
VirtualHost "{DOMAIN}"
VirtualHost "{DNS_DOMAIN}"
Component "{MUC}" "muc"
    restrict_room_creation = false
    muc_room_default_public = true
{component}"#
    )
}

impl Prosody {
    /// Start a Prosody with these accounts (user name, password) on `localhost`.
    pub async fn start(users: &[(&str, &str)]) -> Result<Prosody> {
        Self::launch(ProsodyOptions::default(), users).await
    }

    /// Options to start a Prosody with more than the plain server.
    pub fn options() -> ProsodyOptions {
        ProsodyOptions::default()
    }

    async fn launch(options: ProsodyOptions, users: &[(&str, &str)]) -> Result<Prosody> {
        which("prosody")?;
        let dir = tempfile::tempdir().context("temporary directory")?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::create_dir_all(dir.path().join("certs"))?;
        let fingerprint = write_certs(dir.path())?;
        let (c2s_port, tls_port) = (free_port()?, free_port()?);
        let component_port = match options.component {
            Some(_) => Some(free_port()?),
            None => None,
        };
        let component = options
            .component
            .as_ref()
            .zip(component_port)
            .map(|((d, s), port)| (d.as_str(), s.as_str(), port));
        let config = dir.path().join("prosody.cfg.lua");
        std::fs::write(
            &config,
            config_text(dir.path(), c2s_port, tls_port, component),
        )?;
        let mut p = Prosody {
            child: None,
            config,
            c2s_port,
            tls_port,
            component_port,
            fingerprint,
            dir,
        };
        for (user, password) in users {
            p.register(user, password)?;
        }
        p.resume().await?;
        Ok(p)
    }

    /// Create an account on [`DOMAIN`] with `prosodyctl register`.
    pub fn register(&self, user: &str, password: &str) -> Result<()> {
        self.register_at(user, DOMAIN, password)
    }

    /// Create an account on `domain` ([`DOMAIN`] or [`DNS_DOMAIN`]).
    pub fn register_at(&self, user: &str, domain: &str, password: &str) -> Result<()> {
        let out = Command::new("prosodyctl")
            .arg("--config")
            .arg(&self.config)
            .args(["register", user, domain, password])
            .stdin(Stdio::null())
            .output()
            .context("run prosodyctl")?;
        if !out.status.success() {
            bail!(
                "prosodyctl register {user} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Start (again) on the same ports and data, and wait until it listens.
    pub async fn resume(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let out = std::fs::File::create(self.dir.path().join("prosody.out"))?;
        let child = Command::new("prosody")
            .arg("-F")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("start prosody")?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        for port in [self.c2s_port, self.tls_port]
            .into_iter()
            .chain(self.component_port)
        {
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    break;
                }
                if let Some(c) = self.child.as_mut()
                    && let Ok(Some(status)) = c.try_wait()
                {
                    bail!("prosody exited ({status}):\n{}", self.log());
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("prosody did not listen on {port}:\n{}", self.log());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// Kill it (connections drop at once), keeping ports and data for [`Prosody::resume`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freeze it with SIGSTOP: connections stay open but nothing answers.
    pub fn freeze(&self) -> Result<()> {
        self.signal("-STOP")
    }

    /// Undo [`Prosody::freeze`].
    pub fn thaw(&self) -> Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, sig: &str) -> Result<()> {
        let Some(c) = &self.child else {
            bail!("prosody is not running")
        };
        let status = Command::new("kill")
            .arg(sig)
            .arg(c.id().to_string())
            .status()?;
        if !status.success() {
            bail!("kill {sig} failed");
        }
        Ok(())
    }

    /// The c2s port (plaintext with STARTTLS offered).
    pub fn port(&self) -> u16 {
        self.c2s_port
    }

    /// The direct TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The external component port (0 without a component).
    pub fn component_port(&self) -> u16 {
        self.component_port.unwrap_or(0)
    }

    /// The c2s address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.c2s_port))
    }

    /// The test CA's certificate (PEM file).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate's SHA-256 fingerprint, `AB:CD:…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Prosody's log so far, for failure messages.
    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("{}{}", read("prosody.out"), read("prosody.log"))
    }

    /// The account settings that point the XMPP backend at this server over
    /// STARTTLS verified with the test CA.
    pub fn account_settings(&self) -> Vec<(String, String)> {
        vec![
            ("server".into(), "127.0.0.1".into()),
            ("port".into(), self.c2s_port.to_string()),
            ("cafile".into(), self.ca_file().display().to_string()),
        ]
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        // SIGKILL ends a frozen (SIGSTOPped) process too.
        self.stop();
    }
}

fn which(program: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        bail!("{program} is not installed (apt-get install prosody)");
    }
    Ok(())
}
