"""A consent round from opening to its published outcome, and back after a restart.

Every state change is one write of ``bot.storage`` (the reads that decide run in the same
one, and the messages it decides are queued in its outbox there too); messages and jobs
follow the stored state, never the other way round, so a redelivered update, a job that ran
late or a restart in between cannot publish twice, remind twice or lose a proposal. Redrawing
a proposal is coalesced: at most one edit every ``edit_interval`` seconds per round, always
ending on the state stored last.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from functools import partial

from bot.core import consent_rules
from bot.core.consent_rules import (
    CloseReason,
    Member,
    Outcome,
    Position,
    RoundOptions,
    Stance,
)
from bot.core.statuses import UNDECIDED, WITHDRAWABLE, RequestStatus
from bot.core.texts import Html
from bot.rounds import ports
from bot.rounds.ports import (
    Acknowledge,
    Destination,
    Drawing,
    Markup,
    Opened,
    Presenter,
    Scheduler,
    Sender,
)
from bot.storage import amendments, chats, circles, consent_rounds, outbox, requests
from bot.storage.circles import Roster
from bot.storage.consent_rounds import Round, RoundState
from bot.storage.db import Database
from bot.storage.outbox import Delivery
from bot.storage.requests import PartnershipRequest

SUMMARY = "summary"  # the outbox kind of the coordinators' summaries
PROPOSAL = "proposal"  # the outbox kind of a round's proposal: its delivery records its message
OBJECTORS_FIRST = "objectors-first"  # the outbox kind of the ask to the objectors, a reply to the proposal


def _now() -> datetime:
    return datetime.now(UTC)


class Refusal(StrEnum):
    """Why a round does not open."""

    NOT_OPENABLE = "not_openable"
    ALREADY_OPEN = "already_open"
    CIRCLE_EMPTY = "circle_empty"
    UNCHANGED = "unchanged"
    REASON_ADMINS_ONLY = "reason_admins_only"


class Taken(StrEnum):
    """What a position press or reply came to, once checked against the stored round."""

    RECORDED = "recorded"
    UNCHANGED = "unchanged"  # a double press, or a reason prompt answered already
    CLOSED = "closed"


# Re-checks a press against the round as stored in the transaction that records it.
PressCheck = Callable[[RoundState | None], consent_rules.Refusal | None]


@dataclass
class Redraws:
    """When each round's proposal was last drawn, and one lock per round: shared by every
    update and job of the running bot."""

    last: dict[int, float] = field(default_factory=dict)
    locks: defaultdict[int, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # Redraws due at once ask for their reads one after the other: the database's thread answers
    # calls in the order they were asked, and a burst of redraws asking all at once would put
    # every one of their reads ahead of the next read or write of the update being handled.
    reading: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Rounds with a redraw started that has not read the database yet: it will show every change
    # committed before it reads, so asking for another one would draw the same proposal twice.
    unread: set[int] = field(default_factory=set)
    # The proposal each open round last showed, on its message: a redraw that would show the same
    # sends nothing (Telegram refuses an edit that changes nothing, after a call for it).
    shown: dict[int, tuple[int, Html, Markup | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Opening:
    """What the opener asked for, already checked by the adapter (who they are)."""

    request: PartnershipRequest
    opener: Member
    options: RoundOptions
    reason: str | None = None  # an admin's reason for a new round on an unchanged request
    by_admin: bool = False
    author_recused: bool = False  # the request declares the author's own link with the partner
    answer_by: date | None = None  # the date by which the partner needs an answer
    thread_id: int | None = None  # the forum topic the round posts in; None: General
    # The group's type and title, recorded as the round opens: the summaries name the group.
    group: tuple[str, str | None] | None = None


def job_name(kind: str, round_id: int) -> str:
    return f"consent-{kind}-{round_id}"


def _group(rnd: Round) -> Destination:
    """The round's group, in the topic of its proposal: every message of the round goes there."""
    return Destination(rnd.chat_id, rnd.thread_id)


def _state(connection: sqlite3.Connection, round_id: int) -> RoundState:
    """A round known to exist (rounds are never deleted)."""
    found = consent_rounds.state(connection, round_id)
    assert found is not None, round_id
    return found


def _request(connection: sqlite3.Connection, rnd: Round) -> PartnershipRequest:
    """A round's request as it is now (a request is never deleted while it has a round)."""
    found = requests.by_number(connection, rnd.chat_id, rnd.request_number)
    assert found is not None, rnd.request_id
    return found


def _drawn(connection: sqlite3.Connection, round_id: int) -> tuple[RoundState, PartnershipRequest] | None:
    """What a redraw of the proposal shows: the round and its request, in one snapshot."""
    state = consent_rounds.state(connection, round_id)
    return None if state is None else (state, _request(connection, state.round))


def queue_proposal(
    connection: sqlite3.Connection,
    drawing: Drawing,
    state: RoundState,
    request: PartnershipRequest,
    then: Html | None = None,
) -> None:
    """Queue a round's proposal once per chat (a restart before its delivery does not queue it
    again), and ``then`` as a reply to it. The proposal's delivery records its message
    (``proposal_sent``); until then nothing edits it."""
    rnd = state.round
    text, markup = drawing.proposal(state, request)
    key = f"{PROPOSAL}:{rnd.id}:{rnd.chat_id}"
    queued = outbox.enqueue(
        connection,
        rnd.chat_id,
        [text],
        kind=PROPOSAL,
        ref=rnd.id,
        markup=None if markup is None else markup.to_dict(),
        key=key,
        thread_id=rnd.thread_id,
    )
    if queued and then is not None:
        outbox.enqueue(connection, rnd.chat_id, [then], kind=OBJECTORS_FIRST, ref=rnd.id, thread_id=rnd.thread_id)


def queue_outcome(connection: sqlite3.Connection, drawing: Drawing, round_id: int, at: datetime) -> bool:
    """Queue, once, a closed round's outcome for the group and its summary for each
    coordinator; False when they were queued already."""
    if not consent_rounds.mark_published(connection, round_id, at):
        return False
    state = _state(connection, round_id)
    rnd = state.round
    group = chats.title(connection, rnd.chat_id) or ""
    outcome, summary = drawing.closing(state, _request(connection, rnd), group)
    outbox.enqueue(connection, rnd.chat_id, outcome, reply_to=rnd.message_id, thread_id=rnd.thread_id)
    for coordinator in circles.listed(connection, Roster.COORDINATION, rnd.chat_id):
        outbox.enqueue(connection, coordinator.user_id, summary, kind=SUMMARY, ref=round_id)
    return True


class Rounds:
    """The round lifecycle for one running bot; cheap to build for each update."""

    def __init__(
        self,
        *,
        database: Database,
        sender: Sender,
        scheduler: Scheduler,
        presenter: Presenter,
        redraws: Redraws,
        edit_interval: float,
        reminder_hours: int,
        zone: tzinfo,
        kick_outbox: Callable[[], None],
        send_outbox: Callable[[int], None],
        clock: Callable[[], datetime] = _now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database, self.sender, self.scheduler, self.presenter = database, sender, scheduler, presenter
        self.redraws, self.edit_interval, self.reminder_hours, self.zone = redraws, edit_interval, reminder_hours, zone
        self.kick_outbox, self.send_outbox = kick_outbox, send_outbox
        self.clock, self.monotonic = clock, monotonic

    # --- opening ---------------------------------------------------------------------------

    async def open(
        self, opening: Opening, *, update_id: int | None = None, acknowledge: Acknowledge | None = None
    ) -> Opened | Refusal:
        """Open a round on the request's current version and queue its proposal (and the ask to
        the previous round's objectors) in the same write; ``acknowledge`` once it is stored
        (not on a refusal).

        After an objection, only on something new: an amended version, or an admin's reason.
        """
        request = opening.request
        if request.status not in UNDECIDED:
            return Refusal.NOT_OPENABLE
        opened_at = self.clock()
        drawing = await self.presenter.drawing(request.flow_id, request.flow_version)

        def change(connection: sqlite3.Connection) -> Opened | Refusal:
            if opening.group is not None:
                chats.remember(connection, request.chat_id, *opening.group)
            if consent_rounds.latest_round_id(connection, request.id, open_only=True) is not None:
                return Refusal.ALREADY_OPEN
            roster = circles.listed(connection, Roster.CIRCLE, request.chat_id)
            if not roster:
                return Refusal.CIRCLE_EMPTY
            previous_id = consent_rounds.latest_round_id(connection, request.id)
            previous = _state(connection, previous_id) if previous_id else None
            objected = previous is not None and previous.round.outcome is Outcome.OBJECTION
            objectors = previous.tally.members_with(Position.OBJECTION) if previous and objected else ()
            version = consent_rounds.request_version(connection, request.id)
            objected_version = previous.round.request_version if previous and objected else None
            refusal = consent_rules.new_round_refusal(
                objected_version=objected_version,
                current_version=version,
                reason=opening.reason,
                by_admin=opening.by_admin,
            )
            if refusal is not None:
                return Refusal(refusal.value)
            before = (
                amendments.answers_at(connection, request.id, objected_version)
                if objected_version is not None
                else None
            )
            days = opening.options.duration_days
            deadline = (
                consent_rules.first_deadline(opened_at, days, opening.answer_by, self.zone)
                if previous is None
                else consent_rules.deadline_after(opened_at, days)
            )
            in_roster = any(member.user_id == request.author_id for member in roster)
            round_id = consent_rounds.open_round(
                connection,
                request_id=request.id,
                chat_id=request.chat_id,
                opener=opening.opener,
                opened_at=opened_at,
                deadline_at=deadline,
                options=opening.options,
                roster=consent_rules.ask_first(roster, [member.user_id for member, _ in objectors]),
                conflicts=(request.author_id,) if opening.author_recused and in_roster else (),
                reopen_reason=opening.reason if objected_version == version else None,
                thread_id=opening.thread_id,
            )
            state = _state(connection, round_id)
            opened = Opened(
                round_id,
                state,
                tuple((m.name, s.reason or "") for m, s in objectors),
                tuple(m.user_id for m, _ in objectors),
                before,
                opening.reason,
            )
            # Queued with the round they are about: a crash after the commit loses neither.
            now_asked = _request(connection, state.round)
            queue_proposal(connection, drawing, state, now_asked, then=drawing.objectors_first(opened, now_asked))
            return opened

        opened = await self.database.write(change, update_id)
        if isinstance(opened, Refusal):
            return opened
        await ports.acknowledge(acknowledge)
        self._proposal_queued(opened.state.round)
        return opened

    async def post_proposal(self, rnd: Round) -> None:
        """Queue an open round's proposal again, unless it is queued already (after a restart,
        or in the supergroup its group became); schedule its deadline."""
        drawing = await self.presenter.drawing(rnd.flow_id, rnd.flow_version)

        def change(connection: sqlite3.Connection) -> Round:
            state = _state(connection, rnd.id)
            queue_proposal(connection, drawing, state, _request(connection, state.round))
            return state.round

        self._proposal_queued(await self.database.write(change))

    def _proposal_queued(self, rnd: Round) -> None:
        self.redraws.last[rnd.id] = self.monotonic()
        self.schedule(rnd)
        self.send_outbox(rnd.chat_id)

    @staticmethod
    def proposal_sent(connection: sqlite3.Connection, delivery: Delivery) -> None:
        """Record where the proposal is (its buttons and redraws need it), and have the messages
        queued to answer it reply to it."""
        assert delivery.ref is not None and delivery.message_id is not None  # queued with its round, now sent
        consent_rounds.set_message(connection, delivery.ref, delivery.message_id)
        outbox.reply_to_sent(connection, OBJECTORS_FIRST, delivery.ref, delivery.message_id)

    # --- positions ---------------------------------------------------------------------------

    async def take_position(
        self,
        round_id: int,
        user_id: int,
        position: Position,
        reason: str | None = None,
        *,
        update_id: int | None = None,
        prompt: tuple[int, int] | None = None,
        check: PressCheck | None = None,
    ) -> Taken | consent_rules.Refusal:
        """Record a position (consuming its reason prompt, ``(chat id, message id)``), after
        ``check`` found the press still valid; close the round once everyone answered, and have
        a job publish it."""
        now = self.clock()

        def change(connection: sqlite3.Connection) -> tuple[Taken | consent_rules.Refusal, Round | None]:
            if prompt is not None and not consent_rounds.drop_prompt(connection, *prompt):
                return Taken.UNCHANGED, None
            state = consent_rounds.state(connection, round_id)
            if check is not None and (refusal := check(state)) is not None:
                return refusal, None
            if state is None or not state.round.is_open:
                return Taken.CLOSED, None
            if not consent_rules.is_change(state.tally.current.get(user_id), position, reason):
                return Taken.UNCHANGED, None
            stance = Stance(user_id, position, reason, now)
            consent_rounds.record(connection, round_id, stance)
            tally = consent_rules.Tally.of(
                state.roster, (*state.history, stance), state.round.quorum_percent, state.round.author_id
            )
            closed = tally.everyone_answered and consent_rounds.close(
                connection, round_id, outcome=tally.outcome(), reason=CloseReason.ALL_ANSWERED, at=now
            )
            return Taken.RECORDED, state.round if closed else None

        taken, closed = await self.database.write(change, update_id)
        if closed is not None:
            # Its outcome is queued right after, not before the press is answered: the member
            # waits for one commit, the position and the close it made (a stop in between: the
            # outcome is queued by ``recover``).
            self.scheduler.run_at(job_name("publish", closed.id), 0, partial(self.publish, closed))
        elif taken is Taken.RECORDED:
            self.redraw_soon(round_id)
        return taken

    # --- closing -----------------------------------------------------------------------------

    async def close(
        self,
        rnd: Round,
        reason: CloseReason,
        *,
        update_id: int | None = None,
        closed_by: int | None = None,
        acknowledge: Acknowledge | None = None,
    ) -> bool:
        """Close an open round with the outcome of its positions now and queue that outcome, in
        one write; ``acknowledge`` once it is stored. False if it was closed already."""
        now = self.clock()
        drawing = await self.presenter.drawing(rnd.flow_id, rnd.flow_version)

        def change(connection: sqlite3.Connection) -> bool:
            state = _state(connection, rnd.id)
            closed = consent_rounds.close(
                connection, rnd.id, outcome=state.tally.outcome(), reason=reason, at=now, closed_by=closed_by
            )
            return closed and queue_outcome(connection, drawing, rnd.id, now)

        closed = await self.database.write(change, update_id)
        if closed:
            await ports.acknowledge(acknowledge)
            self._published(rnd.id)
        return closed

    async def publish(self, rnd: Round) -> None:
        """Queue, once, the outcome of a closed round for the group and the summary for each
        coordinator; show the final tally."""
        drawing = await self.presenter.drawing(rnd.flow_id, rnd.flow_version)
        await self.database.write(partial(queue_outcome, drawing=drawing, round_id=rnd.id, at=self.clock()))
        self._published(rnd.id)

    def _published(self, round_id: int) -> None:
        for kind in ("deadline", "reminder"):
            self.scheduler.cancel(job_name(kind, round_id))
        # The final tally waits out the edit interval like any redraw: the press that closes a
        # burst must not edit the proposal twice within it (a redraw already waiting shows it).
        self.redraw_soon(round_id)
        self.kick_outbox()

    async def end_request(
        self,
        request: PartnershipRequest,
        status: RequestStatus,
        reason: str | None,
        *,
        update_id: int | None = None,
        by: int | None = None,
        acknowledge: Acknowledge | None = None,
    ) -> bool:
        """Withdraw or decline a request; a round open on a withdrawn one closes without a decision,
        its outcome queued in the same write. ``acknowledge`` once that is stored (or found
        impossible), before anything is sent."""
        allowed = WITHDRAWABLE if status is RequestStatus.WITHDRAWN else UNDECIDED
        now = self.clock()
        drawing = await self.presenter.drawing(request.flow_id, request.flow_version)

        def change(connection: sqlite3.Connection) -> tuple[bool, int | None]:
            round_id = consent_rounds.latest_round_id(connection, request.id, open_only=True)
            if round_id is not None:
                consent_rounds.close(
                    connection,
                    round_id,
                    outcome=Outcome.NO_DECISION,
                    reason=CloseReason.WITHDRAWN,
                    at=now,
                    closed_by=by,
                )
            ended = requests.end_undecided(connection, request.id, status, reason, allowed)
            published = round_id is not None and ended and queue_outcome(connection, drawing, round_id, now)
            return ended, round_id if published else None

        ended, published = await self.database.write(change, update_id)
        await ports.acknowledge(acknowledge)
        if published is not None:
            self._published(published)
        return ended

    # --- time ----------------------------------------------------------------------------------

    def schedule(self, rnd: Round) -> None:
        """(Re)schedule a round's deadline and, unless sent, its reminder."""
        now = self.clock()
        for kind in ("deadline", "reminder"):
            self.scheduler.cancel(job_name(kind, rnd.id))

        async def deadline() -> None:
            await self.close(rnd, CloseReason.DEADLINE)

        self.scheduler.run_at(job_name("deadline", rnd.id), max(rnd.deadline_at, now), deadline)
        reminder = consent_rules.reminder_time(rnd.opened_at, rnd.deadline_at, self.reminder_hours)
        if reminder is not None and rnd.reminded_at is None:

            async def remind() -> None:
                await self.remind(rnd.id, before_deadline=True)

            self.scheduler.run_at(job_name("reminder", rnd.id), max(reminder, now), remind)

    async def remind(self, round_id: int, *, before_deadline: bool = False, update_id: int | None = None) -> bool:
        """Queue a mention of the counted members who have not answered; False when everyone
        has (or, ``before_deadline``, when that reminder was queued already)."""
        now = self.clock()

        def change(connection: sqlite3.Connection) -> bool:
            state = _state(connection, round_id)
            rnd = state.round
            if not state.tally.waiting or not rnd.is_open:
                return False
            if before_deadline and not consent_rounds.mark_reminded(connection, round_id, now):
                return False
            text = self.presenter.reminder(state)
            outbox.enqueue(connection, rnd.chat_id, [text], reply_to=rnd.message_id, thread_id=rnd.thread_id)
            return True

        reminded = await self.database.write(change, update_id)
        if reminded:
            self.kick_outbox()
        return reminded

    async def extend(self, rnd: Round, days: int, *, update_id: int | None = None) -> datetime | None:
        """Push an open round's deadline back; the new deadline, or None if nothing changed."""
        deadline = consent_rules.deadline_after(rnd.deadline_at, days)
        reminder = consent_rules.reminder_time(rnd.opened_at, deadline, self.reminder_hours)
        keep_reminder = reminder is None or reminder <= self.clock()

        def change(connection: sqlite3.Connection) -> Round | None:
            if not consent_rounds.extend(connection, rnd.id, deadline, keep_reminder=keep_reminder):
                return None
            return _state(connection, rnd.id).round

        return self._moved(await self.database.write(change, update_id), deadline)

    async def reopen(self, rnd: Round, days: int, *, update_id: int | None = None) -> datetime | None:
        """Give silent members more time: reopen a round its deadline closed without a decision."""
        deadline = consent_rules.deadline_after(self.clock(), days)

        def change(connection: sqlite3.Connection) -> Round | None:
            if not consent_rounds.reopen(connection, rnd.id, deadline):
                return None
            return _state(connection, rnd.id).round

        return self._moved(await self.database.write(change, update_id), deadline)

    def _moved(self, rnd: Round | None, deadline: datetime) -> datetime | None:
        """Reschedule and redraw a round whose deadline moved; the deadline, or None if it did not."""
        if rnd is None:
            return None
        self.schedule(rnd)
        self.redraw_soon(rnd.id)
        return deadline

    # --- redraws ---------------------------------------------------------------------------------

    async def redraw(self, round_id: int) -> None:
        """Edit the proposal to the stored state; one redraw at a time per round."""
        redraws = self.redraws
        redraws.unread.add(round_id)
        try:
            async with redraws.locks[round_id]:
                redraws.last[round_id] = self.monotonic()
                async with redraws.reading:
                    redraws.unread.discard(round_id)
                    drawn = await self.database.read(partial(_drawn, round_id=round_id))
                if drawn is None:
                    return
                state, request = drawn
                rnd = state.round
                if rnd.message_id is None:  # the proposal is not delivered yet
                    return
                drawing = await self.presenter.drawing(rnd.flow_id, rnd.flow_version)
                text, markup = drawing.proposal(state, request)
                shown = (rnd.message_id, text, markup)
                if redraws.shown.get(round_id) == shown:
                    return
                await self.sender.edit(_group(rnd), rnd.message_id, text, markup=markup)
                if rnd.is_open:
                    redraws.shown[round_id] = shown
                else:  # its final tally: nothing redraws it any more
                    redraws.shown.pop(round_id, None)
        finally:
            redraws.unread.discard(round_id)

    def redraw_soon(self, round_id: int) -> None:
        """Ask for a redraw: now if the last one is old enough, else once the interval has passed.

        A redraw already waiting, or started and not yet reading, reads the database after this
        change, so it shows it too.
        """
        name = job_name("tally", round_id)
        if round_id in self.redraws.unread or self.scheduler.scheduled(name):
            return
        last = self.redraws.last.get(round_id)
        delay = 0.0 if last is None else max(0.0, last + self.edit_interval - self.monotonic())
        self.scheduler.run_at(name, delay, partial(self.redraw, round_id))

    # --- after a restart -------------------------------------------------------------------------

    async def reschedule(self) -> None:
        """Rebuild every open round's deadline and reminder jobs from the database."""
        for rnd in await self.database.read(consent_rounds.open_rounds):
            self.schedule(rnd)

    async def recover(self) -> None:
        """Finish what a stop interrupted: announce closed rounds, post missing proposals, redraw."""
        for rnd in await self.database.read(consent_rounds.unpublished):
            await self.publish(rnd)
        for rnd in await self.database.read(consent_rounds.open_rounds):
            if rnd.message_id is None:
                await self.post_proposal(rnd)
            else:
                self.redraw_soon(rnd.id)

    async def repost(self, chat_ids: Sequence[int]) -> None:
        """Post again the proposals of these chats' open rounds (a group became a supergroup)."""
        for chat_id in chat_ids:
            for rnd in await self.database.read(partial(consent_rounds.open_rounds, chat_id=chat_id)):
                await self.post_proposal(rnd)
