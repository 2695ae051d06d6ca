//! The component's settings: its domain, the XMPP server's component port and
//! the shared secret, checked before anything connects.

use std::time::Duration;

use waggle_core::Secret;
use waggle_core::reconnect::Backoff;
use xmpp_parsers::jid::BareJid;

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The domain is not a JID domain.
    #[error("component.domain: {0:?} is not a valid XMPP domain")]
    Domain(String),
    /// The server address is not `host:port`.
    #[error("component.server: {0:?} is not HOST:PORT (e.g. 127.0.0.1:5347)")]
    Server(String),
    /// No secret, or an empty one.
    #[error("component: a secret is needed (secret or secret_file), and it must not be empty")]
    Secret,
}

/// How the component connects and what it is.
#[derive(Debug, Clone)]
pub struct ComponentConfig {
    /// The component's JID (`gw.example.org`), lower case.
    pub domain: String,
    /// The server's host name or address.
    pub host: String,
    /// The server's component port.
    pub port: u16,
    /// The secret shared with the server (`component_secret`).
    pub secret: Secret,
    /// The largest stanza taken from the server, in bytes; a larger one ends the
    /// connection (it is reopened).
    pub max_stanza: usize,
    /// Stanzas kept while the connection is down; more are refused with an error.
    pub queue: usize,
    /// Reconnect delays after a drop or a refused handshake.
    pub backoff: Backoff,
    /// After this long without data the server is pinged; after as long again
    /// without an answer the connection counts as dead.
    pub keepalive: Duration,
}

/// The largest stanza by default: above the servers' own limits for remote
/// stanzas (Prosody: 512 KiB), so only a broken server reaches it.
pub const MAX_STANZA: usize = 1024 * 1024;
/// Stanzas kept while the connection is down, by default.
pub const QUEUE: usize = 1000;

impl ComponentConfig {
    /// A configuration for `domain`, the server at `server` (`host:port`) and
    /// `secret`, with the default limits.
    pub fn new(domain: &str, server: &str, secret: &str) -> Result<ComponentConfig, ConfigError> {
        let domain = domain.trim().to_lowercase();
        let valid = !domain.is_empty()
            && !domain.contains(['@', '/'])
            && BareJid::new(&domain).is_ok_and(|j| j.node().is_none());
        if !valid {
            return Err(ConfigError::Domain(domain));
        }
        let (host, port) =
            split_host_port(server).ok_or_else(|| ConfigError::Server(server.into()))?;
        if secret.trim().is_empty() {
            return Err(ConfigError::Secret);
        }
        Ok(ComponentConfig {
            domain,
            host,
            port,
            secret: Secret(secret.to_string()),
            max_stanza: MAX_STANZA,
            queue: QUEUE,
            backoff: Backoff::default(),
            keepalive: Duration::from_secs(120),
        })
    }

    /// The server as `host:port`, for logs.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `host:port`, `[v6]:port`; the port must be given and not be 0.
fn split_host_port(s: &str) -> Option<(String, u16)> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        (host, port)
    } else {
        let (host, port) = s.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_domain_server_and_secret() {
        let c = ComponentConfig::new("GW.example.org", "127.0.0.1:5347", "s3");
        assert!(matches!(&c, Ok(c) if c.domain == "gw.example.org" && c.port == 5347));
        assert!(matches!(
            ComponentConfig::new("gw.example.org", "[::1]:5347", "s"),
            Ok(c) if c.host == "::1" && c.server() == "[::1]:5347"
        ));
        for bad in ["alice@gw.example.org", "", "gw.example.org/x", "a b"] {
            assert!(
                matches!(
                    ComponentConfig::new(bad, "h:1", "s"),
                    Err(ConfigError::Domain(_))
                ),
                "{bad:?}"
            );
        }
        for bad in ["127.0.0.1", "h:0", ":5347", "h:port", "::1:5347", "h:99999"] {
            assert!(
                matches!(
                    ComponentConfig::new("gw.example", bad, "s"),
                    Err(ConfigError::Server(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            ComponentConfig::new("gw.example", "h:1", " ").err(),
            Some(ConfigError::Secret)
        );
    }
}
