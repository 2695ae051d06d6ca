//! The backend's errors and how the supervisor should treat them.

use std::io;

use waggle_core::BackendError;

/// Why a connection attempt or a session ended.
#[derive(Debug, thiserror::Error)]
pub enum XmppError {
    /// The account's settings cannot work (never retried).
    #[error("{0}")]
    Config(String),
    /// The server refused our credentials (never retried).
    #[error("{0}")]
    Auth(String),
    /// The server's certificate was refused (never retried: someone must look at it).
    #[error("{0}")]
    Certificate(String),
    /// The connection failed (retried).
    #[error("{0}")]
    Network(String),
    /// The connection of a logged-in session dropped: a stream that can be
    /// resumed (XEP-0198) is, else it is retried like [`XmppError::Network`].
    #[error("{0}")]
    Lost(String),
    /// The server broke the protocol (retried).
    #[error("{0}")]
    Protocol(String),
}

impl XmppError {
    /// A network error with context.
    pub fn io(context: &str, e: &io::Error) -> XmppError {
        XmppError::Network(format!("{context}: {e}"))
    }

    /// A logged-in connection dropped (reading or writing failed); data the
    /// server sent that we refuse to read (a stanza too large) is not a drop
    /// but a protocol error: resuming would only get it again.
    pub fn lost(context: &str, e: &io::Error) -> XmppError {
        let too_large = e
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<crate::limit::TooLarge>().is_some());
        if too_large {
            XmppError::Protocol(format!("{context}: {e}"))
        } else {
            XmppError::Lost(format!("{context}: {e}"))
        }
    }
}

impl From<XmppError> for BackendError {
    fn from(e: XmppError) -> BackendError {
        match e {
            XmppError::Config(m) | XmppError::Certificate(m) => BackendError::Config(m),
            XmppError::Auth(m) => BackendError::Auth(m),
            XmppError::Network(m) | XmppError::Lost(m) => BackendError::Network(m),
            XmppError::Protocol(m) => BackendError::Protocol(m),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes() {
        let b: BackendError = XmppError::Auth("x".into()).into();
        assert!(!b.is_retryable());
        let b: BackendError = XmppError::Certificate("x".into()).into();
        assert!(!b.is_retryable());
        let b: BackendError = XmppError::Network("x".into()).into();
        assert!(b.is_retryable());
    }
}
