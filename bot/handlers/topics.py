"""Forum topics: every message of a flow, a round or a follow-up stays in its topic.

In a forum supergroup a message without ``message_thread_id`` lands in General, so each row
that sends (a flow, a request, a round, an outbox delivery) keeps the topic it belongs to.
What starts outside any topic (in private, in General) goes to the group's home topic, which
an admin chooses by typing /sujet in it. When Telegram no longer takes a topic (deleted,
closed), the rate limiter every call goes through sends the message to General instead, the
topic is forgotten, and the admins hear of it once if it was the home topic.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from telegram import Chat, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot.core.texts import join, render
from bot.handlers import keyboards, outbox_sender, permissions, updates
from bot.services import BotContext
from bot.storage import chats, home_topics, outbox

logger = logging.getLogger(__name__)

# Telegram's answers (after PTB drops "Bad Request: ") for a topic it will not take.
LOST_TOPIC_ERRORS = {"message thread not found", "topic_closed", "topic_deleted"}


def thread_of(message: Message | None) -> int | None:
    """The forum topic a message is in; None in General, in a group without topics, in private."""
    return message.message_thread_id if message is not None and message.is_topic_message else None


def replied(message: Message) -> Message | None:
    """The message this one answers. In a topic Telegram shows every message as a reply to the
    topic's creation message: that one is not an answer to anybody."""
    reply = message.reply_to_message
    if reply is None or (message.is_topic_message and reply.message_id == message.message_thread_id):
        return None
    return reply


def replied_bot(message: Message, bot_id: int) -> Message | None:
    """The bot's message this one answers, if it answers one (``replied``)."""
    reply = replied(message)
    if reply is None or reply.from_user is None or reply.from_user.id != bot_id:
        return None
    return reply


async def thread_for(context: BotContext, chat_id: int, here: int | None, fallback: int | None = None) -> int | None:
    """``home_topics.destination``, read on its own; no round trip when ``here`` is a topic."""
    if here is not None:
        return here
    return await context.services.database.read(
        lambda connection: home_topics.destination(connection, chat_id, None, fallback)
    )


def is_lost_topic(error: TelegramError) -> bool:
    return isinstance(error, BadRequest) and error.message.lower() in LOST_TOPIC_ERRORS


async def topic_lost(application: Application[Any, Any, Any, Any, Any, Any], chat_id: int, thread_id: int) -> None:
    """Telegram refused a topic: nothing goes there any more; the admins are told once if it
    was the home topic (the rate limiter sends the refused message to General meanwhile)."""
    services = application.bot_data.get("services")
    if services is None:
        return
    logger.warning("Topic %s of chat %s is deleted or closed: its messages go to General", thread_id, chat_id)
    if await services.database.write(lambda connection: home_topics.forget(connection, chat_id, thread_id)):
        job_queue = application.job_queue
        assert job_queue is not None  # build_application always sets one up
        job_queue.run_once(_tell_admins, 0, data=chat_id, name=f"topic-lost-{chat_id}")


async def _tell_admins(context: BotContext) -> None:
    """Tell the group's admins, in General, that their home topic is gone."""
    assert context.job is not None and isinstance(context.job.data, int)  # scheduled by topic_lost
    chat_id = context.job.data
    try:
        administrators = await context.bot.get_chat_administrators(chat_id)
    except TelegramError:
        administrators = ()
    admins = [keyboards.mention(a.user.id, a.user.full_name) for a in administrators if not a.user.is_bot]
    text = render(context.services.messages.topics.home_lost, admins=join(admins, ", "))
    await context.services.database.write(lambda connection: outbox.enqueue(connection, chat_id, [text]))
    outbox_sender.kick(context.job_queue)


async def sujet(update: Update, context: BotContext) -> None:
    """Choose the group's home topic (/sujet typed in it), or General again (/sujet in General)."""
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    services = context.services
    texts = services.messages.topics
    if chat.type != Chat.SUPERGROUP or not chat.is_forum:
        await message.reply_html(texts.not_a_forum)
        return
    if not await permissions.is_chat_admin(context, chat, user.id):
        await message.reply_html(texts.admins_only)
        return
    thread_id = thread_of(message)

    def choose(connection: sqlite3.Connection) -> None:
        chats.remember(connection, chat.id, chat.type, chat.title)  # the row the home topic is kept in
        home_topics.set_home(connection, chat.id, thread_id)

    await services.database.write(choose, update.update_id)
    await message.reply_html(texts.home_set if thread_id is not None else texts.home_reset)
