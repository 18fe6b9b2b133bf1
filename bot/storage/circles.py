"""Who is who in a group: its core circle, its coordinators, and requests to join the circle.

The circle and the coordination are the same kind of roster (members of a chat with a name),
kept in two tables; :class:`Roster` names the table, never anything a member typed.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum

from bot.core.consent_rules import Member
from bot.storage.db import now


class Roster(StrEnum):
    CIRCLE = "circle_members"
    COORDINATION = "coordinators"


def listed(connection: sqlite3.Connection, roster: Roster, chat_id: int) -> list[Member]:
    """A roster as it is inside a transaction (a round's roster is a snapshot of the circle)."""
    found = connection.execute(
        f"SELECT user_id, name FROM {roster} WHERE chat_id = ? ORDER BY added_at, name", (chat_id,)
    )
    return [Member(member["user_id"], member["name"]) for member in found]


def contains(connection: sqlite3.Connection, roster: Roster, chat_id: int, user_id: int) -> bool:
    row = connection.execute(f"SELECT 1 FROM {roster} WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)).fetchone()
    return row is not None


def add(connection: sqlite3.Connection, roster: Roster, chat_id: int, member: Member) -> bool:
    """Put a member on a roster; False when they already were."""
    cursor = connection.execute(
        f"INSERT OR IGNORE INTO {roster} (chat_id, user_id, name, added_at) VALUES (?, ?, ?, ?)",
        (chat_id, member.user_id, member.name, now()),
    )
    return cursor.rowcount > 0


def remove(connection: sqlite3.Connection, roster: Roster, chat_id: int, user_id: int) -> bool:
    cursor = connection.execute(f"DELETE FROM {roster} WHERE chat_id = ? AND user_id = ?", (chat_id, user_id))
    return cursor.rowcount > 0


# --- joining the circle -------------------------------------------------------------------


def ask_to_join(connection: sqlite3.Connection, chat_id: int, member: Member) -> bool:
    """Record a request to join; False when one is already waiting."""
    cursor = connection.execute(
        "INSERT OR IGNORE INTO circle_join_requests (chat_id, user_id, name, requested_at) VALUES (?, ?, ?, ?)",
        (chat_id, member.user_id, member.name, now()),
    )
    return cursor.rowcount > 0


def take_join_request(connection: sqlite3.Connection, chat_id: int, user_id: int) -> Member | None:
    """Remove a waiting request to join and return who made it; None when already answered."""
    row = connection.execute(
        "DELETE FROM circle_join_requests WHERE chat_id = ? AND user_id = ? RETURNING user_id, name",
        (chat_id, user_id),
    ).fetchone()
    return None if row is None else Member(row["user_id"], row["name"])


# --- coordinators -------------------------------------------------------------------------


def coordinated_chats(connection: sqlite3.Connection, user_id: int) -> list[int]:
    found = connection.execute("SELECT chat_id FROM coordinators WHERE user_id = ? ORDER BY chat_id", (user_id,))
    return [row["chat_id"] for row in found]


def mark_unreachable(connection: sqlite3.Connection, chat_id: int, user_id: int) -> bool:
    """Note that a coordinator cannot be written to; True only the first time (tell admins once)."""
    cursor = connection.execute(
        "UPDATE coordinators SET unreachable_at = ? WHERE chat_id = ? AND user_id = ? AND unreachable_at IS NULL",
        (now(), chat_id, user_id),
    )
    return cursor.rowcount > 0


def mark_reachable(connection: sqlite3.Connection, chat_id: int, user_id: int) -> None:
    connection.execute(
        "UPDATE coordinators SET unreachable_at = NULL WHERE chat_id = ? AND user_id = ?", (chat_id, user_id)
    )
