//! The instance's unattended key: 32 random bytes the operator keeps in a file, under
//! which users' data keys are also wrapped so that their accounts can start after a
//! restart without their password.

use std::fmt;

use waggle_core::StoreError;
use zeroize::Zeroize;

use crate::crypto;

/// Length of an [`InstanceKey`] in bytes.
pub const INSTANCE_KEY_LEN: usize = 32;

/// The instance's unattended key. Its bytes are wiped when it is dropped and never
/// shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct InstanceKey([u8; INSTANCE_KEY_LEN]);

impl InstanceKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; INSTANCE_KEY_LEN]) -> InstanceKey {
        InstanceKey(bytes)
    }

    /// A fresh random key.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] when the operating system has no randomness to give.
    pub fn generate() -> Result<InstanceKey, StoreError> {
        crypto::random::<INSTANCE_KEY_LEN>().map(InstanceKey)
    }

    /// The key's bytes (to write them to its file).
    pub fn as_bytes(&self) -> &[u8; INSTANCE_KEY_LEN] {
        &self.0
    }
}

impl Drop for InstanceKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InstanceKey(..)")
    }
}
