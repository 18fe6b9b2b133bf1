"""Consent rules: positions → tally → outcome, with quorum, objections and recusal.

Consent is not a majority vote: a proposal is adopted when the whole circle took a position
(or, if a group chose a lower bar, its quorum) and nobody holds an objection, and someone
other than the author agreed. Silence is not consent, and a member with a link with the
partner stands aside without counting. Everything here is pure, so the rules are unit-tested
directly and the same whatever chat or storage runs them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_DURATION_DAYS = 60
WHOLE_CIRCLE = 100  # the default quorum: every counted member takes a position


class Position(StrEnum):
    CONSENT = "consent"
    RESERVATION = "reservation"
    OBJECTION = "objection"
    STAND_ASIDE = "stand_aside"
    CONFLICT = "conflict"  # standing aside because of a declared link with the partner


NEEDS_REASON = frozenset({Position.OBJECTION, Position.RESERVATION})
# Positions that let a proposal through: without one of them nobody actually agreed.
AGREEING = frozenset({Position.CONSENT, Position.RESERVATION})


class Outcome(StrEnum):
    ADOPTED = "adopted"
    OBJECTION = "objection"
    NO_DECISION = "no_decision"


class CloseReason(StrEnum):
    ALL_ANSWERED = "all_answered"
    DEADLINE = "deadline"
    EARLY = "early"
    WITHDRAWN = "withdrawn"  # the author withdrew the request during the round


class Refusal(StrEnum):
    """Why a button press on a round is refused."""

    STALE = "stale"  # forged, for another version of the request, or an option not offered
    CLOSED = "closed"
    NOT_IN_ROSTER = "not_in_roster"


class RoundOptions(BaseModel):
    """How a round runs: defaults come from ``consentement.yaml``, the opener may change them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_days: Annotated[int, Field(ge=1, le=MAX_DURATION_DAYS)] = 7
    quorum_percent: Annotated[int, Field(ge=1, le=100)] = WHOLE_CIRCLE
    offer_stand_aside: bool = True


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str


@dataclass(frozen=True)
class Stance:
    """One position taken by one member at one time; a round keeps every one of them."""

    user_id: int
    position: Position
    reason: str | None
    at: datetime


def latest(history: Iterable[Stance]) -> dict[int, Stance]:
    """Each member's current position: the last one they took (history is in order)."""
    current: dict[int, Stance] = {}
    for stance in history:
        current[stance.user_id] = stance
    return current


def is_change(current: Stance | None, position: Position, reason: str | None) -> bool:
    """Whether taking this position changes anything (a double press records nothing)."""
    return current is None or (current.position, current.reason) != (position, reason)


def quorum_needed(counted: int, percent: int) -> int:
    """How many counted members must take a position: a share of them, and at least one."""
    return max(1, math.ceil(counted * percent / 100))


@dataclass(frozen=True)
class Tally:
    """Where a round stands: the roster it opened with and each member's latest position."""

    roster: tuple[Member, ...]
    current: Mapping[int, Stance]
    quorum_percent: int
    author_id: int | None = None  # the request's author: their consent alone never adopts

    @classmethod
    def of(
        cls, roster: Sequence[Member], history: Iterable[Stance], quorum_percent: int, author_id: int | None = None
    ) -> Tally:
        members = {member.user_id for member in roster}
        current = {uid: stance for uid, stance in latest(history).items() if uid in members}
        return cls(tuple(roster), current, quorum_percent, author_id)

    def position_of(self, user_id: int) -> Position | None:
        stance = self.current.get(user_id)
        return None if stance is None else stance.position

    @cached_property  # what most of the others start from
    def counted(self) -> tuple[Member, ...]:
        """Members whose answer counts: everyone but those standing aside for a conflict."""
        return tuple(m for m in self.roster if self.position_of(m.user_id) is not Position.CONFLICT)

    @property
    def answered(self) -> tuple[Member, ...]:
        return tuple(m for m in self.counted if m.user_id in self.current)

    @property
    def waiting(self) -> tuple[Member, ...]:
        """Counted members who have not answered yet, in roster order."""
        return tuple(m for m in self.counted if m.user_id not in self.current)

    @property
    def needed(self) -> int:
        return quorum_needed(len(self.counted), self.quorum_percent)

    def members_with(self, position: Position) -> tuple[tuple[Member, Stance], ...]:
        return tuple((m, self.current[m.user_id]) for m in self.roster if self.position_of(m.user_id) is position)

    @property
    def quorum_reached(self) -> bool:
        return len(self.answered) >= self.needed

    @property
    def everyone_answered(self) -> bool:
        """Every counted member answered: the round need not wait for its deadline."""
        return bool(self.counted) and not self.waiting

    @property
    def whole_circle(self) -> bool:
        return self.quorum_percent >= WHOLE_CIRCLE

    @property
    def recused(self) -> tuple[Member, ...]:
        return tuple(m for m, _ in self.members_with(Position.CONFLICT))

    def outcome(self) -> Outcome:
        """One standing objection stops adoption; silence and standing aside never adopt, nor
        the author's enthusiasm alone: someone else in the circle must agree."""
        if self.members_with(Position.OBJECTION):
            return Outcome.OBJECTION
        if not self.quorum_reached:
            return Outcome.NO_DECISION
        if not any(self.position_of(m.user_id) in AGREEING and m.user_id != self.author_id for m in self.counted):
            return Outcome.NO_DECISION
        return Outcome.ADOPTED


def lifted_objections(history: Sequence[Stance]) -> list[int]:
    """Members who objected during the round and no longer do, in the order they objected."""
    current = latest(history)
    lifted: list[int] = []
    for stance in history:
        still = current[stance.user_id].position is Position.OBJECTION
        if stance.position is Position.OBJECTION and not still and stance.user_id not in lifted:
            lifted.append(stance.user_id)
    return lifted


def ask_first(roster: Sequence[Member], objectors: Iterable[int]) -> tuple[Member, ...]:
    """The roster with the previous round's objectors first: the amended version is theirs to judge."""
    first = set(objectors)
    return tuple(sorted(roster, key=lambda member: member.user_id not in first))


class NewRound(StrEnum):
    """Why a new round may not open on a request the circle objected to."""

    UNCHANGED = "unchanged"  # nothing was amended and no admin said why
    REASON_ADMINS_ONLY = "reason_admins_only"


def new_round_refusal(
    *, objected_version: int | None, current_version: int, reason: str | None, by_admin: bool
) -> NewRound | None:
    """A new round after an objection is a round on something new: the amended request, or
    an admin's stated reason. ``objected_version`` is the version the last round objected to
    (None when the last round did not end on an objection)."""
    if reason and not by_admin:
        return NewRound.REASON_ADMINS_ONLY
    if objected_version == current_version and not reason:
        return NewRound.UNCHANGED
    return None


def check_press(
    *,
    is_open: bool,
    pressed_version: int,
    round_version: int,
    request_version: int,
    in_roster: bool,
    offered: bool,
) -> Refusal | None:
    """Re-check a press against the stored round; None when it may be recorded.

    The button carries the version of the request it was drawn for: it must be the round's,
    and the request must not have been amended since.
    """
    if not pressed_version == round_version == request_version or not offered:
        return Refusal.STALE
    if not is_open:
        return Refusal.CLOSED
    if not in_roster:
        return Refusal.NOT_IN_ROSTER
    return None


# --- time -------------------------------------------------------------------------------


def deadline_after(start: datetime, days: int) -> datetime:
    return start + timedelta(days=days)


def first_deadline(opened_at: datetime, days: int, answer_by: date | None, zone: tzinfo) -> datetime:
    """A first round's deadline: ``days`` after opening, but never later than the date the
    partner needs an answer by (the start of that day, or its end when the day has begun).

    A date already past changes nothing: the partner is late, the circle still takes its time.
    """
    default = deadline_after(opened_at, days)
    if answer_by is None:
        return default
    for moment in (time.min, time.max.replace(microsecond=0)):
        limit = datetime.combine(answer_by, moment, zone)
        if limit > opened_at:
            return min(default, limit)
    return default


def reminder_time(opened_at: datetime, deadline: datetime, hours_before: int) -> datetime | None:
    """When to remind non-answerers: ``hours_before`` the deadline, never before the opening."""
    if hours_before <= 0:
        return None
    moment = deadline - timedelta(hours=hours_before)
    return moment if moment > opened_at else None


# --- options typed when opening ----------------------------------------------------------


class InvalidOption(ValueError):
    """An option of /consentement that cannot be read; carries the word as typed."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


@dataclass(frozen=True)
class OptionWords:
    """The French words an opener may type: ``durée=5 quorum=60 retrait=non``."""

    duration: tuple[str, ...]
    quorum: tuple[str, ...]
    stand_aside: tuple[str, ...]
    yes: tuple[str, ...]
    no: tuple[str, ...]


def split_reason(words: Sequence[str], reason_words: Iterable[str]) -> tuple[list[str], str | None]:
    """Options typed before a reason word (``motif``), and the free text after it, if any."""
    names = {word.casefold() for word in reason_words}
    for index, word in enumerate(words):
        if word.casefold() in names:
            return list(words[:index]), " ".join(words[index + 1 :]).strip() or None
    return list(words), None


def parse_options(words: Sequence[str], defaults: RoundOptions, vocabulary: OptionWords) -> RoundOptions:
    """Apply ``name=value`` words to the defaults, or raise :class:`InvalidOption`."""
    changes: dict[str, object] = {}
    for word in words:
        name, sep, value = word.casefold().partition("=")
        value = value.strip().removesuffix("%").removesuffix("j")
        if not sep or not value:
            raise InvalidOption(word)
        if name in vocabulary.duration or name in vocabulary.quorum:
            if not (value.isascii() and value.isdigit()):  # "²" is a digit int() refuses
                raise InvalidOption(word)
            field = "duration_days" if name in vocabulary.duration else "quorum_percent"
            changes[field] = int(value)
        elif name in vocabulary.stand_aside and value in vocabulary.yes + vocabulary.no:
            changes["offer_stand_aside"] = value in vocabulary.yes
        else:
            raise InvalidOption(word)
    try:
        return RoundOptions.model_validate({**defaults.model_dump(), **changes})
    except ValueError:
        raise InvalidOption(" ".join(words)) from None


# --- long texts --------------------------------------------------------------------------


def pack(blocks: Sequence[str], limit: int, separator: str = "\n") -> list[str]:
    """Group blocks into as few messages as fit ``limit`` characters, never splitting a block.

    An empty block is a blank line between sections; a message never starts or ends with one.
    """
    messages: list[str] = []
    current: list[str] = []
    for block in blocks:
        if current and len(separator.join([*current, block]).strip()) > limit:
            messages.append(separator.join(current).strip())
            current = []
        if current or block:
            current.append(block)
    if current:
        messages.append(separator.join(current).strip())
    return messages
