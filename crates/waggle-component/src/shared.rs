//! What the connection and every running account share: the configuration, the
//! store, the router, the outgoing queue and the connection's state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use waggle_core::{HostedStore, QuestionId, UserId};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::config::ComponentConfig;
use crate::router::Router;

/// The one resource of every user's JID.
pub(crate) const RESOURCE: &str = "waggle";

/// Where the connection to the server stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected (yet, or any more).
    Down {
        /// Why the last attempt failed or the connection ended.
        error: Option<String>,
        /// When the next attempt is made, after a failure.
        retry_in: Option<Duration>,
    },
    /// Connected; the number grows with each new connection.
    Up(u64),
}

impl LinkState {
    /// Not connected, no error (yet).
    pub(crate) fn down() -> LinkState {
        LinkState::Down {
            error: None,
            retry_in: None,
        }
    }
}

/// How many subscription requests from strangers a user is asked at once, and
/// how fast more are let through.
const STRANGER_BURST: f64 = 5.0;
const STRANGER_REFILL: Duration = Duration::from_secs(60);

/// State shared by the connection and the accounts.
pub(crate) struct Shared {
    pub cfg: ComponentConfig,
    pub domain: BareJid,
    pub store: Arc<dyn HostedStore>,
    pub router: Arc<Router>,
    /// Stanzas to send (to the server, or to our own users).
    pub out: mpsc::Sender<Stanza>,
    /// What accounts that went away leave to be sent.
    pub farewell: mpsc::UnboundedSender<Vec<Stanza>>,
    pub state: watch::Receiver<LinkState>,
    question_ids: AtomicU64,
    strangers: Mutex<HashMap<UserId, Bucket>>,
}

impl Shared {
    pub fn new(
        cfg: ComponentConfig,
        store: Arc<dyn HostedStore>,
        out: mpsc::Sender<Stanza>,
        farewell: mpsc::UnboundedSender<Vec<Stanza>>,
        state: watch::Receiver<LinkState>,
    ) -> Option<Shared> {
        let domain = BareJid::new(&cfg.domain).ok()?;
        Some(Shared {
            cfg,
            domain,
            store,
            router: Arc::new(Router::default()),
            out,
            farewell,
            state,
            question_ids: AtomicU64::new(1),
            strangers: Mutex::new(HashMap::new()),
        })
    }

    /// The domain as a JID.
    pub fn domain_jid(&self) -> Jid {
        Jid::from(self.domain.clone())
    }

    /// A user's bare JID.
    pub fn bare(&self, localpart: &str) -> Option<BareJid> {
        BareJid::new(&format!("{localpart}@{}", self.cfg.domain)).ok()
    }

    /// A user's full JID (their one resource).
    pub fn full(&self, localpart: &str) -> Option<FullJid> {
        self.bare(localpart)?.with_resource_str(RESOURCE).ok()
    }

    /// The localpart of a JID of our domain (`None` for the domain itself or
    /// another domain).
    pub fn ours<'a>(&self, jid: &'a Jid) -> Option<&'a str> {
        (jid.domain().as_str() == self.cfg.domain)
            .then(|| jid.node().map(|n| n.as_str()))
            .flatten()
    }

    /// Whether a JID belongs to our domain.
    pub fn is_ours(&self, jid: &Jid) -> bool {
        jid.domain().as_str() == self.cfg.domain
    }

    /// Queue a stanza; false when the queue is full (the connection is slow or
    /// down for long).
    pub fn send(&self, stanza: impl Into<Stanza>) -> bool {
        self.out.try_send(stanza.into()).is_ok()
    }

    /// A question id unique in this process.
    pub fn question_id(&self) -> QuestionId {
        QuestionId(self.question_ids.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether a subscription request from a stranger may be asked now (a
    /// token bucket per user).
    pub fn stranger_allowed(&self, user: UserId) -> bool {
        let mut map = self.strangers.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.entry(user)
            .or_insert_with(|| Bucket::new(now))
            .take(now)
    }
}

/// A token bucket: [`STRANGER_BURST`] at once, one more every [`STRANGER_REFILL`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Bucket {
        Bucket {
            tokens: STRANGER_BURST,
            at: now,
        }
    }

    /// Take a token at `now`, if there is one.
    fn take(&mut self, now: Instant) -> bool {
        let refill =
            now.saturating_duration_since(self.at).as_secs_f64() / STRANGER_REFILL.as_secs_f64();
        self.tokens = (self.tokens + refill).min(STRANGER_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// An element as the stanza it is; `None` for anything else.
pub(crate) fn parse_stanza(el: Element) -> Result<Stanza, String> {
    let result = match el.name() {
        "message" => Message::try_from(el).map(Stanza::Message),
        "presence" => Presence::try_from(el).map(Stanza::Presence),
        "iq" => Iq::try_from(el).map(Stanza::Iq),
        other => return Err(format!("<{other}/> is not a stanza")),
    };
    result.map_err(|e| e.to_string())
}

/// A stanza as an element.
pub(crate) fn element(stanza: Stanza) -> Element {
    match stanza {
        Stanza::Message(m) => m.into(),
        Stanza::Presence(p) => p.into(),
        Stanza::Iq(i) => i.into(),
    }
}

/// Who sent a stanza.
pub(crate) fn from_of(s: &Stanza) -> Option<&Jid> {
    match s {
        Stanza::Message(m) => m.from.as_ref(),
        Stanza::Presence(p) => p.from.as_ref(),
        Stanza::Iq(i) => i.from(),
    }
}

/// Whom a stanza is for.
pub(crate) fn to_of(s: &Stanza) -> Option<&Jid> {
    match s {
        Stanza::Message(m) => m.to.as_ref(),
        Stanza::Presence(p) => p.to.as_ref(),
        Stanza::Iq(i) => i.to(),
    }
}

/// A stanza error with a condition and an English text.
pub(crate) fn stanza_error(
    type_: ErrorType,
    condition: DefinedCondition,
    text: &str,
) -> StanzaError {
    StanzaError::new(type_, condition, "en", text)
}

/// The error answer to a stanza (addressed back to its sender, from whom it
/// was for); `None` for stanzas that must not be answered with an error
/// (errors, IQ results, presence other than subscription requests and probes).
pub(crate) fn bounce(s: &Stanza, error: StanzaError) -> Option<Stanza> {
    let (from, to) = (to_of(s).cloned(), from_of(s).cloned()?);
    match s {
        Stanza::Message(m) if m.type_ != MessageType::Error => {
            let mut reply = Message::new(Some(to));
            reply.type_ = MessageType::Error;
            reply.from = from;
            reply.id = m.id.clone();
            reply.payloads.push(error.into());
            Some(reply.into())
        }
        Stanza::Iq(Iq::Get { id, .. } | Iq::Set { id, .. }) => {
            let mut reply = Iq::from_error(id.clone(), error);
            *reply.to_mut() = Some(to);
            *reply.from_mut() = from;
            Some(reply.into())
        }
        Stanza::Presence(p) if matches!(p.type_, PresenceType::Subscribe) => {
            let mut reply = Presence::new(PresenceType::Error).with_to(to);
            reply.from = from;
            reply.payloads.push(error.into());
            Some(reply.into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_get_five_questions_at_once_then_one_a_minute() {
        let start = Instant::now();
        let mut b = Bucket::new(start);
        assert_eq!((0..7).filter(|_| b.take(start)).count(), 5);
        assert!(!b.take(start + Duration::from_secs(30)));
        assert!(b.take(start + Duration::from_secs(61)));
        assert!(!b.take(start + Duration::from_secs(62)));
    }
}
