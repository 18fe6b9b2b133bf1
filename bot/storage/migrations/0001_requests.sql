-- Partnership requests, the flows they are made with, and flows in progress.
-- Dates are ISO 8601 UTC text. Never edit a landed migration: add the next one.

CREATE TABLE chats (
    id          INTEGER PRIMARY KEY,          -- Telegram chat id
    type        TEXT    NOT NULL,             -- private | group | supergroup
    title       TEXT,
    updated_at  TEXT    NOT NULL
);

-- Every version of every flow, from disk or uploaded; (flow_id, version) names one text.
CREATE TABLE flow_versions (
    flow_id        TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    scope_chat_id  INTEGER NOT NULL DEFAULT 0,  -- 0: every group without an override
    source         TEXT    NOT NULL,            -- disk | upload
    author_id      INTEGER,
    author_name    TEXT,
    yaml           TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (flow_id, version)
) WITHOUT ROWID;

-- Which version each scope uses now.
CREATE TABLE active_flows (
    flow_id        TEXT    NOT NULL,
    scope_chat_id  INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    PRIMARY KEY (flow_id, scope_chat_id),
    FOREIGN KEY (flow_id, version) REFERENCES flow_versions (flow_id, version)
) WITHOUT ROWID;

-- A member filling a flow in a chat: one row, rewritten at every step.
CREATE TABLE flow_sessions (
    chat_id           INTEGER NOT NULL,       -- where the questions are asked
    user_id           INTEGER NOT NULL,
    token             TEXT    NOT NULL UNIQUE, -- in callback data: stale buttons are refused
    flow_id           TEXT    NOT NULL,
    flow_version      INTEGER NOT NULL,
    origin_chat_id    INTEGER NOT NULL,       -- the chat the request belongs to
    current_step      TEXT,                   -- NULL: the summary is shown
    editing           INTEGER NOT NULL DEFAULT 0,
    answers           TEXT    NOT NULL,       -- JSON object step id -> value
    reminded          TEXT    NOT NULL DEFAULT '[]',
    author_name       TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    PRIMARY KEY (chat_id, user_id),
    FOREIGN KEY (flow_id, flow_version) REFERENCES flow_versions (flow_id, version)
) WITHOUT ROWID;

CREATE TABLE requests (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,         -- the group (or private chat) it belongs to
    number          INTEGER NOT NULL,         -- shown to members, counted per chat
    author_id       INTEGER NOT NULL,
    author_name     TEXT    NOT NULL,
    flow_id         TEXT    NOT NULL,
    flow_version    INTEGER NOT NULL,
    partner_name    TEXT    NOT NULL,
    partner_kind    TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'submitted',
    card_message_id INTEGER,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    UNIQUE (chat_id, number),
    FOREIGN KEY (flow_id, flow_version) REFERENCES flow_versions (flow_id, version)
);

CREATE TABLE request_answers (
    request_id  INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    step_id     TEXT    NOT NULL,
    value       TEXT    NOT NULL,             -- JSON
    PRIMARY KEY (request_id, step_id)
) WITHOUT ROWID;

-- Telegram redelivers updates after a crash: a state change records its update in the
-- same transaction, so replaying it changes nothing.
CREATE TABLE processed_updates (
    update_id     INTEGER PRIMARY KEY,
    processed_at  TEXT    NOT NULL
);
