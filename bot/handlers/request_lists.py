"""Reading the requests of a chat: /demandes (paged) and /demande N."""

from __future__ import annotations

import math
from datetime import datetime

from telegram import Chat, InlineKeyboardMarkup, Update

from bot.core import register_rules
from bot.core.telegram_html import MESSAGE_LIMIT
from bot.core.texts import Html, fitting, join, render
from bot.handlers import callback_data, paging, updates
from bot.handlers.arguments import requested
from bot.services import BotContext
from bot.storage import requests
from bot.storage.requests import PartnershipRequest

PAGE_SIZE = 8


def _local_date(context: BotContext, stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(context.services.settings.zone).strftime("%d/%m/%Y")


async def _kind_label(context: BotContext, request: PartnershipRequest) -> Html:
    engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
    return engine.display(engine.flow.step(engine.flow.partner_fields.kind), request.partner_kind)


def _status(context: BotContext, request: PartnershipRequest) -> Html:
    services = context.services
    return register_rules.status_text(
        services.messages.requests.statuses, request.status, request.origin, services.library.register.known
    )


async def _page(context: BotContext, chat_id: int, page: int) -> tuple[Html, InlineKeyboardMarkup | None]:
    texts = context.services.messages.requests
    items, total = await context.services.database.read(
        lambda connection: requests.page(connection, chat_id, page * PAGE_SIZE, PAGE_SIZE)
    )
    if total == 0:
        return Html(texts.empty), None
    pages = math.ceil(total / PAGE_SIZE)
    lines = [
        render(
            texts.list_line,
            number=r.number,
            partner=r.partner_name,
            kind=await _kind_label(context, r),
            status=status_text(context, r),
            date=_local_date(context, r.created_at),
        )
        for r in items
    ]
    text = join([render(texts.list_header, page=page + 1, pages=pages, count=total), *lines])
    if chat_id > 0:  # a private chat: requests filed before a request always had a group
        text = join([text, Html(context.services.messages.groups.private_list_hint)], "\n\n")
    return text, paging.buttons(
        page, pages, texts.button_previous, texts.button_next, lambda n: callback_data.ListPage(page=n)
    )


async def list_requests(update: Update, context: BotContext) -> None:
    """List the chat's requests, newest first (/demandes)."""
    await paging.reply_first(update, context, _page)


async def turn_page(update: Update, context: BotContext) -> None:
    """Show another page of /demandes in place."""
    await paging.show_pressed(update, context, _page)


def status_text(context: BotContext, request: PartnershipRequest) -> Html:
    """A request's status as members read it, with the reason it was withdrawn or declined."""
    status = _status(context, request)
    if request.status_reason:
        return render(
            context.services.library.consent.decline.status_with_reason, status=status, reason=request.status_reason
        )
    return status


async def detail(context: BotContext, request: PartnershipRequest, *, personal: bool) -> Html:
    """A request in full, fitting one message; the answers its flow declares ``personal`` (the
    contact) only when ``personal``: never in a group."""
    texts = context.services.messages.requests
    engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
    status, date = status_text(context, request), _local_date(context, request.created_at)
    answers = {k: v for k, v in request.answers.items() if personal or k not in engine.flow.personal}

    def text(preview: int | None) -> Html:
        summary = engine.summary(answers, preview)
        lines = join([render(engine.texts.summary_line, label=label, answer=answer) for label, answer in summary.lines])
        return render(
            texts.detail,
            number=request.number,
            title=engine.flow.title,
            status=status,
            author=request.author_name,
            date=date,
            lines=lines,
        )

    return fitting(text, MESSAGE_LIMIT)


async def show_request(update: Update, context: BotContext) -> None:
    """Show one request (/demande 12): in a group, without its personal answers."""
    texts = context.services.messages.requests
    request = await requested(update, context, texts.usage, texts.not_found)
    if request is None:
        return
    text = await detail(context, request, personal=updates.chat(update).type == Chat.PRIVATE)
    await updates.message(update).reply_html(text)
