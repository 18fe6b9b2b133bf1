"""Chats the bot has seen, for their titles."""

from __future__ import annotations

import sqlite3

from bot.storage.db import Database, now, unit_of_work


async def remember(database: Database, chat_id: int, chat_type: str, title: str | None) -> None:
    """Record a chat's title; written only when it changed (any command, even refused, calls this)."""
    await database.write(lambda connection: record(connection, chat_id, chat_type, title))


@unit_of_work
def record(connection: sqlite3.Connection, chat_id: int, chat_type: str, title: str | None) -> None:
    """``remember``, inside a write that changes something else."""
    connection.execute(
        "INSERT INTO chats (id, type, title, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,"
        " updated_at = excluded.updated_at"
        " WHERE chats.type IS NOT excluded.type OR chats.title IS NOT excluded.title",
        (chat_id, chat_type, title, now()),
    )


@unit_of_work
def title(connection: sqlite3.Connection, chat_id: int) -> str | None:
    row = connection.execute("SELECT title FROM chats WHERE id = ?", (chat_id,)).fetchone()
    return None if row is None else row["title"]
