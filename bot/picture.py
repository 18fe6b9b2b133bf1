"""The register's picture: every partner of a group in one image, drawn with Pillow.

A picture is drawn in a process of its own (``PictureWorker``), so that drawing neither
blocks the bot's event loop nor takes the interpreter's lock from it, and kept (``Pictures``)
until what it shows changes: a group asks /partenaires far more often than its register
changes.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
import io
import logging
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.catalog import FlowCatalog
from bot.core.flow_engine import answer_day
from bot.core.library import Library
from bot.core.picture_layout import MAX_ROWS, Layout, PictureEntry, layout
from bot.core.register_rules import Origin, Standing, local_day, standing
from bot.core.statuses import RequestStatus
from bot.storage import register_rows
from bot.storage.register_rows import RegisterEntry

if TYPE_CHECKING:  # Pillow is imported by the first picture drawn, not at the bot's start-up
    from concurrent.futures import ProcessPoolExecutor

    from PIL import Image
    from PIL.ImageDraw import ImageDraw
    from PIL.ImageFont import FreeTypeFont

logger = logging.getLogger(__name__)

COLOURS = {
    Standing.CURRENT: "#2e7d32",
    Standing.UNDER_REVIEW: "#f9a825",
    Standing.ENDED: "#8d8d8d",
    Standing.DECLINED: "#c62828",
}
PAPER = "#ffffff"
GRID = "#eeeeee"
HEADING_GROUND = "#e8f0e8"
INK = "#000000"  # the title, the headings, the legend
ROW_INK = "#222222"
NOTE_INK = "#444444"  # the subtitle and the « … et 12 autre(s) »
YEAR_INK = "#555555"
# A photo's JPEG quality: Telegram re-encodes every photo as a JPEG of its own, so a finer
# one would not reach the member; a coarser one blurs the letters' edges before Telegram does.
PHOTO_QUALITY = 90
# Shades of each text's ink on each ground in the palette of a register sent as a file: its
# letters' edges, as smooth to the eye as the drawing's own.
EDGE_SHADES = 20
WIDTH_INCHES = 6.0
DPI = 180  # 1080 pixels wide: a phone's screen, text big enough to read without zooming
FILE_DPI = 120  # a register too long for a photo, sent as a file: 720 pixels wide, under 1 MB
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
    content: bytes  # a JPEG for a photo, a PNG for a file
    as_photo: bool  # short enough for Telegram's photo compression to keep it readable

    @property
    def extension(self) -> str:
        return ".jpg" if self.as_photo else ".png"


class PictureWorker:
    """Draws pictures in one worker process, started by the first picture asked for.

    Pillow keeps the interpreter's lock for most of a drawing (its text layout is Python): in
    a thread of the bot's process, a picture's 10 ms or so are taken from the event loop,
    every chat waiting meanwhile (a tenth of the bot's throughput in the bench's mix, where one
    update in 125 is a /partenaires). A process of its own draws on the other core. Spawned,
    not forked: the bot's process has threads (aiosqlite's), which a fork would copy mid-work.
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def draw(self, plan: Layout) -> bytes:
        """The picture of ``plan``; in a thread, once, if the worker died (killed, out of memory),
        the next picture starting a new one."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            return await asyncio.get_running_loop().run_in_executor(self._started(), draw, plan)
        except BrokenProcessPool:
            logger.warning("The process drawing pictures stopped; this picture is drawn in a thread")
            self.close()
            return await asyncio.to_thread(draw, plan)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def close(self) -> None:
        """Stop the worker, without waiting for a picture still being drawn (nobody will send it)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def register_picture(
    worker: PictureWorker,
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
    """The picture of a chat's register from the entries it shows (``shown``); None when there are none."""
    found = await entries(library, catalog, zone, rows)
    if not found:
        return None
    plan = layout(found, library.register.picture, group=group, today=today, partners=partners, total=total)
    return Picture(await worker.draw(plan), plan.fits_a_photo)


@dataclass(frozen=True)
class Drawn:
    """A picture with what it shows: a register's version, under a group's name, on a day."""

    version: int
    group: str
    today: date
    picture: Picture


class Pictures:
    """The last picture drawn of each chat's register, for as long as nothing it shows changes.

    Kept within ``budget`` bytes of images, the least recently asked for dropped first; all of
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
        self._bytes += len(drawn.picture.content)
        while self._bytes > self.budget and self._drawn:
            self._forget(next(iter(self._drawn)))

    def _forget(self, chat_id: int) -> None:
        gone = self._drawn.pop(chat_id, None)
        if gone is not None:
            self._bytes -= len(gone.picture.content)


def _year_step(years: int) -> int:
    return 1 if years <= 8 else 2 if years <= 16 else 5


@cache
def _fonts() -> Path:
    """DejaVu Sans, as matplotlib ships it: every accent and sign a French name or a date needs.
    Found without importing matplotlib (a few tenths of a second, for a folder's name)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("matplotlib, whose fonts the register picture uses, is not installed")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"


@cache
def _font(size_pt: float, dpi: int, bold: bool = False) -> FreeTypeFont:
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(_fonts() / name), round(size_pt * dpi / 72))


def draw(plan: Layout) -> bytes:
    """Draw a layout as a JPEG if it fits a photo, as a PNG otherwise (in ``PictureWorker``'s process).

    Drawn with Pillow's primitives rather than matplotlib's figures: the same picture in a
    quarter of the time (a tenth of a second for a small group on two busy cores), since it
    has no axes, ticks or artists to lay out, only rows of text and bars at known places."""
    from PIL import Image, ImageDraw

    rows = max(plan.rows, 1)
    dpi = DPI if plan.fits_a_photo else FILE_DPI
    width, height = round(WIDTH_INCHES * dpi), round((HEADER_INCHES + rows * ROW_INCHES + FOOTER_INCHES) * dpi)
    image = Image.new("RGB", (width, height), PAPER)
    pen = ImageDraw.Draw(image)
    left, right = 0.04 * width, 0.96 * width
    top, bottom = HEADER_INCHES * dpi, height - FOOTER_INCHES * dpi
    first, last = plan.first_year, plan.last_year + 1

    def x(year: float) -> float:
        return left + (year - first) / (last - first) * (right - left)

    def y(row: float) -> float:
        return top + row * ROW_INCHES * dpi

    margin = left + 0.01 * (right - left)
    pen.text((left, 0.32 * dpi), plan.title, font=_font(15, dpi, bold=True), fill=INK, anchor="la")
    pen.text((left, 0.78 * dpi), plan.subtitle, font=_font(11, dpi), fill=NOTE_INK, anchor="la")
    for year in range(first, last + 1):
        pen.line([(x(year), top), (x(year), bottom)], fill=GRID, width=max(1, round(0.8 * dpi / 72)))
    step, gap, years = _year_step(last - first), 5 * dpi / 72, _font(10, dpi)
    for year in range(first, last, step):
        pen.text((x(year + 0.5), top - gap), str(year), font=years, fill=YEAR_INK, anchor="md")
        pen.text((x(year + 0.5), bottom + gap), str(year), font=years, fill=YEAR_INK, anchor="ma")
    for heading in plan.headings:
        pen.rectangle((left, y(heading.row + 0.08), right, y(heading.row + 0.92)), fill=HEADING_GROUND)
        pen.text((margin, y(heading.row + 0.5)), heading.text, font=_font(13, dpi, bold=True), fill=INK, anchor="lm")
    for bar in plan.bars:
        if bar.first_year is not None and bar.last_year is not None:
            box = (x(bar.first_year), y(bar.row + 0.57), x(bar.last_year + 1), y(bar.row + 0.87))
            pen.rectangle(box, fill=COLOURS[bar.standing], outline=PAPER)
            if bar.standing is Standing.DECLINED:
                _hatch(pen, box, spacing=6 * dpi / 72)
        pen.text((margin, y(bar.row + 0.08)), bar.text, font=_font(11, dpi), fill=ROW_INK, anchor="la")
    _legend(pen, plan, dpi, width, height - 0.25 * dpi)
    if plan.more:
        # Halfway between the years under the register and the legend.
        pen.text((left, height - 0.52 * dpi), plan.more, font=_font(10, dpi), fill=NOTE_INK, anchor="lm")
    buffer = io.BytesIO()
    if plan.fits_a_photo:
        image.save(buffer, format="jpeg", quality=PHOTO_QUALITY)  # a sixth of a PNG's time
    else:
        # A file reaches the member as sent: a PNG, lossless to the eye in the drawing's own
        # palette, encoded in a third of the time its 24-bit colours take, 40 % smaller.
        # zlib's fastest level: a third of the time of its default, a tenth larger.
        shown = image.quantize(palette=_palette(), dither=Image.Dither.NONE)
        shown.save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


@cache
def _palette() -> Image.Image:
    """Every colour the drawing makes (239 entries of a palette's 256): its inks and grounds, the
    edges of its letters, each text's ink blended with the grounds it is drawn on (lines and
    boxes have sharp edges)."""
    from PIL import Image, ImageColor

    inks, grounds = (INK, ROW_INK, NOTE_INK, YEAR_INK), (PAPER, GRID, HEADING_GROUND)
    rgb = {colour: ImageColor.getrgb(colour)[:3] for colour in (*inks, *grounds, *COLOURS.values())}
    edges = [
        round(channel + (to - channel) * shade / EDGE_SHADES)
        for ink in inks
        for ground in grounds
        for shade in range(1, EDGE_SHADES)
        for channel, to in zip(rgb[ink], rgb[ground], strict=True)
    ]
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in rgb.values() for channel in colour] + edges)
    return palette


def _hatch(pen: ImageDraw, box: tuple[float, float, float, float], spacing: float) -> None:
    """White diagonal strokes over a declined partner's bar, so it reads without colours too."""
    x0, y0, x1, y1 = box
    tall = y1 - y0
    start = x0 - tall
    while start < x1:
        # The stroke from (start, bottom) to (start + tall, top), clipped to the bar.
        a, b = max(start, x0), min(start + tall, x1)
        pen.line([(a, y1 - (a - start)), (b, y1 - (b - start))], fill=PAPER, width=2)
        start += spacing


def _legend(pen: ImageDraw, plan: Layout, dpi: int, width: int, middle: float) -> None:
    """One coloured square and its label per standing, in one line centred under the register."""
    font, side, gap = _font(10, dpi), 10 * dpi / 72, 8 * dpi / 72
    widths = [side + gap / 2 + pen.textlength(label, font=font) for _, label in plan.legend]
    at = (width - sum(widths) - gap * (len(widths) - 1)) / 2
    for (where, label), item in zip(plan.legend, widths, strict=True):
        pen.rectangle((at, middle - side / 2, at + side, middle + side / 2), fill=COLOURS[where])
        pen.text((at + side + gap / 2, middle), label, font=font, fill=INK, anchor="lm")
        at += item + gap
