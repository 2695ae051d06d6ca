-- Credentials made with one Argon2id run, unattended restart, and a check value for
-- running logins. Forward-only: never edit this file once it has landed.
--
-- Credential format 2 (`login_verifier` set): one Argon2id run over the password,
-- `key_salt` and `login_params` (`m=…,t=…,p=…`) is expanded with HKDF-SHA-256 into
-- `login_verifier` (stored, compared at login) and the key-encryption key (never
-- stored) under which `wrapped_key` holds the data key, with the user id as
-- associated data; `password_hash` is then ''. Format 1 (`login_verifier` NULL):
-- `password_hash` is an Argon2id PHC string and the key-encryption key comes from a
-- second Argon2id run over `key_salt`. A format-1 user is converted to format 2 at
-- their next successful login.
ALTER TABLE users ADD COLUMN login_params TEXT;
ALTER TABLE users ADD COLUMN login_verifier BLOB;

-- HKDF-SHA-256 of the data key (with the user id): tells whether a running login's
-- key is still the user's. NULL until the user's next login.
ALTER TABLE users ADD COLUMN key_check BLOB;

-- The data key wrapped under the instance's unattended key (nonce || ciphertext,
-- XChaCha20-Poly1305, the user id as associated data); NULL unless the instance has
-- one and the user logged in since it was configured.
ALTER TABLE users ADD COLUMN unattended_key BLOB;
