//! Our own rustls client configuration: the ring provider only, the system's CA
//! certificates plus an account's `cafile`, a pinned SHA-256 `fingerprint`, and
//! trust-on-first-use when `tls_verify` is off.
//!
//! The verifier records what it saw (the server's fingerprint, and why it refused
//! it) in a [`TlsObservation`], so the login can say exactly what went wrong and
//! the backend can record a first-seen fingerprint.

use std::sync::{Arc, Mutex};

use rustls::{ClientConfig, RootCertStore};
use waggle_tls::{Trust, Wording};
pub use waggle_tls::{fingerprint_of, format_fingerprint};

use crate::error::XmppError;

/// What the certificate verifier saw during one handshake.
pub type TlsObservation = waggle_tls::Seen;

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
/// an optional `sha256:` (or `sha256/`) prefix.
pub fn parse_fingerprint(text: &str) -> Option<Vec<u8>> {
    waggle_tls::parse_fingerprint_prefixed(text, &["sha256:", "SHA256:", "sha256/"])
}

/// The refusals, naming the setting that fixes each.
const WORDING: Wording = Wording {
    pin_mismatch: |shown, pinned| {
        format!("Certificate fingerprint mismatch: the server presented {shown}, expected {pinned}")
    },
    refused: |shown, e| {
        format!(
            "Certificate verification failed: {e} (its SHA-256 fingerprint is {shown}; set cafile, or fingerprint to trust exactly this certificate)"
        )
    },
    no_roots: |shown| {
        format!(
            "Certificate verification failed: no trusted CA certificates (install ca-certificates or set cafile; the server's SHA-256 fingerprint is {shown})"
        )
    },
};

/// Build a client configuration for `policy`; the verifier reports into `seen`.
/// The `cafile` is read off the async workers, with [`waggle_tls::load_cafile`]'s
/// checks (a regular file of bounded size, nothing under `/dev`, `/proc`, `/sys`).
pub async fn client_config(
    policy: &TlsPolicy,
    seen: Arc<Mutex<TlsObservation>>,
) -> Result<Arc<ClientConfig>, XmppError> {
    let trust = if let Some(pin) = &policy.fingerprint {
        Trust::Pinned(pin.clone())
    } else if let (true, Some(path)) = (policy.verify, &policy.cafile) {
        let mut roots = RootCertStore::clone(&waggle_tls::system_roots());
        let certs = waggle_tls::load_cafile(path.clone())
            .await
            .map_err(|e| XmppError::Config(e.to_string()))?;
        if certs.is_empty() {
            return Err(XmppError::Config(format!(
                "No certificate found in cafile {}",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                XmppError::Config(format!("Bad certificate in {}: {e}", path.display()))
            })?;
        }
        Trust::Roots(roots)
    } else if policy.verify {
        // One verifier for the whole process, whatever the number of accounts.
        Trust::SystemRoots
    } else {
        Trust::FirstUse
    };
    waggle_tls::client_config(trust, WORDING, seen)
        .map_err(|e| XmppError::Config(format!("TLS setup failed: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_take_a_slash_prefix_too() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let want = parse_fingerprint(hex).expect("plain hex");
        assert_eq!(
            parse_fingerprint(&format!("sha256/{hex}")),
            Some(want.clone())
        );
        assert_eq!(parse_fingerprint(&format!("sha256:{hex}")), Some(want));
    }

    #[tokio::test]
    async fn configs_build_for_every_mode() {
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
            assert!(client_config(&policy, seen.clone()).await.is_ok());
        }
        let missing = TlsPolicy {
            verify: true,
            cafile: Some("/nonexistent/ca.pem".into()),
            fingerprint: None,
        };
        assert!(matches!(
            client_config(&missing, seen.clone()).await,
            Err(XmppError::Config(_))
        ));
        let zero = TlsPolicy {
            verify: true,
            cafile: Some("/dev/zero".into()),
            fingerprint: None,
        };
        match client_config(&zero, seen).await {
            Err(XmppError::Config(text)) => assert!(text.contains("not allowed"), "{text}"),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }
}
