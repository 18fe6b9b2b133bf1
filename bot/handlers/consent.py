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
from datetime import UTC, date, datetime, timedelta
from functools import partial

import aiosqlite
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
from telegram.ext import Application, ApplicationHandlerStop

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
)
from bot.handlers.arguments import number as typed_number
from bot.handlers.arguments import requested
from bot.handlers.consent_presenter import RoundPresenter, round_request
from bot.handlers.consent_presenter import consent_texts as _texts
from bot.handlers.edits import edit_pressed, unchanged_ok
from bot.handlers.round_ports import LATE_OK, JobQueueScheduler, TelegramSender
from bot.rounds import lifecycle
from bot.rounds.lifecycle import Opening, Redraws, Refusal, Rounds
from bot.rounds.ports import Acknowledge, acknowledge
from bot.services import BotContext
from bot.storage import chats, circles, consent_rounds, outbox, requests
from bot.storage.circles import Roster
from bot.storage.db import within
from bot.storage.outbox import Delivery
from bot.storage.requests import PartnershipRequest

logger = logging.getLogger(__name__)

ASKING = ("objection", "reservation", "question")  # presses answered with a ForceReply prompt
_REDRAWS = "consent_redraws"  # bot_data: when each proposal was last drawn, and its lock


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


def consent_card_keyboard(context: BotContext, request: PartnershipRequest) -> InlineKeyboardMarkup | None:
    """The "open the consent" button under a request card posted in a group."""
    if request.chat_id > 0:  # a private chat: a personal request, no circle to ask
        return None
    return consent_views.open_keyboard(_texts(context), request.number, withdraw=True)


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


def _rounds(context: BotContext) -> Rounds:
    """The round lifecycle, reaching Telegram through this context's bot and job queue."""
    services = context.services
    return Rounds(
        database=services.database,
        sender=TelegramSender(context.bot),
        scheduler=JobQueueScheduler(context.job_queue),
        presenter=RoundPresenter(context),
        redraws=context.bot_data.setdefault(_REDRAWS, Redraws()),
        edit_interval=services.settings.consent_edit_interval_seconds,
        reminder_hours=_texts(context).reminder_hours,
        zone=services.settings.zone,
        kick_outbox=partial(outbox_sender.kick, context.job_queue),
    )


# --- opening ------------------------------------------------------------------------------


async def _may_open(context: BotContext, chat: Chat, user_id: int, request: PartnershipRequest) -> bool:
    """The circle, the group's admins and the request's author may open a round on it."""
    database = context.services.database
    return (
        user_id == request.author_id
        or await circles.contains(database, Roster.CIRCLE, chat.id, user_id)
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
    request: PartnershipRequest,
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
    chat = update.effective_chat
    engine = await services.catalog.engine(request.flow_id, request.flow_version)
    # Summaries name the group, and they are read in private: keep its title up to date.
    await services.database.write(lambda connection: chats.remember(connection, chat.id, chat.type, chat.title))
    opening = Opening(
        request,
        Member(opener.id, opener.full_name),
        options,
        reason,
        by_admin=bool(reason) and await permissions.is_chat_admin(context, chat, opener.id),
        author_recused=texts.links.author_recused(request.answers),
        answer_by=_answer_by(engine, request),
        # Opened outside any topic (in General): the proposal goes to the home topic, else to the card's.
        thread_id=await topics.thread_for(
            context, request.chat_id, topics.thread_of(update.effective_message), request.thread_id
        ),
    )
    opened = await _rounds(context).open(opening, update_id=update.update_id, acknowledge=answer)
    if opened is Refusal.NOT_OPENABLE:
        status = services.messages.requests.statuses.get(request.status, request.status)
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
    words, reason = consent_rules.split_reason(context.args[1:], texts.option_words.reason)
    try:
        options = consent_rules.parse_options(words, texts.defaults, texts.option_words.vocabulary())
    except consent_rules.InvalidOption as invalid:
        await message.reply_html(render(feedback.invalid_option, option=invalid.word))
        return
    refusal = await _open(update, context, request, user, options, reason)
    if refusal is not None:
        await message.reply_html(refusal)


async def open_press(update: Update, context: BotContext) -> None:
    """Open a round with the default options from the button under a request card."""
    query, chat = update.callback_query, update.effective_chat
    texts = _texts(context)
    payload = callback_data.decode(query.data)
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
    update: Update,
    context: BotContext,
    round_id: int,
    user_id: int,
    position: Position,
    reason: str | None = None,
    prompt: Message | None = None,
) -> bool | None:
    """Record a position (consuming its reason prompt): see :meth:`Rounds.take_position`."""
    return await _rounds(context).take_position(
        round_id,
        user_id,
        position,
        reason,
        update_id=update.update_id,
        prompt=None if prompt is None else (prompt.chat_id, prompt.message_id),
    )


async def press(update: Update, context: BotContext) -> None:
    """Handle a button under a proposal, after checking the press against the stored round."""
    query = update.callback_query
    payload = callback_data.decode(query.data)
    texts = _texts(context)
    user = query.from_user
    state = await consent_rounds.state(context.services.database, payload.round_id)
    refusal = consent_rules.Refusal.STALE
    if state is not None and state.round.chat_id == update.effective_chat.id:
        offered = (
            payload.action in ASKING
            or payload.action == Position.CONFLICT
            or (Position(payload.action) in consent_views.offered_positions(state.round))
        )
        refusal = consent_rules.check_press(
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
    update: Update,
    context: BotContext,
    rnd: consent_rounds.Round,
    user: User,
    action: str,
    error: Html | None = None,
    answer: Acknowledge | None = None,
) -> None:
    """Ask a member, by a reply box opened for them alone, for their reason or question."""
    texts = _texts(context)
    database = context.services.database
    # Claim the update before asking: a redelivered press or reply must not ask twice.
    async with database.transaction(update.update_id):
        pass
    await acknowledge(answer)
    question = render(
        texts.prompts.ask(action), member=keyboards.mention(user.id, user.full_name), number=rnd.request_number
    )
    text = join([part for part in (error, question, Html(texts.prompts.hint)) if part])
    markup = ForceReply(selective=True, input_field_placeholder=texts.prompts.placeholder)
    message = await context.bot.send_message(rnd.chat_id, text, message_thread_id=rnd.thread_id, reply_markup=markup)
    await consent_rounds.add_prompt(database, rnd.chat_id, message.message_id, rnd.id, user.id, action, _now())


async def reason_reply(update: Update, context: BotContext) -> None:
    """Take a member's reply to a reason or question prompt; let other replies through."""
    message = update.effective_message
    asked = topics.replied(message)
    if asked is None or asked.from_user is None or asked.from_user.id != context.bot.id:
        return
    database = context.services.database
    prompt = await consent_rounds.prompt_at(database, message.chat_id, asked.message_id)
    if prompt is None:
        return  # a reply to another message of the bot: a flow's question, for instance
    if prompt.user_id == message.from_user.id:
        await _take_reply(update, context, prompt, asked)
    # Replies to a prompt are never answers to a flow question, whoever sends them.
    raise ApplicationHandlerStop


async def _take_reply(update: Update, context: BotContext, prompt: consent_rounds.Prompt, asked: Message) -> None:
    texts = _texts(context)
    message = update.effective_message
    state = await consent_rounds.state(context.services.database, prompt.round_id)
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
        request = await round_request(context, state.round)
        posted = render(
            texts.prompts.question_posted,
            member=keyboards.mention(message.from_user.id, message.from_user.full_name),
            author=keyboards.mention(request.author_id, request.author_name),
            number=request.number,
            question=text,
        )
        # Queued as the prompt is consumed: a failure or a crash after it never loses the question.
        async with context.services.database.transaction(update.update_id) as connection:
            if not await consent_rounds.drop_prompt(connection, asked.chat_id, asked.message_id):
                return
            await within(
                connection,
                partial(
                    outbox.enqueue,
                    chat_id=state.round.chat_id,
                    texts=[posted],
                    reply_to=state.round.message_id,
                    thread_id=state.round.thread_id,
                ),
            )
        outbox_sender.kick(context.job_queue)
        return
    recorded = await _take_position(
        update, context, prompt.round_id, message.from_user.id, Position(prompt.action), text, prompt=asked
    )
    if recorded is None:
        await message.reply_html(texts.prompts.round_closed)


# --- closing --------------------------------------------------------------------------------


async def _close(
    context: BotContext,
    round_id: int,
    reason: CloseReason,
    *,
    update_id: int | None = None,
    closed_by: int | None = None,
    answer: Acknowledge | None = None,
) -> bool:
    """Close an open round with the outcome of its positions now; False if it was closed (then
    ``answer`` is left to the caller)."""
    return await _rounds(context).close(round_id, reason, update_id=update_id, closed_by=closed_by, acknowledge=answer)


async def _summary_sent(connection: aiosqlite.Connection, delivery: Delivery) -> None:
    """A coordinator got a summary: they can be written to (again)."""
    state = await consent_rounds.load_state(connection, delivery.ref)
    await circles.mark_reachable(connection, state.round.chat_id, delivery.chat_id)


async def _summary_refused(context: BotContext, delivery: Delivery) -> None:
    """A coordinator the bot cannot write to (never started it, blocked it): post the summary in
    the group instead, once per round, and tell the admins once per such coordinator."""
    database = context.services.database
    texts = _texts(context)
    rnd = (await consent_rounds.state(database, delivery.ref)).round
    chat_id = rnd.chat_id
    coordinators = await circles.members(database, Roster.COORDINATION, chat_id)
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
    async with database.transaction() as connection:
        await within(
            connection,
            partial(
                outbox.enqueue,
                chat_id=chat_id,
                texts=delivery.texts,
                key=f"summary-in-group:{delivery.ref}",
                thread_id=rnd.thread_id,
            ),
        )
        if notice is not None and await circles.mark_unreachable(connection, chat_id, delivery.chat_id):
            start = consent_views.start_keyboard(texts, context.bot.username)
            await within(
                connection,
                partial(
                    outbox.enqueue, chat_id=chat_id, texts=[notice], markup=start.to_dict(), thread_id=rnd.thread_id
                ),
            )
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


async def reschedule(application: Application) -> None:
    """At start-up (post_init): rebuild every open round's jobs and recover, in a job of its own."""
    application.job_queue.run_once(_startup_job, 0, name="consent-startup", job_kwargs=LATE_OK)


# --- stewards' commands ---------------------------------------------------------------------


async def _open_round_of(update: Update, context: BotContext, command: str) -> consent_rounds.Round | None:
    """The open round named by a steward's command, or None after telling why."""
    message = update.effective_message
    feedback = _texts(context).commands_feedback
    request = await requested(update, context, render(feedback.number_usage, command=command), feedback.not_found)
    if request is None:
        return None
    async with context.services.database.transaction() as connection:
        round_id = await consent_rounds.latest_round_id(connection, request.id, open_only=True)
    if round_id is None:
        await message.reply_html(render(feedback.no_open_round, number=request.number))
        return None
    return (await consent_rounds.state(context.services.database, round_id)).round


async def _steward_round(update: Update, context: BotContext, command: str) -> consent_rounds.Round | None:
    if not await in_group(update, context):
        return None
    if not await is_steward(context, update.effective_chat, update.effective_user.id):
        await update.effective_message.reply_html(_texts(context).commands_feedback.stewards_only)
        return None
    return await _open_round_of(update, context, command)


async def close_command(update: Update, context: BotContext) -> None:
    """Close a round before its deadline (/clore 12): admins and coordinators. While members
    have not answered, name them and ask the closer to confirm: silence is not consent."""
    rnd = await _steward_round(update, context, "/clore")
    if rnd is None:
        return
    texts = _texts(context)
    tally = (await consent_rounds.state(context.services.database, rnd.id)).tally
    if not tally.waiting:
        await _close(context, rnd.id, CloseReason.EARLY, update_id=update.update_id, closed_by=update.effective_user.id)
        return
    await update.effective_message.reply_html(
        render(
            texts.commands_feedback.close_silent,
            number=rnd.request_number,
            members=consent_views.names(texts, tally.waiting),
            outcome=getattr(texts.outcomes, tally.outcome()),
        ),
        reply_markup=consent_views.close_keyboard(texts, rnd, update.effective_user.id),
    )


async def close_press(update: Update, context: BotContext) -> None:
    """The closer's answer to "close anyway?": close early, or leave the round open."""
    query = update.callback_query
    texts = _texts(context)
    payload = callback_data.on_its_message(query, database_checks=True)  # the round's row and the closer decide
    state = None if payload is None else await consent_rounds.state(context.services.database, payload.round_id)
    if state is None or state.round.chat_id != update.effective_chat.id:
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
        state.round.id,
        CloseReason.EARLY,
        update_id=update.update_id,
        closed_by=query.from_user.id,
        answer=query.answer,
    ):
        await query.answer(texts.alerts.closed)
    await unchanged_ok(edit_pressed(query, None))


async def extend_command(update: Update, context: BotContext) -> None:
    """Push a round's deadline back by some days (/prolonger 12 3): admins and coordinators."""
    message = update.effective_message
    texts = _texts(context)
    feedback = texts.commands_feedback
    args = context.args or []
    days = typed_number(args[1]) if len(args) == 2 else None
    if days is None or not 1 <= days <= consent_rules.MAX_DURATION_DAYS:
        await message.reply_html(feedback.extend_usage)
        return
    if not await in_group(update, context):
        return
    if not await is_steward(context, update.effective_chat, update.effective_user.id):
        await message.reply_html(feedback.stewards_only)
        return
    request = await requested(update, context, feedback.extend_usage, feedback.not_found)
    if request is None:
        return
    async with context.services.database.transaction() as connection:
        round_id = await consent_rounds.latest_round_id(connection, request.id)
    state = None if round_id is None else await consent_rounds.state(context.services.database, round_id)
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
    chat, user = update.effective_chat, update.effective_user
    texts = _texts(context)
    if not await in_group(update, context):
        return
    in_circle = await circles.contains(context.services.database, Roster.CIRCLE, chat.id, user.id)
    if not in_circle and not await is_steward(context, chat, user.id):
        await update.effective_message.reply_html(texts.commands_feedback.stewards_only)
        return
    rnd = await _open_round_of(update, context, "/relancer")
    if rnd is not None and not await _rounds(context).remind(rnd.id, update_id=update.update_id):
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
        open_states = [
            await consent_rounds.state(database, r.id) for r in await consent_rounds.open_rounds(database, chat_id)
        ]
        decisions = await consent_rounds.decisions_since(database, chat_id, since)
        ended = [
            (r.number, r.partner_name, request_lists.status_text(context, r), datetime.fromisoformat(r.decided_at))
            for r in await requests.ended_since(database, chat_id, since.isoformat(timespec="seconds"))
        ]
        group = await chats.title(database, chat_id) or ""
        await message.reply_html(
            consent_views.bilan_text(texts, context.services.settings.zone, group, open_states, decisions, ended)
        )


# --- the complete request, in private ------------------------------------------------------


async def may_see_personal(context: BotContext, chat: Chat, user_id: int, request: PartnershipRequest) -> bool:
    """The author, the circle, the coordinators and the admins may read a request's contact, in private."""
    database = context.services.database
    return (
        user_id == request.author_id
        or await circles.contains(database, Roster.CIRCLE, chat.id, user_id)
        or await is_steward(context, chat, user_id)
    )


async def full_request_press(update: Update, context: BotContext) -> None:
    """Send the member who pressed the complete request, in private (never in the group)."""
    query, chat, user = update.callback_query, update.effective_chat, update.callback_query.from_user
    texts = _texts(context)
    payload = callback_data.on_its_message(query)
    request = None if payload is None else await requests.by_number(context.services.database, chat.id, payload.number)
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
        by=update.effective_user.id,
        acknowledge=answer,
    ):
        status = context.services.messages.requests.statuses.get(request.status, request.status)
        return render(texts.not_now, number=request.number, status=status)
    member = keyboards.mention(request.author_id, request.author_name)
    if word:
        return render(texts.done_word, member=member, number=request.number, partner=request.partner_name, word=word)
    return render(texts.done, member=member, number=request.number, partner=request.partner_name)


async def withdraw_command(update: Update, context: BotContext) -> None:
    """The author withdraws their request (/retirer 12 [un mot]); an open round ends without a decision."""
    message, user = update.effective_message, update.effective_user
    texts = _texts(context)
    if not await in_group(update, context):
        return
    request = await requested(update, context, texts.withdraw.usage, texts.commands_feedback.not_found)
    if request is None:
        return
    if request.author_id != user.id:
        await message.reply_html(render(texts.withdraw.not_author, number=request.number))
        return
    word = " ".join(context.args[1:]).strip()[: texts.reason_max_length] or None
    await message.reply_html(await _withdraw(update, context, request, word))


async def withdraw_press(update: Update, context: BotContext) -> None:
    """ "Retirer ma demande" under the card: its author only."""
    query, chat = update.callback_query, update.effective_chat
    texts = _texts(context)
    payload = callback_data.on_its_message(query, database_checks=True)  # the request's row and its author decide
    request = None if payload is None else await requests.by_number(context.services.database, chat.id, payload.number)
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
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    texts = _texts(context)
    words = texts.decline
    if not await in_group(update, context):
        return
    request = await requested(update, context, words.usage, texts.commands_feedback.not_found)
    if request is None:
        return
    in_circle = await circles.contains(context.services.database, Roster.CIRCLE, chat.id, user.id)
    if not in_circle and not await permissions.is_chat_admin(context, chat, user.id):
        await message.reply_html(words.not_allowed)
        return
    reason = " ".join(context.args[1:]).strip()
    if len(reason) < texts.reason_min_length or len(reason) > texts.reason_max_length:
        await message.reply_html(words.usage)
        return
    if request.status == RequestStatus.IN_CONSENT:
        await message.reply_html(render(words.round_open, number=request.number))
        return
    if not await _rounds(context).end_request(
        request, RequestStatus.DECLINED, reason, update_id=update.update_id, by=user.id
    ):
        status = context.services.messages.requests.statuses.get(request.status, request.status)
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
