//! A lean IRC client that plays one gateway user: a reader task answers PINGs,
//! records every benchmark message it receives, counts the contacts that join
//! the control channel, and passes root's replies and the rest to the driver.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, mpsc};

use crate::tracker::{Key, Tracker};

/// The control channel.
const CONTROL: &str = "&bitlbee";
/// Longest line the reader keeps (longer ones are skipped).
const MAX_LINE: usize = 16 * 1024;

/// What the reader tells the driver.
#[derive(Debug)]
enum Note {
    Welcome,
    EndOfNames,
    Root(String),
    Pong(String),
    AllJoined(Instant),
    Closed(String),
}

/// A connected user.
pub struct IrcUser {
    nick: String,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    notes: mpsc::UnboundedReceiver<Note>,
    seq: u64,
    closed: Option<String>,
}

/// A line split into source nick, command and parameters (the trailing one last).
struct Line<'a> {
    nick: &'a str,
    command: &'a str,
    params: Vec<&'a str>,
}

fn parse(line: &str) -> Line<'_> {
    let mut rest = line;
    if let Some(r) = rest.strip_prefix('@') {
        rest = r.split_once(' ').map_or("", |(_, r)| r);
    }
    let mut nick = "";
    if let Some(r) = rest.strip_prefix(':') {
        let (p, r) = r.split_once(' ').unwrap_or((r, ""));
        nick = p.split_once('!').map_or(p, |(n, _)| n);
        rest = r;
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut params = Vec::new();
    while !rest.is_empty() {
        if let Some(t) = rest.strip_prefix(':') {
            params.push(t);
            break;
        }
        let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
        if !p.is_empty() {
            params.push(p);
        }
        rest = r;
    }
    Line {
        nick,
        command,
        params,
    }
}

impl IrcUser {
    /// Connect as `nick` and wait for the welcome and the control channel's
    /// NAMES; `contacts` is how many contact JOINs make the user "logged in".
    pub async fn connect(
        addr: SocketAddr,
        nick: &str,
        contacts: usize,
        tracker: Arc<Tracker>,
        timeout: Duration,
    ) -> Result<IrcUser> {
        Self::connect_as(addr, nick, None, contacts, tracker, timeout).await
    }

    /// [`IrcUser::connect`], identifying with `PASS password` when given (a
    /// registered user attaching to a session that is still running).
    pub async fn connect_as(
        addr: SocketAddr,
        nick: &str,
        password: Option<&str>,
        contacts: usize,
        tracker: Arc<Tracker>,
        timeout: Duration,
    ) -> Result<IrcUser> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        let (tx, notes) = mpsc::unbounded_channel();
        let writer = Arc::new(Mutex::new(w));
        tokio::spawn(read_lines(
            r,
            writer.clone(),
            nick.to_string(),
            contacts,
            tracker,
            tx,
        ));
        let mut me = IrcUser {
            nick: nick.to_string(),
            writer,
            notes,
            seq: 0,
            closed: None,
        };
        let pass = password
            .map(|p| format!("PASS {p}\r\n"))
            .unwrap_or_default();
        me.send(&format!("{pass}NICK {nick}\r\nUSER {nick} 0 * :{nick}"))
            .await?;
        me.wait(timeout, "the welcome", |n| matches!(n, Note::Welcome))
            .await?;
        me.wait(timeout, "the control channel", |n| {
            matches!(n, Note::EndOfNames)
        })
        .await?;
        Ok(me)
    }

    /// The user's nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Send `lines` (CRLF is appended after the last).
    pub async fn send(&self, lines: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(lines.len() + 2);
        bytes.extend_from_slice(lines.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let mut w = self.writer.lock().await;
        tokio::time::timeout(Duration::from_secs(60), w.write_all(&bytes))
            .await
            .context("write to the gateway timed out")??;
        Ok(())
    }

    /// Send each message of `keys` to its contact's nick, all in one write.
    pub async fn send_messages(&self, keys: &[(Key, &str)]) -> Result<()> {
        let mut out = String::with_capacity(keys.len() * 96);
        for (i, (k, nick)) in keys.iter().enumerate() {
            if i > 0 {
                out.push_str("\r\n");
            }
            out.push_str("PRIVMSG ");
            out.push_str(nick);
            out.push_str(" :");
            out.push_str(&k.body());
        }
        self.send(&out).await
    }

    /// Say `cmd` to root in the control channel.
    pub async fn root(&self, cmd: &str) -> Result<()> {
        self.send(&format!("PRIVMSG {CONTROL} :{cmd}")).await
    }

    /// Wait for a reply of root's containing `needle`; returns it.
    pub async fn expect_root(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let what = format!("root saying {needle:?}");
        match self
            .wait(
                timeout,
                &what,
                |n| matches!(n, Note::Root(t) if t.contains(needle)),
            )
            .await?
        {
            Note::Root(t) => Ok(t),
            _ => bail!("{what}: unexpected note"),
        }
    }

    /// A PING/PONG round trip: everything sent before it has been handled.
    pub async fn barrier(&mut self, timeout: Duration) -> Result<()> {
        self.seq += 1;
        let token = format!("bench-{}", self.seq);
        self.send(&format!("PING :{token}")).await?;
        self.wait(
            timeout,
            "PONG",
            |n| matches!(n, Note::Pong(t) if *t == token),
        )
        .await
        .map(|_| ())
    }

    /// Wait until every contact has joined the control channel; when they did.
    pub async fn wait_joined(&mut self, timeout: Duration) -> Result<Instant> {
        match self
            .wait(timeout, "every contact's JOIN", |n| {
                matches!(n, Note::AllJoined(_))
            })
            .await?
        {
            Note::AllJoined(at) => Ok(at),
            _ => bail!("unexpected note"),
        }
    }

    async fn wait<F: Fn(&Note) -> bool>(
        &mut self,
        timeout: Duration,
        what: &str,
        f: F,
    ) -> Result<Note> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut roots = Vec::new();
        loop {
            let note = match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Err(_) => bail!(
                    "{}: timed out waiting for {what}; root said: {roots:?}",
                    self.nick
                ),
                Ok(None) => bail!("{}: the reader ended", self.nick),
                Ok(Some(n)) => n,
            };
            if f(&note) {
                return Ok(note);
            }
            match note {
                Note::Closed(why) => {
                    self.closed = Some(why.clone());
                    bail!("{}: closed while waiting for {what}: {why}", self.nick);
                }
                Note::Root(t) => roots.push(t),
                _ => {}
            }
        }
    }

    /// Quit, and wait until the gateway has closed the connection.
    pub async fn quit(&mut self, timeout: Duration) -> Result<()> {
        self.send("QUIT :detaching").await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Err(_) => bail!("{}: not closed after QUIT", self.nick),
                Ok(None) | Ok(Some(Note::Closed(_))) => return Ok(()),
                Ok(Some(_)) => {}
            }
        }
    }

    /// Check (without waiting) whether the gateway has closed the connection.
    pub fn poll_closed(&mut self) -> Option<&str> {
        while let Ok(n) = self.notes.try_recv() {
            if let Note::Closed(why) = n {
                self.closed = Some(why);
            }
        }
        self.closed.as_deref()
    }
}

async fn read_lines(
    r: OwnedReadHalf,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    nick: String,
    contacts: usize,
    tracker: Arc<Tracker>,
    notes: mpsc::UnboundedSender<Note>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let mut buf = Vec::with_capacity(512);
    let mut joined: HashSet<String> = HashSet::new();
    let mut error = None;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buf.len() > MAX_LINE {
            continue;
        }
        let at = Instant::now();
        let text = String::from_utf8_lossy(&buf);
        let line = parse(text.trim_end_matches(['\r', '\n']));
        let param = |i: usize| line.params.get(i).copied().unwrap_or("");
        let trailing = line.params.last().copied().unwrap_or("");
        let note = match line.command {
            "PRIVMSG" if line.nick == "root" => Some(Note::Root(trailing.to_string())),
            "PRIVMSG" => {
                if let Some(key) = Key::parse(trailing) {
                    tracker.received(key, at);
                }
                None
            }
            "PING" => {
                let pong = format!("PONG :{trailing}\r\n");
                let mut w = writer.lock().await;
                let _ = w.write_all(pong.as_bytes()).await;
                None
            }
            "PONG" => Some(Note::Pong(trailing.to_string())),
            "JOIN" if param(0) == CONTROL && line.nick != nick => {
                let before = joined.len();
                joined.insert(line.nick.to_string());
                (joined.len() == contacts && before < contacts).then_some(Note::AllJoined(at))
            }
            "001" => Some(Note::Welcome),
            "366" if param(1) == CONTROL => Some(Note::EndOfNames),
            "ERROR" => {
                error = Some(trailing.to_string());
                None
            }
            _ => None,
        };
        if let Some(n) = note
            && notes.send(n).is_err()
        {
            return;
        }
    }
    let why = error.unwrap_or_else(|| "connection closed".into());
    let _ = notes.send(Note::Closed(why));
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn lines_split_into_nick_command_and_parameters() {
        let l = parse("@time=x :c0x1!c0x1@localhost PRIVMSG u0 :bench:2:i:0:1:0 are we");
        assert_eq!((l.nick, l.command), ("c0x1", "PRIVMSG"));
        assert_eq!(l.params, vec!["u0", "bench:2:i:0:1:0 are we"]);
        let l = parse(":root!root@localhost JOIN &bitlbee");
        assert_eq!(
            (l.nick, l.command, l.params),
            ("root", "JOIN", vec!["&bitlbee"])
        );
        let l = parse("PING :x y");
        assert_eq!((l.nick, l.command, l.params), ("", "PING", vec!["x y"]));
    }
}
