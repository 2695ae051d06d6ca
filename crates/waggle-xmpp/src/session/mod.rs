//! One logged-in session: the loop that owns the stream, reads stanzas,
//! carries out the core's commands and answers the server, and keeps the
//! session alive across a dropped connection where the server allows it.
//!
//! - [`commands`]: `Command` → stanzas.
//! - [`inbound`]: stanzas → `Event`s (messages, presence).
//! - [`answers`]: the IQs we answer and the answers to ours.
//! - [`rooms`]: group chat state and its events; [`room_lines`]: what is
//!   said in rooms.
//! - [`roster`]: the buddy list and the contacts' resources.
//! - [`catchup`]: fetching what the archives hold since the last message the
//!   gateway logged (XEP-0313), for the account and for each room.
//! - [`sm`]: stream management bookkeeping (XEP-0198); [`resume`]: resuming
//!   the session on a new connection.
//! - [`iqs`]: the IQs waiting for an answer; [`questions`]: the user's.
//!
//! Nothing the network sees is acknowledged before the core has handled the
//! events it caused: the `<a/>` of stream management and the delivery
//! receipts (XEP-0184) wait for [`AccountContext::handled`].

mod answers;
mod catchup;
mod commands;
mod console;
mod inbound;
mod iqs;
mod live;
mod questions;
mod resume;
mod room_lines;
mod rooms;
mod roster;
mod sm;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_xmpp::xmlstream::{FallibleStreamElement, ReadError, Timeouts, XmppStreamElement};
use waggle_core::{AccountContext, Event, QuestionId};
use xmpp_parsers::disco::DiscoItemsQuery;
use xmpp_parsers::iq::{Iq, IqGetPayload, IqSetPayload};
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::ping::Ping;
use xmpp_parsers::presence::Presence;
use xmpp_parsers::roster::Roster as RosterQuery;
use xmpp_parsers::sm as xsm;
use xmpp_parsers::stanza::Stanza;

use crate::config::AccountConfig;
use crate::connect::Stream;
use crate::convert::iq::RoomRequest;
use crate::convert::muc::InvitePasswords;
use crate::convert::presence as pres;
use crate::dns::Dns;
use crate::error::XmppError;
use crate::login::Online;

pub use iqs::random_id;

use catchup::{CatchUp, RecentIds};
use iqs::Iqs;
use questions::{Question, Questions};
use rooms::{LastLine, Rooms};
use roster::Roster;
use sm::{Need, Sent, Sm};

/// How long a clean log-off may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How many receipts may wait for the core at once.
const MAX_DEFERRED: usize = 1000;

/// Why we sent an IQ: what to do with its answer.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
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
    /// The block list (XEP-0191), at login.
    BlockList,
    /// A contact's software version (CTCP VERSION): its handle, the resource.
    Version(String, String),
    /// The server's items, looking for its group chat service.
    ServerItems,
    /// An item's info, looking for a group chat service.
    ServiceInfo(BareJid),
    /// A request about group chats (its answer is told to the user).
    Room(RoomRequest),
    /// Our own account's features: does it have an archive?
    AccountInfo,
    /// A page of our own archive (the query id).
    ArchivePage(String),
    /// A room's features, before entering it: does it have an archive?
    RoomInfo(BareJid),
    /// A page of a room's archive (the room, the query id).
    RoomArchivePage(BareJid, String),
}

/// How the session reaches the server again to resume after a drop.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// The name servers for accounts without a `server` setting.
    pub dns: Dns,
    /// The stream's keepalive.
    pub timeouts: Timeouts,
}

/// What one run of the account hands to the next (in the context's carry).
#[derive(Debug, Default)]
pub(crate) struct Carried {
    /// Stanzas the server never acknowledged, to send again.
    unacked: Vec<Sent>,
    /// The last line seen in each room, to ask for what was said since.
    last_lines: HashMap<BareJid, LastLine>,
}

/// What woke the loop (short-lived, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Step {
    Cancelled,
    Command(Option<waggle_core::Command>),
    Inbound(Option<Result<FallibleStreamElement, ReadError>>),
    Handled(bool),
}

/// The state of one session.
pub(crate) struct Session<'a> {
    ctx: &'a mut AccountContext,
    cfg: &'a AccountConfig,
    link: &'a Link,
    stream: Stream,
    me: FullJid,
    iqs: Iqs,
    sm: Sm,
    roster: Roster,
    rooms: Rooms,
    questions: Questions,
    question_ids: &'a AtomicU64,
    muc_service: Option<BareJid>,
    invite_passwords: InvitePasswords,
    /// The JIDs on our block list, as the server confirmed them.
    blocked: std::collections::BTreeSet<String>,
    away: Option<String>,
    status: Option<String>,
    /// The settings applied while online.
    live: live::Live,
    online: bool,
    /// Catching up with our own archive; live messages wait meanwhile.
    catchup: CatchUp,
    /// Archive ids of the messages emitted in this run.
    recent: RecentIds,
    /// Stanzas to send once the core handled the event numbered with them.
    deferred: VecDeque<(u64, Stanza)>,
    /// From the previous run: what to send again once logged in.
    resend: Vec<Sent>,
    /// The stanza being processed was held back (its events come later).
    held_now: Option<u64>,
    /// Hold tokens handed out so far.
    holds: u64,
}

/// Serve a logged-in connection until it is cancelled (`Ok`) or fails; a
/// failure hands what the server did not acknowledge to the next run.
pub(crate) async fn run(
    ctx: &mut AccountContext,
    cfg: &AccountConfig,
    online: Box<Online>,
    link: &Link,
    question_ids: &AtomicU64,
) -> Result<(), XmppError> {
    let Online {
        stream,
        jid,
        stream_management,
        ..
    } = *online;
    let carried: Carried = ctx.carry.take().unwrap_or_default();
    let mut s = Session {
        away: cfg.away.clone(),
        status: cfg.status.clone(),
        live: live::Live::from_config(cfg),
        ctx,
        cfg,
        link,
        stream,
        me: jid,
        iqs: Iqs::default(),
        sm: Sm::default(),
        roster: Roster::default(),
        rooms: Rooms::with_last_lines(carried.last_lines),
        questions: Questions::default(),
        question_ids,
        muc_service: None,
        invite_passwords: InvitePasswords::default(),
        blocked: Default::default(),
        online: false,
        catchup: CatchUp::default(),
        recent: RecentIds::default(),
        deferred: VecDeque::new(),
        resend: carried.unacked,
        held_now: None,
        holds: 0,
    };
    let result = s.serve(stream_management).await;
    let carried = Carried {
        unacked: if result.is_err() {
            s.sm.take_unacked()
        } else {
            Vec::new()
        },
        last_lines: s.rooms.take_last_lines(),
    };
    s.ctx.carry.put(carried);
    result
}

impl Session<'_> {
    async fn serve(&mut self, stream_management: bool) -> Result<(), XmppError> {
        let cancel = self.ctx.cancel.clone();
        let mut handled = self.ctx.handled_watch();
        let mut watching = true;
        if stream_management {
            self.sm.requested();
            self.nonza(xsm::Nonza::Enable(xsm::Enable::new().with_resume()))
                .await?;
        }
        let roster = RosterQuery {
            ver: None,
            items: vec![],
        };
        self.iq_get(None, roster, Pending::Roster).await?;
        loop {
            let step = tokio::select! {
                _ = cancel.cancelled() => Step::Cancelled,
                cmd = self.ctx.commands.recv() => Step::Command(cmd),
                item = self.stream.next() => Step::Inbound(item),
                changed = handled.changed(), if watching => Step::Handled(changed.is_ok()),
            };
            // The handlers' futures are boxed: held inline they would make every
            // account's session future as large as the deepest of them (12 KiB)
            // for as long as it is online, not only while a stanza is handled.
            let result = match step {
                Step::Cancelled | Step::Command(None) => {
                    self.close().await;
                    return Ok(());
                }
                Step::Command(Some(cmd)) => Box::pin(self.command(cmd)).await,
                Step::Inbound(item) => Box::pin(self.inbound(item)).await,
                Step::Handled(ok) => {
                    // The core's side is gone when `ok` is false: stop watching.
                    watching = ok;
                    self.on_handled().await
                }
            };
            match result {
                Ok(()) => {}
                Err(XmppError::Lost(why)) if self.sm.resume_id().is_some() => {
                    Box::pin(self.resume(&why)).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Our bare JID.
    fn bare(&self) -> BareJid {
        self.me.to_bare()
    }

    /// Report an event to the core; its number.
    async fn emit(&self, event: Event) -> u64 {
        self.ctx
            .emit_numbered(event)
            .await
            .unwrap_or_else(|| self.ctx.emitted())
    }

    /// Report an error line to the core.
    async fn error(&self, text: impl Into<String>) {
        self.emit(Event::Error { text: text.into() }).await;
    }

    /// Report an event when there is one.
    async fn tell(&self, event: Option<Event>) {
        if let Some(event) = event {
            self.emit(event).await;
        }
    }

    /// Write a stanza (counted and kept by stream management).
    async fn send(&mut self, stanza: impl Into<Stanza>) -> Result<(), XmppError> {
        self.send_tracked(stanza.into(), None).await
    }

    /// Write a stanza, remembering `why` for an IQ that may be sent again.
    async fn send_tracked(
        &mut self,
        stanza: Stanza,
        why: Option<Pending>,
    ) -> Result<(), XmppError> {
        tracing::trace!(kind = stanza_kind(&stanza), "send");
        self.console("TX", &stanza).await;
        let ask = self.sm.sent(sm::copy(&stanza), why);
        self.stream
            .send(&stanza)
            .await
            .map_err(|e| XmppError::lost("Connection lost", &e))?;
        if ask {
            self.nonza(xsm::Nonza::Req(xsm::R)).await?;
        }
        Ok(())
    }

    /// Write a stream management element (never counted).
    async fn nonza(&mut self, n: xsm::Nonza) -> Result<(), XmppError> {
        self.stream
            .send(&XmppStreamElement::SM(n))
            .await
            .map_err(|e| XmppError::lost("Connection lost", &e))
    }

    /// Send `stanza` once the core has handled event `seq`.
    async fn after_handled(&mut self, seq: u64, stanza: Stanza) -> Result<(), XmppError> {
        if self.ctx.handled() >= seq {
            return self.send(stanza).await;
        }
        if self.deferred.len() >= MAX_DEFERRED {
            self.deferred.pop_front();
        }
        self.deferred.push_back((seq, stanza));
        Ok(())
    }

    /// The core handled more events: acknowledge what that allows.
    async fn on_handled(&mut self) -> Result<(), XmppError> {
        let handled = self.ctx.handled();
        self.sm.advance(handled);
        if let Some(h) = self.sm.owed_ack() {
            self.nonza(xsm::Nonza::Ack(xsm::A::new(h))).await?;
        }
        while self
            .deferred
            .front()
            .is_some_and(|(seq, _)| *seq <= handled)
        {
            if let Some((_, stanza)) = self.deferred.pop_front() {
                self.send(stanza).await?;
            }
        }
        Ok(())
    }

    /// A fresh hold token, for stanzas whose events are held back.
    fn new_hold(&mut self) -> u64 {
        self.holds += 1;
        self.holds
    }

    /// Send an IQ get to `to` (our account when `None`) and remember why.
    async fn iq_get(
        &mut self,
        to: Option<Jid>,
        payload: impl IqGetPayload,
        why: Pending,
    ) -> Result<(), XmppError> {
        let mut iq = Iq::from_get(random_id(), payload);
        *iq.to_mut() = to;
        self.iq(iq, why).await
    }

    /// Send an IQ set to `to` (our account when `None`) and remember why.
    async fn iq_set(
        &mut self,
        to: Option<Jid>,
        payload: impl IqSetPayload,
        why: Pending,
    ) -> Result<(), XmppError> {
        let mut iq = Iq::from_set(random_id(), payload);
        *iq.to_mut() = to;
        self.iq(iq, why).await
    }

    /// Send an already built IQ and remember why (and whom it went to).
    async fn iq(&mut self, iq: Iq, why: Pending) -> Result<(), XmppError> {
        self.iqs
            .track(iq.id().to_string(), iq.to().cloned(), why.clone());
        self.send_tracked(Stanza::Iq(iq), Some(why)).await
    }

    /// A fresh question id, unique in this process.
    fn question_id(&self) -> QuestionId {
        QuestionId(self.question_ids.fetch_add(1, Ordering::Relaxed))
    }

    /// Ask the user `q`, unless it is already asked or too many are waiting.
    async fn ask(&mut self, q: Question, text: String) {
        let id = self.question_id();
        if !self.questions.add(id, q) {
            tracing::debug!("a question waiting already, or too many: not asked");
            return;
        }
        self.emit(Event::QuestionAsked { id, text }).await;
    }

    /// Our presence as it should be now.
    fn own_presence(&self) -> Presence {
        pres::own(
            self.away.as_deref(),
            self.status.as_deref(),
            self.live.priority,
        )
    }

    /// The login finished: roster known, presence sent, what the previous
    /// run left unacknowledged sent again, the archive caught up with.
    async fn logged_in(&mut self) -> Result<(), XmppError> {
        let presence = self.own_presence();
        self.send(presence).await?;
        if self.cfg.carbons {
            self.iq_set(None, xmpp_parsers::carbons::Enable, Pending::Carbons)
                .await?;
        }
        let domain = Jid::from(BareJid::from_parts(None, self.me.domain()));
        let items = DiscoItemsQuery {
            node: None,
            rsm: None,
        };
        self.iq_get(Some(domain), items, Pending::ServerItems)
            .await?;
        self.online = true;
        self.emit(Event::LoggedIn).await;
        self.fetch_block_list().await?;
        if self.live.xmlconsole {
            self.console_note("XML console on: the stream follows (TX: sent, RX: received)")
                .await;
        }
        self.send_again().await?;
        self.start_catchup().await
    }

    /// Handle a read from the stream.
    async fn inbound(
        &mut self,
        item: Option<Result<FallibleStreamElement, ReadError>>,
    ) -> Result<(), XmppError> {
        match item {
            None => Err(XmppError::Lost("Connection lost: closed".into())),
            Some(Err(ReadError::StreamFooterReceived)) => {
                Err(XmppError::Network("Connection closed by the server".into()))
            }
            Some(Err(ReadError::SoftTimeout)) => {
                // XEP-0199: the link was quiet; make the server say something.
                let server = Jid::from(BareJid::from_parts(None, self.me.domain()));
                self.iq_get(Some(server), Ping, Pending::Ping).await
            }
            Some(Err(ReadError::HardError(e))) if e.kind() == std::io::ErrorKind::TimedOut => Err(
                XmppError::Lost("Ping timeout: the server stopped answering".into()),
            ),
            Some(Err(ReadError::HardError(e))) => Err(XmppError::lost("Connection lost", &e)),
            Some(Err(ReadError::ParseError(e))) => {
                tracing::warn!(error = %e, "unparsable data from the server");
                Ok(())
            }
            Some(Ok(FallibleStreamElement::Err(e))) => {
                if !self.sm.arrived() {
                    return Ok(());
                }
                let r = self.invalid_stanza(e).await;
                self.processed();
                r
            }
            Some(Ok(FallibleStreamElement::Ok(XmppStreamElement::SM(n)))) => {
                self.stream_management(n).await
            }
            Some(Ok(FallibleStreamElement::Ok(el @ XmppStreamElement::Stanza(_)))) => {
                if let XmppStreamElement::Stanza(stanza) = &el {
                    self.console("RX", stanza).await;
                }
                if !self.sm.arrived() {
                    tracing::trace!("stanza sent again after resuming, already processed");
                    return Ok(());
                }
                self.held_now = None;
                let r = self.element(el).await;
                self.processed();
                r
            }
            Some(Ok(FallibleStreamElement::Ok(el))) => self.element(el).await,
        }
    }

    /// The stanza that arrived last was processed: count it.
    fn processed(&mut self) {
        let need = match self.held_now.take() {
            Some(token) => Need::Held(token),
            None => Need::Event(self.ctx.emitted()),
        };
        self.sm.processed(need, self.ctx.handled());
    }

    /// A stream management element from the server.
    async fn stream_management(&mut self, n: xsm::Nonza) -> Result<(), XmppError> {
        match n {
            xsm::Nonza::Req(_) => {
                self.sm.advance(self.ctx.handled());
                let h = self.sm.answer();
                self.nonza(xsm::Nonza::Ack(xsm::A::new(h))).await
            }
            xsm::Nonza::Ack(a) => {
                self.sm.acked(a.h);
                Ok(())
            }
            xsm::Nonza::Enabled(e) => {
                let id = e.id.filter(|_| e.resume).map(|id| id.0);
                tracing::debug!(resumable = id.is_some(), "stream management enabled");
                self.sm.enabled(id);
                Ok(())
            }
            xsm::Nonza::Failed(f) => {
                tracing::debug!(error = ?f.error, "stream management refused");
                self.sm.refused();
                Ok(())
            }
            other => {
                tracing::debug!(?other, "unexpected stream management element");
                Ok(())
            }
        }
    }

    /// Log off cleanly: our last acknowledgement, unavailable presence, and the
    /// stream footer, which also ends a stream management session for good
    /// (nothing is left hibernating on the server).
    async fn close(&mut self) {
        let bye = async {
            if self.sm.is_enabled() {
                self.sm.advance(self.ctx.handled());
                let h = self.sm.answer();
                let _ = self.nonza(xsm::Nonza::Ack(xsm::A::new(h))).await;
            }
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
