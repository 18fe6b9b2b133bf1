"""A request filed without a group (in private, before a request always had one) joins a group.

Its author types /rattacher 3 in private; the request moves, once, to one of the groups the
author is a member of, takes that group's next number, and its card is posted there.
"""

from __future__ import annotations

import logging
import sqlite3

from telegram import Chat, Update
from telegram.error import TelegramError

from bot.core.texts import Html, render
from bot.handlers import callback_data, groups, intake, updates
from bot.handlers.arguments import request_number
from bot.handlers.edits import unchanged_ok
from bot.services import BotContext
from bot.storage import chats, home_topics, requests
from bot.storage.requests import PartnershipRequest

logger = logging.getLogger(__name__)


def _orphan(connection: sqlite3.Connection, user_id: int, number: int) -> PartnershipRequest | None:
    """The member's request n°``number`` filed in their private chat (its id is theirs)."""
    request = requests.by_number(connection, user_id, number)
    return request if request is not None and request.author_id == user_id else None


async def rattacher(update: Update, context: BotContext) -> None:
    """Attach one of the member's requests without a group to one of their groups (/rattacher 3)."""
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    texts = context.services.messages.groups
    if chat.type != Chat.PRIVATE:
        await message.reply_html(texts.attach_private_only)
        return
    number = request_number(context.args)
    if number is None:
        await message.reply_html(texts.attach_usage)
        return
    request = await context.services.database.read(lambda connection: _orphan(connection, user.id, number))
    if request is None:
        await message.reply_html(render(texts.attach_not_found, number=number))
        return
    try:
        found = await groups.member_groups(context, user.id)
    except TelegramError as error:
        logger.warning("Could not ask Telegram for the groups of %s: %s", user.id, error)
        await message.reply_html(texts.try_again)
        return
    if not found:
        await message.reply_html(texts.no_group)
    elif len(found) == 1:
        await message.reply_html(await _attach(update, context, request, found[0][0]))
    else:
        keyboard = groups.keyboard(found, lambda chat_id: callback_data.AttachRequest(number=number, chat_id=chat_id))
        await message.reply_html(render(texts.attach_choose, number=number), reply_markup=keyboard)


async def press(update: Update, context: BotContext) -> None:
    """Attach the request to the group pressed, after checking it is still the author's to attach."""
    query, chat = updates.press(update), updates.chat(update)
    payload = callback_data.on_its_message(query)
    if not isinstance(payload, callback_data.AttachRequest) or chat.type != Chat.PRIVATE:
        await query.answer(context.services.messages.intake.stale_button, show_alert=True)
        return
    pressed = payload

    def attachable(connection: sqlite3.Connection) -> PartnershipRequest | None:
        """The member's request still to attach, to a group the bot knows."""
        if chats.title(connection, pressed.chat_id) is None:
            return None
        return _orphan(connection, query.from_user.id, pressed.number)

    request = await context.services.database.read(attachable)
    if request is None:
        await query.answer(context.services.messages.intake.stale_button, show_alert=True)
        return
    if not await groups.pressed_by_a_member(context, query, payload.chat_id):
        return
    done = await _attach(update, context, request, payload.chat_id)
    await query.answer()
    await unchanged_ok(query.edit_message_text(done, reply_markup=None))


async def _attach(update: Update, context: BotContext, request: PartnershipRequest, chat_id: int) -> Html:
    """Move the request to the group and post its card there; what the author is told."""
    services = context.services

    def move(connection: sqlite3.Connection) -> tuple[PartnershipRequest, str | None] | None:
        thread_id = home_topics.destination(connection, chat_id, None)
        number = requests.attach(connection, request, chat_id, thread_id)
        if number is None:  # attached meanwhile (a double press)
            return None
        attached = requests.by_number(connection, chat_id, number)
        assert attached is not None  # just numbered so
        return attached, chats.title(connection, chat_id)

    moved = await services.database.write(move, update.update_id)
    if moved is None:
        return Html(services.messages.intake.stale_button)
    attached, group = moved
    await intake.present(context, attached)
    return render(
        services.messages.groups.attached, number=request.number, new_number=attached.number, group=group or ""
    )
