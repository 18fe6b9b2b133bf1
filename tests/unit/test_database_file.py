"""The database file itself: opening it or failing to, migrating it once, one writer, its modes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from contextlib import closing
from pathlib import Path

import pytest

from bot.storage import db
from bot.storage.db import AlreadyRunning, Database, DatabaseUnavailable

INSERT_CHAT = "INSERT INTO chats (id, type, updated_at) VALUES (?, ?, '')"


def aiosqlite_threads() -> list[threading.Thread]:
    """aiosqlite's connection threads still alive: one left open keeps the process from exiting."""
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name and t.is_alive()]


async def no_aiosqlite_thread() -> bool:
    for _ in range(100):
        if not aiosqlite_threads():
            return True
        await asyncio.sleep(0.01)
    return False


def latest_migration() -> int:
    return db._migrations()[-1][0]


# --- a database that cannot be opened ---------------------------------------------------------


async def test_a_failed_migration_is_reported_and_closes_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with closing(sqlite3.connect(path)) as foreign:  # a table the first migration creates
        foreign.execute("CREATE TABLE chats (id INTEGER)")

    with pytest.raises(DatabaseUnavailable, match="already exists"):
        await Database.open(path)

    assert await no_aiosqlite_thread(), "the connection's thread would keep the process alive for ever"
    with closing(sqlite3.connect(path)) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (0,), "the failed migration left nothing"


async def test_a_file_that_is_not_a_database_is_reported_and_closes_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DatabaseUnavailable, match="not a database"):
        await Database.open(path)
    assert await no_aiosqlite_thread()


async def test_a_path_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    with pytest.raises(DatabaseUnavailable):
        await Database.open(tmp_path / "a-file" / "bot.sqlite3")
    assert await no_aiosqlite_thread()


# --- migrations and a second process ------------------------------------------------------------


async def test_a_migration_applied_while_this_process_waited_is_not_applied_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    other = sqlite3.connect(path, isolation_level=None)  # another process, migrating this very moment
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("BEGIN IMMEDIATE")
    for _version, script in db._migrations():
        for statement in db._statements(script.read_text(encoding="utf-8")):
            other.execute(statement)
    other.execute(f"PRAGMA user_version = {latest_migration()}")

    opening = asyncio.create_task(Database.open(path))
    await asyncio.sleep(0.5)  # it reads the version and waits for the write lock
    other.execute("COMMIT")
    other.close()
    database = await asyncio.wait_for(opening, 10)
    try:
        assert (await database.fetch_one("PRAGMA user_version"))[0] == latest_migration()
    finally:
        await database.close()


async def test_a_second_writer_on_the_same_database_is_refused_with_the_first_ones_name(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    first = await Database.open(path)
    try:
        with pytest.raises(AlreadyRunning) as refused:
            await Database.open(path)
        assert refused.value.holder["pid"] == str(os.getpid())
        assert refused.value.holder["host"] and refused.value.holder["since"].startswith("20")
        assert await first.fetch_one("SELECT 1") is not None, "the first one keeps working"
    finally:
        await first.close()
    again = await Database.open(path)  # the lock goes with the process that held it
    await again.close()


# --- read-only ----------------------------------------------------------------------------------


async def test_a_read_only_opening_changes_nothing_and_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await Database.open(path)).close()
    with closing(sqlite3.connect(path)) as older:  # as if a newer bot had a migration to apply
        older.execute(f"PRAGMA user_version = {latest_migration() - 1}")
    before = path.read_bytes()

    with pytest.raises(DatabaseUnavailable, match="start the bot once"):
        await Database.open(path, read_only=True)
    assert path.read_bytes() == before, "a read-only command migrated the database"

    with closing(sqlite3.connect(path)) as current:
        current.execute(f"PRAGMA user_version = {latest_migration()}")
    reader = await Database.open(path, read_only=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.write(lambda connection: connection.execute(INSERT_CHAT, (1, "private")))
    finally:
        await reader.close()


async def test_a_read_only_opening_works_beside_the_running_bot(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    writer = await Database.open(path)
    try:
        reader = await Database.open(path, read_only=True)  # no lock: it never writes
        await reader.close()
    finally:
        await writer.close()


# --- a full disk ------------------------------------------------------------------------------


async def test_a_full_disk_is_reported_as_such_not_as_a_failed_rollback(database: Database) -> None:
    pages = (await database.fetch_one("PRAGMA page_count"))[0]
    await database.read(lambda connection: connection.execute(f"PRAGMA max_page_count = {pages + 1}"))

    def too_big(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO chats (id, type, title, updated_at) VALUES (1, 'group', zeroblob(100000), '')")

    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        await database.write(too_big, update_id=10)
    assert await database.fetch_one("SELECT 1 FROM chats") is None
    assert not await database.handled(10)
    await database.write(lambda connection: connection.execute(INSERT_CHAT, (2, "group")))  # the next write works
    assert [row["id"] for row in await database.fetch_all("SELECT id FROM chats")] == [2]


# --- who can read the files -------------------------------------------------------------------


@pytest.fixture
def usual_umask():
    previous = os.umask(0o022)  # a shell's default: files readable by every local user
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_its_journal_lock_and_folder_are_private(tmp_path: Path, usual_umask) -> None:
    path = tmp_path / "donnees" / "bot.sqlite3"
    database = await Database.open(path)
    try:
        await database.write(lambda connection: connection.execute(INSERT_CHAT, (1, "group")))
        files = [
            path,
            path.with_name("bot.sqlite3-wal"),
            path.with_name("bot.sqlite3-shm"),
            path.with_name("bot.sqlite3.lock"),
        ]
        assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
        assert oct(mode(path.parent)) == "0o700"
    finally:
        await database.close()


async def test_a_backup_is_private(tmp_path: Path, usual_umask) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await Database.open(path)).close()
    target = tmp_path / "sauvegardes" / "copie.sqlite3"
    db.backup(path, target)
    assert (oct(mode(target)), oct(mode(target.parent))) == ("0o600", "0o700")
