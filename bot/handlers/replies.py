"""A member's typed message to the bot: the reason or question a consent round asked them for,
or the next answer of their flow.

In a group, both come as replies to the bot (privacy mode): to a prompt, sent with a reply box
opened for one member (``consent``), or to a flow's question (``intake``). One read of the
database tells which, and brings what the answer needs.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from telegram import Chat, Update

from bot.handlers import consent, intake, topics, updates
from bot.handlers.consent import Prompted
from bot.services import BotContext
from bot.storage import sessions
from bot.storage.sessions import FlowSession


def _answered(
    connection: sqlite3.Connection, chat_id: int, user_id: int, replied_id: int | None
) -> Prompted | FlowSession | None:
    """The prompt the message replies to, else the member's flow in this chat, in one snapshot."""
    found = None if replied_id is None else consent.prompted(connection, chat_id, replied_id)
    return found if found is not None else sessions.get(connection, chat_id, user_id)


async def typed(update: Update, context: BotContext) -> None:
    """Take a typed answer: to the prompt it replies to, else to the member's current question."""
    message = updates.message(update)
    asked = topics.replied_bot(message, context.bot.id)
    in_group = message.chat.type != Chat.PRIVATE
    if in_group and asked is None:
        return  # a reply between members, not an answer to the bot
    # Prompts are sent in groups only: in private, a message answers the flow.
    replied_id = asked.message_id if in_group and asked is not None else None
    member = updates.sender(update)
    found = await context.services.database.read(
        partial(_answered, chat_id=message.chat_id, user_id=member.id, replied_id=replied_id)
    )
    if not isinstance(found, tuple):
        await intake.answer_text(update, context, found)
        return
    # A reply to a prompt is never an answer to a flow's question, whoever sends it.
    if asked is not None and found[0].user_id == member.id:
        await consent.take_reply(update, context, *found, asked)
