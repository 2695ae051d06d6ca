//! A real Prosody for the XMPP tests.
//!
//! [`Prosody::start`] (or [`ProsodyOptions::start`], for a server with stream
//! management, archives, no offline storage, no STARTTLS or an external
//! component) writes its own configuration, data directory and a test CA with a
//! server certificate for `localhost` into a temporary directory, picks free
//! loopback ports (c2s with STARTTLS, and direct TLS), registers the given
//! accounts with `prosodyctl`, starts `prosody -F` with a group chat component
//! on `conference.localhost`, and kills it on drop. It is ready once Prosody's
//! log says every port is open and it answers a stream header with its stream
//! features; a port another process took in the meantime is seen in the log and
//! the start is retried on fresh ports. A second virtual host, [`DNS_DOMAIN`],
//! serves the tests that find the server through DNS (accounts there with
//! [`Prosody::register_at`]). It can be stopped and started again on the same
//! ports and data (a server that goes down and comes back, optionally with a
//! new certificate), and frozen with SIGSTOP (a dead link).
//!
//! - [`contact`]: [`XmppContact`], a tokio-xmpp client that plays a contact.
//! - [`account`]: [`BackendAccount`], the backend driven directly (no IRC).
//! - [`gateway`]: [`XmppGateway`], a real gateway with the XMPP backend.
//! - [`component`]: [`ComponentGateway`], a real gateway with the XMPP component.
//! - [`dns`]: [`Dnsmasq`], a DNS server on loopback with the records a test gives.
//! - [`proxy`]: [`TcpProxy`], a loopback TCP relay a test can cut mid-stream.

pub mod account;
pub mod component;
pub mod contact;
pub mod dns;
pub mod gateway;
pub mod proxy;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use anyhow::{Context, Result, bail};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use sha2::{Digest, Sha256};

pub use account::{BackendAccount, spec};
pub use component::{ComponentGateway, GW_DOMAIN, SECRET};
pub use contact::{XmppContact, befriend};
pub use dns::Dnsmasq;
pub use gateway::XmppGateway;
pub use proxy::TcpProxy;

/// The XMPP domain of the test server.
pub const DOMAIN: &str = "localhost";
/// The group chat service.
pub const MUC: &str = "conference.localhost";
/// A second virtual host, for finding the server through DNS: `localhost` will
/// not do there, resolvers answer it themselves (RFC 6761) and never ask a DNS
/// server for its SRV records. `.test` is reserved for testing (RFC 2606).
pub const DNS_DOMAIN: &str = "waggle.test";

/// How long Prosody may take to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times a start is tried again on fresh ports after a collision.
const PORT_ATTEMPTS: u32 = 5;

/// Which parts of Prosody a test wants. [`Default`] is the plain server the
/// older tests expect: offline storage and STARTTLS on, no stream management,
/// no archives, no external component.
#[derive(Debug, Clone)]
pub struct ProsodyOptions {
    smacks: bool,
    mam: bool,
    muc_mam: bool,
    offline: bool,
    starttls: bool,
    component: Option<(String, String)>,
    first_c2s_port: Option<u16>,
    stanza_size_limit: Option<usize>,
    only_plain: bool,
}

impl Default for ProsodyOptions {
    fn default() -> Self {
        ProsodyOptions {
            smacks: false,
            mam: false,
            muc_mam: false,
            offline: true,
            starttls: true,
            component: None,
            first_c2s_port: None,
            stanza_size_limit: None,
            only_plain: false,
        }
    }
}

impl ProsodyOptions {
    /// XEP-0198 stream management with resumption (`mod_smacks`).
    pub fn smacks(mut self) -> Self {
        self.smacks = true;
        self
    }

    /// XEP-0313 archives of the accounts (`mod_mam`).
    pub fn mam(mut self) -> Self {
        self.mam = true;
        self
    }

    /// XEP-0313 archives of the group chat rooms (`mod_muc_mam`).
    pub fn muc_mam(mut self) -> Self {
        self.muc_mam = true;
        self
    }

    /// No offline storage (`mod_offline` off): what arrives while an account is
    /// offline is only in its archive, if anywhere.
    pub fn no_offline(mut self) -> Self {
        self.offline = false;
        self
    }

    /// No STARTTLS offered on the c2s port (`mod_tls` off).
    pub fn no_starttls(mut self) -> Self {
        self.starttls = false;
        self
    }

    /// An external component (XEP-0114) `domain` with `secret`, on
    /// [`Prosody::component_port`].
    pub fn component(mut self, domain: &str, secret: &str) -> Self {
        self.component = Some((domain.to_string(), secret.to_string()));
        self
    }

    /// Let clients send stanzas up to `bytes` (Prosody's default is 256 KiB).
    pub fn stanza_size_limit(mut self, bytes: usize) -> Self {
        self.stanza_size_limit = Some(bytes);
        self
    }

    /// SASL PLAIN as the only mechanism, offered even without TLS (no SCRAM).
    pub fn only_plain_sasl(mut self) -> Self {
        self.only_plain = true;
        self
    }

    /// Try this c2s port first (to test what happens when it is taken: the
    /// start is retried on free ports).
    pub fn first_c2s_port(mut self, port: u16) -> Self {
        self.first_c2s_port = Some(port);
        self
    }

    /// Start a Prosody with these accounts (user name, password) on `localhost`.
    pub async fn start(self, users: &[(&str, &str)]) -> Result<Prosody> {
        Prosody::launch(self, users).await
    }
}

/// The loopback ports one Prosody listens on.
#[derive(Debug, Clone, Copy)]
struct Ports {
    c2s: u16,
    tls: u16,
    component: u16,
}

impl Ports {
    /// Three distinct free ports: the listeners are held until all are
    /// bound, so the kernel cannot hand out one port twice.
    fn pick() -> Result<Ports> {
        let held: Vec<TcpListener> = (0..3)
            .map(|_| TcpListener::bind("127.0.0.1:0").context("bind a free port"))
            .collect::<Result<_>>()?;
        let port = |i: usize| -> Result<u16> {
            Ok(held.get(i).context("a held port")?.local_addr()?.port())
        };
        Ok(Ports {
            c2s: port(0)?,
            tls: port(1)?,
            component: port(2)?,
        })
    }
}

/// A running (or stopped) Prosody.
pub struct Prosody {
    child: Option<Child>,
    config: PathBuf,
    options: ProsodyOptions,
    ports: Ports,
    fingerprint: String,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Prosody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prosody")
            .field("ports", &self.ports)
            .field("options", &self.options)
            .finish()
    }
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

fn config_text(dir: &Path, ports: Ports, o: &ProsodyOptions) -> String {
    let d = dir.display();
    let mut modules = vec![
        "roster",
        "saslauth",
        "disco",
        "carbons",
        "ping",
        "vcard",
        "blocklist",
        "version",
        "posix",
    ];
    for (on, module) in [
        (o.starttls, "tls"),
        (o.offline, "offline"),
        (o.smacks, "smacks"),
        (o.mam, "mam"),
    ] {
        if on {
            modules.push(module);
        }
    }
    let modules: String = modules.iter().map(|m| format!("\"{m}\"; ")).collect();
    // Prosody loads mod_offline unless told not to.
    let disabled = if o.offline {
        "\"s2s\"; \"admin_socket\";"
    } else {
        "\"s2s\"; \"admin_socket\"; \"offline\";"
    };
    let component_ports = match o.component {
        Some(_) => ports.component.to_string(),
        None => String::new(),
    };
    let muc_modules = if o.muc_mam {
        "    modules_enabled = { \"muc_mam\" }\n    muc_log_by_default = true\n    muc_log_all_rooms = true\n"
    } else {
        ""
    };
    let component = match &o.component {
        Some((domain, secret)) => {
            format!("Component \"{domain}\"\n    component_secret = \"{secret}\"\n")
        }
        None => String::new(),
    };
    let (c2s, tls) = (ports.c2s, ports.tls);
    let size_limit = o
        .stanza_size_limit
        .map(|n| format!("c2s_stanza_size_limit = {n}\n"))
        .unwrap_or_default();
    let sasl = if o.only_plain {
        "disable_sasl_mechanisms = { \"SCRAM-SHA-1\"; \"SCRAM-SHA-1-PLUS\"; \"DIGEST-MD5\" }\nallow_unencrypted_plain_auth = true\n"
    } else {
        ""
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
modules_enabled = {{ {modules}}}
modules_disabled = {{ {disabled} }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_registration = false
archive_expires_after = "never"
{size_limit}{sasl}ssl = {{ certificate = "{d}/server.crt"; key = "{d}/server.key"; }}
VirtualHost "{DOMAIN}"
VirtualHost "{DNS_DOMAIN}"
Component "{MUC}" "muc"
    restrict_room_creation = false
    muc_room_default_public = true
{muc_modules}{component}"#
    )
}

/// How a start attempt ended.
enum Started {
    Ready,
    /// A port was taken by another process.
    PortTaken(String),
}

impl Prosody {
    /// Start a plain Prosody (see [`ProsodyOptions::default`]) with these
    /// accounts (user name, password) on `localhost`.
    pub async fn start(users: &[(&str, &str)]) -> Result<Prosody> {
        ProsodyOptions::default().start(users).await
    }

    /// Options to start a Prosody with more (or less) than the default.
    pub fn options() -> ProsodyOptions {
        ProsodyOptions::default()
    }

    async fn launch(options: ProsodyOptions, users: &[(&str, &str)]) -> Result<Prosody> {
        which("prosody")?;
        let dir = tempfile::tempdir().context("temporary directory")?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        std::fs::create_dir_all(dir.path().join("certs"))?;
        let fingerprint = write_certs(dir.path())?;
        let config = dir.path().join("prosody.cfg.lua");
        let mut ports = Ports::pick()?;
        if let Some(port) = options.first_c2s_port {
            ports.c2s = port;
        }
        std::fs::write(&config, config_text(dir.path(), ports, &options))?;
        let mut p = Prosody {
            child: None,
            config,
            options,
            ports,
            fingerprint,
            dir,
        };
        for (user, password) in users {
            p.register(user, password)?;
        }
        for attempt in 1..=PORT_ATTEMPTS {
            match p.spawn().await? {
                Started::Ready => return Ok(p),
                Started::PortTaken(line) => {
                    p.stop();
                    if attempt == PORT_ATTEMPTS {
                        bail!("prosody found its ports taken {attempt} times; last: {line}");
                    }
                    p.ports = Ports::pick()?;
                    std::fs::write(&p.config, config_text(p.dir.path(), p.ports, &p.options))?;
                }
            }
        }
        bail!("prosody did not start")
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

    /// Start (again) on the same ports and data, and wait until it is ready.
    pub async fn resume(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        match self.spawn().await? {
            Started::Ready => Ok(()),
            Started::PortTaken(line) => {
                self.stop();
                bail!("prosody could not get its ports back: {line}")
            }
        }
    }

    /// Give the server a new certificate (from a new CA): it is used from the
    /// next start. Returns the new certificate's SHA-256 fingerprint.
    pub fn new_certificate(&mut self) -> Result<String> {
        self.fingerprint = write_certs(self.dir.path())?;
        Ok(self.fingerprint.clone())
    }

    fn log_len(&self) -> usize {
        std::fs::metadata(self.dir.path().join("prosody.log"))
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    }

    /// The log written since byte `from`.
    fn log_since(&self, from: usize) -> String {
        let all = std::fs::read(self.dir.path().join("prosody.log")).unwrap_or_default();
        String::from_utf8_lossy(all.get(from..).unwrap_or_default()).into_owned()
    }

    /// Start the process and wait until its log says every port is open and
    /// it answers a stream header with its features.
    async fn spawn(&mut self) -> Result<Started> {
        let from = self.log_len();
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
        let mut wanted = vec![
            format!("Activated service 'c2s' on [127.0.0.1]:{}", self.ports.c2s),
            format!(
                "Activated service 'c2s_direct_tls' on [127.0.0.1]:{}",
                self.ports.tls
            ),
        ];
        if self.options.component.is_some() {
            wanted.push(format!(
                "Activated service 'component' on [127.0.0.1]:{}",
                self.ports.component
            ));
        }
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let log = self.log_since(from);
            if let Some(line) = log.lines().find(|l| {
                l.contains("Failed to open server port")
                    || l.contains("Multiple services configured to listen on the same port")
            }) {
                return Ok(Started::PortTaken(line.to_string()));
            }
            if wanted.iter().all(|w| log.contains(w.as_str())) {
                break;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                bail!("prosody exited ({status}):\n{}", self.log());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("prosody did not open its ports:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match tokio::time::timeout_at(deadline, self.answers_stream()).await {
            Ok(Ok(())) => Ok(Started::Ready),
            Ok(Err(e)) => bail!(
                "prosody does not answer a stream header: {e:#}\n{}",
                self.log()
            ),
            Err(_) => bail!("prosody did not answer a stream header:\n{}", self.log()),
        }
    }

    /// Open a client stream on the c2s port and read up to the stream features.
    async fn answers_stream(&self) -> Result<()> {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.ports.c2s)).await?;
        let header = format!(
            "<?xml version='1.0'?><stream:stream to='{DOMAIN}' version='1.0' \
             xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        );
        tcp.write_all(header.as_bytes()).await?;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("</stream:features>") {
            let n = tcp.read(&mut buf).await?;
            if n == 0 || seen.len() > 65536 {
                bail!("no stream features: {}", String::from_utf8_lossy(&seen));
            }
            seen.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        tcp.write_all(b"</stream:stream>").await?;
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

    /// The c2s port (plaintext with STARTTLS offered, unless turned off).
    pub fn port(&self) -> u16 {
        self.ports.c2s
    }

    /// The direct TLS port.
    pub fn tls_port(&self) -> u16 {
        self.ports.tls
    }

    /// The external component port (with [`ProsodyOptions::component`]).
    pub fn component_port(&self) -> u16 {
        self.ports.component
    }

    /// The c2s address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.c2s))
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
            ("port".into(), self.ports.c2s.to_string()),
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
