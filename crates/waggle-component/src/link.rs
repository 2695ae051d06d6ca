//! The one connection of the instance: connect and hand-shake, reconnect with
//! backoff (a refused handshake is logged as an error and waited out like any
//! other failure), route what arrives, and send what the accounts queue. While
//! the connection is down, stanzas for other servers wait in a bounded queue;
//! what does not fit, and what cannot wait (requests), is answered with an error
//! so that nothing disappears unnoticed. Stanzas for our own users never leave
//! the process.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_xmpp::xmlstream::{ReadError, Timeouts};
use tracing::{debug, error, info, warn};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::ns;
use xmpp_parsers::ping::Ping;
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType};

use crate::error::LinkError;
use crate::shared::{
    LinkState, Shared, bounce, element, from_of, parse_stanza, stanza_error, to_of,
};
use crate::stream::{self, Connection};

/// How long the last words may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// The id prefix of our keepalive pings (sent to ourselves through the server).
const KEEPALIVE: &str = "waggle-keepalive-";

/// The connection task.
pub(crate) struct Link {
    shared: Arc<Shared>,
    state: watch::Sender<LinkState>,
    out: mpsc::Receiver<Stanza>,
    farewell: mpsc::UnboundedReceiver<Vec<Stanza>>,
    conn: Option<Connection>,
    /// Stanzas for other servers waiting for the connection.
    waiting: VecDeque<Stanza>,
    /// Stanzas for our own users, to route.
    local: VecDeque<Stanza>,
    generation: u64,
    pings: u64,
}

/// What ended a connection.
enum End {
    Shutdown,
    Failed(LinkError),
}

impl Link {
    pub fn new(
        shared: Arc<Shared>,
        state: watch::Sender<LinkState>,
        out: mpsc::Receiver<Stanza>,
        farewell: mpsc::UnboundedReceiver<Vec<Stanza>>,
    ) -> Link {
        Link {
            shared,
            state,
            out,
            farewell,
            conn: None,
            waiting: VecDeque::new(),
            local: VecDeque::new(),
            generation: 0,
            pings: 0,
        }
    }

    /// Run until `shutdown`: connect, serve, reconnect.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut attempt = 0u32;
        let cfg = self.shared.cfg.clone();
        let timeouts = Timeouts {
            read_timeout: cfg.keepalive,
            response_timeout: cfg.keepalive,
        };
        loop {
            info!(server = %cfg.server(), domain = %cfg.domain, "connecting the component");
            let opened = {
                let open = stream::open(&cfg, timeouts);
                tokio::pin!(open);
                loop {
                    tokio::select! {
                        r = &mut open => break Some(r),
                        Some(s) = self.out.recv() => self.emit(s).await,
                        Some(f) = self.farewell.recv() => self.emit_all(f).await,
                        _ = shutdown.cancelled() => break None,
                    }
                    self.route_local().await;
                }
            };
            let error = match opened {
                None => return,
                Some(Ok(conn)) => {
                    info!(domain = %cfg.domain, "component connected");
                    attempt = 0;
                    self.conn = Some(conn);
                    self.generation += 1;
                    self.state.send_replace(LinkState::Up(self.generation));
                    match self.serve(&shutdown).await {
                        End::Shutdown => {
                            self.close().await;
                            return;
                        }
                        End::Failed(e) => {
                            warn!(error = %e, "component connection lost");
                            e
                        }
                    }
                }
                Some(Err(e @ LinkError::Refused(_))) => {
                    error!(
                        server = %cfg.server(),
                        domain = %cfg.domain,
                        error = %e,
                        "component handshake refused: check component.secret and that the server has a Component \"{}\" with this secret",
                        cfg.domain
                    );
                    e
                }
                Some(Err(e)) => {
                    warn!(server = %cfg.server(), error = %e, "component connection failed");
                    e
                }
            };
            self.conn = None;
            let delay = cfg.backoff.delay_with_jitter(attempt);
            self.state.send_replace(LinkState::Down {
                error: Some(error.to_string()),
                retry_in: Some(delay),
            });
            attempt = attempt.saturating_add(1);
            info!(
                seconds = delay.as_secs(),
                "reconnecting the component later"
            );
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    Some(s) = self.out.recv() => self.emit(s).await,
                    Some(f) = self.farewell.recv() => self.emit_all(f).await,
                    _ = shutdown.cancelled() => return,
                }
                self.route_local().await;
            }
        }
    }

    /// Serve an open connection until it fails or the gateway stops.
    async fn serve(&mut self, shutdown: &CancellationToken) -> End {
        let waiting: Vec<Stanza> = self.waiting.drain(..).collect();
        for s in waiting {
            if let Err(e) = self.write(s).await {
                return End::Failed(e);
            }
        }
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return End::Failed(LinkError::Network("not connected".into()));
            };
            let step = tokio::select! {
                item = conn.next() => self.read(item).await,
                Some(s) = self.out.recv() => self.write_or_route(s).await,
                Some(f) = self.farewell.recv() => {
                    let mut r = Ok(());
                    for s in f {
                        r = r.and(self.write_or_route(s).await);
                    }
                    r
                }
                _ = shutdown.cancelled() => return End::Shutdown,
            };
            if let Err(e) = step {
                return End::Failed(e);
            }
            self.route_local().await;
        }
    }

    /// Last words: what the accounts left, then the stream footer.
    async fn close(&mut self) {
        let mut last = Vec::new();
        while let Ok(f) = self.farewell.try_recv() {
            last.extend(f);
        }
        while let Ok(s) = self.out.try_recv() {
            last.push(s);
        }
        let bye = async {
            for s in last {
                if self.write_or_route(s).await.is_err() {
                    break;
                }
            }
            if let Some(conn) = self.conn.as_mut() {
                conn.close().await;
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, bye).await;
        self.conn = None;
        self.state.send_replace(LinkState::down());
        info!("component disconnected");
    }

    async fn read(&mut self, item: Option<Result<Element, ReadError>>) -> Result<(), LinkError> {
        match item {
            None | Some(Err(ReadError::StreamFooterReceived)) => {
                Err(LinkError::Network("the server closed the stream".into()))
            }
            Some(Err(ReadError::SoftTimeout)) => {
                self.pings += 1;
                let mut ping = Iq::from_get(format!("{KEEPALIVE}{}", self.pings), Ping);
                *ping.to_mut() = Some(self.shared.domain_jid());
                *ping.from_mut() = Some(self.shared.domain_jid());
                self.write(ping.into()).await
            }
            Some(Err(ReadError::HardError(e))) if e.kind() == std::io::ErrorKind::TimedOut => Err(
                LinkError::Network("the server stopped answering (keepalive timed out)".into()),
            ),
            Some(Err(ReadError::HardError(e))) => {
                Err(LinkError::Network(format!("connection lost: {e}")))
            }
            Some(Err(ReadError::ParseError(e))) => {
                warn!(error = %e, "unparsable data from the server");
                Ok(())
            }
            Some(Ok(el)) if el.is("error", ns::STREAM) => Err(LinkError::Refused(format!(
                "stream error: {}",
                stream::stream_error_text(&el)
            ))),
            Some(Ok(el)) => self.incoming(el).await,
        }
    }

    /// An element from the server.
    async fn incoming(&mut self, el: Element) -> Result<(), LinkError> {
        let iq_request = el.name() == "iq" && matches!(el.attr("type"), Some("get" | "set"));
        let (id, from, to) = (
            el.attr("id").map(str::to_string),
            el.attr("from").map(str::to_string),
            el.attr("to").map(str::to_string),
        );
        let stanza = match parse_stanza(el) {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "invalid stanza from the server");
                if let (true, Some(id), Some(from)) =
                    (iq_request, id, from.and_then(|f| Jid::new(&f).ok()))
                {
                    let mut reply = Iq::from_error(
                        id,
                        stanza_error(ErrorType::Modify, DefinedCondition::BadRequest, ""),
                    );
                    *reply.to_mut() = Some(from);
                    *reply.from_mut() = to.and_then(|t| Jid::new(&t).ok());
                    return self.write(reply.into()).await;
                }
                return Ok(());
            }
        };
        let Some(to) = to_of(&stanza).cloned() else {
            warn!("a stanza without a recipient from the server");
            return Ok(());
        };
        if !self.shared.is_ours(&to) {
            warn!(to = %to, "the server sent a stanza for another domain");
            return Ok(());
        }
        let Some(from) = from_of(&stanza).cloned() else {
            warn!("a stanza without a sender from the server");
            return Ok(());
        };
        if self.shared.is_ours(&from) {
            return self.own(stanza).await;
        }
        self.route(stanza).await;
        Ok(())
    }

    /// A stanza from our own domain through the server: only our keepalive
    /// comes that way (our users' stanzas to each other never leave the process).
    async fn own(&mut self, s: Stanza) -> Result<(), LinkError> {
        match s {
            Stanza::Iq(Iq::Get { id, payload, .. })
                if id.starts_with(KEEPALIVE) && payload.is("ping", ns::PING) =>
            {
                let mut pong = Iq::empty_result(self.shared.domain_jid(), id);
                *pong.from_mut() = Some(self.shared.domain_jid());
                self.write(pong.into()).await
            }
            Stanza::Iq(Iq::Result { id, .. } | Iq::Error { id, .. })
                if id.starts_with(KEEPALIVE) =>
            {
                Ok(())
            }
            other => {
                warn!(from = ?from_of(&other).map(|f| f.to_string()), "a stanza claiming to be from our own domain; dropped");
                Ok(())
            }
        }
    }

    /// Route a stanza for our domain: the domain itself, a running account, or
    /// a user who is not running; anyone else gets `item-not-found`.
    async fn route(&mut self, s: Stanza) {
        let Some(to) = to_of(&s).cloned() else { return };
        let Some(localpart) = self.shared.ours(&to).map(str::to_string) else {
            for reply in crate::service::for_domain(&s) {
                self.emit(reply).await;
            }
            return;
        };
        if let Some(route) = self.shared.router.get(&localpart) {
            match route.tx.try_send(s) {
                Ok(()) => return,
                Err(TrySendError::Full(s)) => {
                    warn!(user = %localpart, "an account is not keeping up; a stanza for it is refused");
                    let error = stanza_error(
                        ErrorType::Wait,
                        DefinedCondition::ResourceConstraint,
                        "The recipient is busy; try again",
                    );
                    if let Some(reply) = bounce(&s, error) {
                        self.emit(reply).await;
                    }
                    return;
                }
                // The account just went: handle it as a user who is not running.
                Err(TrySendError::Closed(s)) => return self.offline(&localpart, s).await,
            }
        }
        self.offline(&localpart, s).await;
    }

    async fn offline(&mut self, localpart: &str, s: Stanza) {
        let name = crate::jid::unescape(localpart);
        let user = match self.shared.store.hosted_user(&name).await {
            Ok(Some((id, registered))) if crate::jid::localpart(&registered) == localpart => {
                Some((id, registered))
            }
            Ok(_) => None,
            Err(e) => {
                warn!(error = %e, "looking up a user failed");
                let error =
                    stanza_error(ErrorType::Wait, DefinedCondition::InternalServerError, "");
                if let Some(reply) = bounce(&s, error) {
                    self.emit(reply).await;
                }
                return;
            }
        };
        let replies = match user {
            Some((id, registered)) => {
                crate::offline::handle(&self.shared, id, &registered, s).await
            }
            None => unknown(&s),
        };
        for reply in replies {
            self.emit(reply).await;
        }
    }

    /// Send a stanza: our own users' go to the router, others to the server
    /// (or wait while the connection is down).
    async fn emit(&mut self, s: Stanza) {
        if self.write_or_route(s).await.is_err() {
            // Written while the connection broke: it is kept in `waiting`, and the
            // next read reports the loss.
        }
    }

    async fn emit_all(&mut self, stanzas: Vec<Stanza>) {
        for s in stanzas {
            self.emit(s).await;
        }
    }

    async fn write_or_route(&mut self, s: Stanza) -> Result<(), LinkError> {
        if to_of(&s).is_some_and(|t| self.shared.is_ours(t)) {
            self.local.push_back(s);
            return Ok(());
        }
        self.write(s).await
    }

    /// Write to the server, or keep for later while down.
    async fn write(&mut self, s: Stanza) -> Result<(), LinkError> {
        let Some(conn) = self.conn.as_mut() else {
            self.hold(s);
            return Ok(());
        };
        match conn.send(element(s)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.conn = None;
                Err(LinkError::Network(format!(
                    "connection lost while sending: {e}"
                )))
            }
        }
    }

    /// Keep a stanza for when the connection is back, or answer it with an
    /// error when it cannot wait or the queue is full. Presences are not kept:
    /// every account sends its presence again once connected.
    fn hold(&mut self, s: Stanza) {
        let keep = match &s {
            Stanza::Message(_) => self.waiting.len() < self.shared.cfg.queue,
            Stanza::Presence(_) => return,
            Stanza::Iq(Iq::Result { .. } | Iq::Error { .. }) => {
                self.waiting.len() < self.shared.cfg.queue
            }
            Stanza::Iq(_) => false,
        };
        if keep {
            self.waiting.push_back(s);
            return;
        }
        let error = stanza_error(
            ErrorType::Wait,
            DefinedCondition::RemoteServerTimeout,
            "The gateway's connection to the XMPP server is down",
        );
        // The error goes back to our own user, as if the server had answered.
        if let Some(reply) = bounce(&s, error) {
            self.local.push_back(reply);
        }
    }

    /// Route what our own users sent each other, and the errors made for them.
    async fn route_local(&mut self) {
        let mut budget = 10_000u32;
        while let Some(s) = self.local.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                warn!("stanzas between our own users keep bouncing; the rest are dropped");
                self.local.clear();
                return;
            }
            self.route(s).await;
        }
    }
}

/// The answer for an address of our domain that is nobody's.
fn unknown(s: &Stanza) -> Vec<Stanza> {
    if let Stanza::Presence(p) = s
        && p.type_ == xmpp_parsers::presence::Type::Probe
    {
        let mut reply =
            xmpp_parsers::presence::Presence::new(xmpp_parsers::presence::Type::Unsubscribed);
        reply.to = p.from.clone();
        reply.from = p.to.clone();
        return vec![reply.into()];
    }
    let error = stanza_error(
        ErrorType::Cancel,
        DefinedCondition::ItemNotFound,
        "No such user on this gateway",
    );
    bounce(s, error).into_iter().collect()
}
