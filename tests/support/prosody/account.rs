//! A backend driven directly, without IRC (the XMPP backend unless a test
//! gives another): an account run through
//! `Backend::run` (one attempt) or the core's reconnect supervisor, with the
//! test reading its events and sending it commands. The test plays the core:
//! each event counts as handled (logged) as soon as it is read, unless the test
//! holds the acknowledgements back ([`BackendAccount::hold_acks`]) to see what
//! the backend does before the core is done with an event.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use waggle_core::reconnect::{Backoff, ReconnectPolicy, supervise};
use waggle_core::{
    AccountContext, AccountId, AccountSpec, Backend, BackendError, BackendEvent, Command, Event,
    EventAck, Secret,
};
use waggle_xmpp::XmppBackend;

use super::{DOMAIN, Prosody};

/// How long one wait for an event lasts.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// An account spec for `user@localhost` on `prosody` (STARTTLS, test CA),
/// with `extra` settings replacing or adding to those.
pub fn spec(prosody: &Prosody, user: &str, password: &str, extra: &[(&str, &str)]) -> AccountSpec {
    let mut settings: std::collections::BTreeMap<String, String> =
        prosody.account_settings().into_iter().collect();
    for (k, v) in extra {
        if v.is_empty() {
            settings.remove(*k);
        } else {
            settings.insert(k.to_string(), v.to_string());
        }
    }
    AccountSpec {
        id: AccountId(1),
        protocol: "jabber".into(),
        handle: format!("{user}@{DOMAIN}"),
        password: Secret(password.into()),
        settings,
        archive_cursors: Default::default(),
    }
}

/// A running account.
pub struct BackendAccount {
    events: mpsc::Receiver<BackendEvent>,
    /// Plays the core: every event is handled as soon as it is read, unless held.
    ack: EventAck,
    /// Acknowledgements are held back: read events are not marked handled.
    holding: bool,
    /// The number of the last event read.
    last_seq: u64,
    commands: mpsc::Sender<Command>,
    cancel: CancellationToken,
    task: Option<JoinHandle<Option<Result<(), BackendError>>>>,
    seen: Vec<Event>,
}

impl BackendAccount {
    fn context(spec: AccountSpec) -> (AccountContext, Self) {
        let (cmd_tx, commands) = mpsc::channel(64);
        let (events, ev_rx) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        let (ctx, ack) = AccountContext::new(spec, commands, events, cancel.clone());
        let me = BackendAccount {
            events: ev_rx,
            ack,
            commands: cmd_tx,
            cancel,
            task: None,
            seen: vec![],
            holding: false,
            last_seq: 0,
        };
        (ctx, me)
    }

    /// One `Backend::run` of `spec`; [`BackendAccount::result`] gives its outcome.
    pub fn run<B: Backend>(backend: Arc<B>, spec: AccountSpec) -> BackendAccount {
        let (mut ctx, mut me) = Self::context(spec);
        me.task = Some(tokio::spawn(
            async move { Some(backend.run(&mut ctx).await) },
        ));
        me
    }

    /// `spec` under the core's reconnect supervisor with a fixed `delay_secs` backoff.
    pub fn supervised<B: Backend>(
        backend: Arc<B>,
        spec: AccountSpec,
        delay_secs: u64,
    ) -> BackendAccount {
        let (ctx, mut me) = Self::context(spec);
        let policy = ReconnectPolicy {
            auto_reconnect: true,
            backoff: delay_secs
                .to_string()
                .parse()
                .unwrap_or_else(|_| Backoff::default()),
        };
        me.task = Some(tokio::spawn(async move {
            supervise(backend, ctx, policy).await;
            None
        }));
        me
    }

    /// Log `user` in with default settings and wait for `LoggedIn`.
    pub async fn online(prosody: &Prosody, user: &str, password: &str) -> Result<BackendAccount> {
        let mut a = Self::run(
            Arc::new(XmppBackend::new()),
            spec(prosody, user, password, &[]),
        );
        a.expect("LoggedIn", |e| matches!(e, Event::LoggedIn))
            .await?;
        Ok(a)
    }

    /// Send a command.
    pub async fn send(&self, cmd: Command) -> Result<()> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| anyhow!("the account is gone"))
    }

    /// Every event seen so far.
    pub fn seen(&self) -> &[Event] {
        &self.seen
    }

    /// From now on, events read are not marked handled (as if the core were
    /// still logging them) until [`BackendAccount::release_acks`].
    pub fn hold_acks(&mut self) {
        self.holding = true;
    }

    /// Mark every event read so far handled, and each one read from now on.
    pub fn release_acks(&mut self) {
        self.holding = false;
        self.ack.handled(self.last_seq);
    }

    fn read(&mut self, seq: u64, event: Event) {
        self.last_seq = self.last_seq.max(seq);
        if !self.holding {
            self.ack.handled(seq);
        }
        self.seen.push(event);
    }

    /// Wait for an event matching `f`; earlier ones are kept in [`BackendAccount::seen`].
    pub async fn expect<F: Fn(&Event) -> bool>(&mut self, what: &str, f: F) -> Result<Event> {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let start = self.seen.len();
        loop {
            let got = tokio::time::timeout_at(deadline, self.events.recv()).await;
            match got {
                Ok(Some(BackendEvent { seq, event: e, .. })) => {
                    self.read(seq, e.clone());
                    if f(&e) {
                        return Ok(e);
                    }
                }
                Ok(None) => bail!(
                    "events ended waiting for {what}; seen: {:#?}",
                    &self.seen[start..]
                ),
                Err(_) => bail!(
                    "timed out waiting for {what}; seen: {:#?}",
                    &self.seen[start..]
                ),
            }
        }
    }

    /// Whether the run (or the supervisor) is still going.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Wait until the run (or the supervisor) ends by itself, reading what it
    /// emits on the way; fails if it is still going after [`EVENT_TIMEOUT`].
    pub async fn wait_ended(&mut self) -> Result<()> {
        let task = self.task.take().ok_or_else(|| anyhow!("no task"))?;
        let ended = tokio::time::timeout(EVENT_TIMEOUT, async {
            tokio::pin!(task);
            loop {
                tokio::select! {
                    r = &mut task => return r,
                    Some(BackendEvent { seq, event, .. }) = self.events.recv() => {
                        self.read(seq, event);
                    }
                }
            }
        })
        .await;
        match ended {
            Ok(Ok(_)) => {
                while let Ok(BackendEvent { seq, event: e, .. }) = self.events.try_recv() {
                    self.read(seq, e);
                }
                Ok(())
            }
            Ok(Err(e)) => bail!("backend task failed: {e}"),
            Err(_) => bail!("still running; seen: {:#?}", self.seen),
        }
    }

    /// Wait for the outcome of a single [`BackendAccount::run`].
    pub async fn result(&mut self) -> Result<Result<(), BackendError>> {
        let task = self.task.take().ok_or_else(|| anyhow!("no task"))?;
        match tokio::time::timeout(EVENT_TIMEOUT, task).await {
            Ok(Ok(Some(r))) => {
                while let Ok(BackendEvent { seq, event: e, .. }) = self.events.try_recv() {
                    self.read(seq, e);
                }
                Ok(r)
            }
            Ok(Ok(None)) => bail!("a supervised account has no single result"),
            Ok(Err(e)) => bail!("backend task failed: {e}"),
            Err(_) => bail!("the backend did not finish; seen: {:#?}", self.seen),
        }
    }

    /// Log off and wait for the task to end.
    pub async fn stop(mut self) -> Result<()> {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(EVENT_TIMEOUT, t).await??;
        }
        Ok(())
    }
}

impl Drop for BackendAccount {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
