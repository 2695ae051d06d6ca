//! RFC 6121 subscriptions, as the user's server sees them: how a contact's
//! subscription stanzas and the user's own actions change a [`RosterEntry`],
//! and what must be sent or told in return. Pure: no I/O.

use waggle_core::{ListKind, RosterEntry, Subscription};

/// A subscription stanza from a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Asks to see the user's presence.
    Subscribe,
    /// Approved the user's request.
    Subscribed,
    /// No longer wants the user's presence.
    Unsubscribe,
    /// Refused or revoked the user's request.
    Unsubscribed,
}

/// What to send the contact in return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `subscribed`.
    Subscribed,
    /// `unsubscribed`.
    Unsubscribed,
    /// `subscribe`.
    Subscribe,
    /// `unsubscribe`.
    Unsubscribe,
    /// The user's current presence.
    Presence,
    /// Unavailable presence (the contact no longer sees the user).
    Unavailable,
}

/// What to tell the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    /// A new request to answer (yes/no).
    Ask,
    /// A request approved without asking (allow list).
    AutoApproved,
    /// The contact approved the user's request.
    Approved,
    /// The contact refused or revoked the user's request.
    Refused,
    /// The contact no longer sees the user's presence.
    Revoked,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Outcome {
    /// The entry as it is now; `None` when it is gone (nothing left to keep).
    pub entry: Option<RosterEntry>,
    /// Whether it changed (save or delete it).
    pub changed: bool,
    /// Stanzas for the contact.
    pub replies: Vec<Reply>,
    /// For the user.
    pub note: Option<Note>,
}

fn outcome(before: Option<&RosterEntry>, after: RosterEntry) -> Outcome {
    let keep = after.listed
        || after.pending_in
        || after.ask_out
        || after.subscription != Subscription::None;
    let entry = keep.then_some(after);
    Outcome {
        changed: entry.as_ref() != before,
        entry,
        replies: Vec::new(),
        note: None,
    }
}

fn fresh(contact: &str) -> RosterEntry {
    RosterEntry {
        contact: contact.to_string(),
        ..Default::default()
    }
}

/// A contact's subscription stanza; `list` is the list the contact is on.
pub(crate) fn inbound(
    entry: Option<&RosterEntry>,
    contact: &str,
    what: Inbound,
    list: Option<ListKind>,
) -> Outcome {
    let mut e = entry.cloned().unwrap_or_else(|| fresh(contact));
    let sub = e.subscription;
    let (replies, note) = match what {
        Inbound::Subscribe if sub.from() => (vec![Reply::Subscribed, Reply::Presence], None),
        Inbound::Subscribe if list == Some(ListKind::Block) => {
            e.pending_in = false;
            (vec![Reply::Unsubscribed], None)
        }
        Inbound::Subscribe if list == Some(ListKind::Allow) => {
            e.pending_in = false;
            e.subscription = Subscription::with(sub.to(), true);
            e.listed = true;
            (
                vec![Reply::Subscribed, Reply::Presence],
                Some(Note::AutoApproved),
            )
        }
        Inbound::Subscribe => {
            let new = !e.pending_in;
            e.pending_in = true;
            (vec![], new.then_some(Note::Ask))
        }
        Inbound::Subscribed if e.ask_out => {
            e.ask_out = false;
            e.subscription = Subscription::with(true, sub.from());
            (vec![], Some(Note::Approved))
        }
        Inbound::Subscribed => (vec![], None),
        Inbound::Unsubscribed if e.ask_out || sub.to() => {
            e.ask_out = false;
            e.subscription = Subscription::with(false, sub.from());
            (vec![], Some(Note::Refused))
        }
        Inbound::Unsubscribed => (vec![], None),
        Inbound::Unsubscribe if sub.from() || e.pending_in => {
            let was_seeing = sub.from();
            e.pending_in = false;
            e.subscription = Subscription::with(sub.to(), false);
            let replies = if was_seeing {
                vec![Reply::Unavailable]
            } else {
                vec![]
            };
            (replies, was_seeing.then_some(Note::Revoked))
        }
        Inbound::Unsubscribe => (vec![], None),
    };
    let mut out = outcome(entry, e);
    out.replies = replies;
    out.note = note;
    out
}

/// The user adds the contact (and asks to see their presence).
pub(crate) fn add(entry: Option<&RosterEntry>, contact: &str, group: Option<String>) -> Outcome {
    let mut e = entry.cloned().unwrap_or_else(|| fresh(contact));
    e.listed = true;
    if group.is_some() {
        e.group = group;
    }
    let ask = !e.subscription.to();
    if ask {
        e.ask_out = true;
    }
    let mut out = outcome(entry, e);
    if ask {
        out.replies.push(Reply::Subscribe);
    }
    out
}

/// The user answers the contact's request.
pub(crate) fn answer(entry: Option<&RosterEntry>, contact: &str, approve: bool) -> Outcome {
    let mut e = entry.cloned().unwrap_or_else(|| fresh(contact));
    e.pending_in = false;
    let replies = if approve {
        e.subscription = Subscription::with(e.subscription.to(), true);
        e.listed = true;
        vec![Reply::Subscribed, Reply::Presence]
    } else {
        vec![Reply::Unsubscribed]
    };
    let mut out = outcome(entry, e);
    out.replies = replies;
    out
}

/// The user removes the contact: both subscriptions end.
pub(crate) fn remove(entry: Option<&RosterEntry>) -> Outcome {
    let Some(e) = entry else {
        return Outcome::default();
    };
    let mut replies = Vec::new();
    if e.subscription.to() || e.ask_out {
        replies.push(Reply::Unsubscribe);
    }
    if e.subscription.from() || e.pending_in {
        replies.push(Reply::Unsubscribed);
    }
    Outcome {
        entry: None,
        changed: true,
        replies,
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOB: &str = "bob@example.org";

    fn step(e: &Option<RosterEntry>, what: Inbound, list: Option<ListKind>) -> Outcome {
        inbound(e.as_ref(), BOB, what, list)
    }

    #[test]
    fn a_request_asked_answered_and_added_back_ends_in_both() {
        let o = step(&None, Inbound::Subscribe, None);
        assert_eq!(o.note, Some(Note::Ask));
        assert!(o.replies.is_empty());
        let e = o.entry;
        assert!(e.as_ref().is_some_and(|e| e.pending_in && !e.listed));
        // Asked again while pending: no second question.
        assert_eq!(step(&e, Inbound::Subscribe, None).note, None);
        let o = answer(e.as_ref(), BOB, true);
        assert_eq!(o.replies, vec![Reply::Subscribed, Reply::Presence]);
        let e = o.entry;
        assert_eq!(e.as_ref().map(|e| e.subscription), Some(Subscription::From));
        let o = add(e.as_ref(), BOB, None);
        assert_eq!(o.replies, vec![Reply::Subscribe]);
        let o = step(&o.entry, Inbound::Subscribed, None);
        assert_eq!(o.note, Some(Note::Approved));
        assert_eq!(
            o.entry.as_ref().map(|e| (e.subscription, e.ask_out)),
            Some((Subscription::Both, false))
        );
        // Already approved: a new request is answered at once.
        let again = step(&o.entry, Inbound::Subscribe, None);
        assert_eq!(again.replies, vec![Reply::Subscribed, Reply::Presence]);
        assert!(!again.changed);
    }

    #[test]
    fn block_refuses_allow_approves() {
        let o = step(&None, Inbound::Subscribe, Some(ListKind::Block));
        assert_eq!(o.replies, vec![Reply::Unsubscribed]);
        assert_eq!(o.entry, None);
        let o = step(&None, Inbound::Subscribe, Some(ListKind::Allow));
        assert_eq!(o.note, Some(Note::AutoApproved));
        assert_eq!(
            o.entry.map(|e| (e.subscription, e.listed)),
            Some((Subscription::From, true))
        );
    }

    #[test]
    fn refusals_and_revocations() {
        let e = add(None, BOB, Some("Friends".into())).entry;
        assert!(e.as_ref().is_some_and(|e| e.ask_out && e.listed));
        let o = step(&e, Inbound::Unsubscribed, None);
        assert_eq!(o.note, Some(Note::Refused));
        let e = o.entry;
        assert!(e.as_ref().is_some_and(|e| !e.ask_out && e.listed));
        // A stray `subscribed` without a request changes nothing.
        assert!(!step(&e, Inbound::Subscribed, None).changed);
        let e = answer(e.as_ref(), BOB, true).entry;
        let o = step(&e, Inbound::Unsubscribe, None);
        assert_eq!(o.replies, vec![Reply::Unavailable]);
        assert_eq!(o.note, Some(Note::Revoked));
        assert_eq!(o.entry.map(|e| e.subscription), Some(Subscription::None));
        let denied = answer(
            step(&None, Inbound::Subscribe, None).entry.as_ref(),
            BOB,
            false,
        );
        assert_eq!(denied.replies, vec![Reply::Unsubscribed]);
        assert_eq!(
            denied.entry, None,
            "a refused stranger leaves nothing behind"
        );
    }

    #[test]
    fn removing_ends_both_directions() {
        let mut e = add(None, BOB, None).entry;
        e = answer(e.as_ref(), BOB, true).entry;
        let o = remove(e.as_ref());
        assert_eq!(o.replies, vec![Reply::Unsubscribe, Reply::Unsubscribed]);
        assert!(o.entry.is_none() && o.changed);
    }
}
