"""Flows: the pydantic model of a flow file, and the engine that plays it.

The engine is a pure function of ``(flow, state, input)``: it returns the next state and what
to show (a question, the summary, an error, reminders). It knows nothing of Telegram or of
the database, so the bot, the terminal preview and the benchmark share it.
"""

from __future__ import annotations

import html
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.core.conditions import Condition
from bot.core.messages import FlowTexts, IntakeTexts
from bot.core.texts import Html, Placeholders, Template, escape, join, render, shorten

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Model):
    """One button of a choice step."""

    value: Identifier
    label: Annotated[str, Field(min_length=1, max_length=60)]


@dataclass(frozen=True)
class Button:
    """A button answering a question: the value pressing it gives, and its label."""

    value: str
    label: str


class _StepBase(_Model):
    """What every kind of step has, and what each kind does with its answers (read one, show
    it, put it in the export), so that the engine and the adapters need not know the kinds."""

    id: Identifier
    label: Annotated[str, Field(min_length=1, max_length=60)]
    question: Template
    help: Template | None = None
    when: Condition | None = None
    error: Template | None = None
    # The tests of a condition that read an answer as a number or as a text fit only the steps
    # whose answers are numbers or texts; the others (equals, in…) fit every step.
    kind_tests: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> Any:
        """The answer ``given`` stands for; raises InvalidAnswer with the text re-asking it."""

    def refusal(self, template: str, **values: object) -> InvalidAnswer:
        """A refused answer, re-asked with the step's own ``error`` text, else ``template``."""
        return InvalidAnswer(render(self.error or template, **values))

    def skippable(self) -> bool:
        """Whether a member may leave it unanswered."""
        return False

    def skip_label(self, texts: IntakeTexts) -> str | None:
        """The label of the button leaving it unanswered under a typed question; None if none."""
        return None

    def buttons(self, texts: FlowTexts) -> tuple[Button, ...]:
        """The buttons answering it; none for a step answered by typing."""
        return ()

    def display(self, value: Any, texts: FlowTexts, preview: int | None = None) -> Html:
        """An answer the way a member reads it; a typed one cut to ``preview`` characters."""
        if value is None:
            return Html(texts.skipped)
        text = str(value)
        return escape(text if preview is None else shorten(text, preview, texts.ellipsis))

    def longest_answer(self) -> Html:
        """An answer as long as this step's may show, to measure the messages showing it."""
        return Html("x" * 60)  # a yes, a number, a date: short

    def export_cell(self, value: Any, texts: FlowTexts) -> object:
        """A given answer in a cell of the CSV export: the members' wording, as plain text."""
        return html.unescape(self.display(value, texts))

    def cell_unit(self) -> str | None:
        """The unit the export's header gives this step's column, when its cells are bare numbers."""
        return None

    def impossible_values(self, expected: Sequence[str | int | bool]) -> list[str | int | bool]:
        """The values among ``expected`` an answer of this step never takes."""
        return []


def _pressed_or_typed(given: Text | Choose) -> str:
    """A button's value, or what was typed instead, as a button's value or label is compared."""
    return given.value if isinstance(given, Choose) else given.text.strip().casefold()


def _typed(given: Text | Choose, texts: FlowTexts) -> str:
    """A typed answer, stripped; a button pressed for a typed question is stale."""
    if isinstance(given, Choose):
        raise InvalidAnswer(Html(texts.stale_action))
    return given.text.strip()


class TextStep(_StepBase):
    kind: Literal["text"]
    min_length: Annotated[int, Field(ge=0)] = 1
    max_length: Annotated[int, Field(gt=0, le=3500)] = 1000
    optional: bool = False
    kind_tests: ClassVar[frozenset[str]] = frozenset({"shorter_than", "is_empty"})

    @model_validator(mode="after")
    def _lengths(self) -> TextStep:
        if self.min_length > self.max_length:
            raise PydanticCustomError("min_over_max", "min_over_max")
        return self

    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> str | None:
        text = _typed(given, texts)
        if self.optional and text.casefold() in texts.skip_words:
            return None
        if len(text) < self.min_length:
            raise self.refusal(texts.errors.text_too_short, min=self.min_length)
        if len(text) > self.max_length:
            raise self.refusal(texts.errors.text_too_long, max=self.max_length, length=len(text))
        return text

    def skippable(self) -> bool:
        return self.optional

    def skip_label(self, texts: IntakeTexts) -> str | None:
        return texts.button_skip if self.optional else None

    def longest_answer(self) -> Html:
        return Html("x" * self.max_length)


class ChoiceStep(_StepBase):
    kind: Literal["choice"]
    options: Annotated[tuple[Option, ...], Field(min_length=1, max_length=12)]

    @model_validator(mode="after")
    def _distinct_options(self) -> ChoiceStep:
        values = [option.value for option in self.options]
        if len(set(values)) != len(values):
            raise PydanticCustomError("duplicate_option", "duplicate_option")
        return self

    def option(self, value: object) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> str:
        wanted = _pressed_or_typed(given)
        for option in self.options:
            if wanted in (option.value, option.label.casefold()):
                return option.value
        raise self.refusal(texts.errors.choice)

    def buttons(self, texts: FlowTexts) -> tuple[Button, ...]:
        return tuple(Button(option.value, option.label) for option in self.options)

    def display(self, value: Any, texts: FlowTexts, preview: int | None = None) -> Html:
        if value is None:
            return super().display(value, texts, preview)
        option = self.option(value)
        return escape(option.label if option else str(value))

    def longest_answer(self) -> Html:
        return Html(max((option.label for option in self.options), key=len, default=""))

    def impossible_values(self, expected: Sequence[str | int | bool]) -> list[str | int | bool]:
        possible = {option.value for option in self.options}
        return [value for value in expected if value not in possible]


class YesNoStep(_StepBase):
    kind: Literal["yes_no"]

    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> bool:
        wanted = _pressed_or_typed(given)
        if wanted in ("yes", *texts.yes_words):
            return True
        if wanted in ("no", *texts.no_words):
            return False
        raise self.refusal(texts.errors.yes_no)

    def buttons(self, texts: FlowTexts) -> tuple[Button, ...]:
        return (Button("yes", texts.yes), Button("no", texts.no))

    def display(self, value: Any, texts: FlowTexts, preview: int | None = None) -> Html:
        if value is None:
            return super().display(value, texts, preview)
        return Html(texts.yes if value else texts.no)

    def impossible_values(self, expected: Sequence[str | int | bool]) -> list[str | int | bool]:
        return [value for value in expected if not isinstance(value, bool)]


class NumberStep(_StepBase):
    kind: Literal["number"]
    min: int | None = None
    max: int | None = None
    unit: str | None = None
    kind_tests: ClassVar[frozenset[str]] = frozenset({"greater_than", "less_than"})

    @model_validator(mode="after")
    def _range(self) -> NumberStep:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("min_over_max", "min_over_max")
        return self

    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> int:
        compact = _typed(given, texts).replace(" ", "").replace("\u202f", "")
        if not _NUMBER.fullmatch(compact):
            raise self.refusal(texts.errors.number_invalid)
        value = int(compact)
        if self.min is not None and value < self.min:
            raise self.refusal(texts.errors.number_too_small, min=self.min)
        if self.max is not None and value > self.max:
            raise self.refusal(texts.errors.number_too_large, max=self.max)
        return value

    def display(self, value: Any, texts: FlowTexts, preview: int | None = None) -> Html:
        if value is None or not self.unit:
            return super().display(value, texts, preview)
        return render("{value} {unit}", value=value, unit=self.unit)

    def export_cell(self, value: Any, texts: FlowTexts) -> object:
        return value  # a bare number, so the spreadsheet can sum and sort it

    def cell_unit(self) -> str | None:
        return self.unit

    def impossible_values(self, expected: Sequence[str | int | bool]) -> list[str | int | bool]:
        return [value for value in expected if isinstance(value, bool) or not isinstance(value, int)]


class DateStep(_StepBase):
    """A day or a month: 15/03/2027 is stored "2027-03-15", « mars 2027 » "2027-03" (its
    precision kept, so it never shows as a made-up day); an optional one may stay unknown."""

    kind: Literal["date"]
    future_only: bool = False
    optional: bool = False

    def parse(self, given: Text | Choose, texts: FlowTexts, today: date) -> str | None:
        text, errors, dates = _typed(given, texts), texts.errors, texts.dates
        if self.optional and text.casefold().rstrip(" .!") in {w.casefold() for w in dates.unknown_words}:
            return None
        if (parsed := parse_date(text, texts.months)) is not None:
            if self.future_only and parsed < today:
                raise self.refusal(errors.date_in_past)
            return parsed.isoformat()
        if (month := parse_month(text, texts.months, dates.month_words)) is not None:
            # A month is past only once it is over: « mars 2027 » is still fine on 20 March.
            if self.future_only and month < (today.year, today.month):
                raise self.refusal(dates.month_in_past)
            return f"{month[0]:04d}-{month[1]:02d}"
        raise self.refusal(dates.invalid_optional if self.optional else errors.date_invalid)

    def skippable(self) -> bool:
        return self.optional

    def skip_label(self, texts: IntakeTexts) -> str | None:
        return texts.button_date_unknown if self.optional else None

    def display(self, value: Any, texts: FlowTexts, preview: int | None = None) -> Html:
        return escape(date_answer_text(value, texts))


Step = Annotated[TextStep | ChoiceStep | YesNoStep | NumberStep | DateStep, Field(discriminator="kind")]


class PracticeRule(_Model):
    """Show a good practice when a condition on the answers becomes true."""

    practice: Identifier
    when: Condition

    @field_validator("practice")
    @classmethod
    def _known_practice(cls, value: str, info: ValidationInfo) -> str:
        # The catalogue is another file: the library passes its ids as validation context.
        known = (info.context or {}).get("practices")
        if known is not None and value not in known:
            raise PydanticCustomError("unknown_practice", "unknown_practice", {"practice": value})
        return value


class PartnerFields(_Model):
    """Which answers name the partner and its kind in the register and on cards, and which
    ones set its review dates and are recalled when a follow-up comes."""

    partner: Identifier
    kind: Identifier
    # Without these, an adopted partnership is reviewed after registre.yaml's default delay.
    length_months: Identifier | None = None  # a number step: the commitment, in months
    start_date: Identifier | None = None  # a date step: when the partnership starts
    one_off: Condition | None = None  # true for a one-off: one "how did it go?" after its date
    expectations: tuple[Identifier, ...] = ()  # what each side expected, shown on follow-ups
    # A partner recorded as known (no consent round): when it ended, and whether it has.
    end_date: Identifier | None = None  # a date step: until when
    ended: Condition | None = None  # true when the partnership is over
    answer_by: Identifier | None = None  # a date step: when the partner needs an answer


class Flow(_Model):
    """A whole flow file: its steps, the rules tying answers to practices, its register fields."""

    id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=80)]
    intro: Annotated[str, Placeholders("questions")]  # {questions}: how many a member is asked at least
    steps: Annotated[tuple[Step, ...], Field(min_length=1, max_length=40)]
    partner_fields: PartnerFields
    card: tuple[Identifier, ...] = ()
    practices: tuple[PracticeRule, ...] = ()
    # Answers that describe the member who filed (their contact): blanked when they ask /oublier.
    personal: tuple[Identifier, ...] = ()
    schema_: str | None = Field(default=None, alias="$schema")

    @model_validator(mode="after")
    def _references(self) -> Flow:
        # Every fault is collected with its location and raised together: pydantic merges a
        # ValidationError raised here into the file's errors, so the admin sees each one at
        # the line of the step or field at fault, not all of them at line 1 one by one.
        faults: list[InitErrorDetails] = []

        def fault(kind: str, loc: tuple[str | int, ...], value: object, **context: object) -> None:
            error = PydanticCustomError(kind, kind, context or None)
            faults.append(InitErrorDetails(type=error, loc=loc, input=value))

        seen: dict[str, Step] = {}
        for index, step in enumerate(self.steps):
            if step.id in seen:
                fault("duplicate_step", ("steps", index, "id"), step.id, step=step.id)
            if step.when is not None:
                for name in sorted(step.when.referenced_answers() - seen.keys()):
                    fault("condition_unknown_answer", ("steps", index, "when"), name, step=step.id, answer=name)
            seen.setdefault(step.id, step)
        for index, rule in enumerate(self.practices):
            for name in sorted(rule.when.referenced_answers() - seen.keys()):
                fault("condition_unknown_answer", ("practices", index, "when"), name, step=rule.practice, answer=name)
        fields = self.partner_fields
        register: list[tuple[tuple[str | int, ...], str | None]] = [
            (("partner_fields", "partner"), fields.partner),
            (("partner_fields", "kind"), fields.kind),
            (("partner_fields", "length_months"), fields.length_months),
            (("partner_fields", "start_date"), fields.start_date),
            (("partner_fields", "end_date"), fields.end_date),
            (("partner_fields", "answer_by"), fields.answer_by),
            *((("partner_fields", "expectations", i), name) for i, name in enumerate(fields.expectations)),
            *(
                (("partner_fields", "one_off"), name)
                for name in sorted(fields.one_off.referenced_answers() if fields.one_off else ())
            ),
            *(
                (("partner_fields", "ended"), name)
                for name in sorted(fields.ended.referenced_answers() if fields.ended else ())
            ),
        ]
        for loc, step_id in register:
            if step_id is not None and step_id not in seen:
                fault("unknown_step", loc, step_id, step=step_id)
        for field_name in ("card", "personal"):
            for index, name in enumerate(getattr(self, field_name)):
                if name not in seen:
                    fault("unknown_step", (field_name, index), name, step=name)
        # The register reads these answers as a kind among options, months, and days.
        typed_fields: list[tuple[str, str | None, type[_StepBase], str]] = [
            ("kind", fields.kind, ChoiceStep, "register_kind_not_choice"),
            ("length_months", fields.length_months, NumberStep, "register_length_not_number"),
            ("start_date", fields.start_date, DateStep, "register_start_not_date"),
            ("end_date", fields.end_date, DateStep, "register_end_not_date"),
            ("answer_by", fields.answer_by, DateStep, "answer_by_not_date"),
        ]
        for field_name, step_id, kind, error in typed_fields:
            referenced = seen.get(step_id or "")
            if referenced is not None and not isinstance(referenced, kind):
                fault(error, ("partner_fields", field_name), referenced.id)
        if faults:
            raise ValidationError.from_exception_data(type(self).__name__, faults)
        return self

    def triggered_practices(self, answers: Mapping[str, Any]) -> list[str]:
        """The practices these answers call for, in rule order, each once."""
        return list(dict.fromkeys(self.practices[i].practice for i in self.triggered_rules(answers)))

    def triggered_rules(self, answers: Mapping[str, Any]) -> list[int]:
        """The index of every rule whose condition these answers make true, in rule order."""
        return [i for i, rule in enumerate(self.practices) if rule.when.evaluate(answers)]

    def never_true(self) -> list[NeverTrue]:
        """The conditions of steps and rules that no answer can make true, and why.

        Loading refuses what cannot be read; these can be read but would silently never show
        their question or reminder: ``python -m bot check`` warns about them.
        """
        found: list[NeverTrue] = []
        for index, step in enumerate(self.steps):
            if step.when is not None:
                found += [NeverTrue("steps", index, step.id, *fault) for fault in self._impossible(step.when)]
        for index, rule in enumerate(self.practices):
            found += [NeverTrue("practices", index, rule.practice, *fault) for fault in self._impossible(rule.when)]
        return found

    def _impossible(self, condition: Condition) -> list[tuple[Fault, str, str]]:
        """(kind, step, value) of each test that makes ``condition`` never true; [] when it can be."""
        if condition.all_ is not None:
            return [fault for child in condition.all_ for fault in self._impossible(child)]
        if condition.any_ is not None:
            faults = [self._impossible(child) for child in condition.any_]
            return [fault for child in faults for fault in child] if all(faults) else []
        if condition.not_ is not None or condition.answer is None:
            return []  # the contrary of an impossible test is always true: nothing to warn about
        step = next((s for s in self.steps if s.id == condition.answer), None)
        return [] if step is None else [(kind, step.id, value) for kind, value in _impossible_test(condition, step)]

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Each step's place by its id (unique, validated), looked up at every answer and press."""
        return {step.id: index for index, step in enumerate(self.steps)}

    def step(self, step_id: str) -> Step:
        return self.steps[self._positions[step_id]]

    def index(self, step_id: str) -> int:
        return self._positions[step_id]


Fault = Literal["unknown_value", "wrong_kind"]  # a value no answer takes, a test unfit for its step


@dataclass(frozen=True)
class NeverTrue:
    """A condition no answer can make true: where it is (a step's or a rule's), and why."""

    place: Literal["steps", "practices"]
    index: int
    name: str  # the step's id, or the rule's practice
    kind: Fault
    step: str  # the step the faulty test reads
    value: str  # the value it expects, or the test it makes


def _impossible_test(condition: Condition, step: Step) -> list[tuple[Fault, str]]:
    """Why one test on ``step``'s answer can never be true: a value the step cannot give,
    or a test that does not fit its kind (a number compared on a choice, a text length on yes/no)."""
    kind_tests = {
        "greater_than": condition.greater_than,
        "less_than": condition.less_than,
        "shorter_than": condition.shorter_than,
        "is_empty": condition.is_empty,
    }
    for test, operand in kind_tests.items():
        if operand is not None:
            return [] if test in step.kind_tests else [("wrong_kind", test)]
    if condition.not_equals is not None:
        return []  # true of every other answer
    expected = (condition.equals,) if condition.equals is not None else condition.in_ or ()
    unknown = step.impossible_values(expected)
    if condition.equals is not None or len(unknown) == len(expected):
        return [("unknown_value", str(value)) for value in unknown]
    return []


# --- state, inputs, outputs ------------------------------------------------------------


@dataclass(frozen=True)
class FlowState:
    """Where a member is in a flow. ``current`` is None when the summary is shown.

    ``reminded`` holds the reasons already shown, one per practice rule (:func:`reason`): a
    practice is shown again only for a rule that had not fired yet.
    """

    flow_id: str
    flow_version: int
    answers: Mapping[str, Any] = field(default_factory=dict)
    current: str | None = None
    editing: bool = False
    reminded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Text:
    """Something the member typed."""

    text: str


@dataclass(frozen=True)
class Choose:
    """A button pressed under a choice or yes/no question (``yes``/``no`` for the latter)."""

    value: str


@dataclass(frozen=True)
class Skip:
    """Leave an optional question empty."""


@dataclass(frozen=True)
class Back:
    """Go back one question (or to the summary while editing)."""


@dataclass(frozen=True)
class Edit:
    """From the summary, answer one question again."""

    step_id: str


@dataclass(frozen=True)
class Confirm:
    """Validate the summary."""


Input = Text | Choose | Skip | Back | Edit | Confirm


@dataclass(frozen=True)
class Question:
    step: Step
    number: int
    total: int
    current_answer: Html | None = None
    can_go_back: bool = False


@dataclass(frozen=True)
class Summary:
    lines: tuple[tuple[str, Html], ...]


@dataclass(frozen=True)
class Turn:
    """What one input led to."""

    state: FlowState
    prompt: Question | Summary
    error: Html | None = None
    reminders: tuple[str, ...] = ()
    done: bool = False


def reason(flow: Flow, rule_index: int) -> str:
    """How ``reminded`` names one rule: its practice and its place among the flow's rules."""
    return f"{flow.practices[rule_index].practice}:{rule_index}"


# A message of reminders stays short enough to be read: the others wait for the next answer.
MAX_REMINDERS_PER_MESSAGE = 2


class InvalidAnswer(Exception):
    """An input the current step cannot take; carries the French text to show."""

    def __init__(self, message: Html) -> None:
        super().__init__(message)
        self.message = message


# --- the engine ---------------------------------------------------------------------------


_NUMBER = re.compile(r"[+-]?\d{1,9}")
_NUMERIC_DATE = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})")
_WORD_DATE = re.compile(r"(\d{1,2})(?:er)?\s+([^\W\d_]+)\.?\s+(\d{4})")
_NUMERIC_MONTH = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{4})")
_WORD_MONTH = re.compile(r"([^\W\d_]+)\.?\s+(\d{4})")
_MONTH_ANSWER = re.compile(r"\d{4}-\d{2}")


class FlowEngine:
    """Plays one flow with its texts; every method is pure."""

    def __init__(self, flow: Flow, texts: FlowTexts) -> None:
        self.flow = flow
        self.texts = texts

    # visibility ------------------------------------------------------------------------

    def _visible(self, step: Step, answers: Mapping[str, Any]) -> bool | None:
        return True if step.when is None else step.when.evaluate(answers)

    def _next_step(self, answers: Mapping[str, Any]) -> str | None:
        """The first step that applies and has no answer yet; None once all are answered."""
        for step in self.flow.steps:
            if step.id not in answers and self._visible(step, answers):
                return step.id
        return None

    def relevant_answers(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        """Drop answers to steps that no longer apply (an edit changed a condition)."""
        kept: dict[str, Any] = {}
        for step in self.flow.steps:
            if step.id in answers and self._visible(step, kept):
                kept[step.id] = answers[step.id]
        return kept

    # prompts ---------------------------------------------------------------------------

    def fewest_questions(self) -> int:
        """How many questions every member is asked: the path of the simplest request."""
        return sum(1 for step in self.flow.steps if self._visible(step, {}))

    def intro(self) -> Html:
        """The flow's introduction, promising the questions every member is asked."""
        return render(self.flow.intro, questions=self.fewest_questions())

    def start(self, version: int) -> Turn:
        state = FlowState(self.flow.id, version, current=self._next_step({}))
        return Turn(state, self.prompt(state))

    def reopen(self, version: int, answers: Mapping[str, Any]) -> FlowState:
        """A filled request back at its summary, to amend it. Its reminders were shown when it
        was filled: only what a changed answer calls for anew is shown again."""
        reasons = tuple(reason(self.flow, index) for index in self.flow.triggered_rules(answers))
        return FlowState(self.flow.id, version, dict(answers), current=None, reminded=reasons)

    def prompt(self, state: FlowState) -> Question | Summary:
        """What the member should see for this state."""
        if state.current is None:
            return self.summary(state.answers)
        step = self.flow.step(state.current)
        # Only the questions these answers lead to: a step whose condition is still unknown is
        # counted once an answer calls for it, so the total grows with the request's needs and
        # never shrinks unless the member changes an answer.
        counted = [s for s in self.flow.steps if self._visible(s, state.answers)]
        number = next((i for i, s in enumerate(counted, 1) if s.id == step.id), len(counted))
        editing_answer = state.editing and step.id in state.answers
        return Question(
            step,
            number,
            len(counted),
            self.display(step, state.answers[step.id]) if editing_answer else None,
            can_go_back=state.editing or self._previous(state) is not None,
        )

    def summary(self, answers: Mapping[str, Any], preview: int | None = None) -> Summary:
        """Every answer that counts; typed ones shortened to ``preview`` characters if given."""
        kept = self.relevant_answers(answers)
        return Summary(tuple((s.label, self.display(s, kept[s.id], preview)) for s in self.flow.steps if s.id in kept))

    def question_text(self, question: Question) -> Html:
        """A question as the member reads it: step number, question, help, current answer."""
        parts = [
            render(
                self.texts.question, number=question.number, total=question.total, question=Html(question.step.question)
            )
        ]
        if question.step.help:
            parts.append(render(self.texts.help_line, help=Html(question.step.help)))
        if question.current_answer is not None:
            parts.append(render(self.texts.current_answer, answer=question.current_answer))
        return join(parts)

    def summary_text(self, summary: Summary) -> Html:
        lines = join([render(self.texts.summary_line, label=label, answer=answer) for label, answer in summary.lines])
        return render(self.texts.summary, title=self.flow.title, lines=lines)

    def editable_steps(self, state: FlowState) -> list[Step]:
        """Steps the member may choose from the summary's "Modifier une réponse"."""
        kept = self.relevant_answers(state.answers)
        return [s for s in self.flow.steps if s.id in kept]

    def display(self, step: Step, value: Any, preview: int | None = None) -> Html:
        """Show an answer the way a member reads it; a typed one cut to ``preview`` characters."""
        return step.display(value, self.texts, preview)

    def card_lines(self, answers: Mapping[str, Any]) -> Html:
        """The short form of a request shown on its card in the group: never a personal answer."""
        shown = self.flow.card or [s.id for s in self.flow.steps]
        return self.answer_lines(answers, [i for i in shown if i not in self.flow.personal])

    def answer_lines(self, answers: Mapping[str, Any], step_ids: Sequence[str], preview: int | None = None) -> Html:
        """A "label : answer" line for each of these steps that has an answer."""
        steps = [self.flow.step(i) for i in step_ids]
        return join(
            [
                render(self.texts.summary_line, label=s.label, answer=self.display(s, answers[s.id], preview))
                for s in steps
                if s.id in answers
            ]
        )

    # transitions -----------------------------------------------------------------------

    def advance(self, state: FlowState, action: Input, today: date) -> Turn:
        """Apply one input; an invalid input leaves the state unchanged and explains why."""
        try:
            return self._advance(state, action, today)
        except InvalidAnswer as invalid:
            return Turn(state, self.prompt(state), error=invalid.message)

    def _advance(self, state: FlowState, action: Input, today: date) -> Turn:
        if isinstance(action, Confirm):
            if state.current is not None:
                raise InvalidAnswer(Html(self.texts.stale_action))
            done = replace(state, answers=self.relevant_answers(state.answers))
            return Turn(done, self.summary(done.answers), done=True)
        if isinstance(action, Edit):
            if state.current is not None or action.step_id not in self.relevant_answers(state.answers):
                raise InvalidAnswer(Html(self.texts.stale_action))
            edited = replace(state, current=action.step_id, editing=True)
            return Turn(edited, self.prompt(edited))
        if isinstance(action, Back):
            return self._back(state)
        if state.current is None:
            raise InvalidAnswer(Html(self.texts.use_buttons))
        step = self.flow.step(state.current)
        value = self._parse(step, action, today)
        answers = {**state.answers, step.id: value}
        if state.editing:
            answers = self.relevant_answers(answers)
        following = self._next_step(answers)
        # An edit that makes a new question appear (format changed to "pluriannuel" asks the
        # duration) continues as a first pass, not as an edit: Back while editing jumps to the
        # summary, which would then lack that required answer and could still be confirmed.
        reminders, reasons = self._reminders(answers, state.reminded)
        new_state = replace(state, answers=answers, current=following, editing=False, reminded=state.reminded + reasons)
        return Turn(new_state, self.prompt(new_state), reminders=reminders)

    def _previous(self, state: FlowState) -> str | None:
        if state.current is None:
            candidates = [s.id for s in self.editable_steps(state)]
        else:
            position = self.flow.index(state.current)
            candidates = [s.id for s in self.flow.steps[:position] if s.id in state.answers]
        return candidates[-1] if candidates else None

    def _back(self, state: FlowState) -> Turn:
        if state.editing:
            back = replace(state, current=None, editing=False)
            return Turn(back, self.prompt(back))
        previous = self._previous(state)
        if previous is None:
            raise InvalidAnswer(Html(self.texts.cannot_go_back))
        answers = {k: v for k, v in state.answers.items() if k != previous}
        back = replace(state, answers=answers, current=previous)
        return Turn(back, self.prompt(back))

    def _reminders(
        self, answers: Mapping[str, Any], reminded: tuple[str, ...]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The practices to show for these answers, and the reasons (rules) they are shown for.

        A practice shows when one of its rules becomes true, again when another of its rules
        does, never twice for one rule; at most :data:`MAX_REMINDERS_PER_MESSAGE` at a time,
        in rule order. The rules of a practice left out stay unshown: they fire at the next
        answer. A bare practice id in ``reminded`` (sessions begun before reasons were kept)
        stands for all its rules.
        """
        shown: dict[str, list[str]] = {}
        for index in self.flow.triggered_rules(answers):
            practice, key = self.flow.practices[index].practice, reason(self.flow, index)
            if key in reminded or practice in reminded:
                continue
            if practice in shown or len(shown) < MAX_REMINDERS_PER_MESSAGE:
                shown.setdefault(practice, []).append(key)
        return tuple(shown), tuple(key for keys in shown.values() for key in keys)

    # parsing ---------------------------------------------------------------------------

    def _parse(self, step: Step, action: Text | Choose | Skip, today: date) -> Any:
        if isinstance(action, Skip):
            if step.skippable():
                return None
            raise step.refusal(self.texts.errors.required)
        return step.parse(action, self.texts, today)

    def parse_typed(self, step: Step, text: str, today: date) -> Any:
        """The value a typed answer gives ``step``, as if a member typed it; raises InvalidAnswer."""
        return step.parse(Text(text), self.texts, today)


def parse_date(text: str, months: Sequence[str]) -> date | None:
    """Read a date as members write it (15/03/2027, 15.03.27, 1er mars 2027); None if it is not one."""
    lowered = text.strip().casefold()
    if match := _NUMERIC_DATE.fullmatch(lowered):
        day, month, year = (int(part) for part in match.groups())
        return _make_date(year + 2000 if year < 100 else year, month, day)
    if match := _WORD_DATE.fullmatch(lowered):
        month_names = [m.casefold() for m in months]
        name = match.group(2)
        if name in month_names:
            return _make_date(int(match.group(3)), month_names.index(name) + 1, int(match.group(1)))
    return None


def parse_month(text: str, months: Sequence[str], month_words: Mapping[str, int]) -> tuple[int, int] | None:
    """Read a month and year (« mars 2027 », 03/2027, « rentrée 2027 »); None if it is not one."""
    lowered = text.strip().casefold()
    if match := _NUMERIC_MONTH.fullmatch(lowered):
        month, year = int(match.group(1)), int(match.group(2))
    elif match := _WORD_MONTH.fullmatch(lowered):
        names = {m.casefold(): i for i, m in enumerate(months, 1)} | {w.casefold(): m for w, m in month_words.items()}
        month, year = names.get(match.group(1), 0), int(match.group(2))
    else:
        return None
    return (year, month) if 1 <= month <= 12 and year >= 1 else None


def answer_day(value: str) -> date:
    """The day a date answer stands for: a month-precise one counts from its first day."""
    return date.fromisoformat(f"{value}-01" if _MONTH_ANSWER.fullmatch(value) else value)


def date_answer_text(value: str | None, texts: FlowTexts) -> str:
    """A date answer as members write it: 15/03/2027, « mars 2027 », or unknown."""
    if value is None:
        return texts.dates.unknown
    if _MONTH_ANSWER.fullmatch(value):
        day = answer_day(value)
        return texts.dates.month_year.format(month=texts.months[day.month - 1], year=day.year)
    return date.fromisoformat(value).strftime("%d/%m/%Y")


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
