"""Chats the bot has seen: their titles, and the groups it is in."""

from __future__ import annotations

import sqlite3

from bot.storage.db import Database, now, unit_of_work


async def remember(database: Database, chat_id: int, chat_type: str, title: str | None) -> None:
    """Record a chat's title; written only when it changed (any update from a group calls this)."""
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


async def mark_left(database: Database, chat_id: int, left: bool = True) -> None:
    """The bot was removed from the group (it is no longer offered to members in private), or
    added to it again (Telegram tells both with ``my_chat_member``)."""
    await database.write(
        lambda connection: connection.execute(
            "UPDATE chats SET left_at = ? WHERE id = ? AND (left_at IS NULL) = ?",
            (now() if left else None, chat_id, left),
        )
    )


@unit_of_work
def known_groups(connection: sqlite3.Connection) -> list[tuple[int, str]]:
    """The groups the bot is in, as (chat id, title), by title."""
    rows = connection.execute(
        "SELECT id, COALESCE(title, '') AS title FROM chats"
        " WHERE type IN ('group', 'supergroup') AND left_at IS NULL ORDER BY title, id"
    ).fetchall()
    return [(row["id"], row["title"]) for row in rows]
