"""Known groups and forum topics: a lost topic is forgotten everywhere, the admins told once."""

from __future__ import annotations

from bot.storage import chats, home_topics, outbox
from bot.storage.db import Database

FORUM, OTHER = -1001000000001, -1001000000002


async def test_a_lost_topic_is_forgotten_everywhere_and_reported_once_if_it_was_home(database: Database) -> None:
    await database.write(lambda connection: chats.remember(connection, FORUM, "supergroup", "GL Forum"))
    await database.write(lambda connection: home_topics.set_home(connection, FORUM, 7))
    await database.write(
        lambda connection: [
            outbox.enqueue(connection, FORUM, ["dans le sujet"], thread_id=7),
            outbox.enqueue(connection, FORUM, ["ailleurs"], thread_id=9),
            outbox.enqueue(connection, OTHER, ["autre groupe"], thread_id=7),
        ]
    )
    assert await database.read(lambda connection: home_topics.home(connection, FORUM)) == 7

    assert await database.write(lambda connection: home_topics.forget(connection, FORUM, 7))
    assert not await database.write(lambda connection: home_topics.forget(connection, FORUM, 7)), (
        "the admins are told once"
    )
    assert await database.read(lambda connection: home_topics.home(connection, FORUM)) is None
    assert {(d.chat_id, d.texts[0], d.thread_id) for d in await database.read(outbox.pending)} == {
        (FORUM, "dans le sujet", None),
        (FORUM, "ailleurs", 9),
        (OTHER, "autre groupe", 7),
    }
    assert not await database.write(lambda connection: home_topics.forget(connection, FORUM, 9)), (
        "not the home topic: nobody to tell"
    )


async def test_only_groups_the_bot_is_in_are_known(database: Database) -> None:
    await database.write(lambda connection: chats.remember(connection, FORUM, "supergroup", "GL Forum"))
    await database.write(lambda connection: chats.remember(connection, OTHER, "supergroup", "GL Alès"))
    await database.write(lambda connection: chats.remember(connection, 1001, "private", None))
    await database.write(lambda connection: chats.mark_left(connection, FORUM))
    assert await database.read(chats.known_groups) == [(OTHER, "GL Alès")]
    await database.write(lambda connection: chats.mark_left(connection, FORUM, left=False))
    assert await database.read(chats.known_groups) == [(OTHER, "GL Alès"), (FORUM, "GL Forum")]
