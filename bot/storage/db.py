"""The bot's SQLite database: its connection and settings, migrations, one-trip writes and reads, backups."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Generic, Protocol, TextIO, TypeVar, cast
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


T = TypeVar("T")
Parameters = tuple[object, ...]  # a statement's ? values


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _on_thread(connection: aiosqlite.Connection, work: Callable[..., T], *args: object) -> Awaitable[T]:
    """Run ``work(the sqlite3 connection, *args)`` on aiosqlite's thread: one round trip.

    The one place that reaches into aiosqlite. It has no public way to run a function on its
    thread (every public method is one statement, one trip); ``Connection._execute`` queues any
    callable there and ``Connection._conn`` is the sqlite3 connection that thread owns, both
    as they are in 0.20 to 0.22, the range pyproject.toml allows;
    tests/unit/test_units_of_work.py::test_a_unit_of_work_runs_whole_on_aiosqlites_thread pins the
    behaviour, so an aiosqlite release that moves them fails a test, not the bot.
    """
    queue_call: Callable[..., Awaitable[T]] = connection._execute  # untyped in aiosqlite
    return queue_call(work, connection._conn, *args)


def _apply(connection: sqlite3.Connection, statements: list[str]) -> None:
    for statement in statements:
        connection.execute(statement)


def _mark_handled(connection: sqlite3.Connection, update_id: int) -> None:
    """Record the update in the open write transaction; AlreadyHandled if it was before."""
    cursor = connection.execute(
        "INSERT OR IGNORE INTO processed_updates (update_id, processed_at) VALUES (?, ?)", (update_id, now())
    )
    if cursor.rowcount == 0:
        raise AlreadyHandled(update_id)


def _rollback(connection: sqlite3.Connection) -> None:
    """Roll back the open transaction, unless SQLite already did: on a full disk or an I/O
    error it ends the transaction itself, and « cannot rollback - no transaction is
    active » would then hide the error that matters, which the caller re-raises."""
    try:
        connection.execute("ROLLBACK")
    except sqlite3.OperationalError:
        if connection.in_transaction:
            raise


@dataclass
class _Unit:
    """One caller's write, waiting for the commit that makes it durable."""

    change: Callable[[sqlite3.Connection], object]
    update_id: int | None
    done: asyncio.Future[object]
    outcome: tuple[bool, object] = (False, None)  # (kept, result) or (False, error), set on the thread


def _write_units(connection: sqlite3.Connection, units: list[_Unit]) -> None:
    """Apply every unit in one transaction, each in its savepoint, then commit once.

    A unit that raises is undone alone (its savepoint rolled back) and gets its error; the
    others are kept. An error SQLite ends the whole transaction for (a full disk, an I/O
    error), or a failed COMMIT, undoes them all: every unit then gets that error, since none
    of them is on disk.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        for unit in units:
            connection.execute("SAVEPOINT unit")
            try:
                if unit.update_id is not None:
                    _mark_handled(connection, unit.update_id)
                unit.outcome = (True, unit.change(connection))
            except Exception as error:
                if not connection.in_transaction:
                    raise
                connection.execute("ROLLBACK TO unit")
                unit.outcome = (False, error)
            connection.execute("RELEASE unit")
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise


@dataclass
class _Read:
    """One caller's read, waiting for the snapshot it shares with the reads queued with it."""

    query: Callable[[sqlite3.Connection], object]
    done: asyncio.Future[object]
    outcome: tuple[bool, object] = (False, None)  # (read, result) or (False, error), set on the thread


def _read_all(connection: sqlite3.Connection, reads: list[_Read]) -> None:
    """Run every read in one snapshot, each getting its result or its error.

    A deferred transaction: its statements see one state of the database, even against
    another process committing meanwhile; it takes no write lock."""
    connection.execute("BEGIN")
    try:
        for read in reads:
            try:
                read.outcome = (True, read.query(connection))
            except Exception as error:
                read.outcome = (False, error)
                if not connection.in_transaction:  # an error SQLite ended it for: the next reads need one
                    connection.execute("BEGIN")
    finally:
        connection.execute("COMMIT")


class _Pending(Protocol):
    """A caller's write or read waiting for its trip: its outcome is set on the thread."""

    @property
    def done(self) -> asyncio.Future[object]: ...

    @property
    def outcome(self) -> tuple[bool, object]: ...


P = TypeVar("P", bound=_Pending)


class _Trips(Generic[P]):
    """Calls waiting for aiosqlite's thread, run a batch a round trip by one task, each caller
    getting its own outcome: the batch is what arrived while the previous one was on the thread."""

    def __init__(self, connection: aiosqlite.Connection, work: Callable[[sqlite3.Connection, list[P]], None]) -> None:
        self._connection, self._work = connection, work
        self._waiting: list[P] = []
        self._runner: asyncio.Task[None] | None = None
        self.trips = 0  # batches that ran whole (for a write, commits that reached the disk)
        self.carried = 0  # the calls they carried

    def add(self, pending: P) -> None:
        self._waiting.append(pending)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await _on_thread(self._connection, self._work, batch)
                except asyncio.CancelledError:  # the loop is shutting down
                    for pending in [*batch, *self._waiting]:
                        pending.done.cancel()
                    raise
                except Exception as error:
                    for pending in batch:
                        if not pending.done.done():
                            pending.done.set_exception(error)
                    continue
                self.trips += 1
                self.carried += len(batch)
                for pending in batch:
                    if pending.done.done():  # its caller was cancelled; a write is kept all the same
                        continue
                    ok, result = pending.outcome
                    if ok:
                        pending.done.set_result(result)
                    else:
                        pending.done.set_exception(cast(BaseException, result))
        finally:
            self._runner = None


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
        self._file: TextIO | None = None

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
            held_by = {key: str(holder.get(key, "?")) for key in ("pid", "host", "since")}
            raise AlreadyRunning(self.database, held_by) from None
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
    """One aiosqlite connection shared by the whole bot; one round trip per unit of work.

    aiosqlite owns the connection and runs every call on its one thread, in the order they
    were queued, and each call costs a round trip (~30 µs on two cores, more than most of the
    bot's statements). So a unit of work is one plain, synchronous function of a
    ``sqlite3.Connection`` (the repository functions, explicit SQL), run whole on that thread:

    - ``write(change, update_id)``: ``BEGIN IMMEDIATE``, the update's redelivery mark, the
      change, ``COMMIT``, in one trip; ``claim(update_id)`` marks an update with no change;
    - ``read(query)``: the query's statements in one snapshot, in one trip, without the write
      lock.

    Writes from chats handled at the same time share a commit (see ``write``): the fsync
    that makes a commit durable is most of a write's cost, so a busy bot pays it once for
    every write waiting, where one commit each would cap it at one fsync per update. Reads
    arriving together share a trip and its snapshot (see ``read``) for a reason of the same
    kind: the interpreter's lock, which every statement on aiosqlite's thread gives away.

    With one shared connection a read sees whatever is uncommitted on it. It never sees half a
    write here, since a write runs whole in its trip and the thread runs one trip at a time:
    which is why a read needs no lock. ``fetch_all``/``fetch_one`` are a ``read`` of one
    statement, for the tests, the bench and the command line.
    """

    def __init__(self, connection: aiosqlite.Connection, lock: InstanceLock | None = None) -> None:
        self.connection = connection
        self._instance = lock
        self._writes = _Trips[_Unit](connection, _write_units)  # a commit a trip
        self._reads = _Trips[_Read](connection, _read_all)  # a snapshot a trip
        # No update above this id was marked handled (see ``handled``); raised before each mark.
        self._highest_mark = 0

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
        await _on_thread(connection, _apply, pragmas)
        if read_only:
            current, latest = await self._version(), _migrations()[-1][0]
            if current < latest:  # the queries would fail on tables this bot version adds
                raise sqlite3.DatabaseError(f"schema version {current}, this bot needs {latest}: start the bot once")
        else:
            await self.migrate()
        (self._highest_mark,) = await self.read(
            lambda sqlite: sqlite.execute("SELECT COALESCE(MAX(update_id), 0) FROM processed_updates").fetchone()
        )

    async def close(self) -> None:
        try:
            await self.connection.close()
        finally:
            if self._instance is not None:
                self._instance.release()

    async def _version(self) -> int:
        return await self.read(_user_version)

    async def migrate(self) -> None:
        """Apply every migration newer than the file's ``PRAGMA user_version``, each atomically.

        The version is read inside the migration's write transaction: a process that
        migrated meanwhile (a newer bot started by hand) is seen, not migrated over. A
        database already up to date (every start but the first) costs one read.
        """
        migrations = _migrations()
        current = await self._version()
        for version, script in migrations:
            if version > current:
                await self.write(partial(_migrate, version=version, script=script))

    async def write(self, change: Callable[[sqlite3.Connection], T], update_id: int | None = None) -> T:
        """Apply ``change`` atomically and durably; with ``update_id``, at most once per
        Telegram update (AlreadyHandled when it changed the database before). Returns what
        ``change`` returns, once it is committed; if it raises, nothing of it is kept.

        Writes that arrive while a commit is on its way to the disk (other chats' updates,
        handled concurrently) wait for the next one and share it: one fsync for all of
        them, each still in its own savepoint and still committed before its caller goes on
        (group commit). Alone, a write is one round trip.
        """
        self._note_mark(update_id)
        unit = _Unit(change, update_id, asyncio.get_running_loop().create_future())
        self._writes.add(unit)
        return cast(T, await unit.done)

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """What ``query`` returns, read from one snapshot of the database in one round trip.

        Reads that arrive while others are on aiosqlite's thread (other chats' updates) go
        together in the next trip, one snapshot for all: each statement on that thread gives
        the interpreter's lock away and waits to take it back, the transaction's ``BEGIN`` and
        ``COMMIT`` and the trip's wake-up included, so a busy bot pays those once for every
        read waiting. A read still sees every write committed before it was asked for."""
        read = _Read(query, asyncio.get_running_loop().create_future())
        self._reads.add(read)
        return cast(T, await read.done)

    @property
    def commits(self) -> int:
        """Group commits that reached the disk (for the bench: a trace callback would cost a
        Python call per statement)."""
        return self._writes.trips

    @property
    def units_committed(self) -> int:
        """The writes those commits carried."""
        return self._writes.carried

    async def claim(self, update_id: int) -> None:
        """Mark a Telegram update handled, changing nothing else: before a side effect that
        must not happen twice (a question sent), AlreadyHandled if it was claimed before."""
        await self.write(_unchanged, update_id)

    async def fetch_all(self, sql: str, parameters: Parameters = ()) -> list[sqlite3.Row]:
        return await self.read(lambda connection: connection.execute(sql, parameters).fetchall())

    async def fetch_one(self, sql: str, parameters: Parameters = ()) -> sqlite3.Row | None:
        return await self.read(lambda connection: connection.execute(sql, parameters).fetchone())

    def _note_mark(self, update_id: int | None) -> None:
        if update_id is not None:
            self._highest_mark = max(self._highest_mark, update_id)

    async def handled(self, update_id: int) -> bool:
        """True when this Telegram update's changes were committed (it is being redelivered).

        Asked for every update. Telegram numbers updates in increasing order and this process
        is the database's only writer (InstanceLock): an update above every id ever marked
        (the highest at opening, and each one marked since, noted before it is written) cannot
        have been marked, and is answered without a round trip. Only a redelivery, or an
        update arriving after a later one, is looked up."""
        if update_id > self._highest_mark:
            return False
        return await self.read(partial(was_handled, update_id=update_id))

    async def forget_old_updates(self) -> None:
        """Drop dedup marks older than any redelivery Telegram could make."""
        cutoff = (datetime.now(UTC) - PROCESSED_UPDATES_KEPT).isoformat(timespec="seconds")
        await self.write(
            lambda connection: connection.execute("DELETE FROM processed_updates WHERE processed_at < ?", (cutoff,))
        )


def _user_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _migrate(connection: sqlite3.Connection, version: int, script: Traversable) -> None:
    """Apply one migration unless the database has it already (inside its write transaction)."""
    if version <= _user_version(connection):
        return
    logger.info("Applying migration %s", script.name)
    for statement in _statements(script.read_text(encoding="utf-8")):
        connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {version}")


def was_handled(connection: sqlite3.Connection, update_id: int) -> bool:
    """True when this Telegram update's changes were committed (a redelivery)."""
    found = connection.execute("SELECT 1 FROM processed_updates WHERE update_id = ?", (update_id,)).fetchone()
    return found is not None


def _unchanged(connection: sqlite3.Connection) -> None:
    """The change of an update that is only claimed."""


def _migrations() -> list[tuple[int, Traversable]]:
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
        with (
            closing(sqlite3.connect(live_uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)) as live,
            closing(sqlite3.connect(partial)) as copy,
        ):
            live.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # no -wal file beside the copy
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupFailed(verdict)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
