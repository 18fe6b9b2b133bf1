"""A member's personal data: what is stored about them, and erasing it (RGPD).

Erasing keeps each group's decision record whole: a request, a round, a position stays, with
the member's name replaced by an anonymous label and their Telegram id by a pseudonym
(negative, so it can never be a real user). What exists only for the member goes: flows
in progress, roster entries, pending questions, requests filed in their private chat.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.storage.outbox import PENDING

# Every column holding a member's Telegram id in a row that belongs to a group's record,
# with the column holding their name beside it (None when there is none).
PSEUDONYMISED: tuple[tuple[str, str, str | None], ...] = (
    ("requests", "author_id", "author_name"),
    ("consent_rounds", "opened_by", "opened_by_name"),
    ("consent_rounds", "closed_by", None),
    ("round_roster", "user_id", "name"),
    ("round_positions", "user_id", None),
    ("reviews", "answered_by", "answered_by_name"),
    ("flow_versions", "author_id", "author_name"),
    ("circle_members", "added_by", None),
)
# Where the member's name is kept under their id, besides PSEUDONYMISED's: what messages
# queued in the outbox may quote.
NAMED: tuple[tuple[str, str, str], ...] = (
    ("circle_members", "user_id", "name"),
    ("circle_join_requests", "user_id", "name"),
    ("coordinators", "user_id", "name"),
)
# Rows that exist only for the member.
DELETED: tuple[tuple[str, str], ...] = (
    ("flow_sessions", "user_id"),
    ("circle_members", "user_id"),
    ("circle_join_requests", "user_id"),
    ("coordinators", "user_id"),
    ("round_prompts", "user_id"),
    # Messages waiting for the member's private chat (a private chat's id is the member's id).
    ("outbox", "chat_id"),
)


@dataclass(frozen=True)
class FiledRequest:
    chat_title: str | None
    number: int
    partner: str
    created_at: str


@dataclass(frozen=True)
class TakenPosition:
    chat_title: str | None
    request_number: int
    position: str
    reason: str | None
    recorded_at: str


@dataclass(frozen=True)
class PersonalData:
    """Everything stored under one member's Telegram id."""

    requests: list[FiledRequest] = field(default_factory=list)
    flows_in_progress: int = 0
    circles: list[str] = field(default_factory=list)
    coordinations: list[str] = field(default_factory=list)
    positions: list[TakenPosition] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.requests or self.flows_in_progress or self.circles or self.coordinations or self.positions)


def personal_data(connection: sqlite3.Connection, user_id: int) -> PersonalData:
    requests = connection.execute(
        "SELECT c.title, q.number, q.partner_name, q.created_at FROM requests q"
        " LEFT JOIN chats c ON c.id = q.chat_id WHERE q.author_id = ? ORDER BY q.id",
        (user_id,),
    ).fetchall()
    (flows,) = connection.execute("SELECT COUNT(*) FROM flow_sessions WHERE user_id = ?", (user_id,)).fetchone()
    circles = connection.execute(
        "SELECT COALESCE(c.title, m.chat_id) AS title FROM circle_members m"
        " LEFT JOIN chats c ON c.id = m.chat_id WHERE m.user_id = ?",
        (user_id,),
    ).fetchall()
    coordinations = connection.execute(
        "SELECT COALESCE(c.title, k.chat_id) AS title FROM coordinators k"
        " LEFT JOIN chats c ON c.id = k.chat_id WHERE k.user_id = ?",
        (user_id,),
    ).fetchall()
    positions = connection.execute(
        "SELECT c.title, q.number, p.position, p.reason, p.recorded_at FROM round_positions p"
        " JOIN consent_rounds r ON r.id = p.round_id JOIN requests q ON q.id = r.request_id"
        " LEFT JOIN chats c ON c.id = r.chat_id WHERE p.user_id = ? ORDER BY p.id",
        (user_id,),
    ).fetchall()
    return PersonalData(
        requests=[FiledRequest(*row) for row in requests],
        flows_in_progress=flows,
        circles=[str(row["title"]) for row in circles],
        coordinations=[str(row["title"]) for row in coordinations],
        positions=[TakenPosition(*row) for row in positions],
    )


FlowVersion = tuple[str, int]  # (flow id, version): the text a request was filed with


def filed_flow_versions(connection: sqlite3.Connection, user_id: int) -> set[FlowVersion]:
    """The flow versions of the requests a member filed: each one declares its own ``personal:``."""
    found = connection.execute(
        "SELECT DISTINCT flow_id, flow_version FROM requests WHERE author_id = ?", (user_id,)
    ).fetchall()
    return {(row["flow_id"], row["flow_version"]) for row in found}


def forget(
    connection: sqlite3.Connection,
    user_id: int,
    *,
    anonymous_name: str,
    personal_steps: Mapping[FlowVersion, frozenset[str]],
) -> None:
    """Erase a member's personal data (inside one write); ``personal_steps`` name, for each
    flow version the member filed requests with, the answers that describe the member (their
    contact), blanked in those requests."""
    pseudonym = -secrets.randbelow(2**52) - 1
    # The roster's key changes under the positions that refer to it: check at commit.
    connection.execute("PRAGMA defer_foreign_keys = ON")
    # Requests filed in the member's private chat are theirs alone, not a group's record.
    connection.execute("DELETE FROM requests WHERE chat_id = ? AND author_id = ?", (user_id, user_id))
    connection.execute("DELETE FROM chats WHERE id = ?", (user_id,))
    _blank_personal_answers(connection, user_id, personal_steps, anonymous_name)
    _unname_outbox(connection, user_id, _names(connection, user_id), anonymous_name)
    for table, column in DELETED:
        connection.execute(f"DELETE FROM {table} WHERE {column} = ?", (user_id,))
    for table, column, name in PSEUDONYMISED:
        renamed = f", {name} = ?" if name else ""
        values = (pseudonym, anonymous_name) if name else (pseudonym,)
        connection.execute(f"UPDATE {table} SET {column} = ?{renamed} WHERE {column} = ?", (*values, user_id))


def _names(connection: sqlite3.Connection, user_id: int) -> set[str]:
    """Every name the member is known by in the database."""
    named = [(t, c, n) for t, c, n in PSEUDONYMISED if n] + list(NAMED)
    union = " UNION ".join(f"SELECT {name} FROM {table} WHERE {column} = ?" for table, column, name in named)
    found = connection.execute(union, (user_id,) * len(named)).fetchall()
    return {name for (name,) in found if name and name.strip()}


def _unname_outbox(connection: sqlite3.Connection, user_id: int, names: set[str], anonymous_name: str) -> None:
    """Messages queued for a group that name the member (a mention, their name): a pending one
    leaves with the anonymous label instead; a sent or refused one keeps no text at all (its
    row only stops the same message being queued twice)."""
    mention = re.compile(rf'<a href="tg://user\?id={user_id}">.*?</a>', re.DOTALL)
    # As the bot writes them, escaped; whole words only: « Cal » is not in « Calendrier ».
    spelled = [re.compile(rf"(?<!\w){re.escape(html.escape(name, quote=False))}(?!\w)") for name in names]
    label = html.escape(anonymous_name, quote=False)

    def unnamed(text: str) -> str:
        for pattern in (mention, *spelled):
            text = pattern.sub(label, text)
        return text

    for delivery_id, status, texts in connection.execute("SELECT id, status, texts FROM outbox").fetchall():
        before = json.loads(texts)
        after = [unnamed(text) for text in before]
        if after != before:
            connection.execute(
                "UPDATE outbox SET texts = ? WHERE id = ?",
                (json.dumps(after if status == PENDING else [], ensure_ascii=False), delivery_id),
            )


def _blank_personal_answers(
    connection: sqlite3.Connection, user_id: int, steps: Mapping[FlowVersion, frozenset[str]], anonymous_name: str
) -> None:
    blank = json.dumps(anonymous_name, ensure_ascii=False)
    for (flow_id, version), personal in steps.items():
        if not personal:
            continue
        marks = ", ".join("?" * len(personal))
        connection.execute(
            f"UPDATE request_answers SET value = ? WHERE step_id IN ({marks}) AND request_id IN"
            " (SELECT id FROM requests WHERE author_id = ? AND flow_id = ? AND flow_version = ?)",
            (blank, *sorted(personal), user_id, flow_id, version),
        )
    # Former versions of amended requests keep their answers as one JSON object each.
    versions = connection.execute(
        "SELECT v.request_id, v.version, v.answers, q.flow_id, q.flow_version FROM request_versions v"
        " JOIN requests q ON q.id = v.request_id WHERE q.author_id = ?",
        (user_id,),
    ).fetchall()
    for request_id, version, answers, flow_id, flow_version in versions:
        personal = steps.get((flow_id, flow_version), frozenset())
        kept = {step: (anonymous_name if step in personal else value) for step, value in json.loads(answers).items()}
        connection.execute(
            "UPDATE request_versions SET answers = ? WHERE request_id = ? AND version = ?",
            (json.dumps(kept, ensure_ascii=False), request_id, version),
        )
