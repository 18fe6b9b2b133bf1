"""``python -m bot import``: a list of partners loaded into a chat's register, all or nothing.

The file has the export's own columns (:mod:`bot.export`): an answer column per question
headed by its label, then origin, status, author and dates. Every line is read as if a member
typed its answers into the flow of its origin (a request, or a known partner when the
origin column is missing or says so), so an import holds nothing the bot would have
refused. Any refused line and nothing is written; the whole file goes in one transaction.
The export re-imported gives the same register: same answers, statuses, dates and review_dates.

Importing a file again adds nothing: a line is left out when the register already holds its
partner, that is a request of the chat with the same partner name (case and spacing aside)
and the same partner kind, filed the day the line's « Déposée le » column gives; a line
without that day (a list made by hand) matches such a request filed any day. The lines of
one file are not compared with each other: an export can hold the same partner twice (a
request declined, then the partner known), and re-imported it must give both.
"""

from __future__ import annotations

import csv
import html
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from bot.catalog import FlowCatalog
from bot.core.flow_engine import FlowEngine, InvalidAnswer
from bot.core.register_rules import (
    FLOW_OF_ORIGIN,
    OUTCOMES,
    Origin,
    RegisterTexts,
    answer_header,
    cell_text,
    first_review,
    known_status,
    local_day,
    read_csv,
)
from bot.core.statuses import RequestStatus
from bot.storage import requests, review_dates
from bot.storage.db import Database

_DAY = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
# A date before any future_only limit: a register holds the past too.
_NO_LIMIT = date.min


class Refused(Exception):
    """What is wrong with one line, in French."""


@dataclass(frozen=True)
class Entry:
    """One line, checked: what the register will hold."""

    origin: Origin
    flow_id: str
    flow_version: int
    status: str
    author_name: str
    answers: dict[str, Any]
    partner_name: str
    partner_kind: str
    created_on: date | None  # the day the line gives, in the group's time zone
    created_at: str | None
    decided_at: str | None
    review_on: date | None
    review_kind: str
    last_outcome: str | None
    last_on: date | None


@dataclass(frozen=True)
class Report:
    imported: int
    refusals: tuple[str, ...] = ()  # « ligne 3 : ... », one per refused line
    problem: str | None = None  # the whole file is refused: unreadable, a column missing, empty
    already_there: int = 0  # lines whose partner the register held before: left out


def _partner(name: str) -> str:
    """A partner's name as lines are compared: case and spacing aside."""
    return " ".join(name.split()).casefold()


def _already_there(
    connection: sqlite3.Connection, chat_id: int, zone: tzinfo
) -> tuple[set[tuple[str, str]], set[tuple[str, str, date]]]:
    """The partners the chat's register holds: by name and kind, and by name, kind and day created."""
    anyday, on_day = set(), set()
    for name, kind, created_at in requests.partners(connection, chat_id):
        anyday.add((_partner(name), kind))
        on_day.add((_partner(name), kind, local_day(created_at, zone)))
    return anyday, on_day


def _moment(day: date, zone: tzinfo) -> str:
    """A day of the group as a UTC timestamp its register shows as that day (noon, never at a border)."""
    return datetime.combine(day, time(12), zone).astimezone(UTC).isoformat(timespec="seconds")


class _Reader:
    """Reads one line after another against the flows and texts of the library."""

    def __init__(
        self,
        texts: RegisterTexts,
        statuses: Mapping[RequestStatus, str],
        engines: Mapping[Origin, tuple[int, FlowEngine]],
    ):
        self.texts = texts
        self.columns = texts.export.columns
        self.engines = engines
        self.origins = {label.casefold(): origin for origin, label in texts.known.origins.items()}
        self.statuses = {label.casefold(): status for status, label in statuses.items()}
        self.outcomes = {texts.follow_up.outcomes[o].casefold(): o for o in OUTCOMES}
        # « continué le 02/05/2027 »: the export's own template, read back.
        pattern = re.escape(texts.export.last_review).replace(r"\{outcome\}", "(?P<outcome>.+?)")
        self.last_review = re.compile(pattern.replace(r"\{date\}", r"(?P<date>\d{2}/\d{2}/\d{4})"))

    def quoted(self, values: list[str]) -> str:
        return ", ".join(self.texts.import_.quoted.format(value=value) for value in values)

    def missing_columns(self, header: list[str]) -> list[str]:
        """Headers without which no line can be read: each flow's partner and kind."""
        needed = []
        for _, engine in self.engines.values():
            fields = engine.flow.partner_fields
            for step_id in (fields.partner, fields.kind):
                name = answer_header(engine.flow.step(step_id), self.columns)
                if name not in header and name not in needed:
                    needed.append(name)
        return needed

    def _choose(self, column: str, value: str, known: Mapping[str, Any], labels: list[str]) -> Any:
        if value.casefold() not in known:
            raise Refused(
                self.texts.import_.unknown_value.format(column=column, value=value, expected=self.quoted(labels))
            )
        return known[value.casefold()]

    def _day(self, column: str, value: str) -> date | None:
        """A JJ/MM/AAAA cell as the export writes its dates; None when empty."""
        if not value:
            return None
        if match := _DAY.fullmatch(value):
            try:
                return date(int(match[3]), int(match[2]), int(match[1]))
            except ValueError:
                pass
        raise Refused(self.texts.import_.invalid_day.format(column=column, value=value))

    def _answers(self, engine: FlowEngine, cells: Mapping[str, str]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        errors = self.texts.import_
        for step in engine.flow.steps:
            if step.when is not None and step.when.evaluate(answers) is not True:
                continue  # a question this line's earlier answers do not ask
            column = answer_header(step, self.columns)
            value = cell_text(cells.get(column) or "")
            if not value:
                if not step.skippable():
                    raise Refused(errors.missing_answer.format(column=column))
                answers[step.id] = None
                continue
            try:
                answers[step.id] = engine.parse_typed(step, value, _NO_LIMIT)
            except InvalidAnswer as invalid:
                # A member is told to use the buttons; a file's author needs the labels to write.
                if labels := [answer.label for answer in step.buttons(engine.texts)]:
                    raise Refused(
                        errors.unknown_value.format(column=column, value=value, expected=self.quoted(labels))
                    ) from None
                raise Refused(
                    errors.invalid_answer.format(column=column, reason=html.unescape(invalid.message))
                ) from None
        return answers

    def entry(self, cells: Mapping[str, str], zone: tzinfo, today: date) -> Entry:
        columns = self.columns
        labels = self.texts.known.origins
        origin_cell = cell_text(cells.get(columns.origin) or "")
        origin = (
            self._choose(columns.origin, origin_cell, self.origins, list(labels.values()))
            if origin_cell
            else Origin.KNOWN  # a list of partners made by hand
        )
        version, engine = self.engines[origin]
        flow = engine.flow
        answers = self._answers(engine, cells)
        status_cell = cell_text(cells.get(columns.status) or "")
        if status_cell:
            status = self._choose(columns.status, status_cell, self.statuses, list(self.statuses))
        else:
            status = known_status(flow, answers) if origin is Origin.KNOWN else RequestStatus.SUBMITTED
        created = self._day(columns.created, cell_text(cells.get(columns.created) or ""))
        decided = self._day(columns.decided, cell_text(cells.get(columns.decided) or ""))
        review_on = self._day(columns.review, cell_text(cells.get(columns.review) or ""))
        last_outcome = last_on = None
        last_cell = cell_text(cells.get(columns.last_review) or "")
        if last_cell:
            match = self.last_review.fullmatch(last_cell)
            if match is None:
                raise Refused(
                    self.texts.import_.unknown_value.format(
                        column=columns.last_review, value=last_cell, expected=self.texts.import_.last_review_expected
                    )
                )
            last_outcome = self._choose(
                columns.last_review, match["outcome"], self.outcomes, list(self.texts.follow_up.outcomes.values())
            )
            last_on = self._day(columns.last_review, match["date"])
        review_kind, _ = first_review(flow, answers, decided or today, self.texts.rules)
        return Entry(
            origin=origin,
            flow_id=flow.id,
            flow_version=version,
            status=status,
            author_name=cell_text(cells.get(columns.author) or "") or self.texts.import_.author,
            answers=answers,
            partner_name=answers[flow.partner_fields.partner],
            partner_kind=answers[flow.partner_fields.kind],
            created_on=created,
            created_at=_moment(created, zone) if created else None,
            decided_at=_moment(decided, zone) if decided else None,
            review_on=review_on,
            review_kind=review_kind,
            last_outcome=last_outcome,
            last_on=last_on,
        )


async def import_register(
    database: Database,
    catalog: FlowCatalog,
    zone: tzinfo,
    chat_id: int,
    content: bytes,
    today: date,
) -> Report:
    """Check every line of a CSV file, then store them all in one transaction, or none."""
    library = catalog.library
    texts = library.register.import_
    engines = {origin: await catalog.active(flow_id, chat_id) for origin, flow_id in FLOW_OF_ORIGIN.items()}
    reader = _Reader(library.register, library.messages.requests.statuses, engines)
    try:
        header, lines = read_csv(content)
    except (ValueError, csv.Error) as error:  # UnicodeDecodeError is a ValueError
        return Report(0, problem=texts.unreadable.format(error=error))
    missing = reader.missing_columns(header)
    if missing:
        return Report(0, problem=texts.missing_columns.format(columns=reader.quoted(missing)))
    if not lines:
        return Report(0, problem=texts.empty)
    entries: list[Entry] = []
    refusals: list[str] = []
    for number, cells in lines:
        try:
            entries.append(reader.entry(cells, zone, today))
        except Refused as refused:
            refusals.append(texts.line.format(line=number, reason=refused))
    if refusals:
        return Report(0, tuple(refusals))

    def store(connection: sqlite3.Connection) -> int:
        anyday, on_day = _already_there(connection, chat_id, zone)
        fresh = [
            entry
            for entry in entries
            if (
                (_partner(entry.partner_name), entry.partner_kind, entry.created_on) not in on_day
                if entry.created_on is not None
                else (_partner(entry.partner_name), entry.partner_kind) not in anyday
            )
        ]
        for entry in fresh:
            stored = requests.create(
                connection,
                chat_id=chat_id,
                author_id=0,
                author_name=entry.author_name,
                flow_id=entry.flow_id,
                flow_version=entry.flow_version,
                partner_name=entry.partner_name,
                partner_kind=entry.partner_kind,
                answers=entry.answers,
                status=RequestStatus(entry.status),
                origin=entry.origin,
                created_at=entry.created_at,
                decided_at=entry.decided_at,
            )
            requests.mark_imported(connection, stored.id)
            review_dates.restore(
                connection,
                stored.id,
                entry.review_kind,
                due_on=entry.review_on,
                last_outcome=entry.last_outcome,
                last_on=entry.last_on,
                answered_at=_moment(entry.last_on, zone) if entry.last_on else None,
                answered_by_name=entry.author_name,
            )
        return len(fresh)

    imported = await database.write(store)
    return Report(imported, already_there=len(entries) - imported)
