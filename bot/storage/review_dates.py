"""Review dates of adopted partnerships, and the follow-ups posted on them.

A request has at most one open review (no outcome yet). The job gives each newly adopted
request its first one, posts those that are due, and an answer to a follow-up closes it and
opens the next, or ends the partnership.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core.register_rules import REVIEW
from bot.core.statuses import RequestStatus
from bot.storage.db import now
from bot.storage.register_rows import answers_of


@dataclass(frozen=True)
class ToPlan:
    """An adopted request still without a review date."""

    request_id: int
    flow_id: str
    flow_version: int
    decided_at: str
    answers: Mapping[str, Any]


@dataclass(frozen=True)
class Review:
    id: int
    request_id: int
    kind: str
    due_on: str
    message_id: int | None
    outcome: str | None
    chat_id: int
    number: int
    status: str
    decided_at: str
    partner_name: str


_SELECT = """
SELECT v.id, v.request_id, v.kind, v.due_on, v.message_id, v.outcome, r.chat_id, r.number,
       r.status, COALESCE(r.decided_at, r.updated_at) AS decided_at, r.partner_name
FROM reviews v JOIN requests r ON r.id = v.request_id
"""


def _review(row: sqlite3.Row) -> Review:
    return Review(**dict(row))


def to_plan(connection: sqlite3.Connection, limit: int) -> list[ToPlan]:
    """Adopted requests without a first review date, oldest first (index requests_to_plan)."""
    # RequestStatus.ADOPTED written out: SQLite uses a partial index only for its literal.
    rows = connection.execute(
        "SELECT id, flow_id, flow_version, COALESCE(decided_at, updated_at) AS decided_at FROM requests"
        " WHERE status = 'adopted' AND review_planned = 0 ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    answers = answers_of(connection, [row["id"] for row in rows])
    return [
        ToPlan(row["id"], row["flow_id"], row["flow_version"], row["decided_at"], answers[row["id"]]) for row in rows
    ]


def _open(connection: sqlite3.Connection, request_id: int, kind: str, due_on: date) -> None:
    connection.execute(
        "INSERT INTO reviews (request_id, kind, due_on, created_at) VALUES (?, ?, ?, ?)",
        (request_id, kind, due_on.isoformat(), now()),
    )


def plan(connection: sqlite3.Connection, request_id: int, kind: str, due_on: date) -> bool:
    """Give an adopted request its first review, unless /revision or another run just did."""
    cursor = connection.execute(
        "UPDATE requests SET review_planned = 1 WHERE id = ? AND status = 'adopted' AND review_planned = 0",
        (request_id,),
    )
    if cursor.rowcount == 0:
        return False
    _open(connection, request_id, kind, due_on)
    return True


def restore(
    connection: sqlite3.Connection,
    request_id: int,
    kind: str,
    *,
    due_on: date | None,
    last_outcome: str | None,
    last_on: date | None,
    answered_at: str | None,
    answered_by_name: str,
) -> None:
    """An imported partnership's reviews: its latest answered one and its open one, as exported."""
    if last_outcome is not None and last_on is not None:
        connection.execute(
            "INSERT INTO reviews (request_id, kind, due_on, outcome, answered_by_name, answered_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, kind, last_on.isoformat(), last_outcome, answered_by_name, answered_at, now()),
        )
    if due_on is not None:
        _open(connection, request_id, kind, due_on)
    if due_on is not None or last_outcome is not None:
        connection.execute("UPDATE requests SET review_planned = 1 WHERE id = ?", (request_id,))


def set_date(connection: sqlite3.Connection, request_id: int, kind: str, due_on: date) -> None:
    """Move the open review to a new date (to be posted again then), or open one there.

    ``kind`` is used only when there is no open review yet.
    """
    cursor = connection.execute(
        "UPDATE reviews SET due_on = ?, posted_at = NULL, message_id = NULL WHERE request_id = ? AND outcome IS NULL",
        (due_on.isoformat(), request_id),
    )
    if cursor.rowcount == 0:
        _open(connection, request_id, kind, due_on)
    connection.execute("UPDATE requests SET review_planned = 1 WHERE id = ?", (request_id,))


def due(connection: sqlite3.Connection, latest: date, limit: int) -> list[Review]:
    """Open reviews of adopted partnerships due by ``latest`` and not posted yet, oldest first."""
    found = connection.execute(
        f"{_SELECT} WHERE v.outcome IS NULL AND v.posted_at IS NULL AND v.due_on <= ?"
        " AND r.status = 'adopted' ORDER BY v.due_on, v.id LIMIT ?",
        (latest.isoformat(), limit),
    )
    return [_review(row) for row in found]


def open_in_chat(connection: sqlite3.Connection, chat_id: int) -> list[Review]:
    """The open review of each adopted partnership of a chat, by date (for /calendrier)."""
    found = connection.execute(
        f"{_SELECT} WHERE r.chat_id = ? AND r.status = 'adopted' AND v.outcome IS NULL ORDER BY v.due_on, v.id",
        (chat_id,),
    )
    return [_review(row) for row in found]


def get(connection: sqlite3.Connection, review_id: int) -> Review | None:
    row = connection.execute(f"{_SELECT} WHERE v.id = ?", (review_id,)).fetchone()
    return None if row is None else _review(row)


def open_review(connection: sqlite3.Connection, request_id: int) -> Review | None:
    row = connection.execute(f"{_SELECT} WHERE v.request_id = ? AND v.outcome IS NULL", (request_id,)).fetchone()
    return None if row is None else _review(row)


def mark_posted(connection: sqlite3.Connection, review_id: int, message_id: int | None) -> None:
    """Record the follow-up message; None while it is on its way, or when it could not be sent."""
    connection.execute("UPDATE reviews SET posted_at = ?, message_id = ? WHERE id = ?", (now(), message_id, review_id))


def answer(
    connection: sqlite3.Connection,
    review: Review,
    outcome: str,
    *,
    user_id: int,
    user_name: str,
    next_on: date | None,
) -> bool:
    """Close an open review with its outcome, then open the next one or end the partnership.

    False when it was answered meanwhile (two members pressing at once): nothing changes.
    """
    stamp = now()
    cursor = connection.execute(
        "UPDATE reviews SET outcome = ?, answered_by = ?, answered_by_name = ?, answered_at = ?"
        " WHERE id = ? AND outcome IS NULL",
        (outcome, user_id, user_name, stamp, review.id),
    )
    if cursor.rowcount == 0:
        return False
    if next_on is None:
        connection.execute(
            "UPDATE requests SET status = ?, updated_at = ? WHERE id = ?",
            (RequestStatus.ENDED, stamp, review.request_id),
        )
    else:
        _open(connection, review.request_id, REVIEW, next_on)
    return True
