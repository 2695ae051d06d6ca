//! A fresh Prosody 0.12 per gateway run, on 127.0.0.1:5222 (one of the few
//! ports BitlBee accepts for jabber accounts), plaintext with PLAIN allowed, as
//! BitlBee needs it. Both gateways get the very same server configuration.
//!
//! Accounts and rosters are written straight into Prosody's data directory
//! before it starts (`internal_plain` storage: one small Lua table per file), so
//! thousands of users and their mutual subscriptions cost no registration or
//! subscription round trips.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::procstat::Watched;

/// The XMPP domain.
pub const DOMAIN: &str = "localhost";
/// The c2s port: BitlBee refuses most others.
pub const PORT: u16 = 5222;
/// How long Prosody may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One user's XMPP account and the contacts in its roster.
#[derive(Debug, Clone)]
pub struct RosterOwner {
    /// The user part of the account's JID.
    pub user: String,
    /// The user parts of its contacts' JIDs.
    pub contacts: Vec<String>,
}

/// A running Prosody, killed on drop.
pub struct Prosody {
    child: Child,
    watched: Watched,
    dir: std::path::PathBuf,
}

fn config_text(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"-- Written by waggle-bench.
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
run_as_root = true
log = {{ {{ levels = {{ min = "warn" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {PORT} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "carbons"; "ping"; }}
modules_disabled = {{ "s2s"; "admin_socket"; }}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false
VirtualHost "{DOMAIN}"
"#
    )
}

/// A Lua string literal for a name made of ASCII letters and digits.
fn lua(s: &str) -> String {
    format!("{s:?}")
}

fn write_account(data: &Path, user: &str, password: &str) -> Result<()> {
    let text = format!("return {{\n\t[\"password\"] = {};\n}};\n", lua(password));
    std::fs::write(data.join("accounts").join(format!("{user}.dat")), text)?;
    Ok(())
}

fn write_roster(data: &Path, user: &str, contacts: &[String]) -> Result<()> {
    let mut text = String::from(
        "return {\n\t[false] = {\n\t\t[\"version\"] = 1;\n\t\t[\"pending\"] = {};\n\t};\n",
    );
    for c in contacts {
        let _ = writeln!(
            text,
            "\t[{}] = {{\n\t\t[\"subscription\"] = \"both\";\n\t\t[\"groups\"] = {{}};\n\t}};",
            lua(&format!("{c}@{DOMAIN}"))
        );
    }
    text.push_str("};\n");
    std::fs::write(data.join("roster").join(format!("{user}.dat")), text)?;
    Ok(())
}

impl Prosody {
    /// Write the accounts (every one with `password`) and mutual subscriptions
    /// between each owner and its contacts, then start Prosody in `dir`.
    pub async fn start(dir: &Path, owners: &[RosterOwner], password: &str) -> Result<Prosody> {
        if std::net::TcpStream::connect(("127.0.0.1", PORT)).is_ok() {
            bail!(
                "127.0.0.1:{PORT} is taken: run the benchmark through bench/run, which gives it its own network namespace"
            );
        }
        let host = dir.join("data").join(DOMAIN);
        std::fs::create_dir_all(host.join("accounts"))?;
        std::fs::create_dir_all(host.join("roster"))?;
        for o in owners {
            write_account(&host, &o.user, password)?;
            write_roster(&host, &o.user, &o.contacts)?;
            for c in &o.contacts {
                write_account(&host, c, password)?;
                write_roster(&host, c, std::slice::from_ref(&o.user))?;
            }
        }
        let config = dir.join("prosody.cfg.lua");
        std::fs::write(&config, config_text(dir))?;
        let out = std::fs::File::create(dir.join("prosody.out"))?;
        let child = Command::new("prosody")
            .arg("-F")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("start prosody (apt-get install prosody)")?;
        let watched = Watched::new(child.id());
        let mut p = Prosody {
            child,
            watched,
            dir: dir.to_path_buf(),
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", PORT))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = p.child.try_wait() {
                bail!("prosody exited ({status}):\n{}", p.log());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("prosody did not listen on {PORT}:\n{}", p.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(p)
    }

    /// Its process, for CPU figures.
    pub fn watched(&self) -> &Watched {
        &self.watched
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!("{}{}", read("prosody.out"), read("prosody.log"))
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
