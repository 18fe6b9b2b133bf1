"""The outbox keeps a message until Telegram confirmed it, part by part, trying again later and later."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.core.library import Library
from bot.handlers import outbox_sender, reviews
from bot.rounds import lifecycle
from bot.storage import outbox
from bot.storage.db import Database

GROUP, OTHER_GROUP = -1001, -1002
FIRST = timedelta(seconds=5)


async def test_a_delivery_is_pending_until_every_part_is_confirmed(database: Database) -> None:
    assert await database.write(
        lambda connection: outbox.enqueue(
            connection, GROUP, ["un", "deux"], kind="summary", ref=7, reply_to=3, markup={"inline_keyboard": []}
        )
    )
    (delivery,) = await database.read(outbox.pending)
    assert (delivery.texts, delivery.sent_parts, delivery.ref, delivery.reply_to_message_id) == (
        ("un", "deux"),
        0,
        7,
        3,
    )
    assert delivery.next_attempt_at <= datetime.now(UTC)

    await database.write(lambda connection: outbox.part_sent(connection, delivery.id, 1, 40))
    await database.write(lambda connection: outbox.part_sent(connection, delivery.id, 2, 41))
    (delivery,) = await database.read(outbox.pending)
    assert (delivery.sent_parts, delivery.message_id) == (2, 40), "a retry goes on after the parts sent"
    await database.write(lambda connection: outbox.delivered(connection, delivery.id))
    assert await database.read(outbox.pending) == []


async def test_a_chats_first_pending_delivery_is_its_oldest_not_finished_one(database: Database) -> None:
    for chat_id, text in ((GROUP, "envoyé"), (OTHER_GROUP, "ailleurs"), (GROUP, "suivant"), (GROUP, "dernier")):
        await database.write(partial(outbox.enqueue, chat_id=chat_id, texts=[text]))
    assert await database.read(partial(outbox.first_pending, chat_id=-1)) is None
    sent = await database.read(partial(outbox.first_pending, chat_id=GROUP))
    assert sent is not None and sent.texts == ("envoyé",)
    await database.write(lambda connection: outbox.delivered(connection, sent.id))
    following = await database.read(partial(outbox.first_pending, chat_id=GROUP))
    assert following is not None and following.texts == ("suivant",)
    elsewhere = await database.read(partial(outbox.first_pending, chat_id=OTHER_GROUP))
    assert elsewhere is not None and elsewhere.texts == ("ailleurs",)


async def test_a_chats_first_pending_delivery_is_found_by_an_index(database: Database) -> None:
    """Each chat's sender looks it up after every delivery: it must not read the other chats'."""

    def plan(connection: sqlite3.Connection) -> list[str]:
        statements: list[str] = []
        connection.set_trace_callback(statements.append)
        try:
            outbox.first_pending(connection, GROUP)
        finally:
            connection.set_trace_callback(None)
        (query,) = (statement for statement in statements if statement.lstrip().upper().startswith("SELECT"))
        return [row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {query}")]

    details = await database.read(plan)
    assert any("USING INDEX outbox_pending_by_chat (chat_id=?)" in detail for detail in details), details


async def test_a_key_is_queued_once_even_after_it_was_sent(database: Database) -> None:
    assert await database.write(
        lambda connection: outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:1")
    )
    (delivery,) = await database.read(outbox.pending)

    def deliver_then_queue_again(connection: sqlite3.Connection) -> tuple[bool, bool]:
        outbox.delivered(connection, delivery.id)
        return (
            outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:1"),
            outbox.enqueue(connection, GROUP, ["bilan"], key="summary-in-group:2"),
        )

    assert await database.write(deliver_then_queue_again) == (False, True)


async def test_each_failure_doubles_the_wait_up_to_an_hour(database: Database) -> None:
    assert [outbox.backoff(n, FIRST) for n in (1, 2, 3)] == [FIRST, 2 * FIRST, 4 * FIRST]
    assert outbox.backoff(12, FIRST) == outbox.backoff(1000, FIRST) == outbox.LONGEST_WAIT
    await database.write(lambda connection: outbox.enqueue(connection, GROUP, ["relance"]))
    (delivery,) = await database.read(outbox.pending)
    before = datetime.now(UTC)
    await database.write(
        lambda connection: outbox.retry_later(connection, delivery, "NetworkError: Bad Gateway", FIRST)
    )
    (delivery,) = await database.read(outbox.pending)
    at = await database.write(lambda connection: outbox.retry_later(connection, delivery, "TimedOut: Timed out", FIRST))
    (delivery,) = await database.read(outbox.pending)
    assert delivery.attempts == 2 and delivery.next_attempt_at == at
    assert before + 2 * FIRST <= at <= datetime.now(UTC) + 2 * FIRST


async def test_refused_and_sent_deliveries_are_forgotten_after_a_while(database: Database) -> None:
    for text in ("envoyé", "refusé", "en attente"):
        await database.write(partial(outbox.enqueue, chat_id=GROUP, texts=[text]))
    sent, refused, waiting = await database.read(outbox.pending)
    await database.write(lambda connection: outbox.delivered(connection, sent.id))
    await database.write(
        lambda connection: outbox.refused(connection, refused.id, "Forbidden: bot was kicked from the supergroup chat")
    )
    await database.write(lambda connection: outbox.forget_delivered(connection, timedelta(days=7)))
    assert len(await database.fetch_all("SELECT * FROM outbox")) == 3, "kept a week"
    eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    await database.write(lambda connection: connection.execute("UPDATE outbox SET done_at = ?", (eight_days_ago,)))
    await database.write(lambda connection: outbox.forget_delivered(connection, timedelta(days=7)))
    assert [d.id for d in await database.read(outbox.pending)] == [waiting.id]
    assert len(await database.fetch_all("SELECT * FROM outbox")) == 1


def test_a_kind_registered_twice_is_refused() -> None:
    kinds = outbox_sender.Kinds()
    kinds.register("summary", outbox_sender.Kind())
    with pytest.raises(outbox_sender.KindRegisteredTwice, match="'summary'"):
        kinds.register("summary", outbox_sender.Kind())
    with pytest.raises(outbox_sender.KindRegisteredTwice, match="'plain'"):
        kinds.register(outbox.PLAIN, outbox_sender.Kind())


async def test_pending_deliveries_of_unregistered_kinds_are_named_and_registered_ones_pass(
    database: Database,
) -> None:
    kinds = outbox_sender.Kinds()
    kinds.register("summary", outbox_sender.Kind())
    await database.write(lambda connection: outbox.enqueue(connection, GROUP, ["bilan"], kind="summary"))
    await database.write(lambda connection: outbox.enqueue(connection, GROUP, ["relance"]))
    await kinds.check_pending(database)
    for _ in range(2):
        await database.write(lambda connection: outbox.enqueue(connection, GROUP, ["?"], kind="renamed"))
    with pytest.raises(outbox_sender.UnregisteredKinds, match=r"'renamed' \(2 pending\)"):
        await kinds.check_pending(database)


def test_the_application_registers_every_kind_the_bot_queues(library: Library, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, telegram_bot_token="123:fake", database_path=tmp_path / "bot.sqlite3")
    application = build_application(settings, library)
    kinds = application.bot_data[outbox_sender.KINDS]
    for name in (outbox.PLAIN, lifecycle.SUMMARY, lifecycle.PROPOSAL, lifecycle.OBJECTORS_FIRST, reviews.POSTED):
        kinds.hooks(name)
