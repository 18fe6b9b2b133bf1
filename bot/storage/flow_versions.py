"""Flow versions: every text a flow ever had, and which one each scope uses."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import now

GLOBAL_SCOPE = 0  # the version every group uses unless it has its own


@dataclass(frozen=True)
class FlowVersion:
    flow_id: str
    version: int
    scope_chat_id: int
    source: str
    author_name: str | None
    created_at: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def add_version(
    connection: sqlite3.Connection,
    flow_id: str,
    text: str,
    *,
    scope_chat_id: int,
    source: str,
    author_id: int | None = None,
    author_name: str | None = None,
) -> int:
    """Store a new version of a flow and make it the active one for its scope."""
    (version,) = connection.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions WHERE flow_id = ?", (flow_id,)
    ).fetchone()
    connection.execute(
        "INSERT INTO flow_versions (flow_id, version, scope_chat_id, source, author_id, author_name,"
        " yaml, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (flow_id, version, scope_chat_id, source, author_id, author_name, text, _sha(text), now()),
    )
    activate(connection, flow_id, scope_chat_id, version)
    return int(version)


def uploads_since(connection: sqlite3.Connection, scope_chat_id: int, since: datetime) -> int:
    """How many versions were uploaded for this scope since ``since`` (kept or not)."""
    (count,) = connection.execute(
        "SELECT COUNT(*) FROM flow_versions WHERE source = 'upload' AND scope_chat_id = ? AND created_at >= ?",
        (scope_chat_id, since.isoformat(timespec="seconds")),
    ).fetchone()
    return int(count)


def make_room(connection: sqlite3.Connection, scope_chat_id: int, kept: int) -> bool:
    """Forget the oldest versions uploaded for this scope until fewer than ``kept`` remain,
    sparing those in service, or used by a request or a flow in progress; False when there is
    still no room."""
    uploaded = connection.execute(
        "SELECT v.flow_id, v.version,"
        " EXISTS (SELECT 1 FROM active_flows a WHERE a.flow_id = v.flow_id AND a.version = v.version)"
        " OR EXISTS (SELECT 1 FROM requests r WHERE r.flow_id = v.flow_id AND r.flow_version = v.version)"
        " OR EXISTS (SELECT 1 FROM flow_sessions s WHERE s.flow_id = v.flow_id AND s.flow_version = v.version)"
        # The newest number is never freed: the next version would reuse it.
        " OR v.version = (SELECT MAX(version) FROM flow_versions m WHERE m.flow_id = v.flow_id)"
        " AS used"
        " FROM flow_versions v WHERE v.source = 'upload' AND v.scope_chat_id = ? ORDER BY v.created_at, v.version",
        (scope_chat_id,),
    ).fetchall()
    surplus = len(uploaded) - (kept - 1)
    for flow_id, version, used in uploaded:
        if surplus <= 0:
            break
        if not used:
            connection.execute("DELETE FROM flow_versions WHERE flow_id = ? AND version = ?", (flow_id, version))
            surplus -= 1
    return surplus <= 0


def activate(connection: sqlite3.Connection, flow_id: str, scope_chat_id: int, version: int) -> None:
    connection.execute(
        "INSERT INTO active_flows (flow_id, scope_chat_id, version) VALUES (?, ?, ?)"
        " ON CONFLICT (flow_id, scope_chat_id) DO UPDATE SET version = excluded.version",
        (flow_id, scope_chat_id, version),
    )


def sync_disk_version(connection: sqlite3.Connection, flow_id: str, text: str) -> int:
    """Record the file on disk as a new global version when it changed since last read."""
    latest = connection.execute(
        "SELECT version, sha256 FROM flow_versions WHERE flow_id = ? AND source = 'disk' ORDER BY version DESC LIMIT 1",
        (flow_id,),
    ).fetchone()
    if latest is None or latest["sha256"] != _sha(text):
        return add_version(connection, flow_id, text, scope_chat_id=GLOBAL_SCOPE, source="disk")
    in_service = connection.execute(
        "SELECT 1 FROM active_flows WHERE flow_id = ? AND scope_chat_id = ?", (flow_id, GLOBAL_SCOPE)
    ).fetchone()
    if in_service is None:
        activate(connection, flow_id, GLOBAL_SCOPE, latest["version"])
    return int(latest["version"])


_VERSION_COLUMNS = "v.flow_id, v.version, v.scope_chat_id, v.source, v.author_name, v.created_at"


def _version(row: sqlite3.Row) -> FlowVersion:
    return FlowVersion(*(row[name] for name in FlowVersion.__dataclass_fields__))


def active(connection: sqlite3.Connection, flow_id: str, chat_id: int) -> FlowVersion | None:
    """The version a chat uses: its own override, else the global one."""
    # The chat's own row sorts first (true > false): ordering on the global scope instead
    # would always pick the global version and ignore every override.
    row = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM active_flows a"
        " JOIN flow_versions v ON v.flow_id = a.flow_id AND v.version = a.version"
        " WHERE a.flow_id = ? AND a.scope_chat_id IN (?, ?)"
        " ORDER BY a.scope_chat_id = ? DESC LIMIT 1",
        (flow_id, chat_id, GLOBAL_SCOPE, chat_id),
    ).fetchone()
    return None if row is None else _version(row)


def history(connection: sqlite3.Connection, flow_id: str, chat_id: int, limit: int = 20) -> list[FlowVersion]:
    """The versions a chat may see and go back to: global ones and its own, newest first."""
    rows = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM flow_versions v"
        " WHERE v.flow_id = ? AND v.scope_chat_id IN (?, ?) ORDER BY v.version DESC LIMIT ?",
        (flow_id, GLOBAL_SCOPE, chat_id, limit),
    ).fetchall()
    return [_version(row) for row in rows]


def visible_version(connection: sqlite3.Connection, flow_id: str, version: int, chat_id: int) -> FlowVersion | None:
    """One version, if this chat may see it (never another group's own upload)."""
    row = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM flow_versions v"
        " WHERE v.flow_id = ? AND v.version = ? AND v.scope_chat_id IN (?, ?)",
        (flow_id, version, GLOBAL_SCOPE, chat_id),
    ).fetchone()
    return None if row is None else _version(row)


def version_text(connection: sqlite3.Connection, flow_id: str, version: int) -> str | None:
    row = connection.execute(
        "SELECT yaml FROM flow_versions WHERE flow_id = ? AND version = ?", (flow_id, version)
    ).fetchone()
    return None if row is None else str(row["yaml"])
