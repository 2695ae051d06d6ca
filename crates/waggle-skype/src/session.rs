//! One connection to skyped: TCP, TLS, the login (`USERNAME` and `PASSWORD` as
//! separate writes, answered `PASSWORD OK` or `KO`), then the loop that feeds
//! skyped's lines and the core's commands to the [`Engine`] and carries out what
//! it yields. A silent daemon is found with `PING`: after `keepalive` without a
//! line we send one, and if another `keepalive` passes without a line the
//! connection is given up as a network error, so the supervisor reconnects.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::client::TlsStream;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, trace};
use waggle_core::{AccountContext, AccountSpec, Command, Event, SettingKind};

use crate::codec::{LineCodec, LineError, MAX_LINE};
use crate::config::{SETTINGS, SkypeConfig, Trust};
use crate::engine::{Engine, Out};
use crate::error::SkypeError;
use crate::protocol::{self, Reply};
use crate::tls::Connector;

/// How long connecting, the handshake and the login answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the goodbye (`SET USERSTATUS OFFLINE`) may take.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

type Stream = TlsStream<TcpStream>;

/// The sending half. Once logged in it is armed: dropped while armed (the
/// account was switched off, whether the run noticed or was cancelled from
/// outside), it says `SET USERSTATUS OFFLINE` and closes, as BitlBee did when
/// logging off, in a task of its own so that the cancellation can't cut it short.
/// A connection that failed is disarmed: there is nobody to say goodbye to.
struct Writer {
    half: Option<WriteHalf<Stream>>,
    buf: Vec<u8>,
    goodbye: bool,
}

impl Writer {
    fn push(&mut self, line: &str) {
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
    }

    async fn flush(&mut self) -> Result<(), SkypeError> {
        let Some(half) = self.half.as_mut() else {
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.buf);
        let write = async {
            half.write_all(&bytes).await?;
            half.flush().await
        };
        write.await.map_err(|e| {
            self.goodbye = false;
            SkypeError::Network(format!("Error while writing to skyped: {e}"))
        })
    }

    /// Send one line on its own (one write, one TLS record).
    async fn line(&mut self, line: &str) -> Result<(), SkypeError> {
        self.push(line);
        self.flush().await
    }
}

async fn goodbye(half: &mut WriteHalf<Stream>) -> std::io::Result<()> {
    let line = format!("{}\n", protocol::set_userstatus("OFFLINE"));
    half.write_all(line.as_bytes()).await?;
    half.flush().await?;
    half.shutdown().await
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.goodbye {
            return;
        }
        if let (Some(mut half), Ok(rt)) = (self.half.take(), tokio::runtime::Handle::try_current())
        {
            rt.spawn(async move {
                let _ = timeout(GOODBYE_TIMEOUT, goodbye(&mut half)).await;
            });
        }
    }
}

/// Carry out what the engine yielded: lines to skyped, events to the core.
/// Returns false when the core is gone.
async fn perform(
    engine: &mut Engine,
    writer: &mut Writer,
    ctx: &AccountContext,
) -> Result<bool, SkypeError> {
    for out in engine.drain() {
        match out {
            Out::Line(line) => {
                trace!(%line, "->");
                writer.push(&line);
            }
            Out::Event(event) => {
                if !ctx.emit(event).await {
                    return Ok(false);
                }
            }
        }
    }
    writer.flush().await?;
    Ok(true)
}

async fn connect(cfg: &SkypeConfig) -> Result<(Stream, Option<String>), SkypeError> {
    let place = format!("{}:{}", cfg.server, cfg.port);
    let connector = Connector::new(&cfg.trust).await?;
    let tcp = timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((cfg.server.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| SkypeError::Network(format!("Could not connect to skyped at {place}: timed out")))?
    .map_err(|e| SkypeError::Network(format!("Could not connect to skyped at {place}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let tls = timeout(CONNECT_TIMEOUT, connector.connect(tcp, &cfg.server))
        .await
        .map_err(|_| {
            SkypeError::Network(format!("TLS handshake with skyped at {place} timed out"))
        })??;
    Ok((tls, connector.seen().fingerprint))
}

fn read_error(e: LineError) -> SkypeError {
    match e {
        LineError::TooLong { .. } => SkypeError::Protocol(e.to_string()),
        LineError::Io(e) => SkypeError::Network(format!("Error while reading from skyped: {e}")),
    }
}

/// Keep a setting applied while online in the account's spec, so that the
/// next connection (an automatic reconnect) uses it; actions are not settings.
fn remember_setting(spec: &mut AccountSpec, cmd: &Command) {
    let Command::ApplySetting { key, value } = cmd else {
        return;
    };
    let action = SETTINGS
        .iter()
        .any(|d| d.name == key.as_str() && d.kind == SettingKind::Action);
    if action {
        return;
    }
    match value {
        Some(v) => spec.settings.insert(key.clone(), v.clone()),
        None => spec.settings.remove(key),
    };
}

/// Log in to skyped and serve the account until it is switched off or fails.
pub async fn run(ctx: &mut AccountContext, keepalive: Duration) -> Result<(), SkypeError> {
    let cfg = SkypeConfig::from_spec(&ctx.spec)?;
    if !ctx
        .emit(Event::LoginProgress {
            text: "Connecting".into(),
        })
        .await
    {
        return Ok(());
    }
    let first_use = cfg.trust == Trust::FirstUse;
    let (tls, fingerprint) = connect(&cfg).await?;
    info!(server = %cfg.server, port = cfg.port, "connected to skyped");
    ctx.emit(Event::LoginProgress {
        text: "Connected to server, logging in".into(),
    })
    .await;
    let (read, write) = tokio::io::split(tls);
    let mut lines = FramedRead::new(read, LineCodec::new(MAX_LINE));
    let mut writer = Writer {
        half: Some(write),
        buf: Vec::new(),
        goodbye: false,
    };
    writer.line(&protocol::username(&ctx.spec.handle)).await?;
    writer
        .line(&protocol::password(&ctx.spec.password.0))
        .await?;
    loop {
        let line = timeout(CONNECT_TIMEOUT, lines.next())
            .await
            .map_err(|_| SkypeError::Network("skyped did not answer the login".into()))?;
        let line = match line {
            None => return Err(SkypeError::Network("skyped closed the connection".into())),
            Some(r) => r.map_err(read_error)?,
        };
        match protocol::parse(&line) {
            Reply::Password(true) => break,
            Reply::Password(false) => {
                return Err(SkypeError::Auth(
                    "Authentication failed: skyped refused the user name or password".into(),
                ));
            }
            Reply::Ping => writer.line("PONG").await?,
            _ => debug!("ignoring a line before the login answer"),
        }
    }
    if first_use && let Some(fp) = fingerprint {
        // Pinned from now on, reconnects included.
        ctx.spec.settings.insert("fingerprint".into(), fp.clone());
        ctx.emit(Event::SettingChanged {
            key: "fingerprint".into(),
            value: fp,
        })
        .await;
    }
    let mut engine = Engine::new(cfg, &ctx.spec.handle);
    engine.start();
    writer.goodbye = true;
    if !perform(&mut engine, &mut writer, ctx).await? {
        return Ok(());
    }
    let mut last_heard = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    loop {
        let deadline = ping_sent.unwrap_or(last_heard) + keepalive;
        tokio::select! {
            // The armed writer says goodbye as it is dropped.
            _ = ctx.cancel.cancelled() => return Ok(()),
            line = lines.next() => {
                let line = match line {
                    None => {
                        writer.goodbye = false;
                        return Err(SkypeError::Network("skyped closed the connection".into()));
                    }
                    Some(Err(e)) => {
                        writer.goodbye = false;
                        return Err(read_error(e));
                    }
                    Some(Ok(line)) => line,
                };
                trace!(%line, "<-");
                last_heard = Instant::now();
                ping_sent = None;
                engine.on_line(&line);
            }
            // Commands wait until the login is confirmed.
            cmd = ctx.commands.recv(), if engine.is_online() => match cmd {
                None => return Ok(()),
                Some(cmd) => {
                    remember_setting(&mut ctx.spec, &cmd);
                    engine.on_command(cmd);
                }
            },
            _ = sleep_until(deadline) => {
                if ping_sent.is_some() {
                    writer.goodbye = false;
                    return Err(SkypeError::Network(format!(
                        "skyped stopped answering (no reply to PING within {} seconds)",
                        keepalive.as_secs_f32()
                    )));
                }
                ping_sent = Some(Instant::now());
                writer.push("PING");
            }
        }
        if !perform(&mut engine, &mut writer, ctx).await? {
            return Ok(());
        }
    }
}
