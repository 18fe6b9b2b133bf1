"""Scripted members who behave like people when the bot dies under them.

Each member acts once per turn of the driver, then reads what the bot showed them (the fake
server records every message, edit and button answer). An action is *acknowledged* when
the member saw its effect: the next question, the button's answer, their position on the
proposal. When nothing came (the bot was killed), they do what a person would: ask
``/partenariat`` where they are, or press the button again. They never type an answer twice
blindly, so a question is always answered with the answer meant for it.

``check`` compares what a member was acknowledged with the database file: every
acknowledged answer and position is there, nothing is there twice, nothing is invented.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.core.flow_engine import Question, Text
from bot.core.library import load_library
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.integration.circle_scene import (
    CONSENT_BUTTON,
    OBJECTION_BUTTON,
    OPEN_BUTTON,
    RESERVATION_BUTTON,
    STAND_ASIDE_BUTTON,
)
from tests.integration.conftest import CONVERSATIONS
from tests.integration.conversation import CONFIRM, LIBRARY, STEP_LABEL

FLOW_ID = "demande_partenariat"
PROPOSAL = "Consentement sur la demande"
HERE_BUTTON = LIBRARY.messages.intake.button_here
GROUP_INTRO = "merci de porter cette demande"
STEP = re.compile(re.escape(STEP_LABEL) + r"(\d+)/(\d+)")
# A member gives up (and the test fails) after this many actions in a row left unanswered.
MAX_TRIES = 6

POSITIONS = {
    CONSENT_BUTTON: "consent",
    RESERVATION_BUTTON: "reservation",
    OBJECTION_BUTTON: "objection",
    STAND_ASIDE_BUTTON: "stand_aside",
}


def mentions(message: BotMessage, member: FakeUser) -> bool:
    return any(entity.get("url") == f"tg://user?id={member.id}" for entity in message.entities)


def proposal(fake: FakeTelegram, group: FakeChat) -> BotMessage | None:
    """The live proposal: the latest one posted (a restart may have posted it twice)."""
    return next((m for m in reversed(fake.messages_in(group)) if PROPOSAL in m.plain_text), None)


@dataclass(frozen=True)
class Expected:
    """What the bot should hold after each answer: (step header, answers so far)."""

    headers: tuple[tuple[int, int], ...]  # "Étape n/N" of question k, k = answers given
    answers: tuple[dict[str, Any], ...]  # answers stored after k answers

    @classmethod
    def of(cls, replies: list[str]) -> Expected:
        """Play the replies through the bot's own pure engine."""
        library = load_library(CONVERSATIONS)
        engine = library.engine(library.flows[FLOW_ID].flow)
        state = engine.start(1).state
        headers: list[tuple[int, int]] = []
        answers: list[dict[str, Any]] = [{}]
        for reply in replies:
            question = engine.prompt(state)
            assert isinstance(question, Question), "the script has more replies than the flow has questions"
            headers.append((question.number, question.total))
            turn = engine.advance(state, Text(reply), date.today())
            assert turn.error is None, f"the script's answer {reply!r} is refused: {turn.error}"
            state = turn.state
            answers.append(dict(state.answers))
        assert state.current is None, "the script does not reach the summary"
        return cls(tuple(headers), tuple(answers))


class Member:
    """One person's part in the scenario; the driver calls act, then observe and conclude."""

    def __init__(self, fake: FakeTelegram, group: FakeChat, user: FakeUser) -> None:
        self.fake, self.group, self.user = fake, group, user
        self.name = user.first_name
        self.waiting = False  # an action waits for its acknowledgement
        self.tries = 0  # actions in a row left unacknowledged
        self.actions = 0
        self.acknowledged = 0
        self.cursor = 0  # messages of fake.sent already read

    @property
    def done(self) -> bool:
        raise NotImplementedError

    @property
    def minimum_actions(self) -> int:
        raise NotImplementedError

    def ready(self) -> bool:
        return not self.done

    def act(self) -> None:
        self.waiting = True
        self.actions += 1
        self._act()

    def _act(self) -> None:
        raise NotImplementedError

    def observe(self) -> None:
        """Read what the bot showed since last time."""
        new, self.cursor = self.fake.sent[self.cursor :], len(self.fake.sent)
        self._observe(new)

    def _observe(self, new: list[BotMessage]) -> None:
        raise NotImplementedError

    def _acknowledged(self) -> None:
        if self.waiting:
            self.waiting, self.tries = False, 0
            self.acknowledged += 1

    def conclude(self) -> None:
        """Once the bot is quiet: an action still unacknowledged is lost; try again next turn."""
        if not self.waiting:
            return
        self.waiting = False
        self.tries += 1
        assert self.tries < MAX_TRIES, f"{self.name} got no answer to {self.tries} actions in a row ({self!r})"

    def check(self, database: sqlite3.Connection) -> None:
        raise NotImplementedError


class Filler(Member):
    """A member filing a request, in the group (replies to the bot) or in private (deep link)."""

    def __init__(
        self, fake: FakeTelegram, group: FakeChat, user: FakeUser, replies: list[str], *, private: bool
    ) -> None:
        super().__init__(fake, group, user)
        self.replies = replies
        self.partner = replies[0]
        self.expected = Expected.of(replies)
        self.private = private
        self.chat = fake.private_chat(user) if private else group
        self.answered = 0  # answers acknowledged (next question shown, or the button answered)
        self.confirmed = False  # "Valider" acknowledged
        self.prompt: BotMessage | None = None  # the last question or summary shown
        self.at = 0  # answers given before that question
        self.intro: BotMessage | None = None  # in the group: the "answer here" offer
        self.card: BotMessage | None = None  # the request's card in the group: done
        self.pressed: BotMessage | None = None  # the message whose button was pressed last
        self.query: tuple[str, int] | None = None  # a press on a question: its id, and which question
        self.lost = False

    def __repr__(self) -> str:
        return f"Filler({self.name}, answered={self.answered}/{len(self.replies)}, card={self.card is not None})"

    @property
    def done(self) -> bool:
        return self.card is not None

    @property
    def minimum_actions(self) -> int:
        """Actions when nothing goes wrong: start, every answer, validate."""
        return (1 if self.private else 2) + len(self.replies) + 1

    def _index(self, message: BotMessage) -> int | None:
        """Which question a message of the bot asks this member (answers given), if any."""
        if CONFIRM in message.button_texts() and self.partner in message.plain_text:
            return len(self.replies)
        if not self.private and not mentions(message, self.user):
            return None
        found = STEP.search(message.plain_text)
        if found is None:
            return None
        header = (int(found[1]), int(found[2]))
        assert header in self.expected.headers, f"{self.name} was asked an unexpected step: {message.plain_text!r}"
        return self.expected.headers.index(header)

    def _observe(self, new: list[BotMessage]) -> None:
        for message in new:
            if (
                message.chat_id == self.group.id
                and self.partner in message.plain_text
                and (OPEN_BUTTON in message.button_texts())
            ):
                self.card = message
                self._acknowledged()
            if message.chat_id != self.chat.id:
                continue
            if not self.private and mentions(message, self.user) and GROUP_INTRO in message.plain_text:
                self.intro = message
                self._acknowledged()
            index = self._index(message)
            if index is None:
                continue
            assert index >= self.answered, (
                f"{self.name} was asked step {index + 1} again after the bot had acknowledged "
                f"{self.answered} answers: an acknowledged answer was lost"
            )
            progressed = index > self.at or self.prompt is None or self.lost
            self.prompt, self.at, self.answered = message, index, index
            if progressed:
                self.lost = False
                self._acknowledged()
        if self.query is None:
            return
        query_id, at = self.query
        answer = self.fake.callback_answers.get(query_id)
        if answer is not None and not answer.get("text"):  # a plain answer: the press was taken
            if at == len(self.replies):
                self.confirmed = True
            else:
                self.answered = max(self.answered, at + 1)
            self.query = None
            self._acknowledged()

    def conclude(self) -> None:
        if self.waiting:
            self.lost = True
        super().conclude()

    def _act(self) -> None:
        fake = self.fake
        assert not self.confirmed, f"{self.name}'s request was validated but its card never came"
        if self.prompt is None:
            if self.private:
                fake.send(self.user, self.chat, f"/start g{self.group.id}")
            elif self.intro is not None and self.intro is not self.pressed and HERE_BUTTON in self.intro.button_texts():
                self.pressed = self.intro
                fake.press(self.user, self.intro, HERE_BUTTON)
            else:
                fake.send(self.user, self.group, "/partenariat")
        elif self.lost or self.at < self.answered or self.prompt is self.pressed:
            fake.send(self.user, self.chat, "/partenariat")  # "where was I?": the bot shows it again
        elif self.at == len(self.replies):
            self._press(self.prompt, CONFIRM)
        else:
            reply = self.replies[self.at]
            if reply in self.prompt.button_texts():
                self._press(self.prompt, reply)
            else:
                fake.send(self.user, self.chat, reply, reply_to=None if self.private else self.prompt)

    def _press(self, prompt: BotMessage, button: str) -> None:
        self.pressed = prompt
        self.query = (self.fake.press(self.user, prompt, button), self.at)

    def check(self, database: sqlite3.Connection) -> None:
        requests = database.execute(
            "SELECT id FROM requests WHERE author_id = ? AND chat_id = ?", (self.user.id, self.group.id)
        ).fetchall()
        assert len(requests) <= 1, f"{self.name}'s request is stored {len(requests)} times"
        session = database.execute(
            "SELECT answers FROM flow_sessions WHERE user_id = ? AND chat_id = ?", (self.user.id, self.chat.id)
        ).fetchone()
        if requests:
            stored = database.execute("SELECT step_id, value FROM request_answers WHERE request_id = ?", requests[0])
            assert {step: json.loads(value) for step, value in stored} == self.expected.answers[-1], (
                f"{self.name}'s request holds other answers than the member gave"
            )
            assert session is None, f"{self.name}'s request is filed but its flow is still open"
            return
        assert not self.confirmed and self.card is None, f"{self.name} validated the request but it is not stored"
        if session is None:
            assert self.prompt is None, f"{self.name} saw a question but the flow is not stored"
            return
        answers = json.loads(session[0])
        assert answers in self.expected.answers, (
            f"{self.name}'s flow holds answers the member did not give, or not in that order: {answers}"
        )
        kept = self.expected.answers.index(answers)
        assert kept >= self.answered, f"{self.name} was acknowledged {self.answered} answers but only {kept} are stored"


class CircleMember(Member):
    """A member of the core circle taking positions (and changing them) on the proposal."""

    def __init__(
        self,
        fake: FakeTelegram,
        group: FakeChat,
        user: FakeUser,
        positions: list[tuple[str, str | None]],
        *,
        opens: Filler | None = None,
        after: tuple[Member, ...] = (),
    ) -> None:
        super().__init__(fake, group, user)
        self.positions = positions
        self.opens = opens  # this member opens the round on that filler's request
        self.after = after  # members who must have finished first: the last one closes the round
        self.opened = opens is None
        self.taken = 0  # positions acknowledged
        self.prompt: BotMessage | None = None  # the bot's request for this position's reason
        self.query: str | None = None

    def __repr__(self) -> str:
        return f"CircleMember({self.name}, taken={self.taken}/{len(self.positions)}, prompt={self.prompt is not None})"

    def proposal(self) -> BotMessage | None:
        return proposal(self.fake, self.group)

    @property
    def done(self) -> bool:
        return self.taken == len(self.positions)

    @property
    def minimum_actions(self) -> int:
        """Actions when nothing goes wrong: open, every press, every reason."""
        return (not self.opened) + len(self.positions) + sum(reason is not None for _, reason in self.positions)

    def ready(self) -> bool:
        if self.done or any(not member.done for member in self.after):
            return False
        return self.proposal() is not None or (
            not self.opened and self.opens is not None and self.opens.card is not None
        )

    def _act(self) -> None:
        proposal = self.proposal()
        if proposal is None:
            assert self.opens is not None and self.opens.card is not None, "ready: the card to open the round on"
            self.query = self.fake.press(self.user, self.opens.card, OPEN_BUTTON)
            return
        button, reason = self.positions[self.taken]
        if reason is not None and self.prompt is not None:
            self.fake.send(self.user, self.group, reason, reply_to=self.prompt)
            self.prompt = None  # a reply left unacknowledged means asking again
        else:
            self.query = self.fake.press(self.user, proposal, button)

    def _shown(self, proposal: BotMessage, reason: str) -> bool:
        """The proposal shows this member's position with this reason."""
        lines = proposal.plain_text.splitlines()
        return any(f"{self.name} : " in line and f"« {reason} »" in line for line in lines)

    def _observe(self, new: list[BotMessage]) -> None:
        proposal = self.proposal()
        if self.done:
            return
        if not self.opened:
            answer = self.fake.callback_answers.get(self.query) if self.query else None
            if proposal is not None or (answer is not None and not answer.get("text")):
                self.opened, self.query = True, None
                self._acknowledged()
            return
        if proposal is None:
            return
        _button, reason = self.positions[self.taken]
        answer = self.fake.callback_answers.get(self.query) if self.query else None
        answered = (answer or {}).get("text") or ""
        if (reason is not None and self._shown(proposal, reason)) or (
            reason is None and (answered.startswith("C'est noté") or "déjà enregistrée" in answered)
        ):
            self._took()
        elif not self.after and "Tour clos" in proposal.plain_text:
            raise AssertionError(f"the round closed before {self.name} took position {self.taken + 1}")
        elif self.after and "Tour clos" in proposal.plain_text:
            self._took()  # this member's position closed the round
        elif reason is not None and self.prompt is None:
            asked = [
                m
                for m in new
                if m.chat_id == self.group.id
                and m.is_force_reply()
                and mentions(m, self.user)
                and STEP_LABEL not in m.plain_text
            ]
            if asked:
                self.prompt = asked[-1]
                self._acknowledged()

    def _took(self) -> None:
        self.taken += 1
        self.prompt = self.query = None
        self._acknowledged()

    def check(self, database: sqlite3.Connection) -> None:
        rows = database.execute(
            "SELECT position, reason FROM round_positions WHERE user_id = ? ORDER BY id", (self.user.id,)
        ).fetchall()
        script = [(POSITIONS[button], reason) for button, reason in self.positions]
        assert rows == script[: len(rows)], (
            f"{self.name}'s stored positions {rows} are not what the member did, in order, once each: {script}"
        )
        assert len(rows) >= self.taken, (
            f"{self.name} was acknowledged {self.taken} positions but only {len(rows)} are stored"
        )
        if self.opened and self.opens is not None:
            (rounds,) = database.execute("SELECT COUNT(*) FROM consent_rounds").fetchone()
            assert rounds == 1, f"{self.name} saw the round open, but {rounds} rounds are stored"


class Steward(Member):
    """A group admin who pushes the round's deadline back, once (/prolonger)."""

    def __init__(self, fake: FakeTelegram, group: FakeChat, user: FakeUser, days: int) -> None:
        super().__init__(fake, group, user)
        self.days = days
        self.extended = False  # acknowledged: the bot said so, or the proposal shows the new deadline
        self.before: str | None = None  # the proposal's deadline before the first try
        self.mark = 0

    def __repr__(self) -> str:
        return f"Steward({self.name}, extended={self.extended})"

    @property
    def done(self) -> bool:
        return self.extended

    @property
    def minimum_actions(self) -> int:
        return 1

    def ready(self) -> bool:
        return not self.done and proposal(self.fake, self.group) is not None

    @staticmethod
    def _deadline(message: BotMessage) -> str:
        return next(line for line in message.plain_text.splitlines() if "Jusqu'au" in line)

    def _act(self) -> None:
        shown = proposal(self.fake, self.group)
        assert shown is not None, "ready: a proposal to extend"
        self.before = self.before or self._deadline(shown)
        found = re.search(r"demande n°(\d+)", shown.plain_text)
        assert found is not None, f"the proposal names no request: {shown.plain_text!r}"
        self.mark = len(self.fake.sent)
        self.fake.send(self.user, self.group, f"/prolonger {found[1]} {self.days}")

    def _observe(self, new: list[BotMessage]) -> None:
        shown = proposal(self.fake, self.group)
        replied = any(
            m.chat_id == self.group.id and f"prolongé de {self.days} jour" in m.plain_text
            for m in self.fake.sent[self.mark :]
        )
        if (
            not self.done
            and self.before is not None  # acted, on the proposal: it is still there
            and shown is not None
            and (replied or self._deadline(shown) != self.before)
        ):
            self.extended = True
            self._acknowledged()

    def check(self, database: sqlite3.Connection) -> None:
        for opened, deadline in database.execute("SELECT opened_at, deadline_at FROM consent_rounds"):
            days = (datetime.fromisoformat(deadline) - datetime.fromisoformat(opened)) / timedelta(days=1)
            assert days in (7, 7 + self.days), f"the round lasts {days} days: extended more than once?"
            assert days == 7 + self.days or not self.extended, "the extension was acknowledged but is not stored"
