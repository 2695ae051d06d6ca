-- What the XMPP component keeps for the JIDs it hosts (every user `alice` is
-- `alice@<component domain>`). Forward-only: never edit this file once it has
-- landed.

-- Per user: the X25519 public key messages are sealed to while the user is not
-- running (its secret half is stored with the user's component account, under
-- their data key), and the nick and real name contacts see in the vCard.
CREATE TABLE component_users (
    user_id   INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    inbox_key BLOB,
    nick      TEXT,
    realname  TEXT
) STRICT;

-- Rosters with RFC 6121 states. `contact` is a bare JID, compared
-- case-insensitively. `listed` = a roster item (not only a pending request).
CREATE TABLE component_roster (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact      TEXT    NOT NULL COLLATE NOCASE,
    subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask_out      INTEGER NOT NULL DEFAULT 0,
    pending_in   INTEGER NOT NULL DEFAULT 0,
    listed       INTEGER NOT NULL DEFAULT 0,
    name         TEXT,
    grp          TEXT,
    PRIMARY KEY (user_id, contact)
) STRICT;

-- Block and allow lists.
CREATE TABLE component_lists (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact TEXT    NOT NULL COLLATE NOCASE,
    kind    TEXT    NOT NULL CHECK (kind IN ('block', 'allow')),
    PRIMARY KEY (user_id, contact)
) STRICT;

-- Messages that arrived while their user was not running: the whole stanza,
-- sealed (crypto_box sealed box) to the user's inbox key. Moved into the message
-- log, and deleted here, when the user next runs.
CREATE TABLE component_inbox (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    received INTEGER NOT NULL,
    sealed   BLOB    NOT NULL
) STRICT;

CREATE INDEX component_inbox_by_user ON component_inbox (user_id, id);
