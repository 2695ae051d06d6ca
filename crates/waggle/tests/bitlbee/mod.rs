//! A real BitlBee 3.6 for the import tests, with a real Prosody beside it.
//!
//! BitlBee accepts jabber accounts only on ports 5222, 5223, 5220–5229, 80 and 443,
//! so the Prosody it talks to must listen on 5222. [`Sandbox::start`] makes a network
//! namespace of its own (`unshare --net --pid`) where loopback is private: Prosody
//! listens on 127.0.0.1:5222 there and collides with nothing. BitlBee runs in the
//! same namespace (`nsenter --net`) in inetd mode, its IRC connection one end of a
//! socket pair, so the test needs no port at all. Killing the namespace's first
//! process ends everything in it.
//!
//! BitlBee is installed from Debian when missing; when it cannot be, or namespaces
//! cannot be made here, [`Sandbox::start`] says so loudly and returns `None`.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long BitlBee or Prosody may take for one step.
const STEP: Duration = Duration::from_secs(20);

fn found(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(program).is_file())
        })
        .unwrap_or(false)
}

/// Install a Debian package when `program` is missing; false when that failed.
fn ensure(program: &str, package: &str) -> bool {
    if found(program) {
        return true;
    }
    eprintln!("{program} is missing: installing the Debian package {package}");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get")
            .args(["update", "-qq"])
            .stdin(Stdio::null())
            .status();
        install();
    }
    found(program)
}

fn skip(why: &str) -> Option<Sandbox> {
    eprintln!("\n*** SKIPPED: the real-BitlBee import test cannot run here: {why} ***\n");
    None
}

/// Prosody on 127.0.0.1:5222 in a network namespace of its own, and the place
/// BitlBee's configuration and user files go.
pub struct Sandbox {
    holder: Child,
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// Start Prosody with these `localhost` accounts (name, password). `Ok(None)`
    /// (after a loud message) when BitlBee, Prosody or namespaces are not to be had.
    pub fn start(users: &[(&str, &str)]) -> Result<Option<Sandbox>> {
        if !ensure("bitlbee", "bitlbee") {
            return Ok(skip(
                "bitlbee is not installed and apt-get could not install it",
            ));
        }
        if !ensure("prosody", "prosody") {
            return Ok(skip(
                "prosody is not installed and apt-get could not install it",
            ));
        }
        for tool in ["unshare", "nsenter", "ip"] {
            if !found(tool) {
                return Ok(skip(&format!("{tool} is missing")));
            }
        }
        let probe = Command::new("unshare")
            .args(["--net", "--", "true"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            return Ok(skip("this process may not create network namespaces"));
        }

        let dir = tempfile::tempdir()?;
        let d = dir.path();
        for sub in ["prosody", "prosody/data", "prosody/certs", "users"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let config = d.join("prosody/prosody.cfg.lua");
        std::fs::write(&config, prosody_config(&d.join("prosody")))?;
        std::fs::write(
            d.join("bitlbee.conf"),
            format!(
                "[settings]\nRunMode = Inetd\nAuthMode = Open\nConfigDir = {}\n[defaults]\n",
                d.join("users").display()
            ),
        )?;
        for (user, password) in users {
            let out = Command::new("prosodyctl")
                .arg("--config")
                .arg(&config)
                .args(["register", user, "localhost", password])
                .stdin(Stdio::null())
                .output()
                .context("run prosodyctl")?;
            if !out.status.success() {
                bail!(
                    "prosodyctl register {user}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let log = std::fs::File::create(d.join("prosody/prosody.out"))?;
        let holder = Command::new("unshare")
            .args(["--net", "--pid", "--fork", "--kill-child", "--", "sh", "-c"])
            .arg(r#"ip link set lo up && exec prosody -F --config "$0""#)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start the namespace")?;
        let mut sandbox = Sandbox { holder, dir };
        sandbox.wait_for_prosody()?;
        Ok(Some(sandbox))
    }

    fn wait_for_prosody(&mut self) -> Result<()> {
        let deadline = Instant::now() + STEP;
        loop {
            if self
                .prosody_log()
                .contains("Activated service 'c2s' on [127.0.0.1]:5222")
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.holder.try_wait() {
                bail!("prosody exited ({status}):\n{}", self.prosody_log());
            }
            if Instant::now() > deadline {
                bail!("prosody did not listen on 5222:\n{}", self.prosody_log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Prosody's output and log, for failure messages.
    pub fn prosody_log(&self) -> String {
        let read = |n: &str| {
            std::fs::read_to_string(self.dir.path().join("prosody").join(n)).unwrap_or_default()
        };
        format!("{}{}", read("prosody.out"), read("prosody.log"))
    }

    /// BitlBee's configuration directory, where it keeps `<nick>.xml`.
    pub fn users_dir(&self) -> PathBuf {
        self.dir.path().join("users")
    }

    /// A new IRC connection to a fresh BitlBee process inside the namespace,
    /// registered as `nick`.
    pub fn connect(&self, nick: &str) -> Result<Irc> {
        let (ours, theirs) = UnixStream::pair()?;
        let child = Command::new("nsenter")
            .arg("--target")
            .arg(self.holder.id().to_string())
            .args(["--net", "--", "bitlbee", "-I", "-c"])
            .arg(self.dir.path().join("bitlbee.conf"))
            .arg("-d")
            .arg(self.users_dir())
            // inetd mode reads and writes its socket on descriptor 0.
            .stdin(Stdio::from(OwnedFd::from(theirs.try_clone()?)))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::null())
            .spawn()
            .context("start bitlbee")?;
        ours.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut irc = Irc {
            stream: ours,
            child,
            buf: Vec::new(),
            seen: Vec::new(),
        };
        irc.send(&format!("NICK {nick}"))?;
        irc.send(&format!("USER {nick} 0 * :{nick}"))?;
        irc.expect("the welcome in &bitlbee", |l| l.contains("JOIN :&bitlbee"))?;
        Ok(irc)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // SIGKILL to unshare; --kill-child takes the namespace's processes with it.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn prosody_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"-- Written by the Waggle BitlBee import test.
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
run_as_root = true
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ 5222 }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "posix"; }}
modules_disabled = {{ "s2s"; "admin_socket"; "tls"; }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false
VirtualHost "localhost"
"#
    )
}

/// One IRC connection to BitlBee.
pub struct Irc {
    stream: UnixStream,
    child: Child,
    buf: Vec<u8>,
    /// Every line received, for failure messages.
    seen: Vec<String>,
}

impl Irc {
    /// Send one line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())?;
        Ok(())
    }

    fn next_line(&mut self, deadline: Instant) -> Result<Option<String>> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned();
                self.seen.push(line.clone());
                return Ok(Some(line));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => bail!("BitlBee closed the connection:\n{}", self.seen.join("\n")),
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Wait (at most [`STEP`]) for a line that `matches`; `what` names it.
    pub fn expect(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + STEP;
        while let Some(line) = self.next_line(deadline)? {
            if matches(&line) {
                return Ok(line);
            }
        }
        bail!(
            "no {what} from BitlBee within {STEP:?}; it said:\n{}",
            self.seen.join("\n")
        )
    }

    /// Send a root command in `&bitlbee` and wait for root's reply containing `reply`.
    pub fn root(&mut self, command: &str, reply: &str) -> Result<String> {
        self.send(&format!("PRIVMSG &bitlbee :{command}"))?;
        self.expect(&format!("reply {reply:?} to {command:?}"), |l| {
            l.starts_with(":root!") && l.contains(reply)
        })
    }

    /// Send a root command until root's reply contains `reply`, while it answers
    /// `not_yet` (at most [`STEP`]): for a contact that has still to arrive.
    pub fn root_until(&mut self, command: &str, reply: &str, not_yet: &str) -> Result<()> {
        let deadline = Instant::now() + STEP;
        loop {
            let line = self.root(command, "")?;
            if line.contains(reply) {
                return Ok(());
            }
            if !line.contains(not_yet) {
                // Another root line (a log line): wait for the answer proper.
                let answer = self.expect(&format!("answer to {command:?}"), |l| {
                    l.starts_with(":root!") && (l.contains(reply) || l.contains(not_yet))
                })?;
                if answer.contains(reply) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{command:?} never answered {reply:?}:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Say goodbye and wait for the process to end.
    pub fn quit(mut self) -> Result<()> {
        self.send("QUIT :done")?;
        let deadline = Instant::now() + STEP;
        loop {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("BitlBee did not exit after QUIT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Irc {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `bitlbee -x enc KEY CLEAR`: BitlBee's own encryption of an IM password.
pub fn bitlbee_encrypt(key: &str, clear: &str) -> Result<String> {
    let out = Command::new("bitlbee")
        .args(["-x", "enc", key, clear])
        .stdin(Stdio::null())
        .output()
        .context("run bitlbee -x enc")?;
    if !out.status.success() {
        bail!("bitlbee -x enc failed");
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}
