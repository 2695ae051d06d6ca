//! One workload against one gateway: a fresh Prosody with the accounts and
//! rosters, the contacts online, the gateway started, then the phases in
//! order, each measured on the gateway's process.
//!
//! A phase is an entry of [`Phase`]; a new one (say, replaying stored
//! messages on attach) is a new variant, its driver in [`Run::phase`], and its
//! rows in the report.

mod sessions;

pub use sessions::{Replay, Storm};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::task::JoinSet;

use crate::gateway::{Gateway, Kind, Programs};
use crate::irc::IrcUser;
use crate::procstat::{self, Memory, Watched};
use crate::prosody::{DOMAIN, Prosody, RosterOwner};
use crate::tracker::{Dir, Flow, Key, Tracker};
use crate::xmpp::Contact;

/// Every password in the benchmark (gateway users and XMPP accounts).
const PASSWORD: &str = "bench-pw-1";
/// Contacts logging in at once.
const CONTACT_LOGINS: usize = 32;
/// After this many one-at-a-time messages lost in a row, the phase stops.
const GIVE_UP_AFTER: usize = 20;

/// What a workload is.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Its name on the command line.
    pub name: String,
    /// Users, each with one IRC client and one XMPP account.
    pub users: usize,
    /// Contacts per user (real XMPP clients).
    pub contacts: usize,
    /// Messages each way per user, in each message phase.
    pub messages: usize,
    /// Whether the one-at-a-time phases run (else bursts only).
    pub one_at_a_time: bool,
    /// What the workload measures.
    pub shape: Shape,
}

/// What a workload measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Logins and messages relayed both ways.
    Relay,
    /// Each user's client detaches, M messages per user arrive meanwhile, and a
    /// new client attaches and is given them (Waggle only: BitlBee ends a
    /// session when its client leaves).
    Replay,
    /// U clients connected, then every one of them sends `register` at once.
    Storm,
}

impl Workload {
    /// `U=… R=… M=…`.
    pub fn title(&self) -> String {
        match self.shape {
            Shape::Storm => return format!("login storm: U={} `register` at once", self.users),
            Shape::Replay => {
                return format!(
                    "replay: U={} R={}, M={} messages logged while detached, then attach",
                    self.users, self.contacts, self.messages
                );
            }
            Shape::Relay => {}
        }
        let mut t = format!("U={} R={} M={}", self.users, self.contacts, self.messages);
        if !self.one_at_a_time {
            t.push_str(" (bursts only)");
        }
        t
    }

    /// Whether `kind` takes part.
    pub fn runs_on(&self, kind: Kind) -> bool {
        self.shape != Shape::Replay || kind == Kind::Waggle
    }

    /// The phases, in the order they run.
    pub fn phases(&self) -> Vec<Phase> {
        match self.shape {
            Shape::Storm => return vec![Phase::Storm],
            Shape::Replay => return vec![Phase::Setup, Phase::Login, Phase::Replay],
            Shape::Relay => {}
        }
        let mut p = vec![Phase::Setup, Phase::Login];
        if self.one_at_a_time {
            p.push(Phase::OneAtATime(Dir::ToIrc));
            p.push(Phase::OneAtATime(Dir::ToXmpp));
        }
        // irc→xmpp last: a gateway that drops a flooding client ends the run there.
        p.push(Phase::Burst(Dir::ToIrc));
        p.push(Phase::Burst(Dir::ToXmpp));
        p
    }
}

/// A measured step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Each user in turn: connect, `register`, `account add jabber`, `account … set`.
    Setup,
    /// Each user in turn: `account … on` until every contact has joined.
    Login,
    /// Messages one at a time across the whole workload: send, wait for it, next.
    OneAtATime(Dir),
    /// Every user's messages at once.
    Burst(Dir),
    /// Detach, M messages per user logged meanwhile, attach and get them.
    Replay,
    /// Every client sends `register` at once.
    Storm,
}

impl Phase {
    /// Its name (for hooks and tables).
    pub fn name(self) -> String {
        match self {
            Phase::Setup => "setup".into(),
            Phase::Login => "login".into(),
            Phase::OneAtATime(d) => format!("{} one at a time", d.label()),
            Phase::Burst(d) => format!("{} burst", d.label()),
            Phase::Replay => "replay".into(),
            Phase::Storm => "register storm".into(),
        }
    }

    /// A number unique among the phases, carried in message bodies.
    fn number(self) -> u16 {
        match self {
            Phase::Setup => 0,
            Phase::Login => 1,
            Phase::OneAtATime(Dir::ToIrc) => 2,
            Phase::OneAtATime(Dir::ToXmpp) => 3,
            Phase::Burst(Dir::ToIrc) => 4,
            Phase::Burst(Dir::ToXmpp) => 5,
            Phase::Replay => 6,
            Phase::Storm => 7,
        }
    }
}

/// The name of Waggle's message log writer thread (see waggle-store).
const LOG_WRITER_THREAD: &str = "waggle-log-writer";

/// The figures of one phase.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    /// Which phase.
    pub phase: Phase,
    /// The gateway's CPU time over the phase.
    pub cpu_ns: u64,
    /// The part of it spent by Waggle's message log writer thread (SQLite
    /// inserts and commits); 0 for BitlBee.
    pub log_writer_ns: u64,
    /// How long it took.
    pub wall: Duration,
    /// What it did: users set up or logged in, or messages delivered.
    pub units: u64,
    /// For message phases: what became of the messages.
    pub flow: Option<Flow>,
}

/// Everything measured in one run of one gateway.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Which gateway.
    pub kind: Kind,
    /// Memory before any user connected.
    pub idle: Memory,
    /// Memory once every user was logged in.
    pub logged_in: Memory,
    /// Memory at the end (its `hwm_kb` is the run's peak).
    pub end: Memory,
    /// account on → all contacts joined, per user, sorted.
    pub logins: Vec<Duration>,
    /// The phases that ran.
    pub phases: Vec<PhaseResult>,
    /// What went wrong or is worth knowing.
    pub notes: Vec<String>,
    /// Wall time of the run.
    pub wall: Duration,
    /// CPU time the rest of the machine used meanwhile, in core-seconds per second.
    pub other_load: f64,
    /// The replay phase's figures.
    pub replay: Option<Replay>,
    /// The register storm's figures.
    pub storm: Option<Storm>,
}

/// Options for every run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gateway programs.
    pub programs: Programs,
    /// Multiplies every timeout (for gateways run under valgrind).
    pub timeout_scale: f64,
    /// A command run as `HOOK PHASE PID` before each phase and at the end.
    pub phase_hook: Option<String>,
}

struct Run<'a> {
    w: &'a Workload,
    opts: &'a Options,
    gw: Gateway,
    prosody: Watched,
    replay: Option<Replay>,
    storm: Option<Storm>,
    tracker: Arc<Tracker>,
    contacts: Vec<Vec<Contact>>,
    users: Vec<IrcUser>,
    tags: Vec<String>,
    notes: Vec<String>,
    logins: Vec<Duration>,
}

fn contact_name(user: usize, contact: usize) -> String {
    format!("c{user}x{contact}")
}

fn user_name(user: usize) -> String {
    format!("u{user}")
}

/// Run `w` against `kind` in `dir`.
pub async fn run(kind: Kind, w: &Workload, opts: &Options, dir: &Path) -> Result<RunResult> {
    let started = Instant::now();
    let (busy0, _) = procstat::machine_ticks();
    let own0 = procstat::own_cpu_ns();
    let owners: Vec<RosterOwner> = (0..w.users)
        .map(|u| RosterOwner {
            user: user_name(u),
            contacts: (0..w.contacts).map(|r| contact_name(u, r)).collect(),
        })
        .collect();
    let pdir = dir.join("prosody");
    std::fs::create_dir_all(&pdir)?;
    let prosody = Prosody::start(&pdir, &owners, PASSWORD).await?;
    let tracker = Arc::new(Tracker::default());
    let contacts = connect_contacts(w, tracker.clone())
        .await
        .with_context(|| format!("contacts\n{}", prosody.log()))?;
    let gdir = dir.join("gateway");
    std::fs::create_dir_all(&gdir)?;
    let gw = Gateway::start(kind, &opts.programs, &gdir, w.users).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.watched().settle(Duration::from_secs(5)).await;
    let idle = gw.watched().memory();
    let mut run = Run {
        w,
        opts,
        gw,
        prosody: prosody.watched().clone(),
        replay: None,
        storm: None,
        tracker,
        contacts,
        users: Vec::new(),
        tags: Vec::new(),
        notes: Vec::new(),
        logins: Vec::new(),
    };
    let mut phases = Vec::new();
    let mut logged_in = idle;
    for phase in w.phases() {
        run.hook(&phase.name());
        let cpu0 = run.gw.watched().cpu_ns();
        let writer0 = run.gw.watched().thread_cpu_ns(LOG_WRITER_THREAD);
        let t0 = Instant::now();
        let outcome = run.phase(phase).await;
        run.gw.watched().settle(run.scaled(3)).await;
        let cpu = run.gw.watched().cpu_ns().saturating_sub(cpu0);
        let log_writer_ns = run
            .gw
            .watched()
            .thread_cpu_ns(LOG_WRITER_THREAD)
            .saturating_sub(writer0);
        let wall = t0.elapsed();
        match outcome {
            Ok((units, flow)) => {
                if let Some(f) = flow.as_ref().filter(|f| f.lost > 0) {
                    let sample: Vec<String> = f
                        .lost_sample
                        .iter()
                        .map(|k| format!("u{} c{} #{}", k.user, k.contact, k.seq))
                        .collect();
                    run.notes.push(format!(
                        "{}: {} lost, the first of them {}",
                        phase.name(),
                        f.lost,
                        sample.join(", ")
                    ));
                }
                phases.push(PhaseResult {
                    phase,
                    cpu_ns: cpu,
                    log_writer_ns,
                    wall,
                    units,
                    flow,
                });
            }
            Err(e) => {
                run.notes.push(format!("{} failed: {e:#}", phase.name()));
                break;
            }
        }
        if phase == Phase::Login {
            logged_in = run.gw.watched().memory();
        }
    }
    run.hook("end");
    let end = run.gw.watched().memory();
    for u in &mut run.users {
        let nick = u.nick().to_string();
        if let Some(why) = u.poll_closed() {
            run.notes
                .push(format!("{nick}'s connection was closed: {why}"));
        }
    }
    summarise_closures(&mut run.notes);
    // Prosody and the gateway are fresh processes: all their CPU time is the run's.
    let prosody_cpu = prosody.watched().cpu_ns();
    let grace = run.scaled(20);
    let Run {
        gw,
        notes,
        mut logins,
        replay,
        storm,
        ..
    } = run;
    let gw_cpu = gw.watched().cpu_ns();
    gw.stop(grace).await;
    drop(prosody);
    logins.sort();
    let wall = started.elapsed();
    let (busy1, _) = procstat::machine_ticks();
    let ours = gw_cpu + prosody_cpu + procstat::own_cpu_ns().saturating_sub(own0);
    let busy = busy1.saturating_sub(busy0) * procstat::tick_ns();
    let other_load = busy.saturating_sub(ours) as f64 / wall.as_nanos().max(1) as f64;
    Ok(RunResult {
        kind,
        idle,
        logged_in,
        end,
        logins,
        phases,
        notes,
        wall,
        other_load,
        replay,
        storm,
    })
}

/// Many users dropped for the same reason make one note.
fn summarise_closures(notes: &mut Vec<String>) {
    let (closed, mut rest): (Vec<String>, Vec<String>) = notes
        .drain(..)
        .partition(|n| n.contains("'s connection was closed: "));
    let mut reasons: Vec<(String, usize)> = Vec::new();
    for n in closed {
        let why = n
            .split_once("'s connection was closed: ")
            .map(|(_, w)| w.to_string())
            .unwrap_or_default();
        match reasons.iter_mut().find(|(r, _)| *r == why) {
            Some((_, c)) => *c += 1,
            None => reasons.push((why, 1)),
        }
    }
    for (why, count) in reasons {
        rest.push(format!("{count} client(s) dropped by the gateway: {why}"));
    }
    *notes = rest;
}

async fn connect_contacts(w: &Workload, tracker: Arc<Tracker>) -> Result<Vec<Vec<Contact>>> {
    let mut slots: Vec<Vec<Option<Contact>>> = (0..w.users)
        .map(|_| (0..w.contacts).map(|_| None).collect())
        .collect();
    let mut pending = (0..w.users).flat_map(|u| (0..w.contacts).map(move |r| (u, r)));
    let mut set = JoinSet::new();
    loop {
        while set.len() < CONTACT_LOGINS {
            let Some((u, r)) = pending.next() else { break };
            let t = tracker.clone();
            set.spawn(async move {
                let c = Contact::connect(&contact_name(u, r), PASSWORD, &user_name(u), t).await;
                (u, r, c)
            });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (u, r, c) = done?;
        if let Some(slot) = slots.get_mut(u).and_then(|s| s.get_mut(r)) {
            *slot = Some(c?);
        }
    }
    slots
        .into_iter()
        .map(|s| s.into_iter().collect::<Option<Vec<_>>>())
        .collect::<Option<Vec<_>>>()
        .context("a contact did not log in")
}

impl Run<'_> {
    fn scaled(&self, secs: u64) -> Duration {
        Duration::from_secs_f64(secs as f64 * self.opts.timeout_scale.max(1.0))
    }

    fn hook(&self, phase: &str) {
        if let Some(h) = &self.opts.phase_hook {
            let _ = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{h} \"$0\" \"$1\""))
                .arg(phase)
                .arg(self.gw.watched().pid().to_string())
                .status();
        }
    }

    /// Run one phase; returns its unit count and, for message phases, the flow.
    async fn phase(&mut self, phase: Phase) -> Result<(u64, Option<Flow>)> {
        match phase {
            Phase::Setup => self.setup().await.map(|n| (n, None)),
            Phase::Login => self.login().await.map(|n| (n, None)),
            Phase::OneAtATime(dir) => {
                self.one_at_a_time(phase.number(), dir).await;
                let f = self.tracker.flow(phase.number(), dir);
                Ok((f.delivered, Some(f)))
            }
            Phase::Burst(dir) => {
                self.burst(phase.number(), dir).await?;
                let f = self.tracker.flow(phase.number(), dir);
                Ok((f.delivered, Some(f)))
            }
            Phase::Replay => {
                self.replay(phase.number()).await?;
                let f = self.tracker.flow(phase.number(), Dir::ToIrc);
                Ok((f.delivered, Some(f)))
            }
            Phase::Storm => self.storm().await.map(|n| (n, None)),
        }
    }

    async fn setup(&mut self) -> Result<u64> {
        let t = self.scaled(30);
        let settings = self.gw.kind().account_settings();
        for u in 0..self.w.users {
            let nick = user_name(u);
            let mut c = IrcUser::connect(
                self.gw.addr(),
                &nick,
                self.w.contacts,
                self.tracker.clone(),
                t,
            )
            .await?;
            c.root(&format!("register {PASSWORD}")).await?;
            c.expect_root("Account successfully created", t).await?;
            c.root(&format!("account add jabber {nick}@{DOMAIN} {PASSWORD}"))
                .await?;
            let reply = c.expect_root("successfully added with tag", t).await?;
            let tag = reply
                .rsplit(' ')
                .next()
                .map(str::to_string)
                .context("no account tag")?;
            for (k, v) in &settings {
                c.root(&format!("account {tag} set {k} {v}")).await?;
            }
            c.barrier(t).await?;
            self.users.push(c);
            self.tags.push(tag);
        }
        Ok(self.w.users as u64)
    }

    async fn login(&mut self) -> Result<u64> {
        let t = self.scaled(60);
        for (c, tag) in self.users.iter_mut().zip(&self.tags) {
            let t0 = Instant::now();
            c.root(&format!("account {tag} on")).await?;
            let at = c.wait_joined(t).await?;
            self.logins.push(at.saturating_duration_since(t0));
        }
        Ok(self.logins.len() as u64)
    }

    fn key(&self, phase: u16, dir: Dir, user: usize, k: usize) -> (Key, usize) {
        let r = k % self.w.contacts.max(1);
        let key = Key {
            phase,
            dir,
            user: user as u32,
            contact: r as u32,
            seq: (k / self.w.contacts.max(1)) as u32,
        };
        (key, r)
    }

    async fn send(&self, dir: Dir, user: usize, contact: usize, keys: &[Key]) -> Result<()> {
        match dir {
            Dir::ToIrc => {
                let c = self
                    .contacts
                    .get(user)
                    .and_then(|cs| cs.get(contact))
                    .context("no such contact")?;
                c.send(keys).await
            }
            Dir::ToXmpp => {
                let u = self.users.get(user).context("no such user")?;
                let nick = contact_name(user, contact);
                let pairs: Vec<(Key, &str)> = keys.iter().map(|k| (*k, nick.as_str())).collect();
                u.send_messages(&pairs).await
            }
        }
    }

    /// Message k of every user in turn, each awaited before the next is sent.
    async fn one_at_a_time(&mut self, phase: u16, dir: Dir) {
        let wait = self.scaled(5);
        let mut lost_in_a_row = 0;
        for k in 0..self.w.messages {
            for u in 0..self.users.len() {
                let (key, r) = self.key(phase, dir, u, k);
                self.tracker.sent(key);
                if self.send(dir, u, r, &[key]).await.is_err()
                    || !self.tracker.wait_one(&key, wait).await
                {
                    lost_in_a_row += 1;
                    if lost_in_a_row >= GIVE_UP_AFTER {
                        self.notes.push(format!(
                            "{} {}: stopped after {GIVE_UP_AFTER} messages in a row were lost",
                            dir.label(),
                            "one at a time"
                        ));
                        return;
                    }
                } else {
                    lost_in_a_row = 0;
                }
            }
        }
    }

    /// Every user's M messages at once: for xmpp→irc each contact writes its
    /// share in one go, for irc→xmpp each IRC client writes all of its lines in
    /// one go.
    async fn burst(&mut self, phase: u16, dir: Dir) -> Result<()> {
        let r_count = self.w.contacts.max(1);
        for u in 0..self.users.len() {
            let mut per_contact: Vec<Vec<Key>> = vec![Vec::new(); r_count];
            let mut all = Vec::with_capacity(self.w.messages);
            for k in 0..self.w.messages {
                let (key, r) = self.key(phase, dir, u, k);
                self.tracker.sent(key);
                if let Some(v) = per_contact.get_mut(r) {
                    v.push(key);
                }
                all.push((key, r));
            }
            let sent = match dir {
                Dir::ToIrc => {
                    let mut res = Ok(());
                    for (r, keys) in per_contact.iter().enumerate() {
                        res = res.and(self.send(dir, u, r, keys).await);
                    }
                    res
                }
                Dir::ToXmpp => {
                    let user = self.users.get(u).context("no such user")?;
                    let nicks: Vec<String> = (0..r_count).map(|r| contact_name(u, r)).collect();
                    let pairs: Vec<(Key, &str)> = all
                        .iter()
                        .map(|(k, r)| (*k, nicks.get(*r).map_or("", String::as_str)))
                        .collect();
                    user.send_messages(&pairs).await
                }
            };
            if let Err(e) = sent {
                self.notes
                    .push(format!("{} burst: user {u}: {e:#}", dir.label()));
            }
        }
        let expected = (self.users.len() * self.w.messages) as u64;
        let cap = self.scaled(60) + Duration::from_millis(expected.saturating_mul(2));
        self.tracker
            .wait_all(phase, dir, expected, self.scaled(10), cap)
            .await;
        Ok(())
    }
}
