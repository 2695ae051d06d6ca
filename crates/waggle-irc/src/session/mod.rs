//! The per-user session task: owns one user's nick table, channels, accounts,
//! questions and settings, and handles one input at a time (a client line or a
//! backend event). It awaits only short Store calls, never the network.

mod accounts;
mod actions;
mod channels;
mod chats;
mod events;
mod irc;
mod monitor;
mod paste;
mod persist;
pub(crate) mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use irc_proto::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span};
use waggle_core::AccountId;
use waggle_core::settings::{self, SettingDef};

use crate::caps::{Cap, CapSet};
use crate::connection::ClientTx;
use crate::line::Line;
pub(crate) use crate::registration::ClientInfo;
use crate::registration::Login;
use crate::server::Shared;
use state::{Account, Channel, ContactEntry, NickOwner, Prompt, Question};

/// The control channel every session starts in.
pub(crate) const CONTROL_CHANNEL: &str = "&bitlbee";
const CONTROL_TOPIC: &str = "Welcome to the control channel. Type help for help information.";

/// What a connection feeds its session.
#[derive(Debug)]
pub(crate) enum SessionInput {
    Irc(Box<Message>),
    /// The client said QUIT (with this reason): answer with ERROR and end.
    Quit(String),
    /// The client sent a line over the length limit (it was discarded).
    TooLong,
}

/// One user's state.
pub(crate) struct Session {
    pub shared: Arc<Shared>,
    pub client: ClientTx,
    pub caps: CapSet,
    pub cap_302: bool,
    pub nick: String,
    pub user: String,
    pub realname: String,
    pub host: String,
    pub away: Option<String>,
    /// User mode +B.
    pub bot: bool,
    pub login: Option<Login>,
    pub settings: BTreeMap<String, String>,
    pub accounts: Vec<Account>,
    pub next_account: u64,
    pub contacts: BTreeMap<(AccountId, String), ContactEntry>,
    pub nicks: HashMap<String, NickOwner>,
    pub channels: Vec<Channel>,
    pub questions: Vec<Question>,
    pub prompt: Option<Prompt>,
    pub last_target: Option<String>,
    pub paste: Option<paste::Paste>,
    pub monitored: monitor::MonitorList,
    /// While a labeled command is handled: its label and the reply lines so far.
    pub label: std::sync::Mutex<Option<(String, Vec<Line>)>>,
    pub next_batch: u64,
    pub events_tx: mpsc::Sender<waggle_core::BackendEvent>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
}

/// Start a session for a freshly registered client.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    client: ClientTx,
    info: ClientInfo,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> mpsc::Sender<SessionInput> {
    let (tx, rx) = mpsc::channel(64);
    let (events_tx, events_rx) = mpsc::channel(1024);
    let span = info_span!("user", nick = %info.nick);
    let mut session = Session {
        shared,
        client,
        caps: info.caps,
        cap_302: info.cap_302,
        nick: info.nick.clone(),
        user: info.user.clone(),
        realname: info.realname.clone(),
        host: info.host.clone(),
        away: None,
        bot: false,
        login: None,
        settings: BTreeMap::new(),
        accounts: Vec::new(),
        next_account: 0,
        contacts: BTreeMap::new(),
        nicks: HashMap::new(),
        channels: Vec::new(),
        questions: Vec::new(),
        prompt: None,
        last_target: None,
        paste: None,
        monitored: Default::default(),
        label: std::sync::Mutex::new(None),
        next_batch: 0,
        events_tx,
        cancel: shutdown,
        tracker: tracker.clone(),
    };
    tracker.spawn(
        async move {
            session.start(info.login, info.identify_with).await;
            session.run(rx, events_rx).await;
            session.finish().await;
        }
        .instrument(span),
    );
    tx
}

impl Session {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<SessionInput>,
        mut events: mpsc::Receiver<waggle_core::BackendEvent>,
    ) {
        loop {
            tokio::select! {
                input = rx.recv() => match input {
                                        Some(SessionInput::Irc(msg)) => {
                        self.handle_labeled(*msg).await;
                        self.monitor_refresh();
                    }
                                        Some(SessionInput::TooLong) => {
                        self.send(self.numeric("417").param("Input line was too long"));
                    }
                    Some(SessionInput::Quit(reason)) => {
                        self.flush_paste();
                        self.client.send(format!(
                            "ERROR :Closing link: {} (Quit: {})",
                            self.host,
                            crate::sanitize::one_line(&reason)
                        ));
                        return;
                    }
                    None => return,
                },
                                Some(waggle_core::BackendEvent { account, seq, event }) = events.recv() => {
                    self.handle_event(account, event).await;
                    if let Some(ack) = self.account_by_id(account).and_then(|a| a.ack.as_ref()) {
                        ack.handled(seq);
                    }
                    self.monitor_refresh();
                }
                _ = tokio::time::sleep_until(self.paste.as_ref().map(|p| p.deadline).unwrap_or_else(tokio::time::Instant::now)), if self.paste.is_some() => self.flush_paste(),
                _ = self.cancel.cancelled() => return,
            }
        }
    }

    async fn finish(&mut self) {
        self.flush_paste();
        for a in &mut self.accounts {
            if let Some(c) = a.cancel.take() {
                c.cancel();
            }
            a.commands = None;
        }
        if let Some(login) = &self.login {
            self.shared.release(&login.name);
        }
        info!("session ended");
    }

    async fn start(&mut self, login: Option<Login>, identify_with: Option<String>) {
        self.nicks.insert("root".into(), NickOwner::Root);
        self.welcome();
        let mut control = Channel::new(CONTROL_CHANNEL);
        control.topic = Some(CONTROL_TOPIC.into());
        control.topic_by = Some(self.root_nick());
        self.channels.push(control);
        self.join_channel_now(CONTROL_CHANNEL);
        self.root_say(
            "Welcome to the Waggle gateway!\n\n\
             If you've never used Waggle before, please do read the help information using \
             the \x02help\x02 command. Lots of FAQs are answered there.\n\
             If you already have an account on this server, just use the \x02identify\x02 \
             command to identify yourself.",
        );
        if let Some(login) = login {
            self.adopt_login(login, true).await;
        } else if let Some(pass) = identify_with {
            crate::root::run_line(self, &["identify".to_string(), pass]).await;
        }
    }

    fn welcome(&self) {
        let name = &self.shared.config.name;
        let version = env!("CARGO_PKG_VERSION");
        self.send(
            self.numeric("001")
                .param(format!("Welcome to the Waggle gateway, {}", self.nick)),
        );
        self.send(
            self.numeric("002")
                .param(format!("Host {name} is running Waggle {version}.")),
        );
        self.send(
            self.numeric("003")
                .param("Waggle, an IRC gateway to instant messaging networks"),
        );
        self.send(
            self.numeric("004")
                .params([name.as_str(), version, "aisRw", "imnpstv"]),
        );
        let tokens = [
            "PREFIX=(ohv)@%+".to_string(),
            "CHANTYPES=&#".into(),
            "CHANMODES=,,,imnpst".into(),
            format!("NICKLEN={}", crate::nick::NICKLEN),
            format!("CHANNELLEN={}", crate::nick::CHANNELLEN),
            format!("NETWORK={}", self.shared.config.network),
            "SAFELIST".into(),
            "CASEMAPPING=rfc1459".into(),
            "MAXTARGETS=1".into(),
            "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,NAMES:,WHOIS:1,KICK:1".into(),
            "AWAYLEN=200".into(),
            "TOPICLEN=390".into(),
            "BOT=B".into(),
            format!("MONITOR={}", monitor::MONITOR_LIMIT),
        ];
        // At most 12 tokens a line keeps every 005 within IRC's 15 parameters.
        for chunk in tokens.chunks(12) {
            self.send(
                self.numeric("005")
                    .params(chunk)
                    .param("are supported by this server"),
            );
        }
        self.motd();
    }

    /// Send the MOTD (375/372/376).
    pub(crate) fn motd(&self) {
        let name = &self.shared.config.name;
        self.send(
            self.numeric("375")
                .param(format!("- {name} Message Of The Day - ")),
        );
        for line in &self.shared.motd {
            self.send(self.numeric("372").param(format!("- {line}")));
        }
        self.send(self.numeric("376").param("End of /MOTD command."));
    }

    /// Handle a client line; with labeled-response, collect its replies and send
    /// them labeled: one line tagged, several in a batch, none as an ACK.
    async fn handle_labeled(&mut self, msg: Message) {
        let label = msg
            .tags
            .iter()
            .flatten()
            .rev()
            .find(|t| t.0 == "label")
            .and_then(|t| t.1.clone())
            .filter(|l| !l.is_empty() && l.len() <= 64 && self.caps.has(Cap::LabeledResponse));
        let Some(label) = label else {
            self.handle_irc(msg).await;
            return;
        };
        self.set_label(Some((label, Vec::new())));
        self.handle_irc(msg).await;
        let Some((label, lines)) = self.set_label(None) else {
            return;
        };
        let name = self.shared.config.name.clone();
        match lines.len() {
            0 => {
                self.client
                    .line(Line::new("ACK").prefix(name).tag("label", label));
            }
            1 => {
                for l in lines {
                    self.send(l.tag("label", label.clone()));
                }
            }
            _ if self.caps.has(Cap::Batch) => {
                let reference = format!("l{}", self.next_batch);
                self.next_batch += 1;
                self.client.line(
                    Line::new("BATCH")
                        .prefix(&name)
                        .tag("label", label)
                        .param(format!("+{reference}"))
                        .param("labeled-response"),
                );
                for l in lines {
                    self.send(l.tag("batch", reference.clone()));
                }
                self.client.line(
                    Line::new("BATCH")
                        .prefix(&name)
                        .param(format!("-{reference}")),
                );
            }
            _ => {
                for l in lines {
                    self.send(l);
                }
            }
        }
    }

    /// Queue a line for the client outside any labeled reply (deliveries).
    pub(crate) fn send_unlabeled(&self, line: Line) {
        self.emit(line);
    }

    /// Queue a line for the client, dropping tags it did not ask for.
    pub(crate) fn send(&self, line: Line) {
        if let Ok(mut guard) = self.label.lock()
            && let Some((_, lines)) = guard.as_mut()
        {
            lines.push(line);
            return;
        }
        self.emit(line);
    }

    fn set_label(&self, value: Option<(String, Vec<Line>)>) -> Option<(String, Vec<Line>)> {
        match self.label.lock() {
            Ok(mut guard) => std::mem::replace(&mut *guard, value),
            Err(_) => None,
        }
    }

    fn emit(&self, line: Line) {
        let line = if line.has_tag("time")
            && !self.caps.has(Cap::ServerTime)
            && !self.caps.has(Cap::MessageTags)
        {
            line.without_tags()
        } else {
            line
        };
        self.client.line(line);
    }

    /// A numeric reply addressed to the user.
    pub(crate) fn numeric(&self, code: &str) -> Line {
        Line::new(code)
            .prefix(&self.shared.config.name)
            .param(&self.nick)
    }

    pub(crate) fn my_mask(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }

    pub(crate) fn root_nick(&self) -> String {
        self.setting("root_nick").unwrap_or("root").to_string()
    }

    pub(crate) fn root_mask(&self) -> String {
        format!("{0}!{0}@{1}", self.root_nick(), self.shared.config.name)
    }

    /// Root speaks: in the control channel when the user is there, else privately.
    /// Several lines become several messages.
    pub(crate) fn root_say(&self, text: &str) {
        let target = if self.channel(CONTROL_CHANNEL).is_some_and(|c| c.joined) {
            CONTROL_CHANNEL.to_string()
        } else {
            self.nick.clone()
        };
        let mask = self.root_mask();
        for line in text.split('\n') {
            let line = if line.is_empty() { " " } else { line };
            self.send(
                Line::new("PRIVMSG")
                    .prefix(&mask)
                    .param(&target)
                    .param(line),
            );
        }
    }

    /// A global setting's effective value.
    pub(crate) fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .map(String::as_str)
            .or_else(|| settings::find(settings::GLOBAL, &[], name).and_then(|d| d.default))
    }

    /// A global boolean setting.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.setting(name)
            .and_then(settings::parse_bool)
            .unwrap_or(false)
    }

    pub(crate) fn channel(&self, name: &str) -> Option<&Channel> {
        let lower = crate::nick::irc_lower(name);
        self.channels
            .iter()
            .find(|c| crate::nick::irc_lower(&c.name) == lower)
    }

    pub(crate) fn channel_mut(&mut self, name: &str) -> Option<&mut Channel> {
        let lower = crate::nick::irc_lower(name);
        self.channels
            .iter_mut()
            .find(|c| crate::nick::irc_lower(&c.name) == lower)
    }

    pub(crate) fn account_by_id(&self, id: AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub(crate) fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.id == id)
    }

    /// An account by number in `account list`, tag, or protocol name (first match).
    pub(crate) fn find_account(&self, key: &str) -> Option<AccountId> {
        if let Ok(n) = key.parse::<usize>() {
            return self.accounts.get(n).map(|a| a.id);
        }
        self.accounts
            .iter()
            .find(|a| a.rec.tag.eq_ignore_ascii_case(key))
            .or_else(|| {
                self.accounts
                    .iter()
                    .find(|a| a.rec.protocol.eq_ignore_ascii_case(key))
            })
            .or_else(|| {
                self.accounts
                    .iter()
                    .find(|a| a.rec.handle.eq_ignore_ascii_case(key))
            })
            .map(|a| a.id)
    }

    /// Extra account settings of a protocol.
    pub(crate) fn protocol_settings(&self, protocol: &str) -> &'static [SettingDef] {
        self.shared
            .protocols
            .get(protocol)
            .map(|b| b.settings())
            .unwrap_or(&[])
    }

    /// The contact behind a nick.
    pub(crate) fn contact_by_nick(&self, nick: &str) -> Option<&ContactEntry> {
        match self.nicks.get(&crate::nick::irc_lower(nick)) {
            Some(NickOwner::Contact(a, h)) => self.contacts.get(&(*a, h.clone())),
            _ => None,
        }
    }

    /// Whether the nick is root's.
    pub(crate) fn is_root(&self, nick: &str) -> bool {
        crate::nick::irc_lower(nick) == crate::nick::irc_lower(&self.root_nick())
    }

    /// Whether the session is identified.
    pub(crate) fn identified(&self) -> bool {
        self.login.is_some()
    }
}
