"""Review dates of adopted partnerships: the follow-ups, their buttons, and /revision.

JobQueue jobs do not survive a restart, so no job holds a date: the dates live in the
database, and one repeating job, run at start-up and then every few minutes, gives newly
adopted partnerships their date and queues the follow-ups that are due, including those that
fell due while the bot was down, in the outbox (kept until Telegram confirmed them).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application

from bot.core.flow_engine import parse_date
from bot.core.register_rules import (
    FOLLOW_UP,
    OUTCOMES,
    day_text,
    first_review,
    latest_due,
    local_day,
    next_review,
)
from bot.core.statuses import RequestStatus
from bot.core.telegram_html import MESSAGE_LIMIT
from bot.core.texts import Html, fitting, join, render
from bot.handlers import callback_data, consent, keyboards, outbox_sender, topics, updates
from bot.handlers.arguments import requested
from bot.handlers.edits import unchanged_ok
from bot.handlers.register import kind_label, may_keep_register
from bot.services import BotContext
from bot.storage import outbox, requests, review_dates
from bot.storage.outbox import Delivery
from bot.storage.requests import PartnershipRequest
from bot.storage.review_dates import Review

PLAN_BATCH = 200
# Follow-ups sent per run: a backlog after a long stop is spread over the next runs rather
# than sent in one burst (Telegram allows a bot about 20 messages a minute in one group).
POST_BATCH = 50


def schedule(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    """Run the review job as soon as the bot starts, then every ``REVIEW_CHECK_MINUTES``."""
    # A repeating job added before the scheduler starts waits a whole interval for its first
    # run: the start-up run is a job of its own, which schedules the repeating one once done,
    # so two runs never overlap (they could both post the same follow-up).
    assert application.job_queue is not None  # build_application always sets one up
    application.job_queue.run_once(_first_sweep, 0, name="reviews")


async def _first_sweep(context: BotContext) -> None:
    """Catch up at start-up, then look again every few minutes."""
    try:
        await sweep(context)
    finally:
        interval = timedelta(minutes=context.services.settings.review_check_minutes)
        context.job_queue.run_repeating(sweep, interval=interval, first=interval, name="reviews")


async def sweep(context: BotContext) -> None:
    """Give adopted partnerships their review date, then post the follow-ups that are due."""
    services = context.services
    rules, zone = services.library.register.rules, services.settings.zone
    while batch := await services.database.read(partial(review_dates.to_plan, limit=PLAN_BATCH)):
        planned: list[tuple[int, str, date]] = []
        for item in batch:
            engine = await services.catalog.engine(item.flow_id, item.flow_version)
            day = local_day(item.decided_at, zone)
            planned.append((item.request_id, *first_review(engine.flow, item.answers, day, rules)))

        def plan(connection: sqlite3.Connection, planned: list[tuple[int, str, date]] = planned) -> None:
            for request_id, kind, due_on in planned:
                review_dates.plan(connection, request_id, kind, due_on)

        await services.database.write(plan)
    latest = latest_due(datetime.now(zone), services.settings.review_post_hour)
    due = await services.database.read(partial(review_dates.due, latest=latest, limit=POST_BATCH))
    for review in due:
        await _post(context, review)
    if due:
        outbox_sender.kick(context.job_queue)


async def _follow_up_text(
    context: BotContext, review: Review, request: PartnershipRequest, done: Html | None = None
) -> Html:
    """The follow-up, then ``done`` (who answered); long expectations are shortened to fit."""
    services = context.services
    texts = services.library.register.follow_up
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    values = {
        "number": request.number,
        "partner": request.partner_name,
        "kind": kind_label(engine, request.partner_kind),
        "decided": day_text(local_day(review.decided_at, services.settings.zone)),
    }
    template = texts.follow_up if review.kind == FOLLOW_UP else texts.review
    expectations = engine.flow.partner_fields.expectations
    return fitting(
        lambda preview: join(
            [
                render(template, lines=engine.answer_lines(request.answers, expectations, preview), **values),
                done or Html(""),
            ],
            "",
        ),
        MESSAGE_LIMIT,
    )


POSTED = "follow-up"  # the outbox kind of a follow-up: its delivery records its message


async def _post(context: BotContext, review: Review) -> None:
    """Queue one follow-up for its group, recorded as posted at once so it is never queued twice."""
    services = context.services
    texts = services.library.register.follow_up
    request = await _request_of(context, review)
    text = await _follow_up_text(context, review, request)
    thread_id = await topics.thread_for(context, review.chat_id, request.thread_id)
    markup = InlineKeyboardMarkup(
        [
            [keyboards.button(texts.buttons[outcome], callback_data.ReviewPress(review=review.id, outcome=outcome))]
            for outcome in OUTCOMES
        ]
    )

    def queue(connection: sqlite3.Connection) -> None:
        review_dates.mark_posted(connection, review.id, None)
        outbox.enqueue(
            connection, review.chat_id, [text], kind=POSTED, ref=review.id, markup=markup.to_dict(), thread_id=thread_id
        )

    await services.database.write(queue)


async def _request_of(context: BotContext, review: Review) -> PartnershipRequest:
    request = await context.services.database.read(
        partial(requests.by_number, chat_id=review.chat_id, number=review.number)
    )
    assert request is not None  # a reviewed partnership's request is never deleted
    return request


def _follow_up_sent(connection: sqlite3.Connection, delivery: Delivery) -> None:
    """Remember the follow-up's message: only its buttons answer the review."""
    assert delivery.ref is not None  # a follow-up is queued with its review's id
    review_dates.mark_posted(connection, delivery.ref, delivery.message_id)


# What the outbox tells this module of its deliveries (registered by bot.app). A follow-up
# Telegram refuses (removed from the group) keeps no message: nobody can answer it.
OUTBOX_KINDS = ((POSTED, outbox_sender.Kind(sent=_follow_up_sent)),)


async def answer(update: Update, context: BotContext) -> None:
    """Record the answer to a follow-up: continue, rediscuss or end the partnership."""
    query = updates.press(update)
    payload = callback_data.decode(query.data)
    assert isinstance(payload, callback_data.ReviewPress)  # the handler's pattern
    chat, user = updates.chat(update), query.from_user
    services = context.services
    texts = services.library.register.follow_up
    review = await services.database.read(partial(review_dates.get, review_id=payload.review))
    if (
        review is None
        or review.outcome is not None
        or review.status != RequestStatus.ADOPTED
        or review.chat_id != chat.id
        or review.message_id != updates.message(update).message_id
    ):
        await query.answer(texts.stale, show_alert=True)
        return
    if not await may_keep_register(context, chat, user.id):
        await query.answer(texts.not_allowed, show_alert=True)
        return
    request = await _request_of(context, review)
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    rules = services.library.register.rules
    next_on = next_review(payload.outcome, engine.flow, request.answers, services.today(), rules)
    answered = await services.database.write(
        partial(
            review_dates.answer,
            review=review,
            outcome=payload.outcome,
            user_id=user.id,
            user_name=user.full_name,
            next_on=next_on,
        ),
        update.update_id,
    )
    if not answered:  # another member's press came first
        await query.answer(texts.stale, show_alert=True)
        return
    await query.answer()
    member = keyboards.mention(user.id, user.full_name)
    if next_on is None:
        done = render(texts.done_end, member=member)
    else:
        template = texts.done_continue if payload.outcome == "continue" else texts.done_rediscuss
        done = render(template, member=member, date=day_text(next_on))
    await unchanged_ok(
        query.edit_message_text(await _follow_up_text(context, review, request, done), reply_markup=None)
    )


async def revision(update: Update, context: BotContext) -> None:
    """Show or change the next review date of an adopted partnership (/revision 12 15/09/2027)."""
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    services = context.services
    texts = services.library.register.revision
    args = context.args or []
    request = await requested(update, context, texts.usage, texts.not_found)
    if request is None:
        return
    number = request.number
    if request.status != RequestStatus.ADOPTED:
        status = consent.status_name(context, request)
        await message.reply_html(render(texts.not_adopted, number=number, status=status))
        return
    if len(args) == 1:
        review = await services.database.read(partial(review_dates.open_review, request_id=request.id))
        if review is None:
            await message.reply_html(render(texts.none, number=number, partner=request.partner_name))
        else:
            await message.reply_html(
                render(texts.current, number=number, partner=request.partner_name, date=day_text(review.due_on))
            )
        return
    if not await may_keep_register(context, chat, user.id):
        await message.reply_html(texts.not_allowed)
        return
    day = parse_date(" ".join(args[1:]), services.messages.flow.months)
    if day is None:
        await message.reply_html(texts.invalid_date)
        return
    if day < services.today():
        await message.reply_html(texts.past_date)
        return
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    # The kind matters only if the job has not given the partnership its first date yet.
    kind, _ = first_review(engine.flow, request.answers, services.today(), services.library.register.rules)
    await services.database.write(
        partial(review_dates.set_date, request_id=request.id, kind=kind, due_on=day), update.update_id
    )
    await message.reply_html(render(texts.changed, number=number, partner=request.partner_name, date=day_text(day)))
