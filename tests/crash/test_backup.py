"""``python -m bot backup PATH`` while the bot runs and writes: a sound copy, which restores."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from tests.crash.process import BotProcess, bot_environment
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser, as_read
from tests.integration.conversation import LIBRARY, ONE_OFF_REQUEST, file_request, plain, until

# What the bot's thanks for a filed request start with, whatever its number.
THANKS = plain(LIBRARY.messages.intake.saved.partition("{number}")[0])


async def file_thanked(fake: FakeTelegram, member: FakeUser, group: FakeChat, partner: str) -> None:
    """The member files a request for the group in private, up to the bot's thanks."""
    await file_request(fake, member, group, [partner, *ONE_OFF_REQUEST[1:]])
    await until(fake, fake.private_chat(member), lambda m: m.plain_text.startswith(THANKS))


async def keep_filing(fake: FakeTelegram, member: FakeUser, group: FakeChat, stop: asyncio.Event) -> int:
    """File requests one after the other until told to stop; how many."""
    filed = 0
    while not stop.is_set():
        await file_thanked(fake, member, group, f"Partenaire {filed + 1} de {member.first_name}")
        filed += 1
    return filed


async def backup(bot: BotProcess, path: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "backup",
        str(path),
        cwd=bot.workdir,
        env=bot.environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None  # communicate waited for the exit
    return process.returncode, out.decode(), err.decode()


def requests_in(path: Path) -> dict[str, int]:
    """A copy's requests (partner -> answers stored), after SQLite checked the whole file."""
    with closing(sqlite3.connect(path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        return dict(
            copy.execute(
                "SELECT partner_name, COUNT(a.step_id) FROM requests r"
                " LEFT JOIN request_answers a ON a.request_id = r.id GROUP BY r.id"
            ).fetchall()
        )


async def test_a_backup_taken_while_the_bot_writes_is_whole_and_restores(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        bea, cal = fake.add_user("Bea"), fake.add_user("Cal")
        group = fake.add_group("GL Gard", [bea, cal])
        bot = BotProcess(fake, tmp_path)
        await bot.start()
        try:
            await bot.ready()
            for partner in ("Alternatiba Gard", "Emmaüs Alès"):
                await file_thanked(fake, bea, group, partner)

            # Cal files request after request while three copies are taken.
            stop = asyncio.Event()
            writer = asyncio.create_task(keep_filing(fake, cal, group, stop))
            copies = [tmp_path / "sauvegardes" / f"copie-{index}.sqlite3" for index in range(3)]
            for copy in copies:
                code, out, err = await backup(bot, copy)
                assert code == 0, err
                assert f"Copie de la base vérifiée et enregistrée : {copy}" in as_read(out)
            stop.set()
            filed = await asyncio.wait_for(writer, 60)

            answers = len(ONE_OFF_REQUEST)
            held = [requests_in(copy) for copy in copies]
            for before, after in itertools.pairwise(held):
                assert before.items() <= after.items()  # a later copy holds at least as much
            for requests in held:
                assert {"Alternatiba Gard": answers, "Emmaüs Alès": answers}.items() <= requests.items()
                assert set(requests.values()) == {answers}  # no request without all its answers
            assert not any(copy.with_name(copy.name + "-wal").exists() for copy in copies)

            # Restore the last copy as the README says: stop, replace the file, drop -wal and -shm, start.
            assert await bot.stop() == 0, bot.tail()
            copies[-1].replace(bot.database)
            for companion in ("-wal", "-shm"):
                bot.database.with_name(bot.database.name + companion).unlink(missing_ok=True)
            await bot.start()
            await bot.ready()
            fake.send(bea, group, "/demandes")
            listing = (await fake.next_message(group)).plain_text
            while "Demandes de partenariat du groupe" not in listing:  # skip the cards
                listing = (await fake.next_message(group)).plain_text
            assert f"({len(held[-1])})" in listing
        finally:
            await bot.stop()
    assert filed > 0


def test_a_backup_needs_a_database_and_never_overwrites_it(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    environment = bot_environment(DATABASE_PATH=str(database))

    def run(target: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "backup", str(target)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment,
            timeout=60,
        )

    missing = run(tmp_path / "copie.sqlite3")
    assert missing.returncode == 3 and "Base de données introuvable" in missing.stderr
    assert not database.exists() and not (tmp_path / "copie.sqlite3").exists()

    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE requests (partner_name TEXT)")
        connection.execute("INSERT INTO requests VALUES ('Alternatiba')")
    itself = run(database)
    assert itself.returncode == 4 and "est la base elle-même" in itself.stderr
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT partner_name FROM requests").fetchall() == [("Alternatiba",)]
