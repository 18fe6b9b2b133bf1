"""A group that became a supergroup: every row of the group follows it to its new chat id.

Telegram gives the supergroup a new id, and its messages new ids: the group's messages stay
behind in the old chat, where the bot can no longer write. So the group's rows move to the
new id in one transaction, and what pointed at a message of the old chat is forgotten (an open
round's proposal is posted again, a follow-up waiting for an answer too).
"""

from __future__ import annotations

import sqlite3

# Every column holding a group's chat id. A table added later with such a column must be
# listed here: tests/unit/test_chat_migration.py reads the schema and fails otherwise.
CHAT_COLUMNS = (
    ("chats", "id"),
    ("flow_versions", "scope_chat_id"),
    ("active_flows", "scope_chat_id"),
    ("flow_sessions", "chat_id"),
    ("flow_sessions", "origin_chat_id"),
    ("requests", "chat_id"),
    ("circle_members", "chat_id"),
    ("circle_join_requests", "chat_id"),
    ("coordinators", "chat_id"),
    ("consent_rounds", "chat_id"),
    ("round_prompts", "chat_id"),
    ("outbox", "chat_id"),
    # Kept by triggers on requests (migration 0012): they moved with the requests above, and
    # the old chat's rows left are zeros, dropped here.
    ("register_partners", "chat_id"),
    ("register_counts", "chat_id"),
)

# Every column holding the id of a message in a group, and what becomes of it before the
# group's rows move (its messages stayed in the old chat). Checked against the schema too.
MESSAGE_COLUMNS = {
    ("consent_rounds", "message_id"): "UPDATE consent_rounds SET message_id = NULL WHERE chat_id = :old",
    # An imported entry (card 0, requests.NO_CARD) never had a card, and gets none after the move.
    (
        "requests",
        "card_message_id",
    ): "UPDATE requests SET card_message_id = NULL WHERE chat_id = :old AND card_message_id IS NOT 0",
    # An open follow-up is posted again in the supergroup: its buttons stayed behind.
    (
        "reviews",
        "message_id",
    ): "UPDATE reviews SET message_id = NULL, posted_at = CASE WHEN outcome IS NULL THEN NULL ELSE posted_at END"
    " WHERE request_id IN (SELECT id FROM requests WHERE chat_id = :old)",
    ("outbox", "reply_to_message_id"): "UPDATE outbox SET reply_to_message_id = NULL WHERE chat_id = :old",
    ("outbox", "message_id"): "UPDATE outbox SET message_id = NULL WHERE chat_id = :old",
    # A reason prompt is a reply box on a message of the old chat: nobody can answer it now,
    # and its message id could name another message of the new chat.
    ("round_prompts", "message_id"): "DELETE FROM round_prompts WHERE chat_id = :old",
}


def move(connection: sqlite3.Connection, old: int, new: int) -> bool:
    """Move every row of chat ``old`` to chat ``new``; False when there was nothing to move.

    If the supergroup already has rows of its own (someone used the bot there before the move
    was known), the group's requests keep their numbers and the supergroup's are numbered
    after them; for anything else kept once per chat (a roster entry, a member's flow, the
    chat's title), the supergroup's row wins.
    """
    ids = {"old": old, "new": new}
    found = any(
        connection.execute(f"SELECT 1 FROM {table} WHERE {column} = :old LIMIT 1", ids).fetchone() is not None
        for table, column in CHAT_COLUMNS
    )
    if not found:
        return False
    for forget in MESSAGE_COLUMNS.values():
        connection.execute(forget, ids)
    # Negated first: shifting numbers in place would collide with the next row's.
    connection.execute(
        "UPDATE requests SET number = -(number + (SELECT COALESCE(MAX(number), 0) FROM requests"
        " WHERE chat_id = :old)) WHERE chat_id = :new",
        ids,
    )
    connection.execute("UPDATE requests SET number = -number WHERE chat_id = :new AND number < 0", ids)
    for table, column in CHAT_COLUMNS:
        connection.execute(f"UPDATE OR IGNORE {table} SET {column} = :new WHERE {column} = :old", ids)
        connection.execute(f"DELETE FROM {table} WHERE {column} = :old", ids)
    connection.execute("UPDATE chats SET type = 'supergroup' WHERE id = :new", ids)
    return True
