"""The outbox keeps a message until Telegram confirmed it, part by part, trying again later and later."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from bot.storage import outbox
from bot.storage.db import Database

GROUP = -1001
FIRST = timedelta(seconds=5)


async def test_a_delivery_is_pending_until_every_part_is_confirmed(database: Database) -> None:
    def queue(connection: sqlite3.Connection) -> None:
        assert outbox.enqueue(
            connection, GROUP, ["un", "deux"], kind="summary", ref=7, reply_to=3, markup={"inline_keyboard": []}
        )

    await database.write(queue)
    (delivery,) = await outbox.pending(database)
    assert (delivery.texts, delivery.sent_parts, delivery.ref, delivery.reply_to_message_id) == (
        ("un", "deux"),
        0,
        7,
        3,
    )
    assert delivery.next_attempt_at <= datetime.now(UTC)

    await outbox.part_sent(database, delivery.id, 1, 40)
    await outbox.part_sent(database, delivery.id, 2, 41)
    (delivery,) = await outbox.pending(database)
    assert (delivery.sent_parts, delivery.message_id) == (2, 40), "a retry goes on after the parts sent"

    def deliver(connection: sqlite3.Connection) -> None:
        outbox.delivered(connection, delivery.id)

    await database.write(deliver)
    assert await outbox.pending(database) == []


async def test_a_key_is_queued_once_even_after_it_was_sent(database: Database) -> None:
    def queue(connection: sqlite3.Connection) -> None:
        assert outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:1")

    await database.write(queue)
    (delivery,) = await outbox.pending(database)

    def deliver_then_queue(connection: sqlite3.Connection) -> None:
        outbox.delivered(connection, delivery.id)
        assert not outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:1")
        assert outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:2")

    await database.write(deliver_then_queue)


async def test_each_failure_doubles_the_wait_up_to_an_hour(database: Database) -> None:
    assert [outbox.backoff(n, FIRST) for n in (1, 2, 3)] == [FIRST, 2 * FIRST, 4 * FIRST]
    assert outbox.backoff(12, FIRST) == outbox.backoff(1000, FIRST) == outbox.LONGEST_WAIT

    def queue(connection: sqlite3.Connection) -> None:
        outbox.enqueue(connection, GROUP, ["relance"])

    await database.write(queue)
    (delivery,) = await outbox.pending(database)
    before = datetime.now(UTC)
    at = await outbox.retry_later(database, delivery, "NetworkError: Bad Gateway", FIRST)
    (delivery,) = await outbox.pending(database)
    at = await outbox.retry_later(database, delivery, "TimedOut: Timed out", FIRST)
    (delivery,) = await outbox.pending(database)
    assert delivery.attempts == 2 and delivery.next_attempt_at == at
    assert before + 2 * FIRST <= at <= datetime.now(UTC) + 2 * FIRST


async def test_refused_and_sent_deliveries_are_forgotten_after_a_while(database: Database) -> None:
    def queue(connection: sqlite3.Connection) -> None:
        for text in ("envoyé", "refusé", "en attente"):
            outbox.enqueue(connection, GROUP, [text])

    await database.write(queue)
    sent, refused, waiting = await outbox.pending(database)

    def deliver(connection: sqlite3.Connection) -> None:
        outbox.delivered(connection, sent.id)

    await database.write(deliver)
    await outbox.refused(database, refused.id, "Forbidden: bot was kicked from the supergroup chat")
    await outbox.forget_delivered(database, timedelta(days=7))
    assert len(await database.fetch_all("SELECT * FROM outbox")) == 3, "kept a week"

    def a_week_and_a_day_later(connection: sqlite3.Connection) -> None:  # a week and a day later
        connection.execute("UPDATE outbox SET done_at = ?", ((datetime.now(UTC) - timedelta(days=8)).isoformat(),))

    await database.write(a_week_and_a_day_later)
    await outbox.forget_delivered(database, timedelta(days=7))
    assert [d.id for d in await outbox.pending(database)] == [waiting.id]
    assert len(await database.fetch_all("SELECT * FROM outbox")) == 1
