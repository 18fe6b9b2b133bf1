"""The calendar file as calendar apps read it: icalendar parses it back (the oracle), its lines
are folded and escaped as RFC 5545 says, and its VTIMEZONE tells the zone's offset changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, vText

from bot.core.agenda import DEADLINE_LENGTH, Deadline, ReviewDate, calendar_file, escape_text, folded
from bot.core.library import Library
from bot.core.register_rules import CalendarTexts

STAMP = datetime(2026, 12, 3, 9, tzinfo=UTC)
# Accents (two octets each in UTF-8) around every 75th octet, and what TEXT must escape.
PARTNER = (
    "Réseau d'échanges réciproques; « Savoirs, Saveurs » \\ Pays d'Uzès,\n"
    "Ardèche et Cévennes — épicerie coopérative, café associatif; ateliers réparés à l'œil"
)


@pytest.fixture(scope="module")
def texts(library: Library) -> CalendarTexts:
    return library.register.calendar


def physical_lines(content: bytes) -> list[bytes]:
    assert content.endswith(b"\r\n") and b"\n" not in content.replace(b"\r\n", b"")  # CRLF only
    return content.split(b"\r\n")[:-1]


def test_text_needing_escapes_and_folds_comes_back_as_written(texts: CalendarTexts) -> None:
    groups = ["GL Uzès, Gard", "GL Alès; Cévennes"]
    deadlines = [Deadline(3, 12, PARTNER, datetime(2027, 3, 15, 17, tzinfo=UTC), groups[0])]
    reviews = [ReviewDate(9, 7, PARTNER, date(2027, 6, 1), follow_up=True, group=groups[1])]
    content = calendar_file(deadlines, reviews, texts, groups=groups, zone=ZoneInfo("Europe/Paris"), stamp=STAMP)

    lines = physical_lines(content)
    assert all(len(line) <= 75 for line in lines) and any(len(line) == 75 for line in lines)
    for line in lines:  # folding never splits a character: every line is UTF-8 on its own
        line.decode()
    calendar = Calendar.from_ical(content)
    name = texts.name.format(group="GL Uzès, Gard, GL Alès; Cévennes")  # icalendar reads X- names unescaped
    assert b"X-WR-CALNAME:" + vText(name).to_ical() + b"\r\n" in content.replace(b"\r\n ", b"")
    deadline, review = calendar.walk("VEVENT")
    summary = texts.deadline_summary.format(number=12, partner=PARTNER)
    assert str(deadline["SUMMARY"]) == texts.in_group.format(group=groups[0], summary=summary)
    assert str(deadline["DESCRIPTION"]) == texts.deadline_description.format(
        number=12, partner=PARTNER, group=groups[0]
    )
    summary = texts.follow_up_summary.format(number=7, partner=PARTNER)
    assert str(review["SUMMARY"]) == texts.in_group.format(group=groups[1], summary=summary)
    assert str(review["DESCRIPTION"]) == texts.review_description.format(number=7, partner=PARTNER, group=groups[1])
    assert str(deadline["UID"]) == "round-3@colibris-partenariats-bot"
    assert str(review["UID"]) == "review-9@colibris-partenariats-bot"
    assert str(review["TRANSP"]) == "TRANSPARENT" and "TRANSP" not in deadline
    assert review.decoded("DTEND") == date(2027, 6, 2)
    assert deadline.decoded("DTEND") - deadline.decoded("DTSTART") == DEADLINE_LENGTH
    assert deadline.decoded("DTSTAMP") == review.decoded("DTSTAMP") == STAMP


def test_review_dates_alone_need_no_time_zone(texts: CalendarTexts) -> None:
    reviews = [ReviewDate(9, 7, "Emmaüs", date(2027, 6, 1), follow_up=False, group="GL")]
    content = calendar_file([], reviews, texts, groups=["GL"], zone=ZoneInfo("Europe/Paris"), stamp=STAMP)
    calendar = Calendar.from_ical(content)
    assert calendar.walk("VTIMEZONE") == [] and len(calendar.walk("VEVENT")) == 1


def test_a_fold_falls_between_two_characters_never_inside_one() -> None:
    lines = physical_lines(folded("SUMMARY:" + "é" * 80))  # 8 octets, then two per character
    assert [len(line) for line in lines] == [74, 1 + 74, 1 + 20]  # at 75 octets an é would be cut in two
    assert b"".join(line.removeprefix(b" ") for line in lines).decode() == "SUMMARY:" + "é" * 80


@given(
    st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r") | st.just("\n"), min_size=30)
)
def test_any_text_is_escaped_and_folded_so_that_it_parses_back(text: str) -> None:
    line = "DESCRIPTION:" + escape_text(text)
    content = folded(line)
    assert all(len(physical) <= 75 for physical in physical_lines(content))
    assert content.replace(b"\r\n ", b"") == line.encode() + b"\r\n"  # unfolding gives the line back
    calendar = Calendar.from_ical(b"BEGIN:VEVENT\r\n" + content + b"END:VEVENT\r\n")
    assert str(calendar.get("DESCRIPTION", "")) == text


def onsets(calendar: Calendar) -> list[tuple[datetime, timedelta, timedelta]]:
    """Every offset change the VTIMEZONE tells: (its moment in UTC, offset before, after)."""
    (timezone,) = calendar.walk("VTIMEZONE")
    found = []
    for observance in timezone.subcomponents:
        before, after = observance.decoded("TZOFFSETFROM"), observance.decoded("TZOFFSETTO")
        starts = [observance.decoded("DTSTART")]
        rdates = observance.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:  # one RDATE line is not in a list
            starts += [moment.dt for moment in rdate.dts]
        found += [(start.replace(tzinfo=UTC) - before, before, after) for start in starts]  # read with TZOFFSETFROM
    return sorted(found)


@pytest.mark.parametrize("key", ["Europe/Paris", "America/Martinique", "Pacific/Noumea", "Australia/Sydney"])
def test_the_time_zone_tells_each_offset_change_of_the_years_of_the_deadlines(texts: CalendarTexts, key: str) -> None:
    zone = ZoneInfo(key)
    deadlines = [
        Deadline(1, 1, "Emmaüs", datetime(2027, 5, 4, 12, tzinfo=UTC), "GL"),
        Deadline(2, 2, "Weleda", datetime(2028, 11, 20, 12, tzinfo=UTC), "GL"),
    ]
    calendar = Calendar.from_ical(calendar_file(deadlines, [], texts, groups=["GL"], zone=zone, stamp=STAMP))
    (timezone,) = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == key
    hour, moment, changes = timedelta(hours=1), datetime(2027, 1, 1, 1, tzinfo=UTC), []
    while moment < datetime(2029, 1, 1, tzinfo=UTC):  # every change, hour by hour (they fall on the hour here)
        before, after = (moment - hour).astimezone(zone).utcoffset(), moment.astimezone(zone).utcoffset()
        if before != after:
            changes.append((moment, before, after))
        moment += hour
    first, *told = onsets(calendar)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert first == (start, start.astimezone(zone).utcoffset(), start.astimezone(zone).utcoffset())
    assert told == changes
    assert (key in ("Europe/Paris", "Australia/Sydney")) == bool(changes)  # the others keep one offset
    for event, deadline in zip(calendar.walk("VEVENT"), deadlines, strict=True):
        assert event.decoded("DTSTART") == deadline.at and str(event.decoded("DTSTART").tzinfo) == key
