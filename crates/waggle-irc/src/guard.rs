//! Brute-force guard: failed password attempts (identify, PASS, SASL, drop)
//! are counted per user name and per source address; after a few, each further
//! attempt waits longer before it is checked, up to a limit. A success clears
//! the user's count (not the address's: one good password does not excuse the
//! guesses made from there at other users).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures forgiven without delay.
const FREE_FAILURES: u32 = 3;
/// The longest wait before an attempt is checked.
const MAX_DELAY: Duration = Duration::from_secs(30);
/// A count is forgotten this long after its last failure.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Most names and addresses remembered; the oldest are forgotten first.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
}

/// Failure counts by user name and by address.
#[derive(Debug, Default)]
pub(crate) struct AuthGuard {
    by_name: Mutex<HashMap<String, Count>>,
    by_addr: Mutex<HashMap<IpAddr, Count>>,
}

fn delay_for(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES - 1).min(8);
    Duration::from_millis(500u64 << exp).min(MAX_DELAY)
}

impl AuthGuard {
    /// How long an attempt for `name` from `addr` waits before it is checked.
    pub fn delay(&self, name: &str, addr: Option<IpAddr>) -> Duration {
        let now = Instant::now();
        let fresh = |c: &Count| now.duration_since(c.last) < FORGET_AFTER;
        let by_name = {
            let map = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&name.to_lowercase())
                .filter(|c| fresh(c))
                .map_or(0, |c| c.failures)
        };
        let by_addr = addr.map_or(0, |a| {
            let map = self.by_addr.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&a).filter(|c| fresh(c)).map_or(0, |c| c.failures)
        });
        delay_for(by_name.max(by_addr))
    }

    /// Count a failed attempt.
    pub fn failed(&self, name: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        bump(&self.by_name, name.to_lowercase(), now);
        if let Some(a) = addr {
            bump(&self.by_addr, a, now);
        }
    }

    /// A correct password for `name`: its count starts over.
    pub fn succeeded(&self, name: &str) {
        self.by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name.to_lowercase());
    }
}

fn bump<K: std::hash::Hash + Eq + Clone>(map: &Mutex<HashMap<K, Count>>, key: K, now: Instant) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
        map.retain(|_, c| now.duration_since(c.last) < FORGET_AFTER);
        if map.len() >= MAX_ENTRIES
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.last)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    let c = map.entry(key).or_insert(Count {
        failures: 0,
        last: now,
    });
    if now.duration_since(c.last) >= FORGET_AFTER {
        c.failures = 0;
    }
    c.failures = c.failures.saturating_add(1);
    c.last = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_a_few_failures_and_stop_at_the_limit() {
        let g = AuthGuard::default();
        let addr: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..FREE_FAILURES {
            assert_eq!(g.delay("alice", Some(addr)), Duration::ZERO);
            g.failed("alice", Some(addr));
        }
        assert_eq!(g.delay("alice", Some(addr)), Duration::ZERO);
        g.failed("alice", Some(addr));
        assert_eq!(g.delay("alice", Some(addr)), Duration::from_millis(500));
        g.failed("alice", Some(addr));
        assert_eq!(g.delay("ALICE", None), Duration::from_secs(1));
        // Another name from the same address waits as long.
        assert_eq!(g.delay("bob", Some(addr)), Duration::from_secs(1));
        for _ in 0..20 {
            g.failed("alice", Some(addr));
        }
        assert_eq!(g.delay("alice", None), MAX_DELAY);
        g.succeeded("alice");
        assert_eq!(g.delay("alice", None), Duration::ZERO);
        assert_eq!(
            g.delay("alice", Some(addr)),
            MAX_DELAY,
            "the address keeps its count"
        );
    }
}
