"""Consent rounds: their roster snapshot, every position taken, reason prompts, closing.

A round's state changes in one transaction each (open, a position, a close); reads that
decide something (may this press count? is everyone in?) run inside the same transaction as
the write they lead to, so a deadline job and a press cannot both act on a stale view.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from bot.core.consent_rules import (
    CloseReason,
    Member,
    Outcome,
    Position,
    RoundOptions,
    Stance,
    Tally,
)
from bot.core.statuses import RequestStatus, RoundStatus


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Round:
    id: int
    request_id: int
    request_number: int
    partner_name: str
    author_id: int
    author_name: str
    request_version: int
    number: int
    chat_id: int
    message_id: int | None
    opened_by: int
    opened_by_name: str
    opened_at: datetime
    deadline_at: datetime
    quorum_percent: int
    offer_stand_aside: bool
    reminded_at: datetime | None
    status: str
    outcome: Outcome | None
    close_reason: CloseReason | None
    closed_at: datetime | None
    flow_id: str  # the flow and version the request was filed with: what draws its answers
    flow_version: int
    reopen_reason: str | None = None
    thread_id: int | None = None  # the forum topic of everything the round posts; None: General

    @property
    def is_open(self) -> bool:
        return self.status == RoundStatus.OPEN


_ROUND = (
    "SELECT r.id, r.request_id, q.number AS request_number, q.partner_name, q.author_id, q.author_name,"
    " r.request_version, r.number, r.chat_id,"
    " r.message_id, r.opened_by, r.opened_by_name, r.opened_at, r.deadline_at, r.quorum_percent,"
    " r.offer_stand_aside, r.reminded_at, r.status, r.outcome, r.close_reason, r.closed_at, r.reopen_reason,"
    " r.thread_id, q.flow_id, q.flow_version, q.version AS current_version"
    " FROM consent_rounds r JOIN requests q ON q.id = r.request_id"
)


def _round(row: sqlite3.Row) -> Round:
    return Round(
        id=row["id"],
        request_id=row["request_id"],
        request_number=row["request_number"],
        partner_name=row["partner_name"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        request_version=row["request_version"],
        number=row["number"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        opened_by=row["opened_by"],
        opened_by_name=row["opened_by_name"],
        opened_at=datetime.fromisoformat(row["opened_at"]),
        deadline_at=datetime.fromisoformat(row["deadline_at"]),
        quorum_percent=row["quorum_percent"],
        offer_stand_aside=bool(row["offer_stand_aside"]),
        reminded_at=_moment(row["reminded_at"]),
        status=row["status"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        close_reason=CloseReason(row["close_reason"]) if row["close_reason"] else None,
        closed_at=_moment(row["closed_at"]),
        flow_id=row["flow_id"],
        flow_version=row["flow_version"],
        reopen_reason=row["reopen_reason"],
        thread_id=row["thread_id"],
    )


@dataclass(frozen=True)
class RoundState:
    """A round with its roster snapshot, every position in order, and its request's version now."""

    round: Round
    roster: tuple[Member, ...]
    history: tuple[Stance, ...]
    current_version: int

    @cached_property  # a proposal's drawing asks for it many times
    def tally(self) -> Tally:
        return Tally.of(self.roster, self.history, self.round.quorum_percent, self.round.author_id)


def _rounds(connection: sqlite3.Connection, where: str, parameters: tuple[object, ...]) -> list[Round]:
    return [_round(found) for found in connection.execute(f"{_ROUND} WHERE {where}", parameters)]


def state(connection: sqlite3.Connection, round_id: int) -> RoundState | None:
    row = connection.execute(f"{_ROUND} WHERE r.id = ?", (round_id,)).fetchone()
    if row is None:
        return None
    roster = tuple(
        Member(member["user_id"], member["name"])
        for member in connection.execute(
            "SELECT user_id, name FROM round_roster WHERE round_id = ? ORDER BY rank", (round_id,)
        )
    )
    history = tuple(
        Stance(
            stance["user_id"],
            Position(stance["position"]),
            stance["reason"],
            datetime.fromisoformat(stance["recorded_at"]),
        )
        for stance in connection.execute(
            "SELECT user_id, position, reason, recorded_at FROM round_positions WHERE round_id = ? ORDER BY id",
            (round_id,),
        )
    )
    return RoundState(_round(row), roster, history, row["current_version"])


def latest_round_id(connection: sqlite3.Connection, request_id: int, *, open_only: bool = False) -> int | None:
    """The request's most recent round (or its open one); None when there is none."""
    status = f" AND status = '{RoundStatus.OPEN}'" if open_only else ""
    found = connection.execute(
        f"SELECT id FROM consent_rounds WHERE request_id = ?{status} ORDER BY number DESC LIMIT 1", (request_id,)
    ).fetchone()
    return None if found is None else found["id"]


def latest_state(connection: sqlite3.Connection, request_id: int, *, open_only: bool = False) -> RoundState | None:
    """The state of the request's most recent round (or of its open one); None when there is none."""
    round_id = latest_round_id(connection, request_id, open_only=open_only)
    return None if round_id is None else state(connection, round_id)


def request_version(connection: sqlite3.Connection, request_id: int) -> int:
    (version,) = connection.execute("SELECT version FROM requests WHERE id = ?", (request_id,)).fetchone()
    return int(version)


# --- changes ------------------------------------------------------------------------------


def open_round(
    connection: sqlite3.Connection,
    *,
    request_id: int,
    chat_id: int,
    opener: Member,
    opened_at: datetime,
    deadline_at: datetime,
    options: RoundOptions,
    roster: tuple[Member, ...],
    conflicts: tuple[int, ...] = (),
    reopen_reason: str | None = None,
    thread_id: int | None = None,
) -> int:
    """Open a round on the request's current version with this roster; return its id.

    ``conflicts`` are roster members recorded from the start as standing aside for a link
    with the partner (declared in the request).
    """
    (number,) = connection.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM consent_rounds WHERE request_id = ?", (request_id,)
    ).fetchone()
    cursor = connection.execute(
        "INSERT INTO consent_rounds (request_id, request_version, number, chat_id, opened_by, opened_by_name,"
        " opened_at, deadline_at, quorum_percent, offer_stand_aside, reopen_reason, thread_id)"
        " SELECT id, version, ?, chat_id, ?, ?, ?, ?, ?, ?, ?, ? FROM requests WHERE id = ?",
        (
            number,
            opener.user_id,
            opener.name,
            _stamp(opened_at),
            _stamp(deadline_at),
            options.quorum_percent,
            int(options.offer_stand_aside),
            reopen_reason,
            thread_id,
            request_id,
        ),
    )
    round_id = cursor.lastrowid
    assert round_id is not None  # the request exists: the caller read it in this transaction
    connection.executemany(
        "INSERT INTO round_roster (round_id, user_id, name, rank) VALUES (?, ?, ?, ?)",
        [(round_id, member.user_id, member.name, rank) for rank, member in enumerate(roster)],
    )
    connection.executemany(
        "INSERT INTO round_positions (round_id, user_id, position, recorded_at) VALUES (?, ?, ?, ?)",
        [(round_id, user_id, Position.CONFLICT.value, _stamp(opened_at)) for user_id in conflicts],
    )
    connection.execute(
        "UPDATE requests SET status = ?, updated_at = ? WHERE id = ?",
        (RequestStatus.IN_CONSENT, _stamp(opened_at), request_id),
    )
    return round_id


def set_message(connection: sqlite3.Connection, round_id: int, message_id: int) -> None:
    connection.execute("UPDATE consent_rounds SET message_id = ? WHERE id = ?", (message_id, round_id))


def record(connection: sqlite3.Connection, round_id: int, stance: Stance) -> bool:
    """Add a position to the round's history; False when the round is no longer open."""
    cursor = connection.execute(
        "INSERT INTO round_positions (round_id, user_id, position, reason, recorded_at)"
        " SELECT id, ?, ?, ?, ? FROM consent_rounds WHERE id = ? AND status = 'open'",
        (stance.user_id, stance.position.value, stance.reason, _stamp(stance.at), round_id),
    )
    return cursor.rowcount > 0


def close(
    connection: sqlite3.Connection,
    round_id: int,
    *,
    outcome: Outcome,
    reason: CloseReason,
    at: datetime,
    closed_by: int | None = None,
) -> bool:
    """Close an open round with its outcome and record the decision on the request."""
    cursor = connection.execute(
        "UPDATE consent_rounds SET status = 'closed', outcome = ?, close_reason = ?, closed_by = ?, closed_at = ?"
        " WHERE id = ? AND status = 'open'",
        (outcome.value, reason.value, closed_by, _stamp(at), round_id),
    )
    if cursor.rowcount == 0:
        return False
    connection.execute(
        "UPDATE requests SET status = ?, decided_at = ?, updated_at = ?"
        " WHERE id = (SELECT request_id FROM consent_rounds WHERE id = ?)",
        (outcome.value, _stamp(at), _stamp(at), round_id),
    )
    return True


def reopen(connection: sqlite3.Connection, round_id: int, deadline_at: datetime) -> bool:
    """Reopen a round that reached its deadline without a decision, if it is still its
    request's latest: /prolonger gives the silent members more time instead of a new round."""
    cursor = connection.execute(
        "UPDATE consent_rounds SET status = 'open', outcome = NULL, close_reason = NULL, closed_by = NULL,"
        " closed_at = NULL, published_at = NULL, reminded_at = NULL, deadline_at = ?"
        " WHERE id = ? AND status = 'closed' AND outcome = ? AND close_reason = ?"
        " AND number = (SELECT MAX(number) FROM consent_rounds o WHERE o.request_id = consent_rounds.request_id)",
        (_stamp(deadline_at), round_id, Outcome.NO_DECISION.value, CloseReason.DEADLINE.value),
    )
    if cursor.rowcount == 0:
        return False
    connection.execute(
        "UPDATE requests SET status = ?, decided_at = NULL"
        " WHERE id = (SELECT request_id FROM consent_rounds WHERE id = ?)",
        (RequestStatus.IN_CONSENT, round_id),
    )
    return True


def extend(connection: sqlite3.Connection, round_id: int, deadline_at: datetime, *, keep_reminder: bool) -> bool:
    """Move an open round's deadline; the reminder is sent again unless ``keep_reminder``."""
    reminded = "reminded_at" if keep_reminder else "NULL"
    cursor = connection.execute(
        f"UPDATE consent_rounds SET deadline_at = ?, reminded_at = {reminded} WHERE id = ? AND status = 'open'",
        (_stamp(deadline_at), round_id),
    )
    return cursor.rowcount > 0


def mark_reminded(connection: sqlite3.Connection, round_id: int, at: datetime) -> bool:
    """Note the reminder before the deadline; False when it was sent already or the round closed."""
    cursor = connection.execute(
        "UPDATE consent_rounds SET reminded_at = ? WHERE id = ? AND status = 'open' AND reminded_at IS NULL",
        (_stamp(at), round_id),
    )
    return cursor.rowcount > 0


def mark_published(connection: sqlite3.Connection, round_id: int, at: datetime) -> bool:
    """Note that a closed round's outcome and summaries are queued; False when they were already."""
    cursor = connection.execute(
        "UPDATE consent_rounds SET published_at = ? WHERE id = ? AND published_at IS NULL", (_stamp(at), round_id)
    )
    return cursor.rowcount > 0


# --- lists --------------------------------------------------------------------------------


def open_rounds(connection: sqlite3.Connection, chat_id: int | None = None) -> list[Round]:
    """Open rounds of a chat, or of every chat (to reschedule their deadlines at start-up)."""
    where, parameters = ("r.status = 'open' AND r.chat_id = ?", (chat_id,)) if chat_id else ("r.status = 'open'", ())
    return _rounds(connection, f"{where} ORDER BY r.deadline_at", parameters)


def unpublished(connection: sqlite3.Connection) -> list[Round]:
    """Closed rounds whose outcome was not announced (the bot stopped in between)."""
    return _rounds(connection, "r.status = 'closed' AND r.published_at IS NULL ORDER BY r.id", ())


def decisions_since(connection: sqlite3.Connection, chat_id: int, since: datetime) -> list[Round]:
    return _rounds(
        connection,
        "r.chat_id = ? AND r.status = 'closed' AND r.closed_at >= ? ORDER BY r.closed_at DESC",
        (chat_id, _stamp(since)),
    )


# --- prompts for a reason -----------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """A ForceReply question waiting for one member's reason or question."""

    round_id: int
    user_id: int
    action: str


def add_prompt(
    connection: sqlite3.Connection,
    chat_id: int,
    message_id: int,
    round_id: int,
    user_id: int,
    action: str,
    at: datetime,
) -> None:
    connection.execute(
        "INSERT INTO round_prompts (chat_id, message_id, round_id, user_id, action, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (chat_id, message_id, round_id, user_id, action, _stamp(at)),
    )


def prompt_at(connection: sqlite3.Connection, chat_id: int, message_id: int) -> Prompt | None:
    row = connection.execute(
        "SELECT round_id, user_id, action FROM round_prompts WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    ).fetchone()
    return None if row is None else Prompt(row["round_id"], row["user_id"], row["action"])


def drop_prompt(connection: sqlite3.Connection, chat_id: int, message_id: int) -> bool:
    """Consume a prompt; False when it was answered already."""
    cursor = connection.execute("DELETE FROM round_prompts WHERE chat_id = ? AND message_id = ?", (chat_id, message_id))
    return cursor.rowcount > 0
