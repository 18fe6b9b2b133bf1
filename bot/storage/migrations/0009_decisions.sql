-- Deciding as the movement decides: a new round on an unchanged request carries an admin's
-- reason, and a request can be withdrawn by its author or declined by the circle.
-- Never edit a landed migration: add the next one.

-- Why an admin opened a new round on a request the circle objected to, unchanged.
ALTER TABLE consent_rounds ADD COLUMN reopen_reason TEXT;

-- The author's word when withdrawing (optional), or the reason a request was declined.
ALTER TABLE requests ADD COLUMN status_reason TEXT;
CREATE INDEX requests_ended_by_chat ON requests (chat_id, decided_at) WHERE status IN ('withdrawn', 'declined');
