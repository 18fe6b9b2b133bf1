"""Group commit: writes that wait for the same commit share its fsync, each one still whole."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable

import pytest

from bot.storage.db import AlreadyHandled, Database

INSERT_CHAT = "INSERT INTO chats (id, type, title, updated_at) VALUES (?, 'group', ?, 'x')"


def add_chat(number: int, title: str) -> Callable[[sqlite3.Connection], int]:
    def change(connection: sqlite3.Connection) -> int:
        connection.execute(INSERT_CHAT, (number, title))
        return number

    return change


def titles(connection: sqlite3.Connection) -> list[str]:
    return [title for (title,) in connection.execute("SELECT title FROM chats ORDER BY id")]


class Commits:
    """Counts the COMMITs the database's connection runs (SQLite's trace callback)."""

    def __init__(self) -> None:
        self.count = 0

    @classmethod
    async def on(cls, database: Database) -> Commits:
        commits = cls()

        def trace(statement: str) -> None:
            if statement == "COMMIT":
                commits.count += 1

        await database.read(lambda connection: connection.set_trace_callback(trace))
        return commits


async def test_concurrent_writes_share_commits_and_each_returns_its_own_result(database: Database) -> None:
    commits = await Commits.on(database)
    before = commits.count
    results = await asyncio.gather(*(database.write(add_chat(n, f"G{n}"), update_id=n) for n in range(1, 51)))
    assert results == list(range(1, 51))
    assert commits.count - before == 1  # all fifty were waiting when the first commit began
    assert await database.read(titles) == [f"G{n}" for n in range(1, 51)]
    assert all([await database.handled(n) for n in range(1, 51)])


async def test_writes_arriving_during_a_commit_share_the_next_one(database: Database) -> None:
    commits = await Commits.on(database)
    before = commits.count
    first = asyncio.ensure_future(database.write(add_chat(1, "first")))
    await asyncio.sleep(0)  # the first commit is on its way to the thread
    later = [database.write(add_chat(n, f"G{n}")) for n in range(2, 12)]
    assert await asyncio.gather(first, *later) == list(range(1, 12))
    assert commits.count - before == 2


async def test_the_database_counts_its_commits_and_the_units_they_carried(database: Database) -> None:
    commits = await Commits.on(database)
    before, units = (database.commits, commits.count), database.units_committed
    first = asyncio.ensure_future(database.write(add_chat(1, "first")))
    await asyncio.sleep(0)
    await asyncio.gather(first, *(database.write(add_chat(n, f"G{n}")) for n in range(2, 12)))
    assert database.commits - before[0] == commits.count - before[1] == 2
    assert database.units_committed - units == 11

    def fails(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE chats (id INTEGER)")  # an error SQLite ends nothing for

    with pytest.raises(sqlite3.OperationalError):
        await database.write(fails)
    assert database.commits - before[0] == commits.count - before[1] == 3  # committed with nothing kept
    assert database.units_committed - units == 12


async def test_a_failing_write_is_undone_alone_and_the_others_are_kept(database: Database) -> None:
    def fails(connection: sqlite3.Connection) -> None:
        connection.execute(INSERT_CHAT, (99, "half"))
        raise ValueError("refused")

    first, second, failed, fourth = await asyncio.gather(
        database.write(add_chat(1, "A"), update_id=1),
        database.write(add_chat(2, "B"), update_id=2),
        database.write(fails, update_id=3),
        database.write(add_chat(4, "D"), update_id=4),
        return_exceptions=True,
    )
    assert (first, second, fourth) == (1, 2, 4)
    assert isinstance(failed, ValueError)
    assert await database.read(titles) == ["A", "B", "D"]
    assert not await database.handled(3)  # its mark went with its change: a redelivery applies it
    assert await database.handled(4)


async def test_a_redelivered_update_in_a_shared_commit_changes_nothing(database: Database) -> None:
    await database.write(add_chat(1, "A"), update_id=7)
    outcomes = await asyncio.gather(
        database.write(add_chat(2, "B"), update_id=8),
        database.write(add_chat(3, "again"), update_id=7),
        return_exceptions=True,
    )
    assert outcomes[0] == 2 and isinstance(outcomes[1], AlreadyHandled)
    assert await database.read(titles) == ["A", "B"]


async def test_an_error_that_ends_the_transaction_fails_every_write_of_the_commit(database: Database) -> None:
    """A full disk makes SQLite roll back the whole transaction: none of its writes is kept,
    so none may tell its caller it was."""
    await database.write(add_chat(1, "A"))
    page_count = await database.read(lambda connection: connection.execute("PRAGMA page_count").fetchone()[0])

    def fill_the_disk(connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA max_page_count = {page_count + 1}")
        connection.execute("CREATE TABLE filler (x BLOB)")
        connection.execute("INSERT INTO filler VALUES (zeroblob(1000000))")

    outcomes = await asyncio.gather(
        database.write(add_chat(2, "B")),
        database.write(add_chat(3, "C")),
        database.write(fill_the_disk),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, sqlite3.OperationalError) for outcome in outcomes[1:])
    assert await database.read(titles) in (["A", "B"], ["A"])  # B may have had a commit of its own
    assert "C" not in await database.read(titles)


@pytest.mark.parametrize("writes", [1, 3])
async def test_a_cancelled_caller_does_not_stop_the_others(database: Database, writes: int) -> None:
    waiting = [asyncio.ensure_future(database.write(add_chat(n, f"G{n}"))) for n in range(1, writes + 2)]
    waiting[-1].cancel()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert outcomes[:-1] == list(range(1, writes + 1))
    assert isinstance(outcomes[-1], asyncio.CancelledError)
