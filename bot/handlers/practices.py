"""Good practices: /bonnes_pratiques, reminders during a flow, points of vigilance on cards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update

from bot.core.flow_engine import Flow
from bot.core.texts import Html, join, render
from bot.handlers import callback_data, flow_view, keyboards, updates
from bot.handlers.edits import unchanged_ok
from bot.services import BotContext
from bot.storage.requests import PartnershipRequest
from bot.storage.sessions import FlowSession


def _menu(context: BotContext) -> tuple[Html, InlineKeyboardMarkup]:
    catalog = context.services.library.practices
    rows = [[keyboards.button(p.title, callback_data.PracticePage(index=i))] for i, p in enumerate(catalog.practices)]
    return Html(catalog.menu), InlineKeyboardMarkup(rows)


async def catalogue(update: Update, context: BotContext) -> None:
    """List the good practices as buttons (/bonnes_pratiques)."""
    text, markup = _menu(context)
    await updates.message(update).reply_html(text, reply_markup=markup)


async def show(update: Update, context: BotContext) -> None:
    """Show one practice, or the list again, in place."""
    query = updates.press(update)
    payload = callback_data.on_its_message(query, same_kind=True)
    if not isinstance(payload, callback_data.PracticePage):
        await query.answer(context.services.messages.intake.stale_button, show_alert=True)
        return
    catalog = context.services.library.practices
    await query.answer()
    if not 0 <= payload.index < len(catalog.practices):
        text, markup = _menu(context)
    else:
        text = catalog.detail_text(catalog.practices[payload.index])
        markup = InlineKeyboardMarkup([[keyboards.button(catalog.button_all, callback_data.PracticePage(index=-1))]])
    await unchanged_ok(query.edit_message_text(text, reply_markup=markup))


async def send_reminders(
    context: BotContext, session: FlowSession, practice_ids: Iterable[str], reply_to: Message | None = None
) -> None:
    """Remind the practices an answer just called for, before the next question.

    One message for all of them: a group allows a bot about 20 messages a minute. In a group
    it is the member's, like their questions: it mentions them, in reply to their typed answer.
    """
    catalog = context.services.library.practices
    texts = [catalog.reminder_text(p) for p in filter(None, map(catalog.get, practice_ids))]
    if not texts:
        return
    text = join(texts, "\n\n")
    if flow_view.in_group(session):
        text = render(
            catalog.group_reminders, member=keyboards.mention(session.user_id, session.author_name), reminders=text
        )
    if reply_to is not None:
        await reply_to.reply_html(text)
    else:
        await context.bot.send_message(session.chat_id, text, message_thread_id=flow_view.thread(session))


def vigilance(context: BotContext, flow: Flow, answers: Mapping[str, Any]) -> Html | None:
    """The points of vigilance of a request: every practice its answers call for."""
    return context.services.library.practices.vigilance_text(flow.triggered_practices(answers))


async def vigilance_points(context: BotContext, request: PartnershipRequest) -> Html | None:
    """The points of vigilance of a stored request, judged by the flow version it was made with."""
    engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
    return vigilance(context, engine.flow, request.answers)
