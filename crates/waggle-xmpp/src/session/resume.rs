//! Keeping the session across a dropped connection (XEP-0198): connect and
//! authenticate again (with the account's current settings, so a certificate
//! pinned meanwhile holds), ask for `<resume/>` with what we handled, then
//! send again what the server did not get. The session goes on as if nothing
//! happened; the core sees nothing but, at most, a delay.
//!
//! When a session cannot be resumed, what the server never acknowledged is
//! handed to the next one, which sends it again once logged in
//! ([`Session::send_again`]).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_xmpp::xmlstream::{ReadError, XmppStreamElement};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::presence::Type as PresenceType;
use xmpp_parsers::sm as xsm;
use xmpp_parsers::stanza::Stanza;

use super::sm::Sent;
use super::{Pending, Session, random_id};
use crate::config::AccountConfig;
use crate::connect::{Stream, Target};
use crate::convert::condition_name;
use crate::error::XmppError;
use crate::login::{self, stream_error};

/// How long connecting again and resuming may take in all.
const RESUME_TIMEOUT: Duration = Duration::from_secs(30);

impl Session<'_> {
    /// The connection dropped (`why`): resume the session on a new one, or
    /// fail with why it could not be.
    pub(super) async fn resume(&mut self, why: &str) -> Result<(), XmppError> {
        let Some(previd) = self.sm.resume_id().map(str::to_string) else {
            return Err(XmppError::Network(why.to_string()));
        };
        tracing::info!(reason = %why, "connection lost, resuming the session");
        let attempt = tokio::time::timeout(RESUME_TIMEOUT, self.reconnect(&previd)).await;
        let (stream, h) = match attempt {
            Ok(Ok(resumed)) => resumed,
            Ok(Err(XmppError::Network(e) | XmppError::Lost(e) | XmppError::Protocol(e))) => {
                return Err(XmppError::Network(format!(
                    "{why} (the session could not be resumed: {e})"
                )));
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(XmppError::Network(format!(
                    "{why} (the session could not be resumed: timed out)"
                )));
            }
        };
        self.stream = stream;
        self.sm.acked(h);
        let again = self.sm.take_unacked();
        tracing::info!(resent = again.len(), "session resumed");
        for s in again {
            self.send_tracked(s.stanza, s.why).await?;
        }
        // What the core handled while we were away, and the receipts waiting for it.
        self.on_handled().await
    }

    /// Connect, authenticate and ask to resume `previd`: the new stream and the
    /// server's count of our stanzas.
    async fn reconnect(&mut self, previd: &str) -> Result<(Stream, u32), XmppError> {
        let cfg = AccountConfig::from_spec(&self.ctx.spec)?;
        let target = Target::for_account(&cfg, &self.link.dns).await?;
        let password = self.ctx.spec.password.0.clone();
        let auth =
            login::authenticate(&cfg, &password, &target, self.link.timeouts, |_| async {}).await?;
        if auth.features.stream_management.is_none() {
            return Err(XmppError::Network(
                "the server no longer offers stream management".into(),
            ));
        }
        let mut stream = auth.stream;
        let h = self.sm.resume_from();
        let resume = xsm::Nonza::Resume(xsm::Resume {
            h,
            previd: xsm::StreamId(previd.to_string()),
        });
        stream
            .send(&XmppStreamElement::SM(resume))
            .await
            .map_err(|e| XmppError::io("Resuming failed", &e))?;
        loop {
            let el = match stream.next().await {
                None => return Err(XmppError::Network("closed while resuming".into())),
                Some(Err(ReadError::SoftTimeout)) => continue,
                Some(Err(e)) => return Err(XmppError::Network(format!("resuming failed: {e}"))),
                Some(Ok(el)) => el.into_read_error(),
            };
            match el {
                Ok(XmppStreamElement::SM(xsm::Nonza::Resumed(r))) => return Ok((stream, r.h)),
                Ok(XmppStreamElement::SM(xsm::Nonza::Failed(f))) => {
                    if let Some(h) = f.h {
                        // What the server did get of ours is not to be sent again.
                        self.sm.acked(h);
                    }
                    let why = f
                        .error
                        .as_ref()
                        .map(condition_name)
                        .unwrap_or("undefined-condition");
                    return Err(XmppError::Network(format!("the server refused ({why})")));
                }
                Ok(XmppStreamElement::StreamError(e)) => return Err(stream_error(&e)),
                Ok(other) => tracing::debug!(?other, "ignored while resuming"),
                Err(e) => return Err(XmppError::Protocol(format!("resuming failed: {e}"))),
            }
        }
    }

    /// Send again what the previous run's server never acknowledged: messages
    /// (room messages once the room is entered again), subscription answers,
    /// roster and block list changes. The rest (presence, queries) belonged to
    /// the old session and is renewed by this one.
    pub(super) async fn send_again(&mut self) -> Result<(), XmppError> {
        let again = std::mem::take(&mut self.resend);
        if !again.is_empty() {
            tracing::info!(
                count = again.len(),
                "sending again what the last session lost"
            );
        }
        for Sent { stanza, why } in again {
            match stanza {
                Stanza::Message(m) if m.type_ == MessageType::Groupchat => {
                    if let Some(room) = m.to.as_ref().map(Jid::to_bare) {
                        self.rooms.send_when_joined(room, m);
                    }
                }
                Stanza::Message(m) => self.send(m).await?,
                Stanza::Presence(p)
                    if matches!(
                        p.type_,
                        PresenceType::Subscribe
                            | PresenceType::Subscribed
                            | PresenceType::Unsubscribe
                            | PresenceType::Unsubscribed
                    ) =>
                {
                    self.send(p).await?
                }
                Stanza::Iq(mut iq) => match why {
                    Some(why @ (Pending::RosterSet(..) | Pending::Block(..))) => {
                        *iq.id_mut() = random_id();
                        self.iq(iq, why).await?;
                    }
                    _ => tracing::debug!("an unanswered query of the last session dropped"),
                },
                Stanza::Presence(_) => {}
            }
        }
        Ok(())
    }
}
