"""Editing a message the bot sent: an edit that would change nothing is not an error.

Telegram refuses such an edit with 400 "message is not modified": a button pressed twice,
a page shown again, a tally redrawn to the state it already shows. Every edit of the bot
goes through :func:`unchanged_ok`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from telegram import CallbackQuery, InlineKeyboardMarkup, Message
from telegram.error import BadRequest

logger = logging.getLogger(__name__)

T = TypeVar("T")
NOT_MODIFIED = "message is not modified"


def edit_pressed(
    query: CallbackQuery, text: str | None, reply_markup: InlineKeyboardMarkup | None = None
) -> Awaitable[Message | bool]:
    """Edit the message whose button was pressed (its text, or only its buttons when ``text`` is
    None), even one too old for Telegram to show the bot: it is named by chat and id."""
    bot, message = query.get_bot(), query.message
    if message is None:  # a press on an inline query's message: the bot sends none
        raise ValueError(f"callback query {query.id} has no message")
    chat_id, message_id = message.chat.id, message.message_id
    if text is None:
        return bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=reply_markup)
    return bot.edit_message_text(text, chat_id=chat_id, message_id=message_id, reply_markup=reply_markup)


async def unchanged_ok(edit: Awaitable[T]) -> T | None:
    """Await an edit; None when Telegram found nothing to change."""
    try:
        return await edit
    except BadRequest as error:
        if NOT_MODIFIED not in error.message.lower():
            raise
        logger.debug("Edit skipped: %s", error.message)
        return None
