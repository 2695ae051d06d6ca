//! One logged-in connection: the loop that owns the stream, reads stanzas,
//! carries out the core's commands and answers the server.
//!
//! - [`commands`]: `Command` → stanzas.
//! - [`inbound`]: stanzas → `Event`s (messages, presence, IQs).
//! - [`rooms`]: group chat state and its events.
//! - [`roster`]: the buddy list and the contacts' resources.

mod commands;
mod inbound;
mod rooms;
mod roster;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_xmpp::xmlstream::{FallibleStreamElement, ReadError};
use waggle_core::{AccountContext, Event, QuestionId};
use xmpp_parsers::disco::DiscoItemsQuery;
use xmpp_parsers::iq::{Iq, IqGetPayload, IqSetPayload};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::ping::Ping;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::roster::Roster as RosterQuery;
use xmpp_parsers::stanza::Stanza;

use crate::config::AccountConfig;
use crate::connect::Stream;
use crate::convert::presence as pres;
use crate::error::XmppError;
use crate::login::Online;

use rooms::Rooms;
use roster::Roster;

/// Forget an unanswered IQ after this long.
const IQ_LIFETIME: Duration = Duration::from_secs(600);
/// How long a clean log-off may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why we sent an IQ: what to do with its answer.
#[derive(Debug, Clone)]
enum Pending {
    /// The initial roster request; its answer completes the login.
    Roster,
    /// Adding (`true`) or removing a contact.
    RosterSet(String, bool),
    /// A vCard for `info`.
    VCard(String),
    /// A keepalive ping.
    Ping,
    /// Enabling carbons.
    Carbons,
    /// Blocking (`true`) or unblocking a contact.
    Block(String, bool),
    /// The server's items, looking for its group chat service.
    ServerItems,
    /// An item's info, looking for a group chat service.
    ServiceInfo(BareJid),
    /// `chat list` on a service.
    RoomList(String),
    /// Kicking an occupant.
    Kick(String, String),
    /// Accepting a new room's default configuration.
    RoomConfig(BareJid),
}

/// A question we asked the user.
#[derive(Debug, Clone)]
enum Question {
    /// `jid` wants to see our presence.
    Subscribe(BareJid),
    /// Add `jid` (who now sees us) to our own list.
    AddBack(BareJid),
}

/// What woke the loop (short-lived, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Step {
    Cancelled,
    Command(Option<waggle_core::Command>),
    Inbound(Option<Result<FallibleStreamElement, ReadError>>),
}

/// The state of one connection.
pub(crate) struct Session<'a> {
    ctx: &'a mut AccountContext,
    cfg: &'a AccountConfig,
    stream: Stream,
    me: FullJid,
    next_id: u64,
    pending: HashMap<String, (Pending, Instant)>,
    roster: Roster,
    rooms: Rooms,
    questions: HashMap<QuestionId, Question>,
    question_ids: &'a AtomicU64,
    muc_service: Option<BareJid>,
    invite_passwords: HashMap<BareJid, String>,
    away: Option<String>,
    status: Option<String>,
    online: bool,
}

/// Serve a logged-in connection until it is cancelled (`Ok`) or fails.
pub(crate) async fn run(
    ctx: &mut AccountContext,
    cfg: &AccountConfig,
    online: Online,
    question_ids: &AtomicU64,
) -> Result<(), XmppError> {
    let cancel = ctx.cancel.clone();
    let mut s = Session {
        away: cfg.away.clone(),
        status: cfg.status.clone(),
        ctx,
        cfg,
        stream: online.stream,
        me: online.jid,
        next_id: 0,
        pending: HashMap::new(),
        roster: Roster::default(),
        rooms: Rooms::default(),
        questions: HashMap::new(),
        question_ids,
        muc_service: None,
        invite_passwords: HashMap::new(),
        online: false,
    };
    s.iq_get(
        None,
        RosterQuery {
            ver: None,
            items: vec![],
        },
        Pending::Roster,
    )
    .await?;
    loop {
        let step = tokio::select! {
            _ = cancel.cancelled() => Step::Cancelled,
            cmd = s.ctx.commands.recv() => Step::Command(cmd),
            item = s.stream.next() => Step::Inbound(item),
        };
        match step {
            Step::Cancelled | Step::Command(None) => {
                s.close().await;
                return Ok(());
            }
            Step::Command(Some(cmd)) => s.command(cmd).await?,
            Step::Inbound(item) => s.inbound(item).await?,
        }
    }
}

impl Session<'_> {
    /// Our bare JID.
    fn bare(&self) -> BareJid {
        self.me.to_bare()
    }

    /// Report an event to the core.
    async fn emit(&self, event: Event) {
        self.ctx.emit(event).await;
    }

    /// Report an error line to the core.
    async fn error(&self, text: impl Into<String>) {
        self.emit(Event::Error { text: text.into() }).await;
    }

    /// Write a stanza.
    async fn send(&mut self, stanza: impl Into<Stanza>) -> Result<(), XmppError> {
        let stanza: Stanza = stanza.into();
        tracing::trace!(kind = stanza_kind(&stanza), "send");
        self.stream
            .send(&stanza)
            .await
            .map_err(|e| XmppError::io("Connection lost", &e))
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("wg{}", self.next_id)
    }

    fn track(&mut self, id: String, why: Pending) {
        let now = Instant::now();
        self.pending
            .retain(|_, (_, at)| now.duration_since(*at) < IQ_LIFETIME);
        self.pending.insert(id, (why, now));
    }

    /// Send an IQ get to `to` (the server when `None`) and remember why.
    async fn iq_get(
        &mut self,
        to: Option<Jid>,
        payload: impl IqGetPayload,
        why: Pending,
    ) -> Result<(), XmppError> {
        let id = self.new_id();
        let mut iq = Iq::from_get(id.clone(), payload);
        *iq.to_mut() = to;
        self.track(id, why);
        self.send(iq).await
    }

    /// Send an IQ set to `to` (the server when `None`) and remember why.
    async fn iq_set(
        &mut self,
        to: Option<Jid>,
        payload: impl IqSetPayload,
        why: Pending,
    ) -> Result<(), XmppError> {
        let id = self.new_id();
        let mut iq = Iq::from_set(id.clone(), payload);
        *iq.to_mut() = to;
        self.track(id, why);
        self.send(iq).await
    }

    /// Send an already built IQ and remember why.
    async fn iq(&mut self, iq: Iq, why: Pending) -> Result<(), XmppError> {
        self.track(iq.id().to_string(), why);
        self.send(iq).await
    }

    /// A fresh question id, unique in this process.
    fn question_id(&self) -> QuestionId {
        QuestionId(self.question_ids.fetch_add(1, Ordering::Relaxed))
    }

    /// Our presence as it should be now.
    fn own_presence(&self) -> Presence {
        pres::own(
            self.away.as_deref(),
            self.status.as_deref(),
            self.cfg.priority,
        )
    }

    /// The login finished: roster known, presence sent.
    async fn logged_in(&mut self) -> Result<(), XmppError> {
        let presence = self.own_presence();
        self.send(presence).await?;
        if self.cfg.carbons {
            self.iq_set(None, xmpp_parsers::carbons::Enable, Pending::Carbons)
                .await?;
        }
        let domain = Jid::from(BareJid::from_parts(None, self.me.domain()));
        self.iq_get(
            Some(domain),
            DiscoItemsQuery {
                node: None,
                rsm: None,
            },
            Pending::ServerItems,
        )
        .await?;
        self.online = true;
        self.emit(Event::LoggedIn).await;
        Ok(())
    }

    /// Handle a read from the stream.
    async fn inbound(
        &mut self,
        item: Option<Result<FallibleStreamElement, ReadError>>,
    ) -> Result<(), XmppError> {
        match item {
            None | Some(Err(ReadError::StreamFooterReceived)) => {
                Err(XmppError::Network("Connection closed by the server".into()))
            }
            Some(Err(ReadError::SoftTimeout)) => {
                // XEP-0199: the link was quiet; make the server say something.
                let server = Jid::from(BareJid::from_parts(None, self.me.domain()));
                self.iq_get(Some(server), Ping, Pending::Ping).await
            }
            Some(Err(ReadError::HardError(e))) if e.kind() == std::io::ErrorKind::TimedOut => Err(
                XmppError::Network("Ping timeout: the server stopped answering".into()),
            ),
            Some(Err(ReadError::HardError(e))) => Err(XmppError::io("Connection lost", &e)),
            Some(Err(ReadError::ParseError(e))) => {
                tracing::warn!(error = %e, "unparsable data from the server");
                Ok(())
            }
            Some(Ok(FallibleStreamElement::Err(e))) => self.invalid_stanza(e).await,
            Some(Ok(FallibleStreamElement::Ok(el))) => self.element(el).await,
        }
    }

    /// Log off cleanly: unavailable presence, stream footer.
    async fn close(&mut self) {
        let bye = async {
            let _ = self
                .stream
                .send(&Stanza::from(Presence::unavailable()))
                .await;
            let _ = SinkExt::<&Stanza>::close(&mut self.stream).await;
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, bye).await;
    }
}

/// A stanza's element name, for trace logs (never its content).
fn stanza_kind(s: &Stanza) -> &'static str {
    match s {
        Stanza::Iq(_) => "iq",
        Stanza::Message(_) => "message",
        Stanza::Presence(_) => "presence",
    }
}
