"""The register's picture, laid out: which rows, texts, years and colours, but no drawing.

Pure, so what the picture says is unit-tested without an image; ``bot/picture.py`` draws
this layout with Pillow. Every partner of the group takes one row under its kind's
heading: its name, its years and its status, and a bar over the years it covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.core.register_rules import PictureTexts, Standing

# Telegram shrinks a photo to 2,560 pixels on its long side: up to this many rows its text
# stays readable on a phone; a taller register goes as a PNG file, which is kept as drawn.
PHOTO_ROWS = 40
# Past this many rows (kinds and partners) the picture says how many more there are; the
# message lists them all. It keeps the file a few megabytes.
MAX_ROWS = 150
# Characters of a row's line (name · years · status) that fit the picture's width; the
# name is cut to leave room for the rest. A group's name in the title gets as many.
LINE_LENGTH = 62
SHORTEST_NAME = 16


@dataclass(frozen=True)
class PictureEntry:
    """One entry of the register, as the picture needs it."""

    kind: str  # the kind's label, as the entry's flow words it
    partner: str
    status: str  # the entry's status label (« terminée », « déclinée »...)
    standing: Standing
    start: date | None  # None: not known
    end: date | None  # None: still going (current), or not known


@dataclass(frozen=True)
class Heading:
    row: int
    text: str


@dataclass(frozen=True)
class Bar:
    row: int
    text: str  # « Weleda · 2019–2023 · terminée »
    standing: Standing
    first_year: int | None  # None: no bar, the years are unknown
    last_year: int | None


@dataclass(frozen=True)
class Layout:
    title: str
    subtitle: str
    headings: tuple[Heading, ...]
    bars: tuple[Bar, ...]
    legend: tuple[tuple[Standing, str], ...]
    first_year: int
    last_year: int
    more: str | None  # « … et 12 autre(s) » when rows were left out

    @property
    def rows(self) -> int:
        return len(self.headings) + len(self.bars)

    @property
    def fits_a_photo(self) -> bool:
        return self.rows <= PHOTO_ROWS


def _years(entry: PictureEntry, this_year: int) -> tuple[int | None, int | None]:
    start = entry.start.year if entry.start else None
    end: int | None
    if entry.end is not None:
        end = entry.end.year
    elif entry.standing is Standing.CURRENT:
        end = this_year
    else:
        end = start
    if start is None and entry.standing is not Standing.CURRENT:
        start = end  # an end without a start: one year's mark rather than nothing
    if start is not None and end is not None and end < start:
        start, end = end, start
    return start, end


def _span(entry: PictureEntry, texts: PictureTexts) -> str:
    start = entry.start.year if entry.start else None
    end = entry.end.year if entry.end else None
    if entry.standing is Standing.CURRENT and end is None:
        return texts.span_since.format(start=start) if start else texts.span_unknown
    if start and end:
        return str(start) if start == end else texts.span_between.format(start=start, end=end)
    if end:
        until: str = texts.span_until.format(end=end)  # a Template field: mypy sees Any
        return until
    if start:
        return str(start)
    return texts.span_unknown


def _bar(entry: PictureEntry, row: int, today: date, texts: PictureTexts, years: list[int]) -> Bar:
    """One partner's row; its known years join ``years``, the span of the axis."""
    first, last = _years(entry, today.year)
    years += [year for year in (first, last) if year is not None]
    detail = f"{_span(entry, texts)} · {entry.status}"
    name = _cut(entry.partner, max(SHORTEST_NAME, LINE_LENGTH - len(detail) - 3))
    return Bar(row, f"{name} · {detail}", entry.standing, first, last)


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def layout(
    entries: Iterable[PictureEntry],
    texts: PictureTexts,
    *,
    group: str,
    today: date,
    partners: int,
    total: int | None = None,
    max_rows: int = MAX_ROWS,
) -> Layout:
    """Rows grouped by kind (kinds and partners in the order given), each partner with its years
    and status; at most ``max_rows`` rows, headings included. ``total``: the register's entries,
    when only the first ones are given."""
    kept = list(entries)
    total = len(kept) if total is None else total
    by_kind: dict[str, list[PictureEntry]] = {}
    for entry in kept:
        by_kind.setdefault(entry.kind, []).append(entry)
    headings: list[Heading] = []
    bars: list[Bar] = []
    years: list[int] = [today.year]
    for kind, members in by_kind.items():
        if len(headings) + len(bars) + 2 > max_rows:  # a heading needs one partner under it
            break
        headings.append(Heading(len(headings) + len(bars), kind))
        for entry in members[: max_rows - len(headings) - len(bars)]:
            bars.append(_bar(entry, len(headings) + len(bars), today, texts, years))
    left_out = total - len(bars)
    return Layout(
        title=_cut(texts.title.format(group=group), LINE_LENGTH - 14),  # a bigger font
        subtitle=texts.subtitle.format(partners=partners, count=total, date=today.strftime("%d/%m/%Y")),
        headings=tuple(headings),
        bars=tuple(bars),
        legend=tuple((standing, texts.standings[standing]) for standing in Standing),
        first_year=min(years),
        last_year=max(years),
        more=texts.more.format(count=left_out) if left_out else None,
    )
