"""A group's dates as an iCalendar file (RFC 5545): open rounds' deadlines and review dates.

Built with the ``icalendar`` package, which escapes text and writes the time zone's
VTIMEZONE from the IANA data, so Nextcloud, Thunderbird and Google Calendar import it
without a warning. A deadline is a moment, given in the group's time zone (TZID) with its
VTIMEZONE; a review date is a day of the group (an all-day event, a date without zone).
UIDs are stable: importing a newer file updates the events instead of doubling them. A file
may cover several groups (a coordinator's, asked in private): each event then names its group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.register_rules import CalendarTexts

PRODID = "-//Colibris//Bot des partenariats//FR"
UID_DOMAIN = "colibris-partenariats-bot"
DEADLINE_LENGTH = timedelta(minutes=30)  # a deadline is a moment: a short event starting then


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
    from icalendar import (  # 90 ms with its dependencies: not at the bot's start-up
        Calendar,
        Event,
    )

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", texts.name.format(group=", ".join(groups)))

    def summary(text: str, group: str) -> str:
        return texts.in_group.format(group=group, summary=text) if len(groups) > 1 else text

    calendar.add("x-wr-timezone", zone.key)
    for deadline in deadlines:
        event = Event()
        event.add("uid", f"round-{deadline.round_id}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        start = deadline.at.astimezone(zone)
        event.add("dtstart", start)
        event.add("dtend", start + DEADLINE_LENGTH)
        text = texts.deadline_summary.format(number=deadline.number, partner=deadline.partner)
        event.add("summary", summary(text, deadline.group))
        event.add(
            "description",
            texts.deadline_description.format(number=deadline.number, partner=deadline.partner, group=deadline.group),
        )
        calendar.add_component(event)
    for review in reviews:
        event = Event()
        event.add("uid", f"review-{review.review_id}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("dtstart", review.on)
        event.add("dtend", review.on + timedelta(days=1))
        text = (texts.follow_up_summary if review.follow_up else texts.review_summary).format(
            number=review.number, partner=review.partner
        )
        event.add("summary", summary(text, review.group))
        event.add(
            "description",
            texts.review_description.format(number=review.number, partner=review.partner, group=review.group),
        )
        event.add("transp", "TRANSPARENT")  # a reminder, not a busy slot
        calendar.add_component(event)
    calendar.add_missing_timezones()
    document: bytes = calendar.to_ical()  # icalendar leaves it untyped
    return document
