"""Chats the bot has seen, for their titles."""

from __future__ import annotations

from bot.storage.db import Database, now


async def remember(database: Database, chat_id: int, chat_type: str, title: str | None) -> None:
    """Record a chat's title; written only when it changed (any command, even refused, calls this)."""
    async with database.transaction() as connection:
        await connection.execute(
            "INSERT INTO chats (id, type, title, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET type = excluded.type, title = excluded.title,"
            " updated_at = excluded.updated_at"
            " WHERE chats.type IS NOT excluded.type OR chats.title IS NOT excluded.title",
            (chat_id, chat_type, title, now()),
        )


async def title(database: Database, chat_id: int) -> str | None:
    row = await database.fetch_one("SELECT title FROM chats WHERE id = ?", (chat_id,))
    return None if row is None else row["title"]
