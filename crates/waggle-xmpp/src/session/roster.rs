//! The buddy list as the server keeps it, and which resources of each contact
//! are online: a contact's presence is that of its best resource.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use waggle_core::{Contact, Presence as CorePresence, PresenceState};
use xmpp_parsers::jid::{BareJid, Jid};
use xmpp_parsers::presence::Show;
use xmpp_parsers::roster::{Ask, Item, Subscription};

use crate::config::ResourceSelect;
use crate::convert::iq::contact;
use crate::convert::presence::state_of;

/// One online resource of a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its priority.
    pub priority: i8,
    /// Its `<show/>`.
    pub show: Option<Show>,
    /// Its status text.
    pub status: Option<String>,
}

impl Resource {
    fn rank(&self) -> (i8, i8) {
        let show = match self.show {
            None | Some(Show::Chat) => 0,
            Some(Show::Away) => -1,
            Some(Show::Xa) => -2,
            Some(Show::Dnd) => -3,
        };
        (self.priority, show)
    }
}

/// Online resources kept per contact at most; presences from more are ignored
/// (a contact cannot make the gateway hold an unbounded list).
const MAX_RESOURCES: usize = 32;

/// The roster and the contacts' online resources.
#[derive(Debug, Default)]
pub struct Roster {
    items: HashMap<BareJid, Item>,
    /// By contact, its online resources by name: a short list (most contacts
    /// have one), which a map would give a node of eleven slots.
    resources: HashMap<BareJid, Vec<(String, Resource)>>,
    /// When each resource last wrote to us (for `resource_select activity`).
    activity: HashMap<BareJid, (String, Instant)>,
}

impl Roster {
    /// Replace the whole list (the answer to our roster request).
    pub fn replace(&mut self, items: Vec<Item>) {
        self.items = items.into_iter().map(|i| (i.jid.clone(), i)).collect();
    }

    /// Add or change an item (a roster push).
    pub fn upsert(&mut self, item: Item) {
        self.items.insert(item.jid.clone(), item);
    }

    /// Remove an item (a roster push with `subscription='remove'`).
    pub fn remove(&mut self, jid: &BareJid) {
        self.items.remove(jid);
        self.resources.remove(jid);
    }

    /// The item for `jid`.
    pub fn item(&self, jid: &BareJid) -> Option<&Item> {
        self.items.get(jid)
    }

    /// Every item.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.items.values()
    }

    /// Whether we already see `jid`'s presence or asked to.
    pub fn sees(&self, jid: &BareJid) -> bool {
        self.items.get(jid).is_some_and(|i| {
            matches!(i.subscription, Subscription::To | Subscription::Both)
                || i.ask == Ask::Subscribe
        })
    }

    /// Whether `jid` already sees our presence.
    pub fn seen_by(&self, jid: &BareJid) -> bool {
        self.items
            .get(jid)
            .is_some_and(|i| matches!(i.subscription, Subscription::From | Subscription::Both))
    }

    /// A resource came online or changed.
    pub fn available(&mut self, from: &Jid, resource: Resource) {
        let name = from.resource().map(|r| r.as_str()).unwrap_or_default();
        let list = self.resources.entry(from.to_bare()).or_default();
        if let Some((_, known)) = list.iter_mut().find(|(n, _)| n == name) {
            *known = resource;
        } else if list.len() < MAX_RESOURCES {
            list.push((name.to_string(), resource));
        } else {
            tracing::debug!(contact = %from.to_bare(), "too many resources, one ignored");
        }
    }

    /// A resource wrote to us.
    pub fn active(&mut self, from: &Jid) {
        if let Some(r) = from.resource() {
            self.activity
                .insert(from.to_bare(), (r.to_string(), Instant::now()));
        }
    }

    /// Where a message to `jid` goes, as BitlBee's `resource_select` says:
    /// `activity`, the resource that wrote last while within `timeout` (else
    /// the bare JID, the server choosing); `priority`, the resource with the
    /// highest priority. A contact with one resource gets it directly, one
    /// with none the bare JID.
    pub fn target(&self, jid: &BareJid, select: ResourceSelect, timeout: Duration) -> Jid {
        let list = self.resources(jid);
        let full = |r: &str| {
            jid.with_resource_str(r)
                .map(Jid::from)
                .unwrap_or_else(|_| Jid::from(jid.clone()))
        };
        match list.as_slice() {
            [] => Jid::from(jid.clone()),
            [(name, _)] if name.is_empty() => Jid::from(jid.clone()),
            [(name, _)] => full(name),
            _ => match select {
                ResourceSelect::Priority => list
                    .iter()
                    .max_by_key(|(_, r)| r.priority)
                    .map(|(name, _)| full(name))
                    .unwrap_or_else(|| Jid::from(jid.clone())),
                ResourceSelect::Activity => match self.activity.get(jid) {
                    Some((name, at))
                        if at.elapsed() < timeout && list.iter().any(|(n, _)| n == name) =>
                    {
                        full(name)
                    }
                    _ => Jid::from(jid.clone()),
                },
            },
        }
    }

    /// A resource went offline (all of them, for a bare JID).
    pub fn unavailable(&mut self, from: &Jid) {
        let bare = from.to_bare();
        match from.resource() {
            Some(r) => {
                if let Some(list) = self.resources.get_mut(&bare) {
                    list.retain(|(n, _)| n != r.as_str());
                    if list.is_empty() {
                        self.resources.remove(&bare);
                    }
                }
            }
            None => {
                self.resources.remove(&bare);
            }
        }
    }

    /// The online resources of `jid`, best first.
    pub fn resources(&self, jid: &BareJid) -> Vec<(String, Resource)> {
        let mut list: Vec<(String, Resource)> =
            self.resources.get(jid).cloned().unwrap_or_default();
        list.sort_by(|a, b| b.1.rank().cmp(&a.1.rank()).then(a.0.cmp(&b.0)));
        list
    }

    /// `jid`'s presence: that of its best resource, offline without one.
    pub fn presence(&self, jid: &BareJid) -> CorePresence {
        match self.resources(jid).into_iter().next() {
            None => CorePresence::default(),
            Some((resource, r)) => {
                let (state, show) = state_of(r.show.as_ref());
                CorePresence {
                    state,
                    show,
                    message: r.status.clone(),
                    device: (!resource.is_empty()).then_some(resource),
                }
            }
        }
    }

    /// The contact for a roster item, with its presence.
    pub fn contact(&self, jid: &BareJid) -> Option<Contact> {
        self.items
            .get(jid)
            .map(|item| contact(item, self.presence(jid)))
    }

    /// Lines describing `jid`'s resources, for `info`.
    pub fn resource_lines(&self, jid: &BareJid) -> Vec<String> {
        let list = self.resources(jid);
        if list.is_empty() {
            return vec!["Status: offline".into()];
        }
        list.into_iter()
            .map(|(name, r)| {
                let (state, show) = state_of(r.show.as_ref());
                let state = match (state, show) {
                    (PresenceState::Away, Some(s)) => s,
                    (PresenceState::Away, None) => "away".into(),
                    _ => "online".into(),
                };
                let name = if name.is_empty() { "(none)" } else { &name };
                match r.status {
                    Some(s) => format!("Resource: {name} (priority {}): {state}, {s}", r.priority),
                    None => format!("Resource: {name} (priority {}): {state}", r.priority),
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        Jid::new(s).expect("jid")
    }

    #[test]
    fn resource_select_picks_as_bitlbee() {
        let mut r = Roster::default();
        let bob = BareJid::new("bob@example.org").expect("jid");
        let on = |p| Resource {
            priority: p,
            show: None,
            status: None,
        };
        let long = Duration::from_secs(600);
        assert_eq!(
            r.target(&bob, ResourceSelect::Activity, long).to_string(),
            "bob@example.org"
        );
        r.available(&jid("bob@example.org/phone"), on(1));
        assert_eq!(
            r.target(&bob, ResourceSelect::Activity, long).to_string(),
            "bob@example.org/phone"
        );
        r.available(&jid("bob@example.org/pc"), on(5));
        assert_eq!(
            r.target(&bob, ResourceSelect::Activity, long).to_string(),
            "bob@example.org"
        );
        assert_eq!(
            r.target(&bob, ResourceSelect::Priority, long).to_string(),
            "bob@example.org/pc"
        );
        r.active(&jid("bob@example.org/phone"));
        assert_eq!(
            r.target(&bob, ResourceSelect::Activity, long).to_string(),
            "bob@example.org/phone"
        );
        // Past activity_timeout, the server chooses again.
        assert_eq!(
            r.target(&bob, ResourceSelect::Activity, Duration::ZERO)
                .to_string(),
            "bob@example.org"
        );
    }

    #[test]
    fn a_resource_is_kept_once_and_their_number_is_bounded() {
        let mut r = Roster::default();
        let bob = BareJid::new("bob@example.org").expect("jid");
        let with = |status: &str| Resource {
            priority: 0,
            show: None,
            status: Some(status.into()),
        };
        r.available(&jid("bob@example.org/phone"), with("first"));
        r.available(&jid("bob@example.org/phone"), with("second"));
        assert_eq!(
            r.resources(&bob),
            vec![("phone".to_string(), with("second"))]
        );
        for i in 0..100 {
            r.available(&jid(&format!("bob@example.org/r{i}")), with("many"));
        }
        assert_eq!(r.resources(&bob).len(), MAX_RESOURCES);
        r.available(&jid("bob@example.org/phone"), with("third"));
        assert!(
            r.resources(&bob)
                .contains(&("phone".to_string(), with("third")))
        );
        r.unavailable(&jid("bob@example.org/phone"));
        assert_eq!(r.resources(&bob).len(), MAX_RESOURCES - 1);
        r.unavailable(&jid("bob@example.org"));
        assert!(r.resources(&bob).is_empty());
    }

    #[test]
    fn best_resource_wins() {
        let mut r = Roster::default();
        let bob = BareJid::new("bob@example.org").expect("jid");
        r.available(
            &jid("bob@example.org/phone"),
            Resource {
                priority: 0,
                show: Some(Show::Away),
                status: Some("on the road".into()),
            },
        );
        r.available(
            &jid("bob@example.org/pc"),
            Resource {
                priority: 0,
                show: None,
                status: None,
            },
        );
        assert_eq!(r.presence(&bob).state, PresenceState::Online);
        r.unavailable(&jid("bob@example.org/pc"));
        let p = r.presence(&bob);
        assert_eq!(p.state, PresenceState::Away);
        assert_eq!(p.message.as_deref(), Some("on the road"));
        assert_eq!(
            r.resource_lines(&bob),
            vec!["Resource: phone (priority 0): away, on the road"]
        );
        r.unavailable(&jid("bob@example.org"));
        assert_eq!(r.presence(&bob).state, PresenceState::Offline);
    }
}
