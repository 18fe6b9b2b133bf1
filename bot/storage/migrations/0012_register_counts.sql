-- /partenaires says how many requests a group logged and with how many organisations
-- (distinct names, whatever their case). Counting them reads every request of the group
-- (2.1x slower at 10,000 requests a group than at 1,000, see bench/README.md): the counts
-- are kept per group instead, by triggers on requests, so they stay right whatever code
-- writes requests (filing, amending a partner's name, a group becoming a supergroup).

-- How many requests of a group name each organisation; a row goes when its count is 0.
CREATE TABLE register_partners (
    chat_id INTEGER NOT NULL,
    partner_name TEXT NOT NULL COLLATE NOCASE,
    requests INTEGER NOT NULL,
    PRIMARY KEY (chat_id, partner_name)
) WITHOUT ROWID;

CREATE TABLE register_counts (
    chat_id INTEGER PRIMARY KEY,
    requests INTEGER NOT NULL DEFAULT 0,
    partners INTEGER NOT NULL DEFAULT 0
);

INSERT INTO register_partners (chat_id, partner_name, requests)
SELECT chat_id, partner_name, COUNT(*) FROM requests GROUP BY chat_id, partner_name COLLATE NOCASE;

INSERT INTO register_counts (chat_id, requests, partners)
SELECT chat_id, SUM(requests), COUNT(*) FROM register_partners GROUP BY chat_id;

CREATE TRIGGER register_partner_added AFTER INSERT ON register_partners BEGIN
    INSERT INTO register_counts (chat_id, partners) VALUES (NEW.chat_id, 1)
    ON CONFLICT (chat_id) DO UPDATE SET partners = partners + 1;
END;

CREATE TRIGGER register_partner_gone AFTER DELETE ON register_partners BEGIN
    UPDATE register_counts SET partners = partners - 1 WHERE chat_id = OLD.chat_id;
END;

CREATE TRIGGER register_request_added AFTER INSERT ON requests BEGIN
    INSERT INTO register_counts (chat_id, requests) VALUES (NEW.chat_id, 1)
    ON CONFLICT (chat_id) DO UPDATE SET requests = requests + 1;
    INSERT INTO register_partners (chat_id, partner_name, requests) VALUES (NEW.chat_id, NEW.partner_name, 1)
    ON CONFLICT (chat_id, partner_name) DO UPDATE SET requests = requests + 1;
END;

CREATE TRIGGER register_request_removed AFTER DELETE ON requests BEGIN
    UPDATE register_counts SET requests = requests - 1 WHERE chat_id = OLD.chat_id;
    UPDATE register_partners SET requests = requests - 1
    WHERE chat_id = OLD.chat_id AND partner_name = OLD.partner_name;
    DELETE FROM register_partners WHERE chat_id = OLD.chat_id AND partner_name = OLD.partner_name AND requests = 0;
END;

-- A request renamed or moved to another chat: out of the old counts, into the new ones.
CREATE TRIGGER register_request_changed AFTER UPDATE OF chat_id, partner_name ON requests
WHEN OLD.chat_id IS NOT NEW.chat_id OR OLD.partner_name IS NOT NEW.partner_name BEGIN
    UPDATE register_counts SET requests = requests - 1 WHERE chat_id = OLD.chat_id;
    UPDATE register_partners SET requests = requests - 1
    WHERE chat_id = OLD.chat_id AND partner_name = OLD.partner_name;
    DELETE FROM register_partners WHERE chat_id = OLD.chat_id AND partner_name = OLD.partner_name AND requests = 0;
    INSERT INTO register_counts (chat_id, requests) VALUES (NEW.chat_id, 1)
    ON CONFLICT (chat_id) DO UPDATE SET requests = requests + 1;
    INSERT INTO register_partners (chat_id, partner_name, requests) VALUES (NEW.chat_id, NEW.partner_name, 1)
    ON CONFLICT (chat_id, partner_name) DO UPDATE SET requests = requests + 1;
END;
