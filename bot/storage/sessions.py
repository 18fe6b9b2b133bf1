"""Flows in progress: one row per member and chat, rewritten at every step."""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass

from bot.core.flow_engine import FlowState
from bot.storage.db import now


@dataclass(frozen=True)
class FlowSession:
    chat_id: int
    user_id: int
    token: str
    origin_chat_id: int
    author_name: str
    state: FlowState
    thread_id: int | None = None  # the origin group's topic where the flow started
    # The number of the request this session amends (/modifier, ``bot.storage.amendments``);
    # None for a session filing a new one. Read with the session: validating it needs no other read.
    amends: int | None = None


def new_token() -> str:
    """A short random id put in callback data, so a button of an older session is refused."""
    return secrets.token_urlsafe(6)


def _from_row(row: sqlite3.Row) -> FlowSession:
    return FlowSession(
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        token=row["token"],
        origin_chat_id=row["origin_chat_id"],
        author_name=row["author_name"],
        thread_id=row["thread_id"],
        amends=row["amends"],
        state=FlowState(
            flow_id=row["flow_id"],
            flow_version=row["flow_version"],
            answers=json.loads(row["answers"]),
            current=row["current_step"],
            editing=bool(row["editing"]),
            reminded=tuple(json.loads(row["reminded"])),
        ),
    )


_SESSION = (
    "SELECT s.*, q.number AS amends FROM flow_sessions s"
    " LEFT JOIN amendments a ON a.token = s.token LEFT JOIN requests q ON q.id = a.request_id"
)


def get(connection: sqlite3.Connection, chat_id: int, user_id: int) -> FlowSession | None:
    row = connection.execute(f"{_SESSION} WHERE s.chat_id = ? AND s.user_id = ?", (chat_id, user_id)).fetchone()
    return None if row is None else _from_row(row)


def by_token(connection: sqlite3.Connection, token: str) -> FlowSession | None:
    row = connection.execute(f"{_SESSION} WHERE s.token = ?", (token,)).fetchone()
    return None if row is None else _from_row(row)


def save(connection: sqlite3.Connection, session: FlowSession) -> None:
    state = session.state
    stamp = now()
    connection.execute(
        "INSERT INTO flow_sessions (chat_id, user_id, token, flow_id, flow_version, origin_chat_id,"
        " current_step, editing, answers, reminded, author_name, thread_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id, user_id) DO UPDATE SET token = excluded.token,"
        " flow_id = excluded.flow_id, flow_version = excluded.flow_version,"
        " origin_chat_id = excluded.origin_chat_id, current_step = excluded.current_step,"
        " editing = excluded.editing, answers = excluded.answers, reminded = excluded.reminded,"
        " author_name = excluded.author_name, thread_id = excluded.thread_id, updated_at = excluded.updated_at",
        (
            session.chat_id,
            session.user_id,
            session.token,
            state.flow_id,
            state.flow_version,
            session.origin_chat_id,
            state.current,
            int(state.editing),
            json.dumps(dict(state.answers), ensure_ascii=False),
            json.dumps(list(state.reminded)),
            session.author_name,
            session.thread_id,
            stamp,
            stamp,
        ),
    )


def delete(connection: sqlite3.Connection, chat_id: int, user_id: int) -> bool:
    cursor = connection.execute("DELETE FROM flow_sessions WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return cursor.rowcount > 0
