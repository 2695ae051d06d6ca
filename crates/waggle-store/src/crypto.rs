//! Password hashing and the encryption of stored secrets.
//!
//! - The gateway password is kept as an Argon2id PHC string.
//! - Each user has a random 32-byte data key. On disk it is wrapped (XChaCha20-Poly1305)
//!   under a key-encryption key derived from the password with Argon2id and a per-user
//!   random salt, so a stolen database reveals no key without the password.
//! - IM passwords are sealed under the data key as `nonce || ciphertext`, with the owning
//!   user and account ids as associated data so a blob cannot be moved to another row.
//!
//! Everything here is synchronous and the Argon2 parts are deliberately slow: callers on
//! an async runtime run them through `spawn_blocking`.

use argon2::Argon2;
use argon2::password_hash::{self, PasswordHasher, PasswordVerifier};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use waggle_core::{StoreError, UserKey};

/// Length of the per-user salt for the key-encryption key, and of PHC salts.
pub(crate) const SALT_LEN: usize = 16;
/// Length of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;
/// Associated data binding a wrapped key to its purpose.
const WRAP_AAD: &[u8] = b"waggle:data-key:v1";
/// Prefix of the associated data of an IM password.
const ACCOUNT_AAD: &[u8] = b"waggle:account-password:v1:";

/// What a user row stores about their password and data key.
pub(crate) struct Credentials {
    /// Argon2id PHC string of the gateway password.
    pub(crate) password_hash: String,
    /// Salt of the key-encryption key.
    pub(crate) key_salt: Vec<u8>,
    /// The data key, wrapped: `nonce || ciphertext`.
    pub(crate) wrapped_key: Vec<u8>,
}

fn crypto_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Crypto(format!("{what}: {e}"))
}

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| crypto_err("random", e))?;
    Ok(out)
}

/// A fresh random data key.
pub(crate) fn new_data_key() -> Result<UserKey, StoreError> {
    random::<32>().map(UserKey)
}

/// Hash a gateway password into an Argon2id PHC string with a random salt.
pub(crate) fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = random::<SALT_LEN>()?;
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crypto_err("hash password", e))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash is an error, a
/// wrong password is `Ok(false)`.
pub(crate) fn verify_password(password: &str, hash: &str) -> Result<bool, StoreError> {
    match Argon2::default().verify_password(password.as_bytes(), hash) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(crypto_err("verify password", e)),
    }
}

/// Derive the key-encryption key from a password and salt (Argon2id).
fn derive_kek(password: &str, salt: &[u8]) -> Result<[u8; 32], StoreError> {
    let mut kek = [0u8; 32];
    Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut kek)
        .map_err(|e| crypto_err("derive key", e))?;
    Ok(kek)
}

/// Encrypt `plain` under `key` with a random nonce; returns `nonce || ciphertext`.
fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let nonce_bytes = random::<NONCE_LEN>()?;
    let nonce = XNonce::from(nonce_bytes);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .map_err(|e| crypto_err("encrypt", e))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypt `nonce || ciphertext`; any failure is [`StoreError::Decrypt`].
fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < NONCE_LEN {
        return Err(StoreError::Decrypt);
    }
    let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = XNonce::try_from(nonce_bytes).map_err(|_| StoreError::Decrypt)?;
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| StoreError::Decrypt)
}

/// Hash `password` and wrap `key` under it with a fresh salt: what a user row stores.
pub(crate) fn make_credentials(password: &str, key: &UserKey) -> Result<Credentials, StoreError> {
    let password_hash = hash_password(password)?;
    let key_salt = random::<SALT_LEN>()?;
    let kek = derive_kek(password, &key_salt)?;
    let wrapped_key = seal(&kek, &key.0, WRAP_AAD)?;
    Ok(Credentials {
        password_hash,
        key_salt: key_salt.to_vec(),
        wrapped_key,
    })
}

/// Unwrap a stored data key with the (already verified) password.
pub(crate) fn unwrap_key(
    password: &str,
    key_salt: &[u8],
    wrapped_key: &[u8],
) -> Result<UserKey, StoreError> {
    let kek = derive_kek(password, key_salt)?;
    let plain = open(&kek, wrapped_key, WRAP_AAD)?;
    let bytes: [u8; 32] = plain.try_into().map_err(|_| StoreError::Decrypt)?;
    Ok(UserKey(bytes))
}

fn account_aad(user_id: i64, account_row: i64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(ACCOUNT_AAD.len() + 16);
    aad.extend_from_slice(ACCOUNT_AAD);
    aad.extend_from_slice(&user_id.to_le_bytes());
    aad.extend_from_slice(&account_row.to_le_bytes());
    aad
}

/// Encrypt an IM password for account `account_row` of user `user_id`.
pub(crate) fn seal_account_password(
    key: &UserKey,
    user_id: i64,
    account_row: i64,
    password: &str,
) -> Result<Vec<u8>, StoreError> {
    seal(
        &key.0,
        password.as_bytes(),
        &account_aad(user_id, account_row),
    )
}

/// Decrypt an IM password sealed by [`seal_account_password`].
pub(crate) fn open_account_password(
    key: &UserKey,
    user_id: i64,
    account_row: i64,
    sealed: &[u8],
) -> Result<String, StoreError> {
    let plain = open(&key.0, sealed, &account_aad(user_id, account_row))?;
    String::from_utf8(plain).map_err(|_| StoreError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() -> Result<(), StoreError> {
        let hash = hash_password("hunter2")?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("hunter2", &hash)?);
        assert!(!verify_password("hunter3", &hash)?);
        assert!(verify_password("x", "not a phc string").is_err());
        Ok(())
    }

    #[test]
    fn key_wrap_round_trip() -> Result<(), StoreError> {
        let key = new_data_key()?;
        let creds = make_credentials("pw", &key)?;
        assert_eq!(unwrap_key("pw", &creds.key_salt, &creds.wrapped_key)?, key);
        assert!(matches!(
            unwrap_key("other", &creds.key_salt, &creds.wrapped_key),
            Err(StoreError::Decrypt)
        ));
        Ok(())
    }

    #[test]
    fn account_password_bound_to_row() -> Result<(), StoreError> {
        let key = new_data_key()?;
        let sealed = seal_account_password(&key, 1, 7, "secret")?;
        assert_eq!(open_account_password(&key, 1, 7, &sealed)?, "secret");
        assert!(matches!(
            open_account_password(&key, 1, 8, &sealed),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            open_account_password(&key, 2, 7, &sealed),
            Err(StoreError::Decrypt)
        ));
        let other = new_data_key()?;
        assert!(matches!(
            open_account_password(&other, 1, 7, &sealed),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            open_account_password(&key, 1, 7, &sealed[..10]),
            Err(StoreError::Decrypt)
        ));
        Ok(())
    }
}
