//! Friends, their status, mood text and full name, authorisation requests, and
//! the custom contact groups (with `read_groups`).

use std::collections::BTreeMap;

use waggle_core::{Contact, Event, Presence, PresenceState};

use super::{CONSOLE, Engine, Question};
use crate::protocol;

/// The Echo / Sound Test Service, hidden unless `test_join`.
const ECHO: &str = "echo123";

/// A friend as we know them.
#[derive(Debug, Clone, Default)]
struct Buddy {
    presence: Presence,
    display_name: Option<String>,
    /// Reported to the core at least once.
    reported: bool,
}

/// A custom contact group.
#[derive(Debug, Clone, Default)]
struct Group {
    name: Option<String>,
    users: Vec<String>,
}

/// The contact list.
#[derive(Debug, Default)]
pub(super) struct Contacts {
    friends: BTreeMap<String, Buddy>,
    groups: BTreeMap<String, Group>,
    /// Handles waiting for a group we asked skyped to create: (group name, handle).
    pending_group: Vec<(String, String)>,
}

/// The skypeconsole contact, always online.
pub(super) fn console_contact() -> Event {
    Event::ContactUpdated(Contact {
        handle: CONSOLE.into(),
        presence: Presence {
            state: PresenceState::Online,
            ..Presence::default()
        },
        ..Contact::default()
    })
}

/// A contact's availability from its ONLINESTATUS.
fn presence_for(status: &str, skypeout_offline: bool) -> (PresenceState, Option<&'static str>) {
    match status {
        "ONLINE" | "SKYPEME" => (PresenceState::Online, None),
        "AWAY" => (PresenceState::Away, Some("Away")),
        "NA" => (PresenceState::Away, Some("Not available")),
        "DND" => (PresenceState::Away, Some("Do Not Disturb")),
        "SKYPEOUT" if !skypeout_offline => (PresenceState::Away, Some("SkypeOut")),
        _ => (PresenceState::Offline, None),
    }
}

impl Engine {
    fn group_of(&self, handle: &str) -> Option<String> {
        if !self.cfg.read_groups {
            return None;
        }
        self.contacts
            .groups
            .values()
            .find(|g| g.users.iter().any(|u| u.eq_ignore_ascii_case(handle)))
            .and_then(|g| g.name.clone())
    }

    fn shown(&self, handle: &str) -> bool {
        !self.is_me(handle) && (self.cfg.test_join || !handle.eq_ignore_ascii_case(ECHO))
    }

    /// Tell the core a friend's current state.
    fn report(&mut self, handle: &str) {
        if !self.shown(handle) {
            return;
        }
        let group = self.group_of(handle);
        let Some(b) = self.contacts.friends.get_mut(handle) else {
            return;
        };
        b.reported = true;
        let contact = Contact {
            handle: handle.to_string(),
            display_name: b.display_name.clone(),
            group,
            presence: b.presence.clone(),
        };
        self.emit(Event::ContactUpdated(contact));
    }

    fn report_if_known(&mut self, handle: &str) {
        if self
            .contacts
            .friends
            .get(handle)
            .is_some_and(|b| b.reported)
        {
            self.report(handle);
        }
    }

    pub(super) fn on_users(&mut self, users: Vec<String>) {
        for u in users {
            self.contacts.friends.entry(u.clone()).or_default();
            self.send(protocol::get("USER", &u, "ONLINESTATUS"));
            self.send(protocol::get("USER", &u, "FULLNAME"));
        }
    }

    pub(super) fn on_user(&mut self, handle: &str, prop: &str, value: &str) {
        self.info_field(handle, prop, value);
        match prop {
            "ONLINESTATUS" => {
                if !self.contacts.friends.contains_key(handle) {
                    return;
                }
                let (state, show) = presence_for(value.trim(), self.cfg.skypeout_offline);
                if let Some(b) = self.contacts.friends.get_mut(handle) {
                    b.presence.state = state;
                    b.presence.show = show.map(str::to_string);
                }
                self.report(handle);
            }
            "FULLNAME" => {
                let name = Some(value.trim().to_string()).filter(|n| !n.is_empty());
                let changed = match self.contacts.friends.get_mut(handle) {
                    Some(b) if b.display_name != name => {
                        b.display_name = name;
                        true
                    }
                    _ => false,
                };
                if changed {
                    self.report_if_known(handle);
                }
            }
            "MOOD_TEXT" => {
                let mood = Some(value.to_string()).filter(|m| !m.trim().is_empty());
                if let Some(b) = self.contacts.friends.get_mut(handle) {
                    b.presence.message = mood;
                }
                self.report_if_known(handle);
                if self.cfg.show_moods {
                    self.notice(format!("User `{handle}' changed mood text to `{value}'"));
                }
            }
            "RECEIVEDAUTHREQUEST" if !value.trim().is_empty() => {
                self.ask(
                    Question::Auth(handle.to_string()),
                    format!(
                        "The user {handle} wants to add you to his/her buddy list, saying: '{value}'."
                    ),
                );
            }
            "BUDDYSTATUS" => match value.trim() {
                "1" | "0" => {
                    let was = self.contacts.friends.remove(handle);
                    if was.is_some_and(|b| b.reported) {
                        self.emit(Event::ContactRemoved {
                            handle: handle.to_string(),
                        });
                    }
                }
                "2" | "3" if !self.contacts.friends.contains_key(handle) => {
                    self.contacts
                        .friends
                        .insert(handle.to_string(), Buddy::default());
                    self.report(handle);
                }
                _ => {}
            },
            _ => {}
        }
    }

    pub(super) fn on_groups(&mut self, ids: Vec<String>) {
        if !self.cfg.read_groups {
            return;
        }
        for id in ids {
            self.contacts.groups.entry(id.clone()).or_default();
            self.send(protocol::get("GROUP", &id, "DISPLAYNAME"));
            self.send(protocol::get("GROUP", &id, "USERS"));
        }
    }

    pub(super) fn on_group(&mut self, id: &str, prop: &str, value: &str) {
        match prop {
            "DISPLAYNAME" => {
                let name = value.trim().to_string();
                self.contacts.groups.entry(id.to_string()).or_default().name = Some(name.clone());
                let waiting: Vec<String> = self
                    .contacts
                    .pending_group
                    .iter()
                    .filter(|(g, _)| g.eq_ignore_ascii_case(&name))
                    .map(|(_, h)| h.clone())
                    .collect();
                self.contacts
                    .pending_group
                    .retain(|(g, _)| !g.eq_ignore_ascii_case(&name));
                for handle in waiting {
                    self.send(protocol::alter_group(id, "ADDUSER", &handle));
                }
                self.report_group(id);
            }
            "USERS" => {
                let users = protocol::list(value);
                let before = self
                    .contacts
                    .groups
                    .get(id)
                    .map(|g| g.users.clone())
                    .unwrap_or_default();
                self.contacts
                    .groups
                    .entry(id.to_string())
                    .or_default()
                    .users = users.clone();
                for h in before.iter().chain(users.iter()) {
                    self.report_if_known(h);
                }
            }
            // A group appeared (perhaps the one we asked for): learn its name.
            "NROFUSERS"
                if !self.contacts.groups.contains_key(id)
                    && (!self.contacts.pending_group.is_empty() || self.cfg.read_groups) =>
            {
                self.send(protocol::get("GROUP", id, "DISPLAYNAME"));
            }
            _ => {}
        }
    }

    fn report_group(&mut self, id: &str) {
        let users = self
            .contacts
            .groups
            .get(id)
            .map(|g| g.users.clone())
            .unwrap_or_default();
        for h in users {
            self.report_if_known(&h);
        }
    }

    pub(super) fn on_alter_group(&mut self, id: &str, action: &str, handle: &str) {
        let group = self.contacts.groups.entry(id.to_string()).or_default();
        match action {
            "ADDUSER" if !group.users.iter().any(|u| u == handle) => {
                group.users.push(handle.to_string());
            }
            "REMOVEUSER" => group.users.retain(|u| u != handle),
            _ => return,
        }
        self.report_if_known(handle);
    }

    /// Add a contact (asking for authorisation), or move it into a group.
    pub(super) fn add_contact(&mut self, handle: &str, group: Option<&str>) {
        if !self.contacts.friends.contains_key(handle) {
            self.send(protocol::set(
                "USER",
                handle,
                "BUDDYSTATUS",
                "2 Please authorize me",
            ));
        }
        let Some(group) = group.map(str::trim).filter(|g| !g.is_empty()) else {
            return;
        };
        let target = self
            .contacts
            .groups
            .iter()
            .find(|(_, g)| {
                g.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(group))
            })
            .map(|(id, _)| id.clone());
        let others: Vec<String> = self
            .contacts
            .groups
            .iter()
            .filter(|(id, g)| {
                Some(*id) != target.as_ref()
                    && g.users.iter().any(|u| u.eq_ignore_ascii_case(handle))
            })
            .map(|(id, _)| id.clone())
            .collect();
        match target {
            Some(id) => self.send(protocol::alter_group(&id, "ADDUSER", handle)),
            None => {
                self.send(protocol::create_group(group));
                self.contacts
                    .pending_group
                    .push((group.to_string(), handle.to_string()));
            }
        }
        for id in others {
            self.send(protocol::alter_group(&id, "REMOVEUSER", handle));
        }
    }
}
