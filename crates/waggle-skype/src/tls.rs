//! The TLS client for skyped: rustls with the ring provider only, TLS 1.2 or 1.3,
//! and one of three ways to trust skyped's (usually self-signed) certificate:
//! a pinned SHA-256 fingerprint, a CA file, or trust on first use, after which
//! the backend records the fingerprint. There is no way to switch checking off:
//! even on first use the handshake signatures are verified, and the fingerprint
//! seen is reported so it can be pinned.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::Trust;
use crate::error::SkypeError;

/// Parse a SHA-256 fingerprint: 64 hex digits, with or without `:` (or space or
/// `-`) separators, optionally prefixed `sha256:`.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let hex: String = t
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A hash as upper-case hex pairs joined by colons.
pub fn format_fingerprint(hash: &[u8]) -> String {
    hash.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The SHA-256 fingerprint of a DER certificate.
pub fn fingerprint_of(der: &[u8]) -> Vec<u8> {
    Sha256::digest(der).to_vec()
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// What the verifier saw in one handshake.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The certificate's fingerprint, formatted.
    pub fingerprint: Option<String>,
    /// Why it was refused.
    pub refused: Option<String>,
}

#[derive(Debug)]
enum Mode {
    Pinned(Vec<u8>),
    Ca(Arc<WebPkiServerVerifier>),
    FirstUse,
}

#[derive(Debug)]
struct Verifier {
    mode: Mode,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Seen>>,
}

impl Verifier {
    fn record(&self, f: impl FnOnce(&mut Seen)) {
        if let Ok(mut s) = self.seen.lock() {
            f(&mut s);
        }
    }

    fn refuse(&self, why: String) -> rustls::Error {
        self.record(|s| s.refused = Some(why.clone()));
        rustls::Error::General(why)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let hash = fingerprint_of(end_entity.as_ref());
        let shown = format_fingerprint(&hash);
        self.record(|s| s.fingerprint = Some(shown.clone()));
        match &self.mode {
            Mode::Pinned(pinned) if *pinned == hash => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(pinned) => Err(self.refuse(format!(
                "skyped's certificate does not match: its SHA-256 fingerprint is {shown}, \
                 but the account's fingerprint setting is {}. If skyped has a new certificate, \
                 accept it with `account <account> set fingerprint {shown}'",
                format_fingerprint(pinned)
            ))),
            Mode::Ca(webpki) => webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| {
                    self.refuse(format!(
                        "skyped's certificate (SHA-256 fingerprint {shown}) was refused by the cafile: {e}"
                    ))
                }),
            Mode::FirstUse => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn load_cafile(path: &Path) -> Result<RootCertStore, SkypeError> {
    let shown = path.display();
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| SkypeError::Config(format!("Cannot read cafile {shown}: {e}")))?
        .collect();
    let certs =
        certs.map_err(|e| SkypeError::Config(format!("Cannot parse cafile {shown}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(SkypeError::Config(format!(
            "No CA certificate found in cafile {shown}"
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
    pub fn new(trust: &Trust) -> Result<Connector, SkypeError> {
        let provider = provider();
        let mode = match trust {
            Trust::Pinned(hash) => Mode::Pinned(hash.clone()),
            Trust::FirstUse => Mode::FirstUse,
            Trust::Ca(path) => {
                let roots = load_cafile(path)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| SkypeError::Config(format!("Cannot use the cafile: {e}")))?;
                Mode::Ca(webpki)
            }
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let verifier = Arc::new(Verifier {
            mode,
            provider: provider.clone(),
            seen: seen.clone(),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| SkypeError::Config(format!("TLS setup failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Connector {
            config: Arc::new(config),
            seen,
        })
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

    #[test]
    fn fingerprints_parse_in_common_spellings() {
        let want = vec![0xABu8; 32];
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse_fingerprint(&colons), Some(want.clone()));
        assert_eq!(parse_fingerprint(&"ab".repeat(32)), Some(want.clone()));
        assert_eq!(
            parse_fingerprint(&format!("sha256:{}", "ab".repeat(32))),
            Some(want.clone())
        );
        assert_eq!(parse_fingerprint("AB:CD"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
        assert_eq!(format_fingerprint(&want), colons);
    }

    #[test]
    fn connectors_for_each_trust() {
        assert!(Connector::new(&Trust::FirstUse).is_ok());
        assert!(Connector::new(&Trust::Pinned(vec![1; 32])).is_ok());
        let missing = Connector::new(&Trust::Ca("/nonexistent/ca.pem".into()));
        assert!(matches!(missing, Err(SkypeError::Config(_))));
    }
}
