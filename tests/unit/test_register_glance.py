"""The register's picture (layout and image) and its calendar file, from the real YAML texts."""

from __future__ import annotations

import io
import logging
import multiprocessing
from datetime import UTC, date, datetime
from multiprocessing.process import BaseProcess
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from PIL import Image, ImageColor

from bot.core.agenda import Deadline, ReviewDate, calendar_file
from bot.core.library import Library, load_library
from bot.core.picture_layout import (
    LINE_LENGTH,
    MAX_ROWS,
    PHOTO_ROWS,
    PictureEntry,
    layout,
)
from bot.core.register_rules import STANDING_OF_STATUS, PictureTexts, Standing, standing
from bot.core.statuses import RequestStatus
from bot.picture import COLOURS, HEADING_GROUND, INK, PAPER, ROW_INK, Drawn, Picture, Pictures, PictureWorker, draw
from tests.unit.conftest import CONVERSATIONS

TODAY = date(2026, 12, 3)
PARIS = ZoneInfo("Europe/Paris")


def entry(
    partner: str,
    status: str = "ended",
    kind: str = "Association ou réseau",
    start: date | None = None,
    end: date | None = None,
    label: str | None = None,
) -> PictureEntry:
    return PictureEntry(kind, partner, label or status, standing(status), start, end)


def decoded(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()  # the whole image, not only its header
    return image


def photo_size(content: bytes) -> tuple[int, int]:
    """A photo's width and height: Telegram re-encodes every photo as a JPEG, so it is drawn as one."""
    image = decoded(content)
    assert image.format == "JPEG"
    return image.size


@pytest.fixture(scope="module")
def texts(library: Library) -> PictureTexts:
    return library.register.picture


# --- the layout ----------------------------------------------------------------------------------


def test_each_kind_heads_its_partners_with_their_years_and_status(texts: PictureTexts) -> None:
    plan = layout(
        [
            entry("Alternatiba", "current", start=date(2018, 6, 1), label="en cours"),
            entry("Emmaüs", start=date(2016, 3, 1), end=date(2019, 9, 1), label="terminée"),
            entry(
                "Weleda", "declined", kind="Entreprise", start=date(2025, 5, 1), end=date(2025, 5, 1), label="déclinée"
            ),
        ],
        texts,
        group="GL Strasbourg",
        today=TODAY,
        partners=3,
    )
    assert [h.text for h in plan.headings] == ["Association ou réseau", "Entreprise"]
    assert [b.text for b in plan.bars] == [
        " · ".join(["Alternatiba", texts.span_since.format(start=2018), "en cours"]),
        " · ".join(["Emmaüs", texts.span_between.format(start=2016, end=2019), "terminée"]),
        " · ".join(["Weleda", "2025", "déclinée"]),
    ]
    assert [(b.first_year, b.last_year) for b in plan.bars] == [(2018, 2026), (2016, 2019), (2025, 2025)]
    assert plan.bars[2].standing is Standing.DECLINED
    assert (plan.first_year, plan.last_year, plan.rows) == (2016, 2026, 5)
    assert dict(plan.legend)[Standing.DECLINED] == texts.standings[Standing.DECLINED]
    assert plan.title == texts.title.format(group="GL Strasbourg")


def test_unknown_dates_say_so_and_draw_no_bar(texts: PictureTexts) -> None:
    plan = layout(
        [entry("GL Nîmes", "current"), entry("Collectif", end=date(2021, 1, 1))],
        texts,
        group="GL",
        today=TODAY,
        partners=2,
    )
    unknown, until = plan.bars
    assert texts.span_unknown in unknown.text and unknown.first_year is None
    assert texts.span_until.format(end=2021) in until.text and (until.first_year, until.last_year) == (2021, 2021)


def test_past_the_row_limit_the_picture_says_how_many_more(texts: PictureTexts) -> None:
    many = [entry(f"Association {i:03d}") for i in range(130)]
    plan = layout(many, texts, group="GL", today=TODAY, partners=130, max_rows=100)
    assert len(plan.bars) == 99 and plan.more == texts.more.format(count=31)  # and one heading


def test_a_picture_of_the_first_entries_counts_the_others(texts: PictureTexts) -> None:
    plan = layout([entry("Alternatiba"), entry("Emmaüs")], texts, group="GL", today=TODAY, partners=9, total=10)
    assert plan.more == texts.more.format(count=8)
    assert plan.subtitle == texts.subtitle.format(partners=9, count=10, date="03/12/2026")


def test_every_request_status_has_its_standing_in_one_place(library: Library) -> None:
    assert set(library.messages.requests.statuses) == set(STANDING_OF_STATUS) == set(RequestStatus)
    assert standing("withdrawn") is Standing.DECLINED and standing("adopted") is Standing.CURRENT


# --- the image -----------------------------------------------------------------------------------


def test_the_picture_is_a_phone_wide_photo_that_grows_with_the_register(texts: PictureTexts) -> None:
    few = layout([entry("Alternatiba", "current", start=date(2019, 1, 1))], texts, group="GL", today=TODAY, partners=1)
    many = layout(
        [entry(f"Association {i}", start=date(2010 + i, 1, 1)) for i in range(12)],
        texts,
        group="GL",
        today=TODAY,
        partners=12,
    )
    (width, short), (same_width, tall) = photo_size(draw(few)), photo_size(draw(many))
    assert width == same_width == 1080 and tall > short


def test_a_picture_that_fits_a_photo_stays_within_telegrams_photo_limits(texts: PictureTexts) -> None:
    plan = layout(
        [entry(f"Partenaire {i}") for i in range(PHOTO_ROWS - 1)],
        texts,
        group="GL",
        today=TODAY,
        partners=PHOTO_ROWS - 1,
    )
    assert plan.fits_a_photo
    width, height = photo_size(draw(plan))
    assert width + height <= 10_000 and height <= 20 * width


def test_a_long_register_is_cut_with_its_count_and_is_not_a_photo(texts: PictureTexts) -> None:
    kinds = [f"Type {k}" for k in range(7)]
    plan = layout(
        [entry(f"Partenaire {i}", kind=kinds[i % 7]) for i in range(300)], texts, group="GL", today=TODAY, partners=300
    )
    assert plan.rows == MAX_ROWS and [h.text for h in plan.headings] == kinds[:4]  # grouped, not one per line
    assert not plan.fits_a_photo and plan.more == texts.more.format(count=300 - len(plan.bars))
    image = decoded(draw(plan))
    assert image.format == "PNG" and image.width < 1080 and image.height < 20_000


def test_a_register_sent_as_a_file_keeps_the_colours_and_the_smooth_letters_of_its_drawing(
    texts: PictureTexts,
) -> None:
    standings = ["submitted", "adopted", "ended", "declined"]
    plan = layout(
        [entry(f"Partenaire {i}", standings[i % 4], start=date(2020, 1, 1)) for i in range(PHOTO_ROWS)],
        texts,
        group="GL",
        today=TODAY,
        partners=PHOTO_ROWS,
    )
    assert not plan.fits_a_photo
    counted = decoded(draw(plan)).convert("RGB").getcolors(1 << 24) or []
    areas = [colour for count, colour in counted if count > 1000 and isinstance(colour, tuple)]  # grounds, bars
    for drawn_colour in (PAPER, HEADING_GROUND, INK, ROW_INK, *COLOURS.values()):
        rgb = ImageColor.getrgb(drawn_colour)
        assert any(max(abs(a - b) for a, b in zip(rgb, area, strict=True)) <= 4 for area in areas), drawn_colour
    assert len(counted) > 100  # letters' edges shade into their ground, they are not jagged


def test_names_with_dollar_signs_are_drawn_as_typed_not_as_formulas(texts: PictureTexts) -> None:
    plan = layout([entry("Les $ociétaires $ du coin")], texts, group="GL $1$", today=TODAY, partners=1)
    assert photo_size(draw(plan))[0] == 1080


async def test_pictures_are_drawn_in_a_process_of_their_own_which_a_new_one_replaces_if_it_dies(
    texts: PictureTexts, caplog: pytest.LogCaptureFixture
) -> None:
    plan = layout([entry("Alternatiba", "current", start=date(2019, 1, 1))], texts, group="GL", today=TODAY, partners=1)
    worker, others = PictureWorker(), set(multiprocessing.active_children())  # other tests' bots

    def workers() -> list[BaseProcess]:
        return [child for child in multiprocessing.active_children() if child not in others]

    try:
        assert await worker.draw(plan) == draw(plan)
        [drawing] = workers()
        drawing.kill()
        drawing.join()
        with caplog.at_level(logging.WARNING, logger="bot.picture"):
            assert await worker.draw(plan) == draw(plan)  # drawn all the same, in a thread
        assert [record.levelno for record in caplog.records] == [logging.WARNING]
        assert workers() == []
        assert await worker.draw(plan) == draw(plan)
        [again] = workers()
        assert again.pid != drawing.pid
    finally:
        worker.close()


# --- the calendar --------------------------------------------------------------------------------


def test_the_calendar_holds_one_event_per_deadline_and_review_in_the_group_zone(library: Library) -> None:
    texts = library.register.calendar
    group = "GL Strasbourg"
    deadlines = [
        Deadline(3, 12, "Weleda ; « Jardins », Alès", datetime(2027, 3, 15, 17, 0, tzinfo=UTC), group),
        Deadline(4, 13, "Alternatiba", datetime(2027, 7, 1, 8, 30, tzinfo=UTC), group),
    ]
    reviews = [
        ReviewDate(9, 7, "Emmaüs", date(2027, 6, 1), follow_up=False, group=group),
        ReviewDate(10, 8, "Pharmacienne", date(2027, 6, 8), follow_up=True, group=group),
    ]
    content = calendar_file(
        deadlines, reviews, texts, groups=[group], zone=PARIS, stamp=datetime(2026, 12, 3, 9, tzinfo=UTC)
    )
    assert b"\r\n" in content and all(len(line) <= 75 for line in content.split(b"\r\n"))
    calendar = Calendar.from_ical(content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 4 and len({str(e["UID"]) for e in events}) == 4
    first = events[0]
    assert first.decoded("DTSTART") == datetime(2027, 3, 15, 18, 0, tzinfo=PARIS)  # 17:00 UTC in winter
    assert str(first.decoded("DTSTART").tzinfo) == "Europe/Paris"
    assert str(first["SUMMARY"]) == texts.deadline_summary.format(number=12, partner="Weleda ; « Jardins », Alès")
    unfolded = content.replace(b"\r\n ", b"")  # a long line goes on after CRLF and a space
    assert b"Weleda \\; \xc2\xab Jardins \xc2\xbb\\, Al\xc3\xa8s" in unfolded  # RFC 5545 escapes ; and ,
    assert events[1].decoded("DTSTART").utcoffset().total_seconds() == 7200  # summer time
    assert events[2].decoded("DTSTART") == date(2027, 6, 1)
    assert str(events[3]["SUMMARY"]) == texts.follow_up_summary.format(number=8, partner="Pharmacienne")
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert all(e.decoded("DTSTAMP") == datetime(2026, 12, 3, 9, tzinfo=UTC) for e in events)


def test_a_long_name_is_cut_so_its_years_and_status_stay_on_the_line(texts: PictureTexts) -> None:
    name = "Réseau d'échanges réciproques de savoirs du Pays creillois et des environs"
    (bar,) = layout(
        [entry(name, "in_consent", label="en consentement", start=date(2026, 1, 1))],
        texts,
        group="GL",
        today=TODAY,
        partners=1,
    ).bars
    assert bar.text.endswith(" · 2026 · en consentement") and "…" in bar.text
    assert len(bar.text) <= LINE_LENGTH


# --- the pictures kept ---------------------------------------------------------------------------


def test_pictures_are_kept_within_their_budget_and_forgotten_when_the_texts_change(library: Library) -> None:
    def drawn(version: int, size: int) -> Drawn:
        return Drawn(version, "GL", TODAY, Picture(b"x" * size, as_photo=True))

    pictures = Pictures(budget=250)
    for chat_id in (1, 2):  # asked for, then drawn, as /partenaires does
        assert pictures.get(chat_id, library, group="GL", today=TODAY) is None
        pictures.keep(chat_id, drawn(chat_id, 100))
    assert pictures.get(1, library, group="GL", today=TODAY) == drawn(1, 100)  # 1 asked last: 2 goes first
    pictures.keep(3, drawn(3, 100))
    assert pictures.get(2, library, group="GL", today=TODAY) is None
    assert pictures.get(1, library, group="GL", today=TODAY) is not None
    assert pictures.get(1, library, group="GL Gard", today=TODAY) is None  # renamed group: drawn again
    assert pictures.get(1, library, group="GL", today=date(2026, 12, 4)) is None  # another day's date
    assert pictures.get(1, load_library(CONVERSATIONS), group="GL", today=TODAY) is None  # /recharger
