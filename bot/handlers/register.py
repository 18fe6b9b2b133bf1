"""The partner register: /partenaires (grouped by kind of partner, paged) and /export (CSV).

The export holds every answer, members' contacts included, so only the core circle,
coordinators and admins may have it, and it is sent to them in private, never in the group.
"""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime
from functools import partial

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import Forbidden

from bot.core.agenda import Deadline, ReviewDate, calendar_file
from bot.core.flow_engine import FlowEngine
from bot.core.register_rules import FOLLOW_UP, day_text, local_day, status_text
from bot.core.texts import Html, join, render
from bot.export import register_csv
from bot.handlers import callback_data, groups, keyboards, paging, permissions, topics
from bot.picture import register_picture
from bot.services import BotContext
from bot.storage import circles, consent_rounds, register_rows, review_dates
from bot.storage.circles import Roster
from bot.storage.register_rows import RegisterEntry

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

    def counts_and_page(connection: sqlite3.Connection) -> tuple[register_rows.Counts, int, list[RegisterEntry]]:
        counts = register_rows.counts(connection, chat_id)
        # The register may have shrunk since the button was sent.
        shown = min(page, max(1, math.ceil(counts.requests / PAGE_SIZE)) - 1)
        return counts, shown, register_rows.page(connection, chat_id, shown * PAGE_SIZE, PAGE_SIZE)

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
        lines.append(
            render(
                texts.line,
                partner=entry.partner_name,
                number=entry.number,
                status=status_text(statuses, entry.status, entry.origin, services.library.register.known),
                dates=_dates(context, entry),
            )
        )
    markup = paging.buttons(
        page, pages, texts.button_previous, texts.button_next, lambda n: callback_data.RegisterPage(page=n)
    )
    return join(lines), markup


async def partners(update: Update, context: BotContext) -> None:
    """List every organisation the chat has logged, grouped by kind, and show them in a picture (/partenaires)."""
    await paging.reply_first(update, context, _page)
    message = update.effective_message
    await send_picture(context, message.chat_id, update.effective_chat.effective_name or "", topics.thread_of(message))


async def send_picture(context: BotContext, chat_id: int, group: str, message_thread_id: int | None = None) -> None:
    """Send the register's picture to a chat (in a forum topic when given); nothing if it is empty."""
    services = context.services
    texts = services.library.register.picture
    counts = await register_rows.counts(services.database, chat_id)
    today = services.today()
    picture = await register_picture(
        services.database,
        services.catalog,
        services.settings.zone,
        chat_id,
        group=group,
        today=today,
        partners=counts.partners,
        total=counts.requests,
    )
    if picture is None:
        return
    file = InputFile(picture.png, filename=texts.file_name.format(date=today.isoformat()))
    caption = render(texts.caption, partners=counts.partners)
    # A long register as a photo would be shrunk past reading: it goes as the PNG file itself.
    send = context.bot.send_photo if picture.as_photo else context.bot.send_document
    await send(chat_id, file, caption=caption, message_thread_id=message_thread_id)


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
    await _send_privately(update, context, file, caption, texts.sent_private, texts.open_private)


async def _send_privately(
    update: Update, context: BotContext, file: InputFile, caption: Html, sent_private: str, open_private: str
) -> None:
    """Send a file to the member who asked, in their private chat; in a group, say so there."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    member = keyboards.mention(user.id, user.full_name)
    try:
        await context.bot.send_document(user.id, file, caption=caption)
    except Forbidden:  # the member never opened a private chat with the bot
        label = context.services.library.register.export.button_open_private
        link = InlineKeyboardButton(label, url=f"https://t.me/{context.bot.username}")
        await message.reply_html(render(open_private, member=member), reply_markup=InlineKeyboardMarkup([[link]]))
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_html(render(sent_private, member=member))


async def calendar(update: Update, context: BotContext) -> None:
    """Send open rounds' deadlines and review dates as an .ics file, in private (/calendrier):
    the group's, or, typed in private, those of every group Telegram counts the member in."""
    chat, message = update.effective_chat, update.effective_message
    services = context.services
    texts = services.library.register.calendar
    if chat.type != Chat.PRIVATE:
        covered = [(chat.id, chat.effective_name or "")]
    else:
        covered = await groups.of_the_member(context, message, update.effective_user.id)
        if covered is None:
            return
        if not covered:
            await message.reply_html(texts.no_group)
            return
    deadlines, dates = [], []
    for chat_id, title in covered:
        deadlines += [
            Deadline(r.id, r.request_number, r.partner_name, r.deadline_at, title)
            for r in await services.database.read(partial(consent_rounds.open_rounds, chat_id=chat_id))
        ]
        dates += [
            ReviewDate(v.id, v.number, v.partner_name, date.fromisoformat(v.due_on), v.kind == FOLLOW_UP, title)
            for v in await services.database.read(partial(review_dates.open_in_chat, chat_id=chat_id))
        ]
    if not deadlines and not dates:
        await message.reply_html(texts.empty)
        return
    titles = [title for _, title in covered]
    content = calendar_file(
        deadlines, dates, texts, groups=titles, zone=services.settings.zone, stamp=datetime.now(UTC)
    )
    file = InputFile(content, filename=texts.file_name.format(date=services.today().isoformat()))
    caption = render(texts.caption, group=", ".join(titles), count=len(deadlines) + len(dates))
    await _send_privately(update, context, file, caption, texts.sent_private, texts.open_private)
