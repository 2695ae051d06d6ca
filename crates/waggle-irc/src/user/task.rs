//! The user task's loop: attach and detach clients, hand each input to its
//! handler, flush the outbox (log, then fan out), acknowledge backend events
//! once handled, and keep read positions on disk.

use std::sync::Arc;
use std::time::Duration;

use irc_proto::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};
use waggle_core::{AccountId, BackendEvent, Command, LogEntry, LoggedMessage, StoreError};

use super::cx::Control;
use super::{Cx, NewClient, Start, User, UserInput};
use crate::caps::Cap;
use crate::client::{Client, Render};
use crate::line::Line;
use crate::outbox::{ClientId, Out, Outbox, To};
use crate::server::Shared;

mod batches;

/// A message's log entry and what appending it gave.
type Appended = (LogEntry, Result<Option<LoggedMessage>, StoreError>);

/// How often changed read positions are written.
const POSITION_INTERVAL: Duration = Duration::from_secs(1);
/// How long a message waits for room in a busy account's queue.
const QUEUE_PATIENCE: Duration = Duration::from_secs(30);
/// How often a running user checks the admin did not delete them.
const VALIDITY_INTERVAL: Duration = Duration::from_secs(15);

/// The task that owns a user.
pub(super) struct Task {
    pub user: User,
    pub clients: Vec<Client>,
    pub out: Outbox,
    pub ctl: Control,
    rx: mpsc::Receiver<UserInput>,
    events: mpsc::Receiver<BackendEvent>,
    /// Handed over: every input goes to this user task now.
    forward: Option<mpsc::Sender<UserInput>>,
    /// The labeled command being handled: its client, label and reply lines.
    label: Option<(ClientId, String, Vec<Line>)>,
    /// Read positions changed since they were last written.
    positions_dirty: bool,
    /// Messages the user may still send to IM networks right now (`[flood]`).
    send_tokens: f64,
    send_refill: Instant,
    /// The user was told they are being slowed down, in this burst.
    told_slow: bool,
}

/// Start a user task; its first input is normally the client that started it.
pub(crate) fn spawn(shared: Arc<Shared>, start: Start) -> mpsc::Sender<UserInput> {
    let (tx, rx) = mpsc::channel(64);
    let (events_tx, events) = mpsc::channel(1024);
    let name = match &start {
        Start::Login(l) | Start::Unattended(l) => l.name.clone(),
        Start::Anonymous => String::new(),
    };
    // Empty until known: an anonymous session is named when it registers
    // or identifies (see `adopt_login`).
    let span = info_span!("user", name = tracing::field::Empty);
    if !name.is_empty() {
        span.record("name", tracing::field::display(&name));
    }
    let user = User {
        cancel: shared.shutdown.child_token(),
        tracker: shared.tracker.clone(),
        shared: shared.clone(),
        nick: name,
        user: String::new(),
        realname: String::new(),
        host: String::new(),
        cfg: Default::default(),
        detached: false,
        bot: false,
        tabular: false,
        watches: Default::default(),
        login: None,
        settings: Default::default(),
        accounts: Vec::new(),
        next_account: 0,
        contacts: Default::default(),
        contacts_unsaved: Default::default(),
        nicks: Default::default(),
        channels: Vec::new(),
        questions: Vec::new(),
        adhoc: Default::default(),
        sent_ids: Default::default(),
        scratch: Default::default(),
        self_tx: tx.downgrade(),
        events_tx,
    };
    let task = Task {
        user,
        clients: Vec::new(),
        out: Outbox::default(),
        ctl: Control::default(),
        rx,
        events,
        forward: None,
        label: None,
        positions_dirty: false,
        send_tokens: f64::from(shared.config.flood_burst.max(1)),
        send_refill: Instant::now(),
        told_slow: false,
    };
    shared.tracker.spawn(task.run(start).instrument(span));
    tx
}

impl Task {
    /// A context for handling input from `origin` (or none).
    pub fn cx(&mut self, origin: Option<ClientId>) -> Cx<'_> {
        let client = origin.and_then(|id| self.clients.iter_mut().find(|c| c.id == id));
        Cx {
            u: &mut self.user,
            client,
            out: &mut self.out,
            ctl: &mut self.ctl,
            reply_to: None,
        }
    }

    async fn run(mut self, start: Start) {
        match start {
            Start::Unattended(login) => {
                self.begin_unattended(login).await;
            }
            Start::Anonymous | Start::Login(_) => {
                // The spawner sends the first client right away.
                let Some(UserInput::Attach(first)) = self.rx.recv().await else {
                    return;
                };
                let login = match start {
                    Start::Login(l) => Some(l),
                    _ => None,
                };
                self.begin(*first, login).await;
            }
        }
        self.serve().await;
        self.finish().await;
    }

    async fn serve(&mut self) {
        let mut positions = tokio::time::interval(POSITION_INTERVAL);
        let mut validity = tokio::time::interval(VALIDITY_INTERVAL);
        validity.reset();
        loop {
            if self.ctl.end.is_some() || self.should_end() {
                return;
            }
            let paste = self
                .clients
                .iter()
                .filter_map(|c| c.paste.as_ref().map(|p| p.deadline))
                .min();
            tokio::select! {
                input = self.rx.recv() => match input {
                    Some(input) => self.handle_inputs(input).await,
                    None => return,
                },
                Some(ev) = self.events.recv(), if self.forward.is_none() => {
                    self.handle_events(ev).await;
                }
                _ = tokio::time::sleep_until(paste.unwrap_or_else(Instant::now)), if paste.is_some() => {
                    self.flush_due_pastes().await;
                }
                _ = positions.tick(), if self.positions_dirty => self.save_positions().await,
                _ = validity.tick(), if self.user.login.is_some() => self.check_valid().await,
                _ = self.user.cancel.cancelled() => return,
            }
        }
    }

    /// After a bug stopped the handling of one input half-way: drop what it left
    /// behind, tell every client, and go on serving the user.
    async fn recover(&mut self, what: &str) {
        tracing::error!(what, "handling failed with an internal error");
        self.out.take();
        self.label = None;
        self.ctl = Control::default();
        let text = format!(
            "Internal error while handling {what}; it may not have been carried out completely. Please report it."
        );
        self.cx(None).root_say(&text);
        self.flush(None).await;
    }

    /// Whether the task has nothing left to do.
    fn should_end(&self) -> bool {
        self.clients.is_empty() && self.user.login.is_none() && self.forward.is_none()
    }

    fn ack(&self, account: AccountId, seq: u64) {
        if let Some(ack) = self
            .user
            .account_by_id(account)
            .and_then(|a| a.ack.as_ref())
        {
            ack.handled(seq);
        }
    }

    async fn input(&mut self, input: UserInput) {
        if let Some(to) = &self.forward {
            let done = matches!(input, UserInput::Quit(..) | UserInput::Gone(..));
            if to.send(input).await.is_err() || done {
                self.forward = None;
                self.clients.clear();
            }
            return;
        }
        match input {
            UserInput::Attach(new) => self.attach(*new).await,
            UserInput::Line(id, msg) => {
                self.line(id, *msg).await;
            }
            UserInput::TooLong(id) => {
                let line = self.user.numeric("417").param("Input line was too long");
                self.out.line(To::Client(id), line);
                self.flush(Some(id)).await;
            }
            UserInput::Quit(id, reason) => {
                self.flush_paste_of(id).await;
                if let Some(c) = self.clients.iter().find(|c| c.id == id) {
                    c.tx.send(format!(
                        "ERROR :Closing link: {} (Quit: {})",
                        self.user.host,
                        crate::sanitize::one_line(&reason)
                    ));
                }
                self.detach(id, "Quit").await;
            }
            UserInput::Gone(id, why) => {
                self.flush_paste_of(id).await;
                self.detach(id, why).await;
            }
        }
    }

    /// Handle one client line, labeled when it carries a label the client may use.
    async fn line(&mut self, id: ClientId, msg: Message) {
        let Some(client) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        let label = msg
            .tags
            .iter()
            .flatten()
            .rev()
            .find(|t| t.0 == "label")
            .and_then(|t| t.1.clone())
            .filter(|l| !l.is_empty() && l.len() <= 64 && client.has(Cap::LabeledResponse));
        if let Some(label) = label {
            self.label = Some((id, label, Vec::new()));
        }
        self.cx(Some(id)).handle_irc(msg).await;
        self.flush(Some(id)).await;
        self.finish_label();
        self.after_input(Some(id)).await;
    }

    /// Carry out what the handler asked for and refresh MONITOR lists.
    pub async fn after_input(&mut self, origin: Option<ClientId>) {
        if let Some((to, greeting)) = self.ctl.handover.take()
            && let Some(id) = origin
        {
            self.hand_over(id, to, greeting).await;
        }
        if let Some(reason) = self.ctl.end.clone() {
            for c in &self.clients {
                c.tx.send(format!(
                    "ERROR :Closing link: {} ({reason})",
                    self.user.host
                ));
                c.closed.cancel();
            }
            self.clients.clear();
        }
        self.monitor_refresh();
    }

    /// Send the rendered output: log what must be logged, then fan out.
    pub async fn flush(&mut self, origin: Option<ClientId>) {
        let mut items = self.out.take();
        if items.is_empty() {
            return;
        }
        let logged = self.log_messages(&mut items).await;
        let tz = self.user.cfg.timezone;
        let timestamps = self.user.cfg.display_timestamps;
        let addressed = format!("{}{}", self.user.nick, self.user.cfg.to_char);
        let server = self.user.shared.config.name.clone();
        for ((to, out), logged) in items.into_iter().zip(logged) {
            let out = match out {
                Out::Message(mut d) => {
                    if let Some((entry, result)) = logged {
                        match result {
                            Ok(Some(logged)) => {
                                d.seq = Some(logged.seq);
                                self.user.note_cursor(&entry);
                            }
                            // Already logged, so already shown: a catch-up or a
                            // room reflecting our own message.
                            Ok(None) => continue,
                            Err(e) => warn!(error = %e, "message log append failed"),
                        }
                    }
                    Out::Message(d)
                }
                Out::Command {
                    account,
                    command,
                    target,
                } => {
                    self.send_backend(origin, account, *command, &target).await;
                    continue;
                }
                Out::ReadMarker(target) => {
                    if !self.clients.iter().any(|c| c.has(Cap::ReadMarker)) {
                        continue;
                    }
                    let conversation = self.user.conversation_of(&target).unwrap_or_else(|| {
                        waggle_core::Conversation::Local(crate::nick::irc_lower(&target))
                    });
                    let h = self.user.log_handle();
                    let at = h
                        .log
                        .read_marker(h.user, &conversation)
                        .await
                        .ok()
                        .flatten();
                    Out::Capable(
                        Cap::ReadMarker,
                        super::history::markread_line(&server, &target, at),
                    )
                }
                other => other,
            };
            let render = Render {
                server: &server,
                timestamps,
                tz,
                addressed: &addressed,
            };
            self.fan_out(origin, to, &out, &render);
        }
    }

    /// Append every message of `items` that is to be logged, all in one go (a
    /// store commits them together), taking their entries out: for each item its
    /// entry and the append's outcome, `None` when it had nothing to log.
    async fn log_messages(&self, items: &mut [(To, Out)]) -> Vec<Option<Appended>> {
        let mut to_log = Vec::with_capacity(items.len());
        let mut entries = Vec::new();
        for (_, out) in items.iter_mut() {
            let entry = match out {
                Out::Message(d) => d.log.take(),
                _ => None,
            };
            to_log.push(entry.is_some());
            entries.extend(entry);
        }
        if entries.is_empty() {
            return to_log.into_iter().map(|_| None).collect();
        }
        let h = self.user.log_handle();
        let mut results = h.log.append_all(h.user, &h.key, &entries).await.into_iter();
        let mut entries = entries.into_iter();
        to_log
            .into_iter()
            .map(|logged| {
                if !logged {
                    return None;
                }
                let entry = entries.next()?;
                let result = results
                    .next()
                    .unwrap_or_else(|| Err(StoreError::Database("the log gave no outcome".into())));
                Some((entry, result))
            })
            .collect()
    }

    fn fan_out(&mut self, origin: Option<ClientId>, to: To, out: &Out, render: &Render<'_>) {
        let seq = match out {
            Out::Message(d) => d.seq,
            _ => None,
        };
        for c in &mut self.clients {
            let wanted = match to {
                To::Origin => origin.is_none_or(|o| o == c.id),
                To::All => true,
                To::Echo => origin != Some(c.id) || c.has(Cap::EchoMessage),
                To::Client(id) => id == c.id,
                To::AllUnlabeled => true,
            };
            if !wanted {
                continue;
            }
            if let Some(seq) = seq
                && seq > c.delivered
            {
                c.delivered = seq;
                self.positions_dirty = true;
            }
            match &mut self.label {
                Some((id, _, lines)) if *id == c.id && to != To::AllUnlabeled => {
                    lines.extend(c.render(out, render))
                }
                _ => c.send(out, render),
            }
        }
    }

    /// Send the labeled command's replies: an ACK for none, the line itself for
    /// one, a `labeled-response` batch for more (or the one batch they form).
    fn finish_label(&mut self) {
        let Some((id, label, lines)) = self.label.take() else {
            return;
        };
        let Some(client) = self.clients.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let server = self.user.shared.config.name.clone();
        let one_batch = lines.len() >= 2
            && lines.first().is_some_and(|l| l.command() == "BATCH")
            && lines.last().is_some_and(|l| l.command() == "BATCH")
            && lines
                .iter()
                .filter(|l| l.command() == "BATCH" && l.tag_value("batch").is_none())
                .count()
                == 2;
        match lines.len() {
            0 => client.write(Line::new("ACK").prefix(server).tag("label", label)),
            1 => {
                for l in lines {
                    client.write(l.tag("label", label.clone()));
                }
            }
            _ if one_batch => {
                for (i, l) in lines.into_iter().enumerate() {
                    client.write(if i == 0 {
                        l.tag("label", label.clone())
                    } else {
                        l
                    });
                }
            }
            _ if client.has(Cap::Batch) => {
                let reference = client.batch_ref();
                client.write(
                    Line::new("BATCH")
                        .prefix(&server)
                        .tag("label", label)
                        .param(format!("+{reference}"))
                        .param("labeled-response"),
                );
                for l in lines {
                    client.write(l.tag("batch", reference.clone()));
                }
                client.write(
                    Line::new("BATCH")
                        .prefix(&server)
                        .param(format!("-{reference}")),
                );
            }
            _ => {
                for l in lines {
                    client.write(l);
                }
            }
        }
    }

    /// Wait for the `[flood]` rate before a message goes to an IM network: a
    /// user sending faster is slowed down (never dropped) and told once.
    async fn throttle_send(&mut self, origin: Option<ClientId>) {
        let cfg = &self.user.shared.config;
        let (burst, rate) = (
            f64::from(cfg.flood_burst.max(1)),
            f64::from(cfg.flood_rate.max(1)),
        );
        let now = Instant::now();
        self.send_tokens = (self.send_tokens
            + now.duration_since(self.send_refill).as_secs_f64() * rate)
            .min(burst);
        self.send_refill = now;
        if self.send_tokens >= 1.0 {
            self.send_tokens -= 1.0;
            if self.send_tokens >= burst / 2.0 {
                self.told_slow = false;
            }
            return;
        }
        if !self.told_slow {
            self.told_slow = true;
            let line = Line::new("NOTICE")
                .prefix(&cfg.name)
                .param(&self.user.nick)
                .param(format!(
                    "You are sending more than {} messages a second; the rest follow at that rate",
                    cfg.flood_rate
                ));
            if let Some(c) = self.clients.iter().find(|c| Some(c.id) == origin) {
                c.write(line);
            }
        }
        let wait = (1.0 - self.send_tokens) / rate;
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
        self.send_tokens = 0.0;
        self.send_refill = Instant::now();
    }

    /// Send a command to an account, reporting a refusal to the origin.
    async fn send_backend(
        &mut self,
        origin: Option<ClientId>,
        account: AccountId,
        command: Command,
        target: &str,
    ) {
        let result = if matches!(
            command,
            Command::SendMessage { .. } | Command::SendRoomMessage { .. }
        ) {
            self.throttle_send(origin).await;
            // Messages wait for room in the account's queue rather than fail.
            match self.user.command_queue(account, &command) {
                Ok(tx) => match tokio::time::timeout(QUEUE_PATIENCE, tx.send(command)).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(super::accounts::SendError::Offline),
                },
                Err(e) => Err(e),
            }
        } else {
            self.user.send_command(account, command)
        };
        if let Err(e) = result {
            let mut cx = self.cx(origin);
            cx.send_failed(target, e);
            let items = self.out.take();
            let server = self.user.shared.config.name.clone();
            let render = Render {
                server: &server,
                timestamps: false,
                tz: super::settings::Timezone::Local,
                addressed: "",
            };
            for (to, out) in items {
                self.fan_out(origin, to, &out, &render);
            }
        }
    }

    async fn flush_due_pastes(&mut self) {
        let now = Instant::now();
        let due: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|c| c.paste.as_ref().is_some_and(|p| p.deadline <= now))
            .map(|c| c.id)
            .collect();
        for id in due {
            self.flush_paste_of(id).await;
        }
    }

    async fn flush_paste_of(&mut self, id: ClientId) {
        self.cx(Some(id)).flush_paste();
        self.flush(Some(id)).await;
    }

    /// A client leaves. An identified user stays (away while no client is
    /// attached); an anonymous session ends with its last client.
    pub async fn detach(&mut self, id: ClientId, why: &str) {
        let Some(pos) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let client = self.clients.remove(pos);
        client.closed.cancel();
        info!(
            reason = why,
            clients = self.clients.len(),
            "client detached"
        );
        self.save_positions_with(Some(&client)).await;
        if self.clients.is_empty() && self.user.login.is_some() {
            self.user.detached = true;
            self.cx(None).broadcast_presence();
            self.flush(None).await;
        }
    }

    /// Read positions moved: write them at the next tick.
    pub fn positions_dirty_mark(&mut self) {
        self.positions_dirty = true;
    }

    /// Save the contacts whose records changed, and tell the clients if that failed.
    async fn save_unsaved_contacts(&mut self) {
        if self.user.contacts_unsaved.is_empty() {
            return;
        }
        self.cx(None).save_unsaved_contacts().await;
        self.flush(None).await;
    }

    /// Write the read positions of every client name that moved on.
    async fn save_positions(&mut self) {
        self.save_positions_with(None).await;
    }

    async fn save_positions_with(&mut self, leaving: Option<&Client>) {
        let Some(login) = &self.user.login else {
            return;
        };
        let mut by_name: std::collections::BTreeMap<String, i64> = Default::default();
        for c in self.clients.iter().chain(leaving) {
            if c.delivered > c.saved {
                let e = by_name.entry(c.name.clone()).or_insert(0);
                *e = (*e).max(c.delivered);
            }
        }
        self.positions_dirty = false;
        if by_name.is_empty() {
            return;
        }
        let positions: Vec<(String, i64)> = by_name.into_iter().collect();
        match self
            .user
            .shared
            .log
            .save_positions(login.id, &positions)
            .await
        {
            Ok(()) => {
                for c in &mut self.clients {
                    if let Some((_, p)) = positions.iter().find(|(n, _)| *n == c.name) {
                        c.saved = c.saved.max(*p);
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "saving read positions failed");
                self.positions_dirty = true;
            }
        }
    }

    /// End the user when the admin deleted them or replaced their key.
    async fn check_valid(&mut self) {
        let Some(login) = &self.user.login else {
            return;
        };
        match self
            .user
            .shared
            .store
            .login_valid(login.id, &login.key)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                info!("the user was deleted or their password reset by the administrator");
                self.ctl.end = Some("Your account was removed by the administrator".into());
                self.after_input(None).await;
            }
            Err(e) => warn!(error = %e, "checking the login failed"),
        }
    }

    fn monitor_refresh(&mut self) {
        for c in &mut self.clients {
            for line in super::monitor::refresh(&self.user, c) {
                c.write(line);
            }
        }
    }

    async fn finish(&mut self) {
        let ids: Vec<ClientId> = self.clients.iter().map(|c| c.id).collect();
        for id in ids {
            self.cx(Some(id)).flush_paste();
            self.flush(Some(id)).await;
        }
        self.save_unsaved_contacts().await;
        self.save_positions().await;
        for a in &mut self.user.accounts {
            if let Some(c) = a.cancel.take() {
                c.cancel();
            }
            a.commands = None;
        }
        if let (Some(login), Some(me)) = (&self.user.login, self.user.self_tx.upgrade()) {
            self.user.shared.users.release(login.id, &me);
        }
        for c in &self.clients {
            c.closed.cancel();
        }
        info!("user task ended");
    }

    /// Hand the origin client over to a running task of the user it identified as.
    async fn hand_over(
        &mut self,
        id: ClientId,
        to: mpsc::Sender<UserInput>,
        greeting: Option<String>,
    ) {
        let Some(pos) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let accounts = self.take_accounts();
        let client = self.clients.remove(pos);
        let view = self
            .user
            .channels
            .iter()
            .filter(|c| c.joined)
            .map(|c| (c.name.clone(), c.members.keys().cloned().collect()))
            .collect();
        let new = NewClient {
            id: client.id,
            tx: client.tx.clone(),
            closed: client.closed.clone(),
            info: super::ClientInfo {
                nick: self.user.nick.clone(),
                user: self.user.user.clone(),
                realname: self.user.realname.clone(),
                host: self.user.host.clone(),
                peer: client.peer,
                caps: client.caps,
                cap_302: client.cap_302,
                login: None,
                identify_with: None,
                client_name: client.name.clone(),
            },
            welcomed: true,
            view,
            greeting,
            accounts,
        };
        if to.send(UserInput::Attach(Box::new(new))).await.is_ok() {
            self.forward = Some(to);
            // Keep the client listed so the task lives until it leaves.
            self.clients.push(client);
        } else {
            client.tx.send(format!(
                "ERROR :Closing link: {} (your session ended)",
                self.user.host
            ));
            client.closed.cancel();
        }
    }

    /// This session's accounts, switched off, to be kept by the user it
    /// identified as (`identify -force` keeps them, as in BitlBee).
    fn take_accounts(&mut self) -> Vec<(waggle_core::AccountRecord, bool)> {
        let mut out = Vec::new();
        for mut a in std::mem::take(&mut self.user.accounts) {
            let was_on = a.is_active();
            if let Some(c) = a.cancel.take() {
                c.cancel();
            }
            a.rec.row = None;
            out.push((a.rec, was_on));
        }
        out
    }
}
