"""What members type after a command: request numbers and counts, read strictly.

Anyone can type anything after a command. ``²`` passes ``str.isdigit`` but not ``int``, and
twenty digits pass both but not SQLite (64-bit integers): only a few ASCII digits are a number.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from telegram import Update

from bot.core.texts import render
from bot.handlers import updates
from bot.services import BotContext
from bot.storage import requests
from bot.storage.requests import PartnershipRequest

MAX_DIGITS = 9  # request numbers, versions and days all stay far below a billion
REQUEST_PREFIXES = "n°#"  # members write 12, n°12 or #12

Found = TypeVar("Found")


def number(word: str) -> int | None:
    """The number ``word`` is written as; None for anything else."""
    if word.isascii() and word.isdigit() and len(word) <= MAX_DIGITS:
        return int(word)
    return None


def request_number(args: list[str] | None) -> int | None:
    """The request number typed first after a command (``12``, ``n°12``, ``#12``)."""
    return number(args[0].lstrip(REQUEST_PREFIXES)) if args else None


async def requested(update: Update, context: BotContext, usage: str, not_found: str) -> PartnershipRequest | None:
    """The request of this chat named after the command; None once the member was told why not."""
    return await requested_with(update, context, usage, not_found, lambda _, request: request)


async def requested_with(
    update: Update,
    context: BotContext,
    usage: str,
    not_found: str,
    read: Callable[[sqlite3.Connection, PartnershipRequest], Found],
) -> Found | None:
    """What ``read`` (never None) finds about the request of this chat named after the command,
    in the snapshot that finds the request: one trip to the database. None once the member was
    told why not."""
    message, chat_id = updates.message(update), updates.chat(update).id
    number = request_number(context.args)
    if number is None:
        await message.reply_html(usage)
        return None

    def find(connection: sqlite3.Connection) -> Found | None:
        request = requests.by_number(connection, chat_id, number)
        return None if request is None else read(connection, request)

    found = await context.services.database.read(find)
    if found is None:
        await message.reply_html(render(not_found, number=number))
    return found
