"""Partnership requests and their answers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.flow_engine import Flow
from bot.core.register_rules import Origin
from bot.core.statuses import RequestStatus
from bot.storage import sessions
from bot.storage.db import now
from bot.storage.sessions import FlowSession


@dataclass(frozen=True)
class PartnershipRequest:
    id: int
    chat_id: int
    number: int
    author_id: int
    author_name: str
    flow_id: str
    flow_version: int
    partner_name: str
    partner_kind: str
    status: str
    created_at: str
    status_reason: str | None = None  # the author's word on withdrawing, the reason of a decline
    decided_at: str | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)
    origin: str = Origin.REQUEST
    thread_id: int | None = None  # the forum topic of its card in the group; None: General


_COLUMNS = (
    "id, chat_id, number, author_id, author_name, flow_id, flow_version, partner_name,"
    " partner_kind, status, created_at, status_reason, decided_at, origin, thread_id"
)


def _from_row(row: sqlite3.Row, answers: Mapping[str, Any] | None = None) -> PartnershipRequest:
    return PartnershipRequest(**dict(row), answers=answers or {})


def create(
    connection: sqlite3.Connection,
    *,
    chat_id: int,
    author_id: int,
    author_name: str,
    flow_id: str,
    flow_version: int,
    partner_name: str,
    partner_kind: str,
    answers: Mapping[str, Any],
    status: RequestStatus = RequestStatus.SUBMITTED,
    origin: Origin = Origin.REQUEST,
    created_at: str | None = None,
    decided_at: str | None = None,
    thread_id: int | None = None,
) -> PartnershipRequest:
    """Store a validated request with the next number of its chat.

    A known partner comes with its status; an imported row with its own dates as well.
    """
    (number,) = connection.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM requests WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    stamp = created_at or now()
    cursor = connection.execute(
        "INSERT INTO requests (chat_id, number, author_id, author_name, flow_id, flow_version,"
        " partner_name, partner_kind, status, origin, thread_id, created_at, updated_at, decided_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            chat_id,
            number,
            author_id,
            author_name,
            flow_id,
            flow_version,
            partner_name,
            partner_kind,
            status,
            origin,
            thread_id,
            stamp,
            stamp,
            decided_at,
        ),
    )
    request_id = cursor.lastrowid
    assert request_id is not None  # an INSERT sets it
    connection.executemany(
        "INSERT INTO request_answers (request_id, step_id, value) VALUES (?, ?, ?)",
        [(request_id, step, json.dumps(value, ensure_ascii=False)) for step, value in answers.items()],
    )
    return PartnershipRequest(
        request_id,
        chat_id,
        number,
        author_id,
        author_name,
        flow_id,
        flow_version,
        partner_name,
        partner_kind,
        status,
        stamp,
        decided_at=decided_at,
        answers=dict(answers),
        origin=origin,
        thread_id=thread_id,
    )


def file_session(
    connection: sqlite3.Connection, session: FlowSession, flow: Flow, answers: Mapping[str, Any], **fields: Any
) -> PartnershipRequest:
    """Store what a finished flow answered as its group's next request, and end the flow.

    ``fields`` are ``create``'s own (a known partner's status and origin, the card's topic).
    """
    request = create(
        connection,
        chat_id=session.origin_chat_id,
        author_id=session.user_id,
        author_name=session.author_name,
        flow_id=flow.id,
        flow_version=session.state.flow_version,
        partner_name=answers[flow.partner_fields.partner],
        partner_kind=answers[flow.partner_fields.kind],
        answers=answers,
        **fields,
    )
    sessions.delete(connection, session.chat_id, session.user_id)
    return request


def set_card_message(connection: sqlite3.Connection, request_id: int, message_id: int) -> None:
    connection.execute("UPDATE requests SET card_message_id = ? WHERE id = ?", (message_id, request_id))


# An imported entry is not news for its group: its card is never posted, after any restart.
NO_CARD = 0


def mark_imported(connection: sqlite3.Connection, request_id: int) -> None:
    connection.execute("UPDATE requests SET card_message_id = ? WHERE id = ?", (NO_CARD, request_id))


def without_card(connection: sqlite3.Connection) -> list[PartnershipRequest]:
    """Requests never presented in their chat: the bot stopped between storing and posting.

    Known partners are left out: their card would offer a consent round they never need.
    """
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE card_message_id IS NULL AND origin = ? ORDER BY id",
        (Origin.REQUEST,),
    ).fetchall()
    return [_from_row(row, _answers(connection, row["id"])) for row in rows]


def page(connection: sqlite3.Connection, chat_id: int, offset: int, limit: int) -> tuple[list[PartnershipRequest], int]:
    """One page of a chat's requests, newest first, and how many there are in all."""
    # Kept per group by the triggers of migration 0012: counting would read every request.
    total = connection.execute("SELECT requests FROM register_counts WHERE chat_id = ?", (chat_id,)).fetchone()
    rows = connection.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? ORDER BY number DESC LIMIT ? OFFSET ?",
        (chat_id, limit, offset),
    ).fetchall()
    return [_from_row(row) for row in rows], 0 if total is None else total["requests"]


def by_number(connection: sqlite3.Connection, chat_id: int, number: int) -> PartnershipRequest | None:
    row = connection.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? AND number = ?", (chat_id, number)
    ).fetchone()
    return None if row is None else _from_row(row, _answers(connection, row["id"]))


def _answers(connection: sqlite3.Connection, request_id: int) -> dict[str, Any]:
    found = connection.execute("SELECT step_id, value FROM request_answers WHERE request_id = ?", (request_id,))
    return {answer["step_id"]: json.loads(answer["value"]) for answer in found}


def attach(
    connection: sqlite3.Connection, request: PartnershipRequest, chat_id: int, thread_id: int | None
) -> int | None:
    """Move a request filed in a private chat to a group, with the group's next number; the
    new number, or None when it belongs to a group already (it is attached once)."""
    (number,) = connection.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM requests WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    cursor = connection.execute(
        "UPDATE requests SET chat_id = ?, number = ?, thread_id = ?, card_message_id = NULL, updated_at = ?"
        " WHERE id = ? AND chat_id = author_id",
        (chat_id, number, thread_id, now(), request.id),
    )
    return number if cursor.rowcount else None


def end_undecided(
    connection: sqlite3.Connection,
    request_id: int,
    status: RequestStatus,
    reason: str | None,
    allowed: frozenset[RequestStatus],
) -> bool:
    """Withdraw or decline a request still in one of the ``allowed`` statuses; False otherwise."""
    stamp = now()
    marks = ", ".join("?" * len(allowed))
    cursor = connection.execute(
        f"UPDATE requests SET status = ?, status_reason = ?, decided_at = ?, updated_at = ?"
        f" WHERE id = ? AND status IN ({marks})",
        (status, reason, stamp, stamp, request_id, *sorted(allowed)),
    )
    return cursor.rowcount > 0


def ended_since(connection: sqlite3.Connection, chat_id: int, since: str) -> list[PartnershipRequest]:
    """The chat's requests withdrawn or declined since then, latest first (for /bilan)."""
    # The statuses written out: SQLite uses the partial index requests_ended_by_chat only for
    # its literals (bound, they read every request of the chat: 20x slower at 10,000 a group).
    found = connection.execute(
        f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? AND status IN ('withdrawn', 'declined')"
        " AND decided_at >= ? ORDER BY decided_at DESC",
        (chat_id, since),
    ).fetchall()
    return [_from_row(found_row) for found_row in found]


def partners(connection: sqlite3.Connection, chat_id: int) -> list[tuple[str, str, str]]:
    """Each of the chat's requests as its partner's name and kind and when it was created."""
    return [
        (str(name), str(kind), str(created))
        for name, kind, created in connection.execute(
            "SELECT partner_name, partner_kind, created_at FROM requests WHERE chat_id = ?", (chat_id,)
        )
    ]
