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
from bot.core.texts import Template

Words = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=20)], ...], Field(min_length=1)]


class _Texts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PositionText(_Texts):
    button: Label
    name: Label
    icon: Annotated[str, Field(min_length=1, max_length=8)]
    meaning: Template()


class PositionTexts(_Texts):
    consent: PositionText
    reservation: PositionText
    objection: PositionText
    stand_aside: PositionText
    conflict: PositionText

    def of(self, position: Position) -> PositionText:
        return getattr(self, position.value)


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
    roster: Template("count", "members")
    empty: Template()
    usage: Template()
    admins_only: Template()
    reply_needed: Template("command")
    not_a_person: Template()
    added: Template("member")
    already: Template("member")
    removed: Template("member")
    not_member: Template("member")
    join_request: Template("member")
    join_pending: Template("member")
    button_accept: Label
    button_refuse: Label
    join_accepted: Template("member", "admin")
    join_refused: Template("member", "admin")
    join_admins_only: Alert
    join_gone: Alert


class CoordinationTexts(_Texts):
    roster: Template("count", "members")
    empty: Template()
    usage: Template()
    added: Template("member")
    button_start: Label
    already: Template("member")
    removed: Template("member")
    not_member: Template("member")
    unreachable: Template("admins", "coordinator")


class RoundTexts(_Texts):
    open_button: Label
    question_button: Label
    header: Template("number", "partner", "round")
    details: Template("number")
    full_button: Label
    substance_line: Template("label", "answer")
    declared_link: Template("who", "details")
    declared_link_who: Template("who")
    link_someone: Label  # a request filed before the flow asked whose link it is
    link_invite: Template("button")
    rule_whole_circle: Template("counted")
    rule_quorum: Template("needed", "counted")
    reopen_reason: Template("admin", "reason")
    legend_intro: Template()
    legend_line: Template("icon", "meaning", "button")
    deadline: Template("deadline")
    tally_intro: Template("answered", "counted")
    position_line: Template("icon", "member", "position")
    position_line_reason: Template("icon", "member", "position", "reason")
    waiting: Template("members")
    # A large circle's tally, when naming everyone would pass Telegram's 4096 characters.
    position_count: Template("icon", "position", "count")
    waiting_count: Template("count")
    compact_note: Template()
    nobody: str
    closed: Template("date", "reason", "outcome")
    ellipsis: str
    date_format: Annotated[str, Field(min_length=2, max_length=40)]
    day_format: Annotated[str, Field(min_length=2, max_length=40)]
    ask_first: Template("members", "number", "changes")
    ask_first_reason: Template("members", "number", "admin", "reason")
    previous_objection: Template("member", "reason")


class PromptTexts(_Texts):
    objection: Template("member", "number")
    reservation: Template("member", "number")
    question: Template("member", "number")
    hint: Template()
    placeholder: Label
    too_short: Template("min")
    too_long: Template("max", "length")
    round_closed: Template()
    question_posted: Template("member", "author", "number", "question")

    def ask(self, action: str) -> str:
        return getattr(self, action)


class AlertTexts(_Texts):
    full_sent: Alert
    full_unreachable: Template("bot")
    close_not_yours: Alert
    recorded: Template("position")
    already: Alert
    reason_asked: Alert
    not_in_roster: Alert
    closed: Alert
    stale: Alert
    open_not_allowed: Alert


class CommandFeedback(_Texts):
    open_usage: Template()
    number_usage: Template("command")
    extend_usage: Template()
    not_found: Template("number")
    groups_only: Template()
    open_not_allowed: Template()
    already_open: Template("number")
    cannot_open: Template("number", "status")
    circle_empty: Template()
    invalid_option: Template("option")
    no_open_round: Template("number")
    stewards_only: Template()
    extended: Template("number", "days", "deadline")
    reminder: Template("members", "number", "deadline")
    nobody_to_remind: Template("number")
    unchanged: Template("number")
    reason_admins_only: Template()
    close_silent: Template("number", "members", "outcome")
    close_confirm: Label
    close_keep: Label
    close_kept: Template("number")
    reopened: Template("number", "days", "deadline")


class OutcomeTexts(_Texts):
    message: Template("number", "partner", "outcome")
    reservations: Template()
    objections: Template()
    line: Template("member", "reason")
    waiting: Template("members")
    answers_partner: Template("member")
    review: Template("date", "number")
    withdrawn: Template("number")
    hint_adopted: Template("number")
    hint_objection: Template("number")
    hint_no_decision: Template("number")

    def hint(self, outcome: str) -> str:
        return getattr(self, f"hint_{outcome}")


class SummaryTexts(_Texts):
    header: Template("group", "number", "round", "partner", "kind")
    substance_line: Template("label", "answer")
    outcome: Template("outcome", "reason")
    dates: Template("opened", "opener", "deadline", "closed")
    positions: Template()
    position: Template("member", "position")
    position_reason: Template("member", "position", "reason")
    lifted: Template("members")
    waiting: Template("members")
    link: Template("link")
    no_link: Template()


class BilanTexts(_Texts):
    header: Template("group")
    open_header: Template()
    open_line: Template(
        "number", "partner", "round", "answered", "counted", "consents", "reservations", "objections", "deadline"
    )
    no_open: Template()
    decisions_header: Template("days")
    decision_line: Template("number", "partner", "outcome", "date")
    ended_line: Template("number", "partner", "status", "date")
    no_decisions: Template()
    more: Template("count")
    nothing_private: Template()


class AmendTexts(_Texts):
    usage: Template()
    not_author: Template("number")
    not_now: Template("number", "status")
    round_open: Template("number")
    busy: Template()
    intro: Template("number")
    done: Template("member", "number", "version", "changes")
    change_line: Template("label", "before", "after")
    no_change: Template()
    cancelled: Template("number")


class WithdrawTexts(_Texts):
    """/retirer: the author takes their request back."""

    usage: Template()
    button: Label
    not_author: Template("number")
    not_author_alert: Alert
    not_now: Template("number", "status")
    done: Template("member", "number", "partner")
    done_word: Template("member", "number", "partner", "word")


class DeclineTexts(_Texts):
    """/decliner: the circle or an admin says no without a round."""

    usage: Template()
    not_allowed: Template()
    not_now: Template("number", "status")
    round_open: Template("number")
    done: Template("member", "number", "partner", "reason", "author")
    status_with_reason: Template("status", "reason")


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
