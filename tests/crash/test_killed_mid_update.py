"""Killed in the middle of an update, the bot finishes it after the restart, nobody asking again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.crash.process import BotProcess
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser
from tests.integration.circle_scene import OPEN_BUTTON
from tests.integration.conversation import CONFIRM, ONE_OFF_REQUEST, STEP_LABEL, fill, next_prompt, open_in_private


@dataclass
class Scene:
    fake: FakeTelegram
    bot: BotProcess
    alice: FakeUser
    group: FakeChat
    private: FakeChat

    async def called(self, method: str, after: int = 0) -> None:
        """Wait until the bot makes this call (its ``after``-th call or a later one)."""

        async def seen() -> None:
            while method not in (name for name, _ in self.fake.calls[after:]):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(seen(), 10)

    async def restart(self) -> None:
        await self.bot.start()
        await self.bot.ready()


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    """Alice, a member of a group, and the bot running as a process."""
    async with FakeTelegram() as fake:
        alice = fake.add_user("Alice")
        group = fake.add_group("GL Gard", [alice])
        bot = BotProcess(fake, tmp_path)
        await bot.start()
        try:
            await bot.ready()
            yield Scene(fake, bot, alice, group, fake.private_chat(alice))
        finally:
            await bot.stop()


async def test_an_answer_being_handled_when_the_bot_is_killed_is_handled_after_the_restart(scene: Scene) -> None:
    fake = scene.fake
    # The bot checks Alice is in the group, and dies while Telegram is slow to say so.
    fake.delay_next("getChatMember", 60)
    fake.send(scene.alice, scene.private, f"/start g{scene.group.id}")
    await scene.called("getChatMember")
    await scene.bot.kill()

    await scene.restart()
    assert f"{STEP_LABEL}1/" in (await next_prompt(fake, scene.private)).plain_text


async def test_a_request_stored_when_the_bot_is_killed_is_presented_after_the_restart(scene: Scene) -> None:
    fake = scene.fake
    await open_in_private(fake, scene.alice, scene.group)
    summary = await fill(fake, scene.alice, scene.private, ONE_OFF_REQUEST)
    # Validated and stored; the bot dies while its card is on the way to the group.
    calls = len(fake.calls)
    fake.delay_next("sendMessage", 60)
    fake.press(scene.alice, summary, CONFIRM)
    await scene.called("sendMessage", after=calls)
    await scene.bot.kill()
    assert fake.messages_in(scene.group) == []

    await scene.restart()
    card = await fake.next_message(scene.group)
    assert "Alternatiba" in card.plain_text and OPEN_BUTTON in card.button_texts()
