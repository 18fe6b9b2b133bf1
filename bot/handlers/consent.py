"""Consent rounds in a group: opening, positions, reasons, deadlines, outcome and summaries.

A round's proposal is one message kept up to date: positions are public, as is usual in
consent. Every press is checked again here against the database (round, roster snapshot,
request version), whatever its callback data says. Redrawing that message is coalesced: at
most one edit every ``CONSENT_EDIT_INTERVAL_SECONDS`` per round, always ending on the state
stored last. Deadlines and reminders are jobs rebuilt from the database at start-up. The
outcome, the coordinators' summaries and the reminders go through the outbox: they are kept
in the database until Telegram confirmed them.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import aiosqlite
from telegram import BotCommand, Chat, ForceReply, InlineKeyboardMarkup, Message, Update, User
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, JobQueue

from bot.core import consent as rules
from bot.core.consent import CloseReason, Member, Outcome, Position, RoundOptions, Stance
from bot.core.consent_texts import ConsentTexts
from bot.core.library import Library
from bot.core.texts import Html, join, render
from bot.handlers import consent_views as views
from bot.handlers.arguments import number as typed_number, requested
from bot.handlers import outbox, permissions, practices, topics
from bot.handlers import render as ui
from bot.handlers.edits import unchanged_ok
from bot.services import BotContext
from bot.storage import chats, circles, requests
from bot.storage import consent as store
from bot.storage import outbox as queued
from bot.storage.circles import Roster
from bot.storage.outbox import Delivery
from bot.storage.requests import PartnershipRequest

logger = logging.getLogger(__name__)

# A round may open on a request waiting for a decision, or after one that did not adopt it.
OPENABLE = {"submitted", "objection", "no_decision"}
ASKING = ("objection", "reservation", "question")  # presses answered with a ForceReply prompt
# A job that could not run on time (the bot was stopped) runs as soon as it can, never skipped.
LATE_OK = {"misfire_grace_time": None}
_LAST_EDITS = "consent_last_edits"  # bot_data: round id -> monotonic time of its last redraw
_EDIT_LOCKS = "consent_edit_locks"  # bot_data: round id -> lock serialising its redraws
# bot_data: ids of the rounds whose redraw job is scheduled and has not started. Asking the
# JobQueue instead (get_jobs_by_name) lists every job, two per open round, at every press.
_REDRAWS_WAITING = "consent_redraws_waiting"


def _texts(context: BotContext) -> ConsentTexts:
    return context.services.library.consent


def _now() -> datetime:
    return datetime.now(UTC)


def bot_commands(library: Library) -> tuple[list[BotCommand], list[BotCommand]]:
    """The consent commands for Telegram's menu: for every member, and for chat admins."""
    names = library.consent.commands
    members = ["cercle", "consentement", "relancer", "bilan", "modifier"]
    admins = ["coordination", "clore", "prolonger"]
    return (
        [BotCommand(name, getattr(names, name)) for name in members],
        [BotCommand(name, getattr(names, name)) for name in admins],
    )


def consent_card_keyboard(context: BotContext, request: PartnershipRequest) -> InlineKeyboardMarkup | None:
    """The "open the consent" button under a request card posted in a group."""
    if request.chat_id > 0:  # a private chat: a personal request, no circle to ask
        return None
    return views.open_keyboard(_texts(context), request.number)


async def in_group(update: Update, context: BotContext) -> bool:
    """True in a group; in a private chat, say that circles and rounds live in the group."""
    if update.effective_chat.type != Chat.PRIVATE:
        return True
    await update.effective_message.reply_html(_texts(context).commands_feedback.groups_only)
    return False


async def is_steward(context: BotContext, chat: Chat, user_id: int) -> bool:
    """An admin of the group or one of its coordinators: they close, extend and review rounds."""
    return await circles.contains(context.services.database, Roster.COORDINATION, chat.id, user_id) or (
        await permissions.is_chat_admin(context, chat, user_id)
    )


# --- what a round shows ---------------------------------------------------------------------


async def _request(context: BotContext, rnd: store.Round) -> PartnershipRequest:
    request = await requests.by_number(context.services.database, rnd.chat_id, rnd.request_number)
    assert request is not None  # a round's request is never deleted while the round exists
    return request


def _state_and_request(
    connection: sqlite3.Connection, round_id: int
) -> tuple[store.RoundState, PartnershipRequest] | tuple[None, None]:
    """A round's state and its request, read together to draw its proposal."""
    state = store.load_state(connection, round_id)
    if state is None:
        return None, None
    return state, requests.by_number(connection, state.round.chat_id, state.round.request_number)


async def _request_view(context: BotContext, request: PartnershipRequest) -> views.RequestView:
    texts = _texts(context)
    engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
    flow = engine.flow
    step_ids = {step.id for step in flow.steps}
    commitment = tuple(
        (flow.step(step_id).label, engine.display(flow.step(step_id), request.answers[step_id]))
        for step_id in texts.commitment_answers
        if step_id in step_ids and step_id in request.answers
    )
    declared = request.answers.get(texts.conflict_details_answer) if texts.conflict_details_answer else None
    return views.RequestView(
        card=engine.card_lines(request.answers),
        kind=engine.display(flow.step(flow.partner_fields.kind), request.partner_kind),
        commitment=commitment,
        vigilance=await practices.vigilance_points(context, request),
        declared_link=declared if isinstance(declared, str) else None,
    )


async def _proposal(
    context: BotContext, state: store.RoundState, request: PartnershipRequest
) -> tuple[Html, InlineKeyboardMarkup | None]:
    view = await _request_view(context, request)
    texts = _texts(context)
    return (
        views.proposal_text(texts, context.services.settings.zone, state, view, ui.TELEGRAM_TEXT_LIMIT),
        views.proposal_keyboard(texts, state.round),
    )


async def _redraw(context: BotContext, round_id: int) -> None:
    """Edit the proposal to the stored state; one redraw at a time per round."""
    locks = context.bot_data.setdefault(_EDIT_LOCKS, defaultdict(asyncio.Lock))
    async with locks[round_id]:
        context.bot_data.setdefault(_LAST_EDITS, {})[round_id] = time.monotonic()
        state, request = await context.services.database.read(
            lambda connection: _state_and_request(connection, round_id)
        )
        if state is None or state.round.message_id is None:
            return
        text, markup = await _proposal(context, state, request)
        await unchanged_ok(context.bot.edit_message_text(
            text, chat_id=state.round.chat_id, message_id=state.round.message_id, reply_markup=markup
        ))


def _job_name(kind: str, round_id: int) -> str:
    return f"consent-{kind}-{round_id}"


def _cancel(job_queue: JobQueue, kind: str, round_id: int) -> None:
    for job in job_queue.get_jobs_by_name(_job_name(kind, round_id)):
        job.schedule_removal()


def _redraw_soon(context: BotContext, round_id: int) -> None:
    """Ask for a redraw: now if the last one is old enough, else once the interval has passed.

    A redraw already waiting will read the database when it runs, so it shows this change too.
    """
    waiting = context.bot_data.setdefault(_REDRAWS_WAITING, set())
    if round_id in waiting:
        return
    last = context.bot_data.setdefault(_LAST_EDITS, {}).get(round_id)
    interval = context.services.settings.consent_edit_interval_seconds
    delay = 0.0 if last is None else max(0.0, last + interval - time.monotonic())
    waiting.add(round_id)
    context.job_queue.run_once(
        _redraw_job, delay, data=round_id, name=_job_name("tally", round_id), job_kwargs=LATE_OK
    )


async def _redraw_job(context: BotContext) -> None:
    """Redraw a proposal whose tally changed (coalesced)."""
    # Before reading the round: a change stored from now on asks for a redraw of its own.
    context.bot_data[_REDRAWS_WAITING].discard(context.job.data)
    await _redraw(context, context.job.data)


# --- opening ------------------------------------------------------------------------------


async def _may_open(context: BotContext, chat: Chat, user_id: int, request: PartnershipRequest) -> bool:
    """The circle, the group's admins and the request's author may open a round on it."""
    database = context.services.database
    return (
        user_id == request.author_id
        or await circles.contains(database, Roster.CIRCLE, chat.id, user_id)
        or await permissions.is_chat_admin(context, chat, user_id)
    )


def _author_conflict(texts: ConsentTexts, request: PartnershipRequest, roster: list[Member]) -> tuple[int, ...]:
    """The author stands aside from the start when the request declares their link with the partner."""
    declared = texts.author_conflict_answer and request.answers.get(texts.author_conflict_answer) is True
    in_roster = any(member.user_id == request.author_id for member in roster)
    return (request.author_id,) if declared and in_roster else ()


async def _open(
    update: Update, context: BotContext, request: PartnershipRequest, opener: User, options: RoundOptions,
    answer: ui.Acknowledge | None = None,
) -> Html | None:
    """Open a round and post its proposal; the reason it cannot be opened otherwise (then
    ``answer`` is left to the caller)."""
    texts, services = _texts(context), context.services
    feedback = texts.commands_feedback
    if request.status not in OPENABLE:
        status = services.messages.requests.statuses.get(request.status, request.status)
        return render(feedback.cannot_open, number=request.number, status=status)
    chat = update.effective_chat
    opened_at = _now()
    # Opened outside any topic (in General): the proposal goes to the home topic, else to the card's.
    thread_id = await topics.thread_for(context, request.chat_id, topics.thread_of(update.effective_message),
                                        request.thread_id)

    def open_round(connection: sqlite3.Connection) -> tuple[Html | None, int | None, tuple]:
        # Summaries name the group, and they are read in private: keep its title up to date.
        chats.record(connection, chat.id, chat.type, chat.title)
        if store.latest_round_id(connection, request.id, open_only=True) is not None:
            return render(feedback.already_open, number=request.number), None, ()
        roster = circles.listed(connection, Roster.CIRCLE, request.chat_id)
        if not roster:
            return Html(feedback.circle_empty), None, ()
        previous_id = store.latest_round_id(connection, request.id)
        previous = store.load_state(connection, previous_id) if previous_id else None
        objectors = (
            previous.tally.members_with(Position.OBJECTION)
            if previous is not None and previous.round.outcome is Outcome.OBJECTION else ()
        )
        round_id = store.open_round(
            connection,
            request_id=request.id,
            chat_id=request.chat_id,
            opener=Member(opener.id, opener.full_name),
            opened_at=opened_at,
            deadline_at=rules.deadline_after(opened_at, options.duration_days),
            options=options,
            roster=rules.ask_first(roster, [member.user_id for member, _ in objectors]),
            conflicts=_author_conflict(texts, request, roster),
            thread_id=thread_id,
        )
        return None, round_id, objectors

    refusal, round_id, objectors = await services.database.write(open_round, update.update_id)
    if refusal is not None:
        return refusal
    await ui.acknowledge(answer)
    state = await _post_proposal(context, round_id)
    if objectors:
        lines = [render(texts.round.ask_first, members=views.names(texts, [m for m, _ in objectors]),
                        number=request.number)]
        lines += [
            render(texts.round.previous_objection, member=member.name, reason=stance.reason or "")
            for member, stance in objectors
        ]
        await context.bot.send_message(request.chat_id, join(lines), message_thread_id=state.round.thread_id,
                                       reply_to_message_id=state.round.message_id)
    return None


async def _post_proposal(context: BotContext, round_id: int) -> store.RoundState:
    """Post a round's proposal, remember where it is, and schedule its deadline."""
    database = context.services.database
    state, request = await database.read(lambda connection: _state_and_request(connection, round_id))
    text, markup = await _proposal(context, state, request)
    message = await context.bot.send_message(
        state.round.chat_id, text, message_thread_id=state.round.thread_id, reply_markup=markup
    )
    await store.set_message(database, round_id, message.message_id)
    context.bot_data.setdefault(_LAST_EDITS, {})[round_id] = time.monotonic()
    state = replace(state, round=replace(state.round, message_id=message.message_id))
    _schedule(context.job_queue, state.round, _texts(context).reminder_hours)
    return state


async def open_command(update: Update, context: BotContext) -> None:
    """Open a consent round on a request (/consentement 12 [durée=7 quorum=50 retrait=oui])."""
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    texts = _texts(context)
    feedback = texts.commands_feedback
    if not await in_group(update, context):
        return
    request = await requested(update, context, feedback.open_usage, feedback.not_found)
    if request is None:
        return
    if not await _may_open(context, chat, user.id, request):
        await message.reply_html(feedback.open_not_allowed)
        return
    try:
        options = rules.parse_options(context.args[1:], texts.defaults, texts.option_words.vocabulary())
    except rules.InvalidOption as invalid:
        await message.reply_html(render(feedback.invalid_option, option=invalid.word))
        return
    refusal = await _open(update, context, request, user, options)
    if refusal is not None:
        await message.reply_html(refusal)


async def open_press(update: Update, context: BotContext) -> None:
    """Open a round with the default options from the button under a request card."""
    query, chat = update.callback_query, update.effective_chat
    texts = _texts(context)
    payload = ui.decode(query.data)
    request = await requests.by_number(context.services.database, chat.id, payload.number)
    if request is None:
        await query.answer(texts.alerts.stale, show_alert=True)
        return
    if not await _may_open(context, chat, query.from_user.id, request):
        await query.answer(texts.alerts.open_not_allowed, show_alert=True)
        return
    # Answered once the round is stored: an answered press is an opened round.
    refusal = await _open(update, context, request, query.from_user, texts.defaults, answer=query.answer)
    if refusal is not None:
        await query.answer()
        await query.message.reply_html(refusal)


# --- positions ------------------------------------------------------------------------------


async def _take_position(
    update: Update, context: BotContext, round_id: int, user_id: int, position: Position,
    reason: str | None = None, prompt: Message | None = None,
) -> bool | None:
    """Record a position (consuming its reason prompt); close the round once everyone answered.

    True when recorded, False when it changed nothing (a double press), None when the round
    is closed.
    """
    now = _now()

    def take(connection: sqlite3.Connection) -> tuple[bool | None, bool]:
        """(recorded, closed) as _take_position says."""
        if prompt is not None and not store.drop_prompt(connection, prompt.chat_id, prompt.message_id):
            return False, False
        state = store.load_state(connection, round_id)
        if not state.round.is_open:
            return None, False
        if not rules.is_change(state.tally.current.get(user_id), position, reason):
            return False, False
        stance = Stance(user_id, position, reason, now)
        store.record(connection, round_id, stance)
        tally = rules.Tally.of(state.roster, (*state.history, stance), state.round.quorum_percent)
        closed = tally.everyone_answered and store.close(
            connection, round_id, outcome=tally.outcome(), reason=CloseReason.ALL_ANSWERED, at=now
        )
        return True, closed

    recorded, closed = await context.services.database.write(take, update.update_id)
    if not recorded:
        return recorded
    if closed:
        await _publish(context, round_id)
    else:
        _redraw_soon(context, round_id)
    return True


async def press(update: Update, context: BotContext) -> None:
    """Handle a button under a proposal, after checking the press against the stored round."""
    query = update.callback_query
    payload = ui.decode(query.data)
    texts = _texts(context)
    user = query.from_user
    state = await store.state(context.services.database, payload.round_id)
    refusal = rules.Refusal.STALE
    if state is not None and state.round.chat_id == update.effective_chat.id:
        offered = payload.action in ASKING or payload.action == Position.CONFLICT or (
            Position(payload.action) in views.offered_positions(state.round)
        )
        refusal = rules.check_press(
            is_open=state.round.is_open,
            pressed_version=payload.version,
            round_version=state.round.request_version,
            request_version=state.current_version,
            in_roster=any(member.user_id == user.id for member in state.roster),
            offered=offered,
        )
    if refusal is not None:
        await query.answer(getattr(texts.alerts, refusal), show_alert=True)
        return
    if payload.action in ASKING:
        answer = partial(query.answer, texts.alerts.reason_asked, show_alert=True)
        await _ask(update, context, state.round, user, payload.action, answer=answer)
        return
    position = Position(payload.action)
    recorded = await _take_position(update, context, state.round.id, user.id, position)
    if recorded is None:
        await query.answer(texts.alerts.closed, show_alert=True)
    elif recorded:
        # Alerts are plain text: the template is filled as is, not rendered to HTML.
        await query.answer(texts.alerts.recorded.format(position=texts.positions.of(position).button))
    else:
        await query.answer(texts.alerts.already)


async def _ask(
    update: Update, context: BotContext, rnd: store.Round, user: User, action: str, error: Html | None = None,
    answer: ui.Acknowledge | None = None,
) -> None:
    """Ask a member, by a reply box opened for them alone, for their reason or question."""
    texts = _texts(context)
    database = context.services.database
    # Claim the update before asking: a redelivered press or reply must not ask twice.
    await database.claim(update.update_id)
    await ui.acknowledge(answer)
    question = render(texts.prompts.ask(action), member=ui.mention(user.id, user.full_name), number=rnd.request_number)
    text = join([part for part in (error, question, Html(texts.prompts.hint)) if part])
    markup = ForceReply(selective=True, input_field_placeholder=texts.prompts.placeholder)
    message = await context.bot.send_message(rnd.chat_id, text, message_thread_id=rnd.thread_id, reply_markup=markup)
    await store.add_prompt(database, rnd.chat_id, message.message_id, rnd.id, user.id, action, _now())


async def reason_reply(update: Update, context: BotContext) -> None:
    """Take a member's reply to a reason or question prompt; let other replies through."""
    message = update.effective_message
    asked = topics.replied(message)
    if asked is None or asked.from_user is None or asked.from_user.id != context.bot.id:
        return
    database = context.services.database
    prompt = await store.prompt_at(database, message.chat_id, asked.message_id)
    if prompt is None:
        return  # a reply to another message of the bot: a flow's question, for instance
    if prompt.user_id == message.from_user.id:
        await _take_reply(update, context, prompt, asked)
    # Replies to a prompt are never answers to a flow question, whoever sends them.
    raise ApplicationHandlerStop


async def _take_reply(update: Update, context: BotContext, prompt: store.Prompt, asked: Message) -> None:
    texts = _texts(context)
    message = update.effective_message
    state = await store.state(context.services.database, prompt.round_id)
    if not state.round.is_open:
        await message.reply_html(texts.prompts.round_closed)
        return
    text = message.text.strip()
    error = None
    if len(text) < texts.reason_min_length:
        error = render(texts.prompts.too_short, min=texts.reason_min_length)
    elif len(text) > texts.reason_max_length:
        error = render(texts.prompts.too_long, max=texts.reason_max_length, length=len(text))
    if error is not None:
        await _ask(update, context, state.round, message.from_user, prompt.action, error)
        return
    if prompt.action == "question":
        async with context.services.database.transaction(update.update_id) as connection:
            if not await store.drop_prompt(connection, asked.chat_id, asked.message_id):
                return
        request = await _request(context, state.round)
        await context.bot.send_message(
            state.round.chat_id,
            render(
                texts.prompts.question_posted, member=ui.mention(message.from_user.id, message.from_user.full_name),
                author=ui.mention(request.author_id, request.author_name), number=request.number, question=text,
            ),
            message_thread_id=state.round.thread_id,
            reply_to_message_id=state.round.message_id,
        )
        return
    recorded = await _take_position(
        update, context, prompt.round_id, message.from_user.id, Position(prompt.action), text, prompt=asked
    )
    if recorded is None:
        await message.reply_html(texts.prompts.round_closed)


# --- closing --------------------------------------------------------------------------------


async def _close(
    context: BotContext, round_id: int, reason: CloseReason, *, update_id: int | None = None,
    closed_by: int | None = None,
) -> bool:
    """Close an open round with the outcome of its positions now; False if it was closed."""
    now = _now()

    def close(connection: sqlite3.Connection) -> bool:
        state = store.load_state(connection, round_id)
        return state is not None and store.close(
            connection, round_id, outcome=state.tally.outcome(), reason=reason, at=now, closed_by=closed_by
        )

    closed = await context.services.database.write(close, update_id)
    if closed:
        await _publish(context, round_id)
    return closed


async def _publish(context: BotContext, round_id: int) -> None:
    """Queue, once, the outcome for the group and the summary for each coordinator; show the final tally."""
    services = context.services
    for kind in ("deadline", "reminder"):
        _cancel(context.job_queue, kind, round_id)
    state = await store.state(services.database, round_id)
    rnd, texts = state.round, _texts(context)
    request = await _request(context, rnd)
    group = await chats.title(services.database, rnd.chat_id) or ""
    outcome = rules.pack(views.outcome_blocks(texts, state), ui.TELEGRAM_TEXT_LIMIT)
    summary = rules.pack(
        views.summary_blocks(texts, services.settings.zone, state, await _request_view(context, request), group),
        ui.TELEGRAM_TEXT_LIMIT,
    )
    async with services.database.transaction() as connection:
        if await store.mark_published(connection, round_id, _now()):
            await queued.enqueue(connection, rnd.chat_id, outcome, reply_to=rnd.message_id, thread_id=rnd.thread_id)
            for coordinator in await circles.listed(connection, Roster.COORDINATION, rnd.chat_id):
                await queued.enqueue(connection, coordinator.user_id, summary, kind=SUMMARY, ref=round_id)
    # The final tally waits out the edit interval like any redraw: the press that closes a
    # burst must not edit the proposal twice within it (a redraw already waiting shows it).
    _redraw_soon(context, round_id)
    outbox.kick(context.job_queue)


async def _summary_sent(connection: aiosqlite.Connection, delivery: Delivery) -> None:
    """A coordinator got a summary: they can be written to (again)."""
    state = await store.load_state(connection, delivery.ref)
    await circles.mark_reachable(connection, state.round.chat_id, delivery.chat_id)


async def _summary_refused(context: BotContext, delivery: Delivery) -> None:
    """A coordinator the bot cannot write to (never started it, blocked it): post the summary in
    the group instead, once per round, and tell the admins once per such coordinator."""
    database = context.services.database
    texts = _texts(context)
    rnd = (await store.state(database, delivery.ref)).round
    chat_id = rnd.chat_id
    coordinators = await circles.members(database, Roster.COORDINATION, chat_id)
    coordinator = next((c for c in coordinators if c.user_id == delivery.chat_id), None)
    notice = None if coordinator is None else render(
        texts.coordination.unreachable, admins=views.names(texts, await _admins(context, chat_id)),
        coordinator=ui.mention(coordinator.user_id, coordinator.name),
    )
    async with database.transaction() as connection:
        await queued.enqueue(connection, chat_id, delivery.texts, key=f"summary-in-group:{delivery.ref}",
                             thread_id=rnd.thread_id)
        if notice is not None and await circles.mark_unreachable(connection, chat_id, delivery.chat_id):
            start = views.start_keyboard(texts, context.bot.username)
            await queued.enqueue(connection, chat_id, [notice], markup=start.to_dict(), thread_id=rnd.thread_id)
    outbox.kick(context.job_queue)


SUMMARY = outbox.kind("summary", sent=_summary_sent, refused=_summary_refused)


async def _admins(context: BotContext, chat_id: int) -> list[Member]:
    """The group's human administrators; none when Telegram cannot say (the notice still names the coordinator)."""
    try:
        administrators = await context.bot.get_chat_administrators(chat_id)
    except TelegramError:
        return []
    return [Member(a.user.id, a.user.full_name) for a in administrators if not a.user.is_bot]


# --- deadlines and reminders ---------------------------------------------------------------


def _schedule(job_queue: JobQueue, rnd: store.Round, reminder_hours: int) -> None:
    """(Re)schedule a round's deadline and, unless sent, its reminder."""
    now = _now()
    for kind in ("deadline", "reminder"):
        _cancel(job_queue, kind, rnd.id)
    job_queue.run_once(
        _deadline_job, max(rnd.deadline_at, now), data=rnd.id, name=_job_name("deadline", rnd.id), job_kwargs=LATE_OK
    )
    reminder = rules.reminder_time(rnd.opened_at, rnd.deadline_at, reminder_hours)
    if reminder is not None and rnd.reminded_at is None:
        job_queue.run_once(
            _reminder_job, max(reminder, now), data=rnd.id, name=_job_name("reminder", rnd.id), job_kwargs=LATE_OK
        )


async def _deadline_job(context: BotContext) -> None:
    """Close a round at its deadline."""
    await _close(context, context.job.data, CloseReason.DEADLINE)


async def _reminder_job(context: BotContext) -> None:
    """Remind, once, the members who have not answered as the deadline nears."""
    await _remind(context, context.job.data, before_deadline=True)


async def _remind(
    context: BotContext, round_id: int, *, before_deadline: bool = False, update_id: int | None = None
) -> bool:
    """Queue a mention of the counted members who have not answered; False when everyone has
    (or, ``before_deadline``, when that reminder was queued already)."""
    database = context.services.database
    state = await store.state(database, round_id)
    waiting = state.tally.waiting
    if not waiting or not state.round.is_open:
        return False
    texts = _texts(context)
    text = render(
        texts.commands_feedback.reminder, members=views.names(texts, waiting), number=state.round.request_number,
        deadline=views.local(state.round.deadline_at, context.services.settings.zone, texts.round.date_format),
    )
    async with database.transaction(update_id) as connection:
        if before_deadline and not await store.mark_reminded(connection, round_id, _now()):
            return False
        await queued.enqueue(connection, state.round.chat_id, [text], reply_to=state.round.message_id,
                             thread_id=state.round.thread_id)
    outbox.kick(context.job_queue)
    return True


async def _startup_job(context: BotContext) -> None:
    """Finish what a stop interrupted: post missing proposals, announce closed rounds, redraw."""
    database = context.services.database
    for rnd in await store.unpublished(database):
        await _publish(context, rnd.id)
    for rnd in await store.open_rounds(database):
        if rnd.message_id is None:
            await _post_proposal(context, rnd.id)
        else:
            _redraw_soon(context, rnd.id)


async def repost(context: BotContext, chat_id: int) -> None:
    """Post again the proposals of a group's open rounds, and reschedule their jobs: the group
    became a supergroup, and its messages stayed in the old chat."""
    for rnd in await store.open_rounds(context.services.database, chat_id):
        await _post_proposal(context, rnd.id)


async def reschedule(application: Application) -> None:
    """Rebuild every open round's deadline and reminder jobs from the database (post_init)."""
    services = application.bot_data["services"]
    hours = services.library.consent.reminder_hours
    for rnd in await store.open_rounds(services.database):
        _schedule(application.job_queue, rnd, hours)
    application.job_queue.run_once(_startup_job, 0, name="consent-startup", job_kwargs=LATE_OK)


# --- stewards' commands ---------------------------------------------------------------------


async def _open_round_of(update: Update, context: BotContext, command: str) -> store.Round | None:
    """The open round named by a steward's command, or None after telling why."""
    message = update.effective_message
    feedback = _texts(context).commands_feedback
    request = await requested(update, context, render(feedback.number_usage, command=command), feedback.not_found)
    if request is None:
        return None
    round_id = await store.latest_round_id(context.services.database, request.id, open_only=True)
    if round_id is None:
        await message.reply_html(render(feedback.no_open_round, number=request.number))
        return None
    return (await store.state(context.services.database, round_id)).round


async def _steward_round(update: Update, context: BotContext, command: str) -> store.Round | None:
    if not await in_group(update, context):
        return None
    if not await is_steward(context, update.effective_chat, update.effective_user.id):
        await update.effective_message.reply_html(_texts(context).commands_feedback.stewards_only)
        return None
    return await _open_round_of(update, context, command)


async def close_command(update: Update, context: BotContext) -> None:
    """Close a round before its deadline (/clore 12): admins and coordinators."""
    rnd = await _steward_round(update, context, "/clore")
    if rnd is not None:
        await _close(context, rnd.id, CloseReason.EARLY, update_id=update.update_id,
                     closed_by=update.effective_user.id)


async def extend_command(update: Update, context: BotContext) -> None:
    """Push a round's deadline back by some days (/prolonger 12 3): admins and coordinators."""
    message = update.effective_message
    texts = _texts(context)
    feedback = texts.commands_feedback
    args = context.args or []
    days = typed_number(args[1]) if len(args) == 2 else None
    if days is None or not 1 <= days <= rules.MAX_DURATION_DAYS:
        await message.reply_html(feedback.extend_usage)
        return
    rnd = await _steward_round(update, context, "/prolonger")
    if rnd is None:
        return
    deadline = rules.deadline_after(rnd.deadline_at, days)
    reminder = rules.reminder_time(rnd.opened_at, deadline, texts.reminder_hours)
    if not await store.extend(context.services.database, rnd.id, deadline, update_id=update.update_id,
                              keep_reminder=reminder is None or reminder <= _now()):
        return
    state = await store.state(context.services.database, rnd.id)
    _schedule(context.job_queue, state.round, texts.reminder_hours)
    _redraw_soon(context, rnd.id)
    zone = context.services.settings.zone
    await message.reply_html(render(
        feedback.extended, number=rnd.request_number, days=days,
        deadline=views.local(deadline, zone, texts.round.date_format),
    ))


async def remind_command(update: Update, context: BotContext) -> None:
    """Mention the members who have not answered yet (/relancer 12)."""
    chat, user = update.effective_chat, update.effective_user
    texts = _texts(context)
    if not await in_group(update, context):
        return
    in_circle = await circles.contains(context.services.database, Roster.CIRCLE, chat.id, user.id)
    if not in_circle and not await is_steward(context, chat, user.id):
        await update.effective_message.reply_html(texts.commands_feedback.stewards_only)
        return
    rnd = await _open_round_of(update, context, "/relancer")
    if rnd is not None and not await _remind(context, rnd.id, update_id=update.update_id):
        await update.effective_message.reply_html(
            render(texts.commands_feedback.nobody_to_remind, number=rnd.request_number)
        )


async def bilan(update: Update, context: BotContext) -> None:
    """List open rounds with their tallies and recent decisions (/bilan): stewards, or a
    coordinator in private for each group they coordinate."""
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    texts = _texts(context)
    database = context.services.database
    if chat.type == Chat.PRIVATE:
        chat_ids = await circles.coordinated_chats(database, user.id)
        if not chat_ids:
            await message.reply_html(texts.bilan.nothing_private)
            return
    elif await is_steward(context, chat, user.id):
        chat_ids = [chat.id]
    else:
        await message.reply_html(texts.commands_feedback.stewards_only)
        return
    since = _now() - timedelta(days=texts.decisions_days)
    for chat_id in chat_ids:
        open_states, decisions, group = await database.read(lambda connection: (
            [store.load_state(connection, r.id) for r in store.open_rounds(connection, chat_id)],
            store.decisions_since(connection, chat_id, since),
            chats.title(connection, chat_id) or "",
        ))
        await message.reply_html(
            views.bilan_text(texts, context.services.settings.zone, group, open_states, decisions)
        )
