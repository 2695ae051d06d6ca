-- The message log's CHECK constraints as ranges. SQLite evaluates `x IN (0, 1, 2)`
-- by building a temporary B-tree of the list on every row it checks, which made
-- each append open, fill and free two of them: a third of what an append cost.
-- `BETWEEN` allows the same values with two comparisons. SQLite cannot change a
-- CHECK in place, so the table is rebuilt with its rows, its AUTOINCREMENT
-- position (never going back, even past deleted rows), its indexes and its
-- trigger. Forward-only: never edit this file once it has landed.
CREATE TABLE messages_rebuilt (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id INTEGER,
    conv_kind  INTEGER NOT NULL CHECK (conv_kind BETWEEN 0 AND 2),
    target     TEXT    NOT NULL,
    direction  INTEGER NOT NULL CHECK (direction BETWEEN 0 AND 1),
    at_ms      INTEGER NOT NULL,
    msgid      TEXT    NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),
    archive_id TEXT,
    origin_id  TEXT,
    sealed     BLOB    NOT NULL,
    CHECK ((conv_kind = 2) = (account_id IS NULL)),
    FOREIGN KEY (account_id, user_id) REFERENCES accounts (id, user_id) ON DELETE CASCADE
) STRICT;

INSERT INTO messages_rebuilt (seq, user_id, account_id, conv_kind, target, direction,
                              at_ms, msgid, kind, archive_id, origin_id, sealed)
SELECT seq, user_id, account_id, conv_kind, target, direction,
       at_ms, msgid, kind, archive_id, origin_id, sealed
FROM messages ORDER BY seq;

DELETE FROM sqlite_sequence WHERE name = 'messages_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'messages_rebuilt', seq FROM sqlite_sequence WHERE name = 'messages';

DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;

CREATE INDEX messages_by_conversation
    ON messages (user_id, account_id, conv_kind, target, at_ms);
CREATE INDEX messages_by_user ON messages (user_id);
CREATE INDEX messages_by_time ON messages (user_id, at_ms);
CREATE INDEX messages_by_msgid ON messages (user_id, msgid);
CREATE INDEX messages_by_archive_id ON messages (user_id, archive_id)
    WHERE archive_id IS NOT NULL;
CREATE INDEX messages_by_origin_id ON messages (user_id, origin_id)
    WHERE origin_id IS NOT NULL;

CREATE TRIGGER messages_move_archive_cursor AFTER INSERT ON messages
WHEN NEW.archive_id IS NOT NULL AND NEW.account_id IS NOT NULL
BEGIN
    INSERT INTO archive_cursors (user_id, account_id, scope, archive_id)
    VALUES (NEW.user_id, NEW.account_id,
            CASE NEW.conv_kind WHEN 1 THEN NEW.target ELSE '' END, NEW.archive_id)
    ON CONFLICT (account_id, scope) DO UPDATE SET archive_id = excluded.archive_id;
END;
