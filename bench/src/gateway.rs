//! The two gateways under test, each started with its own configuration and
//! data directory on a free loopback port, and killed on drop.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::procstat::Watched;
use crate::prosody::PORT;

/// How long a gateway may take to listen (longer under a wrapper such as valgrind).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// BitlBee 3.6 in Daemon mode.
    BitlBee,
    /// Waggle's release build.
    Waggle,
}

impl Kind {
    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BitlBee => "BitlBee 3.6",
            Kind::Waggle => "Waggle",
        }
    }

    /// The `account TAG set KEY VALUE` settings that point a jabber account at
    /// the benchmark's Prosody: the same server, port and plaintext stream for
    /// both (Waggle refuses PLAIN without TLS unless told, BitlBee just sends it).
    pub fn account_settings(self) -> Vec<(&'static str, String)> {
        let mut s = vec![
            ("server", "127.0.0.1".to_string()),
            ("port", PORT.to_string()),
            ("tls", "false".to_string()),
        ];
        if self == Kind::Waggle {
            s.push(("allow_plaintext_auth", "true".to_string()));
        }
        s
    }
}

/// How to start the gateways.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The `waggle` binary.
    pub waggle: PathBuf,
    /// The `bitlbee` binary.
    pub bitlbee: PathBuf,
    /// A command line Waggle runs under (e.g. `valgrind --tool=callgrind`).
    pub waggle_wrapper: Vec<String>,
}

/// A running gateway.
pub struct Gateway {
    kind: Kind,
    child: Child,
    watched: Watched,
    addr: SocketAddr,
    dir: PathBuf,
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("bind a free port")?;
    Ok(l.local_addr()?.port())
}

fn bitlbee_config(dir: &Path, port: u16) -> String {
    format!(
        "# Written by waggle-bench.\n[settings]\nRunMode = Daemon\nAuthMode = Open\n\
         DaemonInterface = 127.0.0.1\nDaemonPort = {port}\nConfigDir = {users}\n\
         PidFile = {dir}/bitlbee.pid\nProtocols = jabber\n[defaults]\n",
        users = dir.join("users").display(),
        dir = dir.display(),
    )
}

fn waggle_config(dir: &Path, port: u16, users: usize) -> String {
    // Everything else at its shipped default (flood control included); only
    // the connection limits are raised above the number of benchmark users
    // (who all connect from 127.0.0.1).
    format!(
        "# Written by waggle-bench.\n[server]\nlisten = [\"127.0.0.1:{port}\"]\n\
         max_connections = {max}\nmax_connections_per_address = {max}\n\
         [storage]\ndatabase = \"{db}\"\n",
        max = (users + 100).max(1000),
        db = dir.join("waggle.db").display(),
    )
}

impl Gateway {
    /// Start `kind` in `dir` for up to `users` users.
    pub async fn start(
        kind: Kind,
        programs: &Programs,
        dir: &Path,
        users: usize,
    ) -> Result<Gateway> {
        let port = free_port()?;
        let log = std::fs::File::create(dir.join("gateway.log"))?;
        let mut cmd = match kind {
            Kind::BitlBee => {
                std::fs::create_dir_all(dir.join("users"))?;
                let conf = dir.join("bitlbee.conf");
                std::fs::write(&conf, bitlbee_config(dir, port))?;
                let mut c = Command::new(&programs.bitlbee);
                c.arg("-D").arg("-n").arg("-c").arg(&conf);
                c.arg("-d").arg(dir.join("users"));
                c
            }
            Kind::Waggle => {
                let conf = dir.join("waggle.toml");
                std::fs::write(&conf, waggle_config(dir, port, users))?;
                let mut c = match programs.waggle_wrapper.split_first() {
                    Some((first, rest)) => {
                        let mut c = Command::new(first);
                        c.args(rest).arg(&programs.waggle);
                        c
                    }
                    None => Command::new(&programs.waggle),
                };
                c.arg("--config").arg(&conf);
                c
            }
        };
        let child = cmd
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", kind.label()))?;
        let watched = Watched::new(child.id());
        let mut gw = Gateway {
            kind,
            child,
            watched,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir: dir.to_path_buf(),
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(gw.addr).await.is_err() {
            if let Ok(Some(status)) = gw.child.try_wait() {
                bail!("{} exited ({status}):\n{}", kind.label(), gw.log());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{} did not listen on {port}:\n{}", kind.label(), gw.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(gw)
    }

    /// Which gateway this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process.
    pub fn watched(&self) -> &Watched {
        &self.watched
    }

    /// The last lines of its log.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("gateway.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(30)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Stop it: SIGTERM (so a wrapper such as valgrind writes its output), then
    /// SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
