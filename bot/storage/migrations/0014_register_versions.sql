-- The register's picture takes a tenth of a second or more to draw (matplotlib), and a group
-- asks /partenaires far more often than its register changes: the bot keeps the last picture
-- of each group and draws it again only when the group's register changed since. A group's
-- version is raised by every change to what the picture shows: a request filed, changed or
-- deleted (its status, name, kind, dates), its answers (the years of a partnership), its
-- reviews (when a partnership ended). Triggers, so no code writing these tables can forget it.

ALTER TABLE register_counts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER register_version_request_added AFTER INSERT ON requests BEGIN
    INSERT INTO register_counts (chat_id, version) VALUES (NEW.chat_id, 1)
    ON CONFLICT (chat_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER register_version_request_changed AFTER UPDATE ON requests BEGIN
    UPDATE register_counts SET version = version + 1 WHERE chat_id IN (OLD.chat_id, NEW.chat_id);
END;

CREATE TRIGGER register_version_request_removed AFTER DELETE ON requests BEGIN
    UPDATE register_counts SET version = version + 1 WHERE chat_id = OLD.chat_id;
END;

CREATE TRIGGER register_version_answer_added AFTER INSERT ON request_answers BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id = (SELECT chat_id FROM requests WHERE id = NEW.request_id);
END;

CREATE TRIGGER register_version_answer_changed AFTER UPDATE ON request_answers BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id IN (SELECT chat_id FROM requests WHERE id IN (OLD.request_id, NEW.request_id));
END;

CREATE TRIGGER register_version_answer_removed AFTER DELETE ON request_answers BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id = (SELECT chat_id FROM requests WHERE id = OLD.request_id);
END;

CREATE TRIGGER register_version_review_added AFTER INSERT ON reviews BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id = (SELECT chat_id FROM requests WHERE id = NEW.request_id);
END;

CREATE TRIGGER register_version_review_changed AFTER UPDATE ON reviews BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id IN (SELECT chat_id FROM requests WHERE id IN (OLD.request_id, NEW.request_id));
END;

CREATE TRIGGER register_version_review_removed AFTER DELETE ON reviews BEGIN
    UPDATE register_counts SET version = version + 1
    WHERE chat_id = (SELECT chat_id FROM requests WHERE id = OLD.request_id);
END;
