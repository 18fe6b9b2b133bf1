"""After a crash Telegram sends again what the bot had not finished, and nothing applies twice.

Telegram keeps an update until the bot asks for updates with a larger ``offset`` (long
polling), or until its webhook request was answered. Updates of different chats are handled
concurrently, each chat's in the order they came, so they finish out of order: the bot keeps
a ledger (``HandledQueue``) of the updates it was given and of those finished, and tells
Telegram only the *confirmed offset*, the highest id below which every update is finished.
A bot killed at any moment is therefore sent again whatever it had not finished.

This relies only on documented behaviour of python-telegram-bot (v22):

- the ``Updater`` and the webhook server put each update they receive into
  ``Application.update_queue`` (the webhook answers Telegram once ``put`` returns);
- the ``Updater`` polls through ``Bot.get_updates(offset=...)``, with the id after the last
  update it received;
- ``BaseUpdateProcessor.do_process_update`` is given, for each update, the coroutine that
  handles it whole (handlers and error handlers): once it is awaited, the update is finished.

So ``AcknowledgingBot.get_updates`` sends the confirmed offset, never a larger one; the
updates it receives again while still in hand are dropped by ``HandledQueue.put``; and
``ChatOrderedProcessor`` marks each update finished, after every earlier update of its chat.
``require_acknowledgement`` makes ``build_application`` refuse any other arrangement.

An update whose changes were committed before the crash (its id is written to
``processed_updates`` in the same transaction) is skipped whole by ``skip_handled``: it must
neither apply twice nor, read against the state it created, ask or refuse anything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    ExtBot,
)

from bot.services import BotApplication, BotContext

logger = logging.getLogger(__name__)

# While an update is still in hand, Telegram answers a poll at once (it sends that update
# again): poll at most this often then, or as soon as an update finishes.
BUSY_POLL_SECONDS = 0.25


class UnsafeAcknowledgement(RuntimeError):
    """The application would confirm to Telegram updates it has not finished."""


def _chat_of(update: object) -> Hashable:
    """What orders an update: its chat, else its user (an inline query), else nothing."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return ("update", id(update))


class HandledQueue(asyncio.Queue[object]):
    """The update queue, and the ledger of which updates are finished.

    With ``acknowledge_each`` (a webhook: each request acknowledges its own update), ``put``
    returns once its update is finished; when polling it returns at once, and the next poll
    confirms only what is finished (``AcknowledgingBot``).
    """

    def __init__(self, *, acknowledge_each: bool) -> None:
        super().__init__()
        self.acknowledge_each = acknowledge_each
        self._in_hand: dict[int, Hashable] = {}  # update id -> its chat, in arrival order
        self._chats: dict[Hashable, list[int]] = {}  # chat -> its updates in hand, in arrival order
        self._finishing: dict[int, asyncio.Event] = {}  # update in hand -> set once it is finished
        self._done: set[int] = set()  # finished, but Telegram may still send them again
        self._progress = asyncio.Event()

    def confirmed_offset(self, offset: int) -> int:
        """The offset to send Telegram in place of ``offset``: never past an unfinished update."""
        return min([offset, *self._in_hand])

    def forget_below(self, offset: int) -> None:
        """Telegram was sent ``offset``: it will never send an update below it again."""
        self._done = {update_id for update_id in self._done if update_id >= offset}

    @property
    def busy(self) -> bool:
        return bool(self._in_hand)

    async def changed(self, timeout: float | None = None) -> None:
        """Wait until an update finishes (or ``timeout`` seconds)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout)

    async def idle(self, timeout: float) -> None:
        """Wait until no update is in hand, or ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.busy and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await self.changed(left)

    async def put(self, item: object) -> None:
        if not isinstance(item, Update):  # the application's own stop signal
            await super().put(item)
            return
        update_id = item.update_id
        if update_id in self._in_hand or update_id in self._done:
            logger.debug("Update %s is already in hand; not queued again", update_id)
        else:
            chat = self._in_hand[update_id] = _chat_of(item)
            self._chats.setdefault(chat, []).append(update_id)
            self._finishing[update_id] = asyncio.Event()
            await super().put(item)
        if self.acknowledge_each and (finishing := self._finishing.get(update_id)) is not None:
            await finishing.wait()

    def _before(self, update_id: int) -> int | None:
        """The unfinished update of the same chat that came just before this one, if any."""
        chat = self._in_hand.get(update_id)
        if chat is None:
            return None
        order = self._chats[chat]
        position = order.index(update_id)
        return order[position - 1] if position else None

    async def turn(self, update: object) -> None:
        """Wait until every update of the same chat that came before this one is finished.

        Each waits for the one just before it, woken alone when that one finishes: were all of
        a busy group's updates in flight woken at each finish, each to look through every
        update in hand, the ordering alone would cost as much as handling them."""
        while isinstance(update, Update) and (before := self._before(update.update_id)) is not None:
            await self._finishing[before].wait()

    def finished(self, update: object) -> None:
        if not isinstance(update, Update) or (chat := self._in_hand.pop(update.update_id, None)) is None:
            return
        order = self._chats[chat]
        order.remove(update.update_id)
        if not order:
            del self._chats[chat]
        self._finishing.pop(update.update_id).set()
        if not self.acknowledge_each:  # a webhook's answer acknowledged it for good
            self._done.add(update.update_id)
        self._progress.set()
        self._progress = asyncio.Event()


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently (at most ``max_concurrent_updates``), each
    chat's one at a time in the order they came; each is marked finished in the ledger.

    An update waiting for its chat's turn holds one of the slots, but the update it waits for
    came earlier, so PTB created its task earlier and it took its slot first (asyncio's
    semaphore serves in order): the wait always ends.
    """

    def __init__(self, ledger: HandledQueue, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self.ledger = ledger

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self.ledger.turn(update)
            await coroutine
        finally:
            if inspect.iscoroutine(coroutine) and inspect.getcoroutinestate(coroutine) == inspect.CORO_CREATED:
                coroutine.close()  # cancelled before its turn (the application stopping)
            self.ledger.finished(update)

    async def initialize(self) -> None:
        """Nothing to set up: the ledger lives as long as the application."""

    async def shutdown(self) -> None:
        """Nothing to free."""


class AcknowledgingBot(ExtBot[Any]):
    """The bot, whose polls confirm to Telegram only the updates that are finished."""

    def __init__(self, ledger: HandledQueue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ledger = ledger  # PTB freezes a bot's public attributes once built

    @property
    def ledger(self) -> HandledQueue:
        return self._ledger

    async def get_updates(self, offset: int | None = None, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        if offset is not None and self.ledger.busy:
            # Telegram would answer at once, sending the updates in hand again: poll only
            # every BUSY_POLL_SECONDS then, or as soon as nothing is in hand.
            await self.ledger.idle(BUSY_POLL_SECONDS)
            offset = self.ledger.confirmed_offset(offset)
        updates = await super().get_updates(offset, *args, **kwargs)
        if offset is not None:
            self.ledger.forget_below(offset)
        return updates


def require_acknowledgement(application: BotApplication) -> None:
    """Refuse, loudly, an application that would confirm updates it has not finished."""
    queue, processor, bot = application.update_queue, application.update_processor, application.bot
    problems = []
    if not isinstance(queue, HandledQueue):
        problems.append("its update queue keeps no ledger of finished updates")
    if not isinstance(processor, ChatOrderedProcessor) or processor.ledger is not queue:
        problems.append("its update processor does not mark updates finished in the update queue's ledger")
    if (
        isinstance(queue, HandledQueue)
        and not queue.acknowledge_each
        and (not isinstance(bot, AcknowledgingBot) or bot.ledger is not queue)
    ):
        problems.append("it polls with a bot that would confirm every update received")
    if problems:
        raise UnsafeAcknowledgement(
            "Telegram would be told updates are handled before they are (a crash would lose them): "
            + "; ".join(problems)
        )


async def skip_handled(update: Update, context: BotContext) -> None:
    """Stop an update redelivered after a crash whose changes are already stored."""
    if await context.services.database.handled(update.update_id):
        logger.info("Update %s was handled before a restart; skipped", update.update_id)
        raise ApplicationHandlerStop
