"""A group whose core circle was registered through the bot, and the author of a request:
what the consent tests start from, with a polling bot."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.consent_rules import Position
from bot.core.texts import render
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.integration.conftest import RunningBot, running_bot
from tests.integration.conversation import LIBRARY, ONE_OFF_REQUEST, file_request, plain, until

CONSENT = LIBRARY.consent
PROPOSAL = "Consentement sur la demande"
CONSENT_BUTTON = CONSENT.positions.of(Position.CONSENT).button
RESERVATION_BUTTON = CONSENT.positions.of(Position.RESERVATION).button
OBJECTION_BUTTON = CONSENT.positions.of(Position.OBJECTION).button
STAND_ASIDE_BUTTON = CONSENT.positions.of(Position.STAND_ASIDE).button
CONFLICT_BUTTON = CONSENT.positions.of(Position.CONFLICT).button
QUESTION_BUTTON = CONSENT.round.question_button
FULL_REQUEST_BUTTON = CONSENT.round.full_button
OPEN_BUTTON = CONSENT.round.open_button
CLOSE_CONFIRM_BUTTON = CONSENT.commands_feedback.close_confirm
ACCEPT_BUTTON = CONSENT.circle.button_accept
REASON_ASKED = CONSENT.alerts.reason_asked
# Redraws coalesced over 50 ms: tests see a proposal's edits quickly.
QUICK_REDRAWS = {"consent_edit_interval_seconds": 0.05}


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot with quick redraws (a module that imports this fixture uses it)."""
    async with running_bot(fake, tmp_path, **QUICK_REDRAWS) as running:
        yield running


@dataclass
class Scene:
    fake: FakeTelegram
    group: FakeChat
    admin: FakeUser
    circle: list[FakeUser]
    author: FakeUser

    async def message(self, predicate: Callable[[BotMessage], bool]) -> BotMessage:
        """The next message in the group that matches, skipping the others."""
        return await until(self.fake, self.group, predicate)

    async def containing(self, text: str) -> BotMessage:
        return await self.message(lambda m: text in m.plain_text)

    async def add_coordinator(self, name: str, *, started: bool) -> FakeUser:
        """An admin makes a group member a coordinator; ``started``: they once wrote to the bot."""
        fake = self.fake
        coordinator = fake.add_user(name)
        fake.set_member_status(self.group, coordinator, "member")
        if started:
            fake.send(coordinator, fake.private_chat(coordinator), "/start")
        said = fake.send(coordinator, self.group, "Je veux bien coordonner")
        fake.send(self.admin, self.group, "/coordination ajouter", reply_to=said)
        added = await self.containing(name)
        assert added.plain_text == plain(render(CONSENT.coordination.added, member=name)), added.plain_text
        return coordinator

    async def file_request(self, replies: list[str] = ONE_OFF_REQUEST) -> BotMessage:
        """The author fills a request in private (deep link); return its card in the group."""
        await file_request(self.fake, self.author, self.group, replies)
        return await self.message(lambda m: OPEN_BUTTON in m.button_texts())

    async def open_round(self, opener: FakeUser, command: str = "/consentement 1") -> BotMessage:
        self.fake.send(opener, self.group, command)
        return await self.containing(PROPOSAL)

    async def press(self, member: FakeUser, proposal: BotMessage, button: str) -> dict[str, Any]:
        """Press a proposal's button and return the alert Telegram shows the member."""
        query = self.fake.press(member, proposal, button)
        return await self.fake.callback_answer(query)

    async def give_reason(self, member: FakeUser, proposal: BotMessage, button: str, reason: str) -> BotMessage:
        """Take a position that needs a reason: press, then reply to the prompt that mentions you."""
        alert = await self.press(member, proposal, button)
        assert alert["text"] == REASON_ASKED, alert
        prompt = await self.message(lambda m: m.is_force_reply() and member.first_name in m.plain_text)
        self.fake.send(member, self.group, reason, reply_to=prompt)
        return prompt


async def scene(
    fake: FakeTelegram,
    names: tuple[str, ...] = ("Bea", "Cal"),
    author_in_circle: bool = False,
    supergroup: bool = True,
) -> Scene:
    """A group with an admin, a core circle registered through the bot, and a request's author."""
    admin = fake.add_user("Ana")
    circle = [fake.add_user(name) for name in names]
    author = circle[0] if author_in_circle else fake.add_user("Eve")
    members = circle if author_in_circle else [*circle, author]
    group = fake.add_group("GL Pays d'Uzès", members, creator=admin, supergroup=supergroup)
    staged = Scene(fake, group, admin, circle, author)
    for member in circle:
        said = fake.send(member, group, f"Bonjour, c'est {member.first_name}")
        fake.send(admin, group, "/cercle ajouter", reply_to=said)
        await staged.containing(plain(render(CONSENT.circle.added, member=member.first_name)))
    return staged


def position_line(member: str, position: Position, reason: str | None = None) -> str:
    """How a proposal shows a member's position (``reason``: the whole of it)."""
    shown = CONSENT.positions.of(position)
    if reason is None:
        return plain(render(CONSENT.round.position_line, icon=shown.icon, member=member, position=shown.name))
    template = CONSENT.round.position_line_reason
    return plain(render(template, icon=shown.icon, member=member, position=shown.name, reason=reason))


def waiting(members: str) -> str:
    """A proposal's line of the members yet to answer."""
    return plain(render(CONSENT.round.waiting, members=members))


def unanswered(members: str) -> str:
    """An outcome's or a summary's line of the members who never answered."""
    return plain(render(CONSENT.summary.waiting, members=members))


async def settled(fake: FakeTelegram, message: BotMessage, text: str) -> BotMessage:
    """Wait until the proposal's latest redraw shows ``text``."""
    while text not in message.plain_text:
        await fake.wait_edit(message)
    return message


async def rows(bot: RunningBot, sql: str, *parameters: object) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await bot.database.fetch_all(sql, parameters)]


def set_deadline(bot: RunningBot, deadline: datetime) -> None:
    """Make a week pass while the bot is stopped: the open round ends at ``deadline`` now."""
    with sqlite3.connect(bot.settings.database_path) as connection:
        connection.execute(
            "UPDATE consent_rounds SET opened_at = ?, deadline_at = ? WHERE status = 'open'",
            ((deadline - timedelta(days=7)).isoformat(timespec="seconds"), deadline.isoformat(timespec="seconds")),
        )
