//! One client connection: a writer draining a bounded queue, and a reader that
//! registers the client (PASS/NICK/USER/CAP/SASL), attaches it to its user, then
//! feeds its lines to the user task and keeps the link alive with PING.
//!
//! A burst of lines is never dropped: the reader waits while the user task is
//! busy (it stops reading the socket, so TCP slows the client down). Only a
//! connection that floods before registering is dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use irc_proto::Command as IrcCmd;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Encoder, FramedRead};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, trace};

use crate::codec::{Incoming, IrcCodec};
use crate::line::Line;
use crate::outbox::ClientId;
use crate::registration::{Registration, Step};
use crate::server::Shared;
use crate::user::{NewClient, UserInput};

/// The read buffer a connection starts with (a line is at most 8703 bytes; the
/// buffer grows when one is longer or many arrive at once).
const READ_BUFFER: usize = 1024;
/// A write buffer grown past this by a burst is let go once written.
const KEEP_WRITE_BUFFER: usize = 64 * 1024;

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

    /// Queue a built line, waiting up to `patience` for room; a client that
    /// does not drain its queue in that time is marked dead (SendQ).
    pub async fn line_wait(&self, line: Line, patience: Duration) -> bool {
        match tokio::time::timeout(patience, self.tx.send(line.to_wire())).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.dead.cancel();
                false
            }
        }
    }
}

/// Tell a client over a connection limit why it is closed.
pub(crate) async fn refuse<S>(stream: S, name: String, why: &'static str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (_, mut w) = tokio::io::split(stream);
    let mut out = BytesMut::new();
    if IrcCodec::default()
        .encode(format!(":{name} ERROR :Closing link: {why}"), &mut out)
        .is_ok()
    {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            w.write_all_buf(&mut out).await?;
            w.flush().await
        })
        .await;
    }
}

type Reader<S> = FramedRead<ReadHalf<S>, IrcCodec>;

/// Serve one connection until it closes or `shutdown` is cancelled.
pub(crate) async fn run<S>(
    stream: S,
    host: String,
    peer: Option<std::net::IpAddr>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(stream);
    // Grown when a burst arrives; most connections never need tokio-util's 8 KiB.
    let mut reader = FramedRead::with_capacity(r, IrcCodec::default(), READ_BUFFER);
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

    let mut reg = Registration::new(shared.clone(), client.clone(), host.clone(), peer);
    let deadline = Instant::now() + shared.config.registration_timeout;
    let mut lines = 0u32;
    let registered = loop {
        let item = tokio::select! {
            item = reader.next() => item,
            _ = tokio::time::sleep_until(deadline) => {
                client.send(format!("ERROR :Closing link: {host} (Registration timed out)"));
                break None;
            }
            _ = shutdown.cancelled() => {
                client.send("ERROR :Closing link: server shutting down".into());
                break None;
            }
            _ = dead.cancelled() => break None,
        };
        let Some(Ok(incoming)) = item else { break None };
        lines += 1;
        if lines > shared.config.flood_max_queue {
            client.send(format!("ERROR :Closing link: {host} (Excess Flood)"));
            info!("dropped for flooding before registration");
            break None;
        }
        match reg.handle(incoming).await {
            Step::Continue => {}
            Step::Close => break None,
            Step::Done(info) => break Some(info),
        }
    };

    if let Some(info) = registered {
        let id = ClientId(shared.next_client_id());
        let closed = CancellationToken::new();
        let new = NewClient {
            id,
            tx: client.clone(),
            closed: closed.clone(),
            info: *info,
            welcomed: false,
            view: Vec::new(),
            greeting: None,
            accounts: Vec::new(),
        };
        if let Some(user) = crate::users::attach(&shared, new).await {
            let link = Link {
                id,
                host: &host,
                client: &client,
                dead: &dead,
                closed: &closed,
            };
            serve_attached(&shared, &link, user, &mut reader, shutdown).await;
        }
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

async fn write_loop<W>(mut w: WriteHalf<W>, mut rx: mpsc::Receiver<String>, dead: CancellationToken)
where
    W: AsyncRead + AsyncWrite,
{
    let mut codec = IrcCodec::default();
    // Starts empty and grows to the largest batch written; a `FramedWrite`
    // would hold 8 KiB for every connection, idle or not.
    let mut out = BytesMut::new();
    loop {
        let line = tokio::select! {
            biased;
            _ = dead.cancelled() => {
                out.clear();
                let _ = codec.encode("ERROR :Closing link: SendQ exceeded".to_string(), &mut out);
                let _ = tokio::time::timeout(Duration::from_secs(2), w.write_all_buf(&mut out)).await;
                return;
            }
            line = rx.recv() => line,
        };
        let Some(line) = line else { break };
        trace!(%line, "->");
        if codec.encode(line, &mut out).is_err() {
            return;
        }
        // Batch whatever is already queued into one write.
        while let Ok(line) = rx.try_recv() {
            trace!(%line, "->");
            if codec.encode(line, &mut out).is_err() {
                return;
            }
        }
        if w.write_all_buf(&mut out).await.is_err() || w.flush().await.is_err() {
            return;
        }
        if out.capacity() > KEEP_WRITE_BUFFER {
            out = BytesMut::new();
        }
    }
    let _ = w.shutdown().await;
}

/// An attached connection's ends.
struct Link<'a> {
    id: ClientId,
    host: &'a str,
    client: &'a ClientTx,
    /// Cancelled when the client stops reading (SendQ).
    dead: &'a CancellationToken,
    /// Cancelled when the user task lets go of the client.
    closed: &'a CancellationToken,
}

/// Feed an attached client's lines to its user task until either side ends.
async fn serve_attached<S>(
    shared: &Arc<Shared>,
    link: &Link<'_>,
    user: mpsc::Sender<UserInput>,
    reader: &mut Reader<S>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite,
{
    let cfg = &shared.config;
    let Link {
        id,
        host,
        client,
        dead,
        closed,
    } = *link;
    let mut last_seen = Instant::now();
    let mut pinged = false;
    let gone = |why: &'static str| UserInput::Gone(id, why);
    loop {
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
                        let _ = user.send(gone("Connection closed")).await;
                        return;
                    }
                };
                last_seen = Instant::now();
                pinged = false;
                let input = match incoming {
                    // The user task answers, in order and with the nick as it is now.
                    Incoming::TooLong => UserInput::TooLong(id),
                    Incoming::Invalid { reason, .. } => {
                        debug!(%reason, "invalid line");
                        continue;
                    }
                    Incoming::Message(msg) => match &msg.command {
                        IrcCmd::PONG(..) if msg.tags.is_none() => continue,
                        IrcCmd::QUIT(reason) => UserInput::Quit(
                            id,
                            reason.clone().unwrap_or_else(|| "Leaving".into()),
                        ),
                        // PING goes through the user task like every other line, so
                        // its PONG comes after the replies to everything sent before it.
                        _ => UserInput::Line(id, Box::new(msg)),
                    },
                };
                // Waiting here is the backpressure: while the user task is busy,
                // the socket is not read.
                tokio::select! {
                    sent = user.send(input) => if sent.is_err() { return },
                    _ = closed.cancelled() => return,
                    _ = dead.cancelled() => {
                        info!("dropped: SendQ exceeded");
                        let _ = user.send(gone("SendQ exceeded")).await;
                        return;
                    }
                }
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                if pinged {
                    client.send(format!("ERROR :Closing link: {host} (Ping timeout)"));
                    info!("ping timeout");
                    let _ = user.send(gone("Ping timeout")).await;
                    return;
                }
                pinged = true;
                client.line(Line::new("PING").param(&cfg.name));
            }
            _ = dead.cancelled() => {
                info!("dropped: SendQ exceeded");
                let _ = user.send(gone("SendQ exceeded")).await;
                return;
            }
            _ = closed.cancelled() => {
                if shutdown.is_cancelled() {
                    client.send("ERROR :Closing link: server shutting down".into());
                }
                return;
            }
            _ = user.closed() => {
                if shutdown.is_cancelled() {
                    client.send("ERROR :Closing link: server shutting down".into());
                }
                return;
            }
            _ = shutdown.cancelled() => {
                client.send("ERROR :Closing link: server shutting down".into());
                return;
            }
        }
    }
}
