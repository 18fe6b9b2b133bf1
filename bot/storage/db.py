"""The SQLite connection, its settings, migrations, transactions and backups."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import aiosqlite

logger = logging.getLogger(__name__)

MIGRATIONS = resources.files("bot.storage") / "migrations"
PROCESSED_UPDATES_KEPT = timedelta(days=7)
BUSY_TIMEOUT_MS = 5000
# The database holds what members wrote: readable by the bot's user only (and its folder).
PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700


class AlreadyHandled(Exception):
    """This Telegram update changed the database before: applying it again would repeat it."""


class BackupFailed(Exception):
    """The copy of the database did not pass SQLite's integrity check; nothing was written."""


class DatabaseUnavailable(Exception):
    """The database cannot be opened or migrated; its connection is closed again."""

    def __init__(self, path: Path | str, reason: object) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class AlreadyRunning(Exception):
    """Another process writes this database: two bots would send every message twice."""

    def __init__(self, path: Path, holder: dict[str, str]) -> None:
        super().__init__(f"{path} is used by {holder}")
        self.path = path
        self.holder = holder


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


def _private_folder(path: Path) -> None:
    path.parent.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)


def _private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 unless it exists: SQLite gives its -wal and -shm files
    the database's mode, and a copy would otherwise be created readable by every local user."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))


class InstanceLock:
    """``<database>.lock``, locked for as long as the process writing the database lives.

    The kernel drops an flock when its process ends, however it ends (kill -9 included): a
    crash never leaves a stale lock behind. The file names its holder, for the message a
    second process gives when it refuses to start.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(f"{database.name}.lock")
        self._file = None

    def acquire(self) -> None:
        file = os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE), "r+", encoding="utf-8")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(file.read() or "{}")
            except ValueError:  # the holder is writing it this very moment
                holder = {}
            file.close()
            raise AlreadyRunning(self.database, {key: str(holder.get(key, "?")) for key in ("pid", "host", "since")})
        except BaseException:
            file.close()
            raise
        file.truncate(0)
        file.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now()}))
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the lock
            self._file = None


class Database:
    """One aiosqlite connection shared by the whole bot.

    aiosqlite runs one thread per connection; the lock keeps one coroutine's transaction from
    interleaving with another's statements on that shared connection.
    """

    def __init__(self, connection: aiosqlite.Connection, lock: InstanceLock | None = None) -> None:
        self.connection = connection
        self._lock = asyncio.Lock()
        self._instance = lock

    @classmethod
    async def open(cls, path: Path | str, *, read_only: bool = False) -> Database:
        """Open (creating and migrating it if need be) the bot's database.

        ``read_only`` is for commands that only read (``python -m bot export``): the file is
        opened with SQLite's ``mode=ro``, nothing is migrated nor written, and the running bot
        is not disturbed. A writer holds the database's lock file for as long as it runs.
        Raises DatabaseUnavailable (or AlreadyRunning) with the connection closed again: an
        open aiosqlite connection keeps its thread, and the process, alive for ever.
        """
        lock = None
        try:
            if read_only:
                connection = await aiosqlite.connect(
                    f"file:{quote(str(Path(path).absolute()))}?mode=ro", uri=True, isolation_level=None
                )
            else:
                if str(path) != ":memory:":
                    _private_folder(Path(path))
                    lock = InstanceLock(Path(path))
                    lock.acquire()
                    _private_file(Path(path))
                connection = await aiosqlite.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as error:
            if lock is not None:
                lock.release()
            raise DatabaseUnavailable(path, error) from error
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        database = cls(connection, lock)
        try:
            await database._configure(read_only)
        except BaseException as error:
            await database.close()
            if isinstance(error, sqlite3.Error | OSError):
                raise DatabaseUnavailable(path, error) from error
            raise
        return database

    async def _configure(self, read_only: bool) -> None:
        connection = self.connection
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
        pragmas = [f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}", "PRAGMA foreign_keys = ON"]
        if not read_only:
            pragmas = ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", *pragmas]
        for pragma in pragmas:
            await connection.execute(pragma)
        if read_only:
            current, latest = await self._version(), _migrations()[-1][0]
            if current < latest:  # the queries would fail on tables this bot version adds
                raise sqlite3.DatabaseError(f"schema version {current}, this bot needs {latest}: start the bot once")
        else:
            await self.migrate()

    async def close(self) -> None:
        try:
            await self.connection.close()
        finally:
            if self._instance is not None:
                self._instance.release()

    async def _version(self) -> int:
        (current,) = await row(self.connection, "PRAGMA user_version")
        return current

    async def migrate(self) -> None:
        """Apply every migration newer than the file's ``PRAGMA user_version``, each atomically.

        The version is read inside the migration's write transaction: a process that
        migrated meanwhile (a newer bot started by hand) is seen, not migrated over.
        """
        for version, script in _migrations():
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                if version <= await self._version():
                    await self.connection.execute("COMMIT")
                    continue
                logger.info("Applying migration %s", script.name)
                for statement in _statements(script.read_text(encoding="utf-8")):
                    await self.connection.execute(statement)
                await self.connection.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                await self._rollback()
                raise
            await self.connection.execute("COMMIT")

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
                await self._rollback()
                raise
            else:
                await self.connection.execute("COMMIT")

    async def _rollback(self) -> None:
        """Roll back the open transaction, unless SQLite already did: on a full disk or an I/O
        error it ends the transaction itself, and « cannot rollback - no transaction is
        active » would then hide the error that matters, which the caller re-raises."""
        try:
            await self.connection.execute("ROLLBACK")
        except sqlite3.OperationalError:
            if self.connection.in_transaction:
                raise

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


def _migrations() -> list[tuple[int, object]]:
    return sorted(
        (int(item.name.split("_", 1)[0]), item) for item in MIGRATIONS.iterdir() if item.name.endswith(".sql")
    )


def _statements(script: str) -> list[str]:
    """A migration's statements one by one (``executescript`` would commit the transaction
    first); a ``;`` inside a string or a trigger does not end its statement."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending)  # the text after the last ";" makes an empty one: harmless
            pending = ""
    return statements


def backup(source: Path, target: Path) -> None:
    """Copy the database at ``source`` to ``target``, consistently even while the bot writes.

    SQLite's online backup copies in one step, inside one read transaction: a snapshot of
    the last commit, WAL included (a plain file copy could miss it or catch a commit half
    written). In WAL mode the bot never waits for it, nor it for the bot. The copy is checked,
    made a single self-contained file, then renamed onto ``target``: ``target`` is either a
    whole, sound copy or left as it was.
    """
    _private_folder(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    _private_file(partial)
    live_uri = f"file:{quote(str(source.absolute()))}?mode=ro"  # a backup only reads the live file
    try:
        with closing(sqlite3.connect(live_uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as live, \
                closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file beside the copy
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupFailed(verdict)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)

