"""The outbox: messages kept in the database until Telegram confirmed them.

A delivery is one or more messages to one chat (a summary too long for one message is sent
in parts); the parts confirmed so far are counted, so a retry never sends one twice. It is
queued in the transaction that decides it must be sent (a round closing, a reminder due), so
a crash right after cannot lose it; the retry job sends it, and again after each failure.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiosqlite

from bot.storage.db import Database

PENDING, SENT, REFUSED = "pending", "sent", "refused"
PLAIN = "plain"  # a kind nobody needs to hear about
# However long Telegram stays unreachable, a message is tried again at least this often.
LONGEST_WAIT = timedelta(hours=1)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Delivery:
    id: int
    chat_id: int
    texts: tuple[str, ...]
    sent_parts: int
    reply_to_message_id: int | None
    reply_markup: Mapping[str, Any] | None
    kind: str
    ref: int | None
    message_id: int | None
    attempts: int
    next_attempt_at: datetime
    thread_id: int | None = None  # the group's forum topic; None: General, or not a group


def _delivery(row: aiosqlite.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        chat_id=row["chat_id"],
        texts=tuple(json.loads(row["texts"])),
        sent_parts=row["sent_parts"],
        reply_to_message_id=row["reply_to_message_id"],
        reply_markup=json.loads(row["reply_markup"]) if row["reply_markup"] else None,
        kind=row["kind"],
        ref=row["ref"],
        message_id=row["message_id"],
        attempts=row["attempts"],
        next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
        thread_id=row["thread_id"],
    )


def backoff(attempts: int, first: timedelta) -> timedelta:
    """How long to wait after the ``attempts``-th failure: doubling from ``first``, up to an hour."""
    return min(first * 2 ** min(attempts - 1, 30), LONGEST_WAIT)


def enqueue(
    connection: sqlite3.Connection,
    chat_id: int,
    texts: Sequence[str],
    *,
    kind: str = PLAIN,
    ref: int | None = None,
    reply_to: int | None = None,
    markup: Mapping[str, Any] | None = None,
    key: str | None = None,
    thread_id: int | None = None,
) -> bool:
    """Queue messages for a chat (in its forum topic ``thread_id``), to be sent now; False when
    ``key`` was queued already."""
    now = _stamp(datetime.now(UTC))
    cursor = connection.execute(
        "INSERT OR IGNORE INTO outbox (key, chat_id, texts, reply_to_message_id, reply_markup, kind, ref,"
        " thread_id, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            chat_id,
            json.dumps(list(texts), ensure_ascii=False),
            reply_to,
            json.dumps(markup, ensure_ascii=False) if markup else None,
            kind,
            ref,
            thread_id,
            now,
            now,
        ),
    )
    return cursor.rowcount > 0


def reply_to_sent(connection: sqlite3.Connection, kind: str, ref: int, message_id: int) -> None:
    """Have the waiting deliveries of this kind and ref answer a message just delivered."""
    connection.execute(
        "UPDATE outbox SET reply_to_message_id = ? WHERE kind = ? AND ref = ? AND status = 'pending'",
        (message_id, kind, ref),
    )


async def pending(database: Database) -> list[Delivery]:
    """Every delivery not confirmed yet, oldest first (due or not: the caller keeps each chat's order)."""
    rows = await database.fetch_all("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id")
    return [_delivery(row) for row in rows]


async def still_pending(database: Database, delivery_id: int) -> Delivery | None:
    """A delivery as it is now, if still pending (a kind's ``sent`` hook may have changed it)."""
    row = await database.fetch_one("SELECT * FROM outbox WHERE id = ? AND status = 'pending'", (delivery_id,))
    return None if row is None else _delivery(row)


async def part_sent(database: Database, delivery_id: int, parts: int, message_id: int) -> None:
    """Count a confirmed part; the first one's message id is kept (a follow-up's buttons need it)."""
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE outbox SET sent_parts = ?, message_id = COALESCE(message_id, ?) WHERE id = ?",
            (parts, message_id, delivery_id),
        )


def delivered(connection: sqlite3.Connection, delivery_id: int) -> None:
    _finish(connection, delivery_id, SENT, None)


async def refused(database: Database, delivery_id: int, error: str) -> None:
    """Telegram will never take it (blocked, removed from the group): stop trying."""
    await database.write(partial(_finish, delivery_id=delivery_id, status=REFUSED, error=error))


def _finish(connection: sqlite3.Connection, delivery_id: int, status: str, error: str | None) -> None:
    connection.execute(
        "UPDATE outbox SET status = ?, last_error = COALESCE(?, last_error), done_at = ? WHERE id = ?",
        (status, error, _stamp(datetime.now(UTC)), delivery_id),
    )


async def retry_later(database: Database, delivery: Delivery, error: str, first_wait: timedelta) -> datetime:
    """Count a failed attempt and plan the next one; return when it is."""
    attempts = delivery.attempts + 1
    at = datetime.now(UTC) + backoff(attempts, first_wait)
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
            (attempts, _stamp(at), error, delivery.id),
        )
    return at


async def forget_delivered(database: Database, kept: timedelta) -> None:
    """Drop finished deliveries older than ``kept``: they hold what members wrote."""
    cutoff = _stamp(datetime.now(UTC) - kept)
    async with database.transaction() as connection:
        await connection.execute("DELETE FROM outbox WHERE status <> 'pending' AND done_at < ?", (cutoff,))
