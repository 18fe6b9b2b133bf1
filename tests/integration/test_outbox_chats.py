"""The outbox sends to every chat at once, each chat's deliveries in the order queued: a slow
or failing chat holds no other, and a delivery queued while its chat is being sent to goes out."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.handlers import outbox_sender
from bot.services import BotContext
from bot.storage import outbox
from tests.fake_telegram import FakeChat, FakeTelegram
from tests.integration.circle_scene import rows
from tests.integration.conftest import RunningBot, running_bot
from tests.integration.conversation import until

T = TypeVar("T")
SLOW = 3.0  # seconds a slow chat's call takes, well under the timeout: slow, not failed


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_bot(fake, tmp_path, telegram_timeout_seconds=3 * SLOW, outbox_retry_seconds=0.05) as running:
        yield running


def groups(fake: FakeTelegram, count: int) -> list[FakeChat]:
    member = fake.add_user("Bea")
    return [fake.add_group(f"GL {number}", [member]) for number in range(count)]


async def queue(bot: RunningBot, deliveries: list[tuple[FakeChat, str]]) -> None:
    """Queue these messages in one transaction, in this order, and have them sent."""

    def change(connection: sqlite3.Connection) -> None:
        for chat, text in deliveries:
            outbox.enqueue(connection, chat.id, [text])

    await bot.database.write(change)
    assert bot.application.job_queue is not None  # build_application sets one up
    outbox_sender.kick(bot.application.job_queue)


async def text_in(fake: FakeTelegram, chat: FakeChat, text: str) -> None:
    await until(fake, chat, lambda m: m.plain_text == text)


def received(fake: FakeTelegram, chat: FakeChat) -> list[str]:
    return [m.plain_text for m in fake.messages_in(chat)]


async def test_a_slow_chat_does_not_delay_another_chats_delivery(fake: FakeTelegram, bot: RunningBot) -> None:
    slow, quick = groups(fake, 2)
    fake.delay_next("sendMessage", SLOW, chat_id=slow.id)
    await queue(bot, [(slow, "lent"), (slow, "lent, la suite"), (quick, "vite")])
    await text_in(fake, quick, "vite")
    assert received(fake, slow) == [], "the slow chat's first message is still on its way"
    await text_in(fake, slow, "lent, la suite")
    assert received(fake, slow) == ["lent", "lent, la suite"]


async def test_each_chats_deliveries_leave_in_order_and_wait_behind_a_failed_one(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    chats = groups(fake, 4)
    failing = chats[0]
    texts = {chat.id: [f"{number} à {chat.title}" for number in range(5)] for chat in chats}

    def fail_the_second_once(method: str, params: dict[str, Any]) -> None:
        text = params.get("text")
        if text == texts[failing.id][1] and [p.get("text") for _, p in fake.calls].count(text) == 1:
            fake.fail_next("sendMessage", 502, "Bad Gateway", chat_id=failing.id)

    fake.on_call = fail_the_second_once
    # Interleaved: chat 0's first, chat 1's first, ..., chat 0's second, ...
    await queue(bot, [(chat, texts[chat.id][number]) for number in range(5) for chat in chats])
    for chat in chats:
        await text_in(fake, chat, texts[chat.id][-1])
    await fake.idle(quiet=0.3)

    assert len([e for _, p, e in fake.errors if p.get("chat_id") == failing.id and e["error_code"] == 502]) == 1
    for chat in chats:
        assert received(fake, chat) == texts[chat.id], f"{chat.title}: each message once, in the order queued"
    assert await rows(bot, "SELECT DISTINCT status FROM outbox") == [("sent",)]


async def test_a_delivery_queued_as_its_chat_finds_nothing_left_is_sent(
    fake: FakeTelegram, bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the outbox must close: the chat's sender has just read that nothing is left
    when a delivery is queued and a flush runs, before the sender stops."""
    (group,) = groups(fake, 1)
    database = bot.database
    found_nothing: list[int] = []
    first_pending = outbox.first_pending

    def watched(connection: sqlite3.Connection, chat_id: int) -> outbox.Delivery | None:
        delivery = first_pending(connection, chat_id)
        if delivery is None:
            found_nothing.append(chat_id)
        return delivery

    monkeypatch.setattr(outbox, "first_pending", watched)
    write, read = database.write, database.read

    async def queued_meanwhile(result: T) -> T:
        if found_nothing == [group.id]:  # the first time only
            found_nothing.append(0)
            await write(lambda connection: outbox.enqueue(connection, group.id, ["deux"]))
            await outbox_sender.flush(BotContext(bot.application))
        return result

    async def watched_write(change: Callable[[sqlite3.Connection], T], update_id: int | None = None) -> T:
        return await queued_meanwhile(await write(change, update_id))

    async def watched_read(query: Callable[[sqlite3.Connection], T]) -> T:
        return await queued_meanwhile(await read(query))

    monkeypatch.setattr(database, "write", watched_write)
    monkeypatch.setattr(database, "read", watched_read)

    await queue(bot, [(group, "un")])
    await text_in(fake, group, "deux")
    await fake.idle(quiet=0.3)
    assert found_nothing[:2] == [group.id, 0], "the delivery was queued just as the sender found nothing left"
    assert received(fake, group) == ["un", "deux"]


async def test_a_delivery_moved_to_a_supergroup_while_it_is_sent_leaves_once(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    """The group's drain meets ChatMigrated: the rate limiter moves the rows to the supergroup
    and sends the call again there, while the move's kick starts the supergroup's drain."""
    old = fake.add_group("GL de base", [fake.add_user("Bea")], supergroup=False)
    new = fake.migrate_to_supergroup(old, announce=False)
    fake.delay_next("sendMessage", 1.0, chat_id=new.id)  # the call sent again: the other drain runs meanwhile
    await queue(bot, [(old, "un"), (old, "deux")])
    await text_in(fake, new, "deux")
    await fake.idle(quiet=0.3)
    assert received(fake, new) == ["un", "deux"]
    assert await rows(bot, "SELECT chat_id, status FROM outbox") == [(new.id, "sent"), (new.id, "sent")]


async def test_kicks_while_a_flush_waits_to_start_add_none(fake: FakeTelegram, bot: RunningBot) -> None:
    (group,) = groups(fake, 1)
    assert bot.application.job_queue is not None  # build_application sets one up
    job_queue = bot.application.job_queue
    await bot.database.write(lambda connection: outbox.enqueue(connection, group.id, ["un"]))
    for _ in range(3):  # as three handlers queueing one message each before the flush starts
        outbox_sender.kick(job_queue)
    assert len(job_queue.get_jobs_by_name(outbox_sender.NOW)) == 1
    await text_in(fake, group, "un")
    await bot.database.write(lambda connection: outbox.enqueue(connection, group.id, ["deux"]))
    outbox_sender.kick(job_queue)  # after that flush started: a flush of its own
    await text_in(fake, group, "deux")
    await fake.idle(quiet=0.3)
    assert received(fake, group) == ["un", "deux"]


async def test_chats_failing_at_once_plan_one_retry_at_the_earliest_wait(fake: FakeTelegram, tmp_path: Path) -> None:
    chats = groups(fake, 3)
    for chat in chats:
        fake.fail_next("sendMessage", 502, "Bad Gateway", chat_id=chat.id)
    async with running_bot(fake, tmp_path, outbox_retry_seconds=60) as running:
        await queue(running, [(chat, f"pour {chat.title}") for chat in chats])
        await fake.idle(quiet=0.3)
        assert running.application.job_queue is not None
        (retry,) = running.application.job_queue.get_jobs_by_name(outbox_sender.RETRY)
        [(earliest,)] = await rows(running, "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")
        assert retry.next_t is not None and retry.next_t.isoformat(timespec="microseconds") == earliest
        assert len(fake.errors) == 3
