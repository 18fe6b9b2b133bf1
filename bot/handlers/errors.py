"""The one error handler: log first, then tell the member something went wrong."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.services import BotContext
from bot.storage.db import AlreadyHandled

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the error; apologise to the member unless Telegram itself is unreachable."""
    error = context.error
    if isinstance(error, AlreadyHandled):
        logger.info("Update %s was already handled before a restart; skipped", error.args[0])
        return
    if isinstance(error, BadRequest) and "query is too old" in error.message.lower():
        # A button press redelivered after a restart: Telegram no longer takes its answer.
        logger.info("Button press too old to answer: %s", error)
        return
    if isinstance(error, Forbidden):
        logger.warning("Telegram refused a message (blocked or removed): %s", error)
        return
    logger.error("Error while handling an update", exc_info=error)
    unreachable = isinstance(error, NetworkError) and not isinstance(error, BadRequest)
    if unreachable or not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        await context.bot.send_message(update.effective_chat.id, context.services.messages.system.error)
    except Exception:  # the apology is best effort: never let it raise from the error handler
        logger.warning("Could not send the error message", exc_info=True)
