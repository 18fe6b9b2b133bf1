"""Members who answer a flow the way people do: the bot's own engine tells them what comes next.

A member keeps a mirror of their flow state, played by the same pure engine the bot runs
(``bot.core.flow_engine``), so they always know the question on screen without reading the bot's
database; they type the answers a text, number or date step asks for and press the buttons a
choice, yes/no or summary shows, reading the buttons' callback data from what the bot sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from bench.offline import JSON, OfflineTelegram, Sent
from bench.scene import Updates
from bot.core.flow_engine import (
    ChoiceStep,
    Choose,
    Confirm,
    DateStep,
    FlowEngine,
    FlowState,
    Input,
    NumberStep,
    Text,
    YesNoStep,
)
from bot.handlers import callback_data

NEXT_YEAR = date(date.today().year + 1, 3, 15)


def answers_for(engine: FlowEngine, partner: str) -> tuple[Input, ...]:
    """Inputs that fill the whole flow (first option, "no", short texts), summary confirmed."""
    state = engine.start(1).state
    inputs: list[Input] = []
    while True:
        action = next_input(engine, state, partner)
        turn = engine.advance(state, action, date.today())
        assert turn.error is None, turn.error
        inputs.append(action)
        if turn.done:
            return tuple(inputs)
        state = turn.state


def complete_answers(engine: FlowEngine, partner: str) -> JSON:
    """The answers of a filled flow, for requests stored before a scenario starts."""
    state = engine.start(1).state
    for action in answers_for(engine, partner):
        turn = engine.advance(state, action, date.today())
        state = turn.state
    return dict(state.answers)


def next_input(engine: FlowEngine, state: FlowState, partner: str) -> Input:
    """What a member does next: type an answer, press an option, or confirm the summary."""
    if state.current is None:
        return Confirm()
    step = engine.flow.step(state.current)
    if isinstance(step, ChoiceStep):
        return Choose(step.options[0].value)
    if isinstance(step, YesNoStep):
        return Choose("no")
    if isinstance(step, NumberStep):
        return Text(str(max(step.min or 1, min(step.max or 12, 12))))
    if isinstance(step, DateStep):
        return Text(NEXT_YEAR.strftime("%d/%m/%Y"))
    if step.id == engine.flow.partner_fields.partner:
        return Text(partner)
    text = "Une réponse réfléchie, écrite par un membre du groupe local."
    return Text(text[: step.max_length].ljust(step.min_length, "."))


@dataclass
class FlowMember:
    """One member filling one request, in a group (replying to the bot) or in private."""

    user: JSON
    chat: JSON
    engine: FlowEngine
    partner: str
    state: FlowState = field(init=False)
    done: bool = False
    _token: str | None = None

    def __post_init__(self) -> None:
        self.state = self.engine.start(1).state

    @property
    def in_group(self) -> bool:
        return bool(self.chat["type"] != "private")

    def _prompt(self, telegram: OfflineTelegram, since: int) -> Sent | None:
        """The bot's latest question or summary for this member among messages sent since ``since``."""
        mention = f"tg://user?id={self.user['id']}"
        for sent in reversed(telegram.by_chat[self.chat["id"]][since:]):
            token = self._token_of(sent)
            if token is not None and token == self._token:
                return sent
            # In a group, a question is the member's when it mentions them; it reveals their token.
            if (sent.force_reply or token is not None) and (not self.in_group or mention in sent.text):
                self._token = token or self._token
                return sent
        return None

    def _token_of(self, sent: Sent) -> str | None:
        for data in sent.callback_data():
            payload = callback_data.decode(data)
            if isinstance(payload, callback_data.FlowPress):
                return payload.token
        return None

    def answers(self, telegram: OfflineTelegram, updates: Updates) -> Iterator[JSON]:
        """Each update answering the current question, as long as the flow runs."""
        since = 0
        prompt: Sent | None = None
        while not self.done:
            prompt = self._prompt(telegram, since) or prompt
            action = next_input(self.engine, self.state, self.partner)
            since = len(telegram.by_chat[self.chat["id"]])
            yield self._update(action, prompt, updates)
            turn = self.engine.advance(self.state, action, date.today())
            self.state, self.done = turn.state, turn.done

    def _update(self, action: Input, prompt: Sent | None, updates: Updates) -> JSON:
        if isinstance(action, Text):
            reply_to = prompt if self.in_group else None
            return updates.message(self.user, self.chat, action.text, reply_to=reply_to)
        assert prompt is not None, "a button to press, but no question with buttons was seen"
        wanted = self._press(action, prompt)
        return updates.press(self.user, prompt, wanted)

    def _press(self, action: Input, prompt: Sent) -> str:
        for data in prompt.callback_data():
            payload = callback_data.decode(data)
            if not isinstance(payload, callback_data.FlowPress):
                continue
            if isinstance(action, Confirm) and payload.action == "confirm":
                return data
            if isinstance(action, Choose) and self.state.current is not None:
                step = self.engine.flow.step(self.state.current)
                if payload.action in ("yes", "no") and payload.action == action.value:
                    return data
                if (
                    payload.action == "choose"
                    and isinstance(step, ChoiceStep)
                    and step.options[payload.arg].value == action.value
                ):
                    return data
        raise AssertionError(f"no button for {action} under {prompt.text[:80]!r}")
