//! The occupants of one group chat (XEP-0045) as its presences change them:
//! who came, changed role, changed nick, left, was kicked or banned, and the
//! words the user is told. Plain state a session holds per room; the join
//! and rejoin steps around it are the session's.

use std::collections::BTreeMap;

use waggle_core::{Event, Occupant, RoomId};
use xmpp_parsers::jid::BareJid;

use super::presence::{Kind, RoomInfo};

/// Everyone in one room, by nick (us included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Occupants {
    by_nick: BTreeMap<String, Occupant>,
}

/// What one occupant's presence changed.
#[derive(Debug, Clone, PartialEq)]
pub enum OccupantChange {
    /// The occupant is there (came in, or their role or real JID changed);
    /// `changed` is false when the presence told nothing new.
    Present {
        /// The occupant as they are now.
        occupant: Occupant,
        /// Whether they differ from what we knew.
        changed: bool,
    },
    /// A nick change (status 303).
    Renamed {
        /// The nick they had.
        old: String,
        /// The nick they have now.
        new: String,
        /// Whether it was us.
        is_self: bool,
    },
    /// The occupant left, was kicked or banned.
    Left(Departure),
}

/// Someone leaving a room.
#[derive(Debug, Clone, PartialEq)]
pub struct Departure {
    /// Their nick.
    pub nick: String,
    /// Whether it was us.
    pub is_self: bool,
    /// Why, as one line: "Kicked by X: reason", "Banned from the room", or
    /// the reason or status they gave.
    pub why: Option<String>,
    /// The kick, when it was one.
    pub kick: Option<Kick>,
}

/// A kick (status 307).
#[derive(Debug, Clone, PartialEq)]
pub struct Kick {
    /// The moderator's nick, when the room names them.
    pub actor: Option<String>,
    /// The reason the moderator gave.
    pub reason: Option<String>,
}

impl Departure {
    /// The event of someone else leaving `room` (whose JID is `jid`): a kick
    /// by a moderator the room does not name is put on the room itself.
    pub fn occupant_left(self, room: RoomId, jid: &BareJid) -> Event {
        let (reason, kicked_by) = match self.kick {
            Some(kick) => {
                let by = kick
                    .actor
                    .unwrap_or_else(|| jid.node().map(|n| n.to_string()).unwrap_or_default());
                (kick.reason, Some(by))
            }
            None => (self.why, None),
        };
        Event::OccupantLeft {
            room,
            nick: self.nick,
            reason,
            kicked_by,
        }
    }
}

/// Why an occupant left, as the user is told: a kick with its moderator
/// ("a moderator" when unnamed) and reason, a ban, else the reason or the
/// status of their presence.
pub fn leave_reason(info: &RoomInfo, status: Option<String>) -> Option<String> {
    if info.kicked {
        let by = info.actor.as_deref().unwrap_or("a moderator");
        let reason = info
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        Some(format!("Kicked by {by}{reason}"))
    } else if info.banned {
        Some("Banned from the room".to_string())
    } else {
        info.reason.clone().or(status)
    }
}

impl Occupants {
    /// Nobody yet.
    pub fn new() -> Occupants {
        Occupants::default()
    }

    /// Everyone, in nick order.
    pub fn list(&self) -> Vec<Occupant> {
        self.by_nick.values().cloned().collect()
    }

    /// The occupant with exactly this nick.
    pub fn get(&self, nick: &str) -> Option<&Occupant> {
        self.by_nick.get(nick)
    }

    /// Forget everyone (we are out of the room).
    pub fn clear(&mut self) {
        self.by_nick.clear();
    }

    /// [`Event::RoomJoined`] for `room` with everyone in it and its subject
    /// (an empty subject is none).
    pub fn joined(&self, room: RoomId, topic: Option<String>) -> Event {
        Event::RoomJoined {
            room,
            topic: topic.filter(|t| !t.is_empty()),
            occupants: self.list(),
        }
    }

    /// Apply the presence of `nick` (its room part `info`, its `kind`);
    /// `ours` is our nick in the room, followed when the room changes it.
    /// A presence about us carries status 110 or comes from our nick. Kinds
    /// other than available and unavailable change nothing.
    pub fn apply(
        &mut self,
        ours: &mut String,
        nick: String,
        info: &RoomInfo,
        kind: Kind,
    ) -> Option<OccupantChange> {
        let is_self = info.is_self || nick == *ours;
        match kind {
            Kind::Available { .. } => {
                let occupant = Occupant {
                    nick: nick.clone(),
                    handle: info.real_jid.as_ref().map(|j| j.to_string()),
                    role: info.role,
                    is_self,
                };
                if is_self {
                    ours.clone_from(&nick);
                }
                let changed = self.by_nick.get(&nick) != Some(&occupant);
                self.by_nick.insert(nick, occupant.clone());
                Some(OccupantChange::Present { occupant, changed })
            }
            Kind::Unavailable { status } => {
                if let Some(new) = info.new_nick.clone() {
                    if let Some(mut o) = self.by_nick.remove(&nick) {
                        o.nick.clone_from(&new);
                        self.by_nick.insert(new.clone(), o);
                    }
                    if is_self {
                        ours.clone_from(&new);
                    }
                    return Some(OccupantChange::Renamed {
                        old: nick,
                        new,
                        is_self,
                    });
                }
                self.by_nick.remove(&nick);
                let kick = info.kicked.then(|| Kick {
                    actor: info.actor.clone(),
                    reason: info.reason.clone(),
                });
                Some(OccupantChange::Left(Departure {
                    nick,
                    is_self,
                    why: leave_reason(info, status),
                    kick,
                }))
            }
            _ => None,
        }
    }

    /// The nick `who` stands for: an occupant's exact nick, else the
    /// occupant whose real JID or nick is `who` in any case.
    pub fn nick_for(&self, who: &str) -> Option<String> {
        if self.by_nick.contains_key(who) {
            return Some(who.to_string());
        }
        self.by_nick
            .values()
            .find(|o| {
                o.handle
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(who))
                    || o.nick.eq_ignore_ascii_case(who)
            })
            .map(|o| o.nick.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use waggle_core::Role;

    fn available() -> Kind {
        Kind::Available {
            show: None,
            status: None,
            priority: 0,
        }
    }

    fn unavailable(status: Option<&str>) -> Kind {
        Kind::Unavailable {
            status: status.map(str::to_string),
        }
    }

    fn room() -> BareJid {
        BareJid::new("attic@conference.example.org").expect("jid")
    }

    /// A room with us (`me`) and `bob` (real JID bob@example.org) in it.
    fn attic() -> (Occupants, String) {
        let mut o = Occupants::new();
        let mut ours = "me".to_string();
        let me = RoomInfo {
            is_self: true,
            role: Role::Participant,
            ..RoomInfo::default()
        };
        o.apply(&mut ours, "me".into(), &me, available());
        let bob = RoomInfo {
            role: Role::Participant,
            real_jid: Some(BareJid::new("bob@example.org").expect("jid")),
            ..RoomInfo::default()
        };
        o.apply(&mut ours, "bob".into(), &bob, available());
        (o, ours)
    }

    fn left(change: Option<OccupantChange>) -> Departure {
        match change {
            Some(OccupantChange::Left(d)) => d,
            other => panic!("not a departure: {other:?}"),
        }
    }

    #[test]
    fn a_new_occupant_is_present_and_changed() {
        let (o, _) = attic();
        let bob = o.get("bob").expect("bob");
        assert_eq!(bob.handle.as_deref(), Some("bob@example.org"));
        assert_eq!(bob.role, Role::Participant);
        assert!(!bob.is_self);
        assert!(o.get("me").expect("me").is_self);
        let nicks: Vec<String> = o.list().into_iter().map(|o| o.nick).collect();
        assert_eq!(nicks, ["bob", "me"]);
    }

    #[test]
    fn the_same_presence_again_is_no_update() {
        let (mut o, mut ours) = attic();
        let bob = RoomInfo {
            role: Role::Participant,
            real_jid: Some(BareJid::new("bob@example.org").expect("jid")),
            ..RoomInfo::default()
        };
        let again = o.apply(&mut ours, "bob".into(), &bob, available());
        assert!(
            matches!(again, Some(OccupantChange::Present { changed: false, .. })),
            "{again:?}"
        );
        let voiced = RoomInfo {
            role: Role::Moderator,
            ..bob
        };
        match o.apply(&mut ours, "bob".into(), &voiced, available()) {
            Some(OccupantChange::Present { occupant, changed }) => {
                assert!(changed);
                assert_eq!(occupant.role, Role::Moderator);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(o.get("bob").map(|b| b.role), Some(Role::Moderator));
    }

    #[test]
    fn our_nick_follows_the_presence_that_is_us() {
        let mut o = Occupants::new();
        let mut ours = "me".to_string();
        // The room gave us another nick (status 110 from "me_").
        let me = RoomInfo {
            is_self: true,
            ..RoomInfo::default()
        };
        match o.apply(&mut ours, "me_".into(), &me, available()) {
            Some(OccupantChange::Present { occupant, .. }) => assert!(occupant.is_self),
            other => panic!("{other:?}"),
        }
        assert_eq!(ours, "me_");
    }

    #[test]
    fn a_nick_change_moves_the_occupant() {
        let (mut o, mut ours) = attic();
        let info = RoomInfo {
            new_nick: Some("robert".into()),
            ..RoomInfo::default()
        };
        let change = o.apply(&mut ours, "bob".into(), &info, unavailable(None));
        assert_eq!(
            change,
            Some(OccupantChange::Renamed {
                old: "bob".into(),
                new: "robert".into(),
                is_self: false
            })
        );
        assert!(o.get("bob").is_none());
        let robert = o.get("robert").expect("moved");
        assert_eq!(robert.nick, "robert");
        assert_eq!(robert.handle.as_deref(), Some("bob@example.org"));
        assert_eq!(ours, "me");
    }

    #[test]
    fn our_own_nick_change_is_followed() {
        let (mut o, mut ours) = attic();
        let info = RoomInfo {
            is_self: true,
            new_nick: Some("myself".into()),
            ..RoomInfo::default()
        };
        let change = o.apply(&mut ours, "me".into(), &info, unavailable(None));
        assert!(
            matches!(change, Some(OccupantChange::Renamed { is_self: true, .. })),
            "{change:?}"
        );
        assert_eq!(ours, "myself");
        assert!(o.get("myself").is_some_and(|m| m.is_self));
    }

    #[test]
    fn a_plain_leave_gives_its_status() {
        let (mut o, mut ours) = attic();
        let info = RoomInfo::default();
        let d = left(o.apply(&mut ours, "bob".into(), &info, unavailable(Some("bye"))));
        assert_eq!(d.why.as_deref(), Some("bye"));
        assert!(d.kick.is_none() && !d.is_self);
        assert!(o.get("bob").is_none());
        assert_eq!(
            d.occupant_left(RoomId("r".into()), &room()),
            Event::OccupantLeft {
                room: RoomId("r".into()),
                nick: "bob".into(),
                reason: Some("bye".into()),
                kicked_by: None,
            }
        );
        // A reason in the room part wins over the status.
        let info = RoomInfo {
            reason: Some("moving on".into()),
            ..RoomInfo::default()
        };
        assert_eq!(
            leave_reason(&info, Some("bye".into())).as_deref(),
            Some("moving on")
        );
    }

    #[test]
    fn a_kick_names_the_moderator_and_reason() {
        let (mut o, mut ours) = attic();
        let info = RoomInfo {
            kicked: true,
            actor: Some("carol".into()),
            reason: Some("spam".into()),
            ..RoomInfo::default()
        };
        let d = left(o.apply(&mut ours, "bob".into(), &info, unavailable(Some("x"))));
        assert_eq!(d.why.as_deref(), Some("Kicked by carol: spam"));
        assert_eq!(
            d.occupant_left(RoomId("r".into()), &room()),
            Event::OccupantLeft {
                room: RoomId("r".into()),
                nick: "bob".into(),
                reason: Some("spam".into()),
                kicked_by: Some("carol".into()),
            }
        );
    }

    #[test]
    fn a_kick_without_moderator_or_reason() {
        let (mut o, mut ours) = attic();
        let info = RoomInfo {
            kicked: true,
            ..RoomInfo::default()
        };
        let d = left(o.apply(&mut ours, "bob".into(), &info, unavailable(Some("x"))));
        assert_eq!(d.why.as_deref(), Some("Kicked by a moderator"));
        // Someone else's kick by an unnamed moderator is put on the room.
        assert_eq!(
            d.occupant_left(RoomId("r".into()), &room()),
            Event::OccupantLeft {
                room: RoomId("r".into()),
                nick: "bob".into(),
                reason: None,
                kicked_by: Some("attic".into()),
            }
        );
    }

    #[test]
    fn our_own_kick_and_ban_are_ours() {
        let (mut o, mut ours) = attic();
        let kicked = RoomInfo {
            is_self: true,
            kicked: true,
            actor: Some("carol".into()),
            ..RoomInfo::default()
        };
        let d = left(o.apply(&mut ours, "me".into(), &kicked, unavailable(None)));
        assert!(d.is_self);
        assert_eq!(d.why.as_deref(), Some("Kicked by carol"));
        assert!(o.get("me").is_none());
        let banned = RoomInfo {
            banned: true,
            reason: Some("trolling".into()),
            ..RoomInfo::default()
        };
        // No status 110, but from our nick: still us.
        let d = left(o.apply(&mut ours, "me".into(), &banned, unavailable(Some("x"))));
        assert!(d.is_self && d.kick.is_none());
        assert_eq!(d.why.as_deref(), Some("Banned from the room"));
    }

    #[test]
    fn other_kinds_change_nothing() {
        let (mut o, mut ours) = attic();
        let before = o.clone();
        let error = Kind::Error {
            condition: "conflict",
            text: "conflict".into(),
        };
        assert_eq!(
            o.apply(&mut ours, "bob".into(), &RoomInfo::default(), error),
            None
        );
        assert_eq!(o, before);
    }

    #[test]
    fn look_up_by_nick_or_real_jid_in_any_case() {
        let (o, _) = attic();
        assert_eq!(o.nick_for("bob").as_deref(), Some("bob"));
        assert_eq!(o.nick_for("BOB").as_deref(), Some("bob"));
        assert_eq!(o.nick_for("Bob@Example.org").as_deref(), Some("bob"));
        assert_eq!(o.nick_for("carol"), None);
        assert_eq!(o.nick_for("bob@example.com"), None);
    }

    #[test]
    fn joined_lists_everyone_and_drops_an_empty_subject() {
        let (mut o, _) = attic();
        match o.joined(RoomId("r".into()), Some(String::new())) {
            Event::RoomJoined {
                topic, occupants, ..
            } => {
                assert_eq!(topic, None);
                assert_eq!(occupants.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            o.joined(RoomId("r".into()), Some("hi".into())),
            Event::RoomJoined { topic: Some(t), .. } if t == "hi"
        ));
        o.clear();
        assert!(o.list().is_empty());
    }
}
