"""The register's picture: every partner of a group in one PNG, drawn with matplotlib.

matplotlib is imported on the first picture, not at start-up (it takes about half a second),
and a picture is drawn in a worker thread: the figure is a local ``Figure`` on the Agg
canvas, never pyplot's shared state, so drawing does not block the bot's event loop.
"""

from __future__ import annotations

import asyncio
import html
import io
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date, tzinfo

from bot.catalog import FlowCatalog
from bot.core.flow_engine import answer_day
from bot.core.library import Library
from bot.core.picture_layout import MAX_ROWS, Layout, PictureEntry, layout
from bot.core.register_rules import Origin, Standing, local_day, standing
from bot.core.statuses import RequestStatus
from bot.storage import register_rows
from bot.storage.register_rows import RegisterEntry

COLOURS = {
    Standing.CURRENT: "#2e7d32",
    Standing.UNDER_REVIEW: "#f9a825",
    Standing.ENDED: "#8d8d8d",
    Standing.DECLINED: "#c62828",
}
WIDTH_INCHES = 6.0
DPI = 180  # 1080 pixels wide: a phone's screen, text big enough to read without zooming
FILE_DPI = 120  # a register too long for a photo, sent as a file: 720 pixels wide, a few MB
ROW_INCHES = 0.62
HEADER_INCHES = 1.4
FOOTER_INCHES = 0.95
# A group's picture is 100 kB to 1 MB: a few dozen groups' pictures, whatever their size.
PICTURES_BUDGET = 16 * 1024 * 1024


def shown(connection: sqlite3.Connection, chat_id: int) -> list[RegisterEntry]:
    """The entries a picture shows, with their answers: the first of a chat's register, grouped by
    kind, then by name as /partenaires lists them; a register of 10,000 requests reads only those."""
    page = register_rows.page(connection, chat_id, 0, MAX_ROWS)
    answers = register_rows.answers_of(connection, [entry.id for entry in page])
    return [replace(entry, answers=answers[entry.id]) for entry in page]


async def entries(
    library: Library, catalog: FlowCatalog, zone: tzinfo, rows: list[RegisterEntry]
) -> list[PictureEntry]:
    """What the picture says of each entry: its kind as its flow words it, its years, its standing."""
    statuses = library.messages.requests.statuses
    found: list[PictureEntry] = []
    for entry in rows:
        engine = await catalog.engine(entry.flow_id, entry.flow_version)
        fields = engine.flow.partner_fields
        start_answer = entry.answers.get(fields.start_date) if fields.start_date else None
        end_answer = entry.answers.get(fields.end_date) if fields.end_date else None
        where = standing(entry.status)
        start = answer_day(start_answer) if isinstance(start_answer, str) else None
        end = answer_day(end_answer) if isinstance(end_answer, str) else None
        if entry.origin == Origin.REQUEST:
            # A request's years are those of its decision, unless it says when it starts.
            decided = local_day(entry.decided_at, zone) if entry.decided_at else None
            start = start or decided or local_day(entry.created_at, zone)
            if where is Standing.ENDED and entry.last_answered_at:
                end = local_day(entry.last_answered_at, zone)
            elif where is not Standing.CURRENT:
                end = decided or start
        found.append(
            PictureEntry(
                kind=html.unescape(engine.display(engine.flow.step(fields.kind), entry.partner_kind)),  # HTML → plain
                partner=entry.partner_name,
                status=statuses[RequestStatus(entry.status)],
                standing=where,
                start=start,
                end=end,
            )
        )
    return found


@dataclass(frozen=True)
class Picture:
    png: bytes
    as_photo: bool  # short enough for Telegram's photo compression to keep it readable


async def register_picture(
    library: Library,
    catalog: FlowCatalog,
    zone: tzinfo,
    rows: list[RegisterEntry],
    *,
    group: str,
    today: date,
    partners: int,
    total: int,
) -> Picture | None:
    """The PNG of a chat's register from the entries it shows (``shown``); None when there are none."""
    found = await entries(library, catalog, zone, rows)
    if not found:
        return None
    plan = layout(found, library.register.picture, group=group, today=today, partners=partners, total=total)
    return Picture(await asyncio.to_thread(draw, plan), plan.fits_a_photo)


@dataclass(frozen=True)
class Drawn:
    """A picture with what it shows: a register's version, under a group's name, on a day."""

    version: int
    group: str
    today: date
    picture: Picture


class Pictures:
    """The last picture drawn of each chat's register, for as long as nothing it shows changes.

    Kept within ``budget`` bytes of PNG, the least recently asked for dropped first; all of
    them when the texts are reloaded (/recharger), since they word the picture.
    """

    def __init__(self, budget: int = PICTURES_BUDGET) -> None:
        self.budget = budget
        self._library: Library | None = None
        self._drawn: OrderedDict[int, Drawn] = OrderedDict()
        self._bytes = 0

    def get(self, chat_id: int, library: Library, *, group: str, today: date) -> Drawn | None:
        """The picture drawn last for a chat, if it has the group's name and the day's date; the
        caller compares its version with the register's."""
        if library is not self._library:
            self._drawn.clear()
            self._bytes = 0
            self._library = library
        drawn = self._drawn.get(chat_id)
        if drawn is None or drawn.group != group or drawn.today != today:
            return None
        self._drawn.move_to_end(chat_id)
        return drawn

    def keep(self, chat_id: int, drawn: Drawn) -> None:
        self._forget(chat_id)
        self._drawn[chat_id] = drawn
        self._bytes += len(drawn.picture.png)
        while self._bytes > self.budget and self._drawn:
            self._forget(next(iter(self._drawn)))

    def _forget(self, chat_id: int) -> None:
        gone = self._drawn.pop(chat_id, None)
        if gone is not None:
            self._bytes -= len(gone.picture.png)


def _year_step(years: int) -> int:
    return 1 if years <= 8 else 2 if years <= 16 else 5


def draw(plan: Layout) -> bytes:
    """Draw a layout as a PNG (runs in a worker thread)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    rows = max(plan.rows, 1)
    height = HEADER_INCHES + rows * ROW_INCHES + FOOTER_INCHES
    dpi = DPI if plan.fits_a_photo else FILE_DPI
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=dpi, facecolor="white")
    figure.text(0.04, 1 - 0.32 / height, plan.title, fontsize=15, fontweight="bold", va="top", parse_math=False)
    figure.text(0.04, 1 - 0.78 / height, plan.subtitle, fontsize=11, color="#444444", va="top", parse_math=False)
    bottom, top = FOOTER_INCHES / height, 1 - HEADER_INCHES / height
    axes = figure.add_axes((0.04, bottom, 0.92, top - bottom))
    first, last = plan.first_year, plan.last_year + 1
    axes.set_xlim(first, last)
    axes.set_ylim(rows, 0)
    step = _year_step(last - first)
    ticks = [year for year in range(first, last) if (year - first) % step == 0]
    axes.set_xticks([year + 0.5 for year in ticks], [str(year) for year in ticks])
    axes.tick_params(axis="x", labeltop=True, labelbottom=True, top=False, bottom=False, labelsize=10, colors="#555555")
    axes.set_yticks([])
    for side in axes.spines.values():
        side.set_visible(False)
    for year in range(first, last + 1):
        axes.axvline(year, color="#eeeeee", linewidth=0.8, zorder=0)
    left = blended_transform_factory(axes.transAxes, axes.transData)
    for heading in plan.headings:
        axes.axhspan(heading.row + 0.08, heading.row + 0.92, color="#e8f0e8", zorder=1)
        axes.text(
            0.01,
            heading.row + 0.5,
            heading.text,
            transform=left,
            fontsize=13,
            fontweight="bold",
            va="center",
            zorder=2,
            parse_math=False,
        )
    for bar in plan.bars:
        colour = COLOURS[bar.standing]
        axes.text(
            0.01,
            bar.row + 0.08,
            bar.text,
            transform=left,
            fontsize=11,
            va="top",
            zorder=3,
            color="#222222",
            parse_math=False,
        )
        if bar.first_year is not None and bar.last_year is not None:
            axes.barh(
                bar.row + 0.72,
                bar.last_year + 1 - bar.first_year,
                left=bar.first_year,
                height=0.3,
                color=colour,
                hatch="//" if bar.standing is Standing.DECLINED else None,
                edgecolor="white",
                zorder=2,
            )
    handles = [Patch(facecolor=COLOURS[standing], label=label) for standing, label in plan.legend]
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=10,
        frameon=False,
        bbox_to_anchor=(0.5, 0.1 / height),
    )
    if plan.more:
        figure.text(0.04, 0.62 / height, plan.more, fontsize=10, color="#444444", va="bottom", parse_math=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
