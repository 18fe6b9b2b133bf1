"""Admins change flows while the bot runs: /recharger, /flux and uploaded YAML files.

A flow uploaded in a group by one of its administrators applies to that group only; one
uploaded in private by a configured admin applies to every group without its own. A file
is only ever parsed as plain YAML data and validated: never executed. An invalid file
changes nothing, and members in the middle of a flow finish it on the version they started.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from telegram import Chat, InputFile, Update

from bot import parsing
from bot.catalog import UnknownFlow
from bot.core.library import load_library
from bot.core.loading import MAX_FILE_BYTES, InvalidFile, LoadError
from bot.core.texts import Html, join, render, shorten
from bot.handlers import permissions, updates
from bot.handlers.arguments import number as typed_number
from bot.services import BotContext
from bot.storage import flow_versions
from bot.storage.flow_versions import GLOBAL_SCOPE, FlowVersion

MAX_ERRORS_SHOWN = 15  # a Telegram message holds 4096 characters
# 15 errors (file, place and message) and the heading fit in one message.
MAX_PLACE_CHARACTERS = 40
MAX_ERROR_CHARACTERS = 140


def _scope(chat: Chat) -> int:
    """Where a change made in this chat applies: the group itself, or (in private) everywhere."""
    return GLOBAL_SCOPE if chat.type == Chat.PRIVATE else chat.id


async def _allowed(update: Update, context: BotContext) -> bool:
    """Group administrators manage their group; configured admins manage everything, in private."""
    chat, user = updates.chat(update), updates.sender(update)
    allowed = (
        permissions.is_configured_admin(context, user.id)
        if chat.type == Chat.PRIVATE
        else await permissions.is_chat_admin(context, chat, user.id)
    )
    if not allowed:
        await updates.message(update).reply_html(context.services.messages.flows.not_allowed)
    return allowed


def _errors(context: BotContext, invalid: InvalidFile) -> Html:
    """The errors as one Telegram message: at most MAX_ERRORS_SHOWN, each with its place and
    message shortened (a long key is quoted in its error), so that the report always fits."""
    texts = context.services.messages.flows
    ellipsis = context.services.messages.flow.ellipsis
    lines = [
        render(
            texts.error_line,
            error=replace(
                error,
                file=shorten(error.file, MAX_PLACE_CHARACTERS, ellipsis),
                where=shorten(error.where, MAX_PLACE_CHARACTERS, ellipsis),
                message=shorten(error.message, MAX_ERROR_CHARACTERS, ellipsis),
            ).render(invalid.texts),
        )
        for error in invalid.errors[:MAX_ERRORS_SHOWN]
    ]
    if len(invalid.errors) > MAX_ERRORS_SHOWN:
        lines.append(render(texts.more_errors, count=len(invalid.errors) - MAX_ERRORS_SHOWN))
    return join(lines)


def _describe(context: BotContext, version: FlowVersion) -> dict[str, str]:
    texts = context.services.messages.flows
    if version.source == "disk":
        origin = texts.origin_disk
    else:
        origin = texts.origin_global if version.scope_chat_id == GLOBAL_SCOPE else texts.origin_group
    stamp = datetime.fromisoformat(version.created_at).astimezone(context.services.settings.zone)
    return {
        "version": str(version.version),
        "origin": origin,
        "author": version.author_name or texts.author_server,
        "date": stamp.strftime("%d/%m/%Y %H:%M"),
    }


# --- /recharger ------------------------------------------------------------------------


async def reload_files(update: Update, context: BotContext) -> None:
    """Re-read FLOWS_DIR; keep serving the current files if any is invalid (/recharger)."""
    services = context.services
    texts = services.messages.flows
    message = updates.message(update)
    if not permissions.is_configured_admin(context, updates.sender(update).id):
        await message.reply_html(texts.reload_not_allowed)
        return
    try:
        library = load_library(services.settings.flows_dir)
    except InvalidFile as invalid:
        await message.reply_html(render(texts.reload_invalid, errors=_errors(context, invalid)))
        return
    versions = await services.catalog.use(library)
    lines = join([render(texts.reload_line, flow=flow, version=v) for flow, v in versions.items()])
    await message.reply_html(render(library.messages.flows.reloaded, lines=lines))


# --- uploads -----------------------------------------------------------------------------


async def upload(update: Update, context: BotContext) -> None:
    """Validate an uploaded flow file and, if valid, make it the new version for its scope."""
    if not await _allowed(update, context):
        return
    services = context.services
    texts = services.messages.flows
    message = updates.message(update)
    document = message.document
    if document is None:  # registered for documents only (app.py)
        raise updates.MissingPart(update, "document")
    name = document.file_name or "?"
    if not name.lower().endswith((".yaml", ".yml")):
        await message.reply_html(texts.not_a_yaml)
        return
    library = services.library
    settings = services.settings
    scope = _scope(updates.chat(update))
    day_ago = datetime.now(UTC) - timedelta(days=1)
    uploads = await services.database.read(partial(flow_versions.uploads_since, scope_chat_id=scope, since=day_ago))
    if uploads >= settings.flow_uploads_per_day:
        await message.reply_html(render(texts.too_many_uploads, max=settings.flow_uploads_per_day))
        return
    try:
        if (document.file_size or 0) > MAX_FILE_BYTES:
            # Refused before downloading: the size Telegram announces is enough to know.
            fault = library.validation.faults.get("file_too_large", "").format(max=MAX_FILE_BYTES // 1024)
            raise InvalidFile([LoadError(name, None, "", fault)], library.validation)
        content = bytes(await (await document.get_file()).download_as_bytearray())
        flow = await parsing.parse_flow(library, content, name, settings.flow_upload_parse_seconds)
    except InvalidFile as invalid:
        await message.reply_html(render(texts.invalid, file=name, errors=_errors(context, invalid)))
        return
    except parsing.ParseTooSlow:
        await message.reply_html(render(texts.parse_too_slow, file=name, seconds=settings.flow_upload_parse_seconds))
        return
    if flow.id not in library.flows:
        await message.reply_html(render(texts.unknown_flow, flow=flow.id, flows=", ".join(library.flows)))
        return
    user = updates.sender(update)
    version = await services.catalog.install(
        flow,
        content.decode("utf-8"),
        scope_chat_id=scope,
        author_id=user.id,
        author_name=user.full_name,
        kept=settings.flow_versions_kept,
        update_id=update.update_id,
    )
    if version is None:
        await message.reply_html(render(texts.too_many_versions, max=settings.flow_versions_kept))
        return
    installed = texts.installed_global if scope == GLOBAL_SCOPE else texts.installed_group
    await message.reply_html(render(installed, flow=flow.id, version=version))


# --- /flux ----------------------------------------------------------------------------------


async def flows_command(update: Update, context: BotContext) -> None:
    """List, show the history of, roll back or download flows (/flux ...)."""
    if not await _allowed(update, context):
        return
    args = context.args or []
    subcommands: dict[str, tuple[int, Callable[..., Awaitable[None]]]] = {
        "historique": (1, _history),
        "retour": (2, _roll_back),
        "telecharger": (1, _download),
    }
    if not args:
        await _list(update, context)
    elif args[0] in subcommands and len(args) - 1 == subcommands[args[0]][0]:
        await subcommands[args[0]][1](update, context, *args[1:])
    else:
        await updates.message(update).reply_html(context.services.messages.flows.usage)


async def _known_flow(update: Update, context: BotContext, flow_id: str) -> bool:
    flows = context.services.library.flows
    if flow_id not in flows:
        texts = context.services.messages.flows
        await updates.message(update).reply_html(render(texts.unknown_flow, flow=flow_id, flows=", ".join(flows)))
        return False
    return True


async def _list(update: Update, context: BotContext) -> None:
    services = context.services
    texts = services.messages.flows
    chat = updates.chat(update)
    lines = [render(texts.list_header, chat=chat.title if chat.type != Chat.PRIVATE else texts.global_scope)]
    scope = _scope(chat)

    def in_service(connection: sqlite3.Connection) -> list[FlowVersion]:
        found = (flow_versions.active(connection, flow_id, scope) for flow_id in services.library.flows)
        return [version for version in found if version is not None]

    for active in await services.database.read(in_service):
        lines.append(render(texts.list_line, flow=active.flow_id, **_describe(context, active)))
    lines.append(Html(texts.upload_hint))
    await updates.message(update).reply_html(join(lines))


async def _history(update: Update, context: BotContext, flow_id: str) -> None:
    if not await _known_flow(update, context, flow_id):
        return
    services = context.services
    texts = services.messages.flows
    scope = _scope(updates.chat(update))

    def versions(connection: sqlite3.Connection) -> tuple[FlowVersion | None, list[FlowVersion]]:
        return flow_versions.active(connection, flow_id, scope), flow_versions.history(connection, flow_id, scope)

    active, listed = await services.database.read(versions)
    lines = [render(texts.history_header, flow=flow_id)]
    for version in listed:
        mark = texts.active_mark if active and version.version == active.version else ""
        lines.append(render(texts.history_line, active=mark, **_describe(context, version)))
    await updates.message(update).reply_html(join(lines))


async def _roll_back(update: Update, context: BotContext, flow_id: str, number: str) -> None:
    if not await _known_flow(update, context, flow_id):
        return
    services = context.services
    texts = services.messages.flows
    scope = _scope(updates.chat(update))
    message = updates.message(update)
    wanted = typed_number(number)

    def roll_back(connection: sqlite3.Connection) -> FlowVersion | None:
        version = None if wanted is None else flow_versions.visible_version(connection, flow_id, wanted, scope)
        if version is not None:
            flow_versions.activate(connection, flow_id, scope, version.version)
        return version

    version = await services.database.write(roll_back, update.update_id)
    if version is None:
        await message.reply_html(render(texts.unknown_version, flow=flow_id, version=number))
        return
    await message.reply_html(render(texts.rolled_back, flow=flow_id, version=version.version))


async def _download(update: Update, context: BotContext, flow_id: str) -> None:
    if not await _known_flow(update, context, flow_id):
        return
    services = context.services
    scope = _scope(updates.chat(update))

    def in_service(connection: sqlite3.Connection) -> tuple[int, str] | None:
        active = flow_versions.active(connection, flow_id, scope)
        text = None if active is None else flow_versions.version_text(connection, flow_id, active.version)
        return None if active is None or text is None else (active.version, text)

    found = await services.database.read(in_service)
    if found is None:  # a flow of the files is always recorded (FlowCatalog.use)
        raise UnknownFlow(flow_id)
    version, text = found
    await updates.message(update).reply_document(
        InputFile(text.encode("utf-8"), filename=f"{flow_id}.yaml"),
        caption=render(services.messages.flows.download_caption, flow=flow_id, version=version),
    )
