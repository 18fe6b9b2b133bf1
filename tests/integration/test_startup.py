"""``python -m bot`` starting up as a real process: Telegram out of reach, a token Telegram
rejects, a database it cannot open or that another bot uses; and ``export``, which only reads."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_application
from bot.core.library import load_library
from bot.handlers import redelivery
from bot.storage import outbox
from bot.storage.db import Database
from tests.crash.process import BotProcess
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import CONVERSATIONS, RunningBot, settings_for

CLI = load_library(CONVERSATIONS).messages.cli
EXIT_CONFIGURATION, EXIT_NO_DATABASE, EXIT_ALREADY_RUNNING = 2, 3, 5


def before_placeholder(template: str) -> str:
    """The fixed start of a text, to find it in a log whatever fills its placeholders."""
    return template.split("{", 1)[0]


async def exit_status(bot: BotProcess, timeout: float = 30) -> int:
    try:
        return await asyncio.wait_for(bot.process.wait(), timeout)
    except TimeoutError:
        await bot.kill()
        raise AssertionError(f"the bot neither started nor exited: it hangs\n{bot.tail()}") from None


async def test_telegram_out_of_reach_at_start_up_is_waited_out_and_the_menu_set_later(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotProcess(fake, tmp_path, TELEGRAM_TIMEOUT_SECONDS="1", OUTBOX_RETRY_SECONDS="0.2")
    fake.fail_next("getMe", 502, "Bad Gateway", times=2)
    fake.fail_next("setMyCommands", 500, "Internal Server Error")
    await bot.start()
    try:
        await bot.ready(timeout=40)
        log = bot.log.read_text(encoding="utf-8")
        assert log.count("Telegram cannot be reached at start-up (Bad Gateway); trying again") == 2, log
        assert "Could not set the command menu (Internal Server Error)" in log
        for _ in range(200):  # the menu, set again by a job once Telegram takes it
            if fake.commands_for({"type": "all_private_chats"}):
                break
            await asyncio.sleep(0.05)
        assert fake.commands_for({"type": "all_private_chats"}), bot.tail()
    finally:
        assert await bot.stop() == 0


async def test_a_token_telegram_rejects_is_never_printed_and_stops_for_good(fake: FakeTelegram, tmp_path: Path) -> None:
    rejected = "987654:AAH-rejected-secret-part-of-the-token"
    bot = BotProcess(fake, tmp_path)
    bot.environment["TELEGRAM_BOT_TOKEN"] = rejected
    await bot.start()
    assert await exit_status(bot) == EXIT_CONFIGURATION
    log = bot.log.read_text(encoding="utf-8")
    assert CLI.token_rejected in log
    assert rejected not in log and rejected.split(":", 1)[1] not in log, log


async def test_a_database_that_cannot_be_opened_is_explained_and_the_process_ends(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotProcess(fake, tmp_path)
    bot.database.write_bytes(b"this is no SQLite file" * 200)
    await bot.start()
    assert await exit_status(bot) == EXIT_NO_DATABASE
    log = bot.log.read_text(encoding="utf-8")
    assert before_placeholder(CLI.database_unavailable) + str(bot.database) in log
    assert "Traceback" not in log


async def test_a_second_bot_on_the_same_database_is_refused_naming_the_first(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    first = BotProcess(fake, tmp_path / "premier")
    (tmp_path / "premier").mkdir()
    (tmp_path / "second").mkdir()
    second = BotProcess(fake, tmp_path / "second")
    second.environment["DATABASE_PATH"] = str(first.database)
    await first.start()
    try:
        await first.ready()
        await second.start()
        assert await exit_status(second) == EXIT_ALREADY_RUNNING
        log = second.log.read_text(encoding="utf-8")
        assert before_placeholder(CLI.already_running) + str(first.database) in log
        assert f"processus {first.process.pid} sur " in log, log
    finally:
        assert await first.stop() == 0


def export(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment.update(DATABASE_PATH=str(database), FLOWS_DIR=str(CONVERSATIONS))
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        capture_output=True,
        text=True,
        cwd=CONVERSATIONS.parent,
        env=environment,
        timeout=60,
    )


async def test_export_changes_nothing_in_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await (await Database.open(path)).close()  # a bot that never recorded these files
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    result = await asyncio.to_thread(export, path, "--chat", "-1001")

    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    with closing(sqlite3.connect(path)) as database:
        assert database.execute("SELECT COUNT(*) FROM flow_versions").fetchone() == (0,)


async def test_export_on_a_file_that_is_no_database_is_explained_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"this is no SQLite file" * 200)
    result = await asyncio.to_thread(export, path, "--chat", "-1001")
    assert result.returncode == EXIT_NO_DATABASE
    assert before_placeholder(CLI.database_unavailable) + str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_systemd_and_docker_restart_on_anything_but_a_configuration_error_and_keep_files_private() -> None:
    unit = (CONVERSATIONS.parent / "deploy" / "colibris-partenariats.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["RestartPreventExitStatus"] == str(EXIT_CONFIGURATION)  # 1 is any crash: restart it
    assert settings["UMask"] == "0077"
    assert "umask 0077 && exec python -m bot" in (CONVERSATIONS.parent / "Dockerfile").read_text(encoding="utf-8")


async def test_sent_messages_and_update_marks_are_forgotten_every_day_not_only_at_start_up(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    assert bot.application.job_queue is not None
    (purge,) = bot.application.job_queue.get_jobs_by_name("purge")
    assert purge.job.trigger.interval == timedelta(days=1)
    eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat()

    def a_week_old(connection: sqlite3.Connection) -> None:  # a bot that has run for a week since
        connection.execute("INSERT INTO processed_updates VALUES (1, ?)", (eight_days_ago,))
        outbox.enqueue(connection, -1001, ["Camille : consentement"])
        connection.execute("UPDATE outbox SET status = 'sent', done_at = ?", (eight_days_ago,))

    await bot.database.write(a_week_old)

    await purge.run(bot.application)

    assert await bot.database.fetch_all("SELECT * FROM processed_updates WHERE update_id = 1") == []
    assert await bot.database.fetch_all("SELECT * FROM outbox") == []


async def test_a_pending_delivery_of_a_kind_nobody_registered_stops_the_start_naming_it(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    bot = BotProcess(fake, tmp_path)
    database = await Database.open(bot.database)  # a delivery queued by a version that had this kind
    await database.write(lambda connection: outbox.enqueue(connection, -1001, ["bilan"], kind="retired-kind"))
    await database.close()
    await bot.start()
    assert await exit_status(bot) != 0
    log = bot.log.read_text(encoding="utf-8")
    assert "the outbox holds deliveries of kinds no part of the bot registered: 'retired-kind' (1 pending)" in log
    assert not fake.sent, "nothing is sent before the start is refused"


def test_build_application_refuses_a_processor_that_would_not_mark_updates_finished(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ElsewhereLedger(redelivery.ChatOrderedProcessor):
        """Updates processed concurrently, marked finished in a ledger the polls never read."""

        def __init__(self, ledger: redelivery.HandledQueue, max_concurrent_updates: int) -> None:
            super().__init__(redelivery.HandledQueue(acknowledge_each=False), max_concurrent_updates)

    settings = settings_for(fake, tmp_path)
    library = load_library(CONVERSATIONS)
    build_application(settings, library)  # the bot's own arrangement passes
    monkeypatch.setattr(redelivery, "ChatOrderedProcessor", ElsewhereLedger)
    with pytest.raises(redelivery.UnsafeAcknowledgement, match="does not mark updates finished"):
        build_application(settings, library)


async def test_a_job_falling_due_while_the_bot_stops_is_held_for_the_next_start(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = RunningBot(settings_for(fake, tmp_path / "stopping"))
    await running.start()
    started: list[str] = []

    async def running_job(context: object) -> None:
        started.append("running")
        await asyncio.sleep(0.3)  # the stop waits for it

    async def due_meanwhile(context: object) -> None:
        started.append("due meanwhile")
        await asyncio.sleep(0.5)  # still running when the job queue shuts down: it would be cancelled

    job_queue = running.application.job_queue
    assert job_queue is not None
    job_queue.run_once(running_job, 0)
    job_queue.run_once(due_meanwhile, 0.1)
    while not started:
        await asyncio.sleep(0.01)
    with caplog.at_level(logging.ERROR):
        await running.stop()
    assert started == ["running"]
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
