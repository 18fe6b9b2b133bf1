-- The core circle, coordinators, consent rounds and amended requests.
-- Dates are ISO 8601 UTC text. Never edit a landed migration: add the next one.

-- When the circle last decided on a request (the closing of its latest round), and which
-- version of its answers is current: an amendment replaces the answers and bumps it.
ALTER TABLE requests ADD COLUMN decided_at TEXT;
ALTER TABLE requests ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

-- Answers a request had before an amendment replaced them (the current ones stay in
-- request_answers): the rounds on older versions keep their meaning.
CREATE TABLE request_versions (
    request_id  INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    answers     TEXT    NOT NULL,             -- JSON object step id -> value
    replaced_at TEXT    NOT NULL,
    PRIMARY KEY (request_id, version)
) WITHOUT ROWID;

-- A flow session that edits a stored request (/modifier) instead of filing a new one.
CREATE TABLE amendments (
    token       TEXT    PRIMARY KEY REFERENCES flow_sessions (token) ON DELETE CASCADE,
    request_id  INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The core circle of each group: a bot cannot list a group's members, so it keeps the roster.
CREATE TABLE circle_members (
    chat_id   INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    added_by  INTEGER,
    added_at  TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

-- /cercle rejoindre, waiting for an admin's button.
CREATE TABLE circle_join_requests (
    chat_id       INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    requested_at  TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

CREATE TABLE coordinators (
    chat_id          INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    added_at         TEXT    NOT NULL,
    -- Set when the admins were told this coordinator cannot be written to privately, so they
    -- are told once; cleared when a private summary gets through again.
    unreachable_at   TEXT,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;

CREATE TABLE consent_rounds (
    id                 INTEGER PRIMARY KEY,
    request_id         INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    request_version    INTEGER NOT NULL,
    number             INTEGER NOT NULL,      -- 1, 2... for its request
    chat_id            INTEGER NOT NULL,
    message_id         INTEGER,               -- the live proposal message in the group
    opened_by          INTEGER NOT NULL,
    opened_by_name     TEXT    NOT NULL,
    opened_at          TEXT    NOT NULL,
    deadline_at        TEXT    NOT NULL,
    quorum_percent     INTEGER NOT NULL,
    offer_stand_aside  INTEGER NOT NULL,
    reminded_at        TEXT,                  -- the reminder before the deadline was sent
    status             TEXT    NOT NULL DEFAULT 'open',   -- open | closed
    outcome            TEXT,                  -- adopted | objection | no_decision
    close_reason       TEXT,                  -- all_answered | deadline | early
    closed_by          INTEGER,
    closed_at          TEXT,
    published_at       TEXT,                  -- outcome and summaries sent
    UNIQUE (request_id, number)
);

-- At most one open round per request, whatever races between presses and jobs.
CREATE UNIQUE INDEX consent_rounds_one_open ON consent_rounds (request_id) WHERE status = 'open';
CREATE INDEX consent_rounds_by_chat ON consent_rounds (chat_id, status, closed_at);

-- The circle as it was when the round opened: only these members may take a position.
CREATE TABLE round_roster (
    round_id  INTEGER NOT NULL REFERENCES consent_rounds (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    rank      INTEGER NOT NULL,               -- display order (earlier objectors first)
    PRIMARY KEY (round_id, user_id)
) WITHOUT ROWID;

-- Every position ever taken, in order: the latest of each member is the one that counts.
CREATE TABLE round_positions (
    id           INTEGER PRIMARY KEY,
    round_id     INTEGER NOT NULL REFERENCES consent_rounds (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL,
    position     TEXT    NOT NULL,            -- consent | reservation | objection | stand_aside | conflict
    reason       TEXT,
    recorded_at  TEXT    NOT NULL,
    FOREIGN KEY (round_id, user_id) REFERENCES round_roster (round_id, user_id)
);
CREATE INDEX round_positions_by_round ON round_positions (round_id, id);

-- A ForceReply question waiting for a member's reason (objection, reservation) or question.
CREATE TABLE round_prompts (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    round_id    INTEGER NOT NULL REFERENCES consent_rounds (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    action      TEXT    NOT NULL,             -- objection | reservation | question
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (chat_id, message_id)
) WITHOUT ROWID;
