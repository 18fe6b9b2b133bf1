"""What every scenario needs: the bot and a bare application on the offline API, and updates.

Updates are the JSON Telegram would deliver (a member's message, a command, a button press),
turned into ``telegram.Update`` objects and handed to ``Application.process_update``: the
same path as polling or a webhook, without either.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bench.bare_bot import echo
from bench.offline import JSON, Limits, OfflineTelegram, Sent
from bot.app import build_application
from bot.catalog import FlowCatalog
from bot.config import Settings
from bot.core.library import Library, load_library
from bot.core.register_rules import REVIEW
from bot.core.statuses import RequestStatus
from bot.storage import chats, requests
from bot.storage.db import Database, now

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "conversations"
TOKEN = "123456:BENCH-TOKEN"
App = Application[Any, Any, Any, Any, Any, Any]  # the bot's or a bare one, whatever its context types
FLOW_ID = "demande_partenariat"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Colibris", "username": "colibris_bench_bot"}


def settings(database: Path, **overrides: object) -> Settings:
    """The bot's settings for a scenario; Telegram's budgets are off unless a scenario sets them."""
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "database_path": database,
        "flows_dir": CONVERSATIONS,
        "rate_limit_overall_per_second": 0,
        "rate_limit_group_per_minute": 0,
        "rate_limit_max_retries": 0,
        "log_level": "WARNING",
        **overrides,
    }
    return Settings(_env_file=None, **values)


def library() -> Library:
    return load_library(CONVERSATIONS)


@asynccontextmanager
async def running_bot(
    bot_settings: Settings, flows: Library | None = None, limits: Limits | None = None, keep: bool = True
) -> AsyncIterator[tuple[App, OfflineTelegram]]:
    """The bot as ``python -m bot`` builds it, started (job queue included) on the offline API."""
    telegram = OfflineTelegram(BOT_USER, limits=limits, keep=keep)
    application = build_application(bot_settings, flows or library(), request=telegram)
    await application.initialize()
    if application.post_init:  # build_application sets both: opening and closing the database
        await application.post_init(application)
    await application.start()
    try:
        yield application, telegram
    finally:
        await application.stop()
        if application.post_shutdown:
            await application.post_shutdown(application)
        await application.shutdown()


def _bare_application(telegram: OfflineTelegram, in_flight: int) -> App:
    """python-telegram-bot on the offline API, handling up to ``in_flight`` updates at once when
    they are fed through its update processor (as the bot's own, ``concurrent_updates``)."""
    builder = ApplicationBuilder().token(TOKEN).request(telegram).get_updates_request(telegram)
    return builder.concurrent_updates(in_flight).build()


@asynccontextmanager
async def running_bare(in_flight: int = 1) -> AsyncIterator[tuple[App, OfflineTelegram]]:
    """python-telegram-bot with a single handler echoing every update: the floor to compare with."""
    telegram = OfflineTelegram(BOT_USER)
    application = _bare_application(telegram, in_flight)
    application.add_handler(TypeHandler(Update, echo))
    await application.initialize()
    await application.start()
    try:
        yield application, telegram
    finally:
        await application.stop()
        await application.shutdown()


@asynccontextmanager
async def running_floor(
    database: Path, in_flight: int = 1, trace: Callable[[str], None] | None = None
) -> AsyncIterator[tuple[App, OfflineTelegram]]:
    """The bare echo that also persists each update at the least cost: one aiosqlite ``INSERT``
    and ``COMMIT``, with the bot's durability (WAL, ``synchronous=FULL``). ``trace`` is given
    every statement SQLite runs on the connection (to count its commits)."""
    connection = await aiosqlite.connect(database)
    if trace is not None:
        await connection.set_trace_callback(trace)
    for statement in (
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "CREATE TABLE updates (update_id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    ):
        await connection.execute(statement)

    async def persist_then_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # sqlite3 opens the transaction itself before the INSERT: two round trips. Updates
        # handled at once share the connection, so a COMMIT makes durable every INSERT queued
        # before it, and the COMMITs after it find no transaction left: the floor's own
        # group commit.
        await connection.execute("INSERT INTO updates VALUES (?, ?)", (update.update_id, update.to_json()))
        await connection.commit()
        await echo(update, context)

    telegram = OfflineTelegram(BOT_USER)
    application = _bare_application(telegram, in_flight)
    application.add_handler(TypeHandler(Update, persist_then_echo))
    await application.initialize()
    await application.start()
    try:
        yield application, telegram
    finally:
        await application.stop()
        await application.shutdown()
        await connection.close()


async def seed_group(
    database: Database,
    chat: JSON,
    circle: list[JSON],
    partners: list[str],
    answers: Mapping[str, Any],
    *,
    author: JSON,
    kind_step: str,
    partner_step: str,
    reviewed: date | None = None,
) -> None:
    """A group as a scenario starts from, in one write: its title, its core circle (the first
    member its coordinator too), a request waiting for a decision per partner (its card
    posted), filed by ``author``, and with ``reviewed``, one adopted partnership to review
    that day."""

    def change(connection: sqlite3.Connection) -> None:
        chat_id = chat["id"]
        chats.remember(connection, chat_id, chat["type"], chat["title"])
        # The bench's own rows, as a coordinator's /cercle would leave them.
        for roster, members in (("circle_members", circle), ("coordinators", circle[:1])):
            connection.executemany(
                f"INSERT INTO {roster} (chat_id, user_id, name, added_at) VALUES (?, ?, ?, ?)",
                [(chat_id, member["id"], member["first_name"], now()) for member in members],
            )

        def filed(partner: str, status: RequestStatus) -> int:
            request = requests.create(
                connection,
                chat_id=chat_id,
                author_id=author["id"],
                author_name=author["first_name"],
                flow_id=FLOW_ID,
                flow_version=1,
                partner_name=partner,
                partner_kind=answers[kind_step],
                answers={**answers, partner_step: partner},
                status=status,
                decided_at=None if status is RequestStatus.SUBMITTED else now(),
            )
            # Filed before: its card was posted then (one never posted, a start-up posts again).
            requests.set_card_message(connection, request.id, request.number)
            return request.id

        for partner in partners:
            filed(partner, RequestStatus.SUBMITTED)
        if reviewed is not None:
            adopted = filed(f"Partenaire de longue date {chat_id}", RequestStatus.ADOPTED)
            connection.execute("UPDATE requests SET review_planned = 1 WHERE id = ?", (adopted,))
            connection.execute(
                "INSERT INTO reviews (request_id, kind, due_on, created_at) VALUES (?, ?, ?, ?)",
                (adopted, REVIEW, reviewed.isoformat(), now()),
            )

    await database.write(change)


async def recorded_before_start(
    path: Path, library: Library, seeds: Sequence[Callable[[Database], Awaitable[None]]]
) -> None:
    """Seed a database the bot then starts on, as one it ran on before (its groups known to it
    from the start, as after a restart): the flow files recorded as its start-up records them."""
    database = await Database.open(path)
    try:
        await FlowCatalog(database).use(library)
        for seed in seeds:
            await seed(database)
    finally:
        await database.close()


def user(user_id: int, name: str) -> JSON:
    return {"id": user_id, "is_bot": False, "first_name": name}


def group(chat_id: int, title: str) -> JSON:
    return {"id": chat_id, "type": "supergroup", "title": title}


def private(member: JSON) -> JSON:
    return {"id": member["id"], "type": "private", "first_name": member["first_name"]}


class Updates:
    """Numbers updates and members' messages the way Telegram does."""

    def __init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1_000_000)

    def message(self, sender: JSON, chat: JSON, text: str, *, reply_to: Sent | None = None) -> JSON:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to.json
        return {"update_id": next(self._update_ids), "message": message}

    def press(self, sender: JSON, on: Sent, data: str) -> JSON:
        query = {
            "id": str(next(self._message_ids)),
            "from": sender,
            "chat_instance": str(on.chat_id),
            "message": on.json,
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}


async def process(application: App, data: JSON) -> None:
    """Hand one update's JSON to the application, as polling would."""
    await application.process_update(Update.de_json(data, application.bot))


@dataclass(frozen=True)
class OnScreen:
    """What must reach a chat's screen after an update's handler: a round's proposal, which the
    outbox posts from a job right after the command; a register's picture, which the bot draws
    and sends once the list is answered."""

    chat_id: int
    shown: Callable[[], bool]


async def settled(telegram: OfflineTelegram, awaited: OnScreen | None, within: float) -> float | None:
    """Wait until what the update posts is on screen, woken by each message the chat gets;
    return the seconds waited, None when it was not there ``within`` seconds."""
    start = time.monotonic()
    while awaited is not None:
        # Asked before looking: a message sent between the look and the wait still wakes it.
        arrival = telegram.next_message(awaited.chat_id)
        if awaited.shown():
            arrival.cancel()
            break
        try:
            await asyncio.wait_for(arrival, max(within - (time.monotonic() - start), 0))
        except TimeoutError:
            return None
    return time.monotonic() - start


async def quiet(telegram: OfflineTelegram, silence: float = 0.5, within: float = 10.0) -> None:
    """Wait until the bot has made no Bot API call for ``silence`` seconds (``within`` at most): its
    start-up work done, every open round's proposal redrawn and the outbox checked."""
    start = time.monotonic()
    calls = -1
    while calls != (calls := telegram.calls.total()) and time.monotonic() - start < within:
        await asyncio.sleep(silence)


def posted_since(telegram: OfflineTelegram, chat_id: int, posted: Callable[[Sent], bool]) -> OnScreen:
    """What the chat gets from now on holds a message that is ``posted``."""
    sent, since = telegram.by_chat[chat_id], len(telegram.by_chat[chat_id])
    return OnScreen(chat_id, lambda: any(posted(message) for message in sent[since:]))


def command_chat(data: JSON, command: str) -> int | None:
    """The chat a message with this command came from; None for any other update."""
    message = data.get("message")
    if message is None or not message["text"].startswith(command):
        return None
    chat_id: int = message["chat"]["id"]
    return chat_id


def picture_posted(telegram: OfflineTelegram, data: JSON) -> OnScreen | None:
    """For a /partenaires: the register's picture in the group (the scenarios' groups have partners)."""
    if (chat_id := command_chat(data, "/partenaires")) is None:
        return None
    return posted_since(telegram, chat_id, is_picture)


def is_picture(message: Sent) -> bool:
    """A photo, or the PNG file of a register too long for one (the bot sends no other file in a group)."""
    return "photo" in message.json or ("document" in message.json and message.chat_id < 0)
