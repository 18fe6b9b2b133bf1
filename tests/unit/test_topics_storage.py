"""Known groups and forum topics: a lost topic is forgotten everywhere, the admins told once."""

from __future__ import annotations

import sqlite3

from bot.storage import chats, home_topics, outbox
from bot.storage.db import Database

FORUM, OTHER = -1001000000001, -1001000000002


async def test_a_lost_topic_is_forgotten_everywhere_and_reported_once_if_it_was_home(database: Database) -> None:
    await chats.remember(database, FORUM, "supergroup", "GL Forum")
    async with database.transaction() as connection:
        await home_topics.set_home(connection, FORUM, 7)

    def queue(connection: sqlite3.Connection) -> None:
        outbox.enqueue(connection, FORUM, ["dans le sujet"], thread_id=7)
        outbox.enqueue(connection, FORUM, ["ailleurs"], thread_id=9)
        outbox.enqueue(connection, OTHER, ["autre groupe"], thread_id=7)

    await database.write(queue)
    assert await home_topics.home(database, FORUM) == 7

    assert await home_topics.forget(database, FORUM, 7)
    assert not await home_topics.forget(database, FORUM, 7), "the admins are told once"
    assert await home_topics.home(database, FORUM) is None
    assert {(d.chat_id, d.texts[0], d.thread_id) for d in await outbox.pending(database)} == {
        (FORUM, "dans le sujet", None),
        (FORUM, "ailleurs", 9),
        (OTHER, "autre groupe", 7),
    }
    assert not await home_topics.forget(database, FORUM, 9), "not the home topic: nobody to tell"


async def test_only_groups_the_bot_is_in_are_known(database: Database) -> None:
    await chats.remember(database, FORUM, "supergroup", "GL Forum")
    await chats.remember(database, OTHER, "supergroup", "GL Alès")
    await chats.remember(database, 1001, "private", None)
    await chats.mark_left(database, FORUM)
    assert await chats.known_groups(database) == [(OTHER, "GL Alès")]
    await chats.mark_left(database, FORUM, left=False)
    assert await chats.known_groups(database) == [(OTHER, "GL Alès"), (FORUM, "GL Forum")]
