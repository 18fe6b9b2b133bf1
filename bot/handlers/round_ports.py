"""python-telegram-bot's side of the round lifecycle's ports (``bot.rounds.ports``)."""

from __future__ import annotations

from datetime import datetime

from telegram import Bot, InlineKeyboardMarkup
from telegram.ext import JobQueue

from bot.core.texts import Html
from bot.handlers.edits import unchanged_ok
from bot.rounds.ports import Destination, Job, Markup
from bot.services import BotContext

# A job that could not run on time (the bot was stopped) runs as soon as it can, never skipped.
LATE_OK = {"misfire_grace_time": None}


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def edit(self, to: Destination, message_id: int, text: Html, *, markup: Markup | None = None) -> None:
        keyboard = None if markup is None else InlineKeyboardMarkup.de_json(dict(markup), self.bot)
        await unchanged_ok(
            self.bot.edit_message_text(text, chat_id=to.chat_id, message_id=message_id, reply_markup=keyboard)
        )


class JobQueueScheduler:
    def __init__(self, job_queue: JobQueue[BotContext]) -> None:
        self.job_queue = job_queue

    def run_at(self, name: str, when: datetime | float, job: Job) -> None:
        async def run(context: BotContext) -> None:
            await job()

        self.job_queue.run_once(run, when, name=name, job_kwargs=LATE_OK)

    def cancel(self, name: str) -> None:
        for job in self.job_queue.get_jobs_by_name(name):
            job.schedule_removal()

    def scheduled(self, name: str) -> bool:
        return bool(self.job_queue.get_jobs_by_name(name))
