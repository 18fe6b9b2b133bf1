-- Every request reaches its group: the groups the bot knows, and the forum topics its
-- messages belong to. A thread id is a forum topic of the row's group chat; NULL is the
-- group's General topic (or a group without topics). Never edit a landed migration: add the
-- next one.

-- Set when the bot was removed from the group (my_chat_member), cleared by any update from
-- there: only groups the bot is in are offered to a member who starts a request in private.
ALTER TABLE chats ADD COLUMN left_at TEXT;
-- The topic an admin chose (/sujet) for the cards and proposals started elsewhere.
ALTER TABLE chats ADD COLUMN home_thread_id INTEGER;

-- The topic of the origin group where the flow started (its questions go there in a group).
ALTER TABLE flow_sessions ADD COLUMN thread_id INTEGER;
-- The topic of the request's card; its review follow-ups go there too.
ALTER TABLE requests ADD COLUMN thread_id INTEGER;
-- The topic of the round's proposal, reminders, prompts and outcome.
ALTER TABLE consent_rounds ADD COLUMN thread_id INTEGER;
-- The topic a delivery goes to (kept with it, so a retry after a failure goes there too).
ALTER TABLE outbox ADD COLUMN thread_id INTEGER;
