-- Users brought over from BitlBee (`waggle import-bitlbee`). Forward-only: never edit
-- this file once it has landed.
--
-- An imported user's `users` row carries the password hash 'bitlbee-import:pending'
-- (no PHC string, so no password matches it) and empty key columns until their
-- first identify: then their BitlBee password is checked against the old hash, the
-- row gets Argon2id credentials with a fresh data key, and the IM passwords are
-- decrypted and sealed under that key into `accounts.password_enc`.

-- Which users an import made, so that a second run leaves them alone.
CREATE TABLE bitlbee_imports (
    user_id   INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The file they came from (`alice.xml`).
    source    TEXT    NOT NULL,
    imported  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- When their login was converted at the first identify.
    converted TEXT
) STRICT;

-- A BitlBee login waiting for the first identify: MD5 digest (16 bytes) then salt
-- (5 bytes), as BitlBee's `password` attribute holds them in base64.
CREATE TABLE bitlbee_logins (
    user_id      INTEGER PRIMARY KEY REFERENCES bitlbee_imports (user_id) ON DELETE CASCADE,
    password_md5 BLOB    NOT NULL CHECK (length(password_md5) = 21)
) STRICT;

-- IM passwords as BitlBee encrypted them: a 6-byte IV then RC4 under the login
-- password and the IV. Gone with the login they wait for.
CREATE TABLE bitlbee_account_passwords (
    account_id INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES bitlbee_logins (user_id) ON DELETE CASCADE,
    password   BLOB    NOT NULL CHECK (length(password) >= 6),
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT;

-- A password set by other means (an admin's reset) replaces the pending login: the
-- old hash must not be accepted after it, and the IM passwords under it are lost.
CREATE TRIGGER bitlbee_login_replaced
AFTER UPDATE OF password_hash ON users
WHEN NEW.password_hash <> 'bitlbee-import:pending'
BEGIN
    DELETE FROM bitlbee_logins WHERE user_id = NEW.id;
END;
