"""Throughput and latency: many groups at once, against python-telegram-bot with one echo handler.

Each group has ten members, all in its core circle, its first member its admin and
coordinator, and three requests waiting for a decision. In every group, at once, members
fill requests (some in the group, replying to the bot, some in private through the deep
link), the circle takes positions on three consent rounds in turn (each closes when the
whole circle answered: the closing press publishes the outcome, which the outbox sends to the
group), and someone reads the lists, /partenaires with its picture, or asks for the calendar
(an .ics sent in private): rare commands, about one update in a hundred each. Every update goes through
``Application.process_update`` with the offline API; the very same updates then go through
the bare application. Only the time spent handling updates counts, in both runs: building
the next update (the members' side) is left out.

Then as deployed (``measure_deployed``): the groups at once, each group's updates in order,
through the application's update processor (at most ``concurrent_updates`` in flight), and
the same groups' updates replayed the same way through the bare echo and the floor.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import multiprocessing
import os
import random
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from telegram import Update

from bench.members import FlowMember, complete_answers
from bench.offline import JSON, OfflineTelegram, Sent
from bench.scene import (
    FLOW_ID,
    App,
    OnScreen,
    Updates,
    command_chat,
    group,
    is_picture,
    picture_posted,
    posted_since,
    private,
    recorded_before_start,
    running_bare,
    running_bot,
    running_floor,
    seed_group,
    settings,
    settled,
    user,
)
from bot.core.flow_engine import FlowEngine
from bot.core.library import Library
from bot.handlers import callback_data
from bot.rounds import lifecycle
from bot.storage.db import Database

MEMBERS_PER_GROUP = 10
ROUNDS_PER_GROUP = 3
FLOW_MEMBERS = 4  # members who file a request, half in the group and half in private
# Each group sends all but one of these, a different one left out in each group.
READS = ("/demandes", "/partenaires", "/bilan", "/demande 1", "/calendrier")
CLOSING_PRESS = "consent (closing press)"  # the press that closes a round and publishes its outcome
PICTURE, CALENDAR = "register picture", "calendar"
REVIEW_IN = timedelta(days=90)  # the seeded partnership's review date: after the run, in any calendar
# Seconds an update may take to show what it posts after its handler (a proposal through the
# outbox, a register's picture): the groups at once, the outbox sends the proposals of many
# rounds opened meanwhile, one after the other.
SETTLED = 60.0
OUTBOX_DRAINED = 30.0  # seconds to wait, after the run, for the outcomes still queued to be sent
# As deployed, the bot's run lasts about 30 s, the echo's 6 s: on a shared machine a few
# seconds' rate swings by half (2,185 to 3,909 updates/s, eight replays in a row, 8
# December), so the echo and the floor are replayed until they last about as long as the bot,
# their runs added up as the bot's updates are.
BARE_REPLAYS, FLOOR_REPLAYS = 5, 2
# Positions of the ten circle members on each round, in pressing order.
POSITIONS = (
    "consent",
    "consent",
    "stand_aside",
    "consent",
    "consent",
    "consent",
    "consent",
    "stand_aside",
    "consent",
    "consent",
)


@dataclass(frozen=True)
class Run:
    """Updates handled, the time spent handling them, and each one's handling time."""

    updates: int
    seconds: float
    latencies: list[float]
    mix: Counter[str]
    files: Counter[str] = field(default_factory=Counter)  # the files the bot sent: PICTURE, CALENDAR
    stored: dict[str, int] = field(default_factory=JSON)  # what the run left in the bot's database
    # Calls into aiosqlite's thread per kind of update (its label, see _label): (updates, calls).
    round_trips: dict[str, tuple[int, int]] = field(default_factory=JSON)
    labels: list[str] = field(default_factory=list)  # each update's label, in the order of latencies
    # Each /partenaires's seconds from its command to its picture on screen (sent after its page).
    picture_delays: list[float] = field(default_factory=list)

    def slowest(self, share: float) -> Counter[str]:
        """The labels of the slowest ``share`` of updates (what makes the tail latency)."""
        ranked = sorted(zip(self.latencies, self.labels, strict=True), reverse=True)
        return Counter(label for _, label in ranked[: max(1, int(share * len(ranked)))])

    def seconds_by_label(self) -> dict[str, float]:
        """The handling time of each label's updates, all of them."""
        spent: dict[str, float] = {}
        for latency, label in zip(self.latencies, self.labels, strict=True):
            spent[label] = spent.get(label, 0.0) + latency
        return spent

    def median_of(self, label: str) -> float | None:
        """The median handling time of the updates of one label (None: there were none)."""
        times = sorted(latency for latency, seen in zip(self.latencies, self.labels, strict=True) if seen == label)
        return times[len(times) // 2] if times else None

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Group:
    """One local group's members and what they do, as a stream of updates."""

    def __init__(
        self,
        index: int,
        engine: FlowEngine,
        updates: Updates,
        rng: random.Random,
        flow_answers: int,
        closing: set[int],
    ) -> None:
        self.index = index
        self.chat = group(-1_000_000_000_000 - index, f"GL bench {index}")
        self.members = [user(1_000_000 + index * 100 + n, f"Membre {index}-{n}") for n in range(MEMBERS_PER_GROUP)]
        self.admin = self.members[0]
        self.engine = engine
        self.updates = updates
        self.rng = rng
        self.flow_answers = flow_answers
        self.closing = closing  # update ids of the presses that close a round (every group's)

    def meet(self, telegram: OfflineTelegram) -> None:
        """Be known to the offline Telegram the bot runs on (its admin, its title), and read it."""
        self.telegram = telegram
        telegram.admins[self.chat["id"]] = [self.admin]
        telegram.titles[self.chat["id"]] = self.chat["title"]

    async def seed(self, database: Database, answers: JSON) -> None:
        """The circle, the coordinator, three requests waiting for a decision, and a partnership
        reviewed in three months: /calendrier always has a date to send, round open or not."""
        fields = self.engine.flow.partner_fields
        await seed_group(
            database,
            self.chat,
            self.members,
            [f"Partenaire {self.index}-{number}" for number in range(ROUNDS_PER_GROUP)],
            answers,
            author=self.members[-1],
            kind_step=fields.kind,
            partner_step=fields.partner,
            reviewed=date.today() + REVIEW_IN,
        )

    def _latest(self, chat_id: int, since: int, kind: type) -> Sent:
        for sent in reversed(self.telegram.by_chat[chat_id][since:]):
            if any(isinstance(callback_data.decode(data), kind) for data in sent.callback_data()):
                return sent
        raise AssertionError(f"the bot sent no {kind.__name__} buttons in {chat_id}")

    def _flows(self) -> Iterator[tuple[str, JSON]]:
        answered = 0
        starters = enumerate(self.members[1:])
        while answered < self.flow_answers:
            position, member = next(starters)
            here = position % 2 == 0  # every other member answers in the group, replying to the bot
            chat = self.chat if here else private(member)
            if here:
                since = len(self.telegram.by_chat[self.chat["id"]])
                yield "command", self.updates.message(member, self.chat, "/partenariat")
                intro = self._latest(self.chat["id"], since, callback_data.AnswerHere)
                data = next(
                    d for d in intro.callback_data() if isinstance(callback_data.decode(d), callback_data.AnswerHere)
                )
                yield "flow", self.updates.press(member, intro, data)
                answered += 1
            else:
                yield "command", self.updates.message(member, chat, f"/start g{self.chat['id']}")
            filler = FlowMember(member, chat, self.engine, f"Asso {member['id']}")
            for update in filler.answers(self.telegram, self.updates):
                if answered == self.flow_answers:
                    return
                yield "flow", update
                answered += 1

    def _consent(self) -> Iterator[tuple[str, JSON]]:
        chat_id = self.chat["id"]
        for number in range(1, ROUNDS_PER_GROUP + 1):
            since = len(self.telegram.by_chat[chat_id])
            yield "command", self.updates.message(self.admin, self.chat, f"/consentement {number}")
            proposal = self._latest(chat_id, since, callback_data.ConsentPress)
            for member, position in zip(self.members, POSITIONS, strict=True):
                data = next(
                    d
                    for d in proposal.callback_data()
                    if isinstance(p := callback_data.decode(d), callback_data.ConsentPress) and p.action == position
                )
                press = self.updates.press(member, proposal, data)
                if member is self.members[-1]:  # the whole circle has answered
                    self.closing.add(press["update_id"])
                yield "consent", press

    def _reads(self) -> Iterator[tuple[str, JSON]]:
        for offset in range(len(READS) - 1):
            command = READS[(self.index + offset) % len(READS)]
            yield "command", self.updates.message(self.admin, self.chat, command)

    def script(self) -> Iterator[tuple[str, JSON]]:
        """Requests, consent and reading, interleaved as members would."""
        streams = [self._flows(), self._consent(), self._reads()]
        weights = [self.flow_answers + FLOW_MEMBERS, ROUNDS_PER_GROUP * (1 + MEMBERS_PER_GROUP), len(READS) - 1]
        while any(weights):
            (chosen,) = self.rng.choices(range(len(streams)), weights)
            try:
                yield next(streams[chosen])
                weights[chosen] = max(1, weights[chosen] - 1)
            except StopIteration:
                weights[chosen] = 0


def _interleaved(groups: list[Group], total: int) -> Iterator[tuple[str, JSON]]:
    """One update of each group in turn, as hundreds of groups talk at once."""
    scripts = [group.script() for group in groups]
    produced = 0
    while scripts and produced < total:
        for script in list(scripts):
            try:
                item = next(script)
            except StopIteration:
                scripts.remove(script)
                continue
            yield item
            produced += 1
            if produced == total:
                return


def _label(kind: str, data: JSON, closing: set[int]) -> str:
    """What an update is, finely enough to count its round trips: the command, or how it answers."""
    if data["update_id"] in closing:
        return CLOSING_PRESS
    if "callback_query" in data:
        return f"{kind} (press)"
    text = data["message"]["text"]
    return text.split(maxsplit=1)[0] if text.startswith("/") else f"{kind} (typed)"


class RoundTrips:
    """Counts the calls into an aiosqlite connection's thread: every call of any kind (a
    statement, a fetch, a commit, a whole function) goes through its ``_execute``."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.calls = 0
        queue_call: Callable[..., Awaitable[Any]] = connection._execute

        async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await queue_call(function, *args, **kwargs)

        # aiosqlite's private entry point, replaced on this one instance to count its calls.
        connection._execute = counted  # type: ignore[method-assign,assignment]


@dataclass(frozen=True)
class Timed:
    """One update handled: the time the bot spent on it, JSON decoding included (polling does it
    too), and, for a /partenaires, the seconds from its command to its picture on screen."""

    seconds: float
    picture_delay: float | None = None


async def _timed(
    application: App,
    data: JSON,
    latencies: list[float],
    telegram: OfflineTelegram | None = None,
) -> Timed:
    """Handle one update and append its latency. With ``telegram``, the offline API the bot sends
    to: a /consentement counts until its proposal is on screen; a /partenaires until its handler
    returns (the list on screen), and then its picture is waited for before the next update, that
    wait counted in the bot's time but not in the latency."""
    awaited = follows = None
    if telegram is not None:
        awaited, follows = _proposal_posted(telegram, data), picture_posted(telegram, data)
    start = time.perf_counter()
    update = Update.de_json(data, application.bot)
    handled = time.perf_counter()
    await application.process_update(update)
    if telegram is not None and await settled(telegram, awaited, SETTLED) is None:
        raise AssertionError(f"update {data['update_id']} left nothing on screen after {SETTLED:.0f} s")
    end = time.perf_counter()
    latencies.append(end - handled)
    if telegram is None or follows is None:
        return Timed(end - start)
    if await settled(telegram, follows, SETTLED) is None:
        raise AssertionError(f"update {data['update_id']} sent no picture within {SETTLED:.0f} s")
    shown = time.perf_counter()
    return Timed(shown - start, shown - handled)


def _proposal_posted(telegram: OfflineTelegram, data: JSON) -> OnScreen | None:
    """For a /consentement: the round's proposal (its consent buttons) in the group."""
    if (chat_id := command_chat(data, "/consentement")) is None:
        return None
    return posted_since(
        telegram,
        chat_id,
        lambda posted: any(
            isinstance(callback_data.decode(payload), callback_data.ConsentPress) for payload in posted.callback_data()
        ),
    )


@asynccontextmanager
async def _staged(
    library: Library, groups: int, total: int, workdir: Path
) -> AsyncIterator[tuple[App, OfflineTelegram, list[Group], set[int]]]:
    """The bot started on a database holding its groups, as after a restart, their scripts
    ready; the set the scripts fill with the update ids of the presses that close a round."""
    engine = library.engine(library.flows[FLOW_ID].flow)
    answers = complete_answers(engine, "Partenaire")
    # 60 % of a group's updates answer flows; its rounds and reads make the rest.
    flow_answers = (total // groups) * 6 // 10
    updates, rng, closing = Updates(), random.Random(7), set[int]()
    staged = [Group(index, engine, updates, rng, flow_answers, closing) for index in range(groups)]
    path = workdir / "throughput.sqlite3"
    await recorded_before_start(path, library, [partial(staged_group.seed, answers=answers) for staged_group in staged])
    async with running_bot(settings(path), library) as (application, telegram):
        for staged_group in staged:
            staged_group.meet(telegram)
        with set_aside():
            yield application, telegram, staged, closing


@contextmanager
def set_aside() -> Iterator[None]:
    """Collect, then set aside from the collector what exists before a run (the application, the
    staged groups, the recorded updates), as ``bot.__main__.run`` does with the bot's start-up
    objects (``gc.freeze``): no collection goes over them again while the run is timed."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _stored(application: App) -> dict[str, int]:
    """Once the outbox has sent what the last updates queued: what the run stored."""
    database = application.bot_data["services"].database
    await _outbox_drained(database)
    return {name: (await database.fetch_one(query))["n"] for name, query in STORED.items()}


async def run_bot(library: Library, groups: int, total: int, workdir: Path) -> tuple[Run, list[JSON]]:
    """The bot under the mixed load, one update at a time; returns the run and the updates, to
    replay them."""
    recorded: list[JSON] = []
    latencies: list[float] = []
    picture_delays: list[float] = []
    mix: Counter[str] = Counter()
    async with _staged(library, groups, total, workdir) as (application, telegram, staged, closing):
        seconds = 0.0
        trips = RoundTrips(application.bot_data["services"].database.connection)
        per_label: dict[str, tuple[int, int]] = {}
        labels: list[str] = []
        for kind, data in _interleaved(staged, total):
            before = trips.calls
            timed = await _timed(application, data, latencies, telegram)
            seconds += timed.seconds
            if timed.picture_delay is not None:
                picture_delays.append(timed.picture_delay)
            updates_seen, calls = per_label.get(label := _label(kind, data, closing), (0, 0))
            per_label[label] = (updates_seen + 1, calls + trips.calls - before)
            labels.append(label)
            recorded.append(data)
            mix[kind] += 1
        stored = await _stored(application)
    run = Run(len(recorded), seconds, latencies, mix, _files(telegram), stored, per_label, labels, picture_delays)
    return run, recorded


def _files(telegram: OfflineTelegram) -> Counter[str]:
    """The register's pictures and the calendars (an .ics file, in a member's private chat) the
    bot sent; counted once the application stopped, which waits for the pictures still on their
    way (``Application.create_task``'s tasks)."""
    files: Counter[str] = Counter()
    for sent in telegram.by_chat.values():
        for message in sent:
            if is_picture(message):
                files[PICTURE] += 1
            elif "document" in message.json:
                files[CALENDAR] += 1
    return files


# What the run left in the bot's database, to check that every update did its work.
STORED = {table: f"SELECT COUNT(*) AS n FROM {table}" for table in ("requests", "round_positions", "flow_sessions")} | {
    "closed_rounds": "SELECT COUNT(*) AS n FROM consent_rounds WHERE status = 'closed'",
    "published_rounds": "SELECT COUNT(*) AS n FROM consent_rounds WHERE published_at IS NOT NULL",
    # No deadline or reminder falls within the run: what reached a group, proposals and their
    # asks to the objectors aside, is the outcomes.
    "outcomes_sent": "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND chat_id < 0"
    f" AND kind NOT IN ('{lifecycle.PROPOSAL}', '{lifecycle.OBJECTORS_FIRST}')",
}


def _pending(connection: sqlite3.Connection) -> int:
    (pending,) = connection.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()
    return int(pending)


async def _outbox_drained(database: Database) -> None:
    """Wait (untimed) for the outbox to send the outcomes the last closing presses queued."""
    deadline = time.monotonic() + OUTBOX_DRAINED
    while time.monotonic() < deadline:
        if not await database.read(_pending):
            return
        await asyncio.sleep(0.05)


async def run_bare(recorded: list[JSON], running: AbstractAsyncContextManager[tuple[App, OfflineTelegram]]) -> Run:
    """The same updates through python-telegram-bot with a single handler (``running``)."""
    latencies: list[float] = []
    async with running as (application, _):
        seconds = 0.0
        with set_aside():
            for data in recorded:
                seconds += (await _timed(application, data, latencies)).seconds
    return Run(len(recorded), seconds, latencies, Counter())


async def measure(library: Library, groups: int = 200, total: int = 20_000) -> tuple[Run, Run, Run]:
    """Over the same updates: the bot's run, the bare echo's (the ceiling) and the echo's that
    persists each update with one INSERT and COMMIT (the floor of a bot that persists)."""
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as scratch:
        bot_run, recorded = await run_bot(library, groups, total, Path(scratch))
        bare_run = await run_bare(recorded, running_bare())
        floor_run = await run_bare(recorded, running_floor(Path(scratch) / "floor.sqlite3"))
    return bot_run, bare_run, floor_run


@dataclass(frozen=True)
class Deployed:
    """A run as the bot is deployed: every group's updates in order, one after the other's
    answer, the groups at once, at most ``in_flight`` updates in the application's update
    processor."""

    updates: int
    seconds: float  # from the first update to the last one handled, the members' side left out
    in_flight: int
    stuck: int = 0  # groups that stopped there: a round's proposal not on screen after SETTLED seconds
    mix: Counter[str] = field(default_factory=Counter)  # each update's kind (flow, consent, command)
    labels: Counter[str] = field(default_factory=Counter)  # each update's label (see _label)
    round_trips: int = 0  # calls into aiosqlite's thread, the background jobs included
    commits: int = 0  # write transactions committed (each one fsync)
    writes: int = 0  # the units of work those commits carried (the bot's; the floor's are its updates)
    stored: dict[str, int] = field(default_factory=JSON)
    files: Counter[str] = field(default_factory=Counter)
    # Each /consentement's wait, once handled, for its proposal on screen (sent by the outbox).
    proposal_waits: list[float] = field(default_factory=list)
    cpu: Cpu | None = None
    api_calls: int = 0  # Bot API calls made, the background jobs' included
    rates: tuple[float, ...] = ()  # updates/s of each replay the run adds up (``replay_deployed``)

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds


@dataclass(frozen=True)
class Cpu:
    """The CPU a run used: on the event loop's thread (where python-telegram-bot and every
    handler run, one at a time), and in the whole process with its picture worker (aiosqlite's
    thread, SQLite's work in C, the worker's start and drawings); the members' side (building
    updates, on the loop) left out."""

    loop: float
    process: float
    wall: float

    @classmethod
    @contextmanager
    def measured(cls, members_side: Callable[[], float] = lambda: 0.0) -> Iterator[list[Cpu]]:
        """Measure the CPU of the ``with`` block; the Cpu is in the list once the block ends."""
        measured: list[Cpu] = []
        loop, process, wall = time.thread_time(), time.process_time(), time.perf_counter()
        workers = _workers()
        yield measured
        aside = members_side()
        # A worker that ended meanwhile (the previous run's, shut down) is left out, not
        # subtracted; one started meanwhile counts from nothing.
        ended = _workers()
        spent = sum(used - workers.get(pid, 0.0) for pid, used in ended.items())
        measured.append(
            cls(
                loop=time.thread_time() - loop - aside,
                process=time.process_time() - process + spent - aside,
                wall=time.perf_counter() - wall - aside,
            )
        )

    @property
    def loop_busy(self) -> float:
        """The share of the wall time the event loop's thread spent computing."""
        return self.loop / self.wall


def _workers() -> dict[int, float]:
    """The CPU time, in seconds, of each live child of this process (the picture worker,
    ``PictureWorker``), by pid: a child's counts in ``os.times`` only once it is waited for."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for pid in (child.pid for child in multiprocessing.active_children()):
        if pid is None:  # not started
            continue
        with suppress(OSError):  # it ended meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


class Commits:
    """Counts, from a connection's trace callback (every statement SQLite runs), the
    transactions that wrote and committed: the floor's. The bot's database counts its own
    (``Database.commits``), which costs it no Python call per statement."""

    WRITES = ("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self) -> None:
        self.commits = 0
        self._wrote = False  # in the open transaction

    def __call__(self, statement: str) -> None:
        if statement.startswith(self.WRITES):
            self._wrote = True
        elif statement == "COMMIT":
            self.commits += self._wrote
            self._wrote = False
        elif statement == "ROLLBACK":
            self._wrote = False


async def _handle(application: App, data: JSON) -> None:
    """Handle one update as the application's update fetcher does with what polling put on the
    update queue: through its update processor, which runs at most so many at once."""
    update = Update.de_json(data, application.bot)
    await application.update_processor.process_update(update, application.process_update(update))


class Members:
    """What the members of every group send, ``total`` updates in all, the time spent
    building them (on the event loop: nothing else runs meanwhile, which is left out), and
    when the last one handled was."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.building = 0.0
        self.last_handled = time.perf_counter()
        self.stuck = 0

    def next(self, script: Iterator[tuple[str, JSON]]) -> tuple[str, JSON] | None:
        if not self.left:
            return None
        start = time.perf_counter()
        item = next(script, None)
        self.building += time.perf_counter() - start
        self.left -= item is not None
        return item


async def _group_stream(
    application: App,
    telegram: OfflineTelegram,
    script: Iterator[tuple[str, JSON]],
    members: Members,
    proposal_waits: list[float],
) -> list[tuple[str, JSON]]:
    """One group's updates, each built once the previous one is handled (the members answer
    what the bot sent); returns them with their kinds."""
    played: list[tuple[str, JSON]] = []
    while (item := members.next(script)) is not None:
        _, data = item
        awaited = _proposal_posted(telegram, data)
        await _handle(application, data)
        played.append(item)
        waited = await settled(telegram, awaited, SETTLED)
        if waited is None:  # the members cannot press buttons they were not sent
            members.stuck += 1
            break
        members.last_handled = time.perf_counter()
        if awaited is not None:
            proposal_waits.append(waited)
    return played


async def run_bot_deployed(
    library: Library, groups: int, total: int, workdir: Path
) -> tuple[Deployed, list[list[JSON]]]:
    """The same mix as ``run_bot``, the groups at once; returns the run and each group's
    updates, to replay them."""
    async with _staged(library, groups, total, workdir) as (application, telegram, staged, closing):
        database = application.bot_data["services"].database
        commits, units = database.commits, database.units_committed
        trips = RoundTrips(database.connection)
        members = Members(total)
        proposal_waits: list[float] = []
        calls = telegram.calls.total()
        start = time.perf_counter()
        with Cpu.measured(lambda: members.building) as cpu:
            streams = await asyncio.gather(
                *(
                    _group_stream(application, telegram, staged_group.script(), members, proposal_waits)
                    for staged_group in staged
                )
            )
        seconds = members.last_handled - start - members.building
        calls = telegram.calls.total() - calls
        commits, units = database.commits - commits, database.units_committed - units
        stored = await _stored(application)
        in_flight = application.update_processor.max_concurrent_updates
    played = [item for stream in streams for item in stream]
    run = Deployed(
        updates=len(played),
        seconds=seconds,
        in_flight=in_flight,
        stuck=members.stuck,
        mix=Counter(kind for kind, _ in played),
        labels=Counter(_label(kind, data, closing) for kind, data in played),
        round_trips=trips.calls,
        commits=commits,
        writes=units,
        stored=stored,
        files=_files(telegram),
        proposal_waits=proposal_waits,
        cpu=cpu[0],
        api_calls=calls,
    )
    return run, [[data for _, data in stream] for stream in streams]


async def _replay(application: App, stream: list[JSON]) -> None:
    for data in stream:
        await _handle(application, data)


async def replay_deployed(
    streams: list[list[JSON]],
    running: Callable[[], AbstractAsyncContextManager[tuple[App, OfflineTelegram]]],
    commits: Commits | None = None,
    *,
    times: int,
) -> Deployed:
    """The same groups' updates, fed the same way, ``times`` times, each through a fresh
    ``running()`` (the bare echo or the floor, built to handle as many at once as the bot);
    ``commits``: what counts the floor's. The runs add up: their updates over their seconds,
    each run's rate kept (``rates``) to show the spread."""
    updates = api_calls = 0
    seconds = loop = process = 0.0
    rates: list[float] = []
    in_flight = 0
    for _ in range(times):
        async with running() as (application, telegram):
            calls = telegram.calls.total()
            with set_aside():
                start = time.perf_counter()
                with Cpu.measured() as cpu:
                    await asyncio.gather(*(_replay(application, stream) for stream in streams))
                run_seconds = time.perf_counter() - start
            api_calls += telegram.calls.total() - calls
            in_flight = application.update_processor.max_concurrent_updates
        run_updates = sum(len(stream) for stream in streams)
        updates, seconds = updates + run_updates, seconds + run_seconds
        loop, process = loop + cpu[0].loop, process + cpu[0].process
        rates.append(run_updates / run_seconds)
    return Deployed(
        updates=updates,
        seconds=seconds,
        in_flight=in_flight,
        commits=0 if commits is None else commits.commits,
        cpu=Cpu(loop=loop, process=process, wall=seconds),
        api_calls=api_calls,
        rates=tuple(rates),
    )


async def measure_deployed(
    library: Library, groups: int = 200, total: int = 20_000
) -> tuple[Deployed, Deployed, Deployed]:
    """As ``measure``, the groups at once as in production: the bot, the bare echo and the floor
    each handling as many updates at once as the bot's settings allow."""
    with tempfile.TemporaryDirectory(prefix="bench-deployed-") as scratch:
        bot_run, streams = await run_bot_deployed(library, groups, total, Path(scratch))
        bare_run = await replay_deployed(streams, partial(running_bare, bot_run.in_flight), times=BARE_REPLAYS)
        floor_commits = Commits()
        files = (Path(scratch) / f"floor-{n}.sqlite3" for n in itertools.count())

        def floor() -> AbstractAsyncContextManager[tuple[App, OfflineTelegram]]:
            return running_floor(next(files), bot_run.in_flight, floor_commits)

        floor_run = await replay_deployed(streams, floor, floor_commits, times=FLOOR_REPLAYS)
    return bot_run, bare_run, floor_run
