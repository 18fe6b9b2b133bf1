"""The partner register: a chat's requests with their review dates, paged or exported.

Every query starts from one chat through an index (``requests_register`` or the unique
``(chat_id, number)``): a national instance holds many groups, and none of them should wait
for the others' rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core.register_rules import Origin, Outcome

EXPORT_BATCH = 500


@dataclass(frozen=True)
class RegisterEntry:
    id: int
    number: int
    partner_name: str
    partner_kind: str
    status: str
    author_name: str
    flow_id: str
    flow_version: int
    created_at: str
    decided_at: str | None
    review_on: str | None  # the open review's date
    last_outcome: Outcome | None  # what the latest answered follow-up said
    last_answered_at: str | None
    answers: Mapping[str, Any] = field(default_factory=dict)
    origin: str = Origin.REQUEST


@dataclass(frozen=True)
class Counts:
    requests: int
    partners: int  # distinct organisation names, whatever their case


# The open review is found through the unique partial index reviews_open, the latest
# answered one through reviews_by_request: two index look-ups per row of a page.
_SELECT = """
SELECT r.id, r.number, r.partner_name, r.partner_kind, r.status, r.author_name, r.flow_id,
       r.flow_version, r.created_at, r.decided_at, r.origin,
       (SELECT due_on FROM reviews WHERE request_id = r.id AND outcome IS NULL) AS review_on,
       last.outcome AS last_outcome, last.answered_at AS last_answered_at
FROM requests r
LEFT JOIN reviews last ON last.id = (
    SELECT id FROM reviews WHERE request_id = r.id AND outcome IS NOT NULL ORDER BY id DESC LIMIT 1
)
"""


def answers_of(connection: sqlite3.Connection, request_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The answers of a batch of requests (a few hundred at most), by request id."""
    answers: dict[int, dict[str, Any]] = {request_id: {} for request_id in request_ids}
    if not request_ids:
        return answers
    marks = ", ".join("?" * len(request_ids))
    for row in connection.execute(
        f"SELECT request_id, step_id, value FROM request_answers WHERE request_id IN ({marks})",
        tuple(request_ids),
    ):
        answers[row["request_id"]][row["step_id"]] = json.loads(row["value"])
    return answers


def _entry(row: sqlite3.Row) -> RegisterEntry:
    return RegisterEntry(**dict(row))


def counts(connection: sqlite3.Connection, chat_id: int) -> Counts:
    # Kept per group by the triggers of migration 0012: counting would read every request.
    found = connection.execute(
        "SELECT requests, partners FROM register_counts WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return Counts(0, 0) if found is None else Counts(found["requests"], found["partners"])


def page(connection: sqlite3.Connection, chat_id: int, offset: int, limit: int) -> list[RegisterEntry]:
    """One page of a chat's requests, grouped by kind of partner, then by partner name."""
    rows = connection.execute(
        f"{_SELECT} WHERE r.chat_id = ?"
        " ORDER BY r.partner_kind, r.partner_name COLLATE NOCASE, r.number LIMIT ? OFFSET ?",
        (chat_id, limit, offset),
    )
    return [_entry(row) for row in rows]


def version(connection: sqlite3.Connection, chat_id: int) -> int:
    """A number raised by every change to what a chat's register shows (migration 0014's
    triggers): the same number, the same register."""
    found = connection.execute("SELECT version FROM register_counts WHERE chat_id = ?", (chat_id,)).fetchone()
    return 0 if found is None else int(found["version"])


def flow_versions(connection: sqlite3.Connection, chat_id: int) -> list[tuple[str, int]]:
    """The flow versions a chat's requests were made with, newest first."""
    rows = connection.execute(
        "SELECT DISTINCT flow_id, flow_version FROM requests WHERE chat_id = ? ORDER BY flow_id, flow_version DESC",
        (chat_id,),
    )
    return [(row["flow_id"], row["flow_version"]) for row in rows]


def last_number(connection: sqlite3.Connection, chat_id: int) -> int:
    """The number of a chat's newest request (0: none), through the unique (chat_id, number)."""
    (number,) = connection.execute(
        "SELECT COALESCE(MAX(number), 0) FROM requests WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return int(number)


def batch(connection: sqlite3.Connection, chat_id: int, after: int, until: int) -> list[RegisterEntry]:
    """Requests of a chat numbered after ``after`` up to ``until``, by number, with their answers:
    at most EXPORT_BATCH of them, so that an export of 10,000 rows does not hold aiosqlite's
    thread, where every other update waits, for a second."""
    rows = connection.execute(
        f"{_SELECT} WHERE r.chat_id = ? AND r.number > ? AND r.number <= ? ORDER BY r.number LIMIT ?",
        (chat_id, after, until, EXPORT_BATCH),
    )
    found = [_entry(row) for row in rows]
    answers = answers_of(connection, [entry.id for entry in found])
    return [replace(entry, answers=answers[entry.id]) for entry in found]
