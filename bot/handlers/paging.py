"""Lists shown a page at a time: a command shows the first page, ◀️ / ▶️ show another in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Update

from bot.core.texts import Html
from bot.handlers import callback_data, keyboards, updates
from bot.handlers.edits import unchanged_ok
from bot.services import BotContext

# Renders one page of a chat's list: (context, chat id, page) -> text and buttons.
PageMaker = Callable[[BotContext, int, int], Awaitable[tuple[Html, InlineKeyboardMarkup | None]]]


def buttons(
    page: int, pages: int, previous: str, following: str, payload: Callable[[int], callback_data.Payload]
) -> InlineKeyboardMarkup | None:
    """The buttons to the neighbouring pages; None when there is a single page."""
    row = []
    if page > 0:
        row.append(keyboards.button(previous, payload(page - 1)))
    if page + 1 < pages:
        row.append(keyboards.button(following, payload(page + 1)))
    return InlineKeyboardMarkup([row]) if row else None


async def reply_first(update: Update, context: BotContext, make: PageMaker) -> None:
    """Answer a command with the first page of its list."""
    text, markup = await make(context, updates.chat(update).id, 0)
    await updates.message(update).reply_html(text, reply_markup=markup)


async def show_pressed(update: Update, context: BotContext, make: PageMaker) -> None:
    """Replace a page by the one its button asks for."""
    query = updates.press(update)
    payload = callback_data.on_its_message(query, same_kind=True)
    if not isinstance(payload, callback_data.ListPage | callback_data.RegisterPage):
        await query.answer(context.services.messages.intake.stale_button, show_alert=True)
        return
    text, markup = await make(context, updates.chat(update).id, payload.page)
    await query.answer()
    await unchanged_ok(query.edit_message_text(text, reply_markup=markup))
