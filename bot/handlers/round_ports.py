"""python-telegram-bot's side of the round lifecycle's ports (``bot.rounds.ports``)."""

from __future__ import annotations

from datetime import datetime

import telegram.ext
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
        # The round presenter draws python-telegram-bot's keyboards (consent_presenter.RoundDrawing).
        assert markup is None or isinstance(markup, InlineKeyboardMarkup), markup
        await unchanged_ok(
            self.bot.edit_message_text(text, chat_id=to.chat_id, message_id=message_id, reply_markup=markup)
        )


# The jobs JobQueueScheduler scheduled, by name, until they start: one dict for the whole
# bot (kept in bot_data), as a scheduler is built for each update.
ScheduledJobs = dict[str, set[telegram.ext.Job[BotContext]]]


class JobQueueScheduler:
    """Runs the lifecycle's jobs on the job queue, and keeps their names itself.

    python-telegram-bot finds jobs by name by wrapping every job of the queue (a regular
    expression search each), and every consent press asks whether its round's redraw is
    waiting: a cost growing with the rounds open in every group. Here a name leads to its
    jobs, and the queue's scheduler says, by job id, whether each is still waiting."""

    def __init__(self, job_queue: JobQueue[BotContext], named: ScheduledJobs) -> None:
        self.job_queue = job_queue
        self.named = named

    def run_at(self, name: str, when: datetime | float, job: Job) -> None:
        async def run(context: BotContext) -> None:
            self._waiting(name)  # forgets this one, started
            await job()

        self.named.setdefault(name, set()).add(self.job_queue.run_once(run, when, name=name, job_kwargs=LATE_OK))

    def _waiting(self, name: str) -> set[telegram.ext.Job[BotContext]]:
        """The jobs of this name still in the queue, the others forgotten."""
        scheduler = self.job_queue.scheduler
        waiting = {job for job in self.named.pop(name, ()) if scheduler.get_job(job.job.id) is not None}
        if waiting:
            self.named[name] = waiting
        return waiting

    def cancel(self, name: str) -> None:
        for job in self._waiting(name):
            job.schedule_removal()
        self.named.pop(name, None)

    def scheduled(self, name: str) -> bool:
        return bool(self._waiting(name))
