-- Messages that must reach Telegram (outcomes, summaries, reminders, follow-ups), kept until
-- Telegram confirmed them. Dates are ISO 8601 UTC text. Never edit a landed migration: add
-- the next one.

CREATE TABLE outbox (
    id                   INTEGER PRIMARY KEY,
    -- Set for a message that must be queued at most once, whoever asks for it again.
    key                  TEXT    UNIQUE,
    chat_id              INTEGER NOT NULL,
    texts                TEXT    NOT NULL,   -- JSON list of HTML messages, sent in order
    sent_parts           INTEGER NOT NULL DEFAULT 0,  -- confirmed so far: a retry goes on from there
    reply_to_message_id  INTEGER,            -- the first message answers it
    reply_markup         TEXT,               -- JSON inline keyboard under the last message
    kind                 TEXT    NOT NULL,   -- who is told once it is sent or refused
    ref                  INTEGER,            -- what it is about, for them (a round, a review)
    message_id           INTEGER,            -- the first message, once sent
    status               TEXT    NOT NULL DEFAULT 'pending',  -- pending | sent | refused
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT    NOT NULL,
    last_error           TEXT,
    created_at           TEXT    NOT NULL,
    done_at              TEXT
);

-- The retry job reads the pending messages in order; delivered ones are purged after a while.
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE status <> 'pending';
