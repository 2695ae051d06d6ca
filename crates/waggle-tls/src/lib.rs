//! Waggle's TLS trust for the backends' client connections: SHA-256 certificate
//! fingerprints (parsing, formatting, hashing), the ring-only rustls
//! [`CryptoProvider`], the certificate verifier with its three ways to trust a
//! server (a pinned fingerprint, CA roots, or trust on first use) that records
//! what it saw in a [`Seen`], and the [`ClientConfig`] built around it.
//!
//! There is no way to switch checking off: even on first use the handshake
//! signatures are verified, and the fingerprint seen is reported so it can be
//! pinned. A CA file an account names is read with the care a user-given path
//! needs ([`read_cafile`]). The backends word the refusals themselves (a [`Wording`]), read their
//! own settings and own their sockets; this crate depends on no Waggle crate
//! and knows nothing of accounts, IRC or any IM protocol.

mod cafile;

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

pub use cafile::{CafileError, MAX_CAFILE, load_cafile, read_cafile};

/// The prefixes [`parse_fingerprint`] accepts before the hex digits.
pub const FINGERPRINT_PREFIXES: &[&str] = &["sha256:", "SHA256:"];

/// Parse a SHA-256 fingerprint: 64 hex digits, with or without `:` (or space or
/// `-`) separators, optionally prefixed `sha256:`.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    parse_fingerprint_prefixed(text, FINGERPRINT_PREFIXES)
}

/// [`parse_fingerprint`] accepting (at most one of) `prefixes` instead of
/// [`FINGERPRINT_PREFIXES`].
pub fn parse_fingerprint_prefixed(text: &str, prefixes: &[&str]) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = prefixes.iter().find_map(|p| t.strip_prefix(p)).unwrap_or(t);
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

/// The process's one crypto provider: ring, never aws-lc.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's CA certificates, loaded once per process and shared; unreadable
/// ones are skipped. An account with a CA file of its own clones this and adds
/// to the clone.
pub fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "loading a system CA certificate failed");
            }
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            Arc::new(roots)
        })
        .clone()
}

/// The verifier of chains to the system's CA certificates, built once per
/// process and shared by every connection that trusts exactly those (building
/// one per account cost a copy of every root, ~90 KB, each); `None` without any.
fn system_verifier() -> Result<Option<Arc<WebPkiServerVerifier>>, SetupError> {
    static VERIFIER: OnceLock<Result<Option<Arc<WebPkiServerVerifier>>, VerifierBuilderError>> =
        OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            let roots = system_roots();
            if roots.is_empty() {
                return Ok(None);
            }
            WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map(Some)
        })
        .clone()
        .map_err(SetupError::Verifier)
}

/// TLS sessions a client configuration remembers for resumption: one
/// configuration serves one account, which talks to one server.
const RESUMABLE_SESSIONS: usize = 4;

/// What the verifier saw in one handshake.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The SHA-256 fingerprint of the server's certificate, formatted `AB:CD:…`.
    pub fingerprint: Option<String>,
    /// Why the certificate was refused.
    pub refused: Option<String>,
    /// Trusted only because verification is off (trust on first use).
    pub unverified: bool,
}

/// How the peer's certificate is trusted.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Exactly the certificate with this SHA-256 hash.
    Pinned(Vec<u8>),
    /// A chain to one of the system's CA certificates ([`system_roots`]), for
    /// the server's name; with none installed every certificate is refused
    /// ([`Wording::no_roots`]).
    SystemRoots,
    /// A chain to one of these CA certificates, for the server's name; with no
    /// roots at all every certificate is refused ([`Wording::no_roots`]).
    Roots(RootCertStore),
    /// Any certificate (the handshake signatures are still checked); the
    /// fingerprint is recorded and [`Seen::unverified`] set.
    FirstUse,
}

/// How the verifier words a refusal; each gets the formatted fingerprint of the
/// certificate it refused. The text is recorded in [`Seen::refused`] and is the
/// handshake's error.
#[derive(Debug, Clone, Copy)]
pub struct Wording {
    /// [`Trust::Pinned`] with another certificate: `(seen, pinned)`.
    pub pin_mismatch: fn(&str, &str) -> String,
    /// [`Trust::Roots`] refused the chain: `(seen, why)`.
    pub refused: fn(&str, &rustls::Error) -> String,
    /// [`Trust::Roots`] with no roots: `(seen)`.
    pub no_roots: fn(&str) -> String,
}

/// Why a client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The CA roots cannot be used.
    #[error("{0}")]
    Verifier(VerifierBuilderError),
    /// The provider does not support TLS 1.2 and 1.3.
    #[error("{0}")]
    Versions(rustls::Error),
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
    wording: Wording,
    algorithms: WebPkiSupportedAlgorithms,
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
            Mode::Pinned(pin) if *pin == hash => Ok(ServerCertVerified::assertion()),
            Mode::Pinned(pin) => Err(self.refuse((self.wording.pin_mismatch)(
                &shown,
                &format_fingerprint(pin),
            ))),
            Mode::Verified(inner) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map_err(|e| self.refuse((self.wording.refused)(&shown, &e))),
            Mode::NoRoots => Err(self.refuse((self.wording.no_roots)(&shown))),
            Mode::FirstUse => {
                self.record(|s| s.unverified = true);
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

/// A client configuration (ring, TLS 1.3 or 1.2, no client certificate) that
/// trusts the server as `trust` says, words refusals as `wording` says and
/// records what it saw in `seen`.
pub fn client_config(
    trust: Trust,
    wording: Wording,
    seen: Arc<Mutex<Seen>>,
) -> Result<Arc<ClientConfig>, SetupError> {
    let provider = provider();
    let mode = match trust {
        Trust::Pinned(pin) => Mode::Pinned(pin),
        Trust::FirstUse => Mode::FirstUse,
        Trust::SystemRoots => system_verifier()?.map_or(Mode::NoRoots, Mode::Verified),
        Trust::Roots(roots) if roots.is_empty() => Mode::NoRoots,
        Trust::Roots(roots) => Mode::Verified(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(SetupError::Verifier)?,
        ),
    };
    let verifier = Arc::new(Verifier {
        mode,
        wording,
        algorithms: provider.signature_verification_algorithms,
        seen,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(SetupError::Versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // The default cache is sized for a browser (256 sessions, allocated up front).
    config.resumption = rustls::client::Resumption::in_memory_sessions(RESUMABLE_SESSIONS);
    Ok(Arc::new(config))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
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

        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let want = parse_fingerprint(hex).expect("plain hex");
        assert_eq!(want.len(), 32);
        let colons = format_fingerprint(&want);
        assert_eq!(&colons[..8], "00:11:22");
        assert_eq!(parse_fingerprint(&colons), Some(want.clone()));
        assert_eq!(
            parse_fingerprint(&format!(" SHA256:{} ", colons.to_lowercase())),
            Some(want.clone())
        );
        assert_eq!(parse_fingerprint(&format!("sha256/{hex}")), None);
        assert_eq!(
            parse_fingerprint_prefixed(&format!("sha256/{hex}"), &["sha256/"]),
            Some(want)
        );
    }

    #[test]
    fn fingerprint_of_is_sha256() {
        assert_eq!(
            format_fingerprint(&fingerprint_of(b"")),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:\
             27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    const WORDING: Wording = Wording {
        pin_mismatch: |seen, pinned| format!("{seen} is not {pinned}"),
        refused: |seen, e| format!("{seen}: {e}"),
        no_roots: |seen| format!("{seen}: no roots"),
    };

    #[test]
    fn configs_build_for_every_trust() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let roots = RootCertStore::clone(&system_roots());
        for trust in [
            Trust::FirstUse,
            Trust::SystemRoots,
            Trust::Pinned(vec![0; 32]),
            Trust::Roots(RootCertStore::empty()),
            Trust::Roots(roots),
        ] {
            assert!(client_config(trust, WORDING, seen.clone()).is_ok());
        }
        assert!(matches!(
            read_cafile(std::path::Path::new("/nonexistent/ca.pem")),
            Err(CafileError::Read { .. })
        ));
    }
}
