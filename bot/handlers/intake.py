"""Logging a partnership request: /partenariat, the questions, the summary, the card.

In a group the bot usually runs in privacy mode: it sees commands, replies to its own
messages and button presses only. Typed answers there are replies to a question sent with
``ForceReply(selective=True)`` to the member, whose name is mentioned so the reply box opens
for them alone. Each member's flow is a row keyed by (chat, member); its random token in the
buttons keeps one member's buttons from acting for another and old buttons from acting late.

A request always belongs to a local group. Started in private, it is for one of the groups
the bot knows where the member is (``handlers.groups``); in a forum, everything it sends stays
in the topic it started in (``handlers.topics``).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from telegram import (
    Chat,
    ChatFullInfo,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.error import TelegramError
from telegram.helpers import create_deep_linked_url

from bot.core.flow_engine import (
    Back,
    Choose,
    Confirm,
    Edit,
    FlowEngine,
    Input,
    Skip,
    Text,
)
from bot.core.register_rules import FLOW_OF_ORIGIN, Origin
from bot.core.texts import Html, join, render
from bot.handlers import (
    amend,
    callback_data,
    consent,
    flow_view,
    groups,
    keyboards,
    known,
    practices,
    topics,
    updates,
)
from bot.handlers.edits import edit_pressed, unchanged_ok
from bot.rounds.ports import Acknowledge, acknowledge
from bot.services import BotContext
from bot.storage import chats, home_topics, requests, sessions
from bot.storage.requests import PartnershipRequest
from bot.storage.sessions import FlowSession

logger = logging.getLogger(__name__)

FLOW_ID = FLOW_OF_ORIGIN[Origin.REQUEST]
DEEP_LINK_PREFIX = "g"  # /start g<group chat id>[t<topic>]: fill the group's request in private
CARD_NOTED = "card noted"  # the task that notes a request's card as posted
DEEP_LINK = re.compile(rf"^{DEEP_LINK_PREFIX}(-\d{{1,15}})(?:t(\d{{1,10}}))?$")


# --- starting ----------------------------------------------------------------------------


async def _start_flow(
    update: Update,
    context: BotContext,
    chat: Chat,
    user: User,
    origin_chat_id: int,
    thread_id: int | None = None,
    flow_id: str = FLOW_ID,
    answer: Acknowledge | None = None,
    group: ChatFullInfo | None = None,
) -> None:
    """Open a new flow for the member in ``chat``, for a request of ``origin_chat_id`` started
    in its topic ``thread_id``; ``answer`` acknowledges the press that asked for it once stored.
    ``group``, the origin group as Telegram just described it, is recorded with the flow."""
    services = context.services
    version, engine = await services.catalog.active(flow_id, origin_chat_id)
    session = FlowSession(
        chat_id=chat.id,
        user_id=user.id,
        token=sessions.new_token(),
        origin_chat_id=origin_chat_id,
        author_name=user.full_name,
        state=engine.start(version).state,
        thread_id=thread_id,
    )

    def store(connection: sqlite3.Connection) -> str | None:
        if group is not None:
            chats.remember(connection, group.id, group.type, group.title)
        sessions.save(connection, session)
        return chats.title(connection, origin_chat_id)  # named by the intro in private

    title = await services.database.write(store, update.update_id)
    await acknowledge(answer)
    intro = engine.intro()
    if chat.type == Chat.PRIVATE:
        heading = render(services.messages.intake.private_intro, title=engine.flow.title, group=title or "")
        intro = join([heading, intro], "\n\n")
    await context.bot.send_message(chat.id, intro, message_thread_id=flow_view.thread(session))
    await flow_view.show(context, session, engine)


async def _resume(context: BotContext, session: FlowSession, message: Message) -> None:
    await message.reply_html(context.services.messages.intake.resume)
    await flow_view.show(context, session, await flow_view.engine(context, session))


async def _resumed_or_for_a_group(update: Update, context: BotContext, flow_id: str) -> bool:
    """How /partenariat and /partenaire_connu begin: the member's flow in progress here goes on,
    or, typed in private, the flow ``flow_id`` is for one of the member's groups; False when
    neither (in a group, nothing in progress: the command starts its flow there)."""
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    existing = await context.services.database.read(lambda connection: sessions.get(connection, chat.id, user.id))
    if existing is not None:
        await _resume(context, existing, message)
        return True
    if chat.type == Chat.PRIVATE:
        await _start_for_a_group(update, context, flow_id)
        return True
    return False


async def partenariat(update: Update, context: BotContext) -> None:
    """Start a partnership request, or resume the member's request in progress.

    The group itself is recorded by ``groups.note``, before any handler sees the update."""
    if await _resumed_or_for_a_group(update, context, FLOW_ID):
        return
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    services = context.services
    _, engine = await services.catalog.active(FLOW_ID, chat.id)
    texts = services.messages.intake
    thread_id = topics.thread_of(message)
    topic = "" if thread_id is None else f"t{thread_id}"
    link = create_deep_linked_url(context.bot.username or "", f"{DEEP_LINK_PREFIX}{chat.id}{topic}")
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.button_private, url=link)],
            [keyboards.button(texts.button_here, callback_data.AnswerHere(user_id=user.id))],
        ]
    )
    await message.reply_html(
        render(
            texts.group_intro,
            member=keyboards.mention(user.id, user.full_name),
            title=engine.flow.title,
            questions=engine.fewest_questions(),
        ),
        reply_markup=keyboard,
    )


async def known_partner(update: Update, context: BotContext) -> None:
    """Record a partner the group already has or had (/partenaire_connu), right where it was typed.

    Six short questions: unlike a request, not worth the detour through a private chat. Typed
    in private, it is for one of the member's groups, chosen as a request's is.
    """
    if await _resumed_or_for_a_group(update, context, known.FLOW_ID):
        return
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    await _start_flow(
        update, context, chat, user, origin_chat_id=chat.id, thread_id=topics.thread_of(message), flow_id=known.FLOW_ID
    )


async def answer_here(update: Update, context: BotContext) -> None:
    """Run the flow in the group, for the member who typed /partenariat."""
    query, chat = updates.press(update), updates.chat(update)
    payload = callback_data.on_its_message(query)
    texts = context.services.messages.intake
    if not isinstance(payload, callback_data.AnswerHere):
        await query.answer(texts.stale_button, show_alert=True)
        return
    if query.from_user.id != payload.user_id:
        await query.answer(texts.not_your_button, show_alert=True)
        return
    in_progress = await context.services.database.read(
        lambda connection: sessions.get(connection, chat.id, query.from_user.id)
    )
    if in_progress is not None:
        await query.answer(texts.stale_button, show_alert=True)
        return
    # Answered once the flow is stored, as every acknowledgement, and before its messages.
    await _start_flow(
        update,
        context,
        chat,
        query.from_user,
        origin_chat_id=chat.id,
        thread_id=topics.thread_of(updates.message(update)),
        answer=query.answer,
    )
    await unchanged_ok(query.edit_message_reply_markup(None))


async def _start_for_a_group(update: Update, context: BotContext, flow_id: str) -> None:
    """/partenariat or /partenaire_connu in private: the flow is for the member's group, asked
    of Telegram among the groups the bot knows; the member picks one when there are several."""
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    texts = context.services.messages.groups
    found = await groups.of_the_member(context, message, user.id)
    if found is None:
        return
    for_register = flow_id == known.FLOW_ID
    if not found:
        await message.reply_html(texts.known_no_group if for_register else texts.no_group)
    elif len(found) == 1:
        await _start_flow(update, context, chat, user, origin_chat_id=found[0][0], flow_id=flow_id)
    else:
        payload: type[callback_data.ChooseGroup] = (
            callback_data.ChooseRegisterGroup if for_register else callback_data.ChooseGroup
        )
        await message.reply_html(
            texts.known_choose if for_register else texts.choose,
            reply_markup=groups.keyboard(found, lambda chat_id: payload(chat_id=chat_id)),
        )


async def choose_group(update: Update, context: BotContext) -> None:
    """Start the request (or the known partner's record) for the group the member picked, if
    they are still one of its members."""
    query, chat = updates.press(update), updates.chat(update)
    payload = callback_data.on_its_message(query)
    services = context.services

    def open_for(connection: sqlite3.Connection, group_id: int) -> bool:
        """No flow in progress here, and the group is known."""
        return (
            sessions.get(connection, chat.id, query.from_user.id) is None
            and chats.title(connection, group_id) is not None
        )

    if (
        not isinstance(payload, callback_data.ChooseGroup)
        or chat.type != Chat.PRIVATE
        or not await services.database.read(lambda connection: open_for(connection, payload.chat_id))
    ):
        await query.answer(services.messages.intake.stale_button, show_alert=True)
        return
    if not await groups.pressed_by_a_member(context, query, payload.chat_id):
        return
    flow_id = known.FLOW_ID if isinstance(payload, callback_data.ChooseRegisterGroup) else FLOW_ID
    await _start_flow(
        update, context, chat, query.from_user, origin_chat_id=payload.chat_id, flow_id=flow_id, answer=query.answer
    )
    await unchanged_ok(query.edit_message_reply_markup(None))


async def start_private(update: Update, context: BotContext) -> bool:
    """Open the flow of a deep link ``/start g<group id>[t<topic>]``; False when there is none to open."""
    link = DEEP_LINK.match(context.args[0]) if context.args else None
    if link is None:
        return False
    group_id = int(link.group(1))
    thread_id = int(link.group(2)) if link.group(2) else None
    chat, user, message = updates.chat(update), updates.sender(update), updates.message(update)
    services = context.services
    existing = await services.database.read(lambda connection: sessions.get(connection, chat.id, user.id))
    if existing is not None:
        await _resume(context, existing, message)
        return True
    # Anyone can type a deep link: only the group's members may file a request for it.
    try:
        group = await context.bot.get_chat(group_id) if await groups.is_member(context, group_id, user.id) else None
    except TelegramError as error:
        logger.warning("Could not ask Telegram whether %s is a member of %s: %s", user.id, group_id, error)
        await message.reply_html(services.messages.intake.membership_unknown)
        return True
    if group is None:
        await message.reply_html(services.messages.intake.not_a_member)
        return True
    # group.id, not the link's: an old link names a group that became a supergroup since (and
    # a basic group has no topics). Its title names it in this private chat, even if nobody
    # typed a command there yet: recorded with the flow.
    await _start_flow(
        update,
        context,
        chat,
        user,
        origin_chat_id=group.id,
        thread_id=thread_id if group.id == group_id else None,
        group=group,
    )
    return True


# --- answering ---------------------------------------------------------------------------


async def _advance(
    update: Update,
    context: BotContext,
    session: FlowSession,
    action: Input,
    reply_to: Message | None = None,
    answer: Acknowledge | None = None,
) -> bool:
    """Apply one input to a member's flow and show what comes next; False if it was refused.

    ``answer`` (a press's) is called once the input is stored, before any message is sent.
    """
    services = context.services
    engine = await flow_view.engine(context, session)
    turn = engine.advance(session.state, action, services.today())
    if turn.error is not None:
        await acknowledge(answer)
        await flow_view.show(context, session, engine, reply_to=reply_to, error=turn.error, prompt=turn.prompt)
        return False
    if turn.done:
        if engine.flow.id == known.FLOW_ID:
            await known.record(update, context, session, engine, turn.state.answers, answer)
        # A flow opened by /modifier amends its request instead of filing a new one.
        elif not await amend.submit(update, context, session, engine, turn.state.answers, answer):
            await _submit(update, context, session, engine, turn.state.answers, answer)
        return True
    session = replace(session, state=turn.state)
    await services.database.write(lambda connection: sessions.save(connection, session), update.update_id)
    await acknowledge(answer)
    await practices.send_reminders(context, session, turn.reminders, reply_to)
    await flow_view.show(context, session, engine, reply_to=reply_to, prompt=turn.prompt)
    return True


async def _submit(
    update: Update,
    context: BotContext,
    session: FlowSession,
    engine: FlowEngine,
    answers: Mapping[str, Any],
    answer: Acknowledge | None = None,
) -> None:
    """Store the validated request, end the flow, and present the request to its group."""
    services = context.services
    texts = services.messages.intake
    flow = engine.flow

    def file(connection: sqlite3.Connection) -> tuple[PartnershipRequest, str | None]:
        # Started in General or in private: the card goes to the group's home topic, if any.
        thread_id = home_topics.destination(connection, session.origin_chat_id, session.thread_id)
        request = requests.file_session(connection, session, flow, answers, thread_id=thread_id)
        return request, chats.title(connection, session.origin_chat_id)  # named to a member filing in private

    request, group = await services.database.write(file, update.update_id)
    await acknowledge(answer)
    await _post_card(context, request, engine)
    if session.origin_chat_id != session.chat_id:
        await context.bot.send_message(
            session.chat_id, render(texts.saved_and_posted, number=request.number, group=group or "")
        )


async def _post_card(context: BotContext, request: PartnershipRequest, engine: FlowEngine) -> None:
    """Present a stored request in its chat, and remember where its card is."""
    texts = context.services.messages.intake
    card = render(
        texts.card,
        number=request.number,
        title=engine.flow.title,
        lines=engine.card_lines(request.answers),
        author=keyboards.mention(request.author_id, request.author_name),
    )
    points = practices.vigilance(context, engine.flow, request.answers)
    if points is not None:
        card = join([card, points], "\n\n")
    card_message = await context.bot.send_message(
        request.chat_id,
        card,
        message_thread_id=request.thread_id,
        reply_markup=consent.consent_card_keyboard(context, request),
    )
    # Noting the card as posted only keeps a restart from posting it again (post_missing_cards):
    # done once whoever asked for it has their answer, not before. A stop before this commit
    # posts the card once more at start-up, as a stop between the card and its note always did.
    context.application.create_task(
        context.services.database.write(
            lambda connection: requests.set_card_message(connection, request.id, card_message.message_id)
        ),
        name=CARD_NOTED,
    )


async def present(context: BotContext, request: PartnershipRequest) -> None:
    """Post the card of a request already stored (its flow version's card)."""
    await _post_card(context, request, await context.services.catalog.engine(request.flow_id, request.flow_version))


async def post_missing_cards(context: BotContext) -> None:
    """Present the requests stored just before a stop, whose card was never posted."""
    for request in await context.services.database.read(requests.without_card):
        try:
            await present(context, request)
        except TelegramError as error:  # the bot left the group, say: try again at the next start
            logger.warning("The card of request %s could not be posted: %s", request.id, error)


async def _session_of(update: Update, context: BotContext) -> FlowSession | None:
    """The flow the member who sent this message has in progress in its chat."""
    chat, user = updates.chat(update), updates.sender(update)
    return await context.services.database.read(lambda connection: sessions.get(connection, chat.id, user.id))


async def answer_text(update: Update, context: BotContext, session: FlowSession | None) -> None:
    """Take a typed answer to the member's current question; ``session``: their flow in this
    chat, if any, read with what else the message could answer (``handlers.replies``)."""
    message = updates.message(update)
    if session is None:
        if message.chat.type == Chat.PRIVATE:
            await message.reply_html(context.services.messages.system.start)
        return
    await _advance(update, context, session, Text(message.text or ""), reply_to=message)


async def answer_not_text(update: Update, context: BotContext) -> None:
    """Re-ask politely when a member answers with a sticker, a photo, a voice note..."""
    message = updates.message(update)
    if message.chat.type != Chat.PRIVATE and topics.replied_bot(message, context.bot.id) is None:
        return
    session = await _session_of(update, context)
    if session is None:
        return
    engine = await flow_view.engine(context, session)
    error = Html(context.services.messages.intake.text_expected)
    await flow_view.show(context, session, engine, reply_to=message, error=error)


async def back(update: Update, context: BotContext) -> None:
    """Go back to the previous question (/retour)."""
    message = updates.message(update)
    session = await _session_of(update, context)
    if session is None:
        await message.reply_html(context.services.messages.intake.nothing_to_go_back)
        return
    await _advance(update, context, session, Back(), reply_to=message)


async def _drop(update: Update, context: BotContext, session: FlowSession) -> Html:
    """End a member's flow without storing it; say what became of it."""
    services = context.services
    await services.database.write(
        lambda connection: sessions.delete(connection, session.chat_id, session.user_id), update.update_id
    )
    # Dropping an amendment leaves its request as it was: say so, not "nothing was stored".
    if session.amends is not None:
        return render(services.library.consent.amend.cancelled, number=session.amends)
    return Html(services.messages.intake.cancelled)


async def cancel(update: Update, context: BotContext) -> None:
    """Drop the member's request in progress (/annuler)."""
    message = updates.message(update)
    session = await _session_of(update, context)
    if session is None:
        await message.reply_html(context.services.messages.intake.nothing_to_cancel)
        return
    await message.reply_html(await _drop(update, context, session))


# --- buttons -----------------------------------------------------------------------------


def _action(engine: FlowEngine, session: FlowSession, press: callback_data.FlowPress) -> Input | None:
    """Translate a checked button press into an engine input; None if it makes no sense."""
    current = session.state.current  # None: the summary
    match press.action:
        case "choose" if current is not None:
            answers = engine.flow.step(current).buttons(engine.texts)
            return Choose(answers[press.arg].value) if press.arg < len(answers) else None
        case "yes" | "no":
            return Choose(press.action)
        case "skip":
            return Skip()
        case "back":
            return Back()
        case "confirm":
            return Confirm()
        case "edit" if press.arg < len(engine.flow.steps):
            return Edit(engine.flow.steps[press.arg].id)
    return None


async def press(update: Update, context: BotContext) -> None:
    """Handle a button under a question or a summary, after checking who pressed what."""
    query = updates.press(update)
    payload = callback_data.on_its_message(query, database_checks=True)  # the session's token and step decide
    services = context.services
    texts = services.messages.intake
    if not isinstance(payload, callback_data.FlowPress):
        await query.answer(texts.stale_button, show_alert=True)
        return
    token = payload.token
    session = await services.database.read(lambda connection: sessions.by_token(connection, token))
    if session is None:
        await query.answer(texts.stale_button, show_alert=True)
        return
    if session.user_id != query.from_user.id:
        await query.answer(texts.not_your_button, show_alert=True)
        return
    engine = await flow_view.engine(context, session)
    current = session.state.current
    if payload.step != (-1 if current is None else engine.flow.index(current)):
        await query.answer(texts.stale_button, show_alert=True)
        return
    if payload.action in ("menu", "summary"):
        await query.answer()
        markup = (
            keyboards.edit_menu_keyboard(engine, services.messages, session.token, session.state)
            if payload.action == "menu"
            else keyboards.summary_keyboard(services.messages, session.token)
        )
        await unchanged_ok(edit_pressed(query, None, markup))
        return
    if payload.action == "cancel":
        outcome = await _drop(update, context, session)
        await query.answer()
        await unchanged_ok(edit_pressed(query, outcome))
        return
    action = _action(engine, session, payload)
    if action is None:
        await query.answer(texts.stale_button, show_alert=True)
        return
    # Answered only once the answer is stored: a member who saw the press taken must find it
    # taken, even if the bot dies right after.
    advanced = await _advance(update, context, session, action, answer=query.answer)
    if advanced:
        # The question is answered: its buttons must not be pressed again.
        await unchanged_ok(edit_pressed(query, None))
