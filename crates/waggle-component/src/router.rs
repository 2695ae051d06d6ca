//! Which users are running: localpart → the running account's stanza queue.
//! The connection routes a stanza to the account of its addressee; stanzas for
//! users who are not running are handled by [`crate::offline`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use xmpp_parsers::stanza::Stanza;

/// How many stanzas wait for one account before more are refused.
const ACCOUNT_QUEUE: usize = 256;

/// A running account as the router knows it.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The registration, to tell it from a newer one of the same user.
    pub id: u64,
    /// Where stanzas for it go.
    pub tx: mpsc::Sender<Stanza>,
}

/// The running accounts.
#[derive(Debug, Default)]
pub(crate) struct Router {
    inner: Mutex<Routes>,
}

#[derive(Debug, Default)]
struct Routes {
    next: u64,
    by_localpart: HashMap<String, Route>,
}

/// A running account's place in the router, removed when dropped; the account
/// keeps what its contacts must be told when it goes (unavailable presences).
pub(crate) struct Registration {
    router: Arc<Router>,
    localpart: String,
    id: u64,
    farewell: Vec<Stanza>,
    on_drop: mpsc::UnboundedSender<Vec<Stanza>>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("localpart", &self.localpart)
            .finish()
    }
}

impl Router {
    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The running account of `localpart`.
    pub fn get(&self, localpart: &str) -> Option<Route> {
        self.lock().by_localpart.get(localpart).cloned()
    }

    /// Register a running account; `None` when the localpart is taken.
    pub fn register(
        self: &Arc<Self>,
        localpart: &str,
        on_drop: mpsc::UnboundedSender<Vec<Stanza>>,
    ) -> Option<(Registration, mpsc::Receiver<Stanza>)> {
        let mut routes = self.lock();
        if routes.by_localpart.contains_key(localpart) {
            return None;
        }
        routes.next += 1;
        let id = routes.next;
        let (tx, rx) = mpsc::channel(ACCOUNT_QUEUE);
        routes
            .by_localpart
            .insert(localpart.to_string(), Route { id, tx });
        Some((
            Registration {
                router: self.clone(),
                localpart: localpart.to_string(),
                id,
                farewell: Vec::new(),
                on_drop,
            },
            rx,
        ))
    }
}

impl Registration {
    /// What to send when the account goes (replaces what was set before).
    pub fn set_farewell(&mut self, stanzas: Vec<Stanza>) {
        self.farewell = stanzas;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self.router.lock();
        if routes
            .by_localpart
            .get(&self.localpart)
            .is_some_and(|r| r.id == self.id)
        {
            routes.by_localpart.remove(&self.localpart);
        }
        drop(routes);
        let farewell = std::mem::take(&mut self.farewell);
        if !farewell.is_empty() {
            let _ = self.on_drop.send(farewell);
        }
    }
}
