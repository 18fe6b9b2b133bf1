"""A flow's texts as the bot will send them, checked against Telegram's rules (pure).

Validating a flow file's fields is not enough: its intro, questions, help and error texts
are sent as Telegram HTML, wrapped in the bot's own templates (step number, a member's
mention in a group, the current answer when a member edits it). Each is rendered here with
placeholder values of realistic length (the longest name and answer the bot allows) and
checked as Telegram would, so that a faulty upload is refused, not every member's question.
"""

from __future__ import annotations

from typing import Any

from bot.core.flow_engine import Flow, FlowEngine, Question
from bot.core.loading import LoadError, ValidationTexts, error_at
from bot.core.messages import Messages
from bot.core.telegram_html import MESSAGE_LIMIT, html_problem, shown_length
from bot.core.texts import Html, join, render

# The longest values the bot puts around a flow's texts.
LONGEST_NAME = "N" * 129  # a Telegram first and last name, 64 characters each
LONGEST_MENTION = Html(f'<a href="tg://user?id={2**52 - 1}">{LONGEST_NAME}</a>')
LONGEST_TITLE = "T" * 255  # a group's title
MAX_OPTIONS = 99  # a button's index travels in its data, on two digits


Place = tuple[str | int, ...]  # where a text is in the file: ("intro",), ("steps", 2, "help")


def _own_texts(flow: Flow) -> list[tuple[Place, str]]:
    """The flow's own texts that are sent as Telegram HTML, with their place in the file."""
    texts: list[tuple[Place, str]] = [(("intro",), flow.intro)]
    for index, step in enumerate(flow.steps):
        texts += [
            (("steps", index, name), getattr(step, name))
            for name in ("question", "help", "error")
            if getattr(step, name)
        ]
    return texts


def _messages(flow: Flow, messages: Messages) -> list[tuple[Place, Html]]:
    """The longest message built from each of the flow's texts, as the bot sends it."""
    engine = FlowEngine(flow, messages.flow)
    intake = messages.intake
    intro = join([render(intake.private_intro, title=flow.title, group=LONGEST_TITLE), engine.intro()], "\n\n")
    sent: list[tuple[Place, Html]] = [(("intro",), intro)]
    total = len(flow.steps)
    for index, step in enumerate(flow.steps):
        question = engine.question_text(Question(step, total, total, step.longest_answer(), can_go_back=True))
        in_group = join(
            [render(intake.group_question, member=LONGEST_MENTION, question=question), Html(intake.group_reply_hint)]
        )
        sent.append((("steps", index, "question"), in_group))
        if step.error:
            sent.append((("steps", index, "error"), join([Html(step.error), in_group], "\n\n")))
    return sent


def check_sendable(flow: Flow, data: Any, file: str, messages: Messages, texts: ValidationTexts) -> list[LoadError]:
    """Every fault Telegram would find in the messages built from ``flow`` (read from ``data``)."""
    errors: list[LoadError] = []

    def fault(place: Place, kind: str, **values: object) -> None:
        errors.append(error_at(data, place, file, texts, texts.faults.get(kind, kind).format(**values)))

    for index, step in enumerate(flow.steps):
        if len(step.buttons(messages.flow)) > MAX_OPTIONS:
            fault(("steps", index, "options"), "too_many_options", max=MAX_OPTIONS)
    for place, text in _own_texts(flow):
        if (problem := html_problem(text)) is not None:
            fault(place, problem.kind, tag=problem.tag)
    if not errors:  # a message can be measured once its HTML parses
        for place, text in _messages(flow, messages):
            if (length := shown_length(text)) > MESSAGE_LIMIT:
                fault(place, "message_too_long", length=length, max=MESSAGE_LIMIT)
    return errors
