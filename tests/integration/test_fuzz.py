"""Thousands of generated updates through the real application: nothing crashes, nobody gets in.

Anyone can type into a group chat, press a button of a public group, write to the bot in
private or forge callback data. Hypothesis plays members, newcomers and strangers sending
texts (4096 characters, emoji, right-to-left and zero-width characters, HTML and Markdown
specials), commands with odd arguments, stickers, photos, voice notes and documents, edited
messages, channel posts, service messages, and button presses carrying data taken from other
members' flows and other groups' rounds, crafted for every kind of button, or pure noise.

Each update goes through ``Application.process_update`` of the application ``python -m bot``
builds, talking to the fake Bot API server, which rejects what Telegram would (unescaped
HTML, messages over 4096 characters, unknown chats...): polling would add a round trip and a
wait per update for no extra fidelity. After every update: no ERROR was logged (the bot's
error handler logs every unhandled error), and an update from someone not allowed to change
something changed nothing of it in the database.

``FUZZ_EXAMPLES`` sets how many scenarios of up to ``FUZZ_STEPS`` updates are played
(see the README's development section for a longer run).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, TypeVar, get_args, get_origin

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.handlers import callback_data
from tests.fake_telegram import BotMessage, FakeChat, FakeUser
from tests.integration.conftest import CONVERSATIONS
from tests.integration.conversation import HERE, label
from tests.integration.direct import differences, snapshot
from tests.integration.world import World, running_world

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ_STEPS = int(os.environ.get("FUZZ_STEPS", "40"))

# What a member who is in no roster (and no admin) may never change, whatever they send.
PRIVILEGED_TABLES = (
    "active_flows",
    "circle_members",
    "coordinators",
    "flow_versions",
    "reviews",
    "round_positions",
    "round_prompts",
)
GROUP_ANONYMOUS_BOT = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL = {"id": -1009999999999, "type": "channel", "title": "Canal <Colibris> & co"}
RECENT = 40  # buttons are pressed on the latest messages of a chat
T = TypeVar("T")

# --- texts -------------------------------------------------------------------------------------

SPECIALS = [
    "<",
    ">",
    "&",
    "&amp;",
    "&lt;",
    "&#60;",
    "<b>",
    "</b>",
    '<a href="tg://user?id=1">',
    "</a>",
    "<tg-spoiler>",
    '"',
    "'",
    "*",
    "_",
    "`",
    "```",
    "[",
    "](http://x)",
    "~",
    "||",
    "\\",
    "{",
    "}",
    "{number}",
    "{0}",
    "%s",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u202e",
    "\u202d",
    "\u200f",
    "\u061c",
    "\u00a0",
    "مرحبا بكم",
    "שלום",
    "🌱",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇫🇷",
    "\n",
    "\n\n",
    "\t",
    "  ",
    "n°",
    "#",
    "/",
    "@",
    "١٢",
    "²",
    "𝟙",
    "é",
    "e\u0301",
    "ß",
    "İ",
    "\x00",
    "\x7f",
]
pieces = st.one_of(st.sampled_from(SPECIALS), st.text(max_size=12))
short_texts = st.lists(pieces, min_size=1, max_size=16).map("".join)
long_texts = st.builds(
    lambda chunk, length: (chunk * length)[:length],
    short_texts.filter(str.strip),
    st.sampled_from([1000, 1001, 3000, 4095, 4096]),
)


def typed(text: str) -> str:
    """What Telegram delivers: at most 4096 characters, trimmed, never empty."""
    return text[:4096].strip() or "…"


member_texts = st.one_of(short_texts, short_texts, long_texts).map(typed)
names = short_texts.map(lambda text: typed(text)[:64].strip() or "X")

NUMBERS = ["1", "2", "3"] * 4 + ["4", "0", "-1", "99999999999999999999", "²", "١", "𝟙", "n°2", "#3", "1.5", "abc"]
DATES = ["31/02/2027", "29/02/2028", "15/09/2030", "1er mars 2031", "01/01/2020", "00/00/0000", "15.09.30", "demain"]
OPTIONS = [
    "durée=1",
    "durée=0",
    "durée=61",
    "durée=²",
    "jours=3j",
    "quorum=101",
    "quorum=50%",
    "quorum=²",
    "retrait=peut-être",
    "retrait=non",
    "retrait=",
    "=",
]
FLOWS = ["demande_partenariat", "consentement", "<b>", "../etc"]
PLACEHOLDERS = {"NUMBER": NUMBERS, "DATE": DATES, "OPTION": OPTIONS, "FLOW": FLOWS}
# Each command with the arguments it expects (placeholders in capitals), and some it does not.
GRAMMAR: dict[str, list[list[str]]] = {
    "demande": [["NUMBER"], ["NUMBER", "NUMBER"]],
    "consentement": [["NUMBER"], ["NUMBER", "OPTION"], ["NUMBER", "OPTION", "OPTION"]],
    "start": [[], ["g"], ["gGROUP"], ["gOTHER"], ["g²"], ["g99999999999999999999999"]],
    "aide": [[]],
    "help": [[]],
    "partenariat": [[]],
    "retour": [[]],
    "annuler": [[]],
    "demandes": [[]],
    "bonnes_pratiques": [[]],
    "partenaires": [[]],
    "export": [[]],
    "recharger": [[]],
    "mes_donnees": [[]],
    "oublier": [[], ["oui"]],
    "inconnue": [[]],
    "bilan": [[]],
    "modifier": [["NUMBER"]],
    "clore": [["NUMBER"]],
    "relancer": [["NUMBER"]],
    "prolonger": [["NUMBER", "NUMBER"], ["NUMBER"]],
    "revision": [["NUMBER"], ["NUMBER", "DATE"]],
    "cercle": [[], ["ajouter"], ["retirer"], ["enlever"], ["rejoindre"], ["RANDOM"]],
    "coordination": [[], ["ajouter"], ["retirer"], ["rejoindre"]],
    "flux": [[], ["historique", "FLOW"], ["retour", "FLOW", "NUMBER"], ["telecharger", "FLOW"], ["retour", "FLOW"]],
}
SUFFIXES = ["", "", "", "@colibris_test_bot", "@autre_bot"]
# Flow files meant to hurt a YAML parser: deep nesting, an alias bomb, tags that build objects.
HOSTILE_YAML = [
    b"id: " + b"{a: " * 5000,
    b"[" * 20000,
    b"- " * 5000 + b"x",
    b"a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n",
    b"!!python/object/apply:os.system [echo]",
    b"id: !!binary aGVsbG8=",
    b"\xef\xbb\xbf\x00\x00",
]
hostile_yaml = st.sampled_from(HOSTILE_YAML)


@st.composite
def commands(draw: st.DrawFn, groups: dict[str, str]) -> str:
    """A command as members type it: usually well-formed with odd values, sometimes anything."""
    name = draw(st.sampled_from(list(GRAMMAR)))
    shape = draw(st.sampled_from(GRAMMAR[name]))
    words = [
        draw(st.sampled_from(PLACEHOLDERS[word]))
        if word in PLACEHOLDERS
        else draw(short_texts)
        if word == "RANDOM"
        else word
        for word in shape
    ]
    words = [groups.get(word[1:], word) if word.startswith("g") else word for word in words]
    if draw(st.integers(0, 4)) == 0:  # extra words, of any kind
        words += draw(st.lists(st.one_of(st.sampled_from(NUMBERS + DATES + OPTIONS), short_texts), max_size=3))
    name = draw(st.sampled_from([name, name, name.upper(), name.capitalize()]))
    return typed(" ".join([f"/{name}{draw(st.sampled_from(SUFFIXES))}", *words]))


# --- callback data -----------------------------------------------------------------------------


def _fits(data: str) -> str:
    """Telegram carries 1 to 64 bytes of callback data."""
    encoded = data.encode("utf-8")[:64].decode("utf-8", errors="ignore")
    return encoded or "?"


@st.composite
def crafted(draw: st.DrawFn, numbers: list[int], tokens: list[str]) -> str:
    """Data shaped like one of ``render.PAYLOADS``, with ids of this world or out of range.

    Tokens are those of the flows in progress: their number varies, so they are drawn by position.
    """
    model = draw(st.sampled_from(callback_data.PAYLOADS))
    values = []
    for name, info in model.model_fields.items():
        if name == "kind":
            continue
        if get_origin(info.annotation) is Literal:
            value = draw(st.one_of(st.sampled_from(get_args(info.annotation)), short_texts))
        elif info.annotation is int:
            value = draw(st.one_of(st.sampled_from(numbers), st.integers(-2, 10**13), st.just(2**64)))
        elif info.annotation is bool:
            value = draw(st.sampled_from(["True", "False", "true", "0", "1", "oui", ""]))
        else:
            stored = positions.map(lambda i: tokens[i % len(tokens)] if tokens else "abcd")
            value = draw(st.one_of(stored, st.from_regex(r"[A-Za-z0-9_-]{4,16}", fullmatch=True)))
        values.append(str(value))
    version = draw(st.sampled_from([callback_data.CALLBACK_VERSION] * 4 + ["0", "2", ""]))
    kind = model.model_fields["kind"].default
    if draw(st.booleans()) and values:  # sometimes one field too many or too few
        values = values[:-1] if draw(st.booleans()) else [*values, "1"]
    return _fits(callback_data.SEPARATOR.join([version, kind, *values]))


positions = st.integers(0, 2**16)
noise = st.one_of(
    st.binary(min_size=1, max_size=64).map(lambda raw: raw.decode("latin-1")),
    short_texts,
    st.lists(st.sampled_from(["1", "|", "f", "c", "o", "v", "-1", "", "x"]), max_size=12).map("".join),
).map(_fits)


# --- the fuzzer --------------------------------------------------------------------------------


class Fuzzer:
    """Draws one update at a time from the world as it stands, sends it, and checks it."""

    def __init__(self, world: World, data: st.DataObject) -> None:
        self.world = world
        self.fake = world.fake
        self.draw = data.draw
        self.newcomers: list[FakeUser] = []
        self.outsiders: list[FakeUser] = []
        self.tokens: list[str] = []
        self.previous: FakeUser | None = None
        # Only what the world was built with and what this scenario added may be picked, by
        # index: a replayed scenario then draws the same way (earlier scenarios left more).
        self.sent_from = len(world.fake.sent)
        self.said_from = len(world.fake.user_messages)

    def pick(self, items: Sequence[T]) -> T:
        """One of ``items``, drawn by position so that a replay draws alike whatever their number."""
        return items[self.draw(positions) % len(items)]

    # who acts ------------------------------------------------------------------------------

    def actor(self) -> FakeUser:
        """Often whoever acted last (a flow, a reason, needs several updates in a row), else anyone."""
        if self.previous is not None and self.draw(st.booleans()):
            return self.previous
        self.previous = self.anyone()
        return self.previous

    def anyone(self) -> FakeUser:
        world = self.world
        kind = self.draw(
            st.sampled_from(
                ["member", "circle", "admin", "coordinator", "author", "configured", "stranger", "newcomer", "outsider"]
            )
        )
        if kind == "newcomer":
            if not self.newcomers or self.draw(st.booleans()):
                user = self.fake.add_user(self.draw(names))
                self.fake.add_member(world.group, user)  # a service message the bot sees
                self.newcomers.append(user)
            return self.pick(self.newcomers)
        if kind == "outsider":
            if not self.outsiders or self.draw(st.booleans()):
                self.outsiders.append(self.fake.add_user(self.draw(names)))
            return self.pick(self.outsiders)
        return {
            "stranger": world.stranger,
            "member": world.member,
            "author": world.author,
            "circle": self.pick(world.circle),
            "coordinator": world.coordinator,
            "admin": world.admin,
            "configured": world.configured,
        }[kind]

    def is_member(self, user: FakeUser, chat: FakeChat) -> bool:
        return chat.members.get(user.id) in ("creator", "administrator", "member", "restricted")

    def chats_of(self, user: FakeUser) -> list[FakeChat]:
        """Where the user can write: their private chat and their groups."""
        groups = [g for g in (self.world.group, self.world.other_group) if self.is_member(user, g)]
        return [self.fake.private_chat(user), *groups]

    def sent(self) -> list[BotMessage]:
        """The bot's messages of the built world and of this scenario."""
        return self.world.built_messages + self.fake.sent[self.sent_from :]

    def said(self, chat: FakeChat) -> list[dict[str, Any]]:
        """The members' messages in ``chat``, of the built world and of this scenario."""
        said = self.world.built_said + self.fake.user_messages[self.said_from :]
        return [m for m in said if m["chat"]["id"] == chat.id][-RECENT:]

    def visible(self, user: FakeUser) -> list[BotMessage]:
        """Bot messages the user can press: their private chat, and both (public) groups."""
        chats = {self.fake.private_chat(user).id, self.world.group.id, self.world.other_group.id}
        return [m for m in self.sent() if m.chat_id in chats and not m.deleted][-3 * RECENT :]

    # what they send ------------------------------------------------------------------------

    def commands(self) -> st.SearchStrategy[str]:
        return commands({"GROUP": f"g{self.world.group.id}", "OTHER": f"g{self.world.other_group.id}"})

    async def step(self) -> None:
        user = self.actor()
        action = self.draw(
            st.sampled_from(
                [
                    self.command,
                    self.command,
                    self.text,
                    self.answer,
                    self.answer,
                    self.media,
                    self.edit,
                    self.press,
                    self.press,
                    self.raw,
                    self.membership,
                ]
            )
        )
        await self.checked(user, lambda: action(user))

    def reply_target(self, chat: FakeChat) -> BotMessage | dict[str, Any] | None:
        """In a group, what a message replies to: often the bot's (privacy mode shows only those)."""
        if chat.type == "private" or self.draw(st.integers(0, 3)) == 0:
            return None
        bots = [m for m in self.sent() if m.chat_id == chat.id][-RECENT:]
        if len(bots) > 0 and self.draw(st.booleans()):
            return bots[-1]  # the question or prompt just asked
        targets: list[BotMessage | dict[str, Any]] = [*bots, *self.said(chat)]
        return self.pick(targets) if targets else None

    def chat_of(self, user: FakeUser) -> FakeChat:
        """Where the user writes: mostly a group of theirs, where most of the bot's work is."""
        chats = self.chats_of(user)
        return chats[1] if len(chats) > 1 and self.draw(st.integers(0, 2)) < 2 else self.pick(chats)

    def command(self, user: FakeUser) -> None:
        chat = self.chat_of(user)
        self.fake.send(user, chat, self.draw(self.commands()), reply_to=self.reply_target(chat))

    def answer(self, user: FakeUser) -> None:
        """Answer the bot's latest message in one of the user's chats: a button of it, or a reply."""
        chat = self.chat_of(user)
        latest = [m for m in self.sent() if m.chat_id == chat.id][-1:]
        buttons = self.buttons_of(latest[0]) if latest else []
        if buttons:
            self.fake.press_data(user, latest[0], self.pick(buttons))
        else:
            reply_to = latest[0] if latest and chat.type != "private" else None
            self.fake.send(user, chat, self.draw(member_texts), reply_to=reply_to)

    def text(self, user: FakeUser) -> None:
        chat = self.pick(self.chats_of(user))
        self.fake.send(user, chat, self.draw(member_texts), reply_to=self.reply_target(chat))

    def media(self, user: FakeUser) -> None:
        chat = self.pick(self.chats_of(user))
        reply_to = self.reply_target(chat)
        kind = self.draw(st.sampled_from(["sticker", "photo", "voice", "document", "flow"]))
        if kind == "sticker":
            self.fake.send_sticker(
                user, chat, reply_to=reply_to, emoji=self.draw(st.sampled_from(["👍", "🌱", "\u202e"]))
            )
        elif kind == "photo":
            self.fake.send_photo(
                user, chat, caption=self.draw(st.none() | member_texts.map(lambda t: t[:1024])), reply_to=reply_to
            )
        elif kind == "voice":
            self.fake.send_voice(user, chat, reply_to=reply_to)
        else:
            # A flow file, valid or not, captioned /flux (an upload) or anything else.
            content = (CONVERSATIONS / "demande_partenariat.yaml").read_bytes()
            if kind == "document" or self.draw(st.booleans()):
                content = self.draw(st.one_of(st.binary(max_size=200), member_texts.map(str.encode), hostile_yaml))
            file_name = self.draw(
                st.sampled_from(["demande_partenariat.yaml", "flux.yml", "notes.txt", "<b>.yaml", "x"])
            )
            caption = self.draw(st.sampled_from(["/flux", "/flux@colibris_test_bot", "/flux retour", None, "voici"]))
            self.fake.send_document(user, chat, file_name, content, caption=caption, reply_to=reply_to)

    def edit(self, user: FakeUser) -> None:
        """Edit one of the user's earlier texts (the bot must ignore edits)."""
        said = self.world.built_said + self.fake.user_messages[self.said_from :]
        own = [m for m in said if m["from"]["id"] == user.id and "text" in m]
        if not own:
            return self.text(user)
        message = self.pick(own[-RECENT:])
        self.fake.edit_text(user, message["chat"]["id"], message, self.draw(member_texts | self.commands()))
        return None

    def press(self, user: FakeUser) -> None:
        """Press a button the message has (or had when the world was built), or forged data."""
        visible = self.visible(user)
        with_buttons = [m for m in visible if self.buttons_of(m)]
        real, latest = self.draw(st.booleans()), self.draw(st.booleans())
        if with_buttons and real:
            message = with_buttons[-1] if latest else self.pick(with_buttons)
            data = self.pick(self.buttons_of(message))
        elif visible:
            message, data = self.pick(visible), self.draw(self.callback_data())
        else:
            return self.text(user)
        self.fake.press_data(user, message, data)
        if self.draw(st.integers(0, 15)) == 0:  # a press on a message the bot can no longer read
            query = self.fake.updates[-1]["callback_query"]
            query["message"] = {"chat": query["message"]["chat"], "message_id": message.message_id, "date": 0}
        return None

    def buttons_of(self, message: BotMessage) -> list[str]:
        return [button["callback_data"] for row in message.buttons() for button in row if "callback_data" in button]

    def callback_data(self) -> st.SearchStrategy[str]:
        existing = [data for message in self.sent()[-300:] for data in self.buttons_of(message)]
        numbers = [-1, 0, 1, 2, 3, 4, 5, 99, 100, 10**6, 10**9, 10**12 - 1, *(u.id for u in self.world.people())]
        return st.one_of(
            positions.map(lambda i: existing[i % len(existing)] if existing else "?"),
            crafted(numbers, self.tokens),
            noise,
        )

    def raw(self, user: FakeUser) -> None:
        """Updates no handler should take (channel posts, an anonymous admin), and the bot's own
        membership, which Telegram reports as done by an admin (only an admin adds or removes it)."""
        world = self.world
        kind = self.draw(st.sampled_from(["channel_post", "edited_channel_post", "anonymous", "my_chat_member"]))
        if kind in ("channel_post", "edited_channel_post"):
            text = self.draw(member_texts | self.commands())
            post = {"message_id": 1, "sender_chat": CHANNEL, "chat": CHANNEL, "date": 0, "text": text}
            self.fake.queue_update(kind, post)  # no scene method posts in channels
        elif kind == "anonymous" and self.is_member(user, world.group):
            before = len(self.fake.updates)
            self.fake.send(user, world.group, self.draw(self.commands()), reply_to=self.reply_target(world.group))
            if len(self.fake.updates) > before:  # privacy mode may not deliver it
                message = self.fake.updates[-1]["message"]
                message["from"], message["sender_chat"] = GROUP_ANONYMOUS_BOT, message["chat"]
        elif kind == "my_chat_member" and user is world.admin:
            bot = self.fake.bot.to_dict()
            old, new = self.draw(st.sampled_from([("member", "left"), ("left", "member")]))
            self.fake.queue_update(
                "my_chat_member",
                {
                    "chat": world.group.to_dict(),
                    "from": user.to_dict(),
                    "date": 0,
                    "old_chat_member": {"status": old, "user": bot},
                    "new_chat_member": {"status": new, "user": bot},
                },
            )

    def membership(self, user: FakeUser) -> None:
        """A newcomer joins or leaves (service messages the bot sees)."""
        group = self.world.group
        if user in self.newcomers and self.is_member(user, group) and self.draw(st.booleans()):
            self.fake.remove_member(group, user)
        elif user in self.newcomers or user in self.outsiders:
            self.fake.add_member(group, user)
            if user in self.outsiders:
                self.outsiders.remove(user)
                self.newcomers.append(user)
        else:
            self.text(user)

    # what is checked -----------------------------------------------------------------------

    async def in_a_roster(self, user: FakeUser) -> bool:
        """In a core circle or a coordination now, or counted in a round (its roster is kept)."""
        rows = await self.world.bot.database.fetch_all(
            "SELECT user_id FROM circle_members WHERE user_id = ? UNION SELECT user_id FROM coordinators"
            " WHERE user_id = ? UNION SELECT user_id FROM round_roster WHERE user_id = ?",
            (user.id, user.id, user.id),
        )
        return bool(rows)

    async def checked(self, user: FakeUser, act: Callable[[], None]) -> None:
        """Send what ``act`` queues; no error, and no change the user was not allowed to make."""
        world = self.world
        self.tokens = [row["token"] for row in await world.bot.database.fetch_all("SELECT token FROM flow_sessions")]
        stranger = not any(self.is_member(user, g) for g in (world.group, world.other_group))
        plain = not stranger and user in (world.member, *self.newcomers) and not await self.in_a_roster(user)
        scope = {"outside_chat": user.id} if stranger else {}
        before = await snapshot(world.bot.database, **scope) if stranger or plain else None
        act()
        updates = await world.bot.process()
        assert not world.bot.errors.records, f"{_brief(updates)}\n{world.bot.errors.describe()}\n{self.fake.describe()}"
        if before is None:
            return
        after = await snapshot(world.bot.database, **scope)
        if plain:
            before = {t: rows for t, rows in before.items() if t in PRIVILEGED_TABLES}
            after = {t: rows for t, rows in after.items() if t in PRIVILEGED_TABLES}
        changed = differences(before, after)
        who = "stranger" if stranger else "member in no roster"
        assert not changed, f"{who} {user.full_name!r} changed {_brief(changed)} with {_brief(updates)}"


def _brief(value: object) -> str:
    """A failure's data, with long member texts cut: a 4096-character answer would bury it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_brief(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple | set):
        return "[" + ", ".join(_brief(item) for item in value) + "]"
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}…({len(text)} chars)"


pytestmark = pytest.mark.asyncio(loop_scope="module")
fuzzed = {"updates": 0, "scenarios": 0}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory.mktemp("fuzz")) as built:
        yield built
    if fuzzed["updates"]:  # the figure is printed even when pytest captures output
        plugins = request.config.pluginmanager
        capture, terminal = plugins.get_plugin("capturemanager"), plugins.get_plugin("terminalreporter")
        assert capture is not None and terminal is not None  # pytest's own, always registered
        with capture.global_and_fixture_disabled():
            terminal.write_line(f"\nfuzz: {fuzzed['updates']} generated updates in {fuzzed['scenarios']} scenarios")


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_generated_updates_never_crash_nor_change_what_their_sender_may_not(
    world: World, data: st.DataObject
) -> None:
    await world.reset()
    fuzzer = Fuzzer(world, data)
    start = world.bot.processed
    try:
        for _ in range(data.draw(st.integers(1, FUZZ_STEPS), label="steps")):
            await fuzzer.step()
    finally:
        fuzzed["updates"] += world.bot.processed - start
        fuzzed["scenarios"] += 1


# Odd arguments the fuzz may take a while to combine: each gets a French answer, never an error.
ODD_COMMANDS = [
    ("member", "/demande -1"),
    ("member", "/demande 99999999999999999999"),
    ("member", "/demande ²"),
    ("member", "/demande n°"),
    ("circle", "/consentement abc"),
    ("circle", "/consentement 99999999999999999999"),
    ("circle", "/consentement 1 durée=²"),
    ("circle", "/consentement 1 quorum=99999999999999999999"),
    ("chat_admin", "/clore 99999999999999999999"),
    ("chat_admin", "/prolonger 2 -5"),
    ("chat_admin", "/prolonger 2 ²"),
    ("chat_admin", "/prolonger 1 -5"),
    ("chat_admin", "/relancer ¹"),
    ("chat_admin", "/revision 3 31/02/2027"),
    ("chat_admin", "/revision 99999999999999999999 15/09/2030"),
    ("member", "/modifier 99999999999999999999"),
    ("configured_admin", "/flux retour demande_partenariat 99999999999999999999"),
    ("configured_admin", "/flux retour demande_partenariat ²"),
]


@pytest.mark.parametrize(("role", "command"), ODD_COMMANDS)
async def test_odd_arguments_are_answered_in_french_and_change_nothing(world: World, role: str, command: str) -> None:
    await world.reset()
    before = await snapshot(world.bot.database)

    await world.say(world.roles()[role], world.group, command)

    assert not world.bot.errors.records, world.bot.errors.describe()
    answer = world.last(world.group).plain_text
    assert answer and "Oups" not in answer
    assert not differences(before, await snapshot(world.bot.database))


@pytest.mark.parametrize("content", HOSTILE_YAML)
async def test_a_hostile_flow_file_is_refused_in_french(world: World, content: bytes) -> None:
    await world.reset()
    before = await snapshot(world.bot.database)

    world.fake.send_document(world.admin, world.group, "demande_partenariat.yaml", content, caption="/flux")
    await world.bot.process()

    assert not world.bot.errors.records, world.bot.errors.describe()
    assert "n'est pas installé" in world.last(world.group).plain_text
    assert not differences(before, await snapshot(world.bot.database))


# Callback data can be sent from any message of the bot: a forged press must not rewrite it.
FORGED_PRESSES = [
    ("member", "proposal", lambda world: callback_data.encode(callback_data.PracticePage(index=0))),
    ("member", "proposal", lambda world: callback_data.encode(callback_data.ListPage(page=0))),
    ("member", "card", lambda world: callback_data.encode(callback_data.RegisterPage(page=0))),
    ("stranger", "card", lambda world: callback_data.encode(callback_data.AnswerHere(user_id=world.stranger.id))),
    (
        "chat_admin",
        "proposal",
        lambda world: callback_data.encode(callback_data.CircleJoin(user_id=world.member.id, answer="yes")),
    ),
]


@pytest.mark.parametrize(("role", "target", "forge"), FORGED_PRESSES)
async def test_a_press_forged_onto_another_message_leaves_it_and_the_database_alone(
    world: World, role: str, target: str, forge: Callable[[World], str]
) -> None:
    await world.reset()
    message = world.messages[target]
    text, buttons, edits = message.plain_text, message.buttons(), len(message.edits)
    before = await snapshot(world.bot.database)

    alert = await world.forge(world.roles()[role], message, forge(world))

    assert alert["show_alert"]
    assert (message.plain_text, message.buttons(), len(message.edits)) == (text, buttons, edits)
    assert not differences(before, await snapshot(world.bot.database))
    assert not world.bot.errors.records, world.bot.errors.describe()


async def test_a_member_cannot_play_their_flow_buttons_on_the_consent_proposal(world: World) -> None:
    await world.reset()
    member, group, proposal = world.member, world.group, world.messages["proposal"]
    await world.say(member, group, "/partenariat")
    await world.press(member, world.last(group), HERE)
    await world.say(member, group, "Jardins partagés", reply_to=world.last(group))
    question = world.last(group)
    assert label("type_partenaire", "association") in question.button_texts()
    own_button = question.buttons()[0][0]["callback_data"]
    buttons, edits = proposal.buttons(), len(proposal.edits)

    alert = await world.forge(member, proposal, own_button)

    assert alert["show_alert"] and "plus valable" in alert["text"]
    assert (proposal.buttons(), len(proposal.edits)) == (buttons, edits), "the vote buttons stay"
    assert world.last(group) is question, "the flow did not move on"
