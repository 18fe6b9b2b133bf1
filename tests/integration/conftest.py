"""The real bot, running against the tests' fake Bot API server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.core.library import load_library
from bot.services import BotApplication, Services
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
        self._application: BotApplication | None = None

    @property
    def application(self) -> BotApplication:
        """The application between ``start`` and ``stop``."""
        if self._application is None:
            raise RuntimeError("the bot is not running")
        return self._application

    @application.setter
    def application(self, application: BotApplication) -> None:
        self._application = application

    def build(self) -> BotApplication:
        return build_application(self.settings, load_library(self.settings.flows_dir))

    async def start(self) -> None:
        application = self.build()
        # build_application gives both: the bot's own start-up, and an updater to poll with.
        assert application.post_init is not None and application.updater is not None
        await application.initialize()
        await application.post_init(application)
        await application.start()  # the job queue
        if self.polls:
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
        self._application = application

    async def stop(self) -> None:
        application, self._application = self._application, None
        if application is None:
            return
        assert application.post_shutdown is not None and application.updater is not None  # as in start
        if self.polls:
            await application.updater.stop()
        await application.stop()
        await application.post_shutdown(application)
        await application.shutdown()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services

    @property
    def database(self) -> Database:
        return self.services.database


def settings_for(fake: FakeTelegram, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {  # of every type: Settings validates them
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
async def fake() -> AsyncIterator[FakeTelegram]:
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
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_bot(fake, tmp_path) as running:
        yield running
