//! The protocol registry: which backends this gateway was built with.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::backend::Backend;

/// Backends by protocol name and alias.
#[derive(Clone, Default)]
pub struct ProtocolRegistry {
    by_name: BTreeMap<String, Arc<dyn Backend>>,
}

impl std::fmt::Debug for ProtocolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl ProtocolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a backend under its name and aliases.
    pub fn register(&mut self, backend: Arc<dyn Backend>) {
        for alias in backend.aliases() {
            self.by_name.insert(alias.to_string(), backend.clone());
        }
        self.by_name
            .insert(backend.protocol().to_string(), backend.clone());
    }

    /// The backend for a protocol name or alias (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Backend>> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    /// Canonical protocol names, sorted.
    pub fn protocols(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.by_name.values().map(|b| b.protocol()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Protocols BitlBee users know that this gateway may be built without: `account add`
/// accepts none of them without a backend, but names them in its error.
pub const KNOWN_PROTOCOLS: &[&str] = &["jabber", "xmpp", "skype"];
