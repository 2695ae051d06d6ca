//! Logging in: open the stream ([`crate::connect`]), authenticate with SASL
//! through tokio-xmpp's `client_login`, restart the stream and bind a resource.
//!
//! Failures are classified for the supervisor: a refused password is
//! [`XmppError::Auth`] (never retried), an unreachable server is
//! [`XmppError::Network`] (retried with backoff).

use std::borrow::Cow;
use std::collections::BTreeSet;

use futures_util::{SinkExt, StreamExt};
use sasl::common::{ChannelBinding, Credentials};
use tokio_xmpp::error::{AuthError, Error as TxError};
use tokio_xmpp::parsers::sasl::DefinedCondition as SaslCondition;
use tokio_xmpp::parsers::stream_error::{DefinedCondition as StreamCondition, ReceivedStreamError};
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{ReadError, StreamHeader, Timeouts, XmppStreamElement};
use xmpp_parsers::bind::{BindQuery, BindResponse};
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::FullJid;
use xmpp_parsers::stanza::Stanza;

use crate::config::AccountConfig;
use crate::connect::{Opened, Stream, Target, features};
use crate::convert::condition_name;
use crate::error::XmppError;

/// An authenticated stream, restarted, with the server's features read: ready
/// to bind a resource, or to resume an earlier session (XEP-0198).
pub struct Authenticated {
    /// The stream.
    pub stream: Stream,
    /// What the server offers now.
    pub features: StreamFeatures,
    /// Whether the stream is encrypted.
    pub encrypted: bool,
}

/// A logged-in, bound stream.
pub struct Online {
    /// The stream, ready for stanzas.
    pub stream: Stream,
    /// The JID the server bound us to.
    pub jid: FullJid,
    /// Whether the stream is encrypted.
    pub encrypted: bool,
    /// Whether the server offers stream management (XEP-0198).
    pub stream_management: bool,
}

/// Which SASL mechanisms we may try, given what the server offers.
///
/// ANONYMOUS is never used (we have credentials); PLAIN only over TLS unless the
/// account allows it.
pub fn usable_mechanisms(
    offered: &BTreeSet<String>,
    encrypted: bool,
    allow_plaintext: bool,
) -> BTreeSet<String> {
    offered
        .iter()
        .filter(|m| m.as_str() != "ANONYMOUS")
        .filter(|m| m.as_str() != "PLAIN" || encrypted || allow_plaintext)
        .filter(|m| matches!(m.as_str(), "SCRAM-SHA-256" | "SCRAM-SHA-1" | "PLAIN"))
        .cloned()
        .collect()
}

/// Classify a stream error the server sent us.
pub fn stream_error(e: &ReceivedStreamError) -> XmppError {
    match e.0.condition {
        StreamCondition::Conflict => XmppError::Config(
            "Another client logged in with the same resource; not reconnecting (change the resource setting)".into(),
        ),
        StreamCondition::NotAuthorized => XmppError::Auth(format!("Stream error: {e}")),
        _ => XmppError::Network(format!("Stream error: {e}")),
    }
}

fn auth_error(e: TxError) -> XmppError {
    match e {
        TxError::Auth(AuthError::Fail(SaslCondition::TemporaryAuthFailure)) => {
            XmppError::Network("Temporary authentication failure".into())
        }
        TxError::Auth(AuthError::Fail(SaslCondition::NotAuthorized)) => {
            XmppError::Auth("Authentication failure: wrong user name or password".into())
        }
        TxError::Auth(AuthError::Fail(cond)) => {
            XmppError::Auth(format!("Authentication failure: {cond:?}"))
        }
        TxError::Auth(AuthError::NoMechanism) => {
            XmppError::Config("No usable authentication mechanism offered by the server".into())
        }
        TxError::Auth(e) => XmppError::Auth(format!("Authentication failure: {e}")),
        TxError::Io(e) => XmppError::io("Connection lost during authentication", &e),
        TxError::Disconnected => XmppError::Network("Connection lost during authentication".into()),
        TxError::StreamError(e) => stream_error(&e),
        other => XmppError::Protocol(format!("Authentication failed: {other}")),
    }
}

/// Connect, authenticate and bind; `progress` hears each step.
pub async fn login<F, Fut>(
    cfg: &AccountConfig,
    password: &str,
    target: &Target,
    timeouts: Timeouts,
    mut progress: F,
) -> Result<Online, XmppError>
where
    F: FnMut(&'static str) -> Fut + Send,
    Fut: Future<Output = ()> + Send,
{
    let auth = authenticate(cfg, password, target, timeouts, &mut progress).await?;
    let stream_management = auth.features.stream_management.is_some();
    let (stream, jid) = bind(auth.stream, &auth.features, &cfg.resource).await?;
    tracing::info!(%jid, encrypted = auth.encrypted, stream_management, "bound");
    progress("Authenticated, requesting buddy list").await;
    Ok(Online {
        stream,
        jid,
        encrypted: auth.encrypted,
        stream_management,
    })
}

/// Connect, authenticate with SASL and restart the stream; `progress` hears
/// each step.
pub async fn authenticate<F, Fut>(
    cfg: &AccountConfig,
    password: &str,
    target: &Target,
    timeouts: Timeouts,
    mut progress: F,
) -> Result<Authenticated, XmppError>
where
    F: FnMut(&'static str) -> Fut + Send,
    Fut: Future<Output = ()> + Send,
{
    let (offered, stream, encrypted) = match target.open(timeouts, &mut progress).await? {
        Opened::Pending(pending, encrypted) => {
            let (f, s) = features(*pending).await?;
            (f, s, encrypted)
        }
        Opened::Ready(ready) => {
            let (f, s) = *ready;
            (f, s, false)
        }
    };
    if !encrypted && offered.starttls.as_ref().is_some_and(|s| s.required) {
        return Err(XmppError::Config(
            "Server requires TLS connections, but TLS is turned off for this account".into(),
        ));
    }
    let mechanisms = cfg.sasl.filter(usable_mechanisms(
        &offered.sasl_mechanisms,
        encrypted,
        cfg.allow_plaintext_auth,
    ));
    if mechanisms.is_empty() {
        let offered: Vec<_> = offered.sasl_mechanisms.iter().cloned().collect();
        return Err(XmppError::Config(format!(
            "No usable authentication mechanism (the server offers {}{})",
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            },
            if encrypted {
                if cfg.sasl == crate::config::SaslChoice::default() {
                    ""
                } else {
                    "; see the sasl setting"
                }
            } else {
                "; PLAIN is refused without TLS unless allow_plaintext_auth is on"
            }
        )));
    }
    let username = cfg.jid.node().map(|n| n.to_string()).unwrap_or_default();
    let creds = Credentials::default()
        .with_username(username)
        .with_password(password)
        .with_channel_binding(ChannelBinding::None);
    tracing::debug!(?mechanisms, encrypted, "authenticating");
    let initiating = tokio_xmpp::client_login(stream, mechanisms, creds)
        .await
        .map_err(auth_error)?;
    progress("Authentication finished").await;
    let header = StreamHeader {
        to: Some(Cow::Owned(cfg.jid.domain().to_string())),
        from: None,
        id: None,
    };
    let pending = initiating
        .send_header(header)
        .await
        .map_err(|e| XmppError::io("Stream restart failed", &e))?;
    let (features, stream) = features(pending).await?;
    Ok(Authenticated {
        stream,
        features,
        encrypted,
    })
}

async fn bind(
    mut stream: Stream,
    features: &StreamFeatures,
    resource: &str,
) -> Result<(Stream, FullJid), XmppError> {
    if !features.can_bind() {
        return Err(XmppError::Protocol(
            "The server offers no resource binding".into(),
        ));
    }
    let bind_id = crate::session::random_id();
    let request = Stanza::Iq(Iq::from_set(
        bind_id.clone(),
        BindQuery::new(Some(resource.to_string())),
    ));
    stream
        .send(&request)
        .await
        .map_err(|e| XmppError::io("Resource binding failed", &e))?;
    loop {
        let element = match stream.next().await {
            None => return Err(XmppError::Network("Connection closed while binding".into())),
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(e)) => {
                return Err(XmppError::Network(format!("Resource binding failed: {e}")));
            }
            Some(Ok(el)) => el.into_read_error(),
        };
        match element {
            Ok(XmppStreamElement::Stanza(Stanza::Iq(Iq::Result {
                id,
                payload: Some(payload),
                ..
            }))) if id == bind_id => {
                let bound = BindResponse::try_from(payload)
                    .map_err(|e| XmppError::Protocol(format!("Bad bind response: {e}")))?;
                return Ok((stream, bound.jid));
            }
            Ok(XmppStreamElement::Stanza(Stanza::Iq(Iq::Error { id, error, .. })))
                if id == bind_id =>
            {
                return Err(XmppError::Protocol(format!(
                    "Resource binding refused: {}",
                    condition_name(&error.defined_condition)
                )));
            }
            Ok(XmppStreamElement::StreamError(e)) => return Err(stream_error(&e)),
            Ok(other) => tracing::debug!(?other, "ignored while binding"),
            Err(e) => return Err(XmppError::Protocol(format!("Resource binding failed: {e}"))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_needs_tls_or_permission() {
        let offered = set(&["PLAIN", "SCRAM-SHA-1", "ANONYMOUS", "X-OAUTH2"]);
        assert_eq!(
            usable_mechanisms(&offered, false, false),
            set(&["SCRAM-SHA-1"])
        );
        assert_eq!(
            usable_mechanisms(&offered, true, false),
            set(&["PLAIN", "SCRAM-SHA-1"])
        );
        assert_eq!(
            usable_mechanisms(&set(&["PLAIN"]), false, true),
            set(&["PLAIN"])
        );
        assert!(usable_mechanisms(&set(&["PLAIN"]), false, false).is_empty());
    }
}
