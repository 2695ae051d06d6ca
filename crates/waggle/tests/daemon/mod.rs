//! The real `waggle` binary as a daemon for a test: a config file in a temporary
//! directory, free loopback ports, standard error kept in a file, and the ways a
//! daemon ends (a signal it handles, or `kill -9`).
//!
//! Ports are picked free, released and then bound by the daemon, so another
//! process may take one in between: [`Daemon::start`] sees the daemon exit with
//! "cannot listen" and tries again with other ports.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_waggle");

/// How long the daemon may take to listen or to stop.
const STEP: Duration = Duration::from_secs(20);

/// How the daemon is started.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Where the database is.
    pub database: PathBuf,
    /// Extra `key = value` lines of the `[server]` section.
    pub server: String,
    /// The `[log] level` filter.
    pub log_level: String,
    /// How many addresses to listen on.
    pub listeners: usize,
    /// Give the addresses as repeated `--listen` flags rather than in the file.
    pub listen_flags: bool,
}

impl DaemonConfig {
    /// One listener, the default `[server]`, warnings only, over `database`.
    pub fn new(database: &Path) -> Self {
        DaemonConfig {
            database: database.to_path_buf(),
            server: String::new(),
            log_level: "warn".into(),
            listeners: 1,
            listen_flags: false,
        }
    }
}

/// A running daemon; dropping it kills it.
pub struct Daemon {
    child: Child,
    addrs: Vec<SocketAddr>,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Daemon {
    /// Start the daemon with `cfg`, its files in `dir`, and wait until every
    /// address accepts connections.
    pub fn start(dir: &Path, cfg: &DaemonConfig) -> Result<Daemon> {
        let mut last = String::new();
        for attempt in 0..5 {
            let addrs = (0..cfg.listeners)
                .map(|_| free_port().map(|p| SocketAddr::from(([127, 0, 0, 1], p))))
                .collect::<Result<Vec<_>>>()?;
            let log = dir.join(format!("waggle-{attempt}.log"));
            let config = dir.join("waggle.toml");
            let listen = if cfg.listen_flags {
                String::new()
            } else {
                let list: Vec<String> = addrs
                    .iter()
                    .map(|a| format!("{:?}", a.to_string()))
                    .collect();
                format!("listen = [{}]\n", list.join(", "))
            };
            std::fs::write(
                &config,
                format!(
                    "[server]\n{listen}{}\n[storage]\ndatabase = {:?}\n[log]\nlevel = {:?}\n",
                    cfg.server,
                    cfg.database.to_string_lossy(),
                    cfg.log_level
                ),
            )?;
            let mut cmd = Command::new(BIN);
            cmd.arg("--config").arg(&config);
            if cfg.listen_flags {
                for a in &addrs {
                    cmd.arg("--listen").arg(a.to_string());
                }
            }
            let child = cmd
                .env_remove("WAGGLE_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?)
                .spawn()
                .context("start waggle")?;
            let mut d = Daemon { child, addrs, log };
            match d.wait_listening() {
                Ok(()) => return Ok(d),
                Err(e) => {
                    last = format!("{e:#}");
                    if !d.log_text().contains("cannot listen") {
                        bail!("{last}");
                    }
                }
            }
        }
        bail!("no free ports after 5 attempts: {last}")
    }

    fn wait_listening(&mut self) -> Result<()> {
        let deadline = Instant::now() + STEP;
        for addr in self.addrs.clone() {
            loop {
                if let Some(status) = self.child.try_wait()? {
                    bail!("waggle exited ({status}): {}", self.log_text());
                }
                if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("waggle never listened on {addr}: {}", self.log_text());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// The first address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address it listens on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Its threads named `name` (their `comm`, as /proc shows it).
    pub fn threads_named(&self, name: &str) -> Result<usize> {
        let mut n = 0;
        for task in std::fs::read_dir(format!("/proc/{}/task", self.child.id()))? {
            let comm = std::fs::read_to_string(task?.path().join("comm")).unwrap_or_default();
            n += usize::from(comm.trim_end() == name);
        }
        Ok(n)
    }

    /// What it has written to standard error so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `signal` (a name for kill(1): TERM, INT, KILL).
    pub fn signal(&self, signal: &str) -> Result<()> {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?
            .success();
        if !ok {
            bail!("kill -{signal} failed");
        }
        Ok(())
    }

    /// Wait until it has exited, and how.
    pub async fn wait_exit(&mut self) -> Result<ExitStatus> {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("waggle did not exit: {}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9` and wait until it is gone: nothing it had not yet written survives.
    pub async fn crash(mut self) -> Result<()> {
        self.signal("KILL")?;
        let status = self.wait_exit().await?;
        if status.success() {
            bail!("killed, yet exited cleanly");
        }
        Ok(())
    }
}

/// Run `waggle --database DB ARGS…` to its end with `stdin` as input.
pub fn admin(db: &Path, args: &[&str], stdin: &str) -> Result<std::process::Output> {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("WAGGLE_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}
