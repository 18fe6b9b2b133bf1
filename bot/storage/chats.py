"""Chats the bot has seen: their titles, and the groups it is in."""

from __future__ import annotations

import sqlite3

from bot.storage.db import now


def remember(connection: sqlite3.Connection, chat_id: int, chat_type: str, title: str | None) -> None:
    """Record a chat's type and title; the row is rewritten only when they changed."""
    connection.execute(
        "INSERT INTO chats (id, type, title, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,"
        " updated_at = excluded.updated_at"
        " WHERE chats.type IS NOT excluded.type OR chats.title IS NOT excluded.title",
        (chat_id, chat_type, title, now()),
    )


def groups_recorded(connection: sqlite3.Connection) -> dict[int, tuple[str, str | None]]:
    """Every group recorded, the bot in it or not: chat id -> (type, title)."""
    rows = connection.execute("SELECT id, type, title FROM chats WHERE type IN ('group', 'supergroup')").fetchall()
    return {row["id"]: (row["type"], row["title"]) for row in rows}


def title(connection: sqlite3.Connection, chat_id: int) -> str | None:
    row = connection.execute("SELECT title FROM chats WHERE id = ?", (chat_id,)).fetchone()
    return None if row is None else row["title"]


def mark_left(connection: sqlite3.Connection, chat_id: int, left: bool = True) -> None:
    """The bot was removed from the group (it is no longer offered to members in private), or
    added to it again (Telegram tells both with ``my_chat_member``)."""
    connection.execute(
        "UPDATE chats SET left_at = ? WHERE id = ? AND (left_at IS NULL) = ?",
        (now() if left else None, chat_id, left),
    )


def known_groups(connection: sqlite3.Connection) -> list[tuple[int, str]]:
    """The groups the bot is in, as (chat id, title), by title."""
    rows = connection.execute(
        "SELECT id, COALESCE(title, '') AS title FROM chats"
        " WHERE type IN ('group', 'supergroup') AND left_at IS NULL ORDER BY title, id"
    ).fetchall()
    return [(row["id"], row["title"]) for row in rows]
