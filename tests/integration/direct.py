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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.core.library import load_library
from bot.storage.db import Database
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import settings_for

# Dedup marks change with every update, whoever sends it: never a state change of its own.
BOOKKEEPING = frozenset({"processed_updates"})
# A job due this soon counts as running now (the scheduler wakes up a little late).
DUE_SOON = timedelta(seconds=0.5)


class ErrorRecords(logging.Handler):
    """Keeps every ERROR (and worse) record: the bot's error handler logs each unhandled error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self) -> str:
        return "\n".join(self.format(record) for record in self.records)


class DirectBot:
    """The bot as ``python -m bot`` builds it, without the updater: tests hand it updates."""

    def __init__(self, fake: FakeTelegram, settings: Settings) -> None:
        self.fake = fake
        self.settings = settings
        self.application: Application | None = None
        self.errors = ErrorRecords()
        self.errors.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.processed = 0
        self._cursor = 0

    @classmethod
    def for_tests(cls, fake: FakeTelegram, tmp_path: Path, **overrides: object) -> DirectBot:
        """Redraws at once and no review sweep after the first: time-driven changes stay out."""
        values = {"consent_edit_interval_seconds": 0, "review_check_minutes": 10**6, **overrides}
        return cls(fake, settings_for(fake, tmp_path, **values))

    async def start(self) -> None:
        application = build_application(self.settings, load_library(self.settings.flows_dir))
        await application.initialize()
        await application.post_init(application)
        await application.start()  # the job queue; no updater: updates come from process()
        self.application = application
        self._cursor = len(self.fake.updates)
        logging.getLogger().addHandler(self.errors)
        await self.settle()

    async def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        application, self.application = self.application, None
        if application is not None:
            await application.stop()
            await application.post_shutdown(application)
            await application.shutdown()

    @property
    def database(self) -> Database:
        return self.application.bot_data["services"].database

    async def process(self) -> list[dict]:
        """Run every update the fake server queued since the last call; return them."""
        updates = self.fake.updates[self._cursor :]
        self._cursor = len(self.fake.updates)
        self.fake._fetched.update(update["update_id"] for update in updates)  # as polling would
        for data in updates:
            await self.application.process_update(Update.de_json(data, self.application.bot))
            self.processed += 1
        await self.settle()
        return updates

    async def settle(self) -> None:
        """Wait until no job of the bot is running or due (redraws, reminders, summaries)."""
        job_queue = self.application.job_queue
        executor = job_queue.scheduler._lookup_executor("default")
        while True:
            soon = datetime.now(UTC) + DUE_SOON
            due = [job for job in job_queue.jobs() if job.next_t is not None and job.next_t <= soon]
            if not due and not executor._pending_futures:
                return
            await asyncio.sleep(0.002)


# --- the database -----------------------------------------------------------------------------


async def tables(database: Database) -> list[str]:
    rows = await database.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return [row["name"] for row in rows if row["name"] not in BOOKKEEPING]


async def snapshot(database: Database, *, outside_chat: int | None = None) -> dict[str, set[tuple]]:
    """Every row of every table; with ``outside_chat``, leave out the rows of that chat (and of
    its requests), which its one member may change in their private chat."""
    state = {}
    for table in await tables(database):
        columns = {row["name"] for row in await database.fetch_all(f"PRAGMA table_info({table})")}
        where, parameters = "", ()
        if outside_chat is not None and "chat_id" in columns:
            where, parameters = " WHERE chat_id IS NOT ?", (outside_chat,)
        elif outside_chat is not None and "request_id" in columns:
            where = " WHERE request_id NOT IN (SELECT id FROM requests WHERE chat_id = ?)"
            parameters = (outside_chat,)
        rows = await database.fetch_all(f"SELECT * FROM {table}{where}", parameters)  # names from sqlite_master
        state[table] = {tuple(row) for row in rows}
    return state


def differences(before: dict[str, set[tuple]], after: dict[str, set[tuple]]) -> dict[str, dict[str, set]]:
    """The rows each table lost and gained."""
    return {
        table: {"lost": before.get(table, set()) - rows, "gained": rows - before.get(table, set())}
        for table, rows in after.items()
        if rows != before.get(table, set())
    }


class SavedDatabase:
    """A copy of the bot's database, to put back between independent scenarios."""

    def __init__(self, copy: aiosqlite.Connection) -> None:
        self._copy = copy

    @classmethod
    async def of(cls, database: Database) -> SavedDatabase:
        copy = await aiosqlite.connect(":memory:")
        async with database._lock:  # no transaction of the bot may be half-copied
            await database.connection.backup(copy)
        return cls(copy)

    async def restore(self, database: Database) -> None:
        async with database._lock:
            await self._copy.backup(database.connection)

    async def close(self) -> None:
        await self._copy.close()
