"""Personal data (RGPD): /mes_donnees shows what the bot keeps about a member, /oublier erases it."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from telegram import Chat, InlineKeyboardMarkup, Update

from bot.core.texts import Html, join, render
from bot.handlers import callback_data, keyboards, updates
from bot.handlers.edits import unchanged_ok
from bot.services import BotContext
from bot.storage import personal_data

LINES_SHOWN = 15  # per section: a Telegram message holds 4096 characters


async def _in_private(update: Update, context: BotContext) -> bool:
    if updates.chat(update).type == Chat.PRIVATE:
        return True
    await updates.message(update).reply_html(context.services.messages.privacy.private_only)
    return False


def _date(context: BotContext, stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(context.services.settings.zone).strftime("%d/%m/%Y")


def _capped(context: BotContext, lines: list[Html]) -> list[Html]:
    if len(lines) <= LINES_SHOWN:
        return lines
    more = render(context.services.messages.privacy.more, count=len(lines) - LINES_SHOWN)
    return [*lines[:LINES_SHOWN], more]


async def my_data(update: Update, context: BotContext) -> None:
    """Show a member everything stored about them (/mes_donnees)."""
    if not await _in_private(update, context):
        return
    services = context.services
    texts = services.messages.privacy
    user_id = updates.sender(update).id
    data = await services.database.read(lambda connection: personal_data.personal_data(connection, user_id))
    if data.is_empty():
        await updates.message(update).reply_html(texts.nothing)
        return
    parts = [Html(texts.header)]
    if data.requests:
        parts.append(render(texts.requests, count=len(data.requests)))
        parts += _capped(
            context,
            [
                render(
                    texts.request_line,
                    group=r.chat_title or texts.private_chat,
                    number=r.number,
                    partner=r.partner,
                    date=_date(context, r.created_at),
                )
                for r in data.requests
            ],
        )
    if data.flows_in_progress:
        parts.append(render(texts.flows, count=data.flows_in_progress))
    if data.circles:
        parts.append(render(texts.circles, groups=", ".join(data.circles)))
    if data.coordinations:
        parts.append(render(texts.coordinations, groups=", ".join(data.coordinations)))
    if data.positions:
        positions = services.library.consent.positions
        parts.append(render(texts.positions, count=len(data.positions)))
        parts += _capped(
            context,
            [
                render(
                    texts.position_line,
                    group=p.chat_title or texts.private_chat,
                    number=p.request_number,
                    position=getattr(positions, p.position).name,
                    date=_date(context, p.recorded_at),
                    reason=render(texts.reason, reason=p.reason) if p.reason else Html(""),
                )
                for p in data.positions
            ],
        )
    parts.append(Html(texts.footer))
    await updates.message(update).reply_html(join(parts))


async def forget_me(update: Update, context: BotContext) -> None:
    """Ask a member to confirm erasing their personal data (/oublier)."""
    if not await _in_private(update, context):
        return
    texts = context.services.messages.privacy
    user_id = updates.sender(update).id
    keyboard = InlineKeyboardMarkup(
        [
            [keyboards.button(texts.button_yes, callback_data.ForgetMe(user_id=user_id, confirmed=True))],
            [keyboards.button(texts.button_no, callback_data.ForgetMe(user_id=user_id, confirmed=False))],
        ]
    )
    await updates.message(update).reply_html(texts.confirm, reply_markup=keyboard)


async def confirm_forget(update: Update, context: BotContext) -> None:
    """Erase the member's personal data once they confirmed, and only theirs."""
    query = updates.press(update)
    payload = callback_data.decode(query.data)
    services = context.services
    texts = services.messages.privacy
    if not isinstance(payload, callback_data.ForgetMe) or payload.user_id != query.from_user.id:
        await query.answer(services.messages.intake.not_your_button, show_alert=True)
        return
    await query.answer()
    if payload.confirmed:
        # Each request is read with the version it was filed with: an uploaded version may
        # declare other answers `personal:` than today's files.
        user_id = query.from_user.id
        filed = await services.database.read(lambda connection: personal_data.filed_flow_versions(connection, user_id))
        personal_steps = {key: frozenset((await services.catalog.engine(*key)).flow.personal) for key in filed}
        await services.database.write(
            partial(
                personal_data.forget,
                user_id=user_id,
                anonymous_name=texts.anonymous_name,
                personal_steps=personal_steps,
            )
        )
    await unchanged_ok(query.edit_message_text(texts.done if payload.confirmed else texts.kept))
