"""Sending the outbox: right after a message is queued, again after each failure, and at start-up.

Telegram's answer decides what becomes of a delivery:

- confirmed: done, and its kind hears of it (a follow-up records its message id);
- refused for good (403 Forbidden: blocked, never started, removed from the group; 400 Bad
  Request: a chat or a message Telegram will never take): no more tries, and its kind hears
  of it (a coordinator's summary then goes to the group);
- anything else (500/502, a timeout, flood control beyond the rate limiter's own retries, no
  network): kept, and tried again after a wait that doubles each time (``OUTBOX_RETRY_SECONDS``
  first, an hour at most).

A group that became a supergroup is followed before any of this, by the rate limiter every
call goes through (``handlers.migration``). Each chat's messages leave in the order they were
queued: once one must wait, the chat's next ones wait behind it. Chats are sent to at once,
each by its own drain (one per chat at a time, so that no delivery leaves twice): a slow or
failing chat holds no other. Each delivery is read again just before it is sent, in the
transaction that recorded the one before: that one may have changed it (a proposal gives its
reply). The rate limiter still pauses every call while Telegram's flood control asks it to
(PTB's ``AIORateLimiter`` does so for all chats).

After a timeout Telegram may have delivered the message anyway, and nothing in the Bot API
lets the bot find out (a bot cannot read a chat's last messages; ``sendMessage`` takes no
idempotency key): sending it again is the price of never losing one. Measured with the fake
server (tests/integration/test_telegram_faults.py, answers late beyond the timeout on 5 of 20
deliveries that were carried out): exactly those 5 arrive twice, none three times, none is
lost; the retry settings do not change this, as every late answer costs one resend. Edits
need no such care: editing again to the same text is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import JobQueue

from bot.handlers.round_ports import LATE_OK
from bot.services import BotApplication, BotContext, jobs
from bot.storage import outbox
from bot.storage.db import Database
from bot.storage.outbox import Delivery

logger = logging.getLogger(__name__)

NOW, RETRY = "outbox", "outbox-retry"  # job names: a send just asked for, the next planned try
# Finished deliveries are kept this long (a key queued twice stays refused), then forgotten
# (bot.app's daily purge).
KEPT = timedelta(days=7)


Sent = Callable[[sqlite3.Connection, Delivery], None]
Refused = Callable[[BotContext, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    """Who hears of a delivery's fate: ``sent`` in the transaction that records it,
    ``refused`` before it is given up (it must tolerate being called again after a crash)."""

    sent: Sent | None = None
    refused: Refused | None = None


class KindRegisteredTwice(ValueError):
    """Two parts of the bot claim the same kind of delivery: one of them would never hear of it."""


class UnregisteredKinds(RuntimeError):
    """The outbox holds deliveries of kinds this bot does not know: nobody would hear of their fate."""


class Kinds:
    """Every kind of delivery and its hooks, registered once by ``build_application``."""

    def __init__(self) -> None:
        self._hooks: dict[str, Kind] = {outbox.PLAIN: Kind()}

    def register(self, name: str, hooks: Kind) -> None:
        if name in self._hooks:
            raise KindRegisteredTwice(f"the outbox kind {name!r} is registered twice")
        self._hooks[name] = hooks

    def hooks(self, name: str) -> Kind:
        return self._hooks[name]

    async def check_pending(self, database: Database) -> None:
        """Refuse to start on a pending delivery whose kind has no hooks (a kind renamed or
        dropped by an upgrade): sending it would skip what its kind must record."""
        unknown = [
            (kind, count) for kind, count in await database.read(outbox.pending_kinds) if kind not in self._hooks
        ]
        if unknown:
            listed = ", ".join(f"{kind!r} ({count} pending)" for kind, count in unknown)
            raise UnregisteredKinds(
                f"the outbox holds deliveries of kinds no part of the bot registered: {listed};"
                f" registered: {', '.join(sorted(self._hooks))}"
            )


KINDS = "outbox_kinds"  # bot_data: the application's Kinds


def register_kinds(application: BotApplication, kinds: Iterable[tuple[str, Kind]]) -> None:
    """Give the application its kinds of delivery (build_application, once)."""
    registry = Kinds()
    for name, hooks in kinds:
        registry.register(name, hooks)
    application.bot_data[KINDS] = registry


def _kinds(context: BotContext) -> Kinds:
    registry: Kinds = context.bot_data[KINDS]
    return registry


def kick(job_queue: JobQueue[Any]) -> None:
    """Send what was just queued, once the current handler or job lets go."""
    drains = _drains(job_queue.application.bot_data)
    if drains.flush_planned:
        return  # that flush reads the outbox after this delivery was queued: it sends it
    drains.flush_planned = True
    job_queue.run_once(_kicked_job, 0, name=NOW, job_kwargs=LATE_OK)


def send_now(context: BotContext, chat_id: int) -> None:
    """Send what was just queued for one chat, once the current handler or job lets go: the
    chat's drain, started here, reads it; no job to wait for, no look at the other chats."""
    if context.application.running:
        _drain_chat(context, chat_id, everything=False)


def schedule(application: BotApplication) -> None:
    """At start-up, send everything still pending: a message queued before a crash goes now."""
    _drains(application.bot_data).flush_planned = True
    jobs(application).run_once(_start_job, 0, name=NOW, job_kwargs=LATE_OK)


@dataclass
class Drains:
    """The chats being sent to: one drain per chat at a time, or a delivery could leave twice."""

    flush_planned: bool = False  # a flush is scheduled and has not read the outbox yet
    chats: set[int] = field(default_factory=set)  # each has a drain running
    # Draining chats a flush found a delivery for: their drain may have just read that nothing
    # was left, before the delivery was queued, so it looks again before it stops.
    again: set[int] = field(default_factory=set)
    sending: dict[int, asyncio.Event] = field(default_factory=dict)  # delivery id -> set when its send is over


_DRAINS = "outbox_drains"  # bot_data: the application's Drains
DRAIN_TASK = "outbox drain"  # the name of each chat's drain task (tests wait for them)


def _drains(bot_data: dict[Any, Any]) -> Drains:
    drains: Drains = bot_data.setdefault(_DRAINS, Drains())
    return drains


async def _start_job(context: BotContext) -> None:
    """Send what a stop left pending, due or not (a restart often follows a network problem)."""
    _drains(context.bot_data).flush_planned = False
    await flush(context, everything=True)


async def _kicked_job(context: BotContext) -> None:
    """Send what was just queued."""
    _drains(context.bot_data).flush_planned = False
    await flush(context)


async def _retry_job(context: BotContext) -> None:
    """Send the deliveries whose wait is over."""
    await flush(context)


async def flush(context: BotContext, *, everything: bool = False) -> None:
    """Start a drain for each chat whose first pending delivery is due (or for every chat with
    one), unless that chat is being drained already; then plan the next try, when the first
    delivery still waiting is due."""
    heads: dict[int, datetime] = {}  # chat -> when its first pending delivery is due
    for delivery in await context.services.database.read(outbox.pending):
        heads.setdefault(delivery.chat_id, delivery.next_attempt_at)
    if not context.application.running:
        return  # stopping: whatever is pending goes at the next start-up
    drains = _drains(context.bot_data)
    now = datetime.now(UTC)
    waiting: list[datetime] = []
    for chat_id, due_at in heads.items():
        if chat_id in drains.chats or everything or due_at <= now:
            _drain_chat(context, chat_id, everything=everything)
        else:
            waiting.append(due_at)
    if waiting:
        _plan(context.job_queue, min(waiting))


def _drain_chat(context: BotContext, chat_id: int, *, everything: bool) -> None:
    """Start the chat's drain; if it has one running, have it look again before it stops."""
    drains = _drains(context.bot_data)
    if chat_id in drains.chats:
        drains.again.add(chat_id)
        return
    drains.chats.add(chat_id)
    context.application.create_task(_drain(context, chat_id, everything=everything), name=DRAIN_TASK)


def _plan(job_queue: JobQueue[Any], at: datetime) -> None:
    """Have the outbox looked at again at ``at``, unless a try is planned before."""
    for job in job_queue.get_jobs_by_name(RETRY):
        if job.next_t is not None and job.next_t <= at:
            return
        job.schedule_removal()
    job_queue.run_once(_retry_job, at, name=RETRY, job_kwargs=LATE_OK)


async def _drain(context: BotContext, chat_id: int, *, everything: bool) -> None:
    """Send a chat's deliveries in the order they were queued, until none is left or one must
    wait (then the chat's next ones wait behind it, and a retry is planned)."""
    drains = _drains(context.bot_data)
    database = context.services.database
    next_pending = partial(outbox.first_pending, chat_id=chat_id)
    try:
        delivery = await database.read(next_pending)
        while True:
            if delivery is None:
                if chat_id not in drains.again:
                    return
                drains.again.discard(chat_id)
                delivery = await database.read(next_pending)
            elif (other_send := drains.sending.get(delivery.id)) is not None:
                # Queued for a basic group that became this supergroup while the group's drain
                # was sending it (the rate limiter moved its row here, then sent it here):
                # that drain finishes it, this one goes on after it.
                await other_send.wait()
                delivery = await database.read(next_pending)
            elif not everything and delivery.next_attempt_at > datetime.now(UTC):
                _plan(context.job_queue, delivery.next_attempt_at)
                return
            else:
                done = drains.sending[delivery.id] = asyncio.Event()
                try:
                    outcome = await _deliver(context, delivery)
                finally:
                    del drains.sending[delivery.id]
                    done.set()
                if isinstance(outcome, datetime):
                    _plan(context.job_queue, outcome)
                    return
                delivery = outcome
    finally:
        drains.chats.discard(chat_id)
        drains.again.discard(chat_id)


async def _deliver(context: BotContext, delivery: Delivery) -> Delivery | datetime | None:
    """Send what is left of a delivery; then its chat's next pending delivery (None: none left),
    read in the transaction that records this one, or, when this one has to wait, the time of
    its next try."""
    database = context.services.database
    hooks = _kinds(context).hooks(delivery.kind)
    last = len(delivery.texts) - 1
    first_id = delivery.message_id
    next_pending = partial(outbox.first_pending, chat_id=delivery.chat_id)
    try:
        for index in range(delivery.sent_parts, last + 1):
            message = await context.bot.send_message(
                delivery.chat_id,
                delivery.texts[index],
                message_thread_id=delivery.thread_id,
                reply_to_message_id=delivery.reply_to_message_id if index == 0 else None,
                reply_markup=_markup(context, delivery) if index == last else None,
            )
            first_id = first_id or message.message_id
            if index < last:  # the last part is counted with the delivery's end, below
                await database.write(
                    partial(outbox.part_sent, delivery_id=delivery.id, parts=index + 1, message_id=message.message_id)
                )
    except (Forbidden, BadRequest) as error:
        logger.warning(
            "Telegram refused delivery %s (%s) to chat %s: %s", delivery.id, delivery.kind, delivery.chat_id, error
        )
        if hooks.refused is not None:
            await hooks.refused(context, delivery)
        reason = str(error)

        def give_up(connection: sqlite3.Connection) -> Delivery | None:
            outbox.refused(connection, delivery.id, reason)
            return next_pending(connection)

        return await database.write(give_up)
    except TelegramError as error:
        first_wait = timedelta(seconds=context.services.settings.outbox_retry_seconds)
        failure = f"{type(error).__name__}: {error}"
        at = await database.write(partial(outbox.retry_later, delivery=delivery, error=failure, first_wait=first_wait))
        logger.warning(
            "Delivery %s (%s) to chat %s failed (%s: %s); next try at %s",
            delivery.id,
            delivery.kind,
            delivery.chat_id,
            type(error).__name__,
            error,
            at,
        )
        return at
    assert first_id is not None  # a delivery has one part at least, sent now or before
    sent = replace(delivery, message_id=first_id)

    def record(connection: sqlite3.Connection) -> Delivery | None:
        outbox.part_sent(connection, delivery.id, parts=last + 1, message_id=first_id)
        outbox.delivered(connection, delivery.id)
        if hooks.sent is not None:
            hooks.sent(connection, sent)
        return next_pending(connection)

    return await database.write(record)


def _markup(context: BotContext, delivery: Delivery) -> InlineKeyboardMarkup | None:
    if delivery.reply_markup is None:
        return None
    return InlineKeyboardMarkup.de_json(dict(delivery.reply_markup), context.bot)
