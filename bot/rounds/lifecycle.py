"""A consent round from opening to its published outcome, and back after a restart.

Every state change is one transaction of ``bot.storage.consent_rounds`` (the reads that decide run in
the same one); messages and jobs follow the stored state, never the other way round, so a
redelivered update, a job that ran late or a restart in between cannot publish twice, remind
twice or lose a proposal. Redrawing a proposal is coalesced: at most one edit every
``edit_interval`` seconds per round, always ending on the state stored last.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from functools import partial

import aiosqlite

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
    Opened,
    Presenter,
    Scheduler,
    Sender,
)
from bot.storage import amendments, circles, consent_rounds, outbox, requests
from bot.storage.circles import Roster
from bot.storage.db import Database, within
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


@dataclass
class Redraws:
    """When each round's proposal was last drawn, and one lock per round: shared by every
    update and job of the running bot."""

    last: dict[int, float] = field(default_factory=dict)
    locks: defaultdict[int, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))


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


def job_name(kind: str, round_id: int) -> str:
    return f"consent-{kind}-{round_id}"


def _group(rnd: consent_rounds.Round) -> Destination:
    """The round's group, in the topic of its proposal: every message of the round goes there."""
    return Destination(rnd.chat_id, rnd.thread_id)


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
        clock: Callable[[], datetime] = _now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database, self.sender, self.scheduler, self.presenter = database, sender, scheduler, presenter
        self.redraws, self.edit_interval, self.reminder_hours, self.zone = redraws, edit_interval, reminder_hours, zone
        self.kick_outbox, self.clock, self.monotonic = kick_outbox, clock, monotonic

    # --- opening ---------------------------------------------------------------------------

    async def open(
        self, opening: Opening, *, update_id: int | None = None, acknowledge: Acknowledge | None = None
    ) -> Opened | Refusal:
        """Open a round on the request's current version and post its proposal; ``acknowledge``
        once it is stored (not on a refusal).

        After an objection, only on something new: an amended version, or an admin's reason.
        """
        request = opening.request
        if request.status not in UNDECIDED:
            return Refusal.NOT_OPENABLE
        opened_at = self.clock()
        async with self.database.transaction(update_id) as connection:
            if await consent_rounds.latest_round_id(connection, request.id, open_only=True) is not None:
                return Refusal.ALREADY_OPEN
            roster = await circles.listed(connection, Roster.CIRCLE, request.chat_id)
            if not roster:
                return Refusal.CIRCLE_EMPTY
            previous_id = await consent_rounds.latest_round_id(connection, request.id)
            previous = await consent_rounds.load_state(connection, previous_id) if previous_id else None
            objected = previous is not None and previous.round.outcome is Outcome.OBJECTION
            objectors = previous.tally.members_with(Position.OBJECTION) if objected else ()
            version = await consent_rounds.request_version(connection, request.id)
            objected_version = previous.round.request_version if objected else None
            refusal = consent_rules.new_round_refusal(
                objected_version=objected_version,
                current_version=version,
                reason=opening.reason,
                by_admin=opening.by_admin,
            )
            if refusal is not None:
                return Refusal(refusal.value)
            before = (
                await amendments.answers_at(connection, request.id, objected_version)
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
            round_id = await consent_rounds.open_round(
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
        await ports.acknowledge(acknowledge)
        opened = Opened(
            round_id,
            await consent_rounds.state(self.database, round_id),
            tuple((m.name, s.reason or "") for m, s in objectors),
            tuple(m.user_id for m, _ in objectors),
            before,
            opening.reason,
        )
        await self.post_proposal(round_id, then=await self.presenter.objectors_first(opened))
        return opened

    async def post_proposal(self, round_id: int, *, then: Html | None = None) -> None:
        """Queue a round's proposal, and ``then`` as a reply to it; schedule its deadline. The
        proposal's delivery records its message (``proposal_sent``); until then nothing edits it."""
        state = await consent_rounds.state(self.database, round_id)
        rnd = state.round
        text, markup = await self.presenter.proposal(state)
        async with self.database.transaction() as connection:
            # Once per chat: a restart before its delivery does not queue it again.
            key = f"{PROPOSAL}:{round_id}:{rnd.chat_id}"
            if (
                await within(
                    connection,
                    partial(
                        outbox.enqueue,
                        chat_id=rnd.chat_id,
                        texts=[text],
                        kind=PROPOSAL,
                        ref=round_id,
                        markup=markup,
                        key=key,
                        thread_id=rnd.thread_id,
                    ),
                )
                and then is not None
            ):
                await within(
                    connection,
                    partial(
                        outbox.enqueue,
                        chat_id=rnd.chat_id,
                        texts=[then],
                        kind=OBJECTORS_FIRST,
                        ref=round_id,
                        thread_id=rnd.thread_id,
                    ),
                )
        self.redraws.last[round_id] = self.monotonic()
        self.schedule(rnd)
        self.kick_outbox()

    @staticmethod
    async def proposal_sent(connection: aiosqlite.Connection, delivery: Delivery) -> None:
        """Record where the proposal is (its buttons and redraws need it), and have the messages
        queued to answer it reply to it."""
        await consent_rounds.set_message(connection, delivery.ref, delivery.message_id)
        await within(
            connection,
            partial(outbox.reply_to_sent, kind=OBJECTORS_FIRST, ref=delivery.ref, message_id=delivery.message_id),
        )

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
    ) -> bool | None:
        """Record a position (consuming its reason prompt, ``(chat id, message id)``); close the
        round once everyone answered. True when recorded, False when it changed nothing (a
        double press), None when the round is closed."""
        now = self.clock()
        async with self.database.transaction(update_id) as connection:
            if prompt is not None and not await consent_rounds.drop_prompt(connection, *prompt):
                return False
            state = await consent_rounds.load_state(connection, round_id)
            if not state.round.is_open:
                return None
            if not consent_rules.is_change(state.tally.current.get(user_id), position, reason):
                return False
            stance = Stance(user_id, position, reason, now)
            await consent_rounds.record(connection, round_id, stance)
            tally = consent_rules.Tally.of(
                state.roster, (*state.history, stance), state.round.quorum_percent, state.round.author_id
            )
            closed = tally.everyone_answered and await consent_rounds.close(
                connection, round_id, outcome=tally.outcome(), reason=CloseReason.ALL_ANSWERED, at=now
            )
        if closed:
            await self.publish(round_id)
        else:
            self.redraw_soon(round_id)
        return True

    # --- closing -----------------------------------------------------------------------------

    async def close(
        self,
        round_id: int,
        reason: CloseReason,
        *,
        update_id: int | None = None,
        closed_by: int | None = None,
        acknowledge: Acknowledge | None = None,
    ) -> bool:
        """Close an open round with the outcome of its positions now, ``acknowledge`` before
        publishing it; False if it was closed already."""
        now = self.clock()
        async with self.database.transaction(update_id) as connection:
            state = await consent_rounds.load_state(connection, round_id)
            closed = state is not None and await consent_rounds.close(
                connection, round_id, outcome=state.tally.outcome(), reason=reason, at=now, closed_by=closed_by
            )
        if closed:
            await ports.acknowledge(acknowledge)
            await self.publish(round_id)
        return closed

    async def publish(self, round_id: int) -> None:
        """Queue, once, the outcome for the group and the summary for each coordinator; show
        the final tally."""
        for kind in ("deadline", "reminder"):
            self.scheduler.cancel(job_name(kind, round_id))
        state = await consent_rounds.state(self.database, round_id)
        rnd = state.round
        outcome, summary = await self.presenter.closing(state)
        async with self.database.transaction() as connection:
            if await consent_rounds.mark_published(connection, round_id, self.clock()):
                await within(
                    connection,
                    partial(
                        outbox.enqueue,
                        chat_id=rnd.chat_id,
                        texts=outcome,
                        reply_to=rnd.message_id,
                        thread_id=rnd.thread_id,
                    ),
                )
                for coordinator in await circles.listed(connection, Roster.COORDINATION, rnd.chat_id):
                    await within(
                        connection,
                        partial(outbox.enqueue, chat_id=coordinator.user_id, texts=summary, kind=SUMMARY, ref=round_id),
                    )
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
        """Withdraw or decline a request; a round open on a withdrawn one closes without a decision.
        ``acknowledge`` once that is stored (or found impossible), before anything is sent."""
        allowed = WITHDRAWABLE if status is RequestStatus.WITHDRAWN else UNDECIDED
        async with self.database.transaction(update_id) as connection:
            round_id = await consent_rounds.latest_round_id(connection, request.id, open_only=True)
            if round_id is not None:
                await consent_rounds.close(
                    connection,
                    round_id,
                    outcome=Outcome.NO_DECISION,
                    reason=CloseReason.WITHDRAWN,
                    at=self.clock(),
                    closed_by=by,
                )
            ended = await requests.end_undecided(connection, request.id, status, reason, allowed)
        await ports.acknowledge(acknowledge)
        if round_id is not None and ended:
            await self.publish(round_id)
        return ended

    # --- time ----------------------------------------------------------------------------------

    def schedule(self, rnd: consent_rounds.Round) -> None:
        """(Re)schedule a round's deadline and, unless sent, its reminder."""
        now = self.clock()
        for kind in ("deadline", "reminder"):
            self.scheduler.cancel(job_name(kind, rnd.id))
        self.scheduler.run_at(
            job_name("deadline", rnd.id), max(rnd.deadline_at, now), lambda: self.close(rnd.id, CloseReason.DEADLINE)
        )
        reminder = consent_rules.reminder_time(rnd.opened_at, rnd.deadline_at, self.reminder_hours)
        if reminder is not None and rnd.reminded_at is None:
            self.scheduler.run_at(
                job_name("reminder", rnd.id), max(reminder, now), lambda: self.remind(rnd.id, before_deadline=True)
            )

    async def remind(self, round_id: int, *, before_deadline: bool = False, update_id: int | None = None) -> bool:
        """Queue a mention of the counted members who have not answered; False when everyone
        has (or, ``before_deadline``, when that reminder was queued already)."""
        state = await consent_rounds.state(self.database, round_id)
        if not state.tally.waiting or not state.round.is_open:
            return False
        text = self.presenter.reminder(state)
        async with self.database.transaction(update_id) as connection:
            if before_deadline and not await consent_rounds.mark_reminded(connection, round_id, self.clock()):
                return False
            await within(
                connection,
                partial(
                    outbox.enqueue,
                    chat_id=state.round.chat_id,
                    texts=[text],
                    reply_to=state.round.message_id,
                    thread_id=state.round.thread_id,
                ),
            )
        self.kick_outbox()
        return True

    async def extend(self, rnd: consent_rounds.Round, days: int, *, update_id: int | None = None) -> datetime | None:
        """Push an open round's deadline back; the new deadline, or None if nothing changed."""
        deadline = consent_rules.deadline_after(rnd.deadline_at, days)
        reminder = consent_rules.reminder_time(rnd.opened_at, deadline, self.reminder_hours)
        if not await consent_rounds.extend(
            self.database,
            rnd.id,
            deadline,
            update_id=update_id,
            keep_reminder=reminder is None or reminder <= self.clock(),
        ):
            return None
        self.schedule((await consent_rounds.state(self.database, rnd.id)).round)
        self.redraw_soon(rnd.id)
        return deadline

    async def reopen(self, rnd: consent_rounds.Round, days: int, *, update_id: int | None = None) -> datetime | None:
        """Give silent members more time: reopen a round its deadline closed without a decision."""
        deadline = consent_rules.deadline_after(self.clock(), days)
        if not await consent_rounds.reopen(self.database, rnd.id, deadline, update_id=update_id):
            return None
        self.schedule((await consent_rounds.state(self.database, rnd.id)).round)
        self.redraw_soon(rnd.id)
        return deadline

    # --- redraws ---------------------------------------------------------------------------------

    async def redraw(self, round_id: int) -> None:
        """Edit the proposal to the stored state; one redraw at a time per round."""
        async with self.redraws.locks[round_id]:
            self.redraws.last[round_id] = self.monotonic()
            state = await consent_rounds.state(self.database, round_id)
            if state is None or state.round.message_id is None:
                return
            text, markup = await self.presenter.proposal(state)
            await self.sender.edit(_group(state.round), state.round.message_id, text, markup=markup)

    def redraw_soon(self, round_id: int) -> None:
        """Ask for a redraw: now if the last one is old enough, else once the interval has passed.

        A redraw already waiting will read the database when it runs, so it shows this change too.
        """
        name = job_name("tally", round_id)
        if self.scheduler.scheduled(name):
            return
        last = self.redraws.last.get(round_id)
        delay = 0.0 if last is None else max(0.0, last + self.edit_interval - self.monotonic())
        self.scheduler.run_at(name, delay, lambda: self.redraw(round_id))

    # --- after a restart -------------------------------------------------------------------------

    async def reschedule(self) -> None:
        """Rebuild every open round's deadline and reminder jobs from the database."""
        for rnd in await consent_rounds.open_rounds(self.database):
            self.schedule(rnd)

    async def recover(self) -> None:
        """Finish what a stop interrupted: announce closed rounds, post missing proposals, redraw."""
        for rnd in await consent_rounds.unpublished(self.database):
            await self.publish(rnd.id)
        for rnd in await consent_rounds.open_rounds(self.database):
            if rnd.message_id is None:
                await self.post_proposal(rnd.id)
            else:
                self.redraw_soon(rnd.id)

    async def repost(self, chat_ids: Sequence[int]) -> None:
        """Post again the proposals of these chats' open rounds (a group became a supergroup)."""
        for chat_id in chat_ids:
            for rnd in await consent_rounds.open_rounds(self.database, chat_id):
                await self.post_proposal(rnd.id)
