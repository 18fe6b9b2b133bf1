"""The one error handler: log first, then tell the member something went wrong."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.handlers import topics
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
    if isinstance(error, RetryAfter) or (isinstance(error, NetworkError) and not isinstance(error, BadRequest)):
        # Telegram unreachable, failing (5xx), slow (timeout) or throttling beyond the rate
        # limiter's retries: what the member did is stored, and an apology would not get through.
        logger.warning("Telegram could not be reached while handling an update: %r", error)
        return
    logger.error("Error while handling an update", exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            context.services.messages.system.error,
            message_thread_id=topics.thread_of(update.effective_message),
        )
    except Exception:  # the apology is best effort: never let it raise from the error handler
        logger.warning("Could not send the error message", exc_info=True)
