"""The groups the bot knows, and in which of them a member is, for what starts in private.

A group is known from any update the bot receives there (a command, a button, a reply) and
from ``my_chat_member`` when the bot is added; it is forgotten for private starts when the bot
is removed. Membership is asked of Telegram (getChatMember) at each private start: a member who
left a group must not file requests for it. A failure to ask (a timeout, a 5xx) is not an
answer: callers tell the member to try again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from telegram import (
    CallbackQuery,
    Chat,
    ChatMember,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.handlers import callback_data, keyboards, updates
from bot.services import BotContext
from bot.storage import chats
from bot.storage.db import Database

logger = logging.getLogger(__name__)

MEMBER_STATUSES = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
GROUP_TYPES = {Chat.GROUP, Chat.SUPERGROUP}
_SEEN = "groups_seen"  # bot_data: chat id -> (type, title) as last recorded


def _belongs(member: ChatMember) -> bool:
    return member.status in MEMBER_STATUSES or getattr(member, "is_member", False)


async def recall(database: Database, bot_data: dict[Any, Any]) -> None:
    """Start from the groups recorded before this start (post_init): a group's first update
    after a restart writes nothing unless its type or title changed meanwhile."""
    bot_data[_SEEN] = await database.read(chats.groups_recorded)


async def note(update: Update, context: BotContext) -> None:
    """Remember the group any update comes from (written only when its type or title changed)."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_TYPES or update.my_chat_member is not None:
        return
    seen = context.bot_data.setdefault(_SEEN, {})
    if seen.get(chat.id) != (chat.type, chat.title):
        await context.services.database.write(
            lambda connection: chats.remember(connection, chat.id, chat.type, chat.title)
        )
        seen[chat.id] = (chat.type, chat.title)


async def bot_membership(update: Update, context: BotContext) -> None:
    """The bot was added to a group (it is known from now on) or removed from it."""
    change = update.my_chat_member
    if change is None:
        raise updates.MissingPart(update, "chat member change")
    chat = change.chat
    if chat.type not in GROUP_TYPES:
        return
    context.bot_data.setdefault(_SEEN, {}).pop(chat.id, None)
    added = _belongs(change.new_chat_member)

    def record(connection: sqlite3.Connection) -> None:
        if added:
            chats.remember(connection, chat.id, chat.type, chat.title)
        chats.mark_left(connection, chat.id, left=not added)

    await context.services.database.write(record)


async def is_member(context: BotContext, chat_id: int, user_id: int) -> bool:
    """Whether Telegram counts the user among the group's members; raises TelegramError when
    Telegram could not say (a timeout, a server error)."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except Forbidden:  # the bot is no longer in that group
        await context.services.database.write(lambda connection: chats.mark_left(connection, chat_id))
        return False
    except BadRequest:  # no such chat, or no such user there
        return False
    return _belongs(member)


async def member_groups(context: BotContext, user_id: int) -> list[tuple[int, str]]:
    """The known groups where the user is a member, as (chat id, title); raises TelegramError
    when Telegram could not say for one of them."""
    known = await context.services.database.read(chats.known_groups)
    answers = await asyncio.gather(*(is_member(context, chat_id, user_id) for chat_id, _ in known))
    return [group for group, member in zip(known, answers, strict=True) if member]


async def of_the_member(context: BotContext, message: Message, user_id: int) -> list[tuple[int, str]] | None:
    """``member_groups`` for a command typed in private; None, once the member is told to try
    again, when Telegram could not say."""
    try:
        return await member_groups(context, user_id)
    except TelegramError as error:
        logger.warning("Could not ask Telegram for the groups of %s: %s", user_id, error)
        await message.reply_html(context.services.messages.groups.try_again)
        return None


async def pressed_by_a_member(context: BotContext, query: CallbackQuery, chat_id: int) -> bool:
    """Whether the member pressing a group's button is still in that group, as Telegram says;
    when not, or when Telegram could not say, the press is answered why."""
    texts = context.services.messages.groups
    try:
        member = await is_member(context, chat_id, query.from_user.id)
    except TelegramError as error:
        logger.warning("Could not ask Telegram whether %s is in %s: %s", query.from_user.id, chat_id, error)
        await query.answer(texts.try_again_alert, show_alert=True)
        return False
    if not member:
        await query.answer(texts.not_a_member, show_alert=True)
    return member


def keyboard(groups: list[tuple[int, str]], payload: Callable[[int], callback_data.Payload]) -> InlineKeyboardMarkup:
    """One button per group, each carrying ``payload(chat id)``."""
    return InlineKeyboardMarkup([[keyboards.button(title, payload(chat_id))] for chat_id, title in groups])
