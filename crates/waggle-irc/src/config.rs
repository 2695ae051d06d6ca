//! The front end's run-time settings, filled from the daemon's config file.

use std::path::PathBuf;
use std::time::Duration;

/// Who may use the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Anyone may connect, use the gateway in memory and `register`.
    #[default]
    Open,
    /// Only users created with `waggle user add`; no self-registration.
    Registered,
    /// A server password (PASS) is required before anything else.
    Closed,
}

/// Settings of the IRC front end.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server's own name in prefixes and numerics.
    pub name: String,
    /// The network name in ISUPPORT.
    pub network: String,
    /// A file whose lines are the MOTD; `None` for the built-in one.
    pub motd_file: Option<PathBuf>,
    /// Who may use the gateway.
    pub auth_mode: AuthMode,
    /// The server password for [`AuthMode::Closed`].
    pub server_password: Option<String>,
    /// At most this many IRC connections at once.
    pub max_connections: usize,
    /// Send PING after this long without a line from the client.
    pub ping_interval: Duration,
    /// Drop the client after this long without a line.
    pub ping_timeout: Duration,
    /// Lines a client may send in a burst before throttling starts.
    pub flood_burst: u32,
    /// Lines per second a client may send once throttled.
    pub flood_rate: u32,
    /// Lines a throttled client may have waiting before it is dropped.
    pub flood_max_queue: u32,
    /// Outgoing lines queued for a slow client before it is dropped (SendQ).
    pub sendq_lines: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            name: "localhost".into(),
            network: "Waggle".into(),
            motd_file: None,
            auth_mode: AuthMode::Open,
            server_password: None,
            max_connections: 1000,
            ping_interval: Duration::from_secs(180),
            ping_timeout: Duration::from_secs(300),
            flood_burst: 20,
            flood_rate: 5,
            flood_max_queue: 100,
            sendq_lines: 4096,
        }
    }
}
