//! A contact on the test Prosody: tokio-xmpp's own `Client` (independent of the
//! backend under test), with bounded waits for the stanzas a test expects.
//!
//! Stanzas that arrive while waiting for something else are kept and matched by
//! later waits; IQ requests from the server (roster pushes, pings) are answered
//! on the way.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Client, Event};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Lang, Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::muc::Muc;
use xmpp_parsers::presence::{Presence, Show, Type as PresenceType};
use xmpp_parsers::roster::{Group, Item, Roster};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::{DOMAIN, Prosody};

/// How long one wait for a stanza lasts.
pub const XMPP_TIMEOUT: Duration = Duration::from_secs(10);

/// A logged-in test contact.
pub struct XmppContact {
    client: Client,
    jid: BareJid,
    bound: Option<FullJid>,
    backlog: Vec<Stanza>,
    next_id: u64,
    /// Queries (IQ gets) are handed to the test instead of refused.
    queries: bool,
}

impl std::fmt::Debug for XmppContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmppContact")
            .field("jid", &self.jid)
            .finish()
    }
}

fn summary(s: &Stanza) -> String {
    let el: Element = match s {
        Stanza::Iq(i) => i.clone().into(),
        Stanza::Message(m) => m.clone().into(),
        Stanza::Presence(p) => p.clone().into(),
    };
    String::from(&el)
}

impl XmppContact {
    /// Log `user` in over plain TCP (SCRAM) and announce availability.
    pub async fn connect(prosody: &Prosody, user: &str, password: &str) -> Result<XmppContact> {
        let jid = BareJid::new(&format!("{user}@{DOMAIN}"))?;
        let client = Client::new_plaintext(
            jid.clone(),
            password,
            DnsConfig::addr(&prosody.addr().to_string()),
            Timeouts::tight(),
        );
        Self::online(client, jid).await
    }

    /// Log `user` in through the backend's own connector (STARTTLS verified
    /// against the test CA): the same TLS code as the gateway's accounts.
    pub async fn connect_tls(prosody: &Prosody, user: &str, password: &str) -> Result<XmppContact> {
        let jid = BareJid::new(&format!("{user}@{DOMAIN}"))?;
        let spec = waggle_core::AccountSpec {
            id: waggle_core::AccountId(0),
            protocol: "jabber".into(),
            handle: jid.to_string(),
            password: waggle_core::Secret(password.into()),
            settings: prosody.account_settings().into_iter().collect(),
            archive_cursors: Default::default(),
        };
        let cfg = waggle_xmpp::AccountConfig::from_spec(&spec)?;
        let connector = waggle_xmpp::XmppConnector::new(&cfg).await?;
        let client =
            Client::new_with_connector(jid.clone(), password, connector, Timeouts::tight());
        Self::online(client, jid).await
    }

    /// Wait until bound, ask for the roster, then send initial presence, as a
    /// client does: only available sessions get messages and subscription
    /// requests sent to the bare JID, and only sessions that asked for the
    /// roster get the answers to their own requests (`subscribed`,
    /// `unsubscribed`: RFC 6121 routes them to "interested" resources).
    async fn online(client: Client, jid: BareJid) -> Result<XmppContact> {
        let mut c = Self::bound(client, jid).await?;
        let id = c.id();
        c.iq(Iq::from_get(
            id,
            Roster {
                ver: None,
                items: Vec::new(),
            },
        ))
        .await
        .context("the roster")?;
        c.available(None, None).await?;
        Ok(c)
    }

    async fn bound(mut client: Client, jid: BareJid) -> Result<XmppContact> {
        let deadline = Instant::now() + XMPP_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, client.next()).await {
                Err(_) => bail!("{jid} did not come online"),
                Ok(None) => bail!("{jid}: client ended"),
                Ok(Some(Event::Online { bound_jid, .. })) => {
                    let bound = bound_jid.try_into_full().ok();
                    return Ok(XmppContact {
                        client,
                        jid,
                        bound,
                        backlog: vec![],
                        next_id: 0,
                        queries: false,
                    });
                }
                Ok(Some(Event::Disconnected(e))) => bail!("{jid} could not log in: {e}"),
                Ok(Some(Event::Stanza(_))) => {}
            }
        }
    }

    /// From now on, queries (IQ gets) sent to this contact are handed to the
    /// test like other stanzas (to answer them itself) instead of refused.
    pub fn take_queries(&mut self) {
        self.queries = true;
    }

    /// The bodies of the messages received but not taken by an `expect` yet.
    pub fn unread_bodies(&self) -> Vec<String> {
        self.backlog
            .iter()
            .filter_map(|s| match s {
                Stanza::Message(m) => m.get_best_body(vec![]).map(|(_, b)| b.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every stanza received but not taken by an `expect` yet.
    pub fn unread(&self) -> &[Stanza] {
        &self.backlog
    }

    /// The bare JID, `user@localhost`.
    pub fn jid(&self) -> String {
        self.jid.to_string()
    }

    /// The full JID the server bound.
    pub fn full_jid(&self) -> Option<String> {
        self.bound.as_ref().map(|j| j.to_string())
    }

    /// Send a stanza.
    pub async fn send(&mut self, stanza: impl Into<Stanza>) -> Result<()> {
        self.client
            .send_stanza(stanza.into())
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("{}: send failed: {e}", self.jid))
    }

    /// Announce availability (with an optional `<show/>` and status text).
    pub async fn available(&mut self, show: Option<Show>, status: Option<&str>) -> Result<()> {
        let mut p = Presence::available();
        p.show = show;
        if let Some(s) = status {
            p.set_status("", s);
        }
        self.send(p).await
    }

    /// Go offline (the stream stays up).
    pub async fn unavailable(&mut self) -> Result<()> {
        self.send(Presence::unavailable()).await
    }

    /// Send a presence of `type_` to `to` (subscribe, subscribed, unsubscribed …).
    pub async fn presence_to(&mut self, to: &str, type_: PresenceType) -> Result<()> {
        self.send(Presence::new(type_).with_to(Jid::new(to)?)).await
    }

    /// Send a chat message.
    pub async fn say(&mut self, to: &str, body: &str) -> Result<()> {
        let m = Message::chat(Jid::new(to)?).with_body(Lang::new(), body.to_string());
        self.send(m).await
    }

    /// Add `jid` to the roster with a name and group, and wait for the answer.
    pub async fn roster_add(
        &mut self,
        jid: &str,
        name: Option<&str>,
        group: Option<&str>,
    ) -> Result<()> {
        let item = Item {
            jid: BareJid::new(jid)?,
            name: name.map(str::to_string),
            subscription: Default::default(),
            ask: Default::default(),
            groups: group
                .map(|g| vec![Group(g.to_string())])
                .unwrap_or_default(),
            approved: None,
        };
        let id = self.id();
        let iq = Iq::from_set(
            id,
            Roster {
                ver: None,
                items: vec![item],
            },
        );
        self.iq(iq).await.map(|_| ())
    }

    /// Publish a vCard (XEP-0054) given as the children of `<vCard/>`.
    pub async fn set_vcard(&mut self, inner_xml: &str) -> Result<()> {
        let el: Element = format!("<vCard xmlns='vcard-temp'>{inner_xml}</vCard>").parse()?;
        let id = self.id();
        let iq = Iq::Set {
            from: None,
            to: None,
            id,
            payload: el,
        };
        self.iq(iq).await.map(|_| ())
    }

    /// Enter a room as `nick` and wait for our own presence there; a room this
    /// creates is unlocked with its default configuration.
    pub async fn join_room(&mut self, room: &str, nick: &str) -> Result<()> {
        let to = Jid::new(&format!("{room}/{nick}"))?;
        self.send(
            Presence::available()
                .with_to(to.clone())
                .with_payload(Muc::new()),
        )
        .await?;
        let want = to.to_string();
        let s = self
            .expect(&format!("self presence in {room}"), move |s| {
                matches!(s, Stanza::Presence(p) if p.from.as_ref().is_some_and(|f| f.to_string() == want))
            })
            .await?;
        let Stanza::Presence(p) = s else {
            bail!("not a presence")
        };
        if p.type_ == PresenceType::Error {
            bail!("could not join {room}: {}", summary(&Stanza::Presence(p)));
        }
        let created = p.payloads.iter().any(|x| {
            x.is("x", xmpp_parsers::ns::MUC_USER)
                && x.children().any(|c| {
                    c.is("status", xmpp_parsers::ns::MUC_USER) && c.attr("code") == Some("201")
                })
        });
        if created {
            let id = self.id();
            let mut iq = Iq::from_set(id, waggle_xmpp::convert::muc::InstantRoom::default());
            *iq.to_mut() = Some(Jid::new(room)?);
            self.iq(iq).await?;
        }
        Ok(())
    }

    /// Say something in a room.
    pub async fn room_say(&mut self, room: &str, body: &str) -> Result<()> {
        let m = Message::groupchat(Jid::new(room)?).with_body(Lang::new(), body.to_string());
        self.send(m).await
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("t{}", self.next_id)
    }

    /// Send an IQ and wait for its answer (an error answer is an `Err`).
    pub async fn iq(&mut self, iq: Iq) -> Result<Iq> {
        let id = iq.id().to_string();
        self.send(iq).await?;
        let want = id.clone();
        let answer = self
            .expect(&format!("answer to IQ {id}"), move |s| {
                matches!(s, Stanza::Iq(i @ (Iq::Result { .. } | Iq::Error { .. })) if i.id() == want)
            })
            .await?;
        match answer {
            Stanza::Iq(i @ Iq::Result { .. }) => Ok(i),
            other => bail!("IQ {id} failed: {}", summary(&other)),
        }
    }

    /// The next stanza, answering the server's IQ requests on the way.
    async fn next(&mut self, deadline: Instant) -> Result<Stanza> {
        loop {
            let event = tokio::time::timeout_at(deadline, self.client.next())
                .await
                .map_err(|_| anyhow!("timed out"))?
                .ok_or_else(|| anyhow!("client ended"))?;
            match event {
                Event::Stanza(Stanza::Iq(get @ Iq::Get { .. })) if self.queries => {
                    return Ok(Stanza::Iq(get));
                }
                Event::Stanza(Stanza::Iq(Iq::Get { from, id, .. })) => {
                    let err = StanzaError::new(
                        ErrorType::Cancel,
                        DefinedCondition::ServiceUnavailable,
                        "en",
                        "",
                    );
                    let mut reply = Iq::from_error(id, err);
                    *reply.to_mut() = from;
                    self.send(reply).await?;
                }
                Event::Stanza(Stanza::Iq(Iq::Set {
                    from, id, payload, ..
                })) => {
                    let reply = Iq::Result {
                        from: None,
                        to: from.clone(),
                        id: id.clone(),
                        payload: None,
                    };
                    self.send(reply).await?;
                    return Ok(Stanza::Iq(Iq::Set {
                        from,
                        to: None,
                        id,
                        payload,
                    }));
                }
                Event::Stanza(s) => return Ok(s),
                Event::Online { .. } => {}
                Event::Disconnected(e) => bail!("disconnected: {e}"),
            }
        }
    }

    /// Wait for a stanza matching `f` (kept ones first); `what` names it in errors.
    pub async fn expect<F: Fn(&Stanza) -> bool>(&mut self, what: &str, f: F) -> Result<Stanza> {
        if let Some(i) = self.backlog.iter().position(&f) {
            return Ok(self.backlog.remove(i));
        }
        let deadline = Instant::now() + XMPP_TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let s = self.next(deadline).await.with_context(|| {
                format!(
                    "{} waiting for {what}; seen:\n{}",
                    self.jid,
                    seen.join("\n")
                )
            })?;
            if f(&s) {
                return Ok(s);
            }
            seen.push(summary(&s));
            self.backlog.push(s);
        }
    }

    /// Wait for a message from `from` (a bare JID, or a room) with a body; returns the body.
    pub async fn expect_body(&mut self, from: &str) -> Result<String> {
        let from = from.to_string();
        let s = self
            .expect(&format!("a message from {from}"), |s| {
                matches!(s, Stanza::Message(m) if m.type_ != MessageType::Error
                    && !m.bodies.is_empty()
                    && m.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from))
            })
            .await?;
        match s {
            Stanza::Message(m) => Ok(m
                .get_best_body(vec![])
                .map(|(_, b)| b.clone())
                .unwrap_or_default()),
            _ => bail!("not a message"),
        }
    }

    /// Wait for a message from `from` satisfying `f`.
    pub async fn expect_message<F: Fn(&Message) -> bool>(
        &mut self,
        what: &str,
        f: F,
    ) -> Result<Message> {
        let s = self
            .expect(what, |s| matches!(s, Stanza::Message(m) if f(m)))
            .await?;
        match s {
            Stanza::Message(m) => Ok(m),
            _ => bail!("not a message"),
        }
    }

    /// Wait until `from` approved our subscription: Prosody shows it with the
    /// approval itself or with `from`'s current presence.
    pub async fn expect_approval(&mut self, from: &str) -> Result<()> {
        let from = from.to_string();
        self.expect(&format!("approval from {from}"), |s| {
            matches!(s, Stanza::Presence(p)
                if matches!(p.type_, PresenceType::Subscribed | PresenceType::None)
                && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from))
        })
        .await
        .map(|_| ())
    }

    /// Wait until `from` refused our subscription: the refusal itself, or (as
    /// Prosody shows it) an unavailable presence from `from`'s bare JID.
    pub async fn expect_refusal(&mut self, from: &str) -> Result<()> {
        let from = from.to_string();
        self.expect(&format!("refusal from {from}"), |s| {
            matches!(s, Stanza::Presence(p)
                if matches!(p.type_, PresenceType::Unsubscribed | PresenceType::Unavailable)
                && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from))
        })
        .await
        .map(|_| ())
    }

    /// Wait for a presence from `from` (bare) of type `type_`.
    pub async fn expect_presence(&mut self, from: &str, type_: PresenceType) -> Result<Presence> {
        let from = from.to_string();
        let s = self
            .expect(&format!("presence {type_:?} from {from}"), |s| {
                matches!(s, Stanza::Presence(p) if p.type_ == type_
                    && p.from.as_ref().is_some_and(|f| f.to_bare().to_string() == from))
            })
            .await?;
        match s {
            Stanza::Presence(p) => Ok(p),
            _ => bail!("not a presence"),
        }
    }
}

/// Make `a` and `b` see each other's presence (both ways), with `b` in `a`'s
/// roster under `name` and `group`.
pub async fn befriend(
    a: &mut XmppContact,
    b: &mut XmppContact,
    name: Option<&str>,
    group: Option<&str>,
) -> Result<()> {
    let (aj, bj) = (a.jid(), b.jid());
    a.roster_add(&bj, name, group).await?;
    a.presence_to(&bj, PresenceType::Subscribe).await?;
    b.expect_presence(&aj, PresenceType::Subscribe).await?;
    b.presence_to(&aj, PresenceType::Subscribed).await?;
    a.expect_approval(&bj).await?;
    b.presence_to(&aj, PresenceType::Subscribe).await?;
    a.expect_presence(&bj, PresenceType::Subscribe).await?;
    a.presence_to(&bj, PresenceType::Subscribed).await?;
    b.expect_approval(&aj).await?;
    Ok(())
}
