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
    /// IRCv3 `REGISTER` may be used before the connection is registered.
    pub register_before_connect: bool,
    /// At most this many IRC connections at once.
    pub max_connections: usize,
    /// At most this many IRC connections at once from one address.
    pub max_connections_per_address: usize,
    /// Send PING after this long without a line from the client.
    pub ping_interval: Duration,
    /// Drop the client after this long without a line.
    pub ping_timeout: Duration,
    /// A connection must finish registering within this time.
    pub registration_timeout: Duration,
    /// Messages a user may send to IM networks at once before the rate applies.
    pub flood_burst: u32,
    /// Messages per second a user may send to IM networks after the burst;
    /// beyond it their lines wait (they are never dropped) and the client is told.
    pub flood_rate: u32,
    /// Lines a connection may send before it has registered; one that sends
    /// more is dropped (Excess Flood).
    pub flood_max_queue: u32,
    /// Outgoing lines queued for a slow client before it is dropped (SendQ).
    pub sendq_lines: usize,
    /// What one user may hold.
    pub user_limits: UserLimits,
}

/// The most one user may hold: what a stranger on an open instance can make
/// the gateway keep and work for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLimits {
    /// IM accounts (`account add`).
    pub accounts: usize,
    /// Channels of every kind (`/join` of a new channel, `chat add`, rooms
    /// joined from elsewhere).
    pub channels: usize,
    /// Chat channels among them: each one is a group chat the gateway joins.
    pub chats: usize,
}

impl Default for UserLimits {
    fn default() -> Self {
        UserLimits {
            accounts: 25,
            channels: 200,
            chats: 100,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            name: "localhost".into(),
            network: "Waggle".into(),
            motd_file: None,
            auth_mode: AuthMode::Open,
            server_password: None,
            register_before_connect: true,
            max_connections: 1000,
            max_connections_per_address: 50,
            ping_interval: Duration::from_secs(180),
            ping_timeout: Duration::from_secs(300),
            registration_timeout: Duration::from_secs(60),
            flood_burst: 2000,
            flood_rate: 1000,
            flood_max_queue: 200,
            sendq_lines: 4096,
            user_limits: UserLimits::default(),
        }
    }
}
