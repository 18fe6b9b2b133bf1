"""After a crash Telegram sends again what the bot had not finished, and nothing applies twice.

Telegram keeps an update until the bot asks for the ones after it. python-telegram-bot asks
as soon as it has queued a batch, so a bot killed mid-batch would lose the updates it had not
handled yet: a member's answer, gone without a word. ``HandledQueue`` makes the poller wait
until each update it queues is handled before it asks for more, so Telegram redelivers
whatever a crash interrupted.

An update whose changes were committed before the crash (its id is written to
``processed_updates`` in the same transaction) is skipped whole by ``skip_handled``: it must
neither apply twice nor, read against the state it created, ask or refuse anything again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.services import BotContext

logger = logging.getLogger(__name__)


class HandledQueue(asyncio.Queue):
    """The update queue shared by the poller and the application: ``put`` returns once handled.

    The application handles updates one at a time, in order, and calls ``task_done`` after
    each: the n-th call ends the n-th ``put``. (``join`` would wait for the queue to be
    empty, which under a webhook's concurrent requests may be never.)
    """

    def __init__(self) -> None:
        super().__init__()
        self._handled: deque[asyncio.Future[None]] = deque()

    async def put(self, item: object) -> None:
        handled = asyncio.get_running_loop().create_future()
        self._handled.append(handled)
        await super().put(item)
        await handled

    def task_done(self) -> None:
        super().task_done()
        handled = self._handled.popleft()
        if not handled.done():  # its put may have been cancelled (the poller stopping)
            handled.set_result(None)


async def skip_handled(update: Update, context: BotContext) -> None:
    """Stop an update redelivered after a crash whose changes are already stored."""
    if await context.services.database.handled(update.update_id):
        logger.info("Update %s was handled before a restart; skipped", update.update_id)
        raise ApplicationHandlerStop
