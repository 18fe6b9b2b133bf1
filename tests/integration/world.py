"""A local group with every role and every kind of button, built once through the real bot.

The fuzz, authorization, escaping and long-answer tests act on it: a group whose core circle, coordinator and
configured admin were set up with the bot's own commands, a request waiting for a decision
(its card carries "Ouvrir le consentement"), a consent round in progress, an adopted
partnership whose review follow-up is posted, a pending request to join the circle, and a
second group with its own round (its ids must mean nothing in the first).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis.vendor.pretty import RepresentationPrinter

from bot.handlers import reviews
from bot.services import BotApplication, Services, jobs
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser, SavedMessages
from tests.integration.circle_scene import CONSENT_BUTTON
from tests.integration.conversation import ONE_OFF_REQUEST, file_request
from tests.integration.direct import DirectBot, SavedDatabase, reviews_fall_due

PROPOSAL = "Consentement sur la demande"


@dataclass(repr=False)  # its messages would fill pages of a failure report
class World:
    fake: FakeTelegram
    bot: DirectBot
    group: FakeChat
    other_group: FakeChat
    admin: FakeUser  # the group's creator: a chat admin
    configured: FakeUser  # in ADMIN_USER_IDS, a plain member of the group
    circle: list[FakeUser]
    coordinator: FakeUser
    member: FakeUser  # in no roster, has asked to join the circle
    author: FakeUser  # of request n°1, in no roster
    stranger: FakeUser  # in no group; has talked to the bot in private
    others: list[FakeUser] = field(default_factory=list)  # the second group's people
    messages: dict[str, BotMessage] = field(default_factory=dict)
    # Set once built (``build_world``), for ``reset``:
    saved: SavedDatabase = field(init=False)
    built_said: list[dict[str, Any]] = field(init=False)  # the members'
    # The bot's messages (what members see, what Telegram sends with a press): the bot edits
    # them, and a reset puts them back along with the database.
    frozen: SavedMessages = field(init=False)

    @property
    def application(self) -> BotApplication:
        return self.bot.application

    @property
    def services(self) -> Services:
        return self.bot.services

    def roles(self) -> dict[str, FakeUser]:
        return {
            "stranger": self.stranger,
            "member": self.member,
            "author": self.author,
            "circle": self.circle[0],
            "coordinator": self.coordinator,
            "chat_admin": self.admin,
            "configured_admin": self.configured,
        }

    def __repr__(self) -> str:
        return f"World({self.group.title!r}, {len(self.fake.sent)} messages sent)"

    def _repr_pretty_(self, printer: RepresentationPrinter, cycle: bool) -> None:  # what Hypothesis prints of a fixture
        printer.text(repr(self))

    @property
    def built_messages(self) -> list[BotMessage]:
        """The bot's messages once the world was built."""
        return self.frozen.messages

    def people(self) -> list[FakeUser]:
        return [
            self.admin,
            self.configured,
            *self.circle,
            self.coordinator,
            self.member,
            self.author,
            self.stranger,
            *self.others,
        ]

    def last(self, chat: FakeChat | FakeUser) -> BotMessage:
        return self.fake.messages_in(chat)[-1]

    def find(self, chat: FakeChat | FakeUser, text: str) -> BotMessage:
        """The latest message of the bot in ``chat`` that shows ``text``."""
        found = [m for m in self.fake.messages_in(chat) if text in m.plain_text]
        assert found, f"no message showing {text!r}\n{self.fake.describe()}"
        return found[-1]

    async def say(
        self, user: FakeUser, chat: FakeChat | FakeUser, text: str, reply_to: BotMessage | dict[str, Any] | None = None
    ) -> None:
        self.fake.send(user, chat, text, reply_to=reply_to)
        await self.bot.process()

    async def press(self, user: FakeUser, message: BotMessage, button: str) -> dict[str, Any]:
        """Press a button; the alert Telegram shows (empty when the bot answered silently)."""
        return await self._answer(self.fake.press(user, message, button))

    async def forge(self, user: FakeUser, message: BotMessage, data: str) -> dict[str, Any]:
        """Press ``message`` with any callback data, as a modified client can; the alert shown."""
        return await self._answer(self.fake.press_data(user, message, data))

    async def _answer(self, query: str) -> dict[str, Any]:
        await self.bot.process()
        return self.fake.callback_answers[query]

    async def close(self) -> None:
        await self.bot.stop()
        await self.saved.close()

    async def reset(self) -> None:
        """Put the database back as it was when the world was built; forget logged errors."""
        self.bot.errors.records.clear()
        self.fake.calls.clear()  # a long fuzz run would keep every call's text in memory
        self.fake.restore_messages(self.frozen)
        await self.saved.restore(self.bot.database)
        # Engines are cached by version: an upload undone by the restore must not linger.
        await self.services.catalog.use(self.services.library)


async def name_in_roster(world: World, group: FakeChat, admin: FakeUser, user: FakeUser, command: str) -> None:
    """An admin replies to one of the person's messages with ``/cercle ajouter`` (or coordination)."""
    said = world.fake.send(user, group, f"Bonjour, c'est {user.first_name}")
    await world.say(admin, group, command, reply_to=said)


@asynccontextmanager
async def running_world(
    tmp_path: Path, names: dict[str, str] | None = None, replies: list[str] = ONE_OFF_REQUEST
) -> AsyncIterator[World]:
    """A world on its own fake server, for a whole test module (tests ``reset`` it)."""
    async with FakeTelegram() as fake:
        world = await build_world(fake, tmp_path, names, replies)
        try:
            yield world
        finally:
            await world.close()


async def build_world(
    fake: FakeTelegram, tmp_path: Path, names: dict[str, str] | None = None, replies: list[str] = ONE_OFF_REQUEST
) -> World:
    """Build the scene through the bot's own commands, then save its database for ``reset``.

    ``names`` renames people and the group; ``replies`` answers the flow for every request
    (a one-off partnership, whose follow-up is "how did it go?").
    """
    names = {
        "admin": "Ana",
        "configured": "Dominique",
        "circle": "Bea,Cal",
        "coordinator": "Kim",
        "member": "Eve",
        "author": "Lou",
        "stranger": "Sam",
        "group": "GL Pays d'Uzès",
        **(names or {}),
    }
    admin, configured = fake.add_user(names["admin"]), fake.add_user(names["configured"])
    circle = [fake.add_user(name) for name in names["circle"].split(",")]
    coordinator, member = fake.add_user(names["coordinator"]), fake.add_user(names["member"])
    author, stranger = fake.add_user(names["author"]), fake.add_user(names["stranger"])
    group = fake.add_group(names["group"], [configured, *circle, coordinator, member, author], creator=admin)
    other_admin = fake.add_user("Otto")
    other_group = fake.add_group("GL Ailleurs", [circle[0]], creator=other_admin)
    bot = DirectBot.for_tests(fake, tmp_path, admin_user_ids=frozenset({configured.id}), review_post_hour=0)
    await bot.start()
    world = World(
        fake,
        bot,
        group,
        other_group,
        admin,
        configured,
        circle,
        coordinator,
        member,
        author,
        stranger,
        others=[other_admin],
    )
    try:
        await _stage(world, other_admin, replies)
    except BaseException:
        await bot.stop()  # its database thread would keep the test process alive
        raise
    world.saved = await SavedDatabase.of(bot.database)
    world.built_said = list(fake.user_messages)
    world.frozen = fake.save_messages()
    return world


async def _stage(world: World, other_admin: FakeUser, replies: list[str]) -> None:
    fake, group, other_group = world.fake, world.group, world.other_group
    admin, circle, coordinator, member = world.admin, world.circle, world.coordinator, world.member
    stranger, configured = world.stranger, world.configured

    for user in (coordinator, stranger, *circle, member, world.author, configured, admin):
        await world.say(user, fake.private_chat(user), "/start")
    for user in circle:
        await name_in_roster(world, group, admin, user, "/cercle ajouter")
    await name_in_roster(world, group, admin, coordinator, "/coordination ajouter")
    await name_in_roster(world, other_group, other_admin, circle[0], "/cercle ajouter")

    # n°1: waiting for a decision; n°2: a round in progress; n°3: adopted, its review posted.
    for author in (world.author, circle[1], circle[1]):
        await file_request(fake, author, group, replies, world.bot.process)
    world.messages["card"] = world.find(group, "Demande de partenariat n°1")
    await world.say(circle[0], group, "/consentement 3")
    for user in circle:  # the round closes once all who count answered (a declared link does not)
        proposal = world.find(group, PROPOSAL)
        if CONSENT_BUTTON in proposal.button_texts():
            await world.press(user, proposal, CONSENT_BUTTON)
    await world.say(circle[0], group, "/consentement 2")
    world.messages["proposal"] = world.find(group, PROPOSAL)
    await _post_review(world)
    world.messages["follow_up"] = world.find(group, "comment ça s'est passé")
    await world.say(member, group, "/cercle rejoindre")
    world.messages["join_request"] = world.last(group)

    await file_request(fake, circle[0], other_group, replies, world.bot.process)
    await world.say(circle[0], other_group, "/consentement 1")
    world.messages["other_proposal"] = world.find(other_group, PROPOSAL)


async def _post_review(world: World) -> None:
    """Time passes: the adopted partnership gets its review date, which falls due."""
    job_queue = jobs(world.application)
    job_queue.run_once(reviews.sweep, 0)  # gives n°3 its date
    await world.bot.settle()
    await reviews_fall_due(world.bot.database, world.services.today())
    job_queue.run_once(reviews.sweep, 0)  # posts its follow-up
    await world.bot.settle()
