-- The partner register: review dates of adopted partnerships and their follow-ups.
-- Dates are ISO 8601 UTC text, except due_on: a calendar day of the group (YYYY-MM-DD).
-- Never edit a landed migration: add the next one.

-- 1 once an adopted request was given its first review date: the job that plans them
-- looks only at adopted requests still at 0, through the partial index below.
ALTER TABLE requests ADD COLUMN review_planned INTEGER NOT NULL DEFAULT 0;

-- Every review date of a partnership: the open one (no outcome yet) and the answered ones.
CREATE TABLE reviews (
    id                INTEGER PRIMARY KEY,
    request_id        INTEGER NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    kind              TEXT    NOT NULL,     -- review (ongoing) | follow_up (one-off: how did it go?)
    due_on            TEXT    NOT NULL,
    posted_at         TEXT,                 -- when the follow-up was sent (or found undeliverable)
    message_id        INTEGER,              -- the follow-up in the group; NULL if it could not be sent
    outcome           TEXT,                 -- continue | rediscuss | end; NULL while open
    answered_by       INTEGER,
    answered_by_name  TEXT,
    answered_at       TEXT,
    created_at        TEXT    NOT NULL
);

-- At most one open review per request, whatever races between the job, /revision and presses.
CREATE UNIQUE INDEX reviews_open ON reviews (request_id) WHERE outcome IS NULL;
-- A request's latest answered review (the register shows "à rediscuter").
CREATE INDEX reviews_by_request ON reviews (request_id, id);
-- Follow-ups to post: open, not posted yet, by date.
CREATE INDEX reviews_due ON reviews (due_on) WHERE outcome IS NULL AND posted_at IS NULL;

-- Adopted requests still waiting for their first review date.
CREATE INDEX requests_to_plan ON requests (id) WHERE status = 'adopted' AND review_planned = 0;
-- /partenaires pages through a chat's requests grouped by kind, then by partner name.
CREATE INDEX requests_register ON requests (chat_id, partner_kind, partner_name COLLATE NOCASE, number);
