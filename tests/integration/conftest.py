"""The real bot, running against the tests' fake Bot API server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.core.library import load_library
from bot.storage.db import Database
from tests.fake_telegram import FakeTelegram

CONVERSATIONS = Path(__file__).resolve().parents[2] / "conversations"


class RunningBot:
    """The application as ``python -m bot`` runs it, startable and stoppable like a process.

    ``polls``: it fetches its updates from the fake server as the real bot does; without, a
    test hands them over (``DirectBot``)."""

    polls = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.application: Application | None = None

    def build(self) -> Application:
        return build_application(self.settings, load_library(self.settings.flows_dir))

    async def start(self) -> None:
        application = self.build()
        await application.initialize()
        await application.post_init(application)
        await application.start()  # the job queue
        if self.polls:
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
        self.application = application

    async def stop(self) -> None:
        application, self.application = self.application, None
        if application is None:
            return
        if self.polls:
            await application.updater.stop()
        await application.stop()
        await application.post_shutdown(application)
        await application.shutdown()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def database(self) -> Database:
        return self.application.bot_data["services"].database


def settings_for(fake: FakeTelegram, tmp_path: Path, **overrides: object) -> Settings:
    values = {
        "telegram_bot_token": fake.token,
        "telegram_base_url": fake.base_url,
        "telegram_base_file_url": fake.base_file_url,
        "database_path": tmp_path / "bot.sqlite3",
        "flows_dir": CONVERSATIONS,
        "rate_limit_overall_per_second": 0,
        "rate_limit_group_per_minute": 0,
        "rate_limit_max_retries": 0,
        "polling_timeout": 1,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
async def fake():
    async with FakeTelegram() as server:
        yield server


@asynccontextmanager
async def running_bot(fake: FakeTelegram, tmp_path: Path, **overrides: object) -> AsyncIterator[RunningBot]:
    """A polling bot with these settings, stopped however the block ends."""
    running = RunningBot(settings_for(fake, tmp_path, **overrides))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path):
    async with running_bot(fake, tmp_path) as running:
        yield running
