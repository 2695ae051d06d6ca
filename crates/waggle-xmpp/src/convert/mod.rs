//! Pure translation between stanzas and the core's vocabulary: no I/O, no
//! session state beyond what is passed in.
//!
//! - [`message`]: `<message/>` in (chats, carbons, chat states, receipts, invites,
//!   errors, room lines) and out.
//! - [`presence`]: `<presence/>` in (contacts, subscriptions, room occupants) and out.
//! - [`iq`]: roster, vCard, disco, blocking and the IQs we answer.
//! - [`mam`]: message ids (XEP-0359) and archive queries and results (XEP-0313).
//! - [`muc`]: payloads xmpp-parsers lacks (MUC admin/owner, XEP-0249 invites).
//! - [`occupants`]: a room's occupants as its presences change them (the one
//!   piece of state here: the sessions hold one per room).

pub mod iq;
pub mod mam;
pub mod message;
pub mod muc;
pub mod occupants;
pub mod presence;

use std::time::{Duration, SystemTime};

use waggle_core::MessageKind;
use waggle_core::clock::clamp_remote;
use xmpp_parsers::date::DateTime;
use xmpp_parsers::stanza_error::{DefinedCondition, StanzaError};

/// The XML name of a stanza error condition.
pub fn condition_name(c: &DefinedCondition) -> &'static str {
    match c {
        DefinedCondition::BadRequest => "bad-request",
        DefinedCondition::Conflict => "conflict",
        DefinedCondition::FeatureNotImplemented => "feature-not-implemented",
        DefinedCondition::Forbidden => "forbidden",
        DefinedCondition::Gone { .. } => "gone",
        DefinedCondition::InternalServerError => "internal-server-error",
        DefinedCondition::ItemNotFound => "item-not-found",
        DefinedCondition::JidMalformed => "jid-malformed",
        DefinedCondition::NotAcceptable => "not-acceptable",
        DefinedCondition::NotAllowed => "not-allowed",
        DefinedCondition::NotAuthorized => "not-authorized",
        DefinedCondition::PolicyViolation => "policy-violation",
        DefinedCondition::RecipientUnavailable => "recipient-unavailable",
        DefinedCondition::Redirect { .. } => "redirect",
        DefinedCondition::RegistrationRequired => "registration-required",
        DefinedCondition::RemoteServerNotFound => "remote-server-not-found",
        DefinedCondition::RemoteServerTimeout => "remote-server-timeout",
        DefinedCondition::ResourceConstraint => "resource-constraint",
        DefinedCondition::ServiceUnavailable => "service-unavailable",
        DefinedCondition::SubscriptionRequired => "subscription-required",
        DefinedCondition::UndefinedCondition => "undefined-condition",
        DefinedCondition::UnexpectedRequest => "unexpected-request",
    }
}

/// A stanza error as one line: the condition, and the server's text if any.
pub fn error_text(e: &StanzaError) -> String {
    let cond = condition_name(&e.defined_condition);
    let text = e
        .texts
        .get("en")
        .or_else(|| e.texts.get(""))
        .or_else(|| e.texts.values().next());
    match text {
        Some(t) if !t.trim().is_empty() => format!("{cond} ({})", t.trim()),
        _ => cond.to_string(),
    }
}

/// An XEP-0082 timestamp from the network as a system time, made sane with
/// [`clamp_remote`]: a stamp in the future (or before 1970) becomes now.
pub fn system_time(stamp: &DateTime) -> SystemTime {
    remote_time(stamp, SystemTime::now())
}

/// [`system_time`] against a given `now`.
pub fn remote_time(stamp: &DateTime, now: SystemTime) -> SystemTime {
    let millis = stamp.0.timestamp_millis();
    let magnitude = Duration::from_millis(millis.unsigned_abs());
    let raw = if millis >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    };
    match raw {
        Some(t) => clamp_remote(t, now),
        None => now,
    }
}

/// Split `/me does something` into the action text and its kind.
pub fn split_action(body: &str) -> (String, MessageKind) {
    match body.strip_prefix("/me ") {
        Some(rest) => (rest.to_string(), MessageKind::Action),
        None => (body.to_string(), MessageKind::Normal),
    }
}

/// The body to send for a message of `kind`: actions become `/me …`; XMPP
/// has no notices, so a notice is sent as the plain text.
pub fn outgoing_body(body: &str, kind: MessageKind) -> String {
    match kind {
        MessageKind::Action => format!("/me {body}"),
        MessageKind::Normal | MessageKind::Notice => body.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        assert_eq!(
            split_action("/me waves"),
            ("waves".to_string(), MessageKind::Action)
        );
        assert_eq!(split_action("/mew"), ("/mew".into(), MessageKind::Normal));
        assert_eq!(outgoing_body("waves", MessageKind::Action), "/me waves");
        assert_eq!(outgoing_body("hello", MessageKind::Notice), "hello");
    }

    #[test]
    fn absurd_stamps_become_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for stamp in [
            "9999-12-31T23:59:59-23:59",
            "2100-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
        ] {
            let t: DateTime = stamp.parse().expect("date");
            assert_eq!(remote_time(&t, now), now, "{stamp}");
        }
        let t: DateTime = "2023-11-14T22:13:19Z".parse().expect("date");
        assert_eq!(remote_time(&t, now), now - Duration::from_secs(1));
    }

    #[test]
    fn stamps() {
        let t: DateTime = "2002-09-10T23:08:25Z".parse().expect("date");
        let secs = system_time(&t)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        assert_eq!(secs, 1_031_699_305);
    }
}
