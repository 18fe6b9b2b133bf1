"""Every answer at the longest the flow allows: each message that shows them still reaches Telegram.

The typed answers at their longest (two of 2000 characters) make a summary longer than the
4096 characters a message may hold. The member must still see their summary and validate it, the group its
details and its amendments: long answers are shortened there ("…"), never refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.core.flow_engine import TextStep
from tests.fake_telegram import BotMessage
from tests.integration.conversation import COMPANY_ANSWERS, CONFIRM, EDIT, SHIPPED_FLOW, file_request, replies
from tests.integration.world import World, running_world

pytestmark = pytest.mark.asyncio(loop_scope="module")


def longest(pattern: str) -> list[str]:
    """The company's request with every typed answer as long as the flow allows (HTML specials included)."""
    answers = dict(COMPANY_ANSWERS)
    for step in SHIPPED_FLOW.steps:
        if isinstance(step, TextStep) and step.id in answers:
            answers[step.id] = (pattern * step.max_length)[: step.max_length]
    return replies(answers)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory.mktemp("long")) as built:
        yield built


def assert_shown(world: World, message: BotMessage) -> None:
    assert not world.bot.errors.records, world.bot.errors.describe()
    assert "Oups" not in message.plain_text
    assert "…" in message.plain_text and len(message.plain_text) <= 4096


async def test_the_longest_answers_leave_a_summary_to_validate_and_details_to_read(world: World) -> None:
    await world.reset()
    member, group = world.member, world.group
    await file_request(world.fake, member, group, longest("<b>&é"), world.bot.process)

    summary = world.find(member, "récapitulatif")
    assert_shown(world, summary)
    assert "<b>&é<b>&é" in summary.plain_text, "shortened answers still read as typed"
    assert "Demande de partenariat n°4" in world.last(group).plain_text, "validated and presented"
    await world.say(member, group, "/demande 4")
    assert_shown(world, world.last(group))


async def test_an_amendment_of_the_longest_answers_is_announced(world: World) -> None:
    await world.reset()
    member, group = world.member, world.group
    await file_request(world.fake, member, group, longest("<b>&é"), world.bot.process)
    await world.say(member, group, "/modifier 4")
    for step_id in ("demande", "attentes", "lien_details"):
        step = SHIPPED_FLOW.step(step_id)
        assert isinstance(step, TextStep)  # a typed answer, with its longest
        await world.press(member, world.find(group, "récapitulatif"), EDIT)
        await world.press(member, world.find(group, "récapitulatif"), step.label)
        await world.say(member, group, "&<" * (step.max_length // 2), reply_to=world.last(group))
    summary = world.find(group, "récapitulatif")
    assert_shown(world, summary)

    await world.press(member, summary, CONFIRM)

    notice = world.find(group, "a modifié la demande n°4")
    assert_shown(world, notice)
    assert "<b>&é<b>&é" in notice.plain_text and "→ &<&<" in notice.plain_text
