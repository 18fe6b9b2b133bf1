"""The round lifecycle (bot.rounds) with a fake sender and scheduler: publish once, remind once,
coalesced redraws, recovery after a restart, and the rules that decide when a round opens."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import ApplicationBuilder, ContextTypes

from bot.core.consent_rules import CloseReason, Member, Outcome, Position, RoundOptions
from bot.core.statuses import RequestStatus
from bot.core.texts import Html
from bot.handlers.round_ports import ApplicationScheduler, Waiting
from bot.rounds.lifecycle import (
    OBJECTORS_FIRST,
    PROPOSAL,
    Opening,
    Redraws,
    Refusal,
    Rounds,
    job_name,
)
from bot.rounds.ports import Destination, Job, Markup, Opened
from bot.services import BotContext
from bot.storage import circles, consent_rounds, flow_versions, outbox, requests
from bot.storage.circles import Roster
from bot.storage.db import Database
from bot.storage.outbox import Delivery
from tests.unit.in_process import InProcessTelegram, ok

GROUP = -1001000000001
ZONE = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
AUTHOR, BEA, CAL = Member(1, "Eve"), Member(2, "Bea"), Member(3, "Cal")
COCO = Member(9, "Coco")


@dataclass
class FakeSender:
    edits: list[tuple[Destination, int, str]] = field(default_factory=list)

    async def edit(self, to: Destination, message_id: int, text: Html, *, markup: object | None = None) -> None:
        self.edits.append((to, message_id, text))


@dataclass
class FakeScheduler:
    jobs: dict[str, tuple[datetime | float, Job]] = field(default_factory=dict)

    def run_at(self, name: str, when: datetime | float, job: Job) -> None:
        self.jobs[name] = (when, job)

    def cancel(self, name: str) -> None:
        self.jobs.pop(name, None)

    def scheduled(self, name: str) -> bool:
        return name in self.jobs

    async def run(self, name: str) -> None:
        _, job = self.jobs.pop(name)
        await job()


class FakeDrawing:
    def proposal(
        self, state: consent_rounds.RoundState, request: requests.PartnershipRequest
    ) -> tuple[Html, Markup | None]:
        answered = ", ".join(
            f"{m.name}:{s.position}"
            for m, s in ((m, state.tally.current[m.user_id]) for m in state.roster if m.user_id in state.tally.current)
        )
        return Html(f"proposal [{answered}] open={state.round.is_open}"), None

    def closing(
        self, state: consent_rounds.RoundState, request: requests.PartnershipRequest, group: str
    ) -> tuple[list[str], list[str]]:
        return [f"outcome {state.round.outcome}"], [f"summary {state.round.outcome}"]

    def objectors_first(self, opened: Opened, request: requests.PartnershipRequest) -> Html | None:
        return Html("objectors first: " + ", ".join(n for n, _ in opened.objections)) if opened.objections else None


class FakePresenter:
    async def drawing(self, flow_id: str, flow_version: int) -> FakeDrawing:
        return FakeDrawing()

    def reminder(self, state: consent_rounds.RoundState) -> Html:
        return Html("reminder " + ", ".join(m.name for m in state.tally.waiting))


@dataclass
class Clock:
    now: datetime = T0
    tick: float = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.tick


@dataclass
class Scene:
    database: Database
    sender: FakeSender
    scheduler: FakeScheduler
    clock: Clock
    rounds: Rounds
    request: requests.PartnershipRequest


@pytest.fixture
async def scene(database: Database) -> Scene:
    await database.write(
        lambda connection: flow_versions.sync_disk_version(
            connection, "demande_partenariat", "id: demande_partenariat\n"
        )
    )

    def seed(connection: sqlite3.Connection) -> requests.PartnershipRequest:
        request = requests.create(
            connection,
            chat_id=GROUP,
            author_id=AUTHOR.user_id,
            author_name=AUTHOR.name,
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name="Alternatiba",
            partner_kind="association",
            answers={"partenaire": "Alternatiba"},
        )
        for member in (AUTHOR, BEA, CAL):
            circles.add(connection, Roster.CIRCLE, GROUP, member)
        circles.add(connection, Roster.COORDINATION, GROUP, COCO)
        return request

    request = await database.write(seed)
    sender, scheduler, clock = FakeSender(), FakeScheduler(), Clock()
    rounds = Rounds(
        database=database,
        sender=sender,
        scheduler=scheduler,
        presenter=FakePresenter(),
        redraws=Redraws(),
        edit_interval=2.0,
        reminder_hours=24,
        zone=ZONE,
        kick_outbox=lambda: None,
        send_outbox=lambda chat_id: None,
        clock=clock,
        monotonic=clock.monotonic,
    )
    return Scene(database, sender, scheduler, clock, rounds, request)


async def opened(
    scene: Scene, *, author_recused: bool = False, answer_by: date | None = None, thread_id: int | None = None
) -> int:
    request = await stored_request(scene, scene.request.number)
    opening = Opening(
        request, BEA, RoundOptions(), author_recused=author_recused, answer_by=answer_by, thread_id=thread_id
    )
    result = await scene.rounds.open(opening)
    assert isinstance(result, Opened), result
    await deliver_proposals(scene)
    return result.round_id


async def deliver_proposals(scene: Scene) -> None:
    """What the outbox does once Telegram confirmed each queued proposal (message 100 + its row)."""
    for delivery in await scene.database.read(outbox.pending):
        if delivery.kind == PROPOSAL:
            await scene.database.write(partial(_delivered, delivery=delivery))


def _delivered(connection: sqlite3.Connection, delivery: Delivery) -> None:
    outbox.delivered(connection, delivery.id)
    Rounds.proposal_sent(connection, replace(delivery, message_id=100 + delivery.id))


async def stored_request(scene: Scene, number: int) -> requests.PartnershipRequest:
    """The group's request ``number`` as it is stored now."""
    request = await scene.database.read(partial(requests.by_number, chat_id=GROUP, number=number))
    assert request is not None, number
    return request


async def stored(scene: Scene, round_id: int) -> consent_rounds.RoundState:
    state = await scene.database.read(partial(consent_rounds.state, round_id=round_id))
    assert state is not None
    return state


async def sent(scene: Scene) -> list[tuple[Destination, str, int | None]]:
    """The proposals and asks to the objectors queued, in order: where, what, in reply to."""
    found = await scene.database.fetch_all(
        "SELECT chat_id, thread_id, texts, reply_to_message_id FROM outbox WHERE kind IN (?, ?) ORDER BY id",
        (PROPOSAL, OBJECTORS_FIRST),
    )
    return [
        (Destination(row["chat_id"], row["thread_id"]), json.loads(row["texts"])[0], row["reply_to_message_id"])
        for row in found
    ]


async def queued_messages(scene: Scene) -> list[tuple[int, str]]:
    """The other messages queued: outcomes, summaries, reminders."""
    found = await scene.database.fetch_all("SELECT chat_id, texts FROM outbox WHERE kind != ? ORDER BY id", (PROPOSAL,))
    return [(row["chat_id"], row["texts"]) for row in found]


async def test_opening_posts_the_proposal_and_schedules_deadline_and_reminder(scene: Scene) -> None:
    round_id = await opened(scene)
    [(to, text, _)] = await sent(scene)
    assert to == Destination(GROUP) and to.message_thread_id is None and "open=True" in text
    deadline, _ = scene.scheduler.jobs[job_name("deadline", round_id)]
    assert deadline == T0 + timedelta(days=7)
    assert scene.scheduler.jobs[job_name("reminder", round_id)][0] == T0 + timedelta(days=6)
    assert (await stored(scene, round_id)).round.message_id == 101


async def test_the_position_that_closes_a_round_is_committed_alone_and_a_job_publishes_it(scene: Scene) -> None:
    round_id = await opened(scene)
    for member in (AUTHOR, BEA, CAL):
        await scene.rounds.take_position(round_id, member.user_id, Position.CONSENT)
    assert (await stored(scene, round_id)).round.outcome is Outcome.ADOPTED
    assert await queued_messages(scene) == []  # the press is answered before the outcome is queued
    await scene.scheduler.run(job_name("publish", round_id))
    assert await queued_messages(scene) == [(GROUP, '["outcome adopted"]'), (COCO.user_id, '["summary adopted"]')]
    assert not scene.scheduler.scheduled(job_name("deadline", round_id))


async def test_the_outcome_is_published_once(scene: Scene) -> None:
    round_id = await opened(scene)
    for member in (AUTHOR, BEA, CAL):
        await scene.rounds.take_position(round_id, member.user_id, Position.CONSENT)
    closed = (await stored(scene, round_id)).round
    assert closed.outcome is Outcome.ADOPTED
    await scene.rounds.publish(closed)
    assert not await scene.rounds.close(closed, CloseReason.EARLY)
    assert await queued_messages(scene) == [(GROUP, '["outcome adopted"]'), (COCO.user_id, '["summary adopted"]')]
    assert not scene.scheduler.scheduled(job_name("deadline", round_id))


async def test_the_reminder_before_the_deadline_goes_once(scene: Scene) -> None:
    round_id = await opened(scene)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
    await scene.scheduler.run(job_name("reminder", round_id))
    assert not await scene.rounds.remind(round_id, before_deadline=True)
    assert await queued_messages(scene) == [(GROUP, '["reminder Cal, Eve"]')]
    assert await scene.rounds.remind(round_id)  # /relancer may always ask again


async def test_redraws_are_coalesced_and_end_on_the_last_state(scene: Scene) -> None:
    round_id = await opened(scene)
    scene.clock.tick = 0.5  # within the edit interval of the proposal just posted
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
    await scene.rounds.take_position(round_id, CAL.user_id, Position.STAND_ASIDE)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.STAND_ASIDE)
    delay, _ = scene.scheduler.jobs[job_name("tally", round_id)]
    assert delay == pytest.approx(1.5)
    await scene.scheduler.run(job_name("tally", round_id))
    [(_, message_id, text)] = scene.sender.edits
    assert message_id == 101 and "Bea:stand_aside, Cal:stand_aside" in text


async def test_a_redraw_that_has_not_read_yet_shows_the_changes_asked_meanwhile(scene: Scene) -> None:
    round_id = await opened(scene)
    scene.clock.tick = 5.0  # past the edit interval: a redraw is due at once
    async with scene.rounds.redraws.reading:  # another round's redraw is reading
        started = asyncio.ensure_future(scene.rounds.redraw(round_id))
        await asyncio.sleep(0)
        await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
        assert not scene.scheduler.scheduled(job_name("tally", round_id))
    await started
    [(_, _, text)] = scene.sender.edits
    assert "Bea:consent" in text
    await scene.rounds.take_position(round_id, CAL.user_id, Position.CONSENT)
    assert scene.scheduler.scheduled(job_name("tally", round_id))  # that redraw has read: a new one


async def test_a_redraw_that_would_show_the_same_proposal_sends_nothing(scene: Scene) -> None:
    round_id = await opened(scene)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
    await scene.rounds.redraw(round_id)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)  # the same again
    await scene.rounds.redraw(round_id)
    assert len(scene.sender.edits) == 1
    await scene.rounds.take_position(round_id, BEA.user_id, Position.STAND_ASIDE)
    await scene.rounds.redraw(round_id)
    assert [text for _, _, text in scene.sender.edits][1:] == ["proposal [Bea:stand_aside] open=True"]


async def test_redraws_due_at_once_read_one_after_the_other(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst of redraws asks for one read at a time: an update's read, asked meanwhile, waits
    on the database's thread behind one of them at most, not behind all."""
    round_id = await opened(scene)
    asked, most = 0, 0
    read = scene.database.read

    async def counted(query: Callable[[sqlite3.Connection], object]) -> object:
        nonlocal asked, most
        asked += 1
        most = max(most, asked)
        try:
            return await read(query)
        finally:
            asked -= 1

    monkeypatch.setattr(scene.database, "read", counted)
    await asyncio.gather(*(scene.rounds.redraw(redrawn) for redrawn in (round_id, round_id + 1, round_id + 2)))
    assert most == 1
    assert len(scene.sender.edits) == 1  # the round that exists; the others' reads found nothing


async def test_silence_at_the_deadline_decides_nothing(scene: Scene) -> None:
    round_id = await opened(scene)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
    await scene.rounds.take_position(round_id, CAL.user_id, Position.CONSENT)
    await scene.scheduler.run(job_name("deadline", round_id))
    state = await stored(scene, round_id)
    assert (state.round.outcome, state.round.close_reason) == (Outcome.NO_DECISION, CloseReason.DEADLINE)
    assert await scene.rounds.reopen(state.round, 3) == T0 + timedelta(days=3)
    assert (await stored(scene, round_id)).round.is_open
    await scene.rounds.take_position(round_id, AUTHOR.user_id, Position.CONSENT)
    assert (await stored(scene, round_id)).round.outcome is Outcome.ADOPTED


async def test_a_restart_posts_a_missing_proposal_and_publishes_a_closed_round(scene: Scene) -> None:
    lost = await scene.database.write(  # stored, then the bot stopped
        partial(
            consent_rounds.open_round,
            request_id=scene.request.id,
            chat_id=GROUP,
            opener=BEA,
            opened_at=T0,
            deadline_at=T0 + timedelta(days=7),
            options=RoundOptions(),
            roster=(AUTHOR, BEA, CAL),
        )
    )
    await scene.rounds.recover()
    await scene.rounds.recover()  # stopped again before Telegram confirmed it: queued once
    assert [text for _, text, _ in await sent(scene)] == ["proposal [] open=True"]
    assert scene.scheduler.scheduled(job_name("deadline", lost))
    await deliver_proposals(scene)
    assert (await stored(scene, lost)).round.message_id is not None

    await scene.database.write(
        partial(consent_rounds.close, round_id=lost, outcome=Outcome.NO_DECISION, reason=CloseReason.EARLY, at=T0)
    )
    await scene.rounds.recover()
    await scene.rounds.recover()
    assert await queued_messages(scene) == [
        (GROUP, '["outcome no_decision"]'),
        (COCO.user_id, '["summary no_decision"]'),
    ]


async def test_a_new_round_after_an_objection_needs_something_new(scene: Scene) -> None:
    round_id = await opened(scene)
    await scene.rounds.take_position(round_id, CAL.user_id, Position.OBJECTION, "Personne pour le stand")
    await scene.rounds.close((await stored(scene, round_id)).round, CloseReason.EARLY)
    request = await stored_request(scene, 1)
    assert await scene.rounds.open(Opening(request, BEA, RoundOptions())) is Refusal.UNCHANGED
    assert await scene.rounds.open(Opening(request, BEA, RoundOptions(), "Je veux")) is Refusal.REASON_ADMINS_ONLY
    second = await scene.rounds.open(Opening(request, BEA, RoundOptions(), "Dan tiendra le stand", by_admin=True))
    assert isinstance(second, Opened) and second.state.round.reopen_reason == "Dan tiendra le stand"
    assert second.state.roster[0] == CAL  # the objector is asked first
    await deliver_proposals(scene)
    _, ask, reply_to = (await sent(scene))[-1]
    assert ask == "objectors first: Cal"
    assert reply_to == (await stored(scene, second.round_id)).round.message_id is not None


async def test_the_author_is_recused_only_by_their_own_declaration(scene: Scene) -> None:
    round_id = await opened(scene, author_recused=True)
    tally = (await stored(scene, round_id)).tally
    assert tally.position_of(AUTHOR.user_id) is Position.CONFLICT
    assert [m.name for m in tally.waiting] == ["Bea", "Cal"]


async def test_the_first_deadline_respects_the_date_the_partner_needs_an_answer(scene: Scene) -> None:
    round_id = await opened(scene, answer_by=date(2026, 6, 4))
    deadline = (await stored(scene, round_id)).round.deadline_at
    assert deadline == datetime(2026, 6, 4, 0, 0, tzinfo=ZONE)


async def test_withdrawing_closes_the_open_round_without_a_decision(scene: Scene) -> None:
    round_id = await opened(scene)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.CONSENT)
    request = await stored_request(scene, 1)
    assert await scene.rounds.end_request(request, RequestStatus.WITHDRAWN, "Le partenaire a renoncé")
    state = await stored(scene, round_id)
    assert (state.round.outcome, state.round.close_reason) == (Outcome.NO_DECISION, CloseReason.WITHDRAWN)
    after = await stored_request(scene, 1)
    assert (after.status, after.status_reason) == ("withdrawn", "Le partenaire a renoncé")
    assert not await scene.rounds.end_request(after, RequestStatus.DECLINED, "Trop tard")


async def test_declining_needs_no_round_and_refuses_while_one_is_open(scene: Scene) -> None:
    assert await scene.rounds.end_request(scene.request, RequestStatus.DECLINED, "Pas notre terrain")
    declined = await stored_request(scene, 1)
    assert declined.status == "declined"
    request = await stored_request(scene, 1)
    assert await scene.rounds.open(Opening(request, BEA, RoundOptions())) is Refusal.NOT_OPENABLE


TOPIC = 77


async def test_every_message_of_a_round_goes_to_its_topic(scene: Scene) -> None:
    """Issue 11 on the rounds layer: the proposal, redraws, reminder, outcome and the objectors'
    lines of the next round are all sent to the forum topic the round was opened for."""
    round_id = await opened(scene, thread_id=TOPIC)
    await scene.rounds.remind(round_id)
    await scene.rounds.take_position(round_id, BEA.user_id, Position.OBJECTION, "Personne pour le stand")
    await scene.scheduler.run(job_name("tally", round_id))
    await scene.rounds.close((await stored(scene, round_id)).round, CloseReason.EARLY)
    await scene.database.write(  # amended: a new round may open
        lambda connection: connection.execute(
            "UPDATE requests SET version = version + 1 WHERE id = ?", (scene.request.id,)
        )
    )
    await opened(scene, thread_id=TOPIC)
    assert [text for _, text, _ in await sent(scene)][-1] == "objectors first: Bea"
    assert {to for to, _, _ in await sent(scene)} | {to for to, _, _ in scene.sender.edits} == {
        Destination(GROUP, TOPIC)
    }
    found = await scene.database.fetch_all("SELECT chat_id, thread_id FROM outbox")
    assert {tuple(row) for row in found} == {(GROUP, TOPIC), (COCO.user_id, None)}


async def test_a_press_is_acknowledged_once_stored_and_before_anything_is_sent(scene: Scene) -> None:
    """Issue 15 on the rounds layer: an open, a close or a withdrawal answers its press after
    the commit, which queued what it decided (issue 16), and before the outbox is asked to
    send it; a refused one leaves the answer to the caller."""
    seen: list[tuple[int, int]] = []  # (messages queued, sends asked for) at each acknowledgement
    kicks: list[int | None] = []  # the chat of each send asked for, None for every chat
    scene.rounds.kick_outbox = lambda: kicks.append(None)
    scene.rounds.send_outbox = kicks.append

    async def acknowledge() -> None:
        seen.append((len(await scene.database.fetch_all("SELECT id FROM outbox")), len(kicks)))

    request = await stored_request(scene, scene.request.number)
    opened_round = await scene.rounds.open(Opening(request, BEA, RoundOptions()), acknowledge=acknowledge)
    assert isinstance(opened_round, Opened)
    assert seen == [(1, 0)] and len(await sent(scene)) == 1  # the proposal, queued as the round opened
    assert kicks == [GROUP]  # sent to its group alone
    assert await scene.rounds.open(Opening(request, BEA, RoundOptions()), acknowledge=acknowledge) is (
        Refusal.ALREADY_OPEN
    )
    rnd = opened_round.state.round
    assert await scene.rounds.close(rnd, CloseReason.EARLY, acknowledge=acknowledge)
    assert not await scene.rounds.close(rnd, CloseReason.EARLY, acknowledge=acknowledge)
    assert seen == [(1, 0), (3, 1)]  # then the outcome and the summary, queued as it closed
    await scene.rounds.end_request(request, RequestStatus.WITHDRAWN, None, acknowledge=acknowledge)
    assert seen == [(1, 0), (3, 1), (3, 2)]


class OnlyGetMe(InProcessTelegram):
    """Telegram answering in process the one call an application makes as it starts."""

    def answer(self, endpoint: str, parameters: dict[str, Any]) -> tuple[int, bytes]:
        assert endpoint == "getMe", endpoint
        return ok({"id": 123, "is_bot": True, "first_name": "Bot", "username": "bot"})


async def test_the_scheduler_runs_moments_and_short_delays_and_knows_what_waits() -> None:
    """The rounds' scheduler as the bot runs it: a moment on python-telegram-bot's job queue,
    seconds from now on the event loop; the names it keeps say what still waits, a job's error
    reaches the error handler, and what waits when the bot stops is dropped."""
    application = (
        ApplicationBuilder()
        .token("123:TEST")
        .request(OnlyGetMe())
        .updater(None)
        .context_types(ContextTypes(context=BotContext))
        .build()
    )
    errors: list[BaseException | None] = []

    async def record(update: object, context: BotContext) -> None:
        errors.append(context.error)

    application.add_error_handler(record)
    job_queue = application.job_queue
    assert job_queue is not None
    waiting = Waiting()
    ran: list[str] = []

    def job(name: str) -> Job:
        async def run() -> None:
            ran.append(name)
            if name == "failing":
                raise RuntimeError(name)

        return run

    async with application:
        await application.start()
        scheduler = ApplicationScheduler(job_queue, waiting)
        scheduler.run_at("soon", 0.01, job("soon"))
        scheduler.run_at("moment", datetime.now(UTC) + timedelta(milliseconds=10), job("moment"))
        scheduler.run_at("failing", 0, job("failing"))
        scheduler.run_at("later", 60, job("later"))
        scheduler.run_at("much later", datetime.now(UTC) + timedelta(hours=1), job("much later"))
        assert all(scheduler.scheduled(name) for name in ("soon", "moment", "failing", "later", "much later"))
        for _ in range(500):
            if len(ran) == 3 and errors:
                break
            await asyncio.sleep(0.01)
        assert sorted(ran) == ["failing", "moment", "soon"]
        assert [str(error) for error in errors] == ["failing"]
        assert not any(scheduler.scheduled(name) for name in ("soon", "moment", "failing"))
        scheduler.cancel("later")
        scheduler.cancel("much later")
        assert not scheduler.scheduled("later") and not scheduler.scheduled("much later")
        assert not job_queue.jobs() and not waiting.timers
        scheduler.run_at("at the stop", 0.05, job("at the stop"))
        await application.stop()
        await asyncio.sleep(0.1)
    assert "at the stop" not in ran  # dropped: Rounds.recover redoes it at the next start
