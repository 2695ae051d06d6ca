//! One client connection: a writer draining a bounded queue, and a reader that
//! registers the client (PASS/NICK/USER/CAP/SASL), then feeds its lines, rate
//! limited, to the user's session and keeps the link alive with PING.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use irc_proto::{Command as IrcCmd, Message};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, trace};

use crate::codec::{Incoming, IrcCodec};
use crate::line::Line;
use crate::registration::{Registration, Step};
use crate::server::Shared;
use crate::session::{self, ClientInfo, SessionInput};

/// The sending side of a client's output queue. Never blocks: a client whose queue
/// is full is marked dead (SendQ exceeded) and dropped by its connection.
#[derive(Clone, Debug)]
pub(crate) struct ClientTx {
    tx: mpsc::Sender<String>,
    dead: CancellationToken,
}

impl ClientTx {
    /// Queue one line; false when the client is gone or was just dropped for SendQ.
    pub fn send(&self, line: String) -> bool {
        match self.tx.try_send(line) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dead.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queue a built line.
    pub fn line(&self, line: Line) -> bool {
        self.send(line.to_wire())
    }
}

/// Tell a client over the connection limit why it is closed.
pub(crate) async fn refuse(stream: TcpStream, name: String) {
    let (_, w) = stream.into_split();
    let mut out = FramedWrite::new(w, IrcCodec::default());
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        out.send(format!(":{name} ERROR :Closing link: too many connections")),
    )
    .await;
}

/// Serve one connection until it closes or `shutdown` is cancelled.
pub(crate) async fn run(
    stream: TcpStream,
    host: String,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let (r, w) = stream.into_split();
    let mut reader = FramedRead::new(r, IrcCodec::default());
    let (tx, rx) = mpsc::channel::<String>(shared.config.sendq_lines.max(16));
    let dead = CancellationToken::new();
    let client = ClientTx {
        tx,
        dead: dead.clone(),
    };
    let writer = tokio::spawn(write_loop(w, rx, dead.clone()));
    let name = shared.config.name.clone();
    client.send(format!(
        ":{name} NOTICE * :Waggle-IRCd initialized, please go on"
    ));

    let mut reg = Registration::new(shared.clone(), client.clone(), host);
    let deadline = Instant::now() + shared.config.ping_timeout;
    let registered = loop {
        let item = tokio::select! {
            item = reader.next() => item,
            _ = tokio::time::sleep_until(deadline) => {
                client.send(format!("ERROR :Closing link: {} (Registration timed out)", reg.host()));
                break None;
            }
            _ = shutdown.cancelled() => {
                client.send("ERROR :Closing link: server shutting down".into());
                break None;
            }
            _ = dead.cancelled() => break None,
        };
        let Some(Ok(incoming)) = item else { break None };
        match reg.handle(incoming).await {
            Step::Continue => {}
            Step::Close => break None,
            Step::Done(info) => break Some(info),
        }
    };

    if let Some(info) = registered {
        serve_registered(
            &shared,
            &client,
            &dead,
            &mut reader,
            info,
            shutdown,
            tracker,
        )
        .await;
    }
    drop(client);
    drop(reg);
    let abort = writer.abort_handle();
    // A client dropped for SendQ is not reading: give it only a moment.
    let grace = if dead.is_cancelled() { 1 } else { 5 };
    if tokio::time::timeout(Duration::from_secs(grace), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    debug!("connection closed");
}

async fn write_loop(w: OwnedWriteHalf, mut rx: mpsc::Receiver<String>, dead: CancellationToken) {
    let mut out = FramedWrite::new(w, IrcCodec::default());
    loop {
        let line = tokio::select! {
            biased;
            _ = dead.cancelled() => {
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    out.send("ERROR :Closing link: SendQ exceeded".to_string()),
                )
                .await;
                return;
            }
            line = rx.recv() => line,
        };
        let Some(line) = line else { break };
        trace!(%line, "->");
        if out.feed(line).await.is_err() {
            return;
        }
        // Batch whatever is already queued into one flush.
        while let Ok(line) = rx.try_recv() {
            trace!(%line, "->");
            if out.feed(line).await.is_err() {
                return;
            }
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.close().await;
}

type Reader = FramedRead<tokio::net::tcp::OwnedReadHalf, IrcCodec>;

async fn serve_registered(
    shared: &Arc<Shared>,
    client: &ClientTx,
    dead: &CancellationToken,
    reader: &mut Reader,
    info: ClientInfo,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let cfg = &shared.config;

    let host = info.host.clone();
    let session = session::spawn(
        shared.clone(),
        client.clone(),
        info,
        shutdown.clone(),
        &tracker,
    );
    let mut pending: VecDeque<Message> = VecDeque::new();
    let mut tokens = cfg.flood_burst as f64;
    let mut last_refill = Instant::now();
    let mut last_seen = Instant::now();
    let mut pinged = false;
    loop {
        let now = Instant::now();
        tokens = (tokens + now.duration_since(last_refill).as_secs_f64() * cfg.flood_rate as f64)
            .min(cfg.flood_burst as f64);
        last_refill = now;
        while tokens >= 1.0 {
            let Some(msg) = pending.pop_front() else {
                break;
            };
            tokens -= 1.0;
            if session
                .send(SessionInput::Irc(Box::new(msg)))
                .await
                .is_err()
            {
                return;
            }
        }
        let next_token = if pending.is_empty() {
            now + Duration::from_secs(3600)
        } else {
            now + Duration::from_secs_f64((1.0 - tokens).max(0.0) / cfg.flood_rate.max(1) as f64)
        };
        let idle_deadline = if pinged {
            last_seen + cfg.ping_timeout
        } else {
            last_seen + cfg.ping_interval
        };
        tokio::select! {
            item = reader.next() => {
                let incoming = match item {
                    Some(Ok(i)) => i,
                    _ => {
                        info!("client disconnected");
                        return;
                    }
                };
                last_seen = Instant::now();
                pinged = false;
                match incoming {
                    Incoming::TooLong => {
                                                // The session answers, in order and with the nick as it is now.
                        if session.send(SessionInput::TooLong).await.is_err() {
                            return;
                        }
                    }
                    Incoming::Invalid { reason, .. } => {
                        debug!(%reason, "invalid line");
                    }
                    // PING goes through the session like every other line, so its
                    // PONG comes after the replies to everything sent before it.
                    Incoming::Message(msg) => match &msg.command {
                                                IrcCmd::PONG(..) if msg.tags.is_none() => {}
                                                IrcCmd::QUIT(reason) => {
                            // Lines still throttled are handled first: nothing the client sent is lost.
                            for m in pending.drain(..) {
                                if session.send(SessionInput::Irc(Box::new(m))).await.is_err() {
                                    return;
                                }
                            }
                            let reason = reason.clone().unwrap_or_else(|| "Leaving".into());
                            if session.send(SessionInput::Quit(reason)).await.is_err() {
                                return;
                            }
                        }
                        _ => {
                            if pending.len() >= cfg.flood_max_queue as usize {
                                client.send(format!("ERROR :Closing link: {host} (Excess Flood)"));
                                info!("dropped for flooding");
                                return;
                            }
                            pending.push_back(msg);
                        }
                    },
                }
            }
            _ = tokio::time::sleep_until(next_token) => {}
            _ = tokio::time::sleep_until(idle_deadline) => {
                if pinged {
                    client.send(format!("ERROR :Closing link: {host} (Ping timeout)"));
                    info!("ping timeout");
                    return;
                }
                pinged = true;
                client.line(Line::new("PING").param(&cfg.name));
            }
            _ = dead.cancelled() => {
                info!("dropped: SendQ exceeded");
                return;
            }
            _ = session.closed() => {
                return;
            }
            _ = shutdown.cancelled() => {
                client.send("ERROR :Closing link: server shutting down".into());
                return;
            }
        }
    }
}
