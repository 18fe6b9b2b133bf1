"""Showing a member where their flow stands: the current question, or the summary.

Shared by the modules that open flows (a new request, an amendment). In a group, typed
answers come as replies to a question sent with ``ForceReply(selective=True)``; the member is
mentioned so the reply box opens for them alone.
"""

from __future__ import annotations

from telegram import ForceReply, InlineKeyboardMarkup, Message

from bot.core.flow_engine import FlowEngine, Question, Summary
from bot.core.telegram_html import MESSAGE_LIMIT
from bot.core.texts import Html, fitting, join, render
from bot.handlers import keyboards
from bot.services import BotContext
from bot.storage.sessions import FlowSession


def in_group(session: FlowSession) -> bool:
    return session.chat_id != session.user_id  # a private chat's id is its member's id


def thread(session: FlowSession) -> int | None:
    """The forum topic the flow's messages go to: where it started, in a group."""
    return session.thread_id if in_group(session) else None


def _prompt_message(
    context: BotContext,
    session: FlowSession,
    flow_engine: FlowEngine,
    prompt: Question | Summary,
    error: Html | None = None,
) -> tuple[Html, InlineKeyboardMarkup | ForceReply | None]:
    """The text and markup of the current question or of the summary (``prompt``)."""
    messages = context.services.messages
    if isinstance(prompt, Summary):
        # Every answer at its longest may not fit one message: shortened, the summary still shows.
        def summary(preview: int | None) -> Html:
            return _after(error, flow_engine.summary_text(flow_engine.summary(session.state.answers, preview)))

        return fitting(summary, MESSAGE_LIMIT), keyboards.summary_keyboard(messages, session.token)
    text = flow_engine.question_text(prompt)
    markup: InlineKeyboardMarkup | ForceReply | None = keyboards.question_keyboard(
        flow_engine, messages, session.token, session.state, prompt, typed_controls=not in_group(session)
    )
    if in_group(session):
        text = _group_question(context, session, flow_engine, prompt, text)
        markup = markup if keyboards.needs_buttons(flow_engine, prompt) else keyboards.force_reply(prompt)
    return _after(error, text), markup


def _after(error: Html | None, text: Html) -> Html:
    """A prompt, after the reason the previous input was refused, if any."""
    return text if error is None else join([error, text], "\n\n")


def _group_question(
    context: BotContext, session: FlowSession, flow_engine: FlowEngine, prompt: Question, text: Html
) -> Html:
    texts = context.services.messages.intake
    text = render(texts.group_question, member=keyboards.mention(session.user_id, session.author_name), question=text)
    return text if keyboards.needs_buttons(flow_engine, prompt) else join([text, Html(texts.group_reply_hint)])


async def show(
    context: BotContext,
    session: FlowSession,
    flow_engine: FlowEngine | None = None,
    *,
    reply_to: Message | None = None,
    error: Html | None = None,
    prompt: Question | Summary | None = None,
) -> None:
    """Send the current question or summary, as a reply to ``reply_to`` when given.

    ``prompt``: the session state's, when the engine just gave it (an answer's turn): counting
    the questions that apply evaluates every step's condition, not worth doing twice."""
    flow_engine = flow_engine or await engine(context, session)
    if prompt is None:
        prompt = flow_engine.prompt(session.state)
    text, markup = _prompt_message(context, session, flow_engine, prompt, error)
    if reply_to is not None:
        await reply_to.reply_html(text, reply_markup=markup)
    else:
        await context.bot.send_message(session.chat_id, text, message_thread_id=thread(session), reply_markup=markup)


async def engine(context: BotContext, session: FlowSession) -> FlowEngine:
    """The engine of the flow version this session started on."""
    return await context.services.catalog.engine(session.state.flow_id, session.state.flow_version)
