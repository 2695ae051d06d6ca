//! TLS for IRC listeners: the operator's certificate chain and key (PEM),
//! TLS 1.2 and 1.3 through rustls (ring), no client certificates. The files are
//! read again on [`ServerTls::reload`] (the daemon calls it on SIGHUP); a bad
//! new pair is reported and the one in use is kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The largest certificate or key file read.
const MAX_PEM: u64 = 1024 * 1024;

/// Why a certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is larger than any certificate chain or key.
    #[error("{0} is too large for a PEM certificate or key")]
    TooLarge(String),
    /// No certificate in the certificate file.
    #[error("{0} holds no PEM certificate")]
    NoCertificate(String),
    /// No usable private key in the key file.
    #[error("{path} holds no PEM private key: {why}")]
    NoKey {
        /// The file.
        path: String,
        /// What the parser said.
        why: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("the certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A listener's TLS configuration, reloadable while connections run.
#[derive(Clone)]
pub struct ServerTls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    let shown = path.display().to_string();
    let read_err = |source| TlsError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(TlsError::Read {
            path: shown,
            source: std::io::Error::other("not a regular file"),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(TlsError::TooLarge(shown));
    }
    Ok(bytes)
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_pem = read_bounded(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.display().to_string()));
    }
    let key_pem = read_bounded(key)?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: key.display().to_string(),
        why: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(waggle_tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl ServerTls {
    /// Load the certificate chain and key.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let current = acceptor(cert, key)?;
        Ok(ServerTls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: Arc::new(RwLock::new(current)),
        })
    }

    /// Read the files again; new connections use the new pair, connections
    /// already open keep theirs. On error the pair in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let next = acceptor(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }

    /// The acceptor for a new connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
