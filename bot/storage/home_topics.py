"""Forum topics: a group's home topic, and forgetting a topic Telegram no longer takes.

A row's thread id names a topic of its group; NULL is the General topic. A topic deleted or
closed is forgotten everywhere at once, so nothing is sent there again.
"""

from __future__ import annotations

import sqlite3

# Every column holding a topic of a group, with the column holding that group's chat id.
THREAD_COLUMNS = (
    ("flow_sessions", "thread_id", "origin_chat_id"),
    ("requests", "thread_id", "chat_id"),
    ("consent_rounds", "thread_id", "chat_id"),
    ("outbox", "thread_id", "chat_id"),
)


def home(connection: sqlite3.Connection, chat_id: int) -> int | None:
    """The topic an admin chose for the group's cards and proposals; None: General."""
    row = connection.execute("SELECT home_thread_id FROM chats WHERE id = ?", (chat_id,)).fetchone()
    return None if row is None else row["home_thread_id"]


def destination(
    connection: sqlite3.Connection, chat_id: int, here: int | None, fallback: int | None = None
) -> int | None:
    """Where a card or a proposal goes: the topic it was started in, else the group's home
    topic, else ``fallback`` (the topic of what it follows), else General."""
    if here is not None:
        return here
    home_id = home(connection, chat_id)
    return home_id if home_id is not None else fallback


def set_home(connection: sqlite3.Connection, chat_id: int, thread_id: int | None) -> None:
    connection.execute("UPDATE chats SET home_thread_id = ? WHERE id = ?", (thread_id, chat_id))


def forget(connection: sqlite3.Connection, chat_id: int, thread_id: int) -> bool:
    """Send to General what was meant for a lost topic; True when it was the group's home topic
    (and this is the first time it is forgotten: the admins are told once)."""
    for table, thread, chat in THREAD_COLUMNS:
        connection.execute(
            f"UPDATE {table} SET {thread} = NULL WHERE {chat} = ? AND {thread} = ?", (chat_id, thread_id)
        )
    cursor = connection.execute(
        "UPDATE chats SET home_thread_id = NULL WHERE id = ? AND home_thread_id = ?", (chat_id, thread_id)
    )
    return cursor.rowcount > 0
