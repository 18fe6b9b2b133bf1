"""``python -m bot shell``: play a flow in the terminal, with the bot's own engine and texts.

An admin tries a change before uploading it: same questions, checks, reminders and summary
as in Telegram, without a token. Buttons become numbered choices; ``/retour`` goes back and
``/annuler`` (or end of input) stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TextIO

from bot.core.flow_engine import (
    Back,
    Choose,
    Confirm,
    Edit,
    FlowEngine,
    FlowState,
    Input,
    Question,
    Summary,
    Text,
)
from bot.core.library import Library
from bot.core.texts import join, plain, render


class Preview:
    def __init__(
        self, library: Library, engine: FlowEngine, lines: Iterator[str], out: TextIO, *, echo: bool = False
    ) -> None:
        self.library = library
        self.engine = engine
        self.lines = lines
        self.out = out
        self.echo = echo

    def say(self, fragment: str) -> None:
        print(plain(fragment), file=self.out)

    def menu(self, labels: list[str]) -> None:
        for number, label in enumerate(labels, 1):
            print(f"  {number}. {label}", file=self.out)

    def ask(self) -> str | None:
        print("> ", end="", file=self.out, flush=True)
        line = next(self.lines, None)
        if line is None:
            return None
        if self.echo:  # piped answers: show them, so the transcript reads like a conversation
            print(line.rstrip("\n"), file=self.out)
        return line.rstrip("\n")

    def pick(self, typed: str, count: int) -> int | None:
        return int(typed) - 1 if typed.isdigit() and 1 <= int(typed) <= count else None

    def show(self, prompt: Question | Summary) -> list[str]:
        """Print a question or the summary; return the labels of its numbered choices."""
        intake = self.library.messages.intake
        if isinstance(prompt, Summary):
            self.say(self.engine.summary_text(prompt))
            labels = [intake.button_confirm, intake.button_edit, intake.button_cancel]
        else:
            self.say(self.engine.question_text(prompt))
            labels = [answer.label for answer in prompt.step.buttons(self.engine.texts)]
        self.menu(labels)
        return labels

    def action(self, state: FlowState, prompt: Question | Summary, typed: str, labels: list[str]) -> Input | None:
        """Turn a typed line into an engine input; None to stop."""
        if typed.strip() == "/annuler":
            return None
        if typed.strip() == "/retour":
            return Back()
        choice = self.pick(typed.strip(), len(labels))
        if isinstance(prompt, Summary):
            if choice == 0:
                return Confirm()
            if choice == 1:
                steps = self.engine.editable_steps(state)
                self.say(self.library.messages.intake.edit_choose)
                self.menu([step.label for step in steps])
                picked = self.pick((self.ask() or "").strip(), len(steps))
                return Edit(steps[picked].id) if picked is not None else Back()
            if choice == 2:
                return None
            return Text(typed)
        if choice is not None:
            return Choose(prompt.step.buttons(self.engine.texts)[choice].value)
        return Text(typed)

    def run(self, version: int, today: date) -> bool:
        """Play the flow to its end; True when the summary was confirmed."""
        turn = self.engine.start(version)
        state = turn.state
        self.say(render("<b>{title}</b>", title=self.engine.flow.title))
        self.say(self.engine.intro())
        prompt = turn.prompt
        while True:
            labels = self.show(prompt)
            typed = self.ask()
            action = None if typed is None else self.action(state, prompt, typed, labels)
            if action is None:
                self.say(self.library.messages.intake.cancelled)
                return False
            turn = self.engine.advance(state, action, today)
            if turn.error is not None:
                self.say(turn.error)
            practices = self.library.practices
            for practice in filter(None, map(practices.get, turn.reminders)):
                self.say(practices.reminder_text(practice))
            state, prompt = turn.state, turn.prompt
            if turn.done:
                card = [self.engine.card_lines(state.answers)]
                points = practices.vigilance_text(self.engine.flow.triggered_practices(state.answers))
                self.say(join(card + ([points] if points else []), "\n\n"))
                return True
