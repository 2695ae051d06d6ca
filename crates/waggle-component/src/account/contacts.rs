//! The user's roster as their server: RFC 6121 subscriptions (asked as root's
//! questions, honouring the block and allow lists, strangers rate-limited), the
//! contacts' presence, and our own presence to those who may see it.

use std::collections::{BTreeMap, HashMap};

use waggle_core::{Contact, Event, ListKind, Presence as CorePresence, PresenceState, RosterEntry};
use waggle_xmpp::convert::presence as pres;
use xmpp_parsers::jid::Jid;
use xmpp_parsers::presence::{Presence, Show, Type as PresenceType};
use xmpp_parsers::stanza::Stanza;

use super::{Account, Question};
use crate::offline::MAX_PENDING;
use crate::roster::{self, Inbound, Note, Outcome, Reply};

/// Most stored requests asked when the account comes online.
const ASK_AT_START: usize = 20;

/// One resource of a contact.
#[derive(Debug, Clone)]
struct Resource {
    priority: i8,
    show: Option<Show>,
    status: Option<String>,
}

/// The contacts' online resources, by lower-case bare JID.
#[derive(Debug, Default)]
pub(super) struct Resources {
    map: HashMap<String, BTreeMap<String, Resource>>,
}

impl Resources {
    fn available(&mut self, jid: &Jid, priority: i8, show: Option<Show>, status: Option<String>) {
        let resource = jid.resource().map(|r| r.to_string()).unwrap_or_default();
        self.map
            .entry(jid.to_bare().to_string().to_lowercase())
            .or_default()
            .insert(
                resource,
                Resource {
                    priority,
                    show,
                    status,
                },
            );
    }

    fn unavailable(&mut self, jid: &Jid) {
        let bare = jid.to_bare().to_string().to_lowercase();
        match jid.resource() {
            Some(r) => {
                if let Some(m) = self.map.get_mut(&bare) {
                    m.remove(r.as_str());
                    if m.is_empty() {
                        self.map.remove(&bare);
                    }
                }
            }
            None => {
                self.map.remove(&bare);
            }
        }
    }

    fn presence(&self, bare: &str) -> CorePresence {
        let best = self.map.get(&bare.to_lowercase()).and_then(|m| {
            m.iter()
                .max_by_key(|(_, r)| (r.priority, r.show.is_none()))
                .map(|(name, r)| (name.clone(), r.clone()))
        });
        match best {
            None => CorePresence::default(),
            Some((device, r)) => {
                let (state, show) = pres::state_of(r.show.as_ref());
                CorePresence {
                    state,
                    show,
                    message: r.status,
                    device: Some(device).filter(|d| !d.is_empty()),
                }
            }
        }
    }

    /// A roster entry as the core's contact.
    pub fn contact(&self, e: &RosterEntry) -> Contact {
        Contact {
            handle: e.contact.clone(),
            display_name: e.name.clone(),
            group: e.group.clone(),
            presence: self.presence(&e.contact),
        }
    }
}

impl Account<'_> {
    /// Our presence as it should be now, from our full JID, with caps.
    pub(super) fn own_presence(&self) -> Presence {
        let mut p = Presence::available();
        let away = self
            .own
            .away
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        match away {
            Some(text) if self.own.detached => {
                p.show = Some(Show::Xa);
                p.set_status("", text);
            }
            Some(text) => {
                let (show, text) = pres::away_show(text);
                p.show = Some(show);
                if let Some(t) = text {
                    p.set_status("", t);
                }
            }
            None => {
                if let Some(s) = self
                    .own
                    .status
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    p.set_status("", s);
                }
            }
        }
        p.from = Some(self.me_jid());
        if let Some(caps) = crate::service::caps() {
            p.payloads.push(caps.into());
        }
        p
    }

    fn blocked(&self, contact: &str) -> bool {
        self.lists.get(&contact.to_lowercase()) == Some(&ListKind::Block)
    }

    /// Everyone who sees our presence: subscribers not blocked.
    fn subscribers(&self) -> Vec<Jid> {
        self.roster
            .values()
            .filter(|e| e.subscription.from() && !self.blocked(&e.contact))
            .filter_map(|e| Jid::new(&e.contact).ok())
            .collect()
    }

    /// Send our presence to our subscribers and rooms; remember what to say
    /// when we go.
    pub(super) fn broadcast_presence(&mut self) {
        let p = self.own_presence();
        for to in self.subscribers() {
            self.send(p.clone().with_to(to));
        }
        for occupant in self.rooms.joined_occupant_jids() {
            self.send(p.clone().with_to(occupant));
        }
        self.refresh_farewell();
    }

    /// What is sent when the account goes: unavailable to subscribers and rooms.
    pub(super) fn refresh_farewell(&mut self) {
        let me = self.me_jid();
        let bye = |to: Jid| {
            let mut p = Presence::unavailable().with_to(to);
            p.from = Some(me.clone());
            Stanza::from(p)
        };
        let mut all: Vec<Stanza> = self.subscribers().into_iter().map(bye).collect();
        all.extend(
            self.rooms
                .joined_occupant_jids()
                .into_iter()
                .map(|o| bye(Jid::from(o))),
        );
        self.reg.set_farewell(all);
    }

    /// Ask the contacts we see for their presence.
    pub(super) fn probe_contacts(&mut self) {
        let from = Jid::from(self.bare.clone());
        let targets: Vec<Jid> = self
            .roster
            .values()
            .filter(|e| e.subscription.to())
            .filter_map(|e| Jid::new(&e.contact).ok())
            .collect();
        for to in targets {
            let mut p = Presence::new(PresenceType::Probe).with_to(to);
            p.from = Some(from.clone());
            self.send(p);
        }
    }

    /// The connection dropped: nobody's presence is known any more.
    pub(super) async fn all_contacts_offline(&mut self) {
        let online: Vec<String> = self
            .roster
            .values()
            .filter(|e| {
                e.listed && self.resources.presence(&e.contact).state != PresenceState::Offline
            })
            .map(|e| e.contact.to_lowercase())
            .collect();
        self.resources = Resources::default();
        for c in online {
            if let Some(e) = self.roster.get(&c) {
                let contact = self.resources.contact(e);
                self.emit(Event::ContactUpdated(contact)).await;
            }
        }
    }

    /// A contact's availability presence.
    pub(super) async fn contact_presence(&mut self, from: &Jid, kind: pres::Kind) {
        let key = from.to_bare().to_string().to_lowercase();
        if self.blocked(&key) {
            return;
        }
        let Some(entry) = self.roster.get(&key).filter(|e| e.listed).cloned() else {
            return;
        };
        match kind {
            pres::Kind::Available {
                show,
                status,
                priority,
            } => self.resources.available(from, priority, show, status),
            pres::Kind::Unavailable { .. } => self.resources.unavailable(from),
            _ => return,
        }
        let contact = self.resources.contact(&entry);
        self.emit(Event::ContactUpdated(contact)).await;
    }

    /// A probe: our presence to a subscriber, `unsubscribed` to anyone else.
    pub(super) fn probe(&mut self, from: &Jid) {
        let key = from.to_bare().to_string().to_lowercase();
        if self.blocked(&key) {
            return;
        }
        let sees = self.roster.get(&key).is_some_and(|e| e.subscription.from());
        let reply = if sees {
            self.own_presence().with_to(from.clone())
        } else {
            let mut p = Presence::new(PresenceType::Unsubscribed).with_to(from.clone());
            p.from = Some(Jid::from(self.bare.clone()));
            p
        };
        self.send(reply);
    }

    /// Apply a subscription step: store it, send the replies, update the core.
    async fn apply(&mut self, contact: &str, out: &Outcome) -> bool {
        let key = contact.to_lowercase();
        if out.changed {
            let store = &self.shared.store;
            let saved = match &out.entry {
                Some(e) => store.save_roster_entry(self.user, e).await,
                None => store.delete_roster_entry(self.user, contact).await,
            };
            if let Err(e) = saved {
                self.error(format!("Could not save the contact {contact}: {e}"))
                    .await;
                return false;
            }
        }
        let was_listed = self.roster.get(&key).is_some_and(|e| e.listed);
        match &out.entry {
            Some(e) => {
                self.roster.insert(key.clone(), e.clone());
            }
            None => {
                self.roster.remove(&key);
            }
        }
        let Ok(to) = Jid::new(contact) else {
            return true;
        };
        let current = self.own_presence();
        let me = Jid::from(self.bare.clone());
        for s in crate::offline::replies(&me, &to, &out.replies, Some(current)) {
            self.send(s);
        }
        match self.roster.get(&key).filter(|e| e.listed).cloned() {
            Some(e) => {
                let contact = self.resources.contact(&e);
                self.emit(Event::ContactUpdated(contact)).await;
            }
            None if was_listed => {
                self.emit(Event::ContactRemoved {
                    handle: contact.to_string(),
                })
                .await;
            }
            None => {}
        }
        self.refresh_farewell();
        true
    }

    /// A subscription stanza from a contact.
    pub(super) async fn subscription(&mut self, from: &Jid, what: Inbound) {
        let contact = from.to_bare().to_string();
        let key = contact.to_lowercase();
        let entry = self.roster.get(&key).cloned();
        let list = self.lists.get(&key).copied();
        let out = roster::inbound(entry.as_ref(), &contact, what, list);
        let stranger = !entry.as_ref().is_some_and(|e| e.listed);
        if out.note == Some(Note::Ask)
            && stranger
            && self
                .shared
                .store
                .pending_requests(self.user)
                .await
                .unwrap_or(u64::MAX)
                >= MAX_PENDING
        {
            let me = Jid::from(self.bare.clone());
            for s in crate::offline::replies(&me, from, &[Reply::Unsubscribed], None) {
                self.send(s);
            }
            return;
        }
        if !self.apply(&contact, &out).await {
            return;
        }
        match out.note {
            Some(Note::Ask) if !stranger || self.shared.stranger_allowed(self.user) => {
                self.ask_subscription(&contact).await
            }
            Some(Note::Ask) => {
                self.emit(Event::Notice {
                    text: format!(
                        "Too many contact requests at once: the one from {contact} is kept and will be asked when the account next comes online"
                    ),
                })
                .await
            }
            Some(Note::AutoApproved) => {
                self.emit(Event::Notice {
                    text: format!("{contact} (on your allow list) now sees your presence"),
                })
                .await
            }
            Some(Note::Approved) => {
                self.emit(Event::Notice {
                    text: format!("{contact} accepted your contact request"),
                })
                .await
            }
            Some(Note::Refused) => {
                self.resources.unavailable(&Jid::from(from.to_bare()));
                if let Some(e) = self.roster.get(&key).filter(|e| e.listed).cloned() {
                    let c = self.resources.contact(&e);
                    self.emit(Event::ContactUpdated(c)).await;
                }
                self.emit(Event::Notice {
                    text: format!("{contact} refused or cancelled your contact request"),
                })
                .await
            }
            Some(Note::Revoked) => {
                self.emit(Event::Notice {
                    text: format!("{contact} no longer sees your presence"),
                })
                .await
            }
            None => {}
        }
    }

    async fn ask_subscription(&mut self, contact: &str) {
        let id = self.shared.question_id();
        let name = self
            .roster
            .get(&contact.to_lowercase())
            .and_then(|e| e.name.clone())
            .filter(|n| !n.trim().is_empty());
        let text = match name {
            Some(n) => format!("The user {contact} ({n}) wants to add you to his/her buddy list."),
            None => format!("The user {contact} wants to add you to his/her buddy list."),
        };
        self.questions
            .insert(id, Question::Subscribe(contact.to_string()));
        self.emit(Event::QuestionAsked { id, text }).await;
    }

    /// Ask the requests kept while the user was away.
    pub(super) async fn ask_pending(&mut self) {
        let mut pending: Vec<String> = self
            .roster
            .values()
            .filter(|e| e.pending_in && !self.blocked(&e.contact))
            .map(|e| e.contact.clone())
            .collect();
        pending.sort();
        let more = pending.len().saturating_sub(ASK_AT_START);
        for contact in pending.into_iter().take(ASK_AT_START) {
            self.ask_subscription(&contact).await;
        }
        if more > 0 {
            self.emit(Event::Notice {
                text: format!("{more} more contact request(s) wait; they are asked when the account next comes online"),
            })
            .await;
        }
    }

    /// The user's answer to one of our questions.
    pub(super) async fn answer(&mut self, q: Question, accept: bool) {
        match q {
            Question::Subscribe(contact) => {
                let entry = self.roster.get(&contact.to_lowercase()).cloned();
                let out = roster::answer(entry.as_ref(), &contact, accept);
                if !self.apply(&contact, &out).await {
                    return;
                }
                let sees = out
                    .entry
                    .as_ref()
                    .is_some_and(|e| e.subscription.to() || e.ask_out);
                if accept && !sees {
                    let id = self.shared.question_id();
                    let text = format!(
                        "The user {contact} is not in your buddy list yet. Do you want to add him/her now?"
                    );
                    self.questions.insert(id, Question::AddBack(contact));
                    self.emit(Event::QuestionAsked { id, text }).await;
                }
            }
            Question::AddBack(contact) if accept => self.add_contact(&contact, None).await,
            Question::AddBack(_) => {}
        }
    }

    /// `add`: a roster item, and a subscription request.
    pub(super) async fn add_contact(&mut self, handle: &str, group: Option<String>) {
        let Some(contact) = self.contact_jid(handle).await else {
            return;
        };
        let entry = self.roster.get(&contact.to_lowercase()).cloned();
        let out = roster::add(entry.as_ref(), &contact, group);
        self.apply(&contact, &out).await;
    }

    /// `remove`: both subscriptions end, the item goes.
    pub(super) async fn remove_contact(&mut self, handle: &str) {
        let Some(contact) = self.contact_jid(handle).await else {
            return;
        };
        let key = contact.to_lowercase();
        let entry = self.roster.get(&key).cloned();
        if entry.is_none() {
            self.error(format!("{contact} is not on your list")).await;
            return;
        }
        let out = roster::remove(entry.as_ref());
        if self.apply(&contact, &out).await {
            self.resources.unavailable(&Jid::from(
                xmpp_parsers::jid::BareJid::new(&contact).unwrap_or_else(|_| self.bare.clone()),
            ));
        }
    }

    /// `block` / `allow`.
    pub(super) async fn set_list(&mut self, handle: &str, kind: ListKind) {
        let Some(contact) = self.contact_jid(handle).await else {
            return;
        };
        let key = contact.to_lowercase();
        if let Err(e) = self
            .shared
            .store
            .set_list(self.user, &contact, Some(kind))
            .await
        {
            self.error(format!("Could not save the list: {e}")).await;
            return;
        }
        self.lists.insert(key.clone(), kind);
        self.report_lists().await;
        let pending = self.roster.get(&key).is_some_and(|e| e.pending_in);
        if pending {
            let entry = self.roster.get(&key).cloned();
            let out = roster::answer(entry.as_ref(), &contact, kind == ListKind::Allow);
            self.apply(&contact, &out).await;
            self.questions.retain(
                |_, q| !matches!(q, Question::Subscribe(c) if c.eq_ignore_ascii_case(&contact)),
            );
        }
        if kind == ListKind::Block {
            // They see us no more.
            if let Ok(to) = Jid::new(&contact) {
                let mut p = Presence::unavailable().with_to(to);
                p.from = Some(self.me_jid());
                self.send(p);
            }
        } else if self.roster.get(&key).is_some_and(|e| e.subscription.from())
            && let Ok(to) = Jid::new(&contact)
        {
            let p = self.own_presence().with_to(to);
            self.send(p);
        }
        self.refresh_farewell();
    }

    /// A handle as a bare JID, saying so when it is not one.
    pub(super) async fn contact_jid(&self, handle: &str) -> Option<String> {
        match xmpp_parsers::jid::BareJid::new(handle.trim()) {
            Ok(j) if j.node().is_some() || j.domain().as_str() != self.shared.cfg.domain => {
                Some(j.to_string())
            }
            Ok(_) => {
                self.error(format!("{handle} is the gateway itself")).await;
                None
            }
            Err(e) => {
                self.error(format!("Invalid handle {handle:?}: {e}")).await;
                None
            }
        }
    }
}
