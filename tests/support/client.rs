//! A scripted IRC client over real TCP.
//!
//! Reads are line by line with a timeout; [`IrcClient::sync`] is the barrier: it
//! sends `PING :sync-N` and collects everything the gateway sent before the
//! matching PONG. [`IrcClient::expect`] is strict by default: it fails on an
//! error reply nobody expected (see the `strict` module).

mod strict;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::DEFAULT_TIMEOUT;

/// A line from the server, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msg {
    /// The raw `@tags` part without the `@`.
    pub tags: Option<String>,
    /// The source without the `:`.
    pub prefix: Option<String>,
    /// The command or numeric, upper-cased.
    pub command: String,
    /// The parameters, the trailing one included (without its `:`).
    pub params: Vec<String>,
}

impl Msg {
    /// Split a line (without CRLF). Never fails: a malformed line gives empty parts.
    pub fn parse(line: &str) -> Msg {
        let mut rest = line;
        let mut msg = Msg::default();
        if let Some(r) = rest.strip_prefix('@') {
            let (t, r) = r.split_once(' ').unwrap_or((r, ""));
            msg.tags = Some(t.to_string());
            rest = r.trim_start_matches(' ');
        }
        if let Some(r) = rest.strip_prefix(':') {
            let (p, r) = r.split_once(' ').unwrap_or((r, ""));
            msg.prefix = Some(p.to_string());
            rest = r.trim_start_matches(' ');
        }
        let (c, r) = rest.split_once(' ').unwrap_or((rest, ""));
        msg.command = c.to_ascii_uppercase();
        rest = r;
        while !rest.is_empty() {
            if let Some(t) = rest.strip_prefix(':') {
                msg.params.push(t.to_string());
                break;
            }
            match rest.split_once(' ') {
                Some((p, r)) => {
                    if !p.is_empty() {
                        msg.params.push(p.to_string());
                    }
                    rest = r;
                }
                None => {
                    msg.params.push(rest.to_string());
                    break;
                }
            }
        }
        msg
    }

    /// The nick of the source (`nick` of `nick!user@host`).
    pub fn nick(&self) -> Option<&str> {
        self.prefix
            .as_deref()
            .map(|p| p.split_once('!').map_or(p, |(n, _)| n))
    }

    /// Parameter `i`, or "".
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }

    /// The last parameter, or "".
    pub fn trailing(&self) -> &str {
        self.params.last().map(String::as_str).unwrap_or("")
    }

    /// The value of a tag (`Some("")` for a tag without value).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.as_deref()?.split(';').find_map(|t| {
            let (k, v) = t.split_once('=').unwrap_or((t, ""));
            (k == key).then_some(v)
        })
    }

    /// The line written back with its last parameter always in trailing form
    /// (`:text`), so that lines compare equal whether the gateway put the optional
    /// colon or not (`JOIN &bitlbee` and `JOIN :&bitlbee` are the same line).
    pub fn canonical(&self) -> String {
        self.render(true)
    }

    /// The line with a colon before the last parameter only where IRC needs one.
    pub fn minimal(&self) -> String {
        self.render(false)
    }

    fn render(&self, always_trailing: bool) -> String {
        let mut out = String::new();
        if let Some(t) = &self.tags {
            out.push('@');
            out.push_str(t);
            out.push(' ');
        }
        if let Some(p) = &self.prefix {
            out.push(':');
            out.push_str(p);
            out.push(' ');
        }
        out.push_str(&self.command);
        let n = self.params.len();
        for (i, p) in self.params.iter().enumerate() {
            out.push(' ');
            if i + 1 == n
                && (always_trailing || p.is_empty() || p.contains(' ') || p.starts_with(':'))
            {
                out.push(':');
            }
            out.push_str(p);
        }
        out
    }

    /// Whether this is `command` (case-insensitive; also numerics like `"001"`).
    pub fn is(&self, command: &str) -> bool {
        self.command.eq_ignore_ascii_case(command)
    }
}

/// `line` in canonical form (see [`Msg::canonical`]).
pub fn canon(line: &str) -> String {
    Msg::parse(line).canonical()
}

/// Whether `line` contains `needle` as sent, in canonical form (last parameter
/// always trailing) or in minimal form (trailing colon only where needed).
pub fn line_contains(line: &str, needle: &str) -> bool {
    let msg = Msg::parse(line);
    line.contains(needle) || msg.canonical().contains(needle) || msg.minimal().contains(needle)
}

/// What [`IrcClient::expect`] waits for: a `&str` or `String` is a substring
/// (of the line as sent or in canonical form), [`pred`] a predicate.
pub trait Matcher {
    /// Whether `line` (also given parsed) is the awaited one.
    fn matches(&self, line: &str, msg: &Msg) -> bool;
    /// A description for error messages.
    fn describe(&self) -> String;
}

impl Matcher for &str {
    fn matches(&self, line: &str, _: &Msg) -> bool {
        line_contains(line, self)
    }
    fn describe(&self) -> String {
        format!("a line containing {self:?}")
    }
}

impl Matcher for String {
    fn matches(&self, line: &str, _: &Msg) -> bool {
        line_contains(line, self)
    }
    fn describe(&self) -> String {
        format!("a line containing {self:?}")
    }
}

/// A predicate over a parsed line, with a description (see [`pred`]).
pub struct Pred<F> {
    desc: String,
    f: F,
}

/// A [`Matcher`] from a description and a predicate over the parsed line.
pub fn pred<F: Fn(&Msg) -> bool>(desc: impl Into<String>, f: F) -> Pred<F> {
    Pred {
        desc: desc.into(),
        f,
    }
}

impl<F: Fn(&Msg) -> bool> Matcher for Pred<F> {
    fn matches(&self, _: &str, msg: &Msg) -> bool {
        (self.f)(msg)
    }
    fn describe(&self) -> String {
        self.desc.clone()
    }
}

/// A client connection to the gateway.
pub struct IrcClient {
    nick: String,
    root_nick: String,
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    partial: Vec<u8>,
    seq: u64,
    timeout: Duration,
    closed: bool,
    history: Vec<String>,
    allowed: strict::Allowed,
}

impl std::fmt::Debug for IrcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrcClient")
            .field("nick", &self.nick)
            .finish()
    }
}

impl IrcClient {
    /// Connect to `addr`.
    pub async fn connect(addr: SocketAddr) -> Result<IrcClient> {
        let stream = tokio::time::timeout(DEFAULT_TIMEOUT, TcpStream::connect(addr))
            .await
            .context("connect timed out")?
            .with_context(|| format!("connect to {addr}"))?;
        Ok(Self::from_stream(stream))
    }

    /// Connect with a small receive buffer (for clients that stop reading).
    pub async fn connect_with_recv_buffer(addr: SocketAddr, bytes: u32) -> Result<IrcClient> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(bytes)?;
        let stream = tokio::time::timeout(DEFAULT_TIMEOUT, socket.connect(addr))
            .await
            .context("connect timed out")??;
        Ok(Self::from_stream(stream))
    }

    fn from_stream(stream: TcpStream) -> IrcClient {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        IrcClient {
            nick: "*".into(),
            root_nick: "root".into(),
            reader: BufReader::new(r),
            writer: w,
            partial: Vec::new(),
            seq: 0,
            timeout: DEFAULT_TIMEOUT,
            closed: false,
            history: Vec::new(),
            allowed: strict::Allowed::strict(),
        }
    }

    /// The nick this client registered with.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Tell the client root has another nick (after `set root_nick`).
    pub fn set_root_nick(&mut self, nick: &str) {
        self.root_nick = nick.to_string();
    }

    /// Change how long each wait lasts.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Let error lines matching `m` pass [`IrcClient::expect`] from now on: the
    /// test provokes them on purpose (see the `strict` module).
    pub fn allow<M: Matcher + Send + Sync + 'static>(&mut self, m: M) -> &mut Self {
        self.allowed.add(Box::new(m));
        self
    }

    /// Forget what [`IrcClient::allow`] allowed.
    pub fn disallow_all(&mut self) {
        self.allowed.clear();
    }

    /// Let [`IrcClient::expect`] skip every line, errors included (for tests that
    /// flood the gateway with bad input and read only the outcome).
    pub fn lenient(&mut self) {
        self.allowed.set_strict(false);
    }

    /// Send one line; CRLF is appended.
    pub async fn send(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await
    }

    /// Send bytes exactly as given.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        tokio::time::timeout(Duration::from_secs(30), self.writer.write_all(bytes))
            .await
            .context("write timed out")?
            .context("write")?;
        Ok(())
    }

    /// Every line read on this connection so far, in order.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Read one line (without CRLF) before `deadline`; `Ok(None)` at end of stream.
    async fn read_line_until(&mut self, deadline: Instant) -> Result<Option<String>> {
        let line = self.read_raw_line_until(deadline).await?;
        if let Some(l) = &line {
            self.history.push(l.clone());
        }
        Ok(line)
    }

    async fn read_raw_line_until(&mut self, deadline: Instant) -> Result<Option<String>> {
        if self.closed {
            return Ok(None);
        }
        loop {
            let read =
                tokio::time::timeout_at(deadline, self.reader.read_until(b'\n', &mut self.partial))
                    .await;
            match read {
                Err(_) => bail!("timed out"),
                Ok(Err(e)) => {
                    self.closed = true;
                    return Err(anyhow!(e).context("read"));
                }
                Ok(Ok(0)) => {
                    self.closed = true;
                    if self.partial.is_empty() {
                        return Ok(None);
                    }
                    let line = String::from_utf8_lossy(&self.partial).into_owned();
                    self.partial.clear();
                    return Ok(Some(line));
                }
                Ok(Ok(_)) => {
                    if self.partial.last() != Some(&b'\n') {
                        continue;
                    }
                    let mut bytes = std::mem::take(&mut self.partial);
                    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                        bytes.pop();
                    }
                    return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
    }

    /// Read one line within the client's timeout; `Ok(None)` at end of stream.
    pub async fn read_line(&mut self) -> Result<Option<String>> {
        let deadline = Instant::now() + self.timeout;
        self.read_line_until(deadline).await
    }

    /// Read lines until one matches; returns it. The lines before it are dropped,
    /// except that an error reply nobody allowed fails the wait (strict mode, see
    /// the `strict` module). Fails after the timeout or at end of stream, listing what was seen.
    pub async fn expect<M: Matcher>(&mut self, m: M) -> Result<String> {
        let deadline = Instant::now() + self.timeout;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let line = match self.read_line_until(deadline).await {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(anyhow!(
                        "connection closed while waiting for {}; seen:{}",
                        m.describe(),
                        listing(&seen)
                    ));
                }
                Err(e) => {
                    return Err(anyhow!(
                        "{e:#} while waiting for {}; seen:{}",
                        m.describe(),
                        listing(&seen)
                    ));
                }
            };
            let msg = Msg::parse(&line);
            if m.matches(&line, &msg) {
                return Ok(line);
            }
            if let Some(why) = self.allowed.refuse(&line, &msg, &self.root_nick) {
                return Err(anyhow!(
                    "{why} nobody expected while waiting for {} (allow it with \
                     IrcClient::allow if the test provokes it): {line}; seen before:{}",
                    m.describe(),
                    listing(&seen)
                ));
            }
            seen.push(line);
        }
    }

    /// Wait for a numeric reply (`"001"`, `"417"` …).
    pub async fn expect_numeric(&mut self, code: &str) -> Result<String> {
        let code = code.to_string();
        self.expect(pred(format!("numeric {code}"), move |m| m.is(&code)))
            .await
    }

    /// Send `PING :sync-N` and return every line received before its PONG.
    pub async fn sync(&mut self) -> Result<Vec<String>> {
        self.seq += 1;
        let token = format!("sync-{}", self.seq);
        self.send(&format!("PING :{token}")).await?;
        let deadline = Instant::now() + self.timeout;
        let mut seen = Vec::new();
        loop {
            let line = match self.read_line_until(deadline).await {
                Ok(Some(l)) => l,
                Ok(None) => bail!(
                    "connection closed before PONG {token}; seen:{}",
                    listing(&seen)
                ),
                Err(e) => bail!("{e:#} before PONG {token}; seen:{}", listing(&seen)),
            };
            let msg = Msg::parse(&line);
            if msg.is("PONG") && msg.trailing() == token {
                return Ok(seen);
            }
            seen.push(line);
        }
    }

    /// [`IrcClient::sync`], keeping only the texts of root's messages.
    pub async fn sync_root(&mut self) -> Result<Vec<String>> {
        let lines = self.sync().await?;
        Ok(self.root_texts(&lines))
    }

    /// Same as [`IrcClient::sync`].
    pub async fn collect_until_sync(&mut self) -> Result<Vec<String>> {
        self.sync().await
    }

    /// Send `NICK`/`USER` and wait for the welcome, the join of the control
    /// channel and root's greeting. Returns every line of the burst.
    pub async fn register(&mut self, nick: &str) -> Result<Vec<String>> {
        self.send(&format!("NICK {nick}")).await?;
        self.send(&format!("USER {nick} 0 * :Test {nick}")).await?;
        self.finish_registration(nick).await
    }

    /// Register while asking for IRCv3 capabilities (`CAP LS 302`, `CAP REQ`, `CAP END`).
    pub async fn register_with_caps(&mut self, nick: &str, caps: &[&str]) -> Result<Vec<String>> {
        self.send("CAP LS 302").await?;
        self.send(&format!("NICK {nick}")).await?;
        self.send(&format!("USER {nick} 0 * :Test {nick}")).await?;
        self.expect(pred("CAP LS", |m| m.is("CAP") && m.param(1) == "LS"))
            .await?;
        if !caps.is_empty() {
            let req = caps.join(" ");
            self.send(&format!("CAP REQ :{req}")).await?;
            let ack = self
                .expect(pred("CAP ACK/NAK", |m| {
                    m.is("CAP") && (m.param(1) == "ACK" || m.param(1) == "NAK")
                }))
                .await?;
            if Msg::parse(&ack).param(1) != "ACK" {
                bail!("capabilities refused: {ack}");
            }
        }
        self.send("CAP END").await?;
        self.finish_registration(nick).await
    }

    /// Wait for 001 and the rest of the welcome burst (after NICK/USER were sent).
    pub async fn finish_registration(&mut self, nick: &str) -> Result<Vec<String>> {
        let first = self.expect_numeric("001").await?;
        self.nick = nick.to_string();
        let mut burst = vec![first];
        burst.extend(self.sync().await?);
        let joined = burst.iter().any(|l| {
            let m = Msg::parse(l);
            m.is("JOIN") && m.param(0) == "&bitlbee" && m.nick() == Some(nick)
        });
        if !joined || !burst.iter().any(|l| l.contains("366")) {
            bail!(
                "registered but no join burst for &bitlbee; seen:{}",
                listing(&burst)
            );
        }
        Ok(burst)
    }

    /// Whether `msg` is root talking (to the control channel or to us).
    pub fn is_root_line(&self, msg: &Msg) -> bool {
        msg.is("PRIVMSG") && msg.nick() == Some(self.root_nick.as_str())
    }

    /// Send a command to root in `&bitlbee` and return every line up to the barrier.
    pub async fn root_lines(&mut self, cmd: &str) -> Result<Vec<String>> {
        self.send(&format!("PRIVMSG &bitlbee :{cmd}")).await?;
        self.sync().await
    }

    /// Send a command to root in `&bitlbee` and return the texts of root's replies.
    pub async fn root(&mut self, cmd: &str) -> Result<Vec<String>> {
        let lines = self.root_lines(cmd).await?;
        Ok(self.root_texts(&lines))
    }

    /// Like [`IrcClient::root`], failing unless a reply contains `needle`, and
    /// (in strict mode) when another line is an error nobody allowed.
    pub async fn root_expect(&mut self, cmd: &str, needle: &str) -> Result<Vec<String>> {
        let lines = self.root_lines(cmd).await?;
        for line in &lines {
            let msg = Msg::parse(line);
            if msg.trailing().contains(needle) {
                continue;
            }
            if let Some(why) = self.allowed.refuse(line, &msg, &self.root_nick) {
                bail!("{why} nobody expected in the reply to {cmd:?}: {line}");
            }
        }
        let texts = self.root_texts(&lines);
        if !texts.iter().any(|t| t.contains(needle)) {
            bail!(
                "root's reply to {cmd:?} has no {needle:?}; got:{}",
                listing(&texts)
            );
        }
        Ok(texts)
    }

    /// Send a command to root and wait for a line containing `needle`, which may
    /// come later than the barrier (e.g. an account's login lines).
    pub async fn root_wait(&mut self, cmd: &str, needle: &str) -> Result<String> {
        self.send(&format!("PRIVMSG &bitlbee :{cmd}")).await?;
        self.expect(needle).await
    }

    /// The texts of root's messages among `lines`.
    pub fn root_texts(&self, lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .map(|l| Msg::parse(l))
            .filter(|m| self.is_root_line(m))
            .map(|m| m.trailing().to_string())
            .collect()
    }

    /// Read until the gateway closes the connection; returns the lines read.
    /// A connection reset counts as closed.
    pub async fn expect_closed(&mut self) -> Result<Vec<String>> {
        self.expect_closed_within(self.timeout).await
    }

    /// [`IrcClient::expect_closed`] with another timeout.
    pub async fn expect_closed_within(&mut self, timeout: Duration) -> Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            match self.read_line_until(deadline).await {
                Ok(Some(l)) => seen.push(l),
                Ok(None) => return Ok(seen),
                Err(e) if self.closed => {
                    let _ = e;
                    return Ok(seen);
                }
                Err(e) => bail!("{e:#}: still open; seen:{}", listing(&seen)),
            }
        }
    }

    /// Whether the stream has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Send QUIT and wait for the connection to close.
    pub async fn quit(mut self) -> Result<()> {
        self.send("QUIT :bye").await?;
        self.expect_closed().await.map(|_| ())
    }
}

fn listing(lines: &[String]) -> String {
    let mut out = String::new();
    let skip = lines.len().saturating_sub(60);
    if skip > 0 {
        let _ = write!(out, "\n  … {skip} earlier lines");
    }
    for l in &lines[skip..] {
        let _ = write!(out, "\n  {l}");
    }
    if lines.is_empty() {
        out.push_str(" (nothing)");
    }
    out
}
