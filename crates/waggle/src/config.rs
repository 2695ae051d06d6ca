//! The TOML configuration: every key has a default, unknown keys are refused with
//! their name, and values are checked before anything starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use waggle_irc::{AuthMode, ServerConfig};

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
    /// Most connections at once.
    pub max_connections: usize,
    /// Seconds of client silence before a PING.
    pub ping_interval: u64,
    /// Seconds of client silence before dropping it.
    pub ping_timeout: u64,
    /// Seconds a connection has to register.
    pub registration_timeout: u64,
    /// Outgoing lines queued for one client before it is dropped.
    pub sendq_lines: usize,
}

impl Default for Server {
    fn default() -> Self {
        let d = ServerConfig::default();
        Server {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 6667))],
            name: d.name,
            network: d.network,
            motd_file: None,
            auth_mode: "open".into(),
            password: None,
            max_connections: d.max_connections,
            ping_interval: d.ping_interval.as_secs(),
            ping_timeout: d.ping_timeout.as_secs(),
            registration_timeout: d.registration_timeout.as_secs(),
            sendq_lines: d.sendq_lines,
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

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// The SQLite database file.
    pub database: PathBuf,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            database: PathBuf::from("data/waggle.db"),
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
        if s.max_connections == 0 {
            bail!("server.max_connections must be at least 1");
        }
        if s.ping_interval == 0 || s.ping_timeout <= s.ping_interval {
            bail!("server.ping_timeout must be greater than server.ping_interval (> 0)");
        }
        if s.sendq_lines < 256 {
            bail!("server.sendq_lines must be at least 256 (one help reply is dozens of lines)");
        }
        if self.flood.burst == 0 || self.flood.rate == 0 {
            bail!("flood.burst and flood.rate must be at least 1");
        }
        if self.storage.database.as_os_str().is_empty() {
            bail!("storage.database must not be empty");
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

    /// The front end's settings.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let s = &self.server;
        Ok(ServerConfig {
            name: s.name.clone(),
            network: s.network.clone(),
            motd_file: s.motd_file.clone(),
            auth_mode: self.auth_mode()?,
            server_password: s.password.clone(),
            max_connections: s.max_connections,
            ping_interval: Duration::from_secs(s.ping_interval),
            ping_timeout: Duration::from_secs(s.ping_timeout),
            registration_timeout: Duration::from_secs(s.registration_timeout.max(1)),
            flood_burst: self.flood.burst,
            flood_rate: self.flood.rate,
            flood_max_queue: self.flood.max_queue,
            sendq_lines: s.sendq_lines,
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
    fn example_config_parses() {
        let text = include_str!("../../../config/waggle.toml");
        let c = Config::parse(text).map_err(|e| format!("{e:#}"));
        assert!(c.is_ok(), "{c:?}");
    }
}
