//! A real DNS server for the XMPP tests: Debian's `dnsmasq` (package
//! `dnsmasq-base`) on a free loopback port, answering only from the records a
//! test gives (no upstream servers, no `/etc/hosts`), killed on drop.
//!
//! It answers for one zone ([`Dnsmasq::start`]'s `zone`): names there without a
//! record get NXDOMAIN (or NODATA), names anywhere else get REFUSED, which a
//! resolver reports as a lookup failure.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How long dnsmasq may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running dnsmasq.
pub struct Dnsmasq {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Dnsmasq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dnsmasq").field("port", &self.port).finish()
    }
}

fn binary() -> Result<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("dnsmasq"))
                .find(|f| f.is_file())
        })
        .or_else(|| Some(PathBuf::from("/usr/sbin/dnsmasq")).filter(|f| f.is_file()));
    in_path.context("dnsmasq is not installed (apt-get install dnsmasq-base)")
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_port() -> Result<u16> {
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").context("bind a free UDP port")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no port free for both UDP and TCP")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Dnsmasq {
    /// Start dnsmasq answering for `zone` from `records`, dnsmasq options such
    /// as `--srv-host=_xmpp-client._tcp.example.test,host.example.test,5222,0,0`,
    /// `--host-record=host.example.test,127.0.0.1` or
    /// `--address=/example.test/127.0.0.1`.
    pub async fn start(zone: &str, records: &[String]) -> Result<Dnsmasq> {
        let program = binary()?;
        let mut last_log = String::new();
        // A port picked free can be taken before dnsmasq binds it: try again.
        for _ in 0..5 {
            let dir = tempfile::tempdir().context("temporary directory")?;
            let port = free_port()?;
            let log = std::fs::File::create(dir.path().join("dnsmasq.log"))?;
            let mut cmd = Command::new(&program);
            cmd.args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--pid-file=",
                "--log-queries",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--local=/{zone}/"))
            .args(records);
            if is_root() {
                cmd.arg("--user=root");
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("start {}", program.display()))?;
            let mut me = Dnsmasq { child, port, dir };
            match me.wait_listening().await {
                Ok(true) => return Ok(me),
                Ok(false) => last_log = me.log(),
                Err(e) => return Err(e),
            }
        }
        bail!("dnsmasq did not start:\n{last_log}")
    }

    /// `Ok(false)` when it exited because the port was taken.
    async fn wait_listening(&mut self) -> Result<bool> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(true);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                if log.contains("in use") {
                    return Ok(false);
                }
                bail!("dnsmasq exited ({status}):\n{log}");
            }
            if tokio::time::Instant::now() > deadline {
                bail!("dnsmasq did not listen on {}:\n{}", self.port, self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its log so far (every query, with `--log-queries`), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dnsmasq.log")).unwrap_or_default()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
