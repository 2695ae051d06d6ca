//! The `test` protocol: a backend whose IM server is the test itself.
//!
//! [`TestBackend::run`] registers the running account in a [`TestHub`], keyed by
//! the account's handle. The test takes a [`TestAccountHandle`] from the hub to
//! emit events as the account and to read, in order, every command the gateway
//! sends it.
//!
//! Logging in: the backend emits `LoginProgress { "Connecting" }`, then fails
//! with `BackendError::Auth("Wrong password")` when the password is `wrong`, and
//! otherwise emits `LoggedIn` and forwards commands until it is cancelled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use waggle_core::{
    AccountContext, AccountId, Backend, BackendError, Capabilities, Command, Contact, Event,
    Presence, PresenceState,
};

use crate::DEFAULT_TIMEOUT;

/// The password that makes the test backend refuse to log in.
pub const WRONG_PASSWORD: &str = "wrong";

/// The password that makes the test backend panic on its first run (a bug in
/// a backend), and log in normally after that.
pub const PANIC_ONCE_PASSWORD: &str = "panic-once";

/// A contact with the given handle and presence (no display name, no group).
pub fn contact(handle: &str, state: PresenceState) -> Contact {
    Contact {
        handle: handle.to_string(),
        display_name: None,
        group: None,
        presence: Presence {
            state,
            show: None,
            message: None,
            device: None,
        },
    }
}

/// A command with the gateway's message id taken out, to compare with an
/// expected one (the id is random; tests that care read it from the command).
pub fn strip_id(cmd: Command) -> Command {
    match cmd {
        Command::SendMessage { to, body, kind, .. } => Command::SendMessage {
            to,
            body,
            kind,
            id: None,
        },
        Command::SendRoomMessage {
            room, body, kind, ..
        } => Command::SendRoomMessage {
            room,
            body,
            kind,
            id: None,
        },
        other => other,
    }
}

/// One running account, as the hub knows it.
#[derive(Clone)]
struct Slot {
    id: AccountId,
    password: String,
    events: waggle_core::EventSink,
    /// How far the gateway has handled the account's events.
    handled: watch::Receiver<u64>,
    commands: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Command>>>,
}

#[derive(Default)]
struct HubState {
    /// Accounts running now, by lower-cased handle.
    live: HashMap<String, Slot>,
    /// How many times `run` started for a handle.
    runs: HashMap<String, u32>,
}

/// Where running test accounts register; shared by the backend and the test.
#[derive(Clone)]
pub struct TestHub {
    state: Arc<Mutex<HubState>>,
    changed: watch::Sender<u64>,
}

impl Default for TestHub {
    fn default() -> Self {
        TestHub {
            state: Arc::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl TestHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Forget every account (used when the gateway restarts).
    pub fn clear(&self) {
        {
            let mut st = self.lock();
            st.live.clear();
            st.runs.clear();
        }
        self.bump();
    }

    /// How many times the backend started logging in `handle` (since the last clear).
    pub fn runs(&self, handle: &str) -> u32 {
        self.lock()
            .runs
            .get(&handle.to_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Whether an account with this handle is running (logged in) now.
    pub fn is_live(&self, handle: &str) -> bool {
        self.lock().live.contains_key(&handle.to_lowercase())
    }

    /// The running account with this handle, waiting up to [`DEFAULT_TIMEOUT`] for it
    /// to log in.
    pub async fn account(&self, handle: &str) -> Result<TestAccountHandle> {
        self.account_within(handle, DEFAULT_TIMEOUT).await
    }

    /// [`TestHub::account`] with another timeout.
    pub async fn account_within(
        &self,
        handle: &str,
        timeout: Duration,
    ) -> Result<TestAccountHandle> {
        let key = handle.to_lowercase();
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(slot) = self.lock().live.get(&key).cloned() {
                return Ok(TestAccountHandle {
                    handle: handle.to_string(),
                    slot,
                });
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("test hub closed"),
                Err(_) => bail!("no test account `{handle}' logged in within {timeout:?}"),
            }
        }
    }

    fn started(&self, key: &str) {
        *self.lock().runs.entry(key.to_string()).or_insert(0) += 1;
        self.bump();
    }

    fn register(&self, key: &str, slot: Slot) {
        self.lock().live.insert(key.to_string(), slot);
        self.bump();
    }

    fn unregister(&self, key: &str, id: AccountId) {
        {
            let mut st = self.lock();
            if st.live.get(key).is_some_and(|s| s.id == id) {
                st.live.remove(key);
            }
        }
        self.bump();
    }
}

/// The test's end of one running test account.
#[derive(Clone)]
pub struct TestAccountHandle {
    handle: String,
    slot: Slot,
}

impl std::fmt::Debug for TestAccountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAccountHandle")
            .field("handle", &self.handle)
            .field("id", &self.slot.id)
            .finish()
    }
}

impl TestAccountHandle {
    /// The account's login handle.
    pub fn handle(&self) -> &str {
        &self.handle
    }

    /// The account's id in its session.
    pub fn id(&self) -> AccountId {
        self.slot.id
    }

    /// The IM password the gateway gave the backend.
    pub fn password(&self) -> &str {
        &self.slot.password
    }

    /// Report an event as this account, as its IM server would cause it.
    pub async fn emit(&self, event: Event) -> Result<()> {
        tokio::time::timeout(DEFAULT_TIMEOUT, self.slot.events.emit(event))
            .await
            .context("event queue full")?
            .map(|_| ())
            .ok_or_else(|| anyhow!("the session is gone"))
    }

    /// Report an event and wait until the gateway has handled it (for a message:
    /// logged and shown to whoever is attached), so what the test does next
    /// cannot overtake it.
    pub async fn emit_handled(&self, event: Event) -> Result<()> {
        let seq = tokio::time::timeout(DEFAULT_TIMEOUT, self.slot.events.emit(event))
            .await
            .context("event queue full")?
            .ok_or_else(|| anyhow!("the session is gone"))?;
        let mut handled = self.slot.handled.clone();
        tokio::time::timeout(DEFAULT_TIMEOUT, handled.wait_for(|h| *h >= seq))
            .await
            .context("the gateway did not handle the event in time")?
            .map_err(|_| anyhow!("the session is gone"))?;
        Ok(())
    }

    /// Report a contact with `handle` in presence `state` (no name, no group),
    /// and wait until the gateway has it.
    pub async fn contact(&self, handle: &str, state: PresenceState) -> Result<()> {
        self.emit_handled(Event::ContactUpdated(contact(handle, state)))
            .await
    }

    /// The next command the gateway sent this account, waiting up to [`DEFAULT_TIMEOUT`].
    pub async fn next_command(&self) -> Result<Command> {
        self.next_command_within(DEFAULT_TIMEOUT).await
    }

    /// [`TestAccountHandle::next_command`] with another timeout.
    pub async fn next_command_within(&self, timeout: Duration) -> Result<Command> {
        let mut rx = self.slot.commands.lock().await;
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => bail!("account `{}' stopped", self.handle),
            Err(_) => bail!("no command for `{}' within {timeout:?}", self.handle),
        }
    }

    /// The next command that is not a presence update (`SetPresence` is sent
    /// whenever away or status changes, which many tests don't care about).
    pub async fn next_non_presence_command(&self) -> Result<Command> {
        for _ in 0..100 {
            match self.next_command().await? {
                Command::SetPresence { .. } => continue,
                other => return Ok(other),
            }
        }
        bail!("only presence updates for `{}'", self.handle)
    }

    /// A command already forwarded and not yet read, without waiting.
    pub async fn try_command(&self) -> Option<Command> {
        self.slot.commands.lock().await.try_recv().ok()
    }
}

/// Everything the `test` protocol can do (its default).
pub const ALL_CAPABILITIES: Capabilities = Capabilities {
    rooms: true,
    contact_list: true,
    block: true,
    typing: true,
    room_list: true,
    chat_with: true,
    raw: true,
};

/// The `test` protocol backend.
#[derive(Clone)]
pub struct TestBackend {
    hub: TestHub,
    capabilities: Capabilities,
}

impl Default for TestBackend {
    fn default() -> Self {
        Self::new(TestHub::default())
    }
}

impl TestBackend {
    /// A backend registering its accounts in `hub`, able to do everything.
    pub fn new(hub: TestHub) -> Self {
        Self::with_capabilities(hub, ALL_CAPABILITIES)
    }

    /// A backend that declares only `capabilities` (to see the gateway refuse the rest).
    pub fn with_capabilities(hub: TestHub, capabilities: Capabilities) -> Self {
        TestBackend { hub, capabilities }
    }

    /// The hub its accounts register in.
    pub fn hub(&self) -> &TestHub {
        &self.hub
    }
}

#[async_trait]
impl Backend for TestBackend {
    fn protocol(&self) -> &'static str {
        "test"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn contact_host(&self) -> &'static str {
        "test.example"
    }

    async fn run(&self, ctx: &mut AccountContext) -> Result<(), BackendError> {
        let key = ctx.spec.handle.to_lowercase();
        self.hub.started(&key);
        if !ctx
            .emit(Event::LoginProgress {
                text: "Connecting".into(),
            })
            .await
        {
            return Ok(());
        }
        if ctx.spec.password.0 == PANIC_ONCE_PASSWORD && self.hub.runs(&key) == 1 {
            panic!("the test backend panics as asked");
        }
        if ctx.spec.password.0 == WRONG_PASSWORD {
            return Err(BackendError::Auth("Wrong password".into()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let id = ctx.spec.id;
        self.hub.register(
            &key,
            Slot {
                id,
                password: ctx.spec.password.0.clone(),
                events: ctx.sink(),
                handled: ctx.handled_watch(),
                commands: Arc::new(tokio::sync::Mutex::new(rx)),
            },
        );
        // Unregistered however the run ends: the supervisor may drop this
        // future when the account is switched off.
        let _live = Registered {
            hub: self.hub.clone(),
            key,
            id,
        };
        serve(ctx, tx).await
    }
}

/// Takes a running account off the hub when dropped.
struct Registered {
    hub: TestHub,
    key: String,
    id: AccountId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.hub.unregister(&self.key, self.id);
    }
}

async fn serve(
    ctx: &mut AccountContext,
    tx: mpsc::UnboundedSender<Command>,
) -> Result<(), BackendError> {
    if !ctx.emit(Event::LoggedIn).await {
        return Ok(());
    }
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            cmd = ctx.commands.recv() => match cmd {
                Some(cmd) => {
                    // The test may have dropped its receiver; the account goes on.
                    let _ = tx.send(cmd);
                }
                None => return Ok(()),
            },
        }
    }
}
