"""The partner register: review-date rules, the CSV export and the texts of ``registre.yaml``.

Pure: the handlers, the job that posts follow-ups and ``python -m bot export`` feed these
functions with what the database holds and send or print what they return.

Review dates are calendar days of the group's time zone. An adopted partnership is looked at
again after its commitment length, but never more than ``max_months`` later: the core circle
is renewed, and the seed's "lightness in attachment" asks not to bind the group for years
without asking again. A one-off partnership gets one "how did it go?" a few days after its date.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.core.flow_engine import Flow, FlowEngine, Step, answer_day
from bot.core.messages import Alert, Label
from bot.core.statuses import RequestStatus
from bot.core.texts import Html, Placeholders, Template, escape, render

Months = Annotated[int, Field(ge=1, le=120)]


class Origin(StrEnum):
    """How an entry came into the register."""

    REQUEST = "request"  # filed with /partenariat, decided by consent
    KNOWN = "known"  # a partner the group already had, recorded as it is (no consent round)


# The flow each origin's entries are made with: the import reads it from the origin column.
FLOW_OF_ORIGIN = {Origin.REQUEST: "demande_partenariat", Origin.KNOWN: "partenaire_connu"}


class Standing(StrEnum):
    """The four families of status the register's picture colours: where a partnership stands."""

    CURRENT = "current"
    UNDER_REVIEW = "under_review"
    ENDED = "ended"
    DECLINED = "declined"


# Every request status in one place: an unknown one is under review.
STANDING_OF_STATUS: dict[str, Standing] = {
    RequestStatus.SUBMITTED: Standing.UNDER_REVIEW,
    RequestStatus.IN_CONSENT: Standing.UNDER_REVIEW,
    RequestStatus.OBJECTION: Standing.UNDER_REVIEW,
    RequestStatus.NO_DECISION: Standing.UNDER_REVIEW,
    RequestStatus.ADOPTED: Standing.CURRENT,
    RequestStatus.CURRENT: Standing.CURRENT,
    RequestStatus.ENDED: Standing.ENDED,
    RequestStatus.WITHDRAWN: Standing.DECLINED,
    RequestStatus.DECLINED: Standing.DECLINED,
}


def standing(status: str) -> Standing:
    return STANDING_OF_STATUS.get(status, Standing.UNDER_REVIEW)


REVIEW = "review"  # an ongoing partnership: continue, rediscuss or end it?
FOLLOW_UP = "follow_up"  # a one-off partnership: how did it go?
Outcome = Literal["continue", "rediscuss", "end"]
OUTCOMES: tuple[Outcome, ...] = ("continue", "rediscuss", "end")

# French Excel splits a .csv opened by double-click on ";" (its list separator, "," being
# the decimal mark) and reads it as UTF-8 only after a byte order mark; LibreOffice Calc
# detects both. Newlines inside answers stay inside their quoted cell in both.
CSV_DELIMITER = ";"
# A cell starting with one of these is a formula for spreadsheets: a member's answer must
# stay text ("=HYPERLINK(...)" would otherwise run when the circle opens the file).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewRules(_Model):
    """When follow-ups come, in months or days after the decision or the start date."""

    default_months: Months
    max_months: Months
    follow_up_days: Annotated[int, Field(ge=0, le=365)]
    rediscuss_months: Months

    @model_validator(mode="after")
    def _default_within_max(self) -> ReviewRules:
        if self.default_months > self.max_months:
            raise PydanticCustomError("min_over_max", "min_over_max")
        return self


class ListTexts(_Model):
    """/partenaires: the register, grouped by kind of partner."""

    header: Annotated[str, Placeholders("partners", "count", "page", "pages")]
    kind_heading: Annotated[str, Placeholders("kind")]
    line: Annotated[str, Placeholders("partner", "number", "status", "dates")]
    created: Annotated[str, Placeholders("date")]
    decided: Annotated[str, Placeholders("date")]
    review: Annotated[str, Placeholders("date")]
    rediscuss: Template
    separator: str
    empty: Template
    button_previous: Label
    button_next: Label


class ExportColumns(_Model):
    """Headers of the CSV columns that are not answers (those are the flow's step labels)."""

    number: Label
    origin: Label
    status: Label
    author: Label
    created: Label
    decided: Label
    review: Label
    last_review: Label
    with_unit: Annotated[str, Placeholders("label", "unit")]


class ExportTexts(_Model):
    """/export and ``python -m bot export``."""

    columns: ExportColumns
    file_name: Annotated[str, Placeholders("date")]
    caption: Annotated[str, Placeholders("group", "count")]
    sent_private: Annotated[str, Placeholders("member")]
    open_private: Annotated[str, Placeholders("member")]
    button_open_private: Label
    not_allowed: Template
    last_review: Annotated[str, Placeholders("outcome", "date")]
    cli_empty: str
    cli_no_database: str


class FollowUpTexts(_Model):
    """The follow-up posted on a review date, its buttons and what a press leaves on it."""

    review: Annotated[str, Placeholders("number", "partner", "kind", "decided", "lines")]
    follow_up: Annotated[str, Placeholders("number", "partner", "kind", "decided", "lines")]
    buttons: dict[Outcome, Label]
    done_continue: Annotated[str, Placeholders("member", "date")]
    done_rediscuss: Annotated[str, Placeholders("member", "date")]
    done_end: Annotated[str, Placeholders("member")]
    outcomes: dict[Outcome, Label]  # in the register and the CSV: what the last follow-up said
    not_allowed: Alert
    stale: Alert

    @model_validator(mode="after")
    def _every_outcome(self) -> FollowUpTexts:
        for labels in (self.buttons, self.outcomes):
            missing = [outcome for outcome in OUTCOMES if outcome not in labels]
            if missing:
                raise PydanticCustomError("missing_outcome", "missing_outcome", {"missing": ", ".join(missing)})
        return self


class RevisionTexts(_Model):
    """/revision N [date]: show or change the next review date of a partnership."""

    usage: Template
    not_found: Annotated[str, Placeholders("number")]
    not_adopted: Annotated[str, Placeholders("number", "status")]
    current: Annotated[str, Placeholders("number", "partner", "date")]
    none: Annotated[str, Placeholders("number", "partner")]
    changed: Annotated[str, Placeholders("number", "partner", "date")]
    invalid_date: Template
    past_date: Template
    not_allowed: Template


class KnownTexts(_Model):
    """/partenaire_connu: a partner recorded without a consent round, and how it is marked."""

    recorded: Annotated[str, Placeholders("title", "number", "lines", "author")]
    recorded_in_group: Annotated[str, Placeholders("number", "group")]  # told in private, where it was recorded
    status: Annotated[str, Placeholders("status")]
    origins: dict[Origin, Label]

    @model_validator(mode="after")
    def _every_origin(self) -> KnownTexts:
        missing = [origin.value for origin in Origin if origin not in self.origins]
        if missing:
            raise PydanticCustomError("missing_outcome", "missing_outcome", {"missing": ", ".join(missing)})
        return self


class PictureTexts(_Model):
    """The picture sent with /partenaires."""

    title: Annotated[str, Placeholders("group")]
    subtitle: Annotated[str, Placeholders("partners", "count", "date")]
    standings: dict[Standing, Label]
    span_between: Annotated[str, Placeholders("start", "end")]
    span_since: Annotated[str, Placeholders("start")]
    span_until: Annotated[str, Placeholders("end")]
    span_unknown: str
    more: Annotated[str, Placeholders("count")]
    file_name: Annotated[str, Placeholders("date")]
    caption: Annotated[str, Placeholders("partners")]

    @model_validator(mode="after")
    def _every_standing(self) -> PictureTexts:
        missing = [standing.value for standing in Standing if standing not in self.standings]
        if missing:
            raise PydanticCustomError("missing_outcome", "missing_outcome", {"missing": ", ".join(missing)})
        return self


class CalendarTexts(_Model):
    """/calendrier: the .ics file of deadlines and review dates."""

    name: Annotated[str, Placeholders("group")]
    deadline_summary: Annotated[str, Placeholders("number", "partner")]
    deadline_description: Annotated[str, Placeholders("number", "partner", "group")]
    review_summary: Annotated[str, Placeholders("number", "partner")]
    follow_up_summary: Annotated[str, Placeholders("number", "partner")]
    review_description: Annotated[str, Placeholders("number", "partner", "group")]
    in_group: Annotated[str, Placeholders("group", "summary")]  # an event's summary in a file of several groups
    file_name: Annotated[str, Placeholders("date")]
    caption: Annotated[str, Placeholders("group", "count")]
    empty: Template
    no_group: Template  # /calendrier in private, by a member of none of the bot's groups
    sent_private: Annotated[str, Placeholders("member")]
    open_private: Annotated[str, Placeholders("member")]


class ImportTexts(_Model):
    """``python -m bot import``: what it refused, line by line, and what it did."""

    line: Annotated[str, Placeholders("line", "reason")]
    missing_columns: Annotated[str, Placeholders("columns")]
    unknown_value: Annotated[str, Placeholders("column", "value", "expected")]
    invalid_answer: Annotated[str, Placeholders("column", "reason")]
    missing_answer: Annotated[str, Placeholders("column")]
    invalid_day: Annotated[str, Placeholders("column", "value")]
    not_a_request_flow: Annotated[str, Placeholders("flow")]
    refused: Annotated[str, Placeholders("count")]
    done: Annotated[str, Placeholders("count", "chat")]
    already_there: Annotated[str, Placeholders("count")]
    empty: str
    unreadable: Annotated[str, Placeholders("error")]
    author: Label
    quoted: Annotated[str, Placeholders("value")]
    last_review_expected: str


class RegisterTexts(_Model):
    """The whole ``registre.yaml``."""

    rules: ReviewRules
    partners: ListTexts
    export: ExportTexts
    follow_up: FollowUpTexts
    revision: RevisionTexts
    known: KnownTexts
    picture: PictureTexts
    calendar: CalendarTexts
    import_: ImportTexts = Field(alias="import")
    schema_: str | None = Field(default=None, alias="$schema")


# --- review dates ------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day (31 January + 1 → 28/29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def interval_months(flow: Flow, answers: Mapping[str, Any], rules: ReviewRules) -> int:
    """Months between two reviews: the commitment length if answered, within the rules' maximum."""
    field = flow.partner_fields.length_months
    length = answers.get(field) if field else None
    return min(length if isinstance(length, int) and length > 0 else rules.default_months, rules.max_months)


def first_review(flow: Flow, answers: Mapping[str, Any], decided_on: date, rules: ReviewRules) -> tuple[str, date]:
    """The kind and date of an adopted request's first follow-up.

    Counted from its start date when that is later than the decision: a partnership decided
    in May that starts in September is reviewed a year after September. A start known to the
    month counts from its first day; one not fixed yet counts from the decision.
    """
    field = flow.partner_fields.start_date
    start = answers.get(field) if field else None
    base = max(decided_on, answer_day(start)) if isinstance(start, str) else decided_on
    one_off = flow.partner_fields.one_off
    if one_off is not None and one_off.evaluate(answers) is True:
        return FOLLOW_UP, base + timedelta(days=rules.follow_up_days)
    return REVIEW, add_months(base, interval_months(flow, answers, rules))


def known_status(flow: Flow, answers: Mapping[str, Any]) -> RequestStatus:
    """A known partner's status: ended when its flow's ``ended`` condition says so, else current."""
    ended = flow.partner_fields.ended
    return RequestStatus.ENDED if ended is not None and ended.evaluate(answers) is True else RequestStatus.CURRENT


_STATUSES = frozenset(RequestStatus)  # a status of a newer bot's database shows as it is stored


def status_text(statuses: Mapping[RequestStatus, str], status: str, origin: str, texts: KnownTexts) -> Html:
    """A status as the register shows it, marked when the entry had no consent round."""
    label = statuses.get(RequestStatus(status), status) if status in _STATUSES else status
    return render(texts.status, status=label) if origin == Origin.KNOWN else escape(label)


def next_review(
    outcome: Outcome, flow: Flow, answers: Mapping[str, Any], today: date, rules: ReviewRules
) -> date | None:
    """The next review date after a follow-up was answered; None when the partnership ends."""
    if outcome == "end":
        return None
    if outcome == "rediscuss":
        return add_months(today, rules.rediscuss_months)
    return add_months(today, interval_months(flow, answers, rules))


def latest_due(now: datetime, post_hour: int) -> date:
    """The latest review date whose follow-up may be posted at ``now`` (local time).

    Follow-ups of the day wait for ``post_hour``: a group's phones should not ring at midnight.
    """
    return now.date() if now.hour >= post_hour else now.date() - timedelta(days=1)


def local_day(stamp: str, zone: tzinfo) -> date:
    """The group's calendar day of a UTC timestamp from the database."""
    return datetime.fromisoformat(stamp).astimezone(zone).date()


def day_text(day: date | str | None) -> str:
    """A day as French members write it (15/03/2027); an ISO day from the database too."""
    if day is None:
        return ""
    return (date.fromisoformat(day) if isinstance(day, str) else day).strftime("%d/%m/%Y")


# --- the CSV export ----------------------------------------------------------------------


def answer_columns(flows: Iterable[Flow]) -> list[Step]:
    """One column per step id, in flow order; a step only older versions had comes after."""
    columns: dict[str, Step] = {}
    for flow in flows:
        for step in flow.steps:
            columns.setdefault(step.id, step)
    return list(columns.values())


def answer_header(step: Step, columns: ExportColumns) -> str:
    """A step's label, with its unit when the cells hold bare numbers ("Durée (mois)")."""
    unit = step.cell_unit()
    return columns.with_unit.format(label=step.label, unit=unit) if unit else step.label


def answer_cells(engine: FlowEngine, columns: Sequence[Step], answers: Mapping[str, Any]) -> list[object]:
    """A request's answers as cells, read through its own flow version's steps and labels."""
    steps = {step.id: step for step in engine.flow.steps}
    cells: list[object] = []
    for column in columns:
        step, value = steps.get(column.id), answers.get(column.id)
        cells.append(None if step is None or value is None else step.export_cell(value, engine.texts))
    return cells


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def cell_text(cell: str) -> str:
    """A cell as the member typed it: the formula guard :func:`csv_document` added is taken off."""
    cell = cell.strip()
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def read_csv(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header of a CSV file and its rows, each with its line number and its cells by header.

    What the export writes (UTF-8 with a BOM, ``;``) and what spreadsheets save: UTF-8 without
    a BOM or Windows-1252 (Excel's « CSV (séparateur : point-virgule) » in French), ``;``,
    ``,`` or tabs. Raises ValueError when the file is not text.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252")  # raises on the few bytes it leaves undefined
    if "\x00" in text:
        raise ValueError("NUL")
    first = text.split("\n", 1)[0]
    delimiter = max((CSV_DELIMITER, ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    found: list[tuple[int, dict[str, str]]] = []
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            found.append((start, dict(zip(header, cells, strict=False))))
        start = reader.line_num + 1
    return header, found


def csv_document(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV file for spreadsheets: UTF-8 with a byte order mark, ``;``-separated, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow([_cell(name) for name in header])
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")
