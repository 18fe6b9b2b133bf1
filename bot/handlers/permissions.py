"""Who may do what: the people who run the bot, and each chat's Telegram administrators."""

from __future__ import annotations

from telegram import Chat
from telegram.error import TelegramError

from bot.services import BotContext


def is_configured_admin(context: BotContext, user_id: int) -> bool:
    """One of ``ADMIN_USER_IDS``: the people who run the bot, for every group."""
    return user_id in context.services.settings.admin_user_ids


async def is_chat_admin(context: BotContext, chat: Chat, user_id: int) -> bool:
    """A configured admin, or an administrator of this group according to Telegram right now.

    Asked fresh each time: admin actions are rare, and a demoted admin must lose the right at once.
    """
    if is_configured_admin(context, user_id):
        return True
    if chat.type == Chat.PRIVATE:
        return False
    try:
        administrators = await context.bot.get_chat_administrators(chat.id)
    except TelegramError:
        return False
    return any(member.user.id == user_id for member in administrators)
