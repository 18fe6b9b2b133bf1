"""Amending a request after the circle objected: /modifier 12, then a new round.

The author edits the stored answers with the ordinary flow (its summary and "Modifier une
réponse"); validating replaces the request's answers with a new version, posts what changed
to the group, and offers to open a new round, where the objectors are asked first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from functools import partial
from typing import Any

from telegram import Update

from bot.core.flow_engine import FlowEngine
from bot.core.statuses import UNDECIDED
from bot.core.telegram_html import MESSAGE_LIMIT
from bot.core.texts import Html, fitting, render
from bot.handlers import (
    consent,
    consent_views,
    flow_view,
    keyboards,
    outbox_sender,
    topics,
    updates,
)
from bot.handlers.arguments import requested
from bot.rounds.ports import Acknowledge, acknowledge
from bot.services import BotContext
from bot.storage import amendments, consent_rounds, outbox, requests, sessions
from bot.storage.sessions import FlowSession

# A request may be amended until a round adopts it (or it is withdrawn, declined or ended).
AMENDABLE = UNDECIDED


async def modifier(update: Update, context: BotContext) -> None:
    """Let a request's author edit its answers (/modifier 12)."""
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    services = context.services
    texts = services.library.consent.amend
    if not await consent.in_group(update, context):
        return
    request = await requested(update, context, texts.usage, services.library.consent.commands_feedback.not_found)
    if request is None:
        return
    number = request.number
    if request.author_id != user.id:
        await message.reply_html(render(texts.not_author, number=number))
        return
    if request.status not in AMENDABLE:
        status = consent.status_name(context, request)
        await message.reply_html(render(texts.not_now, number=number, status=status))
        return
    if await services.database.read(partial(sessions.get, chat_id=chat.id, user_id=user.id)) is not None:
        await message.reply_html(texts.busy)
        return
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    session = FlowSession(
        chat_id=chat.id,
        user_id=user.id,
        token=sessions.new_token(),
        origin_chat_id=chat.id,
        author_name=user.full_name,
        thread_id=topics.thread_of(message),
        state=engine.reopen(request.flow_version, request.answers),
        amends=number,
    )

    def start(connection: sqlite3.Connection) -> bool:
        """False when a round is open on the request: it decides on the version it shows."""
        if consent_rounds.latest_round_id(connection, request.id, open_only=True) is not None:
            return False
        amendments.start(connection, session, request.id)
        return True

    if not await services.database.write(start, update.update_id):
        await message.reply_html(render(texts.round_open, number=number))
        return
    await message.reply_html(render(texts.intro, number=number))
    await flow_view.show(context, session, engine)


async def submit(
    update: Update,
    context: BotContext,
    session: FlowSession,
    engine: FlowEngine,
    answers: Mapping[str, Any],
    answer: Acknowledge | None = None,
) -> bool:
    """Store a validated amendment as the request's new version; False for a new request's flow."""
    services = context.services
    number = session.amends
    if number is None:
        return False
    texts = services.library.consent
    request = await services.database.read(partial(requests.by_number, chat_id=session.origin_chat_id, number=number))
    assert request is not None  # a request is never deleted while a session amends it
    flow = engine.flow
    member = keyboards.mention(session.user_id, session.author_name)
    thread_id = await topics.thread_for(context, request.chat_id, session.thread_id, request.thread_id)

    def notice(version: int, preview: int | None) -> Html:  # long answers changed: shortened, still sent
        changes = consent_views.changes(engine, request.answers, answers, texts.amend, preview)
        return render(texts.amend.done, member=member, number=number, version=version, changes=changes)

    # The notice is queued with the new version it announces: a crash right after the commit
    # or a Telegram failure still lets the group know the request changed.
    def amend(connection: sqlite3.Connection) -> int | None:
        """The new version; None when a round opened meanwhile: it decides on the version it shows."""
        if consent_rounds.latest_round_id(connection, request.id, open_only=True) is not None:
            return None
        version = amendments.apply(
            connection,
            session,
            request.id,
            answers=answers,
            partner_name=answers[flow.partner_fields.partner],
            partner_kind=answers[flow.partner_fields.kind],
        )
        outbox.enqueue(
            connection,
            request.chat_id,
            [fitting(lambda preview: notice(version, preview), MESSAGE_LIMIT)],
            markup=consent_views.open_keyboard(texts, number).to_dict(),
            thread_id=thread_id,
        )
        return version

    version = await services.database.write(amend, update.update_id)
    await acknowledge(answer)
    if version is None:
        await context.bot.send_message(
            session.chat_id, render(texts.amend.round_open, number=number), message_thread_id=session.thread_id
        )
        return True
    outbox_sender.kick(context.job_queue)
    return True
