//! The TLS client for skyped: rustls with the ring provider only, TLS 1.2 or 1.3,
//! and one of three ways to trust skyped's (usually self-signed) certificate:
//! a pinned SHA-256 fingerprint, a CA file, or trust on first use, after which
//! the backend records the fingerprint. There is no way to switch checking off:
//! even on first use the handshake signatures are verified, and the fingerprint
//! seen is reported so it can be pinned.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
pub use waggle_tls::{Seen, fingerprint_of, format_fingerprint, parse_fingerprint};
use waggle_tls::{SetupError, Wording};

use crate::config::Trust;
use crate::error::SkypeError;

/// The refusals, naming skyped and the account settings that fix them.
const WORDING: Wording = Wording {
    pin_mismatch: |shown, pinned| {
        format!(
            "skyped's certificate does not match: its SHA-256 fingerprint is {shown}, \
             but the account's fingerprint setting is {pinned}. If skyped has a new certificate, \
             accept it with `account <account> set fingerprint {shown}'"
        )
    },
    refused: |shown, e| {
        format!("skyped's certificate (SHA-256 fingerprint {shown}) was refused by the cafile: {e}")
    },
    // Not reached: a cafile without a CA certificate is refused before connecting.
    no_roots: |shown| {
        format!("skyped's certificate (SHA-256 fingerprint {shown}) was refused: no CA certificate")
    },
};

/// The CA certificates of a cafile, read off the async workers with
/// [`waggle_tls::load_cafile`]'s checks.
async fn load_cafile(path: &Path) -> Result<RootCertStore, SkypeError> {
    let certs = waggle_tls::load_cafile(path.to_path_buf())
        .await
        .map_err(|e| SkypeError::Config(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(SkypeError::Config(format!(
            "No CA certificate found in cafile {}",
            path.display()
        )));
    }
    Ok(roots)
}

/// A TLS connector for one connection attempt, remembering what it saw.
#[derive(Debug)]
pub struct Connector {
    config: Arc<ClientConfig>,
    seen: Arc<Mutex<Seen>>,
}

impl Connector {
    /// A connector trusting skyped's certificate as `trust` says.
    pub async fn new(trust: &Trust) -> Result<Connector, SkypeError> {
        let trust = match trust {
            Trust::Pinned(hash) => waggle_tls::Trust::Pinned(hash.clone()),
            Trust::FirstUse => waggle_tls::Trust::FirstUse,
            Trust::Ca(path) => waggle_tls::Trust::Roots(load_cafile(path).await?),
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let config = waggle_tls::client_config(trust, WORDING, seen.clone()).map_err(|e| {
            SkypeError::Config(match e {
                SetupError::Verifier(e) => format!("Cannot use the cafile: {e}"),
                SetupError::Versions(e) => format!("TLS setup failed: {e}"),
            })
        })?;
        Ok(Connector { config, seen })
    }

    /// What the verifier saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Do the TLS handshake over `tcp` with skyped at `host`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<TlsStream<TcpStream>, SkypeError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| SkypeError::Config(format!("Invalid server name `{host}'")))?;
        let connector = TlsConnector::from(self.config.clone());
        connector.connect(name, tcp).await.map_err(|e| {
            if let Some(why) = self.seen().refused {
                return SkypeError::Config(why);
            }
            classify(&e)
        })
    }
}

fn classify(e: &io::Error) -> SkypeError {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::PeerIncompatible(_))
        | Some(rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion))
        | Some(rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)) => {
            SkypeError::Config(format!(
                "TLS with skyped failed ({e}): skyped must offer TLS 1.2 or newer"
            ))
        }
        _ => SkypeError::Network(format!("TLS handshake with skyped failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connectors_for_each_trust() {
        assert!(Connector::new(&Trust::FirstUse).await.is_ok());
        assert!(Connector::new(&Trust::Pinned(vec![1; 32])).await.is_ok());
        let missing = Connector::new(&Trust::Ca("/nonexistent/ca.pem".into())).await;
        assert!(matches!(missing, Err(SkypeError::Config(_))));
        match Connector::new(&Trust::Ca("/dev/zero".into())).await {
            Err(SkypeError::Config(text)) => assert!(text.contains("not allowed"), "{text}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
