"""Amending a stored request: a flow session that edits its answers, and the new version.

The author edits with the ordinary flow (the summary and its edit button); the session's
token is tied here to the request it amends, so validating it replaces that request's answers
instead of filing a new one. The answers it had are kept, by version.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from bot.storage import sessions
from bot.storage.db import now
from bot.storage.sessions import FlowSession


def start(connection: sqlite3.Connection, session: FlowSession, request_id: int) -> None:
    sessions.save(connection, session)
    connection.execute("INSERT INTO amendments (token, request_id) VALUES (?, ?)", (session.token, request_id))


def apply(
    connection: sqlite3.Connection,
    session: FlowSession,
    request_id: int,
    *,
    answers: Mapping[str, Any],
    partner_name: str,
    partner_kind: str,
) -> int:
    """Replace the request's answers, keep the former ones, end the session; return the new version."""
    stamp = now()
    former = {
        row["step_id"]: json.loads(row["value"])
        for row in connection.execute("SELECT step_id, value FROM request_answers WHERE request_id = ?", (request_id,))
    }
    (version,) = connection.execute(
        "UPDATE requests SET version = version + 1, partner_name = ?, partner_kind = ?, status = 'submitted',"
        " updated_at = ? WHERE id = ? RETURNING version",
        (partner_name, partner_kind, stamp, request_id),
    ).fetchone()
    connection.execute(
        "INSERT INTO request_versions (request_id, version, answers, replaced_at) VALUES (?, ?, ?, ?)",
        (request_id, version - 1, json.dumps(former, ensure_ascii=False), stamp),
    )
    connection.execute("DELETE FROM request_answers WHERE request_id = ?", (request_id,))
    connection.executemany(
        "INSERT INTO request_answers (request_id, step_id, value) VALUES (?, ?, ?)",
        [(request_id, step, json.dumps(value, ensure_ascii=False)) for step, value in answers.items()],
    )
    sessions.delete(connection, session.chat_id, session.user_id)
    return int(version)


def answers_at(connection: sqlite3.Connection, request_id: int, version: int) -> dict[str, Any] | None:
    """The answers a former version of the request had; None for the current version."""
    found = connection.execute(
        "SELECT answers FROM request_versions WHERE request_id = ? AND version = ?", (request_id, version)
    ).fetchone()
    return None if found is None else dict(json.loads(found["answers"]))
