"""Consent rounds in a group: the commands and presses, translated for ``bot.rounds``.

A round's proposal is one message kept up to date: positions are public, as is usual in
consent. Every press is checked again here against the database (round, roster snapshot,
request version), whatever its callback data says. The lifecycle itself (open, positions,
close, publish once, remind once, coalesced redraws, recovery after a restart) is
``bot.rounds.lifecycle``; this module gives it a Telegram sender, the job queue and the
YAML texts. The outcome, the coordinators' summaries and the reminders go through the
outbox: they are kept in the database until Telegram confirmed them.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from telegram import (
    BotCommand,
    Chat,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application

from bot.core import consent_rules
from bot.core.consent_rules import CloseReason, Member, Position, RoundOptions
from bot.core.flow_engine import FlowEngine, answer_day
from bot.core.library import Library
from bot.core.statuses import RequestStatus
from bot.core.texts import Html, join, render
from bot.handlers import (
    callback_data,
    consent_views,
    keyboards,
    outbox_sender,
    permissions,
    request_lists,
    topics,
    updates,
)
from bot.handlers.arguments import number as typed_number
from bot.handlers.arguments import requested, requested_with
from bot.handlers.consent_presenter import RoundPresenter
from bot.handlers.consent_presenter import consent_texts as _texts
from bot.handlers.edits import edit_pressed, unchanged_ok
from bot.handlers.round_ports import LATE_OK, ApplicationScheduler, TelegramSender, Waiting
from bot.rounds import lifecycle
from bot.rounds.lifecycle import Opening, Redraws, Refusal, Rounds, Taken
from bot.rounds.ports import Acknowledge, acknowledge
from bot.services import BotContext
from bot.storage import chats, circles, consent_rounds, home_topics, outbox, requests
from bot.storage.circles import Roster
from bot.storage.consent_rounds import Round, RoundState
from bot.storage.outbox import Delivery
from bot.storage.requests import PartnershipRequest

logger = logging.getLogger(__name__)

ASKING = ("objection", "reservation", "question")  # presses answered with a ForceReply prompt
_REDRAWS = "consent_redraws"  # bot_data: when each proposal was last drawn, and its lock
_JOBS = "consent_jobs"  # bot_data: the rounds' jobs waiting to run, by name (round_ports.Waiting)


def _now() -> datetime:
    return datetime.now(UTC)


def bot_commands(library: Library) -> tuple[list[BotCommand], list[BotCommand]]:
    """The consent commands for Telegram's menu: for every member, and for chat admins."""
    names = library.consent.commands
    members = ["cercle", "consentement", "relancer", "bilan", "modifier", "retirer", "decliner"]
    admins = ["coordination", "clore", "prolonger"]
    return (
        [BotCommand(name, getattr(names, name)) for name in members],
        [BotCommand(name, getattr(names, name)) for name in admins],
    )


def status_name(context: BotContext, request: PartnershipRequest) -> str:
    """A request's status as members read it (as stored, should the texts lack it)."""
    return context.services.messages.requests.statuses.get(RequestStatus(request.status), request.status)


def consent_card_keyboard(context: BotContext, request: PartnershipRequest) -> InlineKeyboardMarkup | None:
    """The "open the consent" button under a request card posted in a group."""
    if request.chat_id > 0:  # a private chat: a personal request, no circle to ask
        return None
    return consent_views.open_keyboard(_texts(context), request.number, withdraw=True)


async def in_group(update: Update, context: BotContext) -> bool:
    """True in a group; in a private chat, say that circles and rounds live in the group."""
    if updates.chat(update).type != Chat.PRIVATE:
        return True
    await updates.message(update).reply_html(_texts(context).commands_feedback.groups_only)
    return False


async def _request_numbered(context: BotContext, chat_id: int, number: int) -> PartnershipRequest | None:
    return await context.services.database.read(partial(requests.by_number, chat_id=chat_id, number=number))


async def on_roster(context: BotContext, roster: Roster, chat_id: int, user_id: int) -> bool:
    return await context.services.database.read(
        partial(circles.contains, roster=roster, chat_id=chat_id, user_id=user_id)
    )


async def is_steward(context: BotContext, chat: Chat, user_id: int) -> bool:
    """An admin of the group or one of its coordinators: they close, extend and review rounds."""
    return await on_roster(context, Roster.COORDINATION, chat.id, user_id) or (
        await permissions.is_chat_admin(context, chat, user_id)
    )


def waiting_jobs(bot_data: dict[Any, Any]) -> Waiting:
    """The rounds' jobs scheduled and not started (the tests wait for those due)."""
    waiting: Waiting = bot_data.setdefault(_JOBS, Waiting())
    return waiting


def drop_timers(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    """At shutdown: the rounds' short delays still waiting are dropped (``recover`` redoes them)."""
    waiting_jobs(application.bot_data).drop_timers()


def _rounds(context: BotContext) -> Rounds:
    """The round lifecycle, reaching Telegram through this context's bot and job queue."""
    services = context.services
    return Rounds(
        database=services.database,
        sender=TelegramSender(context.bot),
        scheduler=ApplicationScheduler(context.job_queue, waiting_jobs(context.bot_data)),
        presenter=RoundPresenter(context),
        redraws=context.bot_data.setdefault(_REDRAWS, Redraws()),
        edit_interval=services.settings.consent_edit_interval_seconds,
        reminder_hours=_texts(context).reminder_hours,
        zone=services.settings.zone,
        kick_outbox=partial(outbox_sender.kick, context.job_queue),
        send_outbox=partial(outbox_sender.send_now, context),
    )


# --- opening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Openable:
    """What deciding to open a round reads, in one snapshot: the request, whether the member is
    on its group's circle, and the topic its proposal goes to."""

    request: PartnershipRequest
    on_circle: bool
    thread_id: int | None


def _openable(connection: sqlite3.Connection, request: PartnershipRequest, user_id: int, here: int | None) -> Openable:
    """``here``: the topic the member asked in. Opened outside any topic (in General), the
    proposal goes to the home topic, else to the card's."""
    return Openable(
        request,
        circles.contains(connection, Roster.CIRCLE, request.chat_id, user_id),
        home_topics.destination(connection, request.chat_id, here, request.thread_id),
    )


def _openable_numbered(
    connection: sqlite3.Connection, chat_id: int, number: int, user_id: int, here: int | None
) -> Openable | None:
    request = requests.by_number(connection, chat_id, number)
    return None if request is None else _openable(connection, request, user_id, here)


async def _may_open(context: BotContext, chat: Chat, user_id: int, openable: Openable) -> bool:
    """The circle, the group's admins and the request's author may open a round on it (Telegram
    is asked for the admins only when the member is neither of the others)."""
    return (
        user_id == openable.request.author_id
        or openable.on_circle
        or await permissions.is_chat_admin(context, chat, user_id)
    )


def _answer_by(engine: FlowEngine, request: PartnershipRequest) -> date | None:
    """The date by which the partner needs an answer, when the flow asks it and it was given."""
    step_id = engine.flow.partner_fields.answer_by
    value = request.answers.get(step_id) if step_id else None
    return answer_day(value) if isinstance(value, str) else None


async def _open(
    update: Update,
    context: BotContext,
    openable: Openable,
    opener: User,
    options: RoundOptions,
    reason: str | None = None,
    answer: Acknowledge | None = None,
) -> Html | None:
    """Open a round and post its proposal; the reason it cannot be opened otherwise (then
    ``answer`` is left to the caller).

    ``reason``: an admin's reason for a new round on a request objected to and left unchanged.
    """
    texts, services = _texts(context), context.services
    feedback = texts.commands_feedback
    chat = updates.chat(update)
    request = openable.request
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    opening = Opening(
        request,
        Member(opener.id, opener.full_name),
        options,
        reason,
        by_admin=bool(reason) and await permissions.is_chat_admin(context, chat, opener.id),
        author_recused=texts.links.author_recused(request.answers),
        answer_by=_answer_by(engine, request),
        thread_id=openable.thread_id,
        # Summaries name the group, and they are read in private: keep its title up to date.
        group=(chat.type, chat.title),
    )
    opened = await _rounds(context).open(opening, update_id=update.update_id, acknowledge=answer)
    if opened is Refusal.NOT_OPENABLE:
        status = status_name(context, request)
        return render(feedback.cannot_open, number=request.number, status=status)
    refusals = {
        Refusal.ALREADY_OPEN: render(feedback.already_open, number=request.number),
        Refusal.CIRCLE_EMPTY: Html(feedback.circle_empty),
        Refusal.UNCHANGED: render(feedback.unchanged, number=request.number),
        Refusal.REASON_ADMINS_ONLY: Html(feedback.reason_admins_only),
    }
    return refusals.get(opened) if isinstance(opened, Refusal) else None


async def open_command(update: Update, context: BotContext) -> None:
    """Open a consent round on a request (/consentement 12 [durée=7 quorum=50 retrait=oui])."""
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    texts = _texts(context)
    feedback = texts.commands_feedback
    if not await in_group(update, context):
        return
    here = topics.thread_of(message)
    read = partial(_openable, user_id=user.id, here=here)
    openable = await requested_with(update, context, feedback.open_usage, feedback.not_found, read)
    if openable is None:
        return
    if not await _may_open(context, chat, user.id, openable):
        await message.reply_html(feedback.open_not_allowed)
        return
    words, reason = consent_rules.split_reason((context.args or [])[1:], texts.option_words.reason)
    try:
        options = consent_rules.parse_options(words, texts.defaults, texts.option_words.vocabulary())
    except consent_rules.InvalidOption as invalid:
        await message.reply_html(render(feedback.invalid_option, option=invalid.word))
        return
    refusal = await _open(update, context, openable, user, options, reason)
    if refusal is not None:
        await message.reply_html(refusal)


async def open_press(update: Update, context: BotContext) -> None:
    """Open a round with the default options from the button under a request card."""
    query, chat = updates.press(update), updates.chat(update)
    texts = _texts(context)
    payload = callback_data.decode(query.data)
    assert isinstance(payload, callback_data.OpenConsent)  # the handler's pattern
    user_id, here = query.from_user.id, topics.thread_of(updates.message(update))
    openable = await context.services.database.read(
        partial(_openable_numbered, chat_id=chat.id, number=payload.number, user_id=user_id, here=here)
    )
    if openable is None:
        await query.answer(texts.alerts.stale, show_alert=True)
        return
    if not await _may_open(context, chat, user_id, openable):
        await query.answer(texts.alerts.open_not_allowed, show_alert=True)
        return
    # Answered once the round is stored: an answered press is an opened round.
    refusal = await _open(update, context, openable, query.from_user, texts.defaults, answer=query.answer)
    if refusal is not None:
        await query.answer()
        await updates.message(update).reply_html(refusal)


# --- positions ------------------------------------------------------------------------------


def _press_refusal(
    state: RoundState | None, payload: callback_data.ConsentPress, chat_id: int, user_id: int
) -> consent_rules.Refusal | None:
    """Check a press against the stored round, whatever its callback data says."""
    if state is None or state.round.chat_id != chat_id:
        return consent_rules.Refusal.STALE
    offered = (
        payload.action in ASKING
        or payload.action == Position.CONFLICT.value
        or (Position(payload.action) in consent_views.offered_positions(state.round))
    )
    return consent_rules.check_press(
        is_open=state.round.is_open,
        pressed_version=payload.version,
        round_version=state.round.request_version,
        request_version=state.current_version,
        in_roster=any(member.user_id == user_id for member in state.roster),
        offered=offered,
    )


def _checked_round(
    connection: sqlite3.Connection, payload: callback_data.ConsentPress, chat_id: int, user_id: int
) -> Round | consent_rules.Refusal:
    """The round a press asking for a reason is about, checked; the update is claimed with it."""
    state = consent_rounds.state(connection, payload.round_id)
    refusal = _press_refusal(state, payload, chat_id, user_id)
    if refusal is not None or state is None:
        return refusal or consent_rules.Refusal.STALE
    return state.round


async def press(update: Update, context: BotContext) -> None:
    """Handle a button under a proposal, checked against the stored round in the transaction
    that records it."""
    query, chat = updates.press(update), updates.chat(update)
    payload = callback_data.decode(query.data)
    assert isinstance(payload, callback_data.ConsentPress)  # the handler's pattern
    texts = _texts(context)
    user = query.from_user
    check = partial(_press_refusal, payload=payload, chat_id=chat.id, user_id=user.id)
    if payload.action in ASKING:
        # Claimed before asking: a redelivered press must not ask twice.
        checked = await context.services.database.write(
            partial(_checked_round, payload=payload, chat_id=chat.id, user_id=user.id), update.update_id
        )
        if isinstance(checked, consent_rules.Refusal):
            await query.answer(getattr(texts.alerts, checked), show_alert=True)
            return
        answer = partial(query.answer, texts.alerts.reason_asked, show_alert=True)
        await _ask(context, checked, user, payload.action, answer=answer)
        return
    position = Position(payload.action)
    taken = await _rounds(context).take_position(
        payload.round_id, user.id, position, update_id=update.update_id, check=check
    )
    if isinstance(taken, consent_rules.Refusal):
        await query.answer(getattr(texts.alerts, taken), show_alert=True)
    elif taken is Taken.CLOSED:
        await query.answer(texts.alerts.closed, show_alert=True)
    elif taken is Taken.RECORDED:
        # Alerts are plain text: the template is filled as is, not rendered to HTML.
        await query.answer(texts.alerts.recorded.format(position=texts.positions.of(position).button))
    else:
        await query.answer(texts.alerts.already)


async def _ask(
    context: BotContext,
    rnd: Round,
    user: User,
    action: str,
    error: Html | None = None,
    answer: Acknowledge | None = None,
) -> None:
    """Ask a member, by a reply box opened for them alone, for their reason or question (the
    update is claimed already: a redelivered press or reply must not ask twice)."""
    texts = _texts(context)
    await acknowledge(answer)
    question = render(
        texts.prompts.ask(action), member=keyboards.mention(user.id, user.full_name), number=rnd.request_number
    )
    text = join([part for part in (error, question, Html(texts.prompts.hint)) if part])
    markup = ForceReply(selective=True, input_field_placeholder=texts.prompts.placeholder)
    message = await context.bot.send_message(rnd.chat_id, text, message_thread_id=rnd.thread_id, reply_markup=markup)
    await context.services.database.write(
        partial(
            consent_rounds.add_prompt,
            chat_id=rnd.chat_id,
            message_id=message.message_id,
            round_id=rnd.id,
            user_id=user.id,
            action=action,
            at=_now(),
        )
    )


# A reason or question prompt, with its round and the round's request, read in one snapshot.
Prompted = tuple[consent_rounds.Prompt, RoundState, PartnershipRequest]


def prompted(connection: sqlite3.Connection, chat_id: int, message_id: int) -> Prompted | None:
    """The prompt a reply answers, if it answers one, with its round and the round's request."""
    prompt = consent_rounds.prompt_at(connection, chat_id, message_id)
    state = None if prompt is None else consent_rounds.state(connection, prompt.round_id)
    if prompt is None or state is None:
        return None
    request = requests.by_number(connection, state.round.chat_id, state.round.request_number)
    assert request is not None  # a round's request is never deleted while the round exists
    return prompt, state, request


async def take_reply(
    update: Update,
    context: BotContext,
    prompt: consent_rounds.Prompt,
    state: RoundState,
    request: PartnershipRequest,
    asked: Message,
) -> None:
    """Take the reason or question a member typed in reply to the prompt (``asked``) for it."""
    texts = _texts(context)
    message, member = updates.message(update), updates.sender(update)
    rnd = state.round
    if not rnd.is_open:
        await message.reply_html(texts.prompts.round_closed)
        return
    text = (message.text or "").strip()
    error = None
    if len(text) < texts.reason_min_length:
        error = render(texts.prompts.too_short, min=texts.reason_min_length)
    elif len(text) > texts.reason_max_length:
        error = render(texts.prompts.too_long, max=texts.reason_max_length, length=len(text))
    if error is not None:
        await context.services.database.claim(update.update_id)
        await _ask(context, rnd, member, prompt.action, error)
        return
    if prompt.action == "question":
        posted = render(
            texts.prompts.question_posted,
            member=keyboards.mention(member.id, member.full_name),
            author=keyboards.mention(request.author_id, request.author_name),
            number=request.number,
            question=text,
        )

        # Queued as the prompt is consumed: a failure or a crash after it never loses the question.
        def post(connection: sqlite3.Connection) -> bool:
            if not consent_rounds.drop_prompt(connection, asked.chat_id, asked.message_id):
                return False
            return outbox.enqueue(connection, rnd.chat_id, [posted], reply_to=rnd.message_id, thread_id=rnd.thread_id)

        if await context.services.database.write(post, update.update_id):
            outbox_sender.kick(context.job_queue)
        return
    taken = await _rounds(context).take_position(
        prompt.round_id,
        member.id,
        Position(prompt.action),
        text,
        update_id=update.update_id,
        prompt=(asked.chat_id, asked.message_id),
    )
    if taken is Taken.CLOSED:
        await message.reply_html(texts.prompts.round_closed)


# --- closing --------------------------------------------------------------------------------


async def _close(
    context: BotContext,
    rnd: Round,
    reason: CloseReason,
    *,
    update_id: int | None = None,
    closed_by: int | None = None,
    answer: Acknowledge | None = None,
) -> bool:
    """Close an open round with the outcome of its positions now; False if it was closed (then
    ``answer`` is left to the caller)."""
    return await _rounds(context).close(rnd, reason, update_id=update_id, closed_by=closed_by, acknowledge=answer)


def _summarised_round(connection: sqlite3.Connection, delivery: Delivery) -> Round:
    assert delivery.ref is not None  # a summary is queued with its round's id
    state = consent_rounds.state(connection, delivery.ref)
    assert state is not None  # rounds are never deleted
    return state.round


def _summary_sent(connection: sqlite3.Connection, delivery: Delivery) -> None:
    """A coordinator got a summary: they can be written to (again)."""
    circles.mark_reachable(connection, _summarised_round(connection, delivery).chat_id, delivery.chat_id)


def _summary_refusal(connection: sqlite3.Connection, delivery: Delivery) -> tuple[Round, list[Member]]:
    rnd = _summarised_round(connection, delivery)
    return rnd, circles.listed(connection, Roster.COORDINATION, rnd.chat_id)


async def _summary_refused(context: BotContext, delivery: Delivery) -> None:
    """A coordinator the bot cannot write to (never started it, blocked it): post the summary in
    the group instead, once per round, and tell the admins once per such coordinator."""
    database = context.services.database
    texts = _texts(context)
    rnd, coordinators = await database.read(partial(_summary_refusal, delivery=delivery))
    chat_id = rnd.chat_id
    coordinator = next((c for c in coordinators if c.user_id == delivery.chat_id), None)
    notice = (
        None
        if coordinator is None
        else render(
            texts.coordination.unreachable,
            admins=consent_views.names(texts, await _admins(context, chat_id)),
            coordinator=keyboards.mention(coordinator.user_id, coordinator.name),
        )
    )
    start = consent_views.start_keyboard(texts, context.bot.username)

    def post_in_group(connection: sqlite3.Connection) -> None:
        outbox.enqueue(
            connection, chat_id, delivery.texts, key=f"summary-in-group:{delivery.ref}", thread_id=rnd.thread_id
        )
        if notice is not None and circles.mark_unreachable(connection, chat_id, delivery.chat_id):
            outbox.enqueue(connection, chat_id, [notice], markup=start.to_dict(), thread_id=rnd.thread_id)

    await database.write(post_in_group)
    outbox_sender.kick(context.job_queue)


# What the outbox tells this module of its deliveries (registered by bot.app).
OUTBOX_KINDS = (
    (lifecycle.SUMMARY, outbox_sender.Kind(sent=_summary_sent, refused=_summary_refused)),
    (lifecycle.PROPOSAL, outbox_sender.Kind(sent=Rounds.proposal_sent)),
    (lifecycle.OBJECTORS_FIRST, outbox_sender.Kind()),
)


async def _admins(context: BotContext, chat_id: int) -> list[Member]:
    """The group's human administrators; none when Telegram cannot say (the notice still names the coordinator)."""
    try:
        administrators = await context.bot.get_chat_administrators(chat_id)
    except TelegramError:
        return []
    return [Member(a.user.id, a.user.full_name) for a in administrators if not a.user.is_bot]


# --- deadlines and reminders ---------------------------------------------------------------


async def _startup_job(context: BotContext) -> None:
    """Rebuild the open rounds' jobs, then finish what a stop interrupted."""
    rounds = _rounds(context)
    await rounds.reschedule()
    await rounds.recover()


async def repost(context: BotContext, chat_id: int) -> None:
    """Post again the proposals of a group's open rounds, and reschedule their jobs: the group
    became a supergroup, and its messages stayed in the old chat."""
    await _rounds(context).repost([chat_id])


async def reschedule(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    """At start-up (post_init): rebuild every open round's jobs and recover, in a job of its own."""
    assert application.job_queue is not None  # build_application always sets one up
    application.job_queue.run_once(_startup_job, 0, name="consent-startup", job_kwargs=LATE_OK)


# --- stewards' commands ---------------------------------------------------------------------


async def _open_round_of(update: Update, context: BotContext, command: str) -> RoundState | None:
    """The open round named by a steward's command, or None after telling why."""
    feedback = _texts(context).commands_feedback
    request = await requested(update, context, render(feedback.number_usage, command=command), feedback.not_found)
    if request is None:
        return None
    state = await context.services.database.read(
        partial(consent_rounds.latest_state, request_id=request.id, open_only=True)
    )
    if state is None:
        await updates.message(update).reply_html(render(feedback.no_open_round, number=request.number))
    return state


async def _steward_round(update: Update, context: BotContext, command: str) -> RoundState | None:
    if not await in_group(update, context):
        return None
    if not await is_steward(context, updates.chat(update), updates.sender(update).id):
        await updates.message(update).reply_html(_texts(context).commands_feedback.stewards_only)
        return None
    return await _open_round_of(update, context, command)


async def close_command(update: Update, context: BotContext) -> None:
    """Close a round before its deadline (/clore 12): admins and coordinators. While members
    have not answered, name them and ask the closer to confirm: silence is not consent."""
    state = await _steward_round(update, context, "/clore")
    if state is None:
        return
    texts, closer = _texts(context), updates.sender(update)
    rnd, tally = state.round, state.tally
    if not tally.waiting:
        await _close(context, rnd, CloseReason.EARLY, update_id=update.update_id, closed_by=closer.id)
        return
    await updates.message(update).reply_html(
        render(
            texts.commands_feedback.close_silent,
            number=rnd.request_number,
            members=consent_views.names(texts, tally.waiting),
            outcome=getattr(texts.outcomes, tally.outcome()),
        ),
        reply_markup=consent_views.close_keyboard(texts, rnd, closer.id),
    )


async def close_press(update: Update, context: BotContext) -> None:
    """The closer's answer to "close anyway?": close early, or leave the round open."""
    query, chat = updates.press(update), updates.chat(update)
    texts = _texts(context)
    payload = callback_data.on_its_message(query, database_checks=True)  # the round's row and the closer decide
    assert payload is None or isinstance(payload, callback_data.CloseConfirm)  # the handler's pattern
    state = (
        None
        if payload is None
        else await context.services.database.read(partial(consent_rounds.state, round_id=payload.round_id))
    )
    if payload is None or state is None or state.round.chat_id != chat.id:
        await query.answer(texts.alerts.stale, show_alert=True)
        return
    if query.from_user.id != payload.user_id:
        await query.answer(texts.alerts.close_not_yours, show_alert=True)
        return
    if not payload.confirmed:
        await query.answer()
        await unchanged_ok(
            edit_pressed(query, render(texts.commands_feedback.close_kept, number=state.round.request_number))
        )
        return
    # Answered once the round is closed, before its outcome and tally are sent.
    if not await _close(
        context,
        state.round,
        CloseReason.EARLY,
        update_id=update.update_id,
        closed_by=query.from_user.id,
        answer=query.answer,
    ):
        await query.answer(texts.alerts.closed)
    await unchanged_ok(edit_pressed(query, None))


async def extend_command(update: Update, context: BotContext) -> None:
    """Push a round's deadline back by some days (/prolonger 12 3): admins and coordinators."""
    message = updates.message(update)
    texts = _texts(context)
    feedback = texts.commands_feedback
    args = context.args or []
    days = typed_number(args[1]) if len(args) == 2 else None
    if days is None or not 1 <= days <= consent_rules.MAX_DURATION_DAYS:
        await message.reply_html(feedback.extend_usage)
        return
    if not await in_group(update, context):
        return
    if not await is_steward(context, updates.chat(update), updates.sender(update).id):
        await message.reply_html(feedback.stewards_only)
        return
    request = await requested(update, context, feedback.extend_usage, feedback.not_found)
    if request is None:
        return
    state = await context.services.database.read(partial(consent_rounds.latest_state, request_id=request.id))
    if state is None:
        await message.reply_html(render(feedback.no_open_round, number=request.number))
        return
    rounds, rnd = _rounds(context), state.round
    # A round its deadline ended without a decision is reopened: the silent members get more time.
    if rnd.is_open:
        deadline, said = await rounds.extend(rnd, days, update_id=update.update_id), feedback.extended
    else:
        deadline, said = await rounds.reopen(rnd, days, update_id=update.update_id), feedback.reopened
    if deadline is None:
        if not rnd.is_open:
            await message.reply_html(render(feedback.no_open_round, number=request.number))
        return
    zone = context.services.settings.zone
    await message.reply_html(
        render(
            said,
            number=rnd.request_number,
            days=days,
            deadline=consent_views.local(deadline, zone, texts.round.date_format),
        )
    )


async def remind_command(update: Update, context: BotContext) -> None:
    """Mention the members who have not answered yet (/relancer 12)."""
    chat, user = updates.chat(update), updates.sender(update)
    texts = _texts(context)
    if not await in_group(update, context):
        return
    in_circle = await on_roster(context, Roster.CIRCLE, chat.id, user.id)
    if not in_circle and not await is_steward(context, chat, user.id):
        await updates.message(update).reply_html(texts.commands_feedback.stewards_only)
        return
    state = await _open_round_of(update, context, "/relancer")
    if state is not None and not await _rounds(context).remind(state.round.id, update_id=update.update_id):
        await updates.message(update).reply_html(
            render(texts.commands_feedback.nobody_to_remind, number=state.round.request_number)
        )


@dataclass(frozen=True)
class Bilan:
    """What /bilan shows of one group, read in one snapshot."""

    group: str
    open_states: list[RoundState]
    decisions: list[Round]
    ended: list[PartnershipRequest]


def _bilan(connection: sqlite3.Connection, chat_id: int, since: datetime) -> Bilan:
    open_states = [consent_rounds.state(connection, r.id) for r in consent_rounds.open_rounds(connection, chat_id)]
    return Bilan(
        chats.title(connection, chat_id) or "",
        [state for state in open_states if state is not None],
        consent_rounds.decisions_since(connection, chat_id, since),
        requests.ended_since(connection, chat_id, since.isoformat(timespec="seconds")),
    )


async def bilan(update: Update, context: BotContext) -> None:
    """List open rounds with their tallies and recent decisions (/bilan): stewards, or a
    coordinator in private for each group they coordinate."""
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    texts = _texts(context)
    database = context.services.database
    if chat.type == Chat.PRIVATE:
        chat_ids = await database.read(partial(circles.coordinated_chats, user_id=user.id))
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
        found = await database.read(partial(_bilan, chat_id=chat_id, since=since))
        ended = [
            (r.number, r.partner_name, request_lists.status_text(context, r), datetime.fromisoformat(r.decided_at))
            for r in found.ended
            if r.decided_at is not None
        ]
        await message.reply_html(
            consent_views.bilan_text(
                texts, context.services.settings.zone, found.group, found.open_states, found.decisions, ended
            )
        )


# --- the complete request, in private ------------------------------------------------------


async def may_see_personal(context: BotContext, chat: Chat, user_id: int, request: PartnershipRequest) -> bool:
    """The author, the circle, the coordinators and the admins may read a request's contact, in private."""
    return (
        user_id == request.author_id
        or await on_roster(context, Roster.CIRCLE, chat.id, user_id)
        or await is_steward(context, chat, user_id)
    )


async def full_request_press(update: Update, context: BotContext) -> None:
    """Send the member who pressed the complete request, in private (never in the group)."""
    query, chat = updates.press(update), updates.chat(update)
    user = query.from_user
    texts = _texts(context)
    payload = callback_data.on_its_message(query)
    assert payload is None or isinstance(payload, callback_data.FullRequest)  # the handler's pattern
    request = None if payload is None else await _request_numbered(context, chat.id, payload.number)
    if request is None:
        await query.answer(texts.alerts.stale, show_alert=True)
        return
    personal = await may_see_personal(context, chat, user.id, request)
    text = await request_lists.detail(context, request, personal=personal)
    try:
        await context.bot.send_message(user.id, text)
    except Forbidden:  # the member never started the bot: only they can open that chat
        await query.answer(texts.alerts.full_unreachable.format(bot=context.bot.username), show_alert=True)
        return
    await query.answer(texts.alerts.full_sent)


# --- saying no, and withdrawing ----------------------------------------------------------


async def _withdraw(
    update: Update,
    context: BotContext,
    request: PartnershipRequest,
    word: str | None,
    answer: Acknowledge | None = None,
) -> Html:
    """Withdraw the request (``answer`` acknowledges the press once that is stored); what to
    tell the group."""
    texts = _texts(context).withdraw
    rounds = _rounds(context)
    if not await rounds.end_request(
        request,
        RequestStatus.WITHDRAWN,
        word,
        update_id=update.update_id,
        by=updates.sender(update).id,
        acknowledge=answer,
    ):
        status = status_name(context, request)
        return render(texts.not_now, number=request.number, status=status)
    member = keyboards.mention(request.author_id, request.author_name)
    if word:
        return render(texts.done_word, member=member, number=request.number, partner=request.partner_name, word=word)
    return render(texts.done, member=member, number=request.number, partner=request.partner_name)


async def withdraw_command(update: Update, context: BotContext) -> None:
    """The author withdraws their request (/retirer 12 [un mot]); an open round ends without a decision."""
    message, user = updates.message(update), updates.sender(update)
    texts = _texts(context)
    if not await in_group(update, context):
        return
    request = await requested(update, context, texts.withdraw.usage, texts.commands_feedback.not_found)
    if request is None:
        return
    if request.author_id != user.id:
        await message.reply_html(render(texts.withdraw.not_author, number=request.number))
        return
    word = " ".join((context.args or [])[1:]).strip()[: texts.reason_max_length] or None
    await message.reply_html(await _withdraw(update, context, request, word))


async def withdraw_press(update: Update, context: BotContext) -> None:
    """ "Retirer ma demande" under the card: its author only."""
    query, chat = updates.press(update), updates.chat(update)
    texts = _texts(context)
    payload = callback_data.on_its_message(query, database_checks=True)  # the request's row and its author decide
    assert payload is None or isinstance(payload, callback_data.WithdrawRequest)  # the handler's pattern
    request = None if payload is None else await _request_numbered(context, chat.id, payload.number)
    if request is None:
        await query.answer(texts.alerts.stale, show_alert=True)
        return
    if query.from_user.id != request.author_id:
        await query.answer(texts.withdraw.not_author_alert, show_alert=True)
        return
    # Answered once the request is withdrawn (or found not withdrawable), before any send.
    notice = await _withdraw(update, context, request, None, answer=query.answer)
    # To the card's topic, named by the request: the card may be too old for Telegram to show it.
    await context.bot.send_message(chat.id, notice, message_thread_id=request.thread_id)


async def decline_command(update: Update, context: BotContext) -> None:
    """The circle or an admin declines a request without a round (/decliner 12 raison)."""
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    texts = _texts(context)
    words = texts.decline
    if not await in_group(update, context):
        return
    request = await requested(update, context, words.usage, texts.commands_feedback.not_found)
    if request is None:
        return
    in_circle = await on_roster(context, Roster.CIRCLE, chat.id, user.id)
    if not in_circle and not await permissions.is_chat_admin(context, chat, user.id):
        await message.reply_html(words.not_allowed)
        return
    reason = " ".join((context.args or [])[1:]).strip()
    if len(reason) < texts.reason_min_length or len(reason) > texts.reason_max_length:
        await message.reply_html(words.usage)
        return
    if request.status == RequestStatus.IN_CONSENT:
        await message.reply_html(render(words.round_open, number=request.number))
        return
    if not await _rounds(context).end_request(
        request, RequestStatus.DECLINED, reason, update_id=update.update_id, by=user.id
    ):
        status = status_name(context, request)
        await message.reply_html(render(words.not_now, number=request.number, status=status))
        return
    await message.reply_html(
        render(
            words.done,
            member=keyboards.mention(user.id, user.full_name),
            number=request.number,
            partner=request.partner_name,
            reason=reason,
            author=keyboards.mention(request.author_id, request.author_name),
        )
    )
