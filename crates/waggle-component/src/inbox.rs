//! The inbox key: messages that arrive while a user is not running are sealed
//! (an X25519 sealed box) to the user's public key. The secret half is the
//! password of the user's component account, which the gateway stores under the
//! user's own data key, so only the user's next login opens them; the database
//! alone shows no message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::OsRng;
use crypto_box::{PublicKey, SecretKey};

/// A user's inbox key pair.
pub(crate) struct InboxKey {
    secret: SecretKey,
}

impl std::fmt::Debug for InboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboxKey(..)")
    }
}

impl InboxKey {
    /// A fresh secret, as the account password that stores it.
    pub fn generate() -> Option<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).ok()?;
        Some(STANDARD.encode(bytes))
    }

    /// The key stored as an account password; `None` when it is not one.
    pub fn from_password(password: &str) -> Option<InboxKey> {
        let bytes = STANDARD.decode(password.trim()).ok()?;
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(InboxKey {
            secret: SecretKey::from(bytes),
        })
    }

    /// The public half, as stored for sealing.
    pub fn public(&self) -> Vec<u8> {
        self.secret.public_key().as_bytes().to_vec()
    }

    /// Open a message sealed to this key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.secret.unseal(sealed).ok()
    }
}

/// Seal `plain` to a stored public key; `None` when the key is not one.
pub(crate) fn seal(public: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
    let bytes: [u8; 32] = public.try_into().ok()?;
    PublicKey::from(bytes).seal(&mut OsRng, plain).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_opens_what_was_sealed_to_its_public_key() {
        let pw = InboxKey::generate().expect("random");
        let key = InboxKey::from_password(&pw).expect("key");
        let sealed = seal(&key.public(), b"<message/>").expect("seal");
        assert_eq!(key.open(&sealed).as_deref(), Some(&b"<message/>"[..]));
        let other = InboxKey::from_password(&InboxKey::generate().expect("random")).expect("key");
        assert_eq!(other.open(&sealed), None);
        assert!(InboxKey::from_password("not base64!").is_none());
        assert!(InboxKey::from_password(&STANDARD.encode([1u8; 16])).is_none());
        assert!(seal(&[0u8; 5], b"x").is_none());
    }
}
