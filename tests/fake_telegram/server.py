"""A fake Telegram Bot API server for integration tests.

The real python-telegram-bot stack (``Application``, ``Updater`` long polling, ``HTTPXRequest``)
talks HTTP to this server on 127.0.0.1::

    async with FakeTelegram() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )
        ...
        alice = fake.add_user("Alice")
        fake.send(alice, fake.private_chat(alice), "/start")
        msg = await fake.next_message(alice)

Tests act as Telegram users through the *scene* methods (``send``, ``press``, ...), which queue real
Update JSON for ``getUpdates``, and observe the bot through ``sent``, ``calls``,
``next_message`` and friends.

Notes / choices (see also the module docstring of ``html_parser``):

* ``calls`` records every API call except ``getUpdates`` (polling would flood it); the number of
  ``getUpdates`` calls is in ``poll_count``.  Calls answered with an error are recorded too, and
  the error responses are additionally listed in ``errors``.
* ``BotMessage.text`` is the raw text the bot sent (with HTML markup when ``parse_mode`` is HTML);
  ``BotMessage.plain_text`` is what the user sees (markup removed, entities decoded), its narrow
  no-break spaces (French typography, U+202F) read as the spaces they look like, so tests are
  written with ordinary spaces; ``text`` keeps them.  A photo's ``plain_text`` is its caption; a
  document has none (``""``, its caption is ``caption``).
* HTML is validated like Telegram does, and additionally a bare ``&`` is rejected
  (``FakeTelegram(strict_html=False)`` restores Telegram's lenient behaviour for ``&``).
  Markdown / MarkdownV2 are not validated.
* ``getChatAdministrators`` returns the creator and the administrators; the bot is included only
  when it was made an administrator (``admins=[fake.bot]``) - by default the bot is a plain member.
  A bot that is an administrator of a group receives all its messages, as on Telegram.
* ``send()`` by a user that blocked the bot (``block_bot``) unblocks it, like restarting the bot.
* ``my_commands`` is keyed by ``(scope JSON with sorted keys, language_code)``; use
  ``commands_for(scope=None, language_code="")`` to read it.
* ``stop()`` then ``start()`` again keeps the same port (simulates Telegram being unreachable).

Extras beyond the basic API: ``add_member`` / ``remove_member`` (service messages),
``set_member_status``, ``unblock_bot``, ``delay_next`` (slow answers, for timeouts), ``dropped``
(messages privacy mode did not deliver), ``user_messages``, ``errors``, ``callback_answers``,
``describe()`` (the summary used in assertion messages) and ``FakeTelegram(strict_html=False)``.

Forum topics and the bot's own membership are in their own section at the end of
``FakeTelegram`` ("forum topics and the bot's membership"): ``add_forum``, ``create_topic``,
``close_topic``, ``reopen_topic``, ``delete_topic``, ``send_in_topic``, ``add_bot``,
``remove_bot``.
"""

from __future__ import annotations

import asyncio
import copy
import io
import itertools
import json
import mimetypes
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from aiohttp import web
from PIL import Image

from .html_parser import HtmlParseError, parse_html, utf16_len

__all__ = ["BotMessage", "FakeApiError", "FakeChat", "FakeTelegram", "FakeTopic", "FakeUser"]

Found = TypeVar("Found")

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

# Parameters whose value is a plain string (PTB sends ``str`` values as-is, *not* JSON encoded, so
# e.g. a text "123" must not be decoded to an int).  Everything else is JSON-decoded when possible.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_query_id",
        "file_id",
        "url",
        "action",
        "language_code",
        "secret_token",
        "ip_address",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "custom_title",
        "invite_link",
        "document",
        "photo",
        "audio",
        "voice",
        "video",
        "video_note",
        "animation",
        "sticker",
        "thumbnail",
        "question",
        "explanation",
        "address",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "switch_pm_text",
        "switch_pm_parameter",
        "start_parameter",
        "payload",
        "currency",
        "provider_token",
        "game_short_name",
        "error_message",
        "shipping_query_id",
        "pre_checkout_query_id",
        "result_id",
    }
)

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")

_MEMBER_STATUSES = ("creator", "administrator", "member", "restricted")

# Methods that are accepted and simply answer ``true``.
_TRUE_METHODS = frozenset(
    m.lower()
    for m in (
        "logOut",
        "close",
        "unpinChatMessage",
        "unpinAllChatMessages",
        "setMyDescription",
        "setMyShortDescription",
        "setMyName",
        "setChatMenuButton",
        "setMyDefaultAdministratorRights",
        "setMessageReaction",
    )
)


class FakeApiError(Exception):
    """An error answer of the fake Bot API (rendered as ``{"ok": false, ...}``)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str, parameters: dict[str, Any] | None = None) -> FakeApiError:
    return FakeApiError(400, f"Bad Request: {description}", parameters)


def _forbidden(description: str) -> FakeApiError:
    return FakeApiError(403, f"Forbidden: {description}")


# --------------------------------------------------------------------------------------------
# scene objects
# --------------------------------------------------------------------------------------------


@overload
def as_read(plain: str) -> str: ...
@overload
def as_read(plain: None) -> None: ...
def as_read(plain: str | None) -> str | None:
    """A text as a member reads it: a narrow no-break space looks like a space."""
    return None if plain is None else plain.replace("\u202f", " ")


@dataclass
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = "fr"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        if self.language_code is not None and not self.is_bot:
            data["language_code"] = self.language_code
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class FakeChat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    user: FakeUser | None = None  # the other party, for private chats
    migrated_to: int | None = None  # for a "group" upgraded by migrate_to_supergroup()
    migrated_from: int | None = None
    is_forum: bool = False  # a supergroup with topics (see ``FakeTelegram.add_forum``)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name is not None:
                data["last_name"] = self.user.last_name
            if self.user.username is not None:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.is_forum:
                data["is_forum"] = True
        return data


@dataclass
class BotMessage:
    """A message sent by the bot, kept up to date when the bot edits or deletes it."""

    chat_id: int
    message_id: int
    text: str | None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    date: int = 0
    document: dict[str, Any] | None = None  # file_name, content (bytes), caption, mime_type, file_id
    edits: list[dict[str, Any]] = field(default_factory=list)
    plain_text: str = ""  # text without markup, as displayed to users; "" for a document
    entities: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    message_thread_id: int | None = None  # the forum topic it was sent to; None: General
    pinned: bool = False
    _edits_seen: int = field(default=0, repr=False, compare=False)

    def buttons(self) -> list[list[dict[str, Any]]]:
        if isinstance(self.reply_markup, dict):
            return [list(row) for row in self.reply_markup.get("inline_keyboard", [])]
        return []

    def button_texts(self) -> list[str]:
        return [button.get("text", "") for row in self.buttons() for button in row]

    def is_force_reply(self) -> bool:
        return isinstance(self.reply_markup, dict) and bool(self.reply_markup.get("force_reply"))

    @property
    def caption(self) -> str | None:
        return self.document.get("caption") if self.document else None


@dataclass(repr=False)  # a repr would print every message
class SavedMessages:
    """The bot's messages at one moment: each, what it showed, and what Telegram held of it."""

    states: list[tuple[BotMessage, dict[str, Any], dict[str, Any]]]

    @property
    def messages(self) -> list[BotMessage]:
        return [message for message, _, _ in self.states]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _strip_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Copy of a message as nested in ``reply_to_message`` (no further nesting)."""
    nested = copy.deepcopy(message)
    nested.pop("reply_to_message", None)
    return nested


class FakeTelegram:
    """Fake Telegram Bot API server + scene (users, chats) + observation helpers."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "colibris_test_bot",
        privacy_mode: bool = True,
        *,
        strict_html: bool = True,
    ) -> None:
        self.token = token
        self.privacy_mode = privacy_mode
        self.strict_html = strict_html
        bot_id = _as_int(token.split(":", 1)[0])
        if bot_id is None:
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self.bot = FakeUser(id=bot_id, first_name=bot_username, username=bot_username, is_bot=True)

        # scene
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self._user_ids = itertools.count(1001)
        self._supergroup_ids = itertools.count(1)
        self._group_ids = itertools.count(1)
        self._started: set[int] = set()  # users that talked to the bot in private
        self._blocked: set[int] = set()

        # messages
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # current JSON of existing messages
        self._bot_messages: dict[tuple[int, int], BotMessage] = {}
        self.sent: list[BotMessage] = []
        self.user_messages: list[dict[str, Any]] = []  # every message produced by the scene
        self.dropped: list[dict[str, Any]] = []  # user messages not delivered (privacy mode)
        self._cursors: dict[int, int] = {}

        # updates
        self._update_ids = itertools.count(1)
        self.updates: list[dict[str, Any]] = []  # every update ever queued
        self._pending: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self._fetched: set[int] = set()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self.poll_count = 0

        # callback queries
        self._query_ids = itertools.count(1)
        self._queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}

        # files
        self._file_ids = itertools.count(1)
        self._files: dict[str, dict[str, Any]] = {}  # file_id -> {content, file_name, mime_type, path}
        self._file_paths: dict[str, str] = {}  # file_path -> file_id

        # bot settings
        self.my_commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook_url: str = ""

        # forum topics: (chat id, thread id) -> topic
        self.topics: dict[tuple[int, int], FakeTopic] = {}

        # observation
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (method, params, error payload)
        # Called with each call (not getUpdates) once recorded, before it is answered: a crash
        # test kills the bot there, right after Telegram received the call.
        self.on_call: Callable[[str, dict[str, Any]], None] | None = None
        self._faults: dict[str, list[dict[str, Any]]] = {}
        self._delays: dict[str, list[dict[str, Any]]] = {}
        self._inflight = 0
        self._last_activity = time.monotonic()

        # server
        self._waiters: set[asyncio.Future[None]] = set()
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port: int | None = None

    # ----------------------------------------------------------------------------------------
    # lifecycle
    # ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._stopping = False
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # a restarted server (stop() then start()) keeps its port, so a running bot reconnects
        sock.bind(("127.0.0.1", self.port or 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner

    async def stop(self) -> None:
        self._stopping = True
        self._notify()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        self._require_started()
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        self._require_started()
        return f"http://127.0.0.1:{self.port}/file/bot"

    def _require_started(self) -> None:
        if self.port is None:
            raise RuntimeError("FakeTelegram is not started (use `await fake.start()`)")

    # ----------------------------------------------------------------------------------------
    # change notification
    # ----------------------------------------------------------------------------------------

    def _notify(self) -> None:
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_result(None)

    async def _wait_change(self, timeout: float) -> None:
        if timeout <= 0:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(fut)

    async def _wait_for(
        self, predicate: Callable[[], Found | None], timeout: float, describe: Callable[[], str]
    ) -> Found:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result is not None and result is not False:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(describe())
            await self._wait_change(remaining)

    # ----------------------------------------------------------------------------------------
    # scene
    # ----------------------------------------------------------------------------------------

    def add_user(self, first_name: str, last_name: str | None = None, username: str | None = None) -> FakeUser:
        user = FakeUser(id=next(self._user_ids), first_name=first_name, last_name=last_name, username=username)
        self.users[user.id] = user
        self.private_chat(user)
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        chat = self.chats.get(user.id)
        if chat is None:
            self.users.setdefault(user.id, user)
            chat = FakeChat(
                id=user.id,
                type="private",
                members={user.id: "member", self.bot.id: "member"},
                user=user,
            )
            self.chats[user.id] = chat
        return chat

    def add_group(
        self,
        title: str,
        members: Iterable[FakeUser],
        admins: Iterable[FakeUser] = (),
        creator: FakeUser | None = None,
        supergroup: bool = True,
    ) -> FakeChat:
        chat_id = -1001000000000 - next(self._supergroup_ids) if supergroup else -4000000000 - next(self._group_ids)
        statuses: dict[int, str] = {self.bot.id: "member"}
        for user in members:
            self.users.setdefault(user.id, user)
            statuses[user.id] = "member"
        for user in admins:
            self.users.setdefault(user.id, user)
            statuses[user.id] = "administrator"
        if creator is not None:
            self.users.setdefault(creator.id, creator)
            statuses[creator.id] = "creator"
        chat = FakeChat(id=chat_id, type="supergroup" if supergroup else "group", title=title, members=statuses)
        self.chats[chat_id] = chat
        return chat

    def set_member_status(self, chat: FakeChat | int, user: FakeUser, status: str) -> None:
        """Silently change a membership status ("creator", "administrator", "member",
        "restricted", "left", "kicked"); works for the bot too (``fake.bot``)."""
        self._chat(chat).members[user.id] = status
        if user.id != self.bot.id:
            self.users.setdefault(user.id, user)

    def add_member(self, chat: FakeChat | int, user: FakeUser, by: FakeUser | None = None) -> dict[str, Any]:
        """``user`` joins (or is added by ``by``): queues a ``new_chat_members`` service message."""
        chat = self._chat(chat)
        self.users.setdefault(user.id, user)
        chat.members[user.id] = "member"
        return self._post_user_message(by or user, chat, None, {"new_chat_members": [user.to_dict()]}, service=True)

    def remove_member(self, chat: FakeChat | int, user: FakeUser, by: FakeUser | None = None) -> dict[str, Any]:
        """``user`` leaves (or is removed): queues a ``left_chat_member`` service message."""
        chat = self._chat(chat)
        chat.members[user.id] = "left" if by is None else "kicked"
        return self._post_user_message(by or user, chat, None, {"left_chat_member": user.to_dict()}, service=True)

    def open_private_chat(self, user: FakeUser) -> FakeChat:
        """The user has started the bot (the bot may now write to them) without queuing an update."""
        self._started.add(user.id)
        return self.private_chat(user)

    def block_bot(self, user: FakeUser) -> None:
        self._blocked.add(user.id)

    def unblock_bot(self, user: FakeUser) -> None:
        self._blocked.discard(user.id)

    def migrate_to_supergroup(self, chat: FakeChat | int, *, announce: bool = True) -> FakeChat:
        """Upgrade a basic group; ``announce=False`` queues no service message (the bot missed
        them, and learns of the move from ChatMigrated)."""
        old = self._chat(chat)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError(f"chat {old.id} is not a (non-migrated) basic group")
        new = FakeChat(
            id=-1001000000000 - next(self._supergroup_ids),
            type="supergroup",
            title=old.title,
            members=dict(old.members),
            migrated_from=old.id,
        )
        self.chats[new.id] = new
        actor = self._group_actor(old)
        if announce:
            self._post_user_message(actor, old, None, {"migrate_to_chat_id": new.id}, service=True)
        old.migrated_to = new.id
        if announce:
            self._post_user_message(actor, new, None, {"migrate_from_chat_id": old.id}, service=True)
        return new

    def _group_actor(self, chat: FakeChat) -> FakeUser:
        for wanted in ("creator", "administrator", "member"):
            for user_id, status in chat.members.items():
                if status == wanted and user_id in self.users and user_id != self.bot.id:
                    return self.users[user_id]
        raise ValueError(f"chat {chat.id} has no human member")

    # ----------------------------------------------------------------------------------------
    # users acting
    # ----------------------------------------------------------------------------------------

    def send(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser | int,
        text: str,
        reply_to: BotMessage | dict[str, Any] | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        chat = self._chat(chat)
        fields: dict[str, Any] = {"text": text}
        all_entities = self._command_entities(text, entities)
        if all_entities:
            fields["entities"] = all_entities
        return self._post_user_message(user, chat, reply_to, fields)

    def send_sticker(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser | int,
        reply_to: BotMessage | dict[str, Any] | None = None,
        emoji: str = "👍",
    ) -> dict[str, Any]:
        chat = self._chat(chat)
        file = self._store_file(b"RIFF-fake-webp", "sticker.webp", "image/webp", "stickers")
        sticker = {
            "file_id": file["file_id"],
            "file_unique_id": file["file_unique_id"],
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(file["content"]),
        }
        return self._post_user_message(user, chat, reply_to, {"sticker": sticker})

    def send_photo(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser | int,
        caption: str | None = None,
        reply_to: BotMessage | dict[str, Any] | None = None,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
    ) -> dict[str, Any]:
        chat = self._chat(chat)
        small = self._store_file(content, "photo_small.jpg", "image/jpeg", "photos")
        big = self._store_file(content, "photo.jpg", "image/jpeg", "photos")
        fields: dict[str, Any] = {
            "photo": [
                {
                    "file_id": small["file_id"],
                    "file_unique_id": small["file_unique_id"],
                    "width": 90,
                    "height": 90,
                    "file_size": len(content),
                },
                {
                    "file_id": big["file_id"],
                    "file_unique_id": big["file_unique_id"],
                    "width": 800,
                    "height": 800,
                    "file_size": len(content),
                },
            ]
        }
        if caption is not None:
            fields["caption"] = caption
        return self._post_user_message(user, chat, reply_to, fields)

    def send_voice(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser | int,
        reply_to: BotMessage | dict[str, Any] | None = None,
        duration: int = 3,
        content: bytes = b"OggS-fake-voice",
    ) -> dict[str, Any]:
        chat = self._chat(chat)
        file = self._store_file(content, "voice.ogg", "audio/ogg", "voice")
        voice = {
            "file_id": file["file_id"],
            "file_unique_id": file["file_unique_id"],
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(content),
        }
        return self._post_user_message(user, chat, reply_to, {"voice": voice})

    def send_document(
        self,
        user: FakeUser,
        chat: FakeChat | FakeUser | int,
        file_name: str,
        content: bytes,
        caption: str | None = None,
        reply_to: BotMessage | dict[str, Any] | None = None,
        mime_type: str | None = None,
    ) -> dict[str, Any]:
        chat = self._chat(chat)
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        file = self._store_file(content, file_name, mime, "documents")
        fields: dict[str, Any] = {
            "document": {
                "file_id": file["file_id"],
                "file_unique_id": file["file_unique_id"],
                "file_name": file_name,
                "mime_type": mime,
                "file_size": len(content),
            }
        }
        if caption is not None:
            fields["caption"] = caption
            caption_entities = self._command_entities(caption, None)
            if caption_entities:
                fields["caption_entities"] = caption_entities
        return self._post_user_message(user, chat, reply_to, fields)

    def press(self, user: FakeUser, message: BotMessage, button: str) -> str:
        """Press the inline button whose text or callback_data is ``button``."""
        if message.deleted:
            raise AssertionError(f"message {message.message_id} was deleted, cannot press")
        for row in message.buttons():
            for candidate in row:
                if button in (candidate.get("text"), candidate.get("callback_data")):
                    if "callback_data" not in candidate:
                        raise AssertionError(f"button {button!r} has no callback_data (it is {candidate!r})")
                    return self.press_data(user, message, candidate["callback_data"])
        raise AssertionError(
            f"no button {button!r} on message {message.message_id} "
            f"(text={_short(message.text)}); buttons: {message.buttons()!r}"
        )

    def press_data(self, user: FakeUser, message: BotMessage, callback_data: str) -> str:
        """Queue a callback query with arbitrary data (no check that such a button exists)."""
        chat = self._chat(message.chat_id)
        current = self._messages.get((message.chat_id, message.message_id))
        if current is None:
            raise AssertionError(f"message {message.message_id} does not exist (deleted?)")
        if chat.type == "private":
            self._started.add(user.id)
        query_id = str(4_400_000_000_000_000_000 + next(self._query_ids))
        query = {
            "id": query_id,
            "from": user.to_dict(),
            "message": copy.deepcopy(current),
            "chat_instance": str(abs(chat.id) * 7 + 1_234_567),
            "data": callback_data,
        }
        self._queries[query_id] = query
        self.queue_update("callback_query", query)
        return query_id

    def edit_text(
        self, user: FakeUser, chat: FakeChat | FakeUser | int, message: dict[str, Any], new_text: str
    ) -> dict[str, Any]:
        """The user edits one of their text messages: queues an ``edited_message`` update."""
        chat = self._chat(chat)
        stored = self._messages.get((chat.id, message["message_id"]))
        if stored is None:
            raise AssertionError(f"message {message['message_id']} not found in chat {chat.id}")
        if stored.get("from", {}).get("id") != user.id:
            raise AssertionError("a user can only edit their own messages")
        stored["text"] = new_text
        stored.pop("entities", None)
        ents = self._command_entities(new_text, None)
        if ents:
            stored["entities"] = ents
        stored["edit_date"] = _now()
        edited = copy.deepcopy(stored)
        if self._is_visible(edited, chat):
            self.queue_update("edited_message", edited)
        else:
            self.dropped.append(edited)
        return edited

    # internals of the scene --------------------------------------------------------------------

    def _command_entities(self, text: str, entities: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        result = list(entities or [])
        has_command = any(e.get("type") == "bot_command" and e.get("offset") == 0 for e in result)
        if not has_command:
            match = _COMMAND_RE.match(text)
            if match and (match.end() == len(text) or not re.match(r"\w", text[match.end()])):
                result.insert(0, {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())})
        return result

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _reply_json(self, chat: FakeChat, reply_to: BotMessage | dict[str, Any] | None) -> dict[str, Any] | None:
        if reply_to is None:
            return None
        if isinstance(reply_to, BotMessage):
            key = (reply_to.chat_id, reply_to.message_id)
        else:
            key = (reply_to.get("chat", {}).get("id", chat.id), reply_to["message_id"])
        stored = self._messages.get(key)
        if stored is None:
            raise AssertionError(f"cannot reply to message {key}: it does not exist (deleted?)")
        return _strip_reply(stored)

    def _post_user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        reply_to: BotMessage | dict[str, Any] | None,
        fields: dict[str, Any],
        *,
        service: bool = False,
    ) -> dict[str, Any]:
        if chat.migrated_to is not None:
            raise AssertionError(f"chat {chat.id} was migrated to {chat.migrated_to}; post in the new chat")
        if chat.type == "private":
            if chat.id != user.id:
                raise AssertionError(f"{user.first_name} cannot post in the private chat {chat.id}")
            self._started.add(user.id)
            self._blocked.discard(user.id)
        elif not service and chat.members.get(user.id) not in _MEMBER_STATUSES:
            raise AssertionError(
                f"{user.first_name} (id {user.id}) is not a member of {chat.title!r}; use add_member() first"
            )
        self.users.setdefault(user.id, user)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat.id),
            "from": user.to_dict(),
            "chat": chat.to_dict(),
            "date": _now(),
        }
        reply = self._reply_json(chat, reply_to)
        if reply is not None:
            message["reply_to_message"] = reply
            message.update(self._topic_of_reply(reply))
        message.update(copy.deepcopy(fields))
        self._messages[(chat.id, message["message_id"])] = message
        self.user_messages.append(message)
        delivered = copy.deepcopy(message)
        if self._is_visible(delivered, chat, service=service):
            self.queue_update("message", delivered)
        else:
            self.dropped.append(delivered)
        return copy.deepcopy(message)

    def _is_visible(self, message: dict[str, Any], chat: FakeChat, *, service: bool = False) -> bool:
        if chat.type == "private":
            return True
        bot_status = chat.members.get(self.bot.id, "left")
        if bot_status not in _MEMBER_STATUSES:
            return False
        if service or not self.privacy_mode or bot_status in ("creator", "administrator"):
            return True
        if any(
            key in message
            for key in (
                "new_chat_members",
                "left_chat_member",
                "migrate_to_chat_id",
                "migrate_from_chat_id",
                "pinned_message",
            )
        ):
            return True
        reply = message.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot.id:
            return True
        # A command in a media caption ("/flux" on a document) counts as a command too.
        text = message.get("text") or message.get("caption") or ""
        for entity in message.get("entities") or message.get("caption_entities") or []:
            if entity.get("type") == "bot_command" and entity.get("offset") == 0:
                command = text[: entity["length"]]
                _, _, target = command.partition("@")
                return not target or target.lower() == (self.bot.username or "").lower()
        return False

    def queue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update of any kind, as Telegram would send it: for those no scene method makes."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        self._pending.append(update)
        self._notify()
        return update

    def _store_file(self, content: bytes, file_name: str | None, mime: str, folder: str) -> dict[str, Any]:
        number = next(self._file_ids)
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        file_id = f"FAKEFILE{number:06d}-{folder}"
        info: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"U{number:06d}",
            "content": bytes(content),
            "file_name": file_name,
            "mime_type": mime,
            "file_path": f"{folder}/file_{number}{ext}",
        }
        self._files[file_id] = info
        self._file_paths[info["file_path"]] = file_id
        return info

    def _chat(self, chat: FakeChat | FakeUser | int) -> FakeChat:
        if isinstance(chat, FakeChat):
            return self.chats.setdefault(chat.id, chat)
        if isinstance(chat, FakeUser):
            return self.private_chat(chat)
        found = self.chats.get(int(chat))
        if found is None:
            raise KeyError(f"unknown chat {chat!r}")
        return found

    # ----------------------------------------------------------------------------------------
    # observation
    # ----------------------------------------------------------------------------------------

    def messages_in(self, chat: FakeChat | FakeUser | int) -> list[BotMessage]:
        chat_id = self._chat_id(chat)
        return [m for m in self.sent if m.chat_id == chat_id]

    def _chat_id(self, chat: FakeChat | FakeUser | int) -> int:
        if isinstance(chat, FakeChat | FakeUser):
            return chat.id
        return int(chat)

    async def next_message(self, chat: FakeChat | FakeUser | int, timeout: float = 5.0) -> BotMessage:
        """The next message (in order) the bot sent to ``chat``, waiting for it if needed."""
        chat_id = self._chat_id(chat)
        cursor = self._cursors.get(chat_id, 0)

        def ready() -> BotMessage | None:
            messages = self.messages_in(chat_id)
            return messages[cursor] if len(messages) > cursor else None

        message = await self._wait_for(
            ready,
            timeout,
            lambda: f"no new bot message in chat {chat_id} after {timeout}s ({cursor} already read)\n{self.describe()}",
        )
        self._cursors[chat_id] = cursor + 1
        return message

    def mark_read(self, chat: FakeChat | FakeUser | int) -> None:
        """Count every message the bot sent to ``chat`` so far as read: ``next_message`` then
        returns a newer one."""
        chat_id = self._chat_id(chat)
        self._cursors[chat_id] = len(self.messages_in(chat_id))

    async def callback_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self._wait_for(
            lambda: self.callback_answers.get(query_id),
            timeout,
            lambda: f"callback query {query_id} not answered after {timeout}s\n{self.describe()}",
        )

    async def wait_edit(self, message: BotMessage, timeout: float = 5.0) -> BotMessage:
        """Wait until ``message`` got an edit not yet seen by a previous ``wait_edit``."""
        seen = message._edits_seen
        await self._wait_for(
            lambda: len(message.edits) > seen,
            timeout,
            lambda: (
                f"message {message.message_id} in chat {message.chat_id} not edited after {timeout}s\n{self.describe()}"
            ),
        )
        message._edits_seen = len(message.edits)
        return message

    async def idle(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until every queued update was fetched by the bot and the bot made no API call
        (other than getUpdates) for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            unfetched = self._unfetched()
            quiet_left = self._last_activity + quiet - now
            if not unfetched and self._inflight == 0 and quiet_left <= 0:
                return
            if now >= deadline:
                raise AssertionError(
                    f"bot not idle after {timeout}s: unfetched updates "
                    f"{[u['update_id'] for u in unfetched]}, {self._inflight} call(s) in flight\n"
                    f"{self.describe()}"
                )
            wait = deadline - now
            if not unfetched and self._inflight == 0:
                wait = min(wait, quiet_left)
            await self._wait_change(max(wait, 0.005))

    def take_updates(self) -> list[dict[str, Any]]:
        """The queued updates no bot fetched yet, now fetched and confirmed: what getUpdates
        hands a poller, for a bot fed its updates directly (``Application.process_update``)."""
        taken = self._unfetched()
        self._fetched.update(update["update_id"] for update in taken)
        self._pending = [update for update in self._pending if update["update_id"] not in self._fetched]
        return copy.deepcopy(taken)

    def save_messages(self) -> SavedMessages:
        """The bot's messages as they are now, to put back with ``restore_messages``."""
        return SavedMessages(
            [
                (
                    message,
                    copy.deepcopy(vars(message)),
                    copy.deepcopy(self._messages[(message.chat_id, message.message_id)]),
                )
                for message in self.sent
            ]
        )

    def restore_messages(self, saved: SavedMessages) -> None:
        """Put the saved messages back as they were, for members and for Telegram (what a press
        on them carries); the bot's later edits to them are undone."""
        for message, shown, stored in saved.states:
            vars(message).update(copy.deepcopy(shown))
            self._messages[(message.chat_id, message.message_id)] = copy.deepcopy(stored)

    def _unfetched(self) -> list[dict[str, Any]]:
        return [u for u in self._pending if u["update_id"] not in self._fetched]

    def describe(self, last: int = 15) -> str:
        """Human readable summary of the last API calls and errors (used in assertion messages)."""
        lines = [f"last {min(last, len(self.calls))} of {len(self.calls)} API calls:"]
        for method, params in self.calls[-last:]:
            shown = {k: v for k, v in params.items() if k not in ("reply_markup",)}
            if "reply_markup" in params:
                shown["reply_markup"] = "..."
            lines.append(f"  {method} {_short(shown, 200)}")
        if self.errors:
            lines.append(f"last API errors ({len(self.errors)} total):")
            for method, _params, error in self.errors[-5:]:
                lines.append(f"  {method} -> {error['error_code']} {error['description']}")
        unfetched = self._unfetched()
        if unfetched:
            ids = [u["update_id"] for u in unfetched]
            lines.append(f"updates not fetched by the bot yet: {ids}")
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------
    # automatic forwards, as /cercle sees them (issue 15, item 10; topics: create_topic)
    # ----------------------------------------------------------------------------------------

    def automatic_forward(self, chat: FakeChat | int, text: str) -> dict[str, Any]:
        """A channel's post, forwarded by Telegram into its discussion group: its sender is
        the service account 777000, which is not flagged ``is_bot``."""
        chat = self._chat(chat)
        service = self.users.setdefault(777000, FakeUser(777000, "Telegram", language_code=None))
        chat.members.setdefault(service.id, "member")
        channel = {"id": -1002000000001, "type": "channel", "title": f"{chat.title} (canal)"}
        return self._post_user_message(
            service,
            chat,
            None,
            {
                "text": text,
                "sender_chat": channel,
                "is_automatic_forward": True,
                "forward_origin": {"type": "channel", "chat": channel, "message_id": 1, "date": _now()},
            },
        )

    # ----------------------------------------------------------------------------------------
    # presses on old messages (issue 15, item 9)
    # ----------------------------------------------------------------------------------------

    def press_on_old_message(self, user: FakeUser, message: BotMessage, callback_data: str) -> str:
        """Press a button of a message too old for Telegram to show the bot: the query carries
        an inaccessible message (its chat and id, date 0; no text, no buttons)."""
        query_id = self.press_data(user, message, callback_data)
        query = self._queries[query_id]
        query["message"] = {"chat": query["message"]["chat"], "message_id": message.message_id, "date": 0}
        update = next(u for u in reversed(self._pending) if u.get("callback_query", {}).get("id") == query_id)
        update["callback_query"] = copy.deepcopy(query)
        return query_id

    # ----------------------------------------------------------------------------------------
    # fault injection
    # ----------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        migrate_to_chat_id: int | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id`` only, if given) answer
        ``{"ok": false, ...}`` with ``status``."""
        parameters: dict[str, int] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        fault = FakeApiError(status, description, parameters or None)
        self._faults.setdefault(method.lower(), []).extend([{"error": fault, "chat_id": chat_id}] * times)

    def delay_next(
        self, method: str, seconds: float, times: int = 1, chat_id: int | None = None, *, done_first: bool = False
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id`` only, if given) are answered
        only after ``seconds`` (a client that gives up first closes the call: nothing happens).
        ``done_first``: the call is carried out at once and only its answer is late, as when
        Telegram delivered a message whose answer never reached the bot."""
        entry = {"seconds": seconds, "chat_id": chat_id, "done_first": done_first}
        self._delays.setdefault(method.lower(), []).extend([entry] * times)

    async def _wait_out(self, delay: dict[str, Any]) -> None:
        deadline = time.monotonic() + delay["seconds"]
        while not self._stopping and time.monotonic() < deadline:
            await self._wait_change(deadline - time.monotonic())

    @staticmethod
    def _take(queue: list[dict[str, Any]] | None, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first injected fault or delay that applies to this call, removed from its queue."""
        if queue is None:
            return None
        for index, entry in enumerate(queue):
            if entry["chat_id"] is None or entry["chat_id"] == _as_int(params.get("chat_id")):
                return queue.pop(index)
        return None

    # ----------------------------------------------------------------------------------------
    # HTTP
    # ----------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return self._handle_file(path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        token, _, method = path[len("/bot") :].partition("/")
        if token != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params = await self._read_params(request)
        except ValueError as exc:
            return web.json_response({"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}, status=400)
        payload, status = await self._dispatch(method, params)
        return web.json_response(payload, status=status)

    def _handle_file(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        file_id = self._file_paths.get(file_path)
        if token != self.token or file_id is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        info = self._files[file_id]
        return web.Response(body=info["content"], content_type="application/octet-stream")

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("JSON body must be an object")
                params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    raw[key] = value
        for key, value in raw.items():
            if isinstance(value, web.FileField):
                params[key] = {
                    "file_name": value.filename,
                    "content": value.file.read(),
                    "mime_type": value.content_type,
                    "_upload": True,
                }
            elif key in _STRING_PARAMS or not isinstance(value, str):
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    async def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
        key = method.lower()
        polling = key == "getupdates"
        if polling:
            self.poll_count += 1
        else:
            self.calls.append((method, params))
            if self.on_call is not None:
                self.on_call(method, params)
            self._inflight += 1
            self._last_activity = time.monotonic()
        try:
            delay = self._take(self._delays.get(key), params)
            if delay is not None and not delay["done_first"]:
                await self._wait_out(delay)
            fault = self._take(self._faults.get(key), params)
            if fault is not None:
                raise fault["error"]
            if key in _TRUE_METHODS:
                result: Any = True
            else:
                handler = getattr(self, f"_api_{key}", None)
                if handler is None:
                    raise FakeApiError(404, "Not Found: method not found")
                result = handler(params)
                if asyncio.iscoroutine(result):
                    result = await result
            if delay is not None and delay["done_first"]:
                self._notify()  # the message is there for whoever waits on it; its answer is late
                await self._wait_out(delay)
            return {"ok": True, "result": result}, 200
        except FakeApiError as exc:
            payload = exc.payload()
            self.errors.append((method, params, payload))
            return payload, exc.code
        finally:
            if not polling:
                self._inflight -= 1
                self._last_activity = time.monotonic()
            self._notify()

    # ----------------------------------------------------------------------------------------
    # access checks
    # ----------------------------------------------------------------------------------------

    def _lookup_chat(self, chat_id: Any) -> FakeChat:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for candidate in self.chats.values():
                username = candidate.user.username if candidate.user else None
                if username and username.lower() == chat_id[1:].lower():
                    return candidate
            raise _bad("chat not found")
        numeric = _as_int(chat_id)
        chat = self.chats.get(numeric) if numeric is not None else None
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _bad(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _writable_chat(self, chat_id: Any) -> FakeChat:
        chat = self._lookup_chat(chat_id)
        if chat.type == "private":
            user = chat.user
            if user is not None and user.is_bot:
                raise _forbidden("bot can't send messages to bots")
            if chat.id in self._blocked:
                raise _forbidden("bot was blocked by the user")
            if chat.id not in self._started:
                raise _forbidden("bot can't initiate conversation with a user")
            return chat
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        status = chat.members.get(self.bot.id, "left")
        if status == "kicked":
            raise _forbidden(f"bot was kicked from the {kind}")
        if status not in _MEMBER_STATUSES:
            raise _forbidden(f"bot is not a member of the {kind}")
        return chat

    # ----------------------------------------------------------------------------------------
    # formatting / validation
    # ----------------------------------------------------------------------------------------

    def _format(self, text: str, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            try:
                return parse_html(text, strict_ampersand=self.strict_html)
            except HtmlParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        if mode in ("markdown", "markdownv2", ""):
            return text, list(entities) if isinstance(entities, list) else []
        raise _bad(f"unsupported parse_mode {parse_mode!r}")

    def _caption(self, p: dict[str, Any]) -> tuple[str | None, str | None, list[dict[str, Any]]]:
        """A file's caption as sent, as members read it, and its entities; refused as Telegram does."""
        if p.get("caption") is None:
            return None, None, []
        caption = str(p["caption"])
        plain, entities = self._format(caption, p.get("parse_mode"), p.get("caption_entities"))
        if len(plain) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return caption, plain, entities

    def _check_markup(self, markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad("text buttons are unallowed in the inline keyboard")
                    actions = [
                        k
                        for k in (
                            "callback_data",
                            "url",
                            "switch_inline_query",
                            "switch_inline_query_current_chat",
                            "switch_inline_query_chosen_chat",
                            "login_url",
                            "web_app",
                            "pay",
                            "callback_game",
                            "copy_text",
                        )
                        if k in button
                    ]
                    if not actions:
                        raise _bad("text buttons are unallowed in the inline keyboard")
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                            raise _bad("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not url or re.search(r"\s", url):
                            raise _bad("BUTTON_URL_INVALID")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "force_reply" in markup or "remove_keyboard" in markup:
            return markup
        if "keyboard" in markup:
            if not isinstance(markup["keyboard"], list):
                raise _bad("can't parse reply keyboard markup JSON object")
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _resolve_reply(self, chat: FakeChat, params: dict[str, Any]) -> dict[str, Any] | None:
        reply_params = params.get("reply_parameters")
        if isinstance(reply_params, dict):
            message_id = _as_int(reply_params.get("message_id"))
            allow = bool(reply_params.get("allow_sending_without_reply"))
            target = reply_params.get("chat_id")
        elif params.get("reply_to_message_id") is not None:
            message_id = _as_int(params.get("reply_to_message_id"))
            allow = bool(params.get("allow_sending_without_reply"))
            target = None
        else:
            return None
        chat_id = chat.id
        if target is not None:
            chat_id = self._lookup_chat(target).id
        stored = self._messages.get((chat_id, message_id)) if message_id is not None else None
        if stored is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return _strip_reply(stored)

    def _message_to_edit(self, params: dict[str, Any], *, verb: str = "edit") -> tuple[BotMessage, dict[str, Any]]:
        if params.get("inline_message_id") is not None:
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._lookup_chat(params.get("chat_id"))
        message_id = _as_int(params.get("message_id"))
        if message_id is None or (chat.id, message_id) not in self._messages:
            raise _bad(f"message to {verb} not found")
        stored = self._messages[(chat.id, message_id)]
        bot_message = self._bot_messages.get((chat.id, message_id))
        if bot_message is None:
            raise _bad(f"message can't be {verb}ed")
        return bot_message, stored

    # ----------------------------------------------------------------------------------------
    # bot messages
    # ----------------------------------------------------------------------------------------

    def _new_bot_message(
        self,
        chat: FakeChat,
        params: dict[str, Any],
        *,
        text: str | None,
        plain: str | None,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        reply: dict[str, Any] | None,
        extra: dict[str, Any] | None = None,
        document: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        message_id = self._next_message_id(chat.id)
        date = _now()
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot.to_dict(),
            "chat": chat.to_dict(),
            "date": date,
        }
        if reply is not None:
            message["reply_to_message"] = reply
        if plain is not None:
            message["text"] = plain
            if entities:
                message["entities"] = entities
        if extra:
            message.update(extra)
        inline = _inline_markup(markup)
        if inline is not None:
            message["reply_markup"] = inline
        self._messages[(chat.id, message_id)] = message
        bot_message = BotMessage(
            chat_id=chat.id,
            message_id=message_id,
            text=text,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            reply_to_message_id=reply["message_id"] if reply else None,
            date=date,
            document=document,
            plain_text=as_read(plain or ""),
            entities=entities,
            message_thread_id=(extra or {}).get("message_thread_id"),
        )
        self._bot_messages[(chat.id, message_id)] = bot_message
        self.sent.append(bot_message)
        return copy.deepcopy(message)

    def _api_sendmessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._writable_chat(p.get("chat_id"))
        text = p.get("text")
        if text is None or text == "":
            raise _bad("message text is empty")
        text = str(text)
        plain, entities = self._format(text, p.get("parse_mode"), p.get("entities"))
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._check_markup(p.get("reply_markup"))
        reply = self._resolve_reply(chat, p)
        return self._new_bot_message(
            chat,
            p,
            text=text,
            plain=plain,
            entities=entities,
            markup=markup,
            reply=reply,
            extra=self._topic_fields(chat, p, reply),
        )

    def _api_senddocument(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._writable_chat(p.get("chat_id"))
        document = p.get("document")
        if isinstance(document, dict) and document.get("_upload"):
            mime = (
                document.get("mime_type")
                or mimetypes.guess_type(document.get("file_name") or "")[0]
                or "application/octet-stream"
            )
            info = self._store_file(document["content"], document.get("file_name"), mime, "documents")
        elif isinstance(document, str) and document:
            known = self._files.get(document)
            if known is None:
                if document.startswith(("http://", "https://")):
                    raise _bad("failed to get HTTP URL content")
                raise _bad("wrong file identifier/HTTP URL specified")
            info = known
        else:
            raise _bad("there is no document in the request")
        caption, plain_caption, caption_entities = self._caption(p)
        markup = self._check_markup(p.get("reply_markup"))
        reply = self._resolve_reply(chat, p)
        extra: dict[str, Any] = {
            **self._topic_fields(chat, p, reply),
            "document": {
                "file_id": info["file_id"],
                "file_unique_id": info["file_unique_id"],
                "file_name": info["file_name"],
                "mime_type": info["mime_type"],
                "file_size": len(info["content"]),
            },
        }
        if plain_caption:
            extra["caption"] = plain_caption
            if caption_entities:
                extra["caption_entities"] = caption_entities
        document_record = {
            "file_name": info["file_name"],
            "content": info["content"],
            "caption": caption,
            "mime_type": info["mime_type"],
            "file_id": info["file_id"],
        }
        return self._new_bot_message(
            chat,
            p,
            text=None,
            plain=None,
            entities=[],
            markup=markup,
            reply=reply,
            extra=extra,
            document=document_record,
        )

    def _record_edit(self, bot_message: BotMessage, method: str, **changes: Any) -> None:
        entry = {"method": method, "date": _now(), **changes}
        for key, value in changes.items():
            if key != "caption":
                setattr(bot_message, key, value)
        bot_message.edits.append(entry)

    def _api_editmessagetext(self, p: dict[str, Any]) -> dict[str, Any]:
        bot_message, stored = self._message_to_edit(p)
        if "text" not in stored:
            raise _bad("there is no text in the message to edit")
        text = p.get("text")
        if text is None or text == "":
            raise _bad("message text is empty")
        text = str(text)
        plain, entities = self._format(text, p.get("parse_mode"), p.get("entities"))
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        if (
            plain == stored.get("text")
            and entities == stored.get("entities", [])
            and markup == stored.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        stored["text"] = plain
        stored.pop("entities", None)
        if entities:
            stored["entities"] = entities
        self._set_markup(stored, markup)
        stored["edit_date"] = _now()
        self._record_edit(
            bot_message,
            "editMessageText",
            text=text,
            parse_mode=p.get("parse_mode"),
            reply_markup=markup,
            plain_text=as_read(plain),
            entities=entities,
        )
        return copy.deepcopy(stored)

    def _api_editmessagecaption(self, p: dict[str, Any]) -> dict[str, Any]:
        bot_message, stored = self._message_to_edit(p)
        if "text" in stored:
            raise _bad("there is no caption in the message to edit")
        caption = p.get("caption")
        plain = ""
        entities: list[dict[str, Any]] = []
        if caption:
            caption = str(caption)
            plain, entities = self._format(caption, p.get("parse_mode"), p.get("caption_entities"))
            if len(plain) > MAX_CAPTION_LENGTH:
                raise _bad("message caption is too long")
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        if (
            plain == stored.get("caption", "")
            and entities == stored.get("caption_entities", [])
            and markup == stored.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        stored.pop("caption", None)
        stored.pop("caption_entities", None)
        if plain:
            stored["caption"] = plain
            if entities:
                stored["caption_entities"] = entities
        self._set_markup(stored, markup)
        stored["edit_date"] = _now()
        if bot_message.document is not None:
            bot_message.document["caption"] = caption or None
        self._record_edit(bot_message, "editMessageCaption", caption=caption or None, reply_markup=markup)
        return copy.deepcopy(stored)

    def _api_editmessagereplymarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        bot_message, stored = self._message_to_edit(p)
        markup = self._check_markup(p.get("reply_markup"), inline_only=True)
        if markup == stored.get("reply_markup"):
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        self._set_markup(stored, markup)
        stored["edit_date"] = _now()
        self._record_edit(bot_message, "editMessageReplyMarkup", reply_markup=markup)
        return copy.deepcopy(stored)

    @staticmethod
    def _set_markup(stored: dict[str, Any], markup: dict[str, Any] | None) -> None:
        if markup is None:
            stored.pop("reply_markup", None)
        else:
            stored["reply_markup"] = markup

    def _api_deletemessage(self, p: dict[str, Any]) -> bool:
        chat = self._lookup_chat(p.get("chat_id"))
        message_id = _as_int(p.get("message_id"))
        if message_id is None or (chat.id, message_id) not in self._messages:
            raise _bad("message to delete not found")
        stored = self._messages[(chat.id, message_id)]
        is_own = stored.get("from", {}).get("id") == self.bot.id
        bot_status = chat.members.get(self.bot.id)
        if not is_own and chat.type != "private" and bot_status not in ("creator", "administrator"):
            raise _bad("message can't be deleted")
        del self._messages[(chat.id, message_id)]
        bot_message = self._bot_messages.get((chat.id, message_id))
        if bot_message is not None:
            bot_message.deleted = True
        return True

    def _api_pinchatmessage(self, p: dict[str, Any]) -> bool:
        chat = self._writable_chat(p.get("chat_id"))
        message_id = _as_int(p.get("message_id"))
        if message_id is None or (chat.id, message_id) not in self._messages:
            raise _bad("message to pin not found")
        bot_message = self._bot_messages.get((chat.id, message_id))
        if bot_message is not None:
            bot_message.pinned = True
        return True

    def _api_sendchataction(self, p: dict[str, Any]) -> bool:
        self._writable_chat(p.get("chat_id"))
        return True

    def _api_answercallbackquery(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("callback_query_id"))
        if query_id not in self._queries or query_id in self.callback_answers:
            raise _bad(QUERY_TOO_OLD[len("Bad Request: ") :])
        text = p.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(p)
        return True

    # ----------------------------------------------------------------------------------------
    # updates / webhook / bot info
    # ----------------------------------------------------------------------------------------

    def _api_getme(self, p: dict[str, Any]) -> dict[str, Any]:
        data = self.bot.to_dict()
        data.update(
            {
                "can_join_groups": True,
                "can_read_all_group_messages": not self.privacy_mode,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        return data

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            kept = []
            for update in self._pending:
                if update["update_id"] < offset:
                    self._fetched.add(update["update_id"])
                else:
                    kept.append(update)
            self._pending = kept
        elif offset < 0:
            for update in self._pending[:offset]:
                self._fetched.add(update["update_id"])
            self._pending = self._pending[offset:]

    def _available(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        if allowed:
            kept = []
            for update in self._pending:
                kind = next(k for k in update if k != "update_id")
                if kind in allowed:
                    kept.append(update)
                else:
                    self._fetched.add(update["update_id"])  # skipped for good
            self._pending = kept
        return self._pending[:limit]

    async def _api_getupdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise FakeApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        offset = _as_int(p.get("offset"))
        limit = _as_int(p.get("limit")) or 100
        limit = max(1, min(limit, 100))
        timeout = p.get("timeout") or 0
        timeout = float(timeout) if isinstance(timeout, int | float) else 0.0
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = allowed
        if offset:
            self._confirm(offset)
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise FakeApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = self._available(limit)
            remaining = deadline - time.monotonic()
            if batch or self._stopping or remaining <= 0:
                break
            await self._wait_change(remaining)
        for update in batch:
            self._fetched.add(update["update_id"])
        if batch:
            self._last_activity = time.monotonic()
        return copy.deepcopy(batch)

    def _api_setwebhook(self, p: dict[str, Any]) -> bool:
        url = p.get("url") or ""
        self.webhook_url = str(url)
        if p.get("drop_pending_updates"):
            self._drop_pending()
        return True

    def _drop_pending(self) -> None:
        for update in self._pending:
            self._fetched.add(update["update_id"])
        self._pending = []

    def _api_deletewebhook(self, p: dict[str, Any]) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            self._drop_pending()
        return True

    def _api_getwebhookinfo(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def commands_for(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]] | None:
        """Commands set with setMyCommands for that scope (default scope if None)."""
        return self.my_commands.get(self._commands_key({"scope": scope, "language_code": language_code}))

    def _api_setmycommands(self, p: dict[str, Any]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            if isinstance(commands, list):
                raise _bad("BOT_COMMANDS_TOO_MUCH")
            raise _bad("commands not found")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not _BOT_COMMAND_NAME_RE.match(name.lower()):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.my_commands[self._commands_key(p)] = commands
        return True

    def _api_getmycommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return copy.deepcopy(self.my_commands.get(self._commands_key(p), []))

    def _api_deletemycommands(self, p: dict[str, Any]) -> bool:
        self.my_commands.pop(self._commands_key(p), None)
        return True

    # ----------------------------------------------------------------------------------------
    # chats and members
    # ----------------------------------------------------------------------------------------

    def _member_json(self, chat: FakeChat, user_id: int) -> dict[str, Any]:
        if user_id == self.bot.id:
            user: FakeUser | None = self.bot
        else:
            user = self.users.get(user_id)
        if user is None:
            raise _bad("user not found")
        status = chat.members.get(user_id, "left")
        data: dict[str, Any] = {"status": status, "user": user.to_dict()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                    "can_manage_topics": False,
                }
            )
        elif status == "restricted":
            data.update(
                {
                    "is_member": True,
                    "can_send_messages": False,
                    "can_send_audios": False,
                    "can_send_documents": False,
                    "can_send_photos": False,
                    "can_send_videos": False,
                    "can_send_video_notes": False,
                    "can_send_voice_notes": False,
                    "can_send_polls": False,
                    "can_send_other_messages": False,
                    "can_add_web_page_previews": False,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_pin_messages": False,
                    "can_manage_topics": False,
                    "can_edit_tag": False,
                    "can_react_to_messages": False,
                    "until_date": 0,
                }
            )
        elif status == "kicked":
            data["until_date"] = 0
        return data

    def _api_getchatmember(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._lookup_chat(p.get("chat_id"))
        user_id = _as_int(p.get("user_id"))
        if user_id is None:
            raise _bad("invalid user_id specified")
        return self._member_json(chat, user_id)

    def _api_getchatadministrators(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self._lookup_chat(p.get("chat_id"))
        if chat.type == "private":
            raise _bad("there are no administrators in the private chat")
        order = {"creator": 0, "administrator": 1}
        admins = sorted(
            (uid for uid, status in chat.members.items() if status in order),
            key=lambda uid: order[chat.members[uid]],
        )
        return [self._member_json(chat, uid) for uid in admins]

    def _api_getchatmembercount(self, p: dict[str, Any]) -> int:
        chat = self._lookup_chat(p.get("chat_id"))
        return sum(1 for status in chat.members.values() if status in _MEMBER_STATUSES)

    def _api_getchat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._lookup_chat(p.get("chat_id"))
        data = chat.to_dict()
        data.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return data

    def _api_leavechat(self, p: dict[str, Any]) -> bool:
        chat = self._lookup_chat(p.get("chat_id"))
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        chat.members[self.bot.id] = "left"
        return True

    # ----------------------------------------------------------------------------------------
    # files
    # ----------------------------------------------------------------------------------------

    def _api_getfile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = p.get("file_id")
        info = self._files.get(str(file_id)) if file_id is not None else None
        if info is None:
            raise _bad("invalid file_id")
        if len(info["content"]) > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": info["file_id"],
            "file_unique_id": info["file_unique_id"],
            "file_size": len(info["content"]),
            "file_path": info["file_path"],
        }

    # ----------------------------------------------------------------------------------------
    # forum topics and the bot's membership
    # ----------------------------------------------------------------------------------------
    #
    # As on Telegram: a forum's topic is named by the id of its creation message (a
    # ``forum_topic_created`` service message). A message in a topic carries
    # ``message_thread_id`` and ``is_topic_message``, and when it replies to nothing its
    # ``reply_to_message`` is that creation message. A send naming a thread the chat does not
    # have (or no longer has) is refused with "Bad Request: message thread not found", a
    # closed topic with "Bad Request: TOPIC_CLOSED"; a reply without a thread id goes to the
    # replied message's topic. The General topic has no thread id.

    def add_forum(
        self,
        title: str,
        members: Iterable[FakeUser],
        admins: Iterable[FakeUser] = (),
        creator: FakeUser | None = None,
    ) -> FakeChat:
        """A supergroup with topics; create them with ``create_topic``."""
        chat = self.add_group(title, members, admins=admins, creator=creator, supergroup=True)
        chat.is_forum = True
        return chat

    def create_topic(self, chat: FakeChat | int, name: str, by: FakeUser | None = None) -> int:
        """``by`` (else an admin or member) creates a topic: returns its thread id."""
        chat = self._chat(chat)
        if not chat.is_forum:
            raise AssertionError(f"chat {chat.id} is not a forum (use add_forum)")
        actor = by or self._group_actor(chat)
        thread_id = self._next_message_id(chat.id)
        fields = {
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": {"name": name, "icon_color": 7322096},
        }
        message: dict[str, Any] = {
            "message_id": thread_id,
            "from": actor.to_dict(),
            "chat": chat.to_dict(),
            "date": _now(),
            **fields,
        }
        self._messages[(chat.id, thread_id)] = message
        self.user_messages.append(message)
        self.topics[(chat.id, thread_id)] = FakeTopic(chat.id, thread_id, name, message)
        return thread_id

    def close_topic(self, chat: FakeChat | int, thread_id: int) -> None:
        self._topic(chat, thread_id).closed = True

    def reopen_topic(self, chat: FakeChat | int, thread_id: int) -> None:
        self._topic(chat, thread_id).closed = False

    def delete_topic(self, chat: FakeChat | int, thread_id: int) -> None:
        """Delete a topic and every message in it, as Telegram does."""
        topic = self._topic(chat, thread_id)
        topic.deleted = True
        for key, message in list(self._messages.items()):
            if key[0] == topic.chat_id and message.get("message_thread_id") == thread_id:
                del self._messages[key]
                bot_message = self._bot_messages.get(key)
                if bot_message is not None:
                    bot_message.deleted = True

    def send_in_topic(
        self,
        user: FakeUser,
        chat: FakeChat | int,
        thread_id: int,
        text: str,
        reply_to: BotMessage | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``user`` writes in a topic (a reply to ``reply_to``, or to nothing)."""
        chat = self._chat(chat)
        topic = self._topic(chat, thread_id)
        if topic.deleted:
            raise AssertionError(f"topic {thread_id} of chat {chat.id} was deleted")
        if reply_to is not None:
            return self.send(user, chat, text, reply_to=reply_to)
        fields: dict[str, Any] = {"text": text}
        entities = self._command_entities(text, None)
        if entities:
            fields["entities"] = entities
        fields.update(message_thread_id=thread_id, is_topic_message=True, reply_to_message=_strip_reply(topic.created))
        return self._post_user_message(user, chat, None, fields)

    def in_topic(self, chat: FakeChat | int, thread_id: int | None) -> list[BotMessage]:
        """The bot's messages in one topic of a chat (None: General)."""
        chat_id = self._chat_id(chat)
        return [m for m in self.sent if m.chat_id == chat_id and m.message_thread_id == thread_id]

    def add_bot(self, chat: FakeChat | int, by: FakeUser, status: str = "member") -> dict[str, Any]:
        """``by`` adds the bot to the group: queues the bot's ``my_chat_member`` update."""
        return self._bot_membership(self._chat(chat), by, status)

    def remove_bot(self, chat: FakeChat | int, by: FakeUser) -> dict[str, Any]:
        """``by`` removes the bot from the group: queues the bot's ``my_chat_member`` update."""
        return self._bot_membership(self._chat(chat), by, "kicked")

    def _bot_membership(self, chat: FakeChat, by: FakeUser, status: str) -> dict[str, Any]:
        old = self._member_json(chat, self.bot.id)
        chat.members[self.bot.id] = status
        change = {
            "chat": chat.to_dict(),
            "from": by.to_dict(),
            "date": _now(),
            "old_chat_member": old,
            "new_chat_member": self._member_json(chat, self.bot.id),
        }
        return self.queue_update("my_chat_member", change)

    def _topic(self, chat: FakeChat | int, thread_id: int) -> FakeTopic:
        topic = self.topics.get((self._chat_id(chat), thread_id))
        if topic is None:
            raise AssertionError(f"chat {self._chat_id(chat)} has no topic {thread_id}")
        return topic

    def _topic_of_reply(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A member's reply is in the replied message's topic."""
        if not reply.get("is_topic_message"):
            return {}
        return {"message_thread_id": reply["message_thread_id"], "is_topic_message": True}

    def _topic_fields(self, chat: FakeChat, p: dict[str, Any], reply: dict[str, Any] | None) -> dict[str, Any]:
        """The topic fields of a message the bot sends; refuses a thread Telegram would."""
        raw = p.get("message_thread_id")
        thread_id = _as_int(raw)
        if raw is not None and thread_id is None:
            raise _bad("message thread not found")
        if thread_id is None and reply is not None and reply.get("is_topic_message"):
            thread_id = reply["message_thread_id"]  # a reply goes to its message's topic
        if thread_id is None:
            return {}
        topic = self.topics.get((chat.id, thread_id))
        if not chat.is_forum or topic is None or topic.deleted:
            raise _bad("message thread not found")
        if topic.closed:
            raise _bad("TOPIC_CLOSED")
        fields: dict[str, Any] = {"message_thread_id": thread_id, "is_topic_message": True}
        if reply is None:
            fields["reply_to_message"] = _strip_reply(topic.created)
        return fields

    # ----------------------------------------------------------------------------------------
    # photos (sendPhoto, issue 12): uploads checked as strictly as Telegram does
    # ----------------------------------------------------------------------------------------

    def _api_sendphoto(self, p: dict[str, Any]) -> dict[str, Any]:
        """An uploaded PNG or JPEG; its bytes are kept on the message's ``document`` record.

        Telegram: at most 10 MB, width + height at most 10,000, ratio at most 20, and a
        caption of at most 1024 characters. The whole image is decoded, as Telegram does to
        re-encode it: one cut short or damaged is refused as no image, stricter than Telegram
        may be, never laxer.
        """
        chat = self._writable_chat(p.get("chat_id"))
        photo = p.get("photo")
        if not (isinstance(photo, dict) and photo.get("_upload")):
            raise _bad("there is no photo in the request")
        content = photo["content"]
        if len(content) > MAX_PHOTO_UPLOAD_SIZE:
            raise _bad("PHOTO_SAVE_FILE_INVALID")
        decoded = _decoded_image(content)
        if decoded is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        mime, (width, height) = decoded
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise _bad("PHOTO_INVALID_DIMENSIONS")
        info = self._store_file(content, photo.get("file_name"), mime, "photos")
        caption, plain_caption, caption_entities = self._caption(p)
        markup = self._check_markup(p.get("reply_markup"))
        reply = self._resolve_reply(chat, p)
        extra: dict[str, Any] = {
            "photo": [
                {
                    "file_id": info["file_id"],
                    "file_unique_id": info["file_unique_id"],
                    "width": width,
                    "height": height,
                    "file_size": len(content),
                }
            ],
            **self._topic_fields(chat, p, reply),
        }
        if plain_caption:
            extra["caption"] = plain_caption
            if caption_entities:
                extra["caption_entities"] = caption_entities
        record = {
            "file_name": info["file_name"],
            "content": info["content"],
            "caption": caption,
            "mime_type": mime,
            "file_id": info["file_id"],
            "photo": True,
            "width": width,
            "height": height,
        }
        sent = self._new_bot_message(
            chat,
            p,
            text=None,
            plain=None,
            entities=[],
            markup=markup,
            reply=reply,
            extra=extra,
            document=record,
        )
        # What a member reads of a photo is its caption: tests looking for a text find it there.
        self._bot_messages[(chat.id, sent["message_id"])].plain_text = plain_caption or ""
        return sent


MAX_PHOTO_UPLOAD_SIZE = 10 * 1024 * 1024


def _decoded_image(content: bytes) -> tuple[str, tuple[int, int]] | None:
    """The MIME type and the size of a whole PNG or JPEG, decoded; None for anything else, or for
    one cut short or damaged."""
    try:
        with Image.open(io.BytesIO(content), formats=("PNG", "JPEG")) as image:
            image.load()
            return image.get_format_mimetype() or "", image.size
    except (OSError, SyntaxError):  # Pillow's errors for what it cannot identify, a truncated or broken file
        return None


@dataclass
class FakeTopic:
    """A forum topic: named by its creation message's id."""

    chat_id: int
    thread_id: int
    name: str
    created: dict[str, Any]  # the forum_topic_created service message
    closed: bool = False
    deleted: bool = False
