"""The real application fed the fake server's updates directly, and what its database holds.

Polling costs a long-poll round trip per update and leaves a test guessing when the bot is
done. ``Application.process_update`` runs the same handlers and error handler and returns
once they are done, so tests that send hundreds or thousands of updates stay fast and know
exactly which update changed what. The bot still talks HTTP to the fake Bot API server,
which validates every reply as Telegram does (HTML parse mode included).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (  # type: ignore[import-untyped]  # APScheduler 3 ships no type hints
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from telegram import Update

from bot.config import Settings
from bot.handlers import consent
from bot.handlers.intake import CARD_NOTED
from bot.handlers.outbox_sender import DRAIN_TASK
from bot.handlers.register import PICTURE_TASK
from bot.handlers.round_ports import ROUND_JOB
from bot.services import BotApplication, jobs
from bot.storage.db import Database
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import RunningBot, settings_for

# Dedup marks change with every update, whoever sends it: never a state change of its own.
BOOKKEEPING = frozenset({"processed_updates"})
# A job due this soon counts as running now (the scheduler wakes up a little late).
DUE_SOON = timedelta(seconds=0.5)
# What APScheduler reports of a job's run: submitted, then done one way or another.
JOB_EVENTS = EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
# A table's rows as SQLite gives them back, comparable as a set.
TableRows = set[tuple[Any, ...]]


class ErrorRecords(logging.Handler):
    """Keeps every ERROR (and worse) record: the bot's error handler logs each unhandled error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


class DirectBot(RunningBot):
    """The bot as ``python -m bot`` builds it, without the updater: tests hand it updates."""

    polls = False

    def __init__(self, fake: FakeTelegram, settings: Settings) -> None:
        super().__init__(settings)
        self.fake = fake
        self.errors = ErrorRecords()
        self.errors.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.processed = 0
        self._running_jobs: Counter[tuple[str, datetime]] = Counter()  # (job id, run time) submitted, not done

    @classmethod
    def for_tests(cls, fake: FakeTelegram, tmp_path: Path, **overrides: object) -> DirectBot:
        """Redraws at once and no review sweep after the first: time-driven changes stay out."""
        values = {"consent_edit_interval_seconds": 0, "review_check_minutes": 10**6, **overrides}
        return cls(fake, settings_for(fake, tmp_path, **values))

    def build(self) -> BotApplication:
        application = super().build()
        jobs(application).scheduler.add_listener(self._follow_job, JOB_EVENTS)
        return application

    def _follow_job(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            self._running_jobs.update((event.job_id, moment) for moment in event.scheduled_run_times)
            return
        run = (event.job_id, event.scheduled_run_time)
        if self._running_jobs[run] > 0:  # a run the scheduler missed before submitting it was never counted
            self._running_jobs[run] -= 1

    async def start(self) -> None:
        self._running_jobs.clear()
        await super().start()
        self.fake.take_updates()  # queued before it ran: not for this bot
        logging.getLogger().addHandler(self.errors)
        await self.settle()

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        await super().stop()

    async def process(self) -> list[dict[str, Any]]:
        """Run every update the fake server queued since the last call, each until its handlers
        and the register picture they left to send (``PICTURE_TASK``) are done; return them."""
        updates = self.fake.take_updates()
        for data in updates:
            before = asyncio.all_tasks()
            await self.application.process_update(Update.de_json(data, self.application.bot))
            # Only the bot's: the fake server's connections are tasks of this loop too.
            if pictures := [task for task in asyncio.all_tasks() - before if task.get_name() == PICTURE_TASK]:
                await asyncio.wait(pictures)
            self.processed += 1
        await self.settle()
        return updates

    async def settle(self) -> None:
        """Wait until no job of the bot is running or due (redraws, reminders, summaries), on the
        job queue or the loop's timers, and no task of the bot is running (the outbox's drains,
        the register pictures, a card's note, a round's job)."""
        job_queue = jobs(self.application)
        while True:
            soon = datetime.now(UTC) + DUE_SOON
            due = [job for job in job_queue.jobs() if job.next_t is not None and job.next_t <= soon]
            due_timers = [
                handle
                for handles in consent.waiting_jobs(self.application.bot_data).timers.values()
                for handle in handles
                if handle.when() <= asyncio.get_running_loop().time() + DUE_SOON.total_seconds()
            ]
            if not due and not due_timers and not any(self._running_jobs.values()) and not _background_tasks():
                return
            await asyncio.sleep(0.002)


def _background_tasks() -> list[asyncio.Task[Any]]:
    """The bot's own tasks still running; only the bot's, by their names: the fake server's
    connections are tasks of this loop too."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name() in (DRAIN_TASK, PICTURE_TASK, CARD_NOTED, ROUND_JOB) and not task.done()
    ]


# --- the database -----------------------------------------------------------------------------


async def tables(database: Database) -> list[str]:
    rows = await database.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [row["name"] for row in rows if row["name"] not in BOOKKEEPING]


async def snapshot(database: Database, *, outside_chat: int | None = None) -> dict[str, TableRows]:
    """Every row of every table; with ``outside_chat``, leave out the rows of that chat (and of
    its requests), which its one member may change in their private chat."""
    state: dict[str, TableRows] = {}
    for table in await tables(database):
        columns = {row["name"] for row in await database.fetch_all(f"PRAGMA table_info({table})")}
        where = ""
        parameters: tuple[int, ...] = ()
        if outside_chat is not None and "chat_id" in columns:
            where, parameters = " WHERE chat_id IS NOT ?", (outside_chat,)
        elif outside_chat is not None and "request_id" in columns:
            where = " WHERE request_id NOT IN (SELECT id FROM requests WHERE chat_id = ?)"
            parameters = (outside_chat,)
        rows = await database.fetch_all(f"SELECT * FROM {table}{where}", parameters)  # names from sqlite_master
        state[table] = {tuple(row) for row in rows}
    return state


def differences(before: dict[str, TableRows], after: dict[str, TableRows]) -> dict[str, dict[str, TableRows]]:
    """The rows each table lost and gained."""
    return {
        table: {"lost": before.get(table, set()) - rows, "gained": rows - before.get(table, set())}
        for table, rows in after.items()
        if rows != before.get(table, set())
    }


async def reviews_fall_due(database: Database, today: date) -> None:
    """Time passes: every review still to hold was due yesterday."""
    yesterday = (today - timedelta(days=1)).isoformat()
    await database.write(
        lambda connection: connection.execute("UPDATE reviews SET due_on = ? WHERE outcome IS NULL", (yesterday,))
    )


class SavedDatabase:
    """A copy of the bot's database, to put back between independent scenarios.

    Both go through the bot's own ``read`` and ``write``, so no transaction of the bot is
    half-copied or half-overwritten."""

    def __init__(self, copy: sqlite3.Connection) -> None:
        self._copy = copy

    @classmethod
    async def of(cls, database: Database) -> SavedDatabase:
        copy = sqlite3.connect(":memory:", check_same_thread=False)  # used on the database's thread
        await database.read(lambda connection: connection.backup(copy))
        return cls(copy)

    async def restore(self, database: Database) -> None:
        await database.write(self._put_back)

    def _put_back(self, connection: sqlite3.Connection) -> None:
        """Every row as saved, in the bot's write transaction (a backup needs none open)."""
        # Triggers keep derived counts: the saved rows hold them already.
        triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        for name, _ in triggers:
            connection.execute(f'DROP TRIGGER "{name}"')
        connection.execute("PRAGMA defer_foreign_keys = ON")
        names = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        # Rows put back into AUTOINCREMENT tables move their counters: those go back last.
        tables = sorted((name for (name,) in names), key=lambda name: name == "sqlite_sequence")
        for table in tables:
            connection.execute(f'DELETE FROM "{table}"')
        for table in tables:
            if table == "sqlite_sequence":
                connection.execute("DELETE FROM sqlite_sequence")
            rows = self._copy.execute(f'SELECT * FROM "{table}"').fetchall()
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        for _, sql in triggers:
            connection.execute(sql)

    async def close(self) -> None:
        self._copy.close()
