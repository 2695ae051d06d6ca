//! Stanzas for a registered user who is not running (after a restart, before
//! they identify, without an unattended key): the gateway answers as their
//! server. Messages are kept in the inbox sealed to the user's key (or refused
//! with an error when they have none), subscription requests are kept for their
//! next login, probes get "unavailable", IQs the server answers for its users
//! are answered.

use std::time::SystemTime;

use waggle_core::{ListKind, UserId};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::MessageType;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;
use xmpp_parsers::stanza_error::DefinedCondition;

use crate::roster::{self, Inbound, Reply};
use crate::service;
use crate::shared::Shared;

/// Most messages kept for one user.
pub(crate) const MAX_INBOX: u64 = 2000;
/// Most requests from people not on a user's list kept for them.
pub(crate) const MAX_PENDING: u64 = 100;

/// The presence stanzas that answer a subscription step for a user who is not
/// online (`Presence` is "unavailable" then).
pub(crate) fn replies(
    me: &Jid,
    to: &Jid,
    replies: &[Reply],
    current: Option<Presence>,
) -> Vec<Stanza> {
    replies
        .iter()
        .map(|r| {
            let mut p = match r {
                Reply::Subscribed => Presence::new(PresenceType::Subscribed),
                Reply::Unsubscribed => Presence::new(PresenceType::Unsubscribed),
                Reply::Subscribe => Presence::new(PresenceType::Subscribe),
                Reply::Unsubscribe => Presence::new(PresenceType::Unsubscribe),
                Reply::Presence => current.clone().unwrap_or_else(Presence::unavailable),
                Reply::Unavailable => Presence::unavailable(),
            };
            p.to = Some(to.clone());
            if p.from.is_none() {
                p.from = Some(me.clone());
            }
            Stanza::from(p)
        })
        .collect()
}

/// Handle a stanza for `user` (whose login name is `name`), who is not running.
pub(crate) async fn handle(shared: &Shared, user: UserId, name: &str, s: Stanza) -> Vec<Stanza> {
    let store = &shared.store;
    let Some(from) = crate::shared::from_of(&s).cloned() else {
        return vec![];
    };
    let contact = from.to_bare().to_string();
    let list = store.list_of(user, &contact).await.ok().flatten();
    let fail = |text: &str| {
        tracing::warn!(
            error = text,
            "storage failed for a stanza to an offline user"
        );
        service::message_error(
            &s,
            DefinedCondition::InternalServerError,
            "The gateway could not store this",
        )
        .into_iter()
        .collect::<Vec<_>>()
    };
    match &s {
        Stanza::Message(m) => {
            let has_body = !m.bodies.is_empty();
            match m.type_ {
                MessageType::Error | MessageType::Headline => vec![],
                _ if list == Some(ListKind::Block) => {
                    service::message_error(&s, DefinedCondition::ServiceUnavailable, "")
                        .into_iter()
                        .collect()
                }
                MessageType::Groupchat => service::message_error(
                    &s,
                    DefinedCondition::ServiceUnavailable,
                    &format!("{name} is not in this room now"),
                )
                .into_iter()
                .collect(),
                _ if !has_body => vec![],
                _ => keep(shared, user, name, &s)
                    .await
                    .unwrap_or_else(|e| fail(&e)),
            }
        }
        Stanza::Presence(p) => {
            let me = Jid::from(from_domain_user(shared, &s));
            let what = match p.type_ {
                PresenceType::Subscribe => Inbound::Subscribe,
                PresenceType::Subscribed => Inbound::Subscribed,
                PresenceType::Unsubscribe => Inbound::Unsubscribe,
                PresenceType::Unsubscribed => Inbound::Unsubscribed,
                PresenceType::Probe => {
                    if list == Some(ListKind::Block) {
                        return vec![];
                    }
                    let entry = store.roster_entry(user, &contact).await.ok().flatten();
                    let reply = if entry.is_some_and(|e| e.subscription.from()) {
                        Reply::Unavailable
                    } else {
                        Reply::Unsubscribed
                    };
                    return replies(&me, &from, &[reply], None);
                }
                _ => return vec![],
            };
            let entry = match store.roster_entry(user, &contact).await {
                Ok(e) => e,
                Err(e) => return fail(&e.to_string()),
            };
            let mut out = roster::inbound(entry.as_ref(), &contact, what, list);
            if out.note == Some(roster::Note::Ask)
                && !entry.as_ref().is_some_and(|e| e.listed)
                && store.pending_requests(user).await.unwrap_or(u64::MAX) >= MAX_PENDING
            {
                // Too many requests from strangers waiting already: refuse this one.
                return replies(&me, &from, &[Reply::Unsubscribed], None);
            }
            if out.changed {
                let saved = match &out.entry {
                    Some(e) => store.save_roster_entry(user, e).await,
                    None => store.delete_roster_entry(user, &contact).await,
                };
                if let Err(e) = saved {
                    out.replies.clear();
                    tracing::warn!(error = %e, "saving a subscription failed");
                }
            }
            replies(&me, &from, &out.replies, None)
        }
        Stanza::Iq(_) => {
            let (nick, realname) = store
                .profile(user)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| (name.to_string(), name.to_string()));
            service::for_user(&s, &nick, &realname, false)
                .into_iter()
                .collect()
        }
    }
}

/// The bare JID a stanza was addressed to (a user of ours).
fn from_domain_user(shared: &Shared, s: &Stanza) -> xmpp_parsers::jid::BareJid {
    crate::shared::to_of(s)
        .map(|t| t.to_bare())
        .unwrap_or_else(|| shared.domain.clone())
}

/// Keep a message in the user's inbox, or refuse it.
async fn keep(
    shared: &Shared,
    user: UserId,
    name: &str,
    s: &Stanza,
) -> Result<Vec<Stanza>, String> {
    let store = &shared.store;
    let Some(key) = store.inbox_key(user).await.map_err(|e| e.to_string())? else {
        return Ok(service::message_error(
            s,
            DefinedCondition::ServiceUnavailable,
            &format!("{name} is not signed in to the gateway; try again later"),
        )
        .into_iter()
        .collect());
    };
    if store.inbox_len(user).await.map_err(|e| e.to_string())? >= MAX_INBOX {
        return Ok(service::message_error(
            s,
            DefinedCondition::ResourceConstraint,
            &format!("{name}'s offline storage is full"),
        )
        .into_iter()
        .collect());
    }
    let Stanza::Message(m) = s else {
        return Ok(vec![]);
    };
    let xml = String::from(&Element::from(m.clone()));
    let sealed = crate::inbox::seal(&key, xml.as_bytes()).ok_or("the inbox key is invalid")?;
    store
        .inbox_put(user, SystemTime::now(), &sealed)
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!("kept a message for a user who is not running");
    Ok(vec![])
}
