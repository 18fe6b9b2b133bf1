"""The partner register: /partenaires (grouped by kind of partner, paged) and /export (CSV).

The export holds every answer, members' contacts included, so only the core circle,
coordinators and admins may have it, and it is sent to them in private, never in the group.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from weakref import WeakValueDictionary

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import Forbidden

from bot import picture
from bot.core.agenda import Deadline, ReviewDate, calendar_file
from bot.core.flow_engine import FlowEngine
from bot.core.register_rules import FOLLOW_UP, day_text, local_day, status_text
from bot.core.texts import Html, join, render
from bot.export import register_csv
from bot.handlers import callback_data, groups, keyboards, paging, permissions, topics, updates
from bot.picture import Drawn, Pictures
from bot.services import BotContext
from bot.storage import circles, consent_rounds, register_rows, review_dates
from bot.storage.circles import Roster
from bot.storage.register_rows import RegisterEntry

PAGE_SIZE = 12  # long partner names and three dates a line: well under 4096 characters
_PICTURES = "register_pictures"  # bot_data: the Pictures drawn last, one per chat
# bot_data: each chat's turn to draw and send a picture, alive while one of its pictures is on its way.
_TURNS = "register_picture_turns"
PICTURE_TASK = "register picture"  # the task drawing and sending a /partenaires's picture, once it answered


def _on_a_roster(connection: sqlite3.Connection, chat_id: int, user_id: int) -> bool:
    return any(
        circles.contains(connection, roster, chat_id, user_id) for roster in (Roster.CIRCLE, Roster.COORDINATION)
    )


async def may_keep_register(context: BotContext, chat: Chat, user_id: int) -> bool:
    """Whether a member may export the register, date its reviews and answer its follow-ups.

    In a group: its core circle and coordinators, its Telegram administrators and the bot's
    admins (ADMIN_USER_IDS). In a private chat, its one member keeps their own register.
    """
    if chat.type == Chat.PRIVATE:
        return chat.id == user_id
    if await context.services.database.read(partial(_on_a_roster, chat_id=chat.id, user_id=user_id)):
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


def _counts_and_page(
    connection: sqlite3.Connection, chat_id: int, page: int
) -> tuple[register_rows.Counts, int, list[RegisterEntry]]:
    counts = register_rows.counts(connection, chat_id)
    # The register may have shrunk since the button was sent.
    shown = min(page, max(1, math.ceil(counts.requests / PAGE_SIZE)) - 1)
    return counts, shown, register_rows.page(connection, chat_id, shown * PAGE_SIZE, PAGE_SIZE)


async def _page_text(
    context: BotContext, counts: register_rows.Counts, page: int, entries: list[RegisterEntry]
) -> tuple[Html, InlineKeyboardMarkup | None]:
    services = context.services
    texts = services.library.register.partners
    statuses = services.messages.requests.statuses
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


async def _page(context: BotContext, chat_id: int, page: int) -> tuple[Html, InlineKeyboardMarkup | None]:
    found = await context.services.database.read(partial(_counts_and_page, chat_id=chat_id, page=page))
    return await _page_text(context, *found)


@dataclass(frozen=True)
class _Glance:
    """What /partenaires reads, in one snapshot: the first page, and what the picture shows
    unless the picture drawn last still shows it (``to_draw`` None)."""

    counts: register_rows.Counts
    entries: list[RegisterEntry]
    version: int
    to_draw: list[RegisterEntry] | None


def _glance(connection: sqlite3.Connection, chat_id: int, drawn: Drawn | None) -> _Glance:
    counts, _, entries = _counts_and_page(connection, chat_id, 0)
    version = register_rows.version(connection, chat_id)
    unchanged = drawn is not None and drawn.version == version
    return _Glance(counts, entries, version, None if unchanged else picture.shown(connection, chat_id))


async def partners(update: Update, context: BotContext) -> None:
    """List every organisation the chat has logged, grouped by kind (/partenaires); their picture
    follows, drawn and sent once the member has the list."""
    message, chat = updates.message(update), updates.chat(update)
    services = context.services
    group, today = chat.effective_name or "", services.today()
    kept = _pictures(context).get(chat.id, services.library, group=group, today=today)
    glance = await services.database.read(partial(_glance, chat_id=chat.id, drawn=kept))
    text, markup = await _page_text(context, glance.counts, 0, glance.entries)
    await message.reply_html(text, reply_markup=markup)
    if glance.to_draw == []:  # an empty register has no picture
        return
    turns: WeakValueDictionary[int, asyncio.Lock] = context.bot_data.setdefault(_TURNS, WeakValueDictionary())
    turn = turns.setdefault(chat.id, asyncio.Lock())
    shown = _Shown(chat.id, topics.thread_of(message), group, today, glance, kept)
    # A task of the application's: its errors reach the error handler, and stopping waits for it.
    context.application.create_task(_send_picture(context, shown, turn), update=update, name=PICTURE_TASK)


@dataclass(frozen=True)
class _Shown:
    """What a /partenaires's picture shows and where it goes: the register as its glance read it,
    ``kept`` the picture that still showed it then, if any."""

    chat_id: int
    thread_id: int | None
    group: str
    today: date
    glance: _Glance
    kept: Drawn | None


async def _send_picture(context: BotContext, shown: _Shown, turn: asyncio.Lock) -> None:
    """Send the register's picture, drawn unless a kept one shows what the glance read.

    A chat's pictures go one at a time, in the order asked (``turn``): each matches its list,
    and a /partenaires asked while the picture of the same register was being drawn sends that
    one once drawn instead of drawing it a second time."""
    async with turn:
        drawn = await _picture_of(context, shown)
        if drawn is None:
            return
        texts = context.services.library.register.picture
        name = texts.file_name.format(date=shown.today.isoformat()) + drawn.picture.extension
        file = InputFile(drawn.picture.content, filename=name)
        caption = render(texts.caption, partners=shown.glance.counts.partners)
        # A long register as a photo would be shrunk past reading: it goes as the PNG file itself.
        send = context.bot.send_photo if drawn.picture.as_photo else context.bot.send_document
        await send(shown.chat_id, file, caption=caption, message_thread_id=shown.thread_id)


async def _picture_of(context: BotContext, shown: _Shown) -> Drawn | None:
    """The picture of the register the glance read: the one kept, or drawn now and kept."""
    services, glance = context.services, shown.glance
    if glance.to_draw is None:
        return shown.kept
    pictures = _pictures(context)
    kept = pictures.get(shown.chat_id, services.library, group=shown.group, today=shown.today)
    if kept is not None and kept.version == glance.version:  # drawn while this one waited its turn
        return kept
    drawing = await picture.register_picture(
        services.pictures,
        services.library,
        services.catalog,
        services.settings.zone,
        glance.to_draw,
        group=shown.group,
        today=shown.today,
        partners=glance.counts.partners,
        total=glance.counts.requests,
    )
    if drawing is None:
        return None
    drawn = Drawn(glance.version, shown.group, shown.today, drawing)
    pictures.keep(shown.chat_id, drawn)
    return drawn


def _pictures(context: BotContext) -> Pictures:
    pictures: Pictures = context.bot_data.setdefault(_PICTURES, Pictures())
    return pictures


async def turn_page(update: Update, context: BotContext) -> None:
    """Show another page of /partenaires in place."""
    await paging.show_pressed(update, context, _page)


async def export(update: Update, context: BotContext) -> None:
    """Send the chat's register as a CSV file, in private, to a member allowed to have it (/export)."""
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
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
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
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
    chat, message = updates.chat(update), updates.message(update)
    services = context.services
    texts = services.library.register.calendar
    if chat.type != Chat.PRIVATE:
        covered = [(chat.id, chat.effective_name or "")]
    else:
        found = await groups.of_the_member(context, message, updates.sender(update).id)
        if found is None:
            return
        if not found:
            await message.reply_html(texts.no_group)
            return
        covered = found

    def open_dates(connection: sqlite3.Connection) -> tuple[list[Deadline], list[ReviewDate]]:
        deadlines, dates = [], []
        for chat_id, title in covered:
            deadlines += [
                Deadline(r.id, r.request_number, r.partner_name, r.deadline_at, title)
                for r in consent_rounds.open_rounds(connection, chat_id)
            ]
            dates += [
                ReviewDate(v.id, v.number, v.partner_name, date.fromisoformat(v.due_on), v.kind == FOLLOW_UP, title)
                for v in review_dates.open_in_chat(connection, chat_id)
            ]
        return deadlines, dates

    deadlines, dates = await services.database.read(open_dates)
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
