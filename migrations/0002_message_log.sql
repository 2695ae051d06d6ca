-- The message log: every message to or from a user, stored before any client sees
-- it. Forward-only: never edit this file once it has landed.
--
-- `seq` orders a user's log (AUTOINCREMENT: never reused, even after the newest
-- rows are deleted, so a client's read position stays meaningful). A conversation is
-- (conv_kind, account_id, target): 0 = a contact of an account (target: the handle),
-- 1 = a room of an account (target: the room id), 2 = the gateway's own (no account;
-- target: the name the user sees). `at_ms` is server time in milliseconds since the
-- Unix epoch. `direction`: 0 incoming, 1 outgoing. `kind`: 0 message, 1 action,
-- 2 notice. `sealed` is nonce || ciphertext (XChaCha20-Poly1305) of the sender and
-- body under the user's data key, with the user id and `msgid` as associated data.
CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER,
    conv_kind  INTEGER NOT NULL CHECK (conv_kind IN (0, 1, 2)),
    target     TEXT    NOT NULL,
    direction  INTEGER NOT NULL CHECK (direction IN (0, 1)),
    at_ms      INTEGER NOT NULL,
    msgid      TEXT    NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    archive_id TEXT,
    origin_id  TEXT,
    sealed     BLOB    NOT NULL,
    CHECK ((conv_kind = 2) = (account_id IS NULL)),
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT;

-- History of one conversation by time; also the child index of the account key.
CREATE INDEX messages_by_conversation
    ON messages (user_id, account_id, conv_kind, target, at_ms);
-- A user's log in seq order (the rowid is the implicit last column): backlog.
CREATE INDEX messages_by_user ON messages (user_id);
-- A user's log by time: conversations between times, pruning by age, statistics.
CREATE INDEX messages_by_time ON messages (user_id, at_ms);
-- A message by its msgid (history bounds).
CREATE INDEX messages_by_msgid ON messages (user_id, msgid);
-- De-duplication by the archive's id and by the sender's id.
CREATE INDEX messages_by_archive_id ON messages (user_id, archive_id)
    WHERE archive_id IS NOT NULL;
CREATE INDEX messages_by_origin_id ON messages (user_id, origin_id)
    WHERE origin_id IS NOT NULL;

-- Where each archive's catch-up starts: the archive id of the latest message logged
-- from it. `scope` is '' for an account's own archive, the room id for a room's.
CREATE TABLE archive_cursors (
    user_id    INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    scope      TEXT    NOT NULL,
    archive_id TEXT    NOT NULL,
    PRIMARY KEY (account_id, scope),
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- A logged message with an archive id moves its archive's cursor in the same
-- transaction (contacts share the account's archive, rooms have their own).
CREATE TRIGGER messages_move_archive_cursor AFTER INSERT ON messages
WHEN NEW.archive_id IS NOT NULL AND NEW.account_id IS NOT NULL
BEGIN
    INSERT INTO archive_cursors (user_id, account_id, scope, archive_id)
    VALUES (NEW.user_id, NEW.account_id,
            CASE NEW.conv_kind WHEN 1 THEN NEW.target ELSE '' END, NEW.archive_id)
    ON CONFLICT (account_id, scope) DO UPDATE SET archive_id = excluded.archive_id;
END;

-- Each client's read position: the seq of the last message it was given. The
-- unnamed client is ''.
CREATE TABLE client_positions (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client  TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, client)
) STRICT;

-- IRCv3 read markers, per conversation (keyed as in `messages`).
CREATE TABLE read_markers (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER,
    conv_kind  INTEGER NOT NULL CHECK (conv_kind IN (0, 1, 2)),
    target     TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT;

CREATE UNIQUE INDEX read_markers_by_conversation
    ON read_markers (user_id, ifnull(account_id, 0), conv_kind, target);
