"""Telegram's Bot API answered in process with canned JSON: no socket, no HTTP, no server.

python-telegram-bot's own tests swap the HTTP layer for a ``BaseRequest`` that never touches
the network; this one goes further and answers each method the way Telegram would (a sent
message comes back with its id, chat and buttons), so the real handlers run unchanged and
the benchmark measures the bot, not a network or a fake server. It records what the bot sent
and edited, and can play Telegram's flood limits: a request they would refuse is answered
``429 Too Many Requests`` with its ``retry_after``, as Telegram does, and counted.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

TEXT_LIMIT = 4096
# Methods that put a message on a chat's screen: Telegram's flood limits count them.
SENDING = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
EDITING = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
_TAG = re.compile(r"<[^>]*>")
JSON = dict[str, Any]  # a Bot API object (a message, a chat, a user, an update) as its JSON


def visible_length(text: str) -> int:
    """What Telegram counts against its 4096-character limit: the text without its HTML."""
    return len(html.unescape(_TAG.sub("", text)))


def plain(text: str) -> str:
    """A message as a member reads it (tags dropped, entities decoded)."""
    return html.unescape(_TAG.sub("", text))


@dataclass(frozen=True)
class Limits:
    """Telegram's documented budgets (core.telegram.org/bots/faq): per group, per message, overall."""

    group_per_minute: int = 20
    edit_interval: float = 1.0
    overall_per_second: int = 30


@dataclass
class Sent:
    """A message the bot sent, as a member's screen shows it now."""

    chat_id: int
    message_id: int
    text: str
    markup: JSON | None
    json: JSON
    edits: list[tuple[float, str]] = field(default_factory=list)

    @property
    def force_reply(self) -> bool:
        return bool(self.markup and self.markup.get("force_reply"))

    def callback_data(self) -> list[str]:
        rows = (self.markup or {}).get("inline_keyboard", [])
        return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


@dataclass(frozen=True)
class Refusal:
    at: float
    method: str
    chat_id: int | None
    reason: str


class OfflineTelegram(BaseRequest):
    """A ``BaseRequest`` whose "server" is a few dictionaries in this process."""

    def __init__(
        self,
        bot_user: JSON,
        *,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        keep: bool = True,
    ) -> None:
        self.bot_user = bot_user
        self.keep = keep  # False: remember no message (memory is measured in this process)
        self.limits = limits
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self.by_chat: dict[int, list[Sent]] = defaultdict(list)
        self.messages: dict[tuple[int, int], Sent] = {}
        self.refused: list[Refusal] = []
        self.admins: dict[int, list[JSON]] = {}  # group id -> its administrators (user JSON)
        self.titles: dict[int, str] = {}
        self._ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._group_sends: dict[int, deque[float]] = defaultdict(deque)
        self._overall_sends: deque[float] = deque()
        self._last_edit: dict[tuple[int, int], float] = {}
        self._waiting: dict[int, list[asyncio.Future[None]]] = defaultdict(list)  # chat id -> who waits for a message

    def next_message(self, chat_id: int) -> asyncio.Future[None]:
        """Done once the bot has sent the chat one more message after this call (polling instead
        would take the event loop from the bot as soon as many groups wait at once). Waited for
        or not, it counts from the call: a message sent before the waiter first runs wakes it."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id].append(waiter)
        return waiter

    # --- BaseRequest ------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        parameters = request_data.parameters if request_data is not None else {}
        self.calls[endpoint] += 1
        refusal = self._flood(endpoint, parameters) if self.limits else None
        if refusal is not None:
            return 429, _error(429, f"Too Many Requests: retry after {refusal}", {"retry_after": refusal})
        answer = getattr(self, f"_api_{endpoint}", None)
        result = answer(parameters) if answer is not None else True
        if isinstance(result, _Failure):
            self._refuse(self.clock(), endpoint, _chat_id(parameters), result.description, 0)
            return result.code, _error(result.code, result.description)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # --- Telegram's flood limits --------------------------------------------------------------

    def _flood(self, endpoint: str, parameters: JSON) -> int | None:
        """Seconds to wait when Telegram would refuse this request now; None when it passes."""
        if endpoint not in SENDING and endpoint not in EDITING:
            return None
        now = self.clock()
        chat_id, limits = _chat_id(parameters), self.limits
        if limits is None:
            return None
        window = self._overall_sends
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= limits.overall_per_second:
            return self._refuse(now, endpoint, chat_id, "30 messages per second", 1)
        if endpoint in EDITING and chat_id is not None:
            key = (chat_id, int(parameters.get("message_id", 0)))
            last = self._last_edit.get(key)
            if last is not None and now - last < limits.edit_interval:
                return self._refuse(now, endpoint, chat_id, "one edit per second per message", 1)
        if chat_id is not None and chat_id < 0:
            sends = self._group_sends[chat_id]
            while sends and sends[0] <= now - 60:
                sends.popleft()
            if len(sends) >= limits.group_per_minute:
                return self._refuse(
                    now, endpoint, chat_id, "20 messages per minute in a group", max(1, int(sends[0] + 60 - now) + 1)
                )
            sends.append(now)
        window.append(now)
        if endpoint in EDITING and chat_id is not None:
            self._last_edit[(chat_id, int(parameters.get("message_id", 0)))] = now
        return None

    def _refuse(self, now: float, endpoint: str, chat_id: int | None, reason: str, retry_after: int) -> int:
        self.refused.append(Refusal(now, endpoint, chat_id, reason))
        return retry_after

    # --- the methods the bot calls ------------------------------------------------------------

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"Membre {chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": self.titles.get(chat_id, f"Groupe {chat_id}")}

    def _message(self, chat_id: int, text: str, markup: JSON | None, extra: JSON | None = None) -> Sent:
        message_id = next(self._ids[chat_id])
        data: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_json(chat_id),
            "from": self.bot_user,
            "text": text,
        }
        if markup and "inline_keyboard" in markup:  # Telegram echoes inline keyboards only
            data["reply_markup"] = markup
        if extra:
            data.update(extra)
        sent = Sent(chat_id, message_id, text, markup, data)
        if self.keep:
            self.by_chat[chat_id].append(sent)
            self.messages[(chat_id, message_id)] = sent
        for waiter in self._waiting.pop(chat_id, ()):
            if not waiter.done():  # one given up (a timeout) is cancelled
                waiter.set_result(None)
        return sent

    def _api_getMe(self, parameters: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_sendMessage(self, parameters: JSON) -> JSON | _Failure:
        text = str(parameters.get("text", ""))
        if len(text) > TEXT_LIMIT and visible_length(text) > TEXT_LIMIT:
            return _Failure(400, "Bad Request: message is too long")
        return self._message(_target(parameters), text, parameters.get("reply_markup")).json

    def _api_sendDocument(self, parameters: JSON) -> JSON:
        document = {"file_id": "document", "file_unique_id": "document", "file_name": "export.csv"}
        return self._message(_target(parameters), "", None, {"document": document}).json

    def _api_sendPhoto(self, parameters: JSON) -> JSON:
        photo = [{"file_id": "photo", "file_unique_id": "photo", "width": 1080, "height": 1080}]
        return self._message(_target(parameters), "", None, {"photo": photo}).json

    def _edited(self, parameters: JSON) -> Sent:
        """The message to edit; one sent before this process started exists all the same."""
        chat_id, message_id = _target(parameters), int(parameters.get("message_id", 0))
        sent = self.messages.get((chat_id, message_id))
        if sent is None:
            data = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat_json(chat_id),
                "from": self.bot_user,
                "text": "",
            }
            sent = self.messages[(chat_id, message_id)] = Sent(chat_id, message_id, "", None, data)
        return sent

    def _api_editMessageText(self, parameters: JSON) -> JSON | _Failure:
        sent = self._edited(parameters)
        text = str(parameters.get("text", ""))
        if len(text) > TEXT_LIMIT and visible_length(text) > TEXT_LIMIT:
            return _Failure(400, "Bad Request: message is too long")
        markup = parameters.get("reply_markup")
        if text == sent.text and markup == sent.markup:
            return _Failure(400, "Bad Request: message is not modified")
        sent.text, sent.markup = text, markup
        sent.edits.append((self.clock(), text))
        sent.json = {**sent.json, "text": text, "edit_date": int(time.time())}
        sent.json.pop("reply_markup", None)
        if markup and "inline_keyboard" in markup:
            sent.json["reply_markup"] = markup
        return sent.json

    def _api_editMessageReplyMarkup(self, parameters: JSON) -> JSON | _Failure:
        sent = self._edited(parameters)
        sent.markup = parameters.get("reply_markup")
        sent.json = {key: value for key, value in sent.json.items() if key != "reply_markup"}
        if sent.markup:
            sent.json["reply_markup"] = sent.markup
        return sent.json

    def _api_getChatAdministrators(self, parameters: JSON) -> list[JSON]:
        return [
            {"status": "creator", "user": user, "is_anonymous": False}
            for user in self.admins.get(_target(parameters), [])
        ]

    def _api_getChatMember(self, parameters: JSON) -> JSON:
        user_id = int(parameters["user_id"])
        user = {"id": user_id, "is_bot": False, "first_name": f"Membre {user_id}"}
        return {"status": "member", "user": user}

    def _api_getChat(self, parameters: JSON) -> JSON:
        return {
            **self._chat_json(_target(parameters)),
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

    def _api_getUpdates(self, parameters: JSON) -> list[JSON]:
        return []


@dataclass(frozen=True)
class _Failure:
    code: int
    description: str


def _chat_id(parameters: JSON) -> int | None:
    value = parameters.get("chat_id")
    return None if value is None else int(value)


def _target(parameters: JSON) -> int:
    """The chat a send or an edit goes to: every such method has one."""
    return int(parameters["chat_id"])


def _error(code: int, description: str, parameters: JSON | None = None) -> bytes:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body).encode()
