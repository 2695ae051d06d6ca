//! The account settings a session applies while it is online (the rest are
//! read at login, see [`crate::config::SETTINGS`]'s `at_login`).

use std::time::Duration;

use waggle_core::settings::parse_bool;

use crate::config::{AccountConfig, ResourceSelect};

/// What changes without a reconnect.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    /// Our presence priority while available.
    pub priority: i8,
    /// Which of a contact's resources our messages go to.
    pub resource_select: ResourceSelect,
    /// How long the last resource to write stays the one messages go to.
    pub activity_timeout: Duration,
    /// Show the raw stream as the `_xmlconsole` contact.
    pub xmlconsole: bool,
    /// Leave presence subscription requests unanswered.
    pub ignore_auth_requests: bool,
    /// Our software name for version and disco queries.
    pub user_agent: String,
}

/// What changed when a setting was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Nothing the session uses now (a login setting, kept for the next one).
    Later,
    /// A value the session now uses.
    Now,
    /// The presence priority: our presence must go out again.
    Priority,
    /// The XML console was switched on.
    ConsoleOn,
}

impl Live {
    /// The values at login.
    pub fn from_config(cfg: &AccountConfig) -> Live {
        Live {
            priority: cfg.priority,
            resource_select: cfg.resource_select,
            activity_timeout: cfg.activity_timeout,
            xmlconsole: cfg.xmlconsole,
            ignore_auth_requests: cfg.ignore_auth_requests,
            user_agent: cfg.user_agent.clone(),
        }
    }

    /// Apply one setting (`None`: back to its default).
    pub fn apply(&mut self, key: &str, value: Option<&str>) -> Applied {
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        match key {
            "priority" => {
                self.priority = value
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(|p| p.clamp(-128, 127) as i8)
                    .unwrap_or(0);
                Applied::Priority
            }
            "resource_select" => {
                self.resource_select = match value {
                    Some("priority") => ResourceSelect::Priority,
                    _ => ResourceSelect::Activity,
                };
                Applied::Now
            }
            "activity_timeout" => {
                let secs = value.and_then(|v| v.parse::<i64>().ok()).unwrap_or(600);
                self.activity_timeout = Duration::from_secs(secs.max(0) as u64);
                Applied::Now
            }
            "xmlconsole" => {
                let on = value.and_then(parse_bool).unwrap_or(false);
                let was = std::mem::replace(&mut self.xmlconsole, on);
                if on && !was {
                    Applied::ConsoleOn
                } else {
                    Applied::Now
                }
            }
            "ignore_auth_requests" => {
                self.ignore_auth_requests = value.and_then(parse_bool).unwrap_or(false);
                Applied::Now
            }
            "user_agent" => {
                self.user_agent = value.unwrap_or("Waggle").to_string();
                Applied::Now
            }
            _ => Applied::Later,
        }
    }
}
