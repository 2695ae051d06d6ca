//! MONITOR (IRCv3): each client's own notify list of nicks, told when a contact
//! on it comes online (730) or goes offline (731).

use std::collections::BTreeMap;

use super::{Cx, User};
use crate::client::Client;
use crate::input::Input;
use crate::line::Line;
use crate::nick::irc_lower;

/// Most nicks one client may monitor.
pub(crate) const MONITOR_LIMIT: usize = 100;

/// Monitored nicks (lower-case) and whether each was last reported online.
#[derive(Debug, Default)]
pub(crate) struct MonitorList {
    targets: BTreeMap<String, (String, bool)>,
}

impl User {
    /// `nick!user@host` when the nick is present and online.
    fn monitor_online(&self, nick: &str) -> Option<String> {
        if self.is_root(nick) {
            return Some(self.root_mask());
        }
        if irc_lower(nick) == irc_lower(&self.nick) {
            return Some(self.my_mask());
        }
        self.contact_by_nick(nick)
            .filter(|c| c.is_online())
            .map(|c| c.mask())
    }

    /// 730/731 for `names` as they are now.
    fn monitor_report(&self, names: &[String]) -> Vec<Line> {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for n in names {
            match self.monitor_online(n) {
                Some(mask) => on.push(mask),
                None => off.push(n.clone()),
            }
        }
        let mut out = Vec::new();
        for chunk in chunk_list(&on) {
            out.push(self.numeric("730").param(chunk));
        }
        for chunk in chunk_list(&off) {
            out.push(self.numeric("731").param(chunk));
        }
        out
    }
}

/// The 730/731 lines telling `client` of monitored nicks whose state changed.
pub(crate) fn refresh(user: &User, client: &mut Client) -> Vec<Line> {
    let list = &mut client.monitored.targets;
    if list.is_empty() {
        return Vec::new();
    }
    let mut changed = Vec::new();
    for (name, was) in list.values_mut() {
        let now = user.monitor_online(name).is_some();
        if now != *was {
            *was = now;
            changed.push(name.clone());
        }
    }
    if changed.is_empty() {
        Vec::new()
    } else {
        user.monitor_report(&changed)
    }
}

impl Cx<'_> {
    /// `MONITOR + - C L S` for the origin client.
    pub(crate) fn monitor(&mut self, input: &Input) {
        let op = input.arg(0).to_ascii_uppercase();
        let names: Vec<String> = input
            .arg(1)
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        let mut replies = Vec::new();
        {
            let Cx { u, client, .. } = self;
            let user: &User = u;
            let Some(client) = client.as_deref_mut() else {
                return;
            };
            let list = &mut client.monitored.targets;
            match op.as_str() {
                "+" => {
                    let mut added = Vec::new();
                    for (i, name) in names.iter().enumerate() {
                        let key = irc_lower(name);
                        if list.contains_key(&key) {
                            continue;
                        }
                        if list.len() >= MONITOR_LIMIT {
                            replies.push(
                                user.numeric("734")
                                    .param(MONITOR_LIMIT.to_string())
                                    .param(names.get(i..).unwrap_or_default().join(","))
                                    .param("Monitor list is full."),
                            );
                            break;
                        }
                        let online = user.monitor_online(name).is_some();
                        list.insert(key, (name.clone(), online));
                        added.push(name.clone());
                    }
                    replies.extend(user.monitor_report(&added));
                }
                "-" => {
                    for name in &names {
                        list.remove(&irc_lower(name));
                    }
                }
                "C" => list.clear(),
                "L" => {
                    let all: Vec<String> = list.values().map(|(n, _)| n.clone()).collect();
                    for chunk in chunk_list(&all) {
                        replies.push(user.numeric("732").param(chunk));
                    }
                    replies.push(user.numeric("733").param("End of MONITOR list"));
                }
                "S" => {
                    let all: Vec<String> = list.values().map(|(n, _)| n.clone()).collect();
                    replies.extend(user.monitor_report(&all));
                }
                _ => replies.push(
                    user.numeric("461")
                        .param("MONITOR")
                        .param("Not enough parameters"),
                ),
            }
        }
        for line in replies {
            self.send(line);
        }
    }
}

/// Comma-joined chunks that fit in one line.
fn chunk_list(items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for i in items {
        if !cur.is_empty() && cur.len() + i.len() > 400 {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(i);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
