//! The phases about sessions rather than relaying: a client attaching after a
//! detach and given what was logged meanwhile ([`Phase::Replay`]), and many
//! clients registering at the same moment ([`Phase::Storm`]).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{PASSWORD, Run, user_name};
use crate::irc::IrcUser;
use crate::procstat::{self, Memory};
use crate::tracker::{Dir, Key};

/// How a client attaching after a detach was given what it missed.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Messages logged while no client was attached.
    pub logged: u64,
    /// Connect (with PASS) → the last of them arrived.
    pub time_to_last: Option<Duration>,
    /// The gateway's CPU time from the connect until it went quiet.
    pub cpu_ns: u64,
    /// Memory before the attach, and after it went quiet.
    pub before: Memory,
    pub after: Memory,
    /// The highest resident set size during the replay.
    pub peak_kb: u64,
}

/// Memory around a register storm.
#[derive(Debug, Clone)]
pub struct Storm {
    /// Registrations answered.
    pub registered: u64,
    /// Connect → the last answer.
    pub wall: Duration,
    /// The gateway's CPU time over the storm.
    pub cpu_ns: u64,
    /// Memory once every client was connected, before the storm.
    pub before: Memory,
    /// The highest resident set size during the storm.
    pub peak_kb: u64,
    /// Memory once the gateway had gone quiet after it.
    pub after: Memory,
}

/// Messages a contact writes at once while the user is detached.
const CHUNK: usize = 200;
/// The phase number of the message that gives each client a read position.
const WARM_UP: u16 = 8;

impl Run<'_> {
    /// Each user's client quits (the session stays, its accounts online), its
    /// contacts send M messages between them, and once the gateway has logged
    /// them a new client attaches with PASS and is given them.
    pub(super) async fn replay(&mut self, phase: u16) -> Result<()> {
        let t = self.scaled(30);
        // One message shown before the detach, so the client has a read
        // position to be given the rest from.
        for u in 0..self.users.len() {
            let key = Key {
                phase: WARM_UP,
                dir: Dir::ToIrc,
                user: u as u32,
                contact: 0,
                seq: 0,
            };
            self.tracker.sent(key);
            self.send(Dir::ToIrc, u, 0, &[key]).await?;
            if !self.tracker.wait_one(&key, t).await {
                anyhow::bail!("user {u}: the warm-up message did not arrive");
            }
        }
        for u in &mut self.users {
            u.quit(t).await?;
        }
        self.users.clear();
        let contacts = self.w.contacts.max(1);
        for u in 0..self.w.users {
            let mut per_contact: Vec<Vec<Key>> = vec![Vec::new(); contacts];
            for k in 0..self.w.messages {
                let (key, r) = self.key(phase, Dir::ToIrc, u, k);
                self.tracker.sent(key);
                if let Some(v) = per_contact.get_mut(r) {
                    v.push(key);
                }
            }
            for (r, keys) in per_contact.iter().enumerate() {
                for chunk in keys.chunks(CHUNK) {
                    self.send(Dir::ToIrc, u, r, chunk).await?;
                }
            }
        }
        // Logged once both Prosody and the gateway have gone quiet.
        for _ in 0..3 {
            self.prosody.settle(self.scaled(20)).await;
            self.gw.watched().settle(self.scaled(20)).await;
        }
        let pid = self.gw.watched().pid();
        let peak_resets = procstat::reset_peak(pid);
        let before = self.gw.watched().memory();
        let cpu0 = self.gw.watched().cpu_ns();
        let t0 = Instant::now();
        for u in 0..self.w.users {
            let c = IrcUser::connect_as(
                self.gw.addr(),
                &user_name(u),
                Some(PASSWORD),
                self.w.contacts,
                self.tracker.clone(),
                t,
            )
            .await
            .with_context(|| format!("user {u}: attach"))?;
            self.users.push(c);
        }
        let expected = (self.w.users * self.w.messages) as u64;
        let cap = self.scaled(120);
        self.tracker
            .wait_all(phase, Dir::ToIrc, expected, self.scaled(10), cap)
            .await;
        let last = self.tracker.last_arrival(phase, Dir::ToIrc);
        self.gw.watched().settle(self.scaled(5)).await;
        let after = self.gw.watched().memory();
        let f = self.tracker.flow(phase, Dir::ToIrc);
        self.replay = Some(Replay {
            logged: f.sent,
            time_to_last: last.map(|l| l.saturating_duration_since(t0)),
            cpu_ns: self.gw.watched().cpu_ns().saturating_sub(cpu0),
            before,
            after,
            peak_kb: if peak_resets { after.hwm_kb } else { 0 },
        });
        Ok(())
    }

    /// U clients connect, then every one of them sends `register` at once.
    pub(super) async fn storm(&mut self) -> Result<u64> {
        let t = self.scaled(120);
        for u in 0..self.w.users {
            let c = IrcUser::connect(self.gw.addr(), &user_name(u), 0, self.tracker.clone(), t)
                .await
                .with_context(|| format!("storm client {u}"))?;
            self.users.push(c);
        }
        self.gw.watched().settle(self.scaled(5)).await;
        let pid = self.gw.watched().pid();
        let peak_resets = procstat::reset_peak(pid);
        let before = self.gw.watched().memory();
        let cpu0 = self.gw.watched().cpu_ns();
        let t0 = Instant::now();
        for c in &self.users {
            c.root(&format!("register {PASSWORD}")).await?;
        }
        let mut registered = 0;
        for c in &mut self.users {
            if c.expect_root("Account successfully created", t)
                .await
                .is_ok()
            {
                registered += 1;
            }
        }
        let wall = t0.elapsed();
        let during = self.gw.watched().memory();
        self.gw.watched().settle(self.scaled(10)).await;
        // Give the allocator a moment to hand freed memory back.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = self.gw.watched().memory();
        self.storm = Some(Storm {
            registered,
            wall,
            cpu_ns: self.gw.watched().cpu_ns().saturating_sub(cpu0),
            before,
            peak_kb: if peak_resets {
                after.hwm_kb.max(during.hwm_kb)
            } else {
                0
            },
            after,
        });
        Ok(registered)
    }
}
