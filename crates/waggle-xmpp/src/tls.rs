//! Our own rustls client configuration: the ring provider only, the system's CA
//! certificates plus an account's `cafile`, a pinned SHA-256 `fingerprint`, and
//! trust-on-first-use when `tls_verify` is off.
//!
//! The verifier records what it saw (the server's fingerprint, and why it refused
//! it) in a [`TlsObservation`], so the login can say exactly what went wrong and
//! the backend can record a first-seen fingerprint.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::XmppError;

/// What the certificate verifier saw during one handshake.
#[derive(Debug, Default, Clone)]
pub struct TlsObservation {
    /// The SHA-256 fingerprint of the server's certificate, formatted `AB:CD:…`.
    pub fingerprint: Option<String>,
    /// Why the certificate was refused.
    pub refused: Option<String>,
    /// Trusted only because verification is off (trust on first use).
    pub unverified: bool,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Default)]
pub struct TlsPolicy {
    /// Verify the chain against the trusted CA certificates.
    pub verify: bool,
    /// Extra CA certificates (PEM).
    pub cafile: Option<std::path::PathBuf>,
    /// Accept exactly the certificate with this SHA-256 hash.
    pub fingerprint: Option<Vec<u8>>,
}

/// Parse a SHA-256 fingerprint written as hex, with or without `:` separators and
/// an optional `sha256:` prefix.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .or_else(|| t.strip_prefix("sha256/"))
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

/// Format a hash as upper-case hex pairs separated by colons.
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

fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "loading a system CA certificate failed");
        }
        found.certs
    })
}

fn load_cafile(path: &Path) -> Result<Vec<CertificateDer<'static>>, XmppError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| XmppError::Config(format!("Cannot read cafile {}: {e}", path.display())))?
        .collect();
    let certs = certs
        .map_err(|e| XmppError::Config(format!("Cannot parse cafile {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(XmppError::Config(format!(
            "No certificate found in cafile {}",
            path.display()
        )));
    }
    Ok(certs)
}

#[derive(Debug)]
enum Mode {
    Pinned(Vec<u8>),
    Verified(Arc<WebPkiServerVerifier>),
    NoRoots,
    FirstUse,
}

#[derive(Debug)]
struct Verifier {
    mode: Mode,
    algorithms: WebPkiSupportedAlgorithms,
    seen: Arc<Mutex<TlsObservation>>,
}

impl Verifier {
    fn record(&self, f: impl FnOnce(&mut TlsObservation)) {
        if let Ok(mut o) = self.seen.lock() {
            f(&mut o);
        }
    }

    fn refuse(&self, why: String) -> rustls::Error {
        let err = rustls::Error::General(why.clone());
        self.record(|o| o.refused = Some(why));
        err
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
        self.record(|o| o.fingerprint = Some(shown.clone()));
        match &self.mode {
            Mode::Pinned(pin) if *pin == hash => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(pin) => Err(self.refuse(format!(
                "Certificate fingerprint mismatch: the server presented {shown}, expected {}",
                format_fingerprint(pin)
            ))),
            Mode::Verified(inner) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| {
                    self.refuse(format!(
                        "Certificate verification failed: {e} (its SHA-256 fingerprint is {shown}; set cafile, or fingerprint to trust exactly this certificate)"
                    ))
                }),
            Mode::NoRoots => Err(self.refuse(format!(
                "Certificate verification failed: no trusted CA certificates (install ca-certificates or set cafile; the server's SHA-256 fingerprint is {shown})"
            ))),
            Mode::FirstUse => {
                self.record(|o| o.unverified = true);
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Build a client configuration for `policy`; the verifier reports into `seen`.
pub fn client_config(
    policy: &TlsPolicy,
    seen: Arc<Mutex<TlsObservation>>,
) -> Result<Arc<ClientConfig>, XmppError> {
    let provider = provider();
    let mode = if let Some(pin) = &policy.fingerprint {
        Mode::Pinned(pin.clone())
    } else if policy.verify {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(system_roots().iter().cloned());
        if let Some(path) = &policy.cafile {
            for cert in load_cafile(path)? {
                roots.add(cert).map_err(|e| {
                    XmppError::Config(format!("Bad certificate in {}: {e}", path.display()))
                })?;
            }
        }
        if roots.is_empty() {
            Mode::NoRoots
        } else {
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| XmppError::Config(format!("TLS setup failed: {e}")))?;
            Mode::Verified(inner)
        }
    } else {
        Mode::FirstUse
    };
    let verifier = Arc::new(Verifier {
        mode,
        algorithms: provider.signature_verification_algorithms,
        seen,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| XmppError::Config(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_common_spellings() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let want = parse_fingerprint(hex).expect("plain hex");
        assert_eq!(want.len(), 32);
        let colons = format_fingerprint(&want);
        assert_eq!(&colons[..8], "00:11:22");
        assert_eq!(parse_fingerprint(&colons), Some(want.clone()));
        assert_eq!(
            parse_fingerprint(&format!("sha256:{}", colons.to_lowercase())),
            Some(want)
        );
        assert_eq!(parse_fingerprint("00:11"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
    }

    #[test]
    fn configs_build_for_every_mode() {
        let seen = Arc::new(Mutex::new(TlsObservation::default()));
        for policy in [
            TlsPolicy {
                verify: true,
                ..TlsPolicy::default()
            },
            TlsPolicy::default(),
            TlsPolicy {
                verify: true,
                fingerprint: Some(vec![0; 32]),
                cafile: None,
            },
        ] {
            assert!(client_config(&policy, seen.clone()).is_ok());
        }
        let missing = TlsPolicy {
            verify: true,
            cafile: Some("/nonexistent/ca.pem".into()),
            fingerprint: None,
        };
        assert!(matches!(
            client_config(&missing, seen),
            Err(XmppError::Config(_))
        ));
    }
}
