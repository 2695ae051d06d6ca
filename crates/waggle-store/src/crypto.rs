//! The cryptography of stored secrets.
//!
//! - Login (credential format 2): one Argon2id run over the password and a per-user
//!   salt gives a 32-byte secret; HKDF-SHA-256 expands it into a *verifier*, which is
//!   stored and compared at login, and a *key-encryption key*, which never is.
//! - Each user has a random 32-byte data key, wrapped (XChaCha20-Poly1305) under the
//!   key-encryption key, and optionally under the instance's unattended key.
//! - IM passwords and logged messages are sealed under the data key as
//!   `nonce || ciphertext`, with associated data naming what the blob belongs to
//!   (the user and the account, the user and the message id), so a blob cannot be
//!   moved to another row or another user.
//! - Format 1 (a PHC string plus a second Argon2id run for the key-encryption key)
//!   is still read, so such users can log in once and be converted.
//!
//! Everything here is synchronous and the Argon2 parts are deliberately slow: callers
//! run them through the [`HashPool`](crate::hashing::HashPool).

use std::str::FromStr;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use waggle_core::{StoreError, UserKey};
use zeroize::Zeroizing;

use crate::hashing::Memory;

/// Length of the per-user salt.
pub(crate) const SALT_LEN: usize = 16;
/// Length of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;
/// The largest Argon2 memory cost (KiB) a stored format-1 hash may ask for.
const MAX_LEGACY_M_COST: u32 = 256 * 1024;

/// Associated data of a format-1 wrapped data key.
const WRAP_AAD_V1: &[u8] = b"waggle:data-key:v1";
/// Prefix of the associated data of a format-2 wrapped data key (then the user id).
const WRAP_AAD_V2: &[u8] = b"waggle:data-key:v2:";
/// Prefix of the associated data of a data key wrapped under the instance key.
const UNATTENDED_AAD: &[u8] = b"waggle:unattended-key:v1:";
/// Prefix of the associated data of an IM password (then user and account ids).
const ACCOUNT_AAD: &[u8] = b"waggle:account-password:v1:";
/// Prefix of the associated data of a logged message (then user id and msgid).
const MESSAGE_AAD: &[u8] = b"waggle:message:v1:";
/// HKDF labels of what one Argon2 output is expanded into.
const VERIFIER_INFO: &[u8] = b"waggle:login-verifier:v2";
const KEK_INFO: &[u8] = b"waggle:key-encryption-key:v2";
/// HKDF label of the value `login_valid` compares.
const KEY_CHECK_INFO: &[u8] = b"waggle:key-check:v1:";

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

/// The Argon2id parameters new credentials are made with (m = 19 MiB, t = 2, p = 1).
pub(crate) fn login_params() -> Params {
    Params::DEFAULT
}

/// Parameters as stored beside a format-2 credential: `m=…,t=…,p=…`.
pub(crate) fn encode_params(params: &Params) -> String {
    format!(
        "m={},t={},p={}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost()
    )
}

/// Parse stored parameters, refusing any below the instance's minimum.
pub(crate) fn decode_params(text: &str) -> Result<Params, StoreError> {
    let params = Params::from_str(text).map_err(|e| crypto_err("stored parameters", e))?;
    let min = login_params();
    if params.m_cost() < min.m_cost() || params.t_cost() < min.t_cost() {
        return Err(StoreError::Crypto(format!(
            "stored parameters {text} are weaker than the minimum"
        )));
    }
    Ok(params)
}

/// What one Argon2id run over a password gives: the stored verifier and the
/// key-encryption key.
pub(crate) struct LoginSecrets {
    /// Compared with the stored verifier.
    pub(crate) verifier: [u8; 32],
    /// Wraps the data key; never stored.
    pub(crate) kek: Zeroizing<[u8; 32]>,
}

impl LoginSecrets {
    /// Whether the verifier equals `stored`, in constant time.
    pub(crate) fn matches(&self, stored: &[u8]) -> bool {
        bool::from(self.verifier.as_slice().ct_eq(stored))
    }
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Format 2: one Argon2id run, expanded into the verifier and the key-encryption key.
pub(crate) fn derive_login(
    password: &str,
    salt: &[u8],
    params: &Params,
    memory: &mut Memory,
) -> Result<LoginSecrets, StoreError> {
    let blocks = memory.blocks(params.block_count())?;
    let mut master = Zeroizing::new([0u8; 32]);
    argon2id(params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt, master.as_mut(), blocks)
        .map_err(|e| crypto_err("derive key", e))?;
    let hkdf = Hkdf::<Sha256>::new(None, master.as_ref());
    let mut verifier = [0u8; 32];
    let mut kek = Zeroizing::new([0u8; 32]);
    hkdf.expand(VERIFIER_INFO, &mut verifier)
        .and_then(|()| hkdf.expand(KEK_INFO, kek.as_mut()))
        .map_err(|e| crypto_err("expand key", e))?;
    Ok(LoginSecrets { verifier, kek })
}

/// Format 1: whether `password` matches the PHC string `hash`. A malformed hash is
/// an error, a wrong password is `Ok(false)`.
pub(crate) fn verify_legacy(
    password: &str,
    hash: &str,
    memory: &mut Memory,
) -> Result<bool, StoreError> {
    let phc = PasswordHash::new(hash).map_err(|e| crypto_err("stored hash", e))?;
    let params = Params::try_from(&phc).map_err(|e| crypto_err("stored hash", e))?;
    if params.m_cost() > MAX_LEGACY_M_COST {
        return Err(StoreError::Crypto(
            "stored hash asks for too much memory".into(),
        ));
    }
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return Err(StoreError::Crypto(
            "stored hash has no salt or output".into(),
        ));
    };
    let blocks = memory.blocks(params.block_count())?;
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    argon2id(params.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut computed, blocks)
        .map_err(|e| crypto_err("verify password", e))?;
    Ok(bool::from(expected.as_bytes().ct_eq(&computed)))
}

/// Format 1: the key-encryption key, from a second Argon2id run with its own salt.
fn derive_legacy_kek(
    password: &str,
    salt: &[u8],
    memory: &mut Memory,
) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let params = login_params();
    let blocks = memory.blocks(params.block_count())?;
    let mut kek = Zeroizing::new([0u8; 32]);
    argon2id(params)
        .hash_password_into_with_memory(password.as_bytes(), salt, kek.as_mut(), blocks)
        .map_err(|e| crypto_err("derive key", e))?;
    Ok(kek)
}

/// Format 1: unwrap a stored data key with the (already verified) password.
pub(crate) fn unwrap_legacy_key(
    password: &str,
    key_salt: &[u8],
    wrapped_key: &[u8],
    memory: &mut Memory,
) -> Result<UserKey, StoreError> {
    let kek = derive_legacy_kek(password, key_salt, memory)?;
    key_from(open(&kek, wrapped_key, WRAP_AAD_V1)?)
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
fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
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
        .map(Zeroizing::new)
        .map_err(|_| StoreError::Decrypt)
}

fn key_from(plain: Zeroizing<Vec<u8>>) -> Result<UserKey, StoreError> {
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Decrypt)?;
    Ok(UserKey(bytes))
}

/// Associated data: a label, the user id, then what else the blob is bound to.
fn aad(label: &[u8], user_id: i64, rest: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(label.len() + 8 + rest.len());
    aad.extend_from_slice(label);
    aad.extend_from_slice(&user_id.to_le_bytes());
    aad.extend_from_slice(rest);
    aad
}

/// Format 2: wrap the data key of user `user_id` under a key-encryption key.
pub(crate) fn wrap_key(kek: &[u8; 32], user_id: i64, key: &UserKey) -> Result<Vec<u8>, StoreError> {
    seal(kek, &key.0, &aad(WRAP_AAD_V2, user_id, &[]))
}

/// Format 2: unwrap what [`wrap_key`] made.
pub(crate) fn unwrap_key(
    kek: &[u8; 32],
    user_id: i64,
    wrapped: &[u8],
) -> Result<UserKey, StoreError> {
    key_from(open(kek, wrapped, &aad(WRAP_AAD_V2, user_id, &[]))?)
}

/// Wrap the data key of user `user_id` under the instance's unattended key.
pub(crate) fn wrap_unattended(
    instance: &[u8; 32],
    user_id: i64,
    key: &UserKey,
) -> Result<Vec<u8>, StoreError> {
    seal(instance, &key.0, &aad(UNATTENDED_AAD, user_id, &[]))
}

/// Unwrap what [`wrap_unattended`] made.
pub(crate) fn unwrap_unattended(
    instance: &[u8; 32],
    user_id: i64,
    wrapped: &[u8],
) -> Result<UserKey, StoreError> {
    key_from(open(instance, wrapped, &aad(UNATTENDED_AAD, user_id, &[]))?)
}

/// A value that names a data key without revealing it, compared by `login_valid`.
pub(crate) fn key_check(user_id: i64, key: &UserKey) -> Result<[u8; 32], StoreError> {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, &key.0)
        .expand(&aad(KEY_CHECK_INFO, user_id, &[]), &mut out)
        .map_err(|e| crypto_err("key check", e))?;
    Ok(out)
}

/// Whether `stored` is the key check of `key`, in constant time.
pub(crate) fn key_check_matches(
    stored: &[u8],
    user_id: i64,
    key: &UserKey,
) -> Result<bool, StoreError> {
    Ok(bool::from(
        key_check(user_id, key)?.as_slice().ct_eq(stored),
    ))
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
        &aad(ACCOUNT_AAD, user_id, &account_row.to_le_bytes()),
    )
}

/// Decrypt an IM password sealed by [`seal_account_password`].
pub(crate) fn open_account_password(
    key: &UserKey,
    user_id: i64,
    account_row: i64,
    sealed: &[u8],
) -> Result<String, StoreError> {
    let plain = open(
        &key.0,
        sealed,
        &aad(ACCOUNT_AAD, user_id, &account_row.to_le_bytes()),
    )?;
    String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Decrypt)
}

/// Seal who spoke and what they said, bound to the user and the message id:
/// the plaintext is the sender's length (u32, little-endian), the sender, the body.
pub(crate) fn seal_message(
    key: &UserKey,
    user_id: i64,
    msgid: &str,
    sender: &str,
    body: &str,
) -> Result<Vec<u8>, StoreError> {
    let sender_len = u32::try_from(sender.len())
        .map_err(|_| StoreError::Crypto("sender name too long".into()))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(4 + sender.len() + body.len()));
    plain.extend_from_slice(&sender_len.to_le_bytes());
    plain.extend_from_slice(sender.as_bytes());
    plain.extend_from_slice(body.as_bytes());
    seal(&key.0, &plain, &aad(MESSAGE_AAD, user_id, msgid.as_bytes()))
}

/// Open what [`seal_message`] made: `(sender, body)`.
pub(crate) fn open_message(
    key: &UserKey,
    user_id: i64,
    msgid: &str,
    sealed: &[u8],
) -> Result<(String, String), StoreError> {
    let plain = open(&key.0, sealed, &aad(MESSAGE_AAD, user_id, msgid.as_bytes()))?;
    let (len, rest) = plain.split_first_chunk::<4>().ok_or(StoreError::Decrypt)?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| StoreError::Decrypt)?;
    if len > rest.len() {
        return Err(StoreError::Decrypt);
    }
    let (sender, body) = rest.split_at(len);
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Decrypt);
    Ok((text(sender)?, text(body)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_gives_verifier_and_kek() -> Result<(), StoreError> {
        let mut memory = Memory::new();
        let salt = random::<SALT_LEN>()?;
        let params = login_params();
        let a = derive_login("pw", &salt, &params, &mut memory)?;
        let b = derive_login("pw", &salt, &params, &mut memory)?;
        let c = derive_login("other", &salt, &params, &mut memory)?;
        assert!(a.matches(&b.verifier));
        assert!(!a.matches(&c.verifier));
        assert_ne!(a.verifier, *a.kek, "the verifier does not reveal the key");
        let key = new_data_key()?;
        let wrapped = wrap_key(&a.kek, 1, &key)?;
        assert_eq!(unwrap_key(&b.kek, 1, &wrapped)?, key);
        assert!(matches!(
            unwrap_key(&c.kek, 1, &wrapped),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            unwrap_key(&a.kek, 2, &wrapped),
            Err(StoreError::Decrypt)
        ));
        Ok(())
    }

    #[test]
    fn legacy_phc_hashes_verify() -> Result<(), StoreError> {
        use argon2::password_hash::PasswordHasher;
        let salt = random::<SALT_LEN>()?;
        let phc = Argon2::default()
            .hash_password_with_salt(b"hunter2", &salt)
            .map_err(|e| crypto_err("hash", e))?
            .to_string();
        let mut memory = Memory::new();
        assert!(verify_legacy("hunter2", &phc, &mut memory)?);
        assert!(!verify_legacy("hunter3", &phc, &mut memory)?);
        assert!(verify_legacy("x", "not a phc string", &mut memory).is_err());
        Ok(())
    }

    #[test]
    fn weak_stored_parameters_are_refused() {
        assert!(decode_params(&encode_params(&login_params())).is_ok());
        assert!(decode_params("m=1024,t=1,p=1").is_err());
        assert!(decode_params("nonsense").is_err());
    }

    #[test]
    fn account_password_bound_to_user_and_row() -> Result<(), StoreError> {
        let key = new_data_key()?;
        let sealed = seal_account_password(&key, 1, 7, "secret")?;
        assert_eq!(open_account_password(&key, 1, 7, &sealed)?, "secret");
        for (user, row) in [(1, 8), (2, 7)] {
            assert!(matches!(
                open_account_password(&key, user, row, &sealed),
                Err(StoreError::Decrypt)
            ));
        }
        let other = new_data_key()?;
        assert!(matches!(
            open_account_password(&other, 1, 7, &sealed),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            open_account_password(&key, 1, 7, sealed.get(..10).unwrap_or_default()),
            Err(StoreError::Decrypt)
        ));
        Ok(())
    }

    #[test]
    fn message_bound_to_user_and_msgid() -> Result<(), StoreError> {
        let key = new_data_key()?;
        let sealed = seal_message(&key, 3, "m1", "bob", "hello\nworld")?;
        assert_eq!(
            open_message(&key, 3, "m1", &sealed)?,
            ("bob".into(), "hello\nworld".into())
        );
        assert!(matches!(
            open_message(&key, 4, "m1", &sealed),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            open_message(&key, 3, "m2", &sealed),
            Err(StoreError::Decrypt)
        ));
        let empty = seal_message(&key, 3, "m3", "", "")?;
        assert_eq!(
            open_message(&key, 3, "m3", &empty)?,
            (String::new(), String::new())
        );
        Ok(())
    }

    #[test]
    fn key_check_names_one_key() -> Result<(), StoreError> {
        let key = new_data_key()?;
        let check = key_check(5, &key)?;
        assert!(key_check_matches(&check, 5, &key)?);
        assert!(!key_check_matches(&check, 6, &key)?);
        assert!(!key_check_matches(&check, 5, &new_data_key()?)?);
        assert!(!key_check_matches(&[], 5, &key)?);
        Ok(())
    }
}
