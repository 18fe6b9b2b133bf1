"""The partner register: /partenaires (grouped by kind of partner, paged) and /export (CSV).

The export holds every answer, members' contacts included, so only the core circle,
coordinators and admins may have it, and it is sent to them in private, never in the group.
"""

from __future__ import annotations

import math
import sqlite3

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import Forbidden

from bot.core.flows import FlowEngine
from bot.core.register import day_text, local_day
from bot.core.texts import Html, join, render
from bot.export import register_csv
from bot.handlers import paging, permissions
from bot.handlers import render as ui
from bot.services import BotContext
from bot.storage import circles
from bot.storage import register as register_store
from bot.storage.circles import Roster
from bot.storage.register import RegisterEntry

PAGE_SIZE = 12  # long partner names and three dates a line: well under 4096 characters


async def may_keep_register(context: BotContext, chat: Chat, user_id: int) -> bool:
    """Whether a member may export the register, date its reviews and answer its follow-ups.

    In a group: its core circle and coordinators, its Telegram administrators and the bot's
    admins (ADMIN_USER_IDS). In a private chat, its one member keeps their own register.
    """
    if chat.type == Chat.PRIVATE:
        return chat.id == user_id
    for roster in (Roster.CIRCLE, Roster.COORDINATION):
        if await circles.contains(context.services.database, roster, chat.id, user_id):
            return True
    return await permissions.is_chat_admin(context, chat, user_id)


def kind_label(engine: FlowEngine, kind: str) -> Html:
    """A kind of partner as the flow version of the request words it."""
    return engine.display(engine.flow.step(engine.flow.partner_fields.kind), kind)


def _dates(context: BotContext, entry: RegisterEntry) -> Html:
    texts = context.services.library.register.partners
    zone = context.services.settings.zone
    parts = [render(texts.created, date=day_text(local_day(entry.created_at, zone)))]
    if entry.decided_at:
        parts.append(render(texts.decided, date=day_text(local_day(entry.decided_at, zone))))
    if entry.review_on:
        parts.append(render(texts.review, date=day_text(entry.review_on)))
    if entry.last_outcome == "rediscuss":
        parts.append(Html(texts.rediscuss))
    return join(parts, texts.separator)


async def _page(context: BotContext, chat_id: int, page: int) -> tuple[Html, InlineKeyboardMarkup | None]:
    services = context.services
    texts = services.library.register.partners
    statuses = services.messages.requests.statuses

    def counts_and_page(connection: sqlite3.Connection) -> tuple[register_store.Counts, int, list[RegisterEntry]]:
        counts = register_store.counts(connection, chat_id)
        # The register may have shrunk since the button was sent.
        shown = min(page, max(1, math.ceil(counts.requests / PAGE_SIZE)) - 1)
        return counts, shown, register_store.page(connection, chat_id, shown * PAGE_SIZE, PAGE_SIZE)

    counts, page, entries = await services.database.read(counts_and_page)
    if counts.requests == 0:
        return Html(texts.empty), None
    pages = math.ceil(counts.requests / PAGE_SIZE)
    lines = [render(texts.header, partners=counts.partners, count=counts.requests, page=page + 1, pages=pages)]
    heading = None
    for entry in entries:
        engine = await services.catalog.engine(entry.flow_id, entry.flow_version)
        kind = kind_label(engine, entry.partner_kind)
        if kind != heading:
            heading = kind
            lines.append(render(texts.kind_heading, kind=kind))
        lines.append(render(
            texts.line, partner=entry.partner_name, number=entry.number,
            status=statuses.get(entry.status, entry.status), dates=_dates(context, entry),
        ))
    markup = paging.buttons(page, pages, texts.button_previous, texts.button_next, lambda n: ui.RegisterPage(page=n))
    return join(lines), markup


async def partners(update: Update, context: BotContext) -> None:
    """List every organisation the chat has logged, grouped by kind (/partenaires)."""
    await paging.reply_first(update, context, _page)


async def turn_page(update: Update, context: BotContext) -> None:
    """Show another page of /partenaires in place."""
    await paging.show_pressed(update, context, _page)


async def export(update: Update, context: BotContext) -> None:
    """Send the chat's register as a CSV file, in private, to a member allowed to have it (/export)."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    services = context.services
    texts = services.library.register.export
    if not await may_keep_register(context, chat, user.id):
        await message.reply_html(texts.not_allowed)
        return
    document = await register_csv(services.database, services.catalog, services.settings.zone, chat.id)
    file = InputFile(document.content, filename=texts.file_name.format(date=services.today().isoformat()))
    caption = render(texts.caption, group=chat.effective_name or "", count=document.count)
    member = ui.mention(user.id, user.full_name)
    try:
        await context.bot.send_document(user.id, file, caption=caption)
    except Forbidden:  # the member never opened a private chat with the bot
        link = InlineKeyboardButton(texts.button_open_private, url=f"https://t.me/{context.bot.username}")
        await message.reply_html(render(texts.open_private, member=member), reply_markup=InlineKeyboardMarkup([[link]]))
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_html(render(texts.sent_private, member=member))
