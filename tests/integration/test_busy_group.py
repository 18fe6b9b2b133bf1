"""One busy group slows nobody: with a group at Telegram's budget (20 messages a minute), a
button press elsewhere, or in that group, is answered at once (Telegram gives up on a press
after about 15 s)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.ext import ApplicationBuilder

from bot.handlers import redelivery
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser
from tests.integration.conftest import RunningBot, running_bot, settings_for

GROUP_BUDGET = 20  # Telegram's messages per minute in one group, as in production
QUICK = 1.0  # seconds: a press must be answered within this, however busy a group is


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    budget = {
        "rate_limit_overall_per_second": 30,
        "rate_limit_group_per_minute": GROUP_BUDGET,
        "rate_limit_max_retries": 3,
    }
    async with running_bot(fake, tmp_path, **budget) as running:
        yield running


async def use_the_budget(fake: FakeTelegram, member: FakeUser, group: FakeChat, messages: int) -> None:
    """Have the bot answer ``messages`` /aide in ``group``; wait for the first ``GROUP_BUDGET``."""
    already = len(fake.messages_in(group))
    for _ in range(messages):
        fake.send(member, group, "/aide")
    for _ in range(min(messages, GROUP_BUDGET - already)):
        await fake.next_message(group, timeout=10)


async def answered_in(fake: FakeTelegram, query_id: str) -> float:
    """Seconds until Telegram got the answer to a press."""
    pressed = time.monotonic()
    await fake.callback_answer(query_id, timeout=30)
    return time.monotonic() - pressed


async def test_a_press_in_another_chat_is_answered_at_once_while_a_group_is_saturated(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    busy, calm = fake.add_user("Ana"), fake.add_user("Bob")
    busy_group = fake.add_group("GL Lyon", [busy])
    calm_group = fake.add_group("GL Die", [calm])
    fake.send(calm, calm_group, "/bonnes_pratiques")
    menu = await fake.next_message(calm_group)

    # The busy group asks for more than its budget: the last answers wait 3 s each.
    await use_the_budget(fake, busy, busy_group, GROUP_BUDGET + 2)
    latency = await answered_in(fake, fake.press(calm, menu, menu.button_texts()[0]))
    print(f"press answered in {latency:.3f} s while another group was saturated")
    assert latency < QUICK
    await fake.wait_edit(menu)
    assert len(fake.messages_in(busy_group)) < GROUP_BUDGET + 2, "the busy group was still waiting"


async def test_a_press_is_answered_before_the_messages_it_sends(fake: FakeTelegram, bot: RunningBot) -> None:
    member = fake.add_user("Ana")
    group = fake.add_group("GL Lyon", [member])
    library = bot.application.bot_data["library"]
    fake.send(member, group, "/partenariat")
    intro = await fake.next_message(group)
    await use_the_budget(fake, member, group, GROUP_BUDGET - 1)

    # The flow opens (stored), then its intro and first question wait for the group's budget.
    latency = await answered_in(fake, fake.press(member, intro, library.messages.intake.button_here))
    print(f"press answered in {latency:.3f} s in a group at its budget")
    assert latency < QUICK
    assert len(fake.messages_in(group)) == GROUP_BUDGET, "answered before the flow's messages left"
    await fake.next_message(group, timeout=15)
    assert await bot.database.fetch_one("SELECT 1 FROM flow_sessions") is not None


async def test_an_application_that_would_confirm_unfinished_updates_is_refused(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)
    assert RunningBot(settings).build() is not None  # the bot's own arrangement passes
    plain = ApplicationBuilder().token(fake.token).concurrent_updates(8).build()
    with pytest.raises(redelivery.UnsafeAcknowledgement, match="update processor"):
        redelivery.require_acknowledgement(plain)
    ledger = redelivery.HandledQueue(acknowledge_each=False)
    polling_with_a_plain_bot = (
        ApplicationBuilder()
        .token(fake.token)
        .update_queue(ledger)
        .concurrent_updates(redelivery.ChatOrderedProcessor(ledger, 8))
        .build()
    )
    with pytest.raises(redelivery.UnsafeAcknowledgement, match="polls with a bot"):
        redelivery.require_acknowledgement(polling_with_a_plain_bot)
