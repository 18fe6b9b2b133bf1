"""Who may do what: the people who run the bot, and each chat's Telegram administrators."""

from __future__ import annotations

import logging

from telegram import Chat
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.services import BotContext

logger = logging.getLogger(__name__)

MEMBER_STATUSES = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}


class MembershipUnknown(Exception):
    """Telegram could not be asked (a timeout, a 5xx, no network): nobody knows yet."""


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


async def group_of_member(context: BotContext, group_id: int, user_id: int) -> Chat | None:
    """The group, if Telegram answers that the user is one of its members; None if it answers no.

    Only Telegram's actual answer decides: a refusal (400: no such member or chat, 403: the bot
    is not in the group) means no, and a failure to ask raises ``MembershipUnknown``.
    """
    try:
        member = await context.bot.get_chat_member(group_id, user_id)
        if not (member.status in MEMBER_STATUSES or getattr(member, "is_member", False)):
            return None
        return await context.bot.get_chat(group_id)
    except (BadRequest, Forbidden):
        return None
    except TelegramError as error:
        logger.warning("Could not ask Telegram whether %s is a member of %s: %r", user_id, group_id, error)
        raise MembershipUnknown from error
