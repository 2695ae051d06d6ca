-- Waggle's initial schema. Forward-only: never edit this file once it has landed;
-- add a new numbered migration instead.
--
-- Every row hangs off a user; deleting a user cascades to everything they own.
-- Names a person types (user names, channel names) compare case-insensitively.

-- Gateway users. `password_hash` is an Argon2id PHC string. `wrapped_key` is the
-- user's random 32-byte data key, encrypted (XChaCha20-Poly1305, nonce || ciphertext)
-- under a key derived from the password with Argon2id and `key_salt`.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    key_salt      BLOB    NOT NULL,
    wrapped_key   BLOB    NOT NULL,
    created       TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
) STRICT;

-- Explicitly set global settings.
CREATE TABLE user_settings (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
) STRICT;

-- IM accounts. `password_enc` is nonce || ciphertext under the user's data key
-- (XChaCha20-Poly1305, the user and account ids as associated data); NULL when
-- no password is stored.
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    protocol     TEXT    NOT NULL,
    handle       TEXT    NOT NULL,
    tag          TEXT    NOT NULL,
    password_enc BLOB,
    -- Lets contacts reference (account, owner) so a contact can never belong to
    -- one user while pointing at another user's account.
    UNIQUE (id, user_id)
) STRICT;

CREATE INDEX accounts_by_user ON accounts (user_id, position);

-- Explicitly set account settings.
CREATE TABLE account_settings (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;

-- The buddy list with each contact's IRC nick, so it shows before the IM server answers.
CREATE TABLE contacts (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL,
    handle       TEXT    NOT NULL,
    nick         TEXT    NOT NULL,
    grp          TEXT,
    display_name TEXT,
    PRIMARY KEY (account_id, handle),
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX contacts_by_user ON contacts (user_id);

-- A user's channels (`&bitlbee`, `#room` …).
CREATE TABLE channels (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL COLLATE NOCASE,
    PRIMARY KEY (user_id, name)
) STRICT;

-- Explicitly set channel settings.
CREATE TABLE channel_settings (
    user_id INTEGER NOT NULL,
    channel TEXT    NOT NULL COLLATE NOCASE,
    name    TEXT    NOT NULL,
    value   TEXT    NOT NULL,
    PRIMARY KEY (user_id, channel, name),
    FOREIGN KEY (user_id, channel) REFERENCES channels (user_id, name)
        ON DELETE CASCADE ON UPDATE CASCADE
) STRICT;
