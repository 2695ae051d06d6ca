//! One user's account on the component: registered with the router for the
//! user's localpart, it relays stanzas for `alice@domain` to the core as events
//! and the core's commands to stanzas from `alice@domain/waggle`.
//!
//! - [`commands`]: `Command` → stanzas.
//! - [`inbound`]: stanzas → `Event`s (messages, presence, IQs).
//! - [`contacts`]: the roster (RFC 6121 subscriptions, questions, the contacts'
//!   presence) and our own presence.
//! - [`rooms`]: group chats joined as `alice@domain/waggle`.
//!
//! The account stays online while the connection to the server is down: its
//! contacts go offline and its rooms are left, and when the connection is back
//! it sends its presence again, probes its contacts and rejoins its rooms.
//! Delivery receipts, and the removal of messages taken from the inbox, wait
//! until the core has handled (logged) the message.

mod commands;
mod contacts;
mod inbound;
mod rooms;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;
use waggle_core::{AccountContext, Event, ListKind, QuestionId, RosterEntry, UserId};
use waggle_xmpp::convert::iq::RoomRequest;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::stanza::Stanza;

use crate::error::AccountError;
use crate::inbox::InboxKey;
use crate::router::Registration;
use crate::shared::{LinkState, Shared};

use contacts::Resources;
use rooms::Rooms;

/// How many inbox messages are taken at once.
const INBOX_BATCH: u32 = 200;

/// Why we sent an IQ: what its answer is for.
#[derive(Debug, Clone)]
enum Pending {
    /// A vCard for `info`.
    VCard(String),
    /// A request about group chats (its answer is told to the user).
    Room(RoomRequest),
}

/// A question we asked the user.
#[derive(Debug, Clone)]
enum Question {
    /// The contact wants to see our presence.
    Subscribe(String),
    /// Add the contact, who now sees us, to our own list.
    AddBack(String),
}

/// What to do once the core has handled an event.
#[derive(Debug)]
enum AfterAck {
    /// Send this (a delivery receipt).
    Send(Box<Stanza>),
    /// Delete a message taken from the inbox.
    DropInbox(i64),
}

/// Our own presence as the core last set it.
#[derive(Debug, Clone, Default)]
struct Own {
    away: Option<String>,
    status: Option<String>,
    detached: bool,
}

/// A running account.
pub(crate) struct Account<'a> {
    shared: Arc<Shared>,
    ctx: &'a mut AccountContext,
    user: UserId,
    nick: String,
    realname: String,
    me: FullJid,
    bare: BareJid,
    key: Option<InboxKey>,
    reg: Registration,
    inbound: mpsc::Receiver<Stanza>,
    own: Own,
    roster: HashMap<String, RosterEntry>,
    lists: HashMap<String, ListKind>,
    resources: Resources,
    questions: HashMap<QuestionId, Question>,
    pending: HashMap<String, Pending>,
    next_id: u64,
    acks: VecDeque<(u64, AfterAck)>,
    rooms: Rooms,
    /// The connection we last sent our state over.
    synced: Option<u64>,
}

/// What woke the loop (short-lived, so its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Step {
    Cancelled,
    Command(Option<waggle_core::Command>),
    Stanza(Option<Stanza>),
    Link,
    Handled,
}

/// Serve a user's account until it is cancelled.
pub(crate) async fn run(shared: Arc<Shared>, ctx: &mut AccountContext) -> Result<(), AccountError> {
    let handle = ctx.spec.handle.clone();
    let wanted = handle.split('@').next().unwrap_or_default().to_string();
    let unknown = || AccountError::NotAUser(handle.clone());
    let (user, name) = shared
        .store
        .hosted_user(&crate::jid::unescape(&wanted))
        .await
        .map_err(|e| AccountError::Store(e.to_string()))?
        .filter(|(_, name)| crate::jid::localpart(name) == wanted)
        .ok_or_else(unknown)?;
    let localpart = crate::jid::localpart(&name);
    let (Some(me), Some(bare)) = (shared.full(&localpart), shared.bare(&localpart)) else {
        return Err(unknown());
    };
    let (reg, inbound) = shared
        .router
        .register(&localpart, shared.farewell.clone())
        .ok_or_else(|| AccountError::AlreadyOnline(bare.to_string()))?;
    let key = InboxKey::from_password(&ctx.spec.password.0);
    let setting = |k: &str| {
        ctx.spec
            .settings
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let nick = setting(waggle_core::backend::USER_NICK).unwrap_or_else(|| name.clone());
    let realname = setting(waggle_core::backend::USER_REALNAME).unwrap_or_else(|| nick.clone());
    let own = Own {
        away: setting("away"),
        status: setting("status"),
        detached: false,
    };
    let mut account = Account {
        shared,
        ctx,
        user,
        nick,
        realname,
        me,
        bare,
        key,
        reg,
        inbound,
        own,
        roster: HashMap::new(),
        lists: HashMap::new(),
        resources: Resources::default(),
        questions: HashMap::new(),
        pending: HashMap::new(),
        next_id: 0,
        acks: VecDeque::new(),
        rooms: Rooms::default(),
        synced: None,
    };
    account.serve().await
}

impl Account<'_> {
    async fn serve(&mut self) -> Result<(), AccountError> {
        self.prepare().await?;
        if !self.wait_for_link().await {
            return Ok(());
        }
        self.emit(Event::LoggedIn).await;
        for entry in self.roster.values().filter(|e| e.listed) {
            let contact = self.resources.contact(entry);
            self.ctx.emit(Event::ContactUpdated(contact)).await;
        }
        self.report_lists().await;
        self.link_changed().await;
        self.ask_pending().await;
        self.drain_inbox().await;
        let cancel = self.ctx.cancel.clone();
        let mut state = self.shared.state.clone();
        let mut handled = self.ctx.handled_watch();
        loop {
            let step = tokio::select! {
                _ = cancel.cancelled() => Step::Cancelled,
                cmd = self.ctx.commands.recv() => Step::Command(cmd),
                s = self.inbound.recv() => Step::Stanza(s),
                r = state.changed() => if r.is_ok() { Step::Link } else { Step::Cancelled },
                r = handled.changed() => if r.is_ok() { Step::Handled } else { Step::Cancelled },
            };
            match step {
                Step::Cancelled | Step::Command(None) | Step::Stanza(None) => return Ok(()),
                Step::Command(Some(cmd)) => self.command(cmd).await,
                Step::Stanza(Some(s)) => self.stanza(s).await,
                Step::Link => self.link_changed().await,
                Step::Handled => self.handled().await,
            }
        }
    }

    /// Record the profile and the inbox key, load the roster.
    async fn prepare(&mut self) -> Result<(), AccountError> {
        let store = self.shared.store.clone();
        let err = |e: waggle_core::StoreError| AccountError::Store(e.to_string());
        store
            .set_profile(self.user, &self.nick, &self.realname)
            .await
            .map_err(err)?;
        let public = self.key.as_ref().map(InboxKey::public);
        let stored = store.inbox_key(self.user).await.map_err(err)?;
        if stored != public {
            let waiting = store.inbox_len(self.user).await.map_err(err)?;
            if stored.is_some() && waiting > 0 {
                // Sealed to a key this account no longer has: nobody can open them.
                self.emit(Event::Error {
                    text: format!(
                        "{waiting} message(s) that arrived while you were signed out cannot be opened (this account's key changed) and were discarded"
                    ),
                })
                .await;
                let rows: Vec<i64> = store
                    .inbox(self.user, u32::MAX)
                    .await
                    .map_err(err)?
                    .into_iter()
                    .map(|m| m.row)
                    .collect();
                store.inbox_delete(self.user, &rows).await.map_err(err)?;
            }
            store
                .set_inbox_key(self.user, public.as_deref())
                .await
                .map_err(err)?;
        }
        if self.key.is_none() {
            self.emit(Event::Notice {
                text: "This account has no key (its password was deleted), so messages that arrive while you are not signed in to the gateway are refused; the gateway makes a new key the next time it loads your accounts".into(),
            })
            .await;
        }
        self.roster = store
            .roster(self.user)
            .await
            .map_err(err)?
            .into_iter()
            .map(|e| (e.contact.to_lowercase(), e))
            .collect();
        self.lists = store
            .lists(self.user)
            .await
            .map_err(err)?
            .into_iter()
            .map(|(c, k)| (c.to_lowercase(), k))
            .collect();
        Ok(())
    }

    /// Wait until the connection is up; false when cancelled first.
    async fn wait_for_link(&mut self) -> bool {
        let mut state = self.shared.state.clone();
        let cancel = self.ctx.cancel.clone();
        let mut told = false;
        loop {
            let current = state.borrow_and_update().clone();
            match current {
                LinkState::Up(_) => return true,
                LinkState::Down { error, .. } if !told => {
                    told = true;
                    let text = match error {
                        Some(e) => format!(
                            "Waiting for the connection to {} ({e})",
                            self.shared.cfg.server()
                        ),
                        None => {
                            format!("Waiting for the connection to {}", self.shared.cfg.server())
                        }
                    };
                    self.emit(Event::LoginProgress { text }).await;
                }
                LinkState::Down { .. } => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return false,
                r = state.changed() => if r.is_err() { return false },
            }
        }
    }

    /// The connection came up or went down.
    async fn link_changed(&mut self) {
        let current = self.shared.state.borrow().clone();
        match current {
            LinkState::Up(generation) if self.synced != Some(generation) => {
                self.synced = Some(generation);
                self.broadcast_presence();
                self.probe_contacts();
                self.rejoin_rooms().await;
            }
            LinkState::Up(_) => {}
            LinkState::Down { .. } if self.synced.is_some() => {
                self.synced = None;
                self.all_contacts_offline().await;
                self.rooms_lost().await;
            }
            LinkState::Down { .. } => {}
        }
    }

    /// Do what waited for events the core has now handled.
    async fn handled(&mut self) {
        let done = self.ctx.handled();
        let mut dropped = Vec::new();
        while self.acks.front().is_some_and(|(seq, _)| *seq <= done) {
            let Some((_, after)) = self.acks.pop_front() else {
                break;
            };
            match after {
                AfterAck::Send(s) => {
                    self.send(*s);
                }
                AfterAck::DropInbox(row) => dropped.push(row),
            }
        }
        if !dropped.is_empty()
            && let Err(e) = self.shared.store.inbox_delete(self.user, &dropped).await
        {
            tracing::warn!(error = %e, "deleting delivered inbox messages failed");
        }
    }

    /// Hand the messages kept while the user was not running to the core.
    async fn drain_inbox(&mut self) {
        let Some(key) = &self.key else { return };
        let kept = match self.shared.store.inbox(self.user, INBOX_BATCH).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "reading the inbox failed");
                return;
            }
        };
        let mut opened = Vec::new();
        for m in kept {
            let stanza = key
                .open(&m.sealed)
                .and_then(|plain| String::from_utf8(plain).ok())
                .and_then(|xml| xml.parse::<xmpp_parsers::minidom::Element>().ok())
                .and_then(|el| xmpp_parsers::message::Message::try_from(el).ok());
            opened.push((m.row, m.received, stanza));
        }
        let more = opened.len() as u32 == INBOX_BATCH;
        for (row, received, message) in opened {
            match message {
                Some(message) => self.inbox_message(row, received, message).await,
                None => {
                    tracing::warn!(row, "an inbox message could not be opened; discarded");
                    self.acks
                        .push_back((self.ctx.emitted(), AfterAck::DropInbox(row)));
                }
            }
        }
        self.handled().await;
        if more {
            self.emit(Event::Notice {
                text: "More messages are waiting from while you were signed out; they follow when the account next comes online".into(),
            })
            .await;
        }
    }

    /// The block and allow lists, for `block <account>` / `allow <account>`:
    /// sent once they are loaded and after every change, so what root lists
    /// is what the account applies.
    async fn report_lists(&self) {
        let mut blocked = Vec::new();
        let mut allowed = Vec::new();
        for (contact, kind) in &self.lists {
            match kind {
                ListKind::Block => blocked.push(contact.clone()),
                ListKind::Allow => allowed.push(contact.clone()),
            }
        }
        blocked.sort();
        allowed.sort();
        self.emit(Event::BlockList { blocked, allowed }).await;
    }

    /// Report an event.
    async fn emit(&self, event: Event) {
        self.ctx.emit(event).await;
    }

    /// Report an event when there is one.
    async fn tell(&self, event: Option<Event>) {
        if let Some(event) = event {
            self.emit(event).await;
        }
    }

    /// Report an error line.
    async fn error(&self, text: impl Into<String>) {
        self.emit(Event::Error { text: text.into() }).await;
    }

    /// Queue a stanza from us; false when it could not be queued.
    fn send(&self, stanza: impl Into<Stanza>) -> bool {
        self.shared.send(stanza)
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("wgc{}", self.next_id)
    }

    fn me_jid(&self) -> Jid {
        Jid::from(self.me.clone())
    }
}
