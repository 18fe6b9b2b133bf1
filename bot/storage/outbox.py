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
from typing import Any

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


def _delivery(row: sqlite3.Row) -> Delivery:
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
    wait: timedelta = first * 2 ** min(attempts - 1, 30)
    return min(wait, LONGEST_WAIT)


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


def pending_kinds(connection: sqlite3.Connection) -> list[tuple[str, int]]:
    """The kinds of the deliveries not confirmed yet, with how many of each."""
    return [
        (str(kind), int(count))
        for kind, count in connection.execute(
            "SELECT kind, COUNT(*) FROM outbox WHERE status = 'pending' GROUP BY kind ORDER BY kind"
        )
    ]


def pending(connection: sqlite3.Connection) -> list[Delivery]:
    """Every delivery not confirmed yet, oldest first (due or not: the caller keeps each chat's order)."""
    rows = connection.execute("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id").fetchall()
    return [_delivery(row) for row in rows]


def first_pending(connection: sqlite3.Connection, chat_id: int) -> Delivery | None:
    """The chat's oldest delivery not confirmed yet, as it is now (the ``sent`` hook of the one
    before may have changed it): the next one to send there, due or not."""
    row = connection.execute(
        "SELECT * FROM outbox WHERE chat_id = ? AND status = 'pending' ORDER BY id LIMIT 1", (chat_id,)
    ).fetchone()
    return None if row is None else _delivery(row)


def part_sent(connection: sqlite3.Connection, delivery_id: int, parts: int, message_id: int) -> None:
    """Count a confirmed part; the first one's message id is kept (a follow-up's buttons need it)."""
    connection.execute(
        "UPDATE outbox SET sent_parts = ?, message_id = COALESCE(message_id, ?) WHERE id = ?",
        (parts, message_id, delivery_id),
    )


def delivered(connection: sqlite3.Connection, delivery_id: int) -> None:
    _finish(connection, delivery_id, SENT, None)


def refused(connection: sqlite3.Connection, delivery_id: int, error: str) -> None:
    """Telegram will never take it (blocked, removed from the group): stop trying."""
    _finish(connection, delivery_id, REFUSED, error)


def _finish(connection: sqlite3.Connection, delivery_id: int, status: str, error: str | None) -> None:
    connection.execute(
        "UPDATE outbox SET status = ?, last_error = COALESCE(?, last_error), done_at = ? WHERE id = ?",
        (status, error, _stamp(datetime.now(UTC)), delivery_id),
    )


def retry_later(connection: sqlite3.Connection, delivery: Delivery, error: str, first_wait: timedelta) -> datetime:
    """Count a failed attempt and plan the next one; return when it is."""
    attempts = delivery.attempts + 1
    at = datetime.now(UTC) + backoff(attempts, first_wait)
    connection.execute(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
        (attempts, _stamp(at), error, delivery.id),
    )
    return at


def forget_delivered(connection: sqlite3.Connection, kept: timedelta) -> None:
    """Drop finished deliveries older than ``kept``: they hold what members wrote."""
    cutoff = _stamp(datetime.now(UTC) - kept)
    connection.execute("DELETE FROM outbox WHERE status <> 'pending' AND done_at < ?", (cutoff,))
