"""Amending a stored request: a flow session that edits its answers, and the new version.

The author edits with the ordinary flow (summary, "Modifier une réponse"); the session's
token is tied here to the request it amends, so validating it replaces that request's answers
instead of filing a new one. The answers it had are kept, by version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiosqlite

from bot.storage import sessions
from bot.storage.db import Database, now
from bot.storage.sessions import FlowSession


async def start(connection: aiosqlite.Connection, session: FlowSession, request_id: int) -> None:
    await sessions.save(connection, session)
    await connection.execute("INSERT INTO amendments (token, request_id) VALUES (?, ?)", (session.token, request_id))


async def amended_number(database: Database, token: str) -> int | None:
    """The number of the request a flow session amends; None for a session filing a new one."""
    row = await database.fetch_one(
        "SELECT q.number FROM amendments a JOIN requests q ON q.id = a.request_id WHERE a.token = ?", (token,)
    )
    return None if row is None else row["number"]


async def apply(
    connection: aiosqlite.Connection,
    session: FlowSession,
    request_id: int,
    *,
    answers: Mapping[str, Any],
    partner_name: str,
    partner_kind: str,
) -> int:
    """Replace the request's answers, keep the former ones, end the session; return the new version."""
    stamp = now()
    async with connection.execute(
        "SELECT step_id, value FROM request_answers WHERE request_id = ?", (request_id,)
    ) as cursor:
        former = {row["step_id"]: json.loads(row["value"]) for row in await cursor.fetchall()}
    async with connection.execute(
        "UPDATE requests SET version = version + 1, partner_name = ?, partner_kind = ?, status = 'submitted',"
        " updated_at = ? WHERE id = ? RETURNING version",
        (partner_name, partner_kind, stamp, request_id),
    ) as cursor:
        (version,) = await cursor.fetchone()
    await connection.execute(
        "INSERT INTO request_versions (request_id, version, answers, replaced_at) VALUES (?, ?, ?, ?)",
        (request_id, version - 1, json.dumps(former, ensure_ascii=False), stamp),
    )
    await connection.execute("DELETE FROM request_answers WHERE request_id = ?", (request_id,))
    await connection.executemany(
        "INSERT INTO request_answers (request_id, step_id, value) VALUES (?, ?, ?)",
        [(request_id, step, json.dumps(value, ensure_ascii=False)) for step, value in answers.items()],
    )
    await sessions.delete(connection, session.chat_id, session.user_id)
    return version


async def answers_at(connection: aiosqlite.Connection, request_id: int, version: int) -> dict[str, Any] | None:
    """The answers a former version of the request had; None for the current version."""
    async with connection.execute(
        "SELECT answers FROM request_versions WHERE request_id = ? AND version = ?", (request_id, version)
    ) as cursor:
        found = await cursor.fetchone()
    return None if found is None else json.loads(found["answers"])
