"""A group's dates as an iCalendar file (RFC 5545): open rounds' deadlines and review dates.

Written line by line: the few properties the bot needs cost a fraction of a millisecond,
where the ``icalendar`` package took about ten (its components, and a VTIMEZONE probed over
1970-2038). A deadline is a moment, given in the group's time zone (TZID) with a VTIMEZONE
of that zone's IANA data over the years of the deadlines, so Nextcloud, Thunderbird and
Google Calendar import it without a warning; a review date is a day of the group (an all-day
event, a date without zone). UIDs are stable: importing a newer file updates the events
instead of doubling them. A file may cover several groups (a coordinator's, asked in
private): each event then names its group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bot.core.register_rules import CalendarTexts

PRODID = "-//Colibris//Bot des partenariats//FR"
UID_DOMAIN = "colibris-partenariats-bot"
DEADLINE_LENGTH = timedelta(minutes=30)  # a deadline is a moment: a short event starting then
LINE_OCTETS = 75  # RFC 5545 3.1: longer content lines are folded
# Offset changes are searched week by week, then to the second: two changes less than a week
# apart that cancel out would be missed, where the zones' present rules keep them weeks apart.
SEARCH_STEP = 7 * 24 * 3600


@dataclass(frozen=True)
class Deadline:
    round_id: int
    number: int  # the request's
    partner: str
    at: datetime  # aware
    group: str  # the title of the group whose round it is


@dataclass(frozen=True)
class ReviewDate:
    review_id: int
    number: int
    partner: str
    on: date
    follow_up: bool  # a one-off's "how did it go?" rather than a review
    group: str


def escape_text(value: str) -> str:
    """A TEXT value as RFC 5545 3.3.11 writes it: backslash, semicolon, comma and line breaks
    escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def folded(line: str) -> bytes:
    """One content line in UTF-8, folded every 75 octets (a CRLF and a space before the rest,
    RFC 5545 3.1) between characters, never inside one, and ended by CRLF."""
    octets = line.encode()
    if len(octets) <= LINE_OCTETS:
        return octets + b"\r\n"
    parts, start, room = [], 0, LINE_OCTETS
    while len(octets) - start > room:
        cut = start + room
        while octets[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the character began before
            cut -= 1
        parts.append(octets[start:cut])
        start, room = cut, LINE_OCTETS - 1  # the leading space counts
    parts.append(octets[start:])
    return b"\r\n ".join(parts) + b"\r\n"


def _local(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def _offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


@dataclass(frozen=True)
class _Observance:
    """A span of one offset and name: its VTIMEZONE sub-component gathers every onset."""

    offset_from: timedelta
    offset_to: timedelta
    name: str
    standard: bool


def _observance(zone: ZoneInfo, timestamp: int, offset_from: timedelta | None) -> _Observance:
    local = datetime.fromtimestamp(timestamp, zone)
    offset = local.utcoffset() or timedelta()
    return _Observance(offset if offset_from is None else offset_from, offset, local.tzname() or "", not local.dst())


@cache
def _changes(zone: ZoneInfo, year: int) -> tuple[tuple[int, _Observance], tuple[tuple[int, _Observance], ...]]:
    """The observance in effect at the start of ``year`` (UTC) and each offset change in it:
    (its UTC timestamp, the observance it starts)."""
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    first = _observance(zone, start, None)
    changes: list[tuple[int, _Observance]] = []
    before, offset = start, first.offset_to
    while before < end:
        after = min(before + SEARCH_STEP, end)
        if datetime.fromtimestamp(after, zone).utcoffset() == offset:
            before = after
            continue
        while after - before > 1:  # bisection: the first second of the new offset
            middle = (before + after) // 2
            if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                before = middle
            else:
                after = middle
        changed = _observance(zone, after, offset)
        changes.append((after, changed))
        before, offset = after, changed.offset_to
    return (start, first), tuple(changes)  # kept by the cache: not to be changed


def _timezone(zone: ZoneInfo, moments: Sequence[datetime]) -> list[str]:
    """The VTIMEZONE of ``zone`` over the years (UTC) of ``moments``: each observance's first
    onset as its DTSTART, the others as RDATE, in the local time before the change (RFC 5545
    3.6.5: the onset is read with TZOFFSETFROM)."""
    years = range(min(moments).astimezone(UTC).year, max(moments).astimezone(UTC).year + 1)
    (start, first), _ = _changes(zone, years[0])
    onsets: dict[_Observance, list[int]] = {first: [start]}
    for year in years:
        _, changes = _changes(zone, year)
        for timestamp, observance in changes:
            onsets.setdefault(observance, []).append(timestamp)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone.key}"]
    for observance, timestamps in onsets.items():
        kind = "STANDARD" if observance.standard else "DAYLIGHT"
        local = [
            _local(datetime.fromtimestamp(t, UTC).replace(tzinfo=None) + observance.offset_from) for t in timestamps
        ]
        lines += [f"BEGIN:{kind}", f"DTSTART:{local[0]}"]
        if len(local) > 1:
            lines.append(f"RDATE:{','.join(local[1:])}")
        lines += [
            f"TZNAME:{escape_text(observance.name)}",
            f"TZOFFSETFROM:{_offset(observance.offset_from)}",
            f"TZOFFSETTO:{_offset(observance.offset_to)}",
            f"END:{kind}",
        ]
    lines.append("END:VTIMEZONE")
    return lines


def calendar_file(
    deadlines: Sequence[Deadline],
    reviews: Sequence[ReviewDate],
    texts: CalendarTexts,
    *,
    groups: Sequence[str],
    zone: ZoneInfo,
    stamp: datetime,
) -> bytes:
    """The .ics document of these dates of ``groups`` (their titles); ``stamp`` (aware) is its
    DTSTAMP. With several groups, each summary starts with its group's title."""

    def summary(text: str, group: str) -> str:
        return texts.in_group.format(group=group, summary=text) if len(groups) > 1 else text

    dtstamp = f"DTSTAMP:{stamp.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(texts.name.format(group=', '.join(groups)))}",
        f"X-WR-TIMEZONE:{zone.key}",
    ]
    if deadlines:
        lines += _timezone(zone, [moment for d in deadlines for moment in (d.at, d.at + DEADLINE_LENGTH)])
    for deadline in deadlines:
        start = deadline.at.astimezone(zone)
        text = texts.deadline_summary.format(number=deadline.number, partner=deadline.partner)
        description = texts.deadline_description.format(
            number=deadline.number, partner=deadline.partner, group=deadline.group
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:round-{deadline.round_id}@{UID_DOMAIN}",
            dtstamp,
            f"DTSTART;TZID={zone.key}:{_local(start)}",
            f"DTEND;TZID={zone.key}:{_local(start + DEADLINE_LENGTH)}",
            f"SUMMARY:{escape_text(summary(text, deadline.group))}",
            f"DESCRIPTION:{escape_text(description)}",
            "END:VEVENT",
        ]
    for review in reviews:
        text = (texts.follow_up_summary if review.follow_up else texts.review_summary).format(
            number=review.number, partner=review.partner
        )
        description = texts.review_description.format(number=review.number, partner=review.partner, group=review.group)
        lines += [
            "BEGIN:VEVENT",
            f"UID:review-{review.review_id}@{UID_DOMAIN}",
            dtstamp,
            f"DTSTART;VALUE=DATE:{review.on.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(review.on + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{escape_text(summary(text, review.group))}",
            f"DESCRIPTION:{escape_text(description)}",
            "TRANSP:TRANSPARENT",  # a reminder, not a busy slot
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return b"".join(folded(line) for line in lines)
