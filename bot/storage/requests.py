"""Partnership requests and their answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from bot.core.register import Origin
from bot.core.statuses import RequestStatus
from bot.storage.db import Database, now, row, rows


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


def _from_row(row: aiosqlite.Row, answers: Mapping[str, Any] | None = None) -> PartnershipRequest:
    return PartnershipRequest(**{key: row[key] for key in row.keys()}, answers=answers or {})


async def create(
    connection: aiosqlite.Connection,
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
    (number,) = await row(connection, "SELECT COALESCE(MAX(number), 0) + 1 FROM requests WHERE chat_id = ?", (chat_id,))
    stamp = created_at or now()
    cursor = await connection.execute(
        "INSERT INTO requests (chat_id, number, author_id, author_name, flow_id, flow_version,"
        " partner_name, partner_kind, status, origin, thread_id, created_at, updated_at, decided_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (chat_id, number, author_id, author_name, flow_id, flow_version, partner_name,
         partner_kind, status, origin, thread_id, stamp, stamp, decided_at),
    )
    request_id = cursor.lastrowid
    await connection.executemany(
        "INSERT INTO request_answers (request_id, step_id, value) VALUES (?, ?, ?)",
        [(request_id, step, json.dumps(value, ensure_ascii=False)) for step, value in answers.items()],
    )
    return PartnershipRequest(
        request_id, chat_id, number, author_id, author_name, flow_id, flow_version,
        partner_name, partner_kind, status, stamp, decided_at=decided_at, answers=dict(answers), origin=origin,
        thread_id=thread_id,
    )


async def set_card_message(database: Database, request_id: int, message_id: int) -> None:
    async with database.transaction() as connection:
        await connection.execute(
            "UPDATE requests SET card_message_id = ? WHERE id = ?", (message_id, request_id)
        )


# An imported entry is not news for its group: its card is never posted, after any restart.
NO_CARD = 0


async def mark_imported(connection: aiosqlite.Connection, request_id: int) -> None:
    await connection.execute("UPDATE requests SET card_message_id = ? WHERE id = ?", (NO_CARD, request_id))


async def without_card(database: Database) -> list[PartnershipRequest]:
    """Requests never presented in their chat: the bot stopped between storing and posting.

    Known partners are left out: their card would offer a consent round they never need.
    """
    rows = await database.fetch_all(
        "SELECT chat_id, number FROM requests WHERE card_message_id IS NULL AND origin = ? ORDER BY id",
        (Origin.REQUEST,),
    )
    return [await by_number(database, row["chat_id"], row["number"]) for row in rows]


async def page(database: Database, chat_id: int, offset: int, limit: int) -> tuple[list[PartnershipRequest], int]:
    """One page of a chat's requests, newest first, and how many there are in all."""
    total = await database.fetch_one("SELECT COUNT(*) AS n FROM requests WHERE chat_id = ?", (chat_id,))
    rows = await database.fetch_all(
        f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? ORDER BY number DESC LIMIT ? OFFSET ?",
        (chat_id, limit, offset),
    )
    return [_from_row(row) for row in rows], total["n"]


async def by_number(database: Database, chat_id: int, number: int) -> PartnershipRequest | None:
    row = await database.fetch_one(
        f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? AND number = ?", (chat_id, number)
    )
    if row is None:
        return None
    answers = await database.fetch_all(
        "SELECT step_id, value FROM request_answers WHERE request_id = ?", (row["id"],)
    )
    return _from_row(row, {a["step_id"]: json.loads(a["value"]) for a in answers})


async def attach(
    connection: aiosqlite.Connection, request: PartnershipRequest, chat_id: int, thread_id: int | None
) -> int | None:
    """Move a request filed in a private chat to a group, with the group's next number; the
    new number, or None when it belongs to a group already (it is attached once)."""
    (number,) = await row(connection, "SELECT COALESCE(MAX(number), 0) + 1 FROM requests WHERE chat_id = ?", (chat_id,))
    cursor = await connection.execute(
        "UPDATE requests SET chat_id = ?, number = ?, thread_id = ?, card_message_id = NULL, updated_at = ?"
        " WHERE id = ? AND chat_id = author_id",
        (chat_id, number, thread_id, now(), request.id),
    )
    return number if cursor.rowcount else None


async def end_undecided(
    connection: aiosqlite.Connection, request_id: int, status: RequestStatus, reason: str | None,
    allowed: frozenset[RequestStatus],
) -> bool:
    """Withdraw or decline a request still in one of the ``allowed`` statuses; False otherwise."""
    stamp = now()
    marks = ", ".join("?" * len(allowed))
    cursor = await connection.execute(
        f"UPDATE requests SET status = ?, status_reason = ?, decided_at = ?, updated_at = ?"
        f" WHERE id = ? AND status IN ({marks})",
        (status, reason, stamp, stamp, request_id, *sorted(allowed)),
    )
    return cursor.rowcount > 0


async def ended_since(database: Database, chat_id: int, since: str) -> list[PartnershipRequest]:
    """The chat's requests withdrawn or declined since then, latest first (for /bilan)."""
    async with database.transaction() as connection:
        found = await rows(
            connection,
            f"SELECT {_COLUMNS} FROM requests WHERE chat_id = ? AND status IN (?, ?) AND decided_at >= ?"
            " ORDER BY decided_at DESC",
            (chat_id, RequestStatus.WITHDRAWN, RequestStatus.DECLINED, since),
        )
    return [_from_row(found_row) for found_row in found]
