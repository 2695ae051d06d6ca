//! The backend's errors and how the supervisor treats them.

use waggle_core::BackendError;

/// Why a Skype connection ended.
#[derive(Debug, thiserror::Error)]
pub enum SkypeError {
    /// The account's settings cannot work, or skyped's certificate is refused:
    /// not retried.
    #[error("{0}")]
    Config(String),
    /// skyped refused the user name or password: not retried.
    #[error("{0}")]
    Auth(String),
    /// The connection failed, dropped or went silent: retried with backoff.
    #[error("{0}")]
    Network(String),
    /// skyped broke the protocol (e.g. an absurdly long line): retried with backoff.
    #[error("{0}")]
    Protocol(String),
}

impl From<SkypeError> for BackendError {
    fn from(e: SkypeError) -> Self {
        match e {
            SkypeError::Config(t) => BackendError::Config(t),
            SkypeError::Auth(t) => BackendError::Auth(t),
            SkypeError::Network(t) => BackendError::Network(t),
            SkypeError::Protocol(t) => BackendError::Protocol(t),
        }
    }
}
