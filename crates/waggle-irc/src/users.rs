//! The registry of running users: the one map shared by every connection,
//! locked only to look up or insert, never across an `.await`.
//!
//! An identified user has at most one user task, found here by id. A
//! connection that arrives identified (SASL, PASS) attaches to it, or starts it;
//! an anonymous session that identifies as a running user hands its connection
//! over to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use waggle_core::UserId;

use crate::server::Shared;
use crate::user::{self, NewClient, Start, UserInput};

/// What claiming a user found.
pub(crate) enum Claim {
    /// Nobody was running the user: the caller now is.
    Mine,
    /// A user task runs the user: attach to it.
    Running(mpsc::Sender<UserInput>),
}

/// Running users by id.
#[derive(Debug, Default)]
pub(crate) struct Users {
    map: Mutex<HashMap<UserId, mpsc::Sender<UserInput>>>,
}

impl Users {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, mpsc::Sender<UserInput>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Become the task of `id` unless a live one exists.
    pub fn claim(&self, id: UserId, mine: &mpsc::Sender<UserInput>) -> Claim {
        let mut map = self.lock();
        match map.get(&id) {
            Some(tx) if !tx.is_closed() && !tx.same_channel(mine) => Claim::Running(tx.clone()),
            _ => {
                map.insert(id, mine.clone());
                Claim::Mine
            }
        }
    }

    /// Stop being the task of `id` (if `mine` still is).
    pub fn release(&self, id: UserId, mine: &mpsc::Sender<UserInput>) {
        let mut map = self.lock();
        if map.get(&id).is_some_and(|tx| tx.same_channel(mine)) {
            map.remove(&id);
        }
    }

    /// The live task of `id`, or a new one started by `start` and registered.
    fn find_or_start(
        &self,
        id: UserId,
        start: impl FnOnce() -> mpsc::Sender<UserInput>,
    ) -> mpsc::Sender<UserInput> {
        let mut map = self.lock();
        match map.get(&id) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let tx = start();
                map.insert(id, tx.clone());
                tx
            }
        }
    }

    /// Forget a task that ended (its channel is closed).
    fn forget_closed(&self, id: UserId) {
        let mut map = self.lock();
        if map.get(&id).is_some_and(|tx| tx.is_closed()) {
            map.remove(&id);
        }
    }

    /// How many users are running.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Attach a freshly registered connection: to its user when it identified
/// during registration (started if not running), else to a new anonymous
/// session. Returns where its lines go.
pub(crate) async fn attach(
    shared: &Arc<Shared>,
    new: NewClient,
) -> Option<mpsc::Sender<UserInput>> {
    let Some(login) = new.info.login.clone() else {
        let tx = user::spawn(shared.clone(), Start::Anonymous);
        tx.send(UserInput::Attach(Box::new(new))).await.ok()?;
        return Some(tx);
    };
    let mut new = Box::new(new);
    // A task found here may be ending right now; then start a new one.
    for _ in 0..3 {
        let tx = shared.users.find_or_start(login.id, || {
            user::spawn(shared.clone(), Start::Login(login.clone()))
        });
        match tx.send(UserInput::Attach(new)).await {
            Ok(()) => return Some(tx),
            Err(mpsc::error::SendError(UserInput::Attach(back))) => {
                new = back;
                shared.users.forget_closed(login.id);
            }
            Err(_) => return None,
        }
    }
    None
}
