"""python-telegram-bot's side of the round lifecycle's ports (``bot.rounds.ports``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

import telegram.ext
from telegram import Bot, InlineKeyboardMarkup
from telegram.ext import JobQueue

from bot.core.texts import Html
from bot.handlers.edits import unchanged_ok
from bot.rounds.ports import Destination, Job, Markup
from bot.services import BotContext

ROUND_JOB = "round job"  # the name of the task a short delay's job runs in (the tests wait for them)
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


@dataclass
class Waiting:
    """The rounds' jobs scheduled and not started yet, by name: one for the whole bot (kept in
    bot_data), as a scheduler is built for each update."""

    jobs: dict[str, set[telegram.ext.Job[BotContext]]] = field(default_factory=dict)  # on the job queue
    timers: dict[str, set[asyncio.TimerHandle]] = field(default_factory=dict)  # on the event loop

    def drop_timers(self) -> None:
        """Forget the timers still waiting (the bot stops: ``Rounds.recover`` redoes their work)."""
        for handles in self.timers.values():
            for handle in handles:
                handle.cancel()
        self.timers.clear()


class ApplicationScheduler:
    """Runs the lifecycle's jobs for the application, and keeps their names itself.

    A moment (a deadline, a reminder) goes on the job queue. Seconds from now (a redraw
    within the edit interval, an outcome to publish now: several a minute in a busy group) go
    on the event loop's own timer, started as the application's task so that an error reaches
    the error handler: a tenth of the cost of a job (APScheduler's ``add_job`` and its run).
    Either kind still waiting when the bot stops is dropped, and ``Rounds.recover`` redoes it
    at the next start.

    python-telegram-bot finds jobs by name by wrapping every job of the queue (a regular
    expression search each), and every consent press asks whether its round's redraw is
    waiting: a cost growing with the rounds open in every group. Here a name leads to its
    jobs, and the queue's scheduler says, by job id, whether each is still waiting."""

    def __init__(self, job_queue: JobQueue[BotContext], waiting: Waiting) -> None:
        self.job_queue = job_queue
        self.waiting = waiting

    def run_at(self, name: str, when: datetime | float, job: Job) -> None:
        if not isinstance(when, datetime):
            self._soon(name, when, job)
            return

        async def run(context: BotContext) -> None:
            self._queued(name)  # forgets this one, started
            await job()

        jobs = self.waiting.jobs.setdefault(name, set())
        jobs.add(self.job_queue.run_once(run, when, name=name, job_kwargs=LATE_OK))

    def _soon(self, name: str, delay: float, job: Job) -> None:
        application = self.job_queue.application
        timers = self.waiting.timers

        def start() -> None:
            waiting = timers.get(name, set())
            waiting.discard(handle)
            if not waiting:
                timers.pop(name, None)
            if application.running:  # stopping: dropped, as the job queue drops its jobs
                application.create_task(job(), name=ROUND_JOB)

        handle = asyncio.get_running_loop().call_later(delay, start)
        timers.setdefault(name, set()).add(handle)

    def _queued(self, name: str) -> set[telegram.ext.Job[BotContext]]:
        """The jobs of this name still in the queue, the others forgotten."""
        scheduler = self.job_queue.scheduler
        waiting = {job for job in self.waiting.jobs.pop(name, ()) if scheduler.get_job(job.job.id) is not None}
        if waiting:
            self.waiting.jobs[name] = waiting
        return waiting

    def cancel(self, name: str) -> None:
        for job in self._queued(name):
            job.schedule_removal()
        self.waiting.jobs.pop(name, None)
        for handle in self.waiting.timers.pop(name, ()):
            handle.cancel()

    def scheduled(self, name: str) -> bool:
        return name in self.waiting.timers or bool(self._queued(name))
