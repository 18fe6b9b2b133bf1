"""A group that becomes a supergroup: the bot follows it to its new chat id.

Telegram says so twice, by a service message in each chat (``migrate_to_chat_id`` in the old
group, ``migrate_from_chat_id`` in the supergroup), and then answers any call on the old id
with ``ChatMigrated``. Whichever the bot sees first, the group's rows move in one transaction
(``storage.chat_migration``); then the open rounds' proposals, which stayed behind in the old
chat, are posted again in the new one, with their deadline and reminder jobs, and the outbox
sends what was waiting for the group. ``ChatMigrated`` is handled where flood control is: the
rate limiter that every call goes through moves the rows, then makes the call again on the new id.
So is a forum topic Telegram no longer takes (deleted, closed): the call goes again to General
(``handlers.topics``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import BadRequest, ChatMigrated
from telegram.ext import AIORateLimiter, Application

from bot.handlers import consent, outbox_sender, topics, updates
from bot.services import BotContext
from bot.storage import chat_migration

logger = logging.getLogger(__name__)

TelegramAnswer = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns, decoded


class FollowingRateLimiter(AIORateLimiter):
    """PTB's rate limiter (waits out flood control, ``max_retries`` times), which also follows a
    group to its supergroup: ``ChatMigrated`` moves the rows, and the call is made again there."""

    def __init__(self, **limits: Any) -> None:
        super().__init__(**limits)
        # Set once the application exists: the rows to move are in its database.
        self.on_migrated: Callable[[int, int], Awaitable[None]] | None = None
        # Told (chat id, thread id) of a topic Telegram refused, before the call goes to General.
        self.on_topic_lost: Callable[[int, int], Awaitable[None]] | None = None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, TelegramAnswer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> TelegramAnswer:
        try:
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        except ChatMigrated as migrated:
            old = data.get("chat_id")
            if old is None:
                raise
            if self.on_migrated is not None:
                await self.on_migrated(int(old), migrated.new_chat_id)
            # The call goes again, to the supergroup, without replying to a message that stayed
            # behind in the old chat. PTB documents ``data`` as the call's parameters, not as what
            # ``callback`` is given: it is the very dict in ``args`` on the versions pyproject.toml
            # allows, which tests/unit/test_rate_limiter.py proves.
            data["chat_id"] = migrated.new_chat_id
            data.pop("reply_parameters", None)
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        except BadRequest as refused:
            thread_id, chat_id = data.get("message_thread_id"), data.get("chat_id")
            if thread_id is None or chat_id is None or not topics.is_lost_topic(refused):
                raise
            if self.on_topic_lost is not None:
                await self.on_topic_lost(int(chat_id), int(thread_id))
            # Again in General, without replying to a message of that topic.
            data.pop("message_thread_id")
            data.pop("reply_parameters", None)
            return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


async def follow(application: Application[Any, Any, Any, Any, Any, Any], old: int, new: int) -> None:
    """Move a group's rows to its supergroup, then post again what stayed behind (once, however
    many times Telegram tells)."""
    services = application.bot_data.get("services")
    if services is None or not await services.database.write(
        lambda connection: chat_migration.move(connection, old, new)
    ):
        return
    logger.info("Chat %s became the supergroup %s: its rows moved there", old, new)
    job_queue = application.job_queue
    assert job_queue is not None  # build_application always sets one up
    job_queue.run_once(_repost, 0, data=new, name=f"migrated-{new}")
    outbox_sender.kick(job_queue)


async def _repost(context: BotContext) -> None:
    """Post the open proposals of a group that just became a supergroup."""
    assert context.job is not None and isinstance(context.job.data, int)  # scheduled by follow
    await consent.repost(context, context.job.data)


async def chat_migrated(update: Update, context: BotContext) -> None:
    """Follow a group that became a supergroup, from the service message in either chat."""
    message = updates.message(update)
    if message.migrate_to_chat_id:
        await follow(context.application, message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await follow(context.application, message.migrate_from_chat_id, message.chat_id)
