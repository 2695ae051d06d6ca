//! MONITOR (IRCv3): a client's notify list of nicks, told when a contact on it
//! comes online (730) or goes offline (731).

use std::collections::BTreeMap;

use super::Session;
use crate::input::Input;
use crate::nick::irc_lower;

/// Most nicks one client may monitor.
pub(crate) const MONITOR_LIMIT: usize = 100;

/// Monitored nicks (lower-case) and whether each was last reported online.
#[derive(Debug, Default)]
pub(crate) struct MonitorList {
    targets: BTreeMap<String, (String, bool)>,
}

impl Session {
    pub(crate) fn monitor(&mut self, input: &Input) {
        let op = input.arg(0).to_ascii_uppercase();
        let names: Vec<String> = input
            .arg(1)
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        match op.as_str() {
            "+" => {
                let mut added = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let key = irc_lower(name);
                    if self.monitored.targets.contains_key(&key) {
                        continue;
                    }
                    if self.monitored.targets.len() >= MONITOR_LIMIT {
                        self.send(
                            self.numeric("734")
                                .param(MONITOR_LIMIT.to_string())
                                .param(names[i..].join(","))
                                .param("Monitor list is full."),
                        );
                        break;
                    }
                    let online = self.monitor_online(name).is_some();
                    self.monitored.targets.insert(key, (name.clone(), online));
                    added.push(name.clone());
                }
                self.monitor_report(&added);
            }
            "-" => {
                for name in &names {
                    self.monitored.targets.remove(&irc_lower(name));
                }
            }
            "C" => self.monitored.targets.clear(),
            "L" => {
                let all: Vec<String> = self
                    .monitored
                    .targets
                    .values()
                    .map(|(n, _)| n.clone())
                    .collect();
                for chunk in chunk_list(&all) {
                    self.send(self.numeric("732").param(chunk));
                }
                self.send(self.numeric("733").param("End of MONITOR list"));
            }
            "S" => {
                let all: Vec<String> = self
                    .monitored
                    .targets
                    .values()
                    .map(|(n, _)| n.clone())
                    .collect();
                self.monitor_report(&all);
            }
            _ => self.send(
                self.numeric("461")
                    .param("MONITOR")
                    .param("Not enough parameters"),
            ),
        }
    }

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

    fn monitor_report(&self, names: &[String]) {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for n in names {
            match self.monitor_online(n) {
                Some(mask) => on.push(mask),
                None => off.push(n.clone()),
            }
        }
        for chunk in chunk_list(&on) {
            self.send(self.numeric("730").param(chunk));
        }
        for chunk in chunk_list(&off) {
            self.send(self.numeric("731").param(chunk));
        }
    }

    /// Tell the client about monitored nicks whose state changed.
    pub(crate) fn monitor_refresh(&mut self) {
        if self.monitored.targets.is_empty() {
            return;
        }
        let mut changed = Vec::new();
        let keys: Vec<String> = self.monitored.targets.keys().cloned().collect();
        for key in keys {
            let Some((name, was)) = self.monitored.targets.get(&key).cloned() else {
                continue;
            };
            let now = self.monitor_online(&name).is_some();
            if now != was {
                self.monitored.targets.insert(key, (name.clone(), now));
                changed.push(name);
            }
        }
        if !changed.is_empty() {
            self.monitor_report(&changed);
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
