"""The SQLite connection, its settings, migrations, transactions and backups."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import aiosqlite

logger = logging.getLogger(__name__)

MIGRATIONS = resources.files("bot.storage") / "migrations"
PROCESSED_UPDATES_KEPT = timedelta(days=7)
BUSY_TIMEOUT_MS = 5000


class AlreadyHandled(Exception):
    """This Telegram update changed the database before: applying it again would repeat it."""


class BackupFailed(Exception):
    """The copy of the database did not pass SQLite's integrity check; nothing was written."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# Every call on an aiosqlite connection is a round trip to its thread (~30 µs on two cores,
# more than most of these queries take): a cursor opened, read and closed costs three, these
# helpers one. Use them for reads, inside a transaction or not.
async def rows(connection: aiosqlite.Connection, sql: str, parameters: tuple = ()) -> list[aiosqlite.Row]:
    """Every row of a query, in one round trip."""
    return list(await connection.execute_fetchall(sql, parameters))


async def row(connection: aiosqlite.Connection, sql: str, parameters: tuple = ()) -> aiosqlite.Row | None:
    """The first row of a query (a lookup by key), in one round trip."""
    found = await rows(connection, sql, parameters)
    return found[0] if found else None


class Database:
    """One aiosqlite connection shared by the whole bot.

    aiosqlite runs one thread per connection; the lock keeps one coroutine's transaction from
    interleaving with another's statements on that shared connection.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        # The bot acknowledges a member's answer, position or command only once its
        # transaction is committed (tests/crash kills it at random moments to check it), so a
        # commit must survive whatever stops the bot:
        # - journal_mode=WAL: a commit is appended to the -wal file. A process killed at any
        #   moment (kill -9, out of memory) leaves every commit whole and nothing of the
        #   transaction it was in, which the next open rolls back. Readers
        #   (`python -m bot backup`, `export`, an admin's sqlite3) and the bot never wait for
        #   each other.
        # - synchronous=FULL: commit returns once the -wal file is on disk (fsync). NORMAL
        #   survives kill -9 too, but a power cut or a hard reset of a cheap host may then
        #   undo the last commits, answers a member was told were taken. One fsync per step of
        #   a member (0.3 ms on the CI's disk, a few ms on slow ones) is cheap for a bot that
        #   commits a few times a second at most.
        # - busy_timeout: another process writing (an admin's sqlite3, a newer version's
        #   migration) holds the write lock for a moment: wait for it rather than fail.
        for pragma in (
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys = ON",
        ):
            await connection.execute(pragma)
        database = cls(connection)
        await database.migrate()
        return database

    async def close(self) -> None:
        await self.connection.close()

    async def migrate(self) -> None:
        """Apply every migration newer than the file's ``PRAGMA user_version``, each atomically."""
        async with self.connection.execute("PRAGMA user_version") as cursor:
            (current,) = await cursor.fetchone()
        scripts = sorted(
            (int(item.name.split("_", 1)[0]), item)
            for item in MIGRATIONS.iterdir()
            if item.name.endswith(".sql")
        )
        for version, script in scripts:
            if version <= current:
                continue
            logger.info("Applying migration %s", script.name)
            await self.connection.executescript(
                f"BEGIN IMMEDIATE;\n{script.read_text(encoding='utf-8')}\n"
                f"PRAGMA user_version = {version};\nCOMMIT;"
            )

    @asynccontextmanager
    async def transaction(self, update_id: int | None = None) -> AsyncIterator[aiosqlite.Connection]:
        """Run statements atomically; with ``update_id``, at most once per Telegram update."""
        async with self._lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                if update_id is not None:
                    cursor = await self.connection.execute(
                        "INSERT OR IGNORE INTO processed_updates (update_id, processed_at) VALUES (?, ?)",
                        (update_id, now()),
                    )
                    if cursor.rowcount == 0:
                        raise AlreadyHandled(update_id)
                yield self.connection
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            else:
                await self.connection.execute("COMMIT")

    # Reads take the lock too: on a shared connection they would otherwise see another
    # coroutine's transaction before it commits. Inside a transaction, use its connection.
    async def fetch_all(self, sql: str, parameters: tuple = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            return await rows(self.connection, sql, parameters)

    async def fetch_one(self, sql: str, parameters: tuple = ()) -> aiosqlite.Row | None:
        async with self._lock:
            return await row(self.connection, sql, parameters)

    async def handled(self, update_id: int) -> bool:
        """True when this Telegram update's changes were committed (it is being redelivered)."""
        return await self.fetch_one("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,)) is not None

    async def forget_old_updates(self) -> None:
        """Drop dedup marks older than any redelivery Telegram could make."""
        cutoff = (datetime.now(UTC) - PROCESSED_UPDATES_KEPT).isoformat(timespec="seconds")
        async with self.transaction() as connection:
            await connection.execute("DELETE FROM processed_updates WHERE processed_at < ?", (cutoff,))


def backup(source: Path, target: Path) -> None:
    """Copy the database at ``source`` to ``target``, consistently even while the bot writes.

    SQLite's online backup copies in one step, inside one read transaction: a snapshot of
    the last commit, WAL included (a plain file copy could miss it or catch a commit half
    written). In WAL mode the bot never waits for it, nor it for the bot. The copy is checked,
    made a single self-contained file, then renamed onto ``target``: ``target`` is either a
    whole, sound copy or left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)) as live, \
                closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file beside the copy
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupFailed(verdict)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)

