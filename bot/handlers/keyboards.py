"""From core results to Telegram markup: buttons, flow keyboards, ForceReply and mentions."""

from __future__ import annotations

from functools import partial

from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.flow_engine import FlowEngine, FlowState, Question, YesNoStep
from bot.core.messages import Messages
from bot.core.texts import Html, escape
from bot.handlers.callback_data import FlowPress, Payload, encode


def mention(user_id: int, name: str) -> Html:
    return Html(f'<a href="tg://user?id={user_id}">{escape(name)}</a>')


def button(label: str, payload: Payload) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=encode(payload))


# --- flow prompts ------------------------------------------------------------------------


def needs_buttons(engine: FlowEngine, question: Question) -> bool:
    """Whether the question is answered with buttons, not with typed text."""
    return bool(question.step.buttons(engine.texts))


def question_keyboard(
    engine: FlowEngine,
    messages: Messages,
    token: str,
    state: FlowState,
    question: Question,
    *,
    typed_controls: bool,
) -> InlineKeyboardMarkup | None:
    """Buttons under a question. ``typed_controls`` adds Passer/Retour under typed answers
    (in private chats; in groups those questions carry a ForceReply instead)."""
    press = partial(FlowPress, token=token, step=engine.flow.index(question.step.id))
    rows: list[list[InlineKeyboardButton]] = []
    step = question.step
    answers = step.buttons(engine.texts)
    if isinstance(step, YesNoStep):
        # Side by side, and pressed as "yes" and "no": the questions already sent carry those.
        rows.append([button(engine.texts.yes, press(action="yes")), button(engine.texts.no, press(action="no"))])
    elif answers:
        rows += [[button(answer.label, press(action="choose", arg=i))] for i, answer in enumerate(answers)]
    elif not typed_controls:
        return None
    elif (skip := step.skip_label(messages.intake)) is not None:
        rows.append([button(skip, press(action="skip"))])
    if question.can_go_back:
        label = messages.intake.button_to_summary if state.editing else messages.intake.button_back
        rows.append([button(label, press(action="back"))])
    return InlineKeyboardMarkup(rows) if rows else None


def summary_keyboard(messages: Messages, token: str) -> InlineKeyboardMarkup:
    texts = messages.intake
    press = partial(FlowPress, token=token, step=-1)
    return InlineKeyboardMarkup(
        [
            [button(texts.button_confirm, press(action="confirm"))],
            [button(texts.button_edit, press(action="menu"))],
            [button(texts.button_cancel, press(action="cancel"))],
        ]
    )


def edit_menu_keyboard(engine: FlowEngine, messages: Messages, token: str, state: FlowState) -> InlineKeyboardMarkup:
    rows = [
        [button(step.label, FlowPress(token=token, step=-1, action="edit", arg=engine.flow.index(step.id)))]
        for step in engine.editable_steps(state)
    ]
    rows.append([button(messages.intake.button_to_summary, FlowPress(token=token, step=-1, action="summary"))])
    return InlineKeyboardMarkup(rows)


def force_reply(question: Question) -> ForceReply:
    return ForceReply(selective=True, input_field_placeholder=question.step.label[:64])
