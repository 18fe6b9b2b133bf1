"""One round trip to aiosqlite's thread per unit of work: write, read, claim."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.storage.db import AlreadyHandled, Database

INSERT_CHAT = "INSERT INTO chats (id, type, title, updated_at) VALUES (?, 'group', ?, 'x')"


class Trips:
    """Counts the calls queued on the database's aiosqlite thread (what the bench counts too)."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        queue_call: Callable[..., Awaitable[object]] = database.connection._execute  # untyped in aiosqlite

        async def counted(function: Callable[..., object], *args: object, **kwargs: object) -> object:
            self.count += 1
            return await queue_call(function, *args, **kwargs)

        # aiosqlite's private entry point, replaced on this one instance to count its calls.
        database.connection._execute = counted  # type: ignore[method-assign,assignment]


def titles(connection: sqlite3.Connection) -> list[str]:
    return [title for (title,) in connection.execute("SELECT title FROM chats ORDER BY id")]


def add_chats(connection: sqlite3.Connection, *names: str) -> int:
    for number, name in enumerate(names, start=1):
        connection.execute(INSERT_CHAT, (number, name))
    return len(names)


async def test_a_unit_of_work_runs_whole_on_aiosqlites_thread(database: Database) -> None:
    """Pins what bot.storage.db._on_thread relies on in aiosqlite (its private _execute, _conn)."""
    seen: list[tuple[int, sqlite3.Connection]] = []

    def change(connection: sqlite3.Connection) -> int:
        seen.append((threading.get_ident(), connection))
        return add_chats(connection, "A", "B")

    trips = Trips(database)
    assert await database.write(change) == 2
    assert trips.count == 1
    [(thread, connection)] = seen
    assert thread == database.connection._thread.ident != threading.get_ident()
    assert connection is database.connection._conn
    assert await database.read(titles) == ["A", "B"]
    assert trips.count == 2


async def test_a_write_marks_its_update_in_the_same_trip_and_applies_once(database: Database) -> None:
    trips = Trips(database)
    await database.write(lambda connection: add_chats(connection, "A"), update_id=700)
    assert trips.count == 1
    with pytest.raises(AlreadyHandled):
        await database.write(lambda connection: add_chats(connection, "A", "B"), update_id=700)
    assert await database.read(titles) == ["A"]
    assert await database.handled(700) and not await database.handled(701)


async def test_a_failed_write_keeps_nothing_not_even_its_update_mark(database: Database) -> None:
    def failing(connection: sqlite3.Connection) -> None:
        add_chats(connection, "A")
        raise RuntimeError("panne")

    with pytest.raises(RuntimeError):
        await database.write(failing, update_id=800)
    assert await database.read(titles) == []
    assert not await database.handled(800)
    await database.write(lambda connection: add_chats(connection, "B"), update_id=800)
    assert await database.read(titles) == ["B"]


async def test_a_claimed_update_changes_nothing_else_and_is_claimed_once(database: Database) -> None:
    await database.claim(900)
    assert await database.handled(900)
    with pytest.raises(AlreadyHandled):
        await database.claim(900)
    assert await database.read(titles) == []


async def test_a_read_is_answered_while_another_process_holds_the_write_lock(
    database: Database, tmp_path: Path
) -> None:
    await database.write(lambda connection: add_chats(connection, "A"))
    other = sqlite3.connect(tmp_path / "bot.sqlite3", isolation_level=None)  # an admin's sqlite3
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(INSERT_CHAT, (2, "B"))
        # A read taking the write lock would wait out busy_timeout (5 s) and fail.
        assert await asyncio.wait_for(database.read(titles), 1) == ["A"]
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_reads_between_concurrent_writes_see_each_write_whole(database: Database) -> None:
    def pair(number: int) -> Callable[[sqlite3.Connection], None]:
        def add(connection: sqlite3.Connection) -> None:
            connection.execute(INSERT_CHAT, (2 * number, "pair"))
            connection.execute(INSERT_CHAT, (2 * number + 1, "pair"))

        return add

    results = await asyncio.gather(*(database.write(pair(n)) if n % 2 else database.read(titles) for n in range(60)))
    assert all(len(seen) % 2 == 0 for seen in results if seen is not None)


async def test_reads_asked_together_share_a_trip_each_with_its_own_result_or_error(database: Database) -> None:
    await database.write(lambda connection: add_chats(connection, "A"))
    trips = Trips(database)

    def failing(connection: sqlite3.Connection) -> None:
        connection.execute("SELECT * FROM no_such_table")

    def count(connection: sqlite3.Connection) -> int:
        (number,) = connection.execute("SELECT COUNT(*) FROM chats").fetchone()
        return int(number)

    asked = [database.read(titles), database.read(failing), database.read(count), database.read(titles)]
    first, failed, counted, last = await asyncio.gather(*asked, return_exceptions=True)
    assert trips.count == 1  # asked while none was on the thread: one trip, one snapshot
    assert first == last == ["A"] and counted == 1
    assert isinstance(failed, sqlite3.OperationalError)
    # Asked once a write was committed, a read sees it, in a trip of its own.
    await database.write(lambda connection: connection.execute(INSERT_CHAT, (2, "B")))
    assert await database.read(count) == 2
    assert trips.count == 3


async def test_a_fresh_update_is_known_unhandled_without_a_trip_and_a_redelivery_is_found(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "bot.sqlite3")
    await database.write(lambda connection: add_chats(connection, "A"), update_id=41)
    await database.close()
    database = await Database.open(tmp_path / "bot.sqlite3")  # after a restart
    try:
        trips = Trips(database)
        assert await database.handled(41)  # redelivered: looked up
        assert trips.count == 1
        assert not await database.handled(42)  # above every mark: no trip
        assert trips.count == 1
        await database.claim(43)
        assert await database.handled(43) and not await database.handled(40)
    finally:
        await database.close()
