//! BitlBee's own credential formats, as its `storage_xml` writes them (3.x):
//!
//! - The login password is kept as `base64(md5(password || salt) || salt)` with a
//!   5-byte random salt: 21 bytes, 28 base64 characters.
//! - Each IM password is `base64(iv || rc4(plain))`: a 6-byte random IV, and RC4
//!   keyed with `password || iv`, the first 1024 keystream bytes thrown away.
//!   The plain text is padded to a multiple of 12 bytes with a NUL and random
//!   bytes, so it ends at its first NUL.
//! - File names are the nick lower-cased the RFC 1459 way (`[]\~` → `{}|^`).
//!
//! Only checking and decrypting are needed here: Waggle never writes these formats.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use rc4::{KeyInit, Rc4, StreamCipher};

/// Length of an MD5 digest.
const MD5_LEN: usize = 16;
/// Length of the salt after the digest.
const SALT_LEN: usize = 5;
/// Length of a stored login hash: digest then salt.
pub(crate) const LOGIN_HASH_LEN: usize = MD5_LEN + SALT_LEN;
/// Length of the IV in front of an encrypted IM password.
pub(crate) const IV_LEN: usize = 6;
/// Keystream bytes BitlBee discards before encrypting.
const RC4_DROP: usize = 1024;
/// RC4's key schedule reads at most this many key bytes.
const RC4_KEY_MAX: usize = 256;

/// A value that is not in BitlBee's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    /// Not base64.
    #[error("not valid base64")]
    Base64,
    /// A login hash that does not decode to 21 bytes.
    #[error("{0} bytes where BitlBee's salted MD5 hash has 21")]
    HashLength(usize),
    /// An encrypted password shorter than its IV.
    #[error("{0} bytes, shorter than BitlBee's 6-byte IV")]
    CipherLength(usize),
    /// A decrypted password that is not UTF-8 text.
    #[error("the decrypted password is not UTF-8 text")]
    NotText,
}

/// Decode BitlBee's base64 (standard alphabet, padded). Whitespace is ignored, as
/// GLib's decoder does; anything else that is not base64 is an error.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, LegacyError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| LegacyError::Base64)
}

/// Decode and check a login hash attribute: the 21 bytes of digest and salt.
pub(crate) fn decode_login_hash(text: &str) -> Result<Vec<u8>, LegacyError> {
    let bytes = decode_base64(text)?;
    if bytes.len() == LOGIN_HASH_LEN {
        Ok(bytes)
    } else {
        Err(LegacyError::HashLength(bytes.len()))
    }
}

/// Whether `password` matches a decoded login hash (digest then salt).
pub(crate) fn verify_login(password: &str, hash: &[u8]) -> bool {
    let (Some(digest), Some(salt)) = (hash.get(..MD5_LEN), hash.get(MD5_LEN..)) else {
        return false;
    };
    if salt.len() != SALT_LEN {
        return false;
    }
    let mut md5 = Md5::new();
    md5.update(password.as_bytes());
    md5.update(salt);
    let computed = md5.finalize();
    // Compare every byte, so the time taken says nothing about where they differ.
    let diff = computed
        .iter()
        .zip(digest)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    diff == 0
}

/// Check the shape of a decoded IM password: at least the IV.
pub(crate) fn check_cipher(sealed: &[u8]) -> Result<(), LegacyError> {
    if sealed.len() < IV_LEN {
        Err(LegacyError::CipherLength(sealed.len()))
    } else {
        Ok(())
    }
}

/// Decrypt an IM password (`iv || ciphertext`, base64-decoded) with the login
/// password. A wrong login password gives garbage, not an error: check the login
/// hash first.
pub(crate) fn decrypt_password(sealed: &[u8], login_password: &str) -> Result<String, LegacyError> {
    let (iv, ciphertext) = sealed
        .split_at_checked(IV_LEN)
        .ok_or(LegacyError::CipherLength(sealed.len()))?;
    let mut key = Vec::with_capacity(login_password.len() + IV_LEN);
    key.extend_from_slice(login_password.as_bytes());
    key.extend_from_slice(iv);
    // The key schedule reads key[i % len] for i < 256: a longer key's tail is never
    // read, and cutting it there changes nothing.
    key.truncate(RC4_KEY_MAX);
    let mut rc4 = Rc4::new_from_slice(&key).map_err(|_| LegacyError::CipherLength(key.len()))?;
    let mut drop = [0u8; RC4_DROP];
    rc4.apply_keystream(&mut drop);
    let mut plain = ciphertext.to_vec();
    rc4.apply_keystream(&mut plain);
    if let Some(end) = plain.iter().position(|b| *b == 0) {
        plain.truncate(end);
    }
    String::from_utf8(plain).map_err(|_| LegacyError::NotText)
}

/// A nick lower-cased as BitlBee names its files: ASCII letters, and `[]\~` as
/// `{}|^` (RFC 1459); everything else is kept.
pub(crate) fn nick_lc(nick: &str) -> String {
    nick.chars()
        .map(|c| match c {
            '[' => '{',
            ']' => '}',
            '\\' => '|',
            '~' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with BitlBee 3.6's own tool: `bitlbee -x hash bitlpw` and
    // `bitlbee -x enc bitlpw <password>`.
    const HASH: &str = "bgNM1D2Xqql1H2B5soXNxn08wolL";
    const SKYPE_PW: &str = "D+p2P0LTkhz48+Ki2Wlp7tRt";

    #[test]
    fn login_hash_from_bitlbee_verifies() -> Result<(), LegacyError> {
        let hash = decode_login_hash(HASH)?;
        assert!(verify_login("bitlpw", &hash));
        assert!(!verify_login("bitlpW", &hash));
        assert!(!verify_login("", &hash));
        assert!(!verify_login("bitlpw", &hash[..20]));
        Ok(())
    }

    #[test]
    fn im_password_from_bitlbee_decrypts() -> Result<(), LegacyError> {
        let sealed = decode_base64(SKYPE_PW)?;
        assert_eq!(decrypt_password(&sealed, "bitlpw")?, "skype-pw");
        // The wrong login password yields something else (garbage), never the secret.
        assert_ne!(
            decrypt_password(&sealed, "other").unwrap_or_default(),
            "skype-pw"
        );
        Ok(())
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(decode_base64("not base64!"), Err(LegacyError::Base64));
        assert_eq!(decode_login_hash("AAAA"), Err(LegacyError::HashLength(3)));
        assert_eq!(
            decrypt_password(&[1, 2, 3], "pw"),
            Err(LegacyError::CipherLength(3))
        );
        // Only the IV: BitlBee's form of an empty password.
        assert_eq!(decrypt_password(&[9; IV_LEN], "pw").as_deref(), Ok(""));
        assert_eq!(
            decode_base64(" bgNM1D2X\nqql1H2B5soXNxn08wolL ").map(|b| b.len()),
            Ok(21)
        );
    }

    #[test]
    fn key_lengths_from_bitlbee_decrypt() -> Result<(), LegacyError> {
        // `bitlbee -x enc` with a 300-byte login password (RC4 reads 256 key bytes),
        // a non-ASCII one, and a 12-byte secret (no padding, so no NUL).
        let long = decode_base64("aHTQ7eEHVFgdS3Lo2cTUruks88rtWQz52UtURGFsW9kyrNbJXH4bp8jw")?;
        assert_eq!(
            decrypt_password(&long, &"k".repeat(300))?,
            "long-key secret, 25 bytes"
        );
        let utf8 = decode_base64("CWEpbzALMXvUhM1FVRrURmZb")?;
        assert_eq!(decrypt_password(&utf8, "pässwörd")?, "x");
        let exact = decode_base64("93pDJQTiNj4Lau//kCqPHxSo")?;
        assert_eq!(decrypt_password(&exact, "pw")?, "123456789012");
        Ok(())
    }

    #[test]
    fn nicks_lower_case_like_bitlbee_files() {
        assert_eq!(nick_lc("Alice[Away]~\\"), "alice{away}^|");
        assert_eq!(nick_lc("bob-_`"), "bob-_`");
    }
}
