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
"""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
from telegram import Update
from telegram.ext import Application

from bench.members import FlowMember, complete_answers
from bench.offline import OfflineTelegram, Sent
from bench.scene import (
    Updates,
    group,
    private,
    running_bare,
    running_bot,
    running_floor,
    settings,
    user,
)
from bot.core.consent_rules import Member
from bot.core.flow_engine import FlowEngine
from bot.core.library import Library
from bot.handlers import callback_data
from bot.rounds import lifecycle
from bot.storage import chats, circles, requests
from bot.storage.circles import Roster
from bot.storage.db import Database

FLOW_ID = "demande_partenariat"
MEMBERS_PER_GROUP = 10
ROUNDS_PER_GROUP = 3
FLOW_MEMBERS = 4  # members who file a request, half in the group and half in private
# Each group sends all but one of these, a different one left out in each group.
READS = ("/demandes", "/partenaires", "/bilan", "/demande 1", "/calendrier")
CLOSING_PRESS = "consent (closing press)"  # the press that closes a round and publishes its outcome
PICTURE, CALENDAR = "register picture", "calendar"
OUTBOX_DRAINED = 30.0  # seconds to wait, after the run, for the outcomes still queued to be sent
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
    stored: dict[str, int] = field(default_factory=dict)  # what the run left in the bot's database
    # Calls into aiosqlite's thread per kind of update (its label, see _label): (updates, calls).
    round_trips: dict[str, tuple[int, int]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)  # each update's label, in the order of latencies

    def slowest(self, share: float) -> Counter[str]:
        """The labels of the slowest ``share`` of updates (what makes the tail latency)."""
        ranked = sorted(zip(self.latencies, self.labels, strict=True), reverse=True)
        return Counter(label for _, label in ranked[: max(1, int(share * len(ranked)))])

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
        telegram: OfflineTelegram,
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
        self.telegram = telegram
        self.updates = updates
        self.rng = rng
        self.flow_answers = flow_answers
        self.closing = closing  # update ids of the presses that close a round (every group's)
        telegram.admins[self.chat["id"]] = [self.admin]
        telegram.titles[self.chat["id"]] = self.chat["title"]

    async def seed(self, database: Database, answers: dict) -> None:
        """The circle, the coordinator and three requests waiting for a decision."""
        chat_id = self.chat["id"]
        await chats.remember(database, chat_id, "supergroup", self.chat["title"])

        def seed(connection: sqlite3.Connection) -> None:
            for member in self.members:
                circles.add(connection, Roster.CIRCLE, chat_id, Member(member["id"], member["first_name"]))
            circles.add(connection, Roster.COORDINATION, chat_id, Member(self.admin["id"], "Admin"))
            author = self.members[-1]
            for number in range(ROUNDS_PER_GROUP):
                partner = f"Partenaire {self.index}-{number}"
                requests.create(
                    connection,
                    chat_id=chat_id,
                    author_id=author["id"],
                    author_name=author["first_name"],
                    flow_id=FLOW_ID,
                    flow_version=1,
                    partner_name=partner,
                    partner_kind=answers[self.engine.flow.partner_fields.kind],
                    answers={**answers, self.engine.flow.partner_fields.partner: partner},
                )

        await database.write(seed)

    def _latest(self, chat_id: int, since: int, kind: type) -> Sent:
        for sent in reversed(self.telegram.by_chat[chat_id][since:]):
            if any(isinstance(callback_data.decode(data), kind) for data in sent.callback_data()):
                return sent
        raise AssertionError(f"the bot sent no {kind.__name__} buttons in {chat_id}")

    def _flows(self) -> Iterator[tuple[str, dict]]:
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

    def _consent(self) -> Iterator[tuple[str, dict]]:
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

    def _reads(self) -> Iterator[tuple[str, dict]]:
        for offset in range(len(READS) - 1):
            command = READS[(self.index + offset) % len(READS)]
            yield "command", self.updates.message(self.admin, self.chat, command)

    def script(self) -> Iterator[tuple[str, dict]]:
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


def _interleaved(groups: list[Group], total: int) -> Iterator[tuple[str, dict]]:
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


def _label(kind: str, data: dict, closing: set[int]) -> str:
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
        queue_call = connection._execute

        async def counted(function: Callable, *args: object, **kwargs: object) -> object:
            self.calls += 1
            return await queue_call(function, *args, **kwargs)

        connection._execute = counted  # type: ignore[method-assign]


async def _timed(application: Application, data: dict, latencies: list[float]) -> float:
    """Handle one update; return the time spent, JSON decoding included (polling does it too)."""
    start = time.perf_counter()
    update = Update.de_json(data, application.bot)
    handled = time.perf_counter()
    await application.process_update(update)
    end = time.perf_counter()
    latencies.append(end - handled)
    return end - start


async def run_bot(library: Library, groups: int, total: int, workdir: Path) -> tuple[Run, list[dict]]:
    """The bot under the mixed load; returns the run and the updates, to replay them."""
    engine = library.engine(library.flows[FLOW_ID].flow)
    answers = complete_answers(engine, "Partenaire")
    # 60 % of a group's updates answer flows; its rounds and reads make the rest.
    flow_answers = (total // groups) * 6 // 10
    recorded: list[dict] = []
    latencies: list[float] = []
    mix: Counter[str] = Counter()
    async with running_bot(settings(workdir / "throughput.sqlite3"), library) as (application, telegram):
        database = application.bot_data["services"].database
        updates = Updates()
        rng = random.Random(7)
        closing: set[int] = set()
        staged = [Group(index, engine, telegram, updates, rng, flow_answers, closing) for index in range(groups)]
        for staged_group in staged:
            await staged_group.seed(database, answers)
        gc.collect()
        seconds = 0.0
        trips = RoundTrips(database.connection)
        per_label: dict[str, tuple[int, int]] = {}
        labels: list[str] = []
        for kind, data in _interleaved(staged, total):
            before = trips.calls
            seconds += await _timed(application, data, latencies)
            updates_seen, calls = per_label.get(label := _label(kind, data, closing), (0, 0))
            per_label[label] = (updates_seen + 1, calls + trips.calls - before)
            labels.append(label)
            recorded.append(data)
            mix[kind] += 1
            if label == "/consentement":
                await _proposals_sent(database)
        await _outbox_drained(database)
        stored = {name: (await database.fetch_one(query))["n"] for name, query in STORED.items()}
        files = _files(telegram)
    return Run(len(recorded), seconds, latencies, mix, files, stored, per_label, labels), recorded


def _files(telegram: OfflineTelegram) -> Counter[str]:
    """The register's pictures (a photo, or a PNG file when too long, in the group) and the
    calendars (an .ics file, in a member's private chat) the bot sent."""
    files: Counter[str] = Counter()
    for chat_id, sent in telegram.by_chat.items():
        for message in sent:
            if "photo" in message.json or ("document" in message.json and chat_id < 0):
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


async def _proposals_sent(database: Database) -> None:
    """Wait (untimed) for the outbox to send the proposal just queued: the presses that follow
    need its buttons, and an opening hands it to the outbox in its own transaction (issue 16),
    behind the outcomes and summaries still waiting to leave."""
    deadline = time.monotonic() + OUTBOX_DRAINED
    while time.monotonic() < deadline:
        pending = await database.fetch_one(
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND kind = 'proposal'"
        )
        if not pending["n"]:
            return
        await asyncio.sleep(0.001)


async def _outbox_drained(database: Database) -> None:
    """Wait (untimed) for the outbox to send the outcomes the last closing presses queued."""
    deadline = time.monotonic() + OUTBOX_DRAINED
    while time.monotonic() < deadline:
        if not (await database.fetch_one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'"))["n"]:
            return
        await asyncio.sleep(0.05)


async def run_bare(recorded: list[dict], running: AbstractAsyncContextManager) -> Run:
    """The same updates through python-telegram-bot with a single handler (``running``)."""
    latencies: list[float] = []
    async with running as (application, _):
        gc.collect()
        seconds = 0.0
        for data in recorded:
            seconds += await _timed(application, data, latencies)
    return Run(len(recorded), seconds, latencies, Counter())


async def measure(library: Library, groups: int = 200, total: int = 20_000) -> tuple[Run, Run, Run]:
    """Over the same updates: the bot's run, the bare echo's (the ceiling) and the echo's that
    persists each update with one INSERT and COMMIT (the floor of a bot that persists)."""
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as scratch:
        bot_run, recorded = await run_bot(library, groups, total, Path(scratch))
        bare_run = await run_bare(recorded, running_bare())
        floor_run = await run_bare(recorded, running_floor(Path(scratch) / "floor.sqlite3"))
    return bot_run, bare_run, floor_run
