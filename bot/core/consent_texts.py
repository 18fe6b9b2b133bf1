"""The model of ``conversations/consentement.yaml``: round defaults and every consent text.

Like ``messages.yaml``, each text is a template whose placeholders are declared here, so an
admin's typo is refused with its line when the files are loaded, never shown half-filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.core.consent_rules import OptionWords, Position, RoundOptions
from bot.core.flow_engine import Identifier
from bot.core.messages import Alert, Label
from bot.core.texts import Placeholders, Template

Words = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=20)], ...], Field(min_length=1)]


class _Texts(BaseModel):
    # Validators built by the first file validated, not when the classes are made: a start
    # whose library comes from its cache (bot/library_cache.py) validates none of them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class PositionText(_Texts):
    button: Label
    name: Label
    icon: Annotated[str, Field(min_length=1, max_length=8)]
    meaning: Template


class PositionTexts(_Texts):
    consent: PositionText
    reservation: PositionText
    objection: PositionText
    stand_aside: PositionText
    conflict: PositionText

    def of(self, position: Position) -> PositionText:
        text: PositionText = getattr(self, position.value)  # each position has its field
        return text


class LinkAnswers(_Texts):
    """Which answers of a request declare a link with the partner, and whose it is."""

    answer: Identifier | None = None  # a choice step: whose link it is
    author_values: tuple[Identifier, ...] = ()  # its values by which the author declares their own
    details: tuple[Identifier, ...] = ()  # answers describing the link: the first one given is shown

    def author_recused(self, answers: Mapping[str, Any]) -> bool:
        """Only the author's own declaration recuses the author (an older yes/no never does)."""
        return self.answer is not None and answers.get(self.answer) in self.author_values

    def described(self, answers: Mapping[str, Any]) -> str | None:
        return next((answers[name] for name in self.details if isinstance(answers.get(name), str)), None)


class OptionWordTexts(_Texts):
    duration: Words
    quorum: Words
    stand_aside: Words
    yes: Words
    no: Words
    reason: Words  # /consentement 12 motif …: an admin's reason for a new round on the same request

    @model_validator(mode="after")
    def _distinct(self) -> OptionWordTexts:
        names = [*self.duration, *self.quorum, *self.stand_aside, *self.reason]
        values = [*self.yes, *self.no]
        for word in names + values:
            if names.count(word) + values.count(word) > 1:
                raise PydanticCustomError("duplicate_word", "duplicate_word", {"word": word})
        return self

    def vocabulary(self) -> OptionWords:
        names = ("duration", "quorum", "stand_aside", "yes", "no")
        return OptionWords(**{name: tuple(w.casefold() for w in getattr(self, name)) for name in names})


class Subcommands(_Texts):
    """The words after /cercle and /coordination."""

    add: Words
    remove: Words
    join: Words


class ConsentCommands(_Texts):
    """Descriptions registered with Telegram for the consent commands."""

    cercle: Label
    coordination: Label
    consentement: Label
    clore: Label
    prolonger: Label
    relancer: Label
    bilan: Label
    modifier: Label
    retirer: Label
    decliner: Label


class Outcomes(_Texts):
    adopted: Label
    objection: Label
    no_decision: Label


class CloseReasons(_Texts):
    all_answered: Label
    deadline: Label
    early: Label
    withdrawn: Label


class CircleTexts(_Texts):
    roster: Annotated[str, Placeholders("count", "members")]
    empty: Template
    usage: Template
    admins_only: Template
    reply_needed: Annotated[str, Placeholders("command")]
    not_a_person: Template
    added: Annotated[str, Placeholders("member")]
    already: Annotated[str, Placeholders("member")]
    removed: Annotated[str, Placeholders("member")]
    not_member: Annotated[str, Placeholders("member")]
    join_request: Annotated[str, Placeholders("member")]
    join_pending: Annotated[str, Placeholders("member")]
    button_accept: Label
    button_refuse: Label
    join_accepted: Annotated[str, Placeholders("member", "admin")]
    join_refused: Annotated[str, Placeholders("member", "admin")]
    join_admins_only: Alert
    join_gone: Alert


class CoordinationTexts(_Texts):
    roster: Annotated[str, Placeholders("count", "members")]
    empty: Template
    usage: Template
    added: Annotated[str, Placeholders("member")]
    button_start: Label
    already: Annotated[str, Placeholders("member")]
    removed: Annotated[str, Placeholders("member")]
    not_member: Annotated[str, Placeholders("member")]
    unreachable: Annotated[str, Placeholders("admins", "coordinator")]


class RoundTexts(_Texts):
    open_button: Label
    question_button: Label
    header: Annotated[str, Placeholders("number", "partner", "round")]
    details: Annotated[str, Placeholders("number")]
    full_button: Label
    substance_line: Annotated[str, Placeholders("label", "answer")]
    declared_link: Annotated[str, Placeholders("who", "details")]
    declared_link_who: Annotated[str, Placeholders("who")]
    link_someone: Label  # a request filed before the flow asked whose link it is
    link_invite: Annotated[str, Placeholders("button")]
    rule_whole_circle: Annotated[str, Placeholders("counted")]
    rule_quorum: Annotated[str, Placeholders("needed", "counted")]
    reopen_reason: Annotated[str, Placeholders("admin", "reason")]
    legend_intro: Template
    legend_line: Annotated[str, Placeholders("icon", "meaning", "button")]
    deadline: Annotated[str, Placeholders("deadline")]
    tally_intro: Annotated[str, Placeholders("answered", "counted")]
    position_line: Annotated[str, Placeholders("icon", "member", "position")]
    position_line_reason: Annotated[str, Placeholders("icon", "member", "position", "reason")]
    waiting: Annotated[str, Placeholders("members")]
    # A large circle's tally, when naming everyone would pass Telegram's 4096 characters.
    position_count: Annotated[str, Placeholders("icon", "position", "count")]
    waiting_count: Annotated[str, Placeholders("count")]
    compact_note: Template
    nobody: str
    closed: Annotated[str, Placeholders("date", "reason", "outcome")]
    ellipsis: str
    date_format: Annotated[str, Field(min_length=2, max_length=40)]
    day_format: Annotated[str, Field(min_length=2, max_length=40)]
    ask_first: Annotated[str, Placeholders("members", "number", "changes")]
    ask_first_reason: Annotated[str, Placeholders("members", "number", "admin", "reason")]
    previous_objection: Annotated[str, Placeholders("member", "reason")]


class PromptTexts(_Texts):
    objection: Annotated[str, Placeholders("member", "number")]
    reservation: Annotated[str, Placeholders("member", "number")]
    question: Annotated[str, Placeholders("member", "number")]
    hint: Template
    placeholder: Label
    too_short: Annotated[str, Placeholders("min")]
    too_long: Annotated[str, Placeholders("max", "length")]
    round_closed: Template
    question_posted: Annotated[str, Placeholders("member", "author", "number", "question")]

    def ask(self, action: str) -> str:
        text: str = getattr(self, action)
        return text


class AlertTexts(_Texts):
    full_sent: Alert
    full_unreachable: Annotated[str, Placeholders("bot")]
    close_not_yours: Alert
    recorded: Annotated[str, Placeholders("position")]
    already: Alert
    reason_asked: Alert
    not_in_roster: Alert
    closed: Alert
    stale: Alert
    open_not_allowed: Alert


class CommandFeedback(_Texts):
    open_usage: Template
    number_usage: Annotated[str, Placeholders("command")]
    extend_usage: Template
    not_found: Annotated[str, Placeholders("number")]
    groups_only: Template
    open_not_allowed: Template
    already_open: Annotated[str, Placeholders("number")]
    cannot_open: Annotated[str, Placeholders("number", "status")]
    circle_empty: Template
    invalid_option: Annotated[str, Placeholders("option")]
    no_open_round: Annotated[str, Placeholders("number")]
    stewards_only: Template
    extended: Annotated[str, Placeholders("number", "days", "deadline")]
    reminder: Annotated[str, Placeholders("members", "number", "deadline")]
    nobody_to_remind: Annotated[str, Placeholders("number")]
    unchanged: Annotated[str, Placeholders("number")]
    reason_admins_only: Template
    close_silent: Annotated[str, Placeholders("number", "members", "outcome")]
    close_confirm: Label
    close_keep: Label
    close_kept: Annotated[str, Placeholders("number")]
    reopened: Annotated[str, Placeholders("number", "days", "deadline")]


class OutcomeTexts(_Texts):
    message: Annotated[str, Placeholders("number", "partner", "outcome")]
    reservations: Template
    objections: Template
    line: Annotated[str, Placeholders("member", "reason")]
    waiting: Annotated[str, Placeholders("members")]
    answers_partner: Annotated[str, Placeholders("member")]
    review: Annotated[str, Placeholders("date", "number")]
    withdrawn: Annotated[str, Placeholders("number")]
    hint_adopted: Annotated[str, Placeholders("number")]
    hint_objection: Annotated[str, Placeholders("number")]
    hint_no_decision: Annotated[str, Placeholders("number")]

    def hint(self, outcome: str) -> str:
        text: str = getattr(self, f"hint_{outcome}")
        return text


class SummaryTexts(_Texts):
    header: Annotated[str, Placeholders("group", "number", "round", "partner", "kind")]
    substance_line: Annotated[str, Placeholders("label", "answer")]
    outcome: Annotated[str, Placeholders("outcome", "reason")]
    dates: Annotated[str, Placeholders("opened", "opener", "deadline", "closed")]
    positions: Template
    position: Annotated[str, Placeholders("member", "position")]
    position_reason: Annotated[str, Placeholders("member", "position", "reason")]
    lifted: Annotated[str, Placeholders("members")]
    waiting: Annotated[str, Placeholders("members")]
    link: Annotated[str, Placeholders("link")]
    no_link: Template


class BilanTexts(_Texts):
    header: Annotated[str, Placeholders("group")]
    open_header: Template
    open_line: Annotated[
        str,
        Placeholders(
            "number", "partner", "round", "answered", "counted", "consents", "reservations", "objections", "deadline"
        ),
    ]
    no_open: Template
    decisions_header: Annotated[str, Placeholders("days")]
    decision_line: Annotated[str, Placeholders("number", "partner", "outcome", "date")]
    ended_line: Annotated[str, Placeholders("number", "partner", "status", "date")]
    no_decisions: Template
    more: Annotated[str, Placeholders("count")]
    nothing_private: Template


class AmendTexts(_Texts):
    usage: Template
    not_author: Annotated[str, Placeholders("number")]
    not_now: Annotated[str, Placeholders("number", "status")]
    round_open: Annotated[str, Placeholders("number")]
    busy: Template
    intro: Annotated[str, Placeholders("number")]
    done: Annotated[str, Placeholders("member", "number", "version", "changes")]
    change_line: Annotated[str, Placeholders("label", "before", "after")]
    no_change: Template
    cancelled: Annotated[str, Placeholders("number")]


class WithdrawTexts(_Texts):
    """/retirer: the author takes their request back."""

    usage: Template
    button: Label
    not_author: Annotated[str, Placeholders("number")]
    not_author_alert: Alert
    not_now: Annotated[str, Placeholders("number", "status")]
    done: Annotated[str, Placeholders("member", "number", "partner")]
    done_word: Annotated[str, Placeholders("member", "number", "partner", "word")]


class DeclineTexts(_Texts):
    """/decliner: the circle or an admin says no without a round."""

    usage: Template
    not_allowed: Template
    not_now: Annotated[str, Placeholders("number", "status")]
    round_open: Annotated[str, Placeholders("number")]
    done: Annotated[str, Placeholders("member", "number", "partner", "reason", "author")]
    status_with_reason: Annotated[str, Placeholders("status", "reason")]


class ConsentTexts(_Texts):
    """The whole ``consentement.yaml``."""

    defaults: RoundOptions
    reminder_hours: Annotated[int, Field(ge=0, le=24 * 30)] = 24
    links: LinkAnswers = LinkAnswers()
    # What the circle decides on, shown with the proposal and in the summaries (never an
    # answer the flow declares personal).
    substance_answers: tuple[Identifier, ...] = ()
    substance_preview_length: Annotated[int, Field(ge=20, le=1000)] = 300
    reason_min_length: Annotated[int, Field(ge=1, le=100)] = 3
    reason_max_length: Annotated[int, Field(ge=10, le=3000)] = 1000
    reason_preview_length: Annotated[int, Field(ge=10, le=1000)] = 160
    decisions_days: Annotated[int, Field(ge=1, le=366)] = 30
    option_words: OptionWordTexts
    subcommands: Subcommands
    commands: ConsentCommands
    positions: PositionTexts
    outcomes: Outcomes
    close_reasons: CloseReasons
    circle: CircleTexts
    coordination: CoordinationTexts
    round: RoundTexts
    prompts: PromptTexts
    alerts: AlertTexts
    commands_feedback: CommandFeedback
    outcome: OutcomeTexts
    summary: SummaryTexts
    bilan: BilanTexts
    amend: AmendTexts
    withdraw: WithdrawTexts
    decline: DeclineTexts
    schema_: str | None = Field(default=None, alias="$schema")

    @model_validator(mode="after")
    def _lengths(self) -> ConsentTexts:
        if self.reason_min_length > self.reason_max_length:
            raise PydanticCustomError("min_over_max", "min_over_max")
        return self
