"""What every handler needs, reachable from PTB's context as ``context.services``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.catalog import FlowCatalog
from bot.config import Settings
from bot.core.library import Library
from bot.core.messages import Messages
from bot.picture import PictureWorker
from bot.storage.db import Database


@dataclass
class Services:
    settings: Settings
    database: Database
    catalog: FlowCatalog
    pictures: PictureWorker = field(default_factory=PictureWorker)  # draws the register's pictures

    @property
    def library(self) -> Library:
        """The texts and flows in service now (replaced whole by /recharger)."""
        return self.catalog.library

    @property
    def messages(self) -> Messages:
        return self.library.messages

    def today(self) -> date:
        return datetime.now(self.settings.zone).date()


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with typed access to the bot's services."""

    @property
    def services(self) -> Services:
        services: Services = self.bot_data["services"]
        return services

    @property
    def job_queue(self) -> JobQueue[Any]:
        """The application's JobQueue, which build_application always sets up."""
        return jobs(self.application)


# PTB's application as build_application makes it (its generics say nothing this bot relies on).
BotApplication = Application[Any, Any, Any, Any, Any, Any]


def jobs(application: BotApplication) -> JobQueue[Any]:
    """The application's JobQueue, which build_application always sets up."""
    queue = application.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot is installed without its job-queue extra")
    return queue
