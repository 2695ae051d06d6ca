//! The component's failures.

use waggle_core::BackendError;

/// Why the connection to the server failed or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The connection could not be made or dropped.
    #[error("{0}")]
    Network(String),
    /// The server refused the component (wrong secret, unknown domain, another
    /// instance connected).
    #[error("the server refused the component: {0}")]
    Refused(String),
    /// The server broke the protocol.
    #[error("{0}")]
    Protocol(String),
}

/// Why a user's account could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The account's handle names no gateway user of this domain.
    #[error("{0} is not the address of a user of this gateway")]
    NotAUser(String),
    /// The user's address is already online (a second account of the user).
    #[error("{0} is already online through another account")]
    AlreadyOnline(String),
    /// The store failed.
    #[error("storage: {0}")]
    Store(String),
}

impl From<AccountError> for BackendError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::NotAUser(_) | AccountError::AlreadyOnline(_) => {
                BackendError::Config(e.to_string())
            }
            AccountError::Store(_) => BackendError::Network(e.to_string()),
        }
    }
}
