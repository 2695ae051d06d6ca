//! The TOML configuration: every key has a default, unknown keys are refused with
//! their name, and values are checked before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use waggle_core::Retention;
use waggle_irc::{AuthMode, ServerConfig};
use waggle_store::OpenOptions;

use crate::keyfile;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The IRC server.
    pub server: Server,
    /// Flood control.
    pub flood: Flood,
    /// Where data lives.
    pub storage: Storage,
    /// How long messages are kept.
    pub history: History,
    /// What one user may hold.
    pub limits: Limits,
    /// Logging.
    pub log: Log,
    /// The XMPP component; off when absent.
    pub component: Option<crate::component::Section>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Addresses to listen on with TLS (needs `tls_cert` and `tls_key`).
    pub tls_listen: Vec<SocketAddr>,
    /// The TLS certificate chain (PEM), read again on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM), read again on SIGHUP.
    pub tls_key: Option<PathBuf>,
    /// The server's name in prefixes and numerics.
    pub name: String,
    /// The network name in ISUPPORT.
    pub network: String,
    /// A file with the message of the day.
    pub motd_file: Option<PathBuf>,
    /// `open`, `registered` or `closed`.
    pub auth_mode: String,
    /// The server password for `closed`.
    pub password: Option<String>,
    /// IRCv3 REGISTER may be used before the connection is registered.
    pub register_before_connect: bool,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections at once from one address.
    pub max_connections_per_address: usize,
    /// Seconds of client silence before a PING.
    pub ping_interval: u64,
    /// Seconds of client silence before dropping it.
    pub ping_timeout: u64,
    /// Seconds a connection has to register.
    pub registration_timeout: u64,
    /// Outgoing lines queued for one client before it is dropped.
    pub sendq_lines: usize,
    /// Threads running the IRC connections and IM sessions: 1 runs them all on
    /// one (the leanest: no hand-offs between cores), 0 one per core.
    pub threads: usize,
}

impl Default for Server {
    fn default() -> Self {
        let d = ServerConfig::default();
        Server {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 6667))],
            tls_listen: Vec::new(),
            tls_cert: None,
            tls_key: None,
            name: d.name,
            network: d.network,
            motd_file: None,
            auth_mode: "open".into(),
            password: None,
            register_before_connect: d.register_before_connect,
            max_connections: d.max_connections,
            max_connections_per_address: d.max_connections_per_address,
            ping_interval: d.ping_interval.as_secs(),
            ping_timeout: d.ping_timeout.as_secs(),
            registration_timeout: d.registration_timeout.as_secs(),
            sendq_lines: d.sendq_lines,
            threads: 1,
        }
    }
}

/// `[flood]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flood {
    /// Messages a user may send to IM networks at once.
    pub burst: u32,
    /// Messages per second after the burst.
    pub rate: u32,
    /// Lines a connection may send before registering.
    pub max_queue: u32,
}

impl Default for Flood {
    fn default() -> Self {
        let d = ServerConfig::default();
        Flood {
            burst: d.flood_burst,
            rate: d.flood_rate,
            max_queue: d.flood_max_queue,
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// IM accounts one user may add.
    pub accounts_per_user: usize,
    /// Channels one user may have, of every kind.
    pub channels_per_user: usize,
    /// Chat channels (group chats) among them.
    pub chats_per_user: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let d = waggle_irc::UserLimits::default();
        Limits {
            accounts_per_user: d.accounts,
            channels_per_user: d.channels,
            chats_per_user: d.chats,
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// The SQLite database file.
    pub database: PathBuf,
    /// A key file made by `waggle keygen`: users' accounts start without them.
    pub unattended_key: Option<PathBuf>,
    /// Password hashes computed at once (19 MiB each); 0 is one per CPU core.
    pub password_hash_workers: usize,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            database: PathBuf::from("data/waggle.db"),
            unattended_key: None,
            password_hash_workers: 0,
        }
    }
}

/// The most `[history] max_age_days` may be (a century).
const MAX_AGE_DAYS: u32 = 36_500;

/// `[history]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    /// Days a message is kept at most (a user's `history_days` may keep less).
    pub max_age_days: u32,
    /// Messages kept per user at most (the newest); none when absent.
    pub max_messages: Option<u64>,
}

impl Default for History {
    fn default() -> Self {
        History {
            max_age_days: 90,
            max_messages: None,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A tracing filter: `info`, `waggle_irc=debug` …
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
        }
    }
}

impl Config {
    /// Read and check a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parse and check config text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let s = &self.server;
        if s.listen.is_empty() {
            bail!("server.listen: at least one address is needed");
        }
        if s.name.is_empty() || s.name.contains([' ', '!', '@', ':']) {
            bail!("server.name: {:?} is not a valid server name", s.name);
        }
        if s.network.is_empty() || s.network.contains(' ') {
            bail!("server.network: {:?} must be one word", s.network);
        }
        self.auth_mode()?;
        if s.auth_mode == "closed" && s.password.as_deref().is_none_or(str::is_empty) {
            bail!("server.password: auth_mode \"closed\" needs a password");
        }
        if s.max_connections == 0 || s.max_connections_per_address == 0 {
            bail!("server.max_connections and max_connections_per_address must be at least 1");
        }
        if !s.tls_listen.is_empty() {
            let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) else {
                bail!("server.tls_listen needs server.tls_cert and server.tls_key");
            };
            waggle_irc::ServerTls::load(cert, key)
                .map_err(|e| anyhow::anyhow!("server.tls_cert/tls_key: {e}"))?;
        }
        if s.ping_interval == 0 || s.ping_timeout <= s.ping_interval {
            bail!("server.ping_timeout must be greater than server.ping_interval (> 0)");
        }
        if s.sendq_lines < 256 {
            bail!("server.sendq_lines must be at least 256 (one help reply is dozens of lines)");
        }
        if s.threads > 256 {
            bail!("server.threads must be at most 256 (0: one per core)");
        }
        let l = &self.limits;
        if l.accounts_per_user == 0 || l.channels_per_user == 0 || l.chats_per_user == 0 {
            bail!(
                "limits.accounts_per_user, channels_per_user and chats_per_user must be at least 1"
            );
        }
        if self.flood.burst == 0 || self.flood.rate == 0 {
            bail!("flood.burst and flood.rate must be at least 1");
        }
        if self.storage.database.as_os_str().is_empty() {
            bail!("storage.database must not be empty");
        }
        if self
            .storage
            .unattended_key
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            bail!("storage.unattended_key must name a file made by `waggle keygen`");
        }
        if self.storage.password_hash_workers > 256 {
            bail!("storage.password_hash_workers must be at most 256 (19 MiB each)");
        }
        if !(1..=MAX_AGE_DAYS).contains(&self.history.max_age_days) {
            bail!("history.max_age_days must be between 1 and {MAX_AGE_DAYS}");
        }
        if self.history.max_messages == Some(0) {
            bail!("history.max_messages must be at least 1 (leave it out for no limit)");
        }
        if let Some(c) = &self.component {
            c.component_config()?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .with_context(|| format!("log.level: {:?} is not a valid filter", self.log.level))?;
        Ok(())
    }

    fn auth_mode(&self) -> anyhow::Result<AuthMode> {
        Ok(match self.server.auth_mode.as_str() {
            "open" => AuthMode::Open,
            "registered" => AuthMode::Registered,
            "closed" => AuthMode::Closed,
            other => bail!("server.auth_mode: {other:?} is not one of open, registered, closed"),
        })
    }

    /// How to open the store: the unattended key (read and checked from its file)
    /// and the password-hashing pool.
    pub fn store_options(&self) -> anyhow::Result<OpenOptions> {
        let unattended_key = match &self.storage.unattended_key {
            Some(path) => Some(keyfile::load(path).context("storage.unattended_key")?),
            None => None,
        };
        Ok(OpenOptions {
            unattended_key,
            hash_workers: self.storage.password_hash_workers,
        })
    }

    /// The instance's message retention.
    pub fn retention(&self) -> Retention {
        Retention {
            max_age: Duration::from_secs(u64::from(self.history.max_age_days) * 24 * 3600),
            max_count: self.history.max_messages,
        }
    }

    /// The front end's settings.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let s = &self.server;
        Ok(ServerConfig {
            name: s.name.clone(),
            network: s.network.clone(),
            motd_file: s.motd_file.clone(),
            auth_mode: self.auth_mode()?,
            server_password: s.password.clone(),
            register_before_connect: s.register_before_connect,
            max_connections: s.max_connections,
            max_connections_per_address: s.max_connections_per_address,
            ping_interval: Duration::from_secs(s.ping_interval),
            ping_timeout: Duration::from_secs(s.ping_timeout),
            registration_timeout: Duration::from_secs(s.registration_timeout.max(1)),
            flood_burst: self.flood.burst,
            flood_rate: self.flood.rate,
            flood_max_queue: self.flood.max_queue,
            sendq_lines: s.sendq_lines,
            user_limits: waggle_irc::UserLimits {
                accounts: self.limits.accounts_per_user,
                channels: self.limits.channels_per_user,
                chats: self.limits.chats_per_user,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::parse("").map_err(|e| e.to_string());
        assert_eq!(c.as_ref().map(|c| c.server.listen.len()), Ok(1));
        assert_eq!(
            c.map(|c| c.storage.database),
            Ok(PathBuf::from("data/waggle.db"))
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[server]\nlisten_on = 3\n")
            .err()
            .map(|e| format!("{e:#}"));
        assert!(
            err.as_deref().is_some_and(|e| e.contains("listen_on")),
            "{err:?}"
        );
        let err = Config::parse("[nope]\n").err().map(|e| format!("{e:#}"));
        assert!(
            err.as_deref().is_some_and(|e| e.contains("nope")),
            "{err:?}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Config::parse("[server]\nauth_mode = \"maybe\"\n").is_err());
        assert!(Config::parse("[server]\nauth_mode = \"closed\"\n").is_err());
        assert!(Config::parse("[server]\nping_interval = 10\nping_timeout = 5\n").is_err());
        assert!(Config::parse("[server]\nname = \"a b\"\n").is_err());
        assert!(Config::parse("[server]\nlisten = [\"nonsense\"]\n").is_err());
    }

    #[test]
    fn history_and_storage_are_checked() {
        let c = Config::parse("").map_err(|e| e.to_string());
        assert_eq!(
            c.map(|c| c.retention()),
            Ok(Retention {
                max_age: Duration::from_secs(90 * 24 * 3600),
                max_count: None,
            })
        );
        let c = Config::parse("[history]\nmax_age_days = 7\nmax_messages = 500\n")
            .map(|c| c.retention())
            .map_err(|e| e.to_string());
        assert_eq!(
            c,
            Ok(Retention {
                max_age: Duration::from_secs(7 * 24 * 3600),
                max_count: Some(500),
            })
        );
        assert!(Config::parse("[history]\nmax_age_days = 0\n").is_err());
        assert!(Config::parse("[history]\nmax_age_days = 100000\n").is_err());
        assert!(Config::parse("[history]\nmax_messages = 0\n").is_err());
        assert!(Config::parse("[history]\nmax_messages = -1\n").is_err());
    }

    #[test]
    fn limits_reach_the_front_end_and_zero_is_refused() {
        let limits = Config::parse("[limits]\naccounts_per_user = 3\nchats_per_user = 7\n")
            .and_then(|c| c.server_config())
            .map(|s| s.user_limits)
            .map_err(|e| e.to_string());
        assert_eq!(
            limits,
            Ok(waggle_irc::UserLimits {
                accounts: 3,
                channels: 200,
                chats: 7,
            })
        );
        for key in ["accounts_per_user", "channels_per_user", "chats_per_user"] {
            assert!(
                Config::parse(&format!("[limits]\n{key} = 0\n")).is_err(),
                "{key}"
            );
        }
        assert!(Config::parse("[storage]\nunattended_key = \"\"\n").is_err());
        assert!(Config::parse("[storage]\npassword_hash_workers = 1000\n").is_err());
        assert!(Config::parse("[server]\nthreads = 257\n").is_err());
        assert_eq!(Config::parse("").map(|c| c.server.threads).ok(), Some(1));
        assert_eq!(
            Config::parse("[server]\nthreads = 0\n")
                .map(|c| c.server.threads)
                .ok(),
            Some(0)
        );
        // Without a key file, the store opens without an unattended key.
        let options = Config::parse("").and_then(|c| c.store_options());
        assert!(options.is_ok_and(|o| o.unattended_key.is_none()));
        let missing = Config::parse("[storage]\nunattended_key = \"/nonexistent/k\"\n")
            .and_then(|c| c.store_options());
        assert!(missing.is_err());
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../config/waggle.toml");
        let c = Config::parse(text).map_err(|e| format!("{e:#}"));
        assert!(c.is_ok(), "{c:?}");
    }
}
