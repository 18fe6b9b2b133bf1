"""The register at a glance: known partners (/partenaire_connu), its picture, /calendrier."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from bot.core.library import Library, load_library
from bot.storage import reviews
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import CONVERSATIONS, RunningBot
from tests.integration.conversation import fill, next_prompt
from tests.integration.test_consent import file_request, open_round, scene
from tests.integration.test_register import TODAY, drain, log

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(CONVERSATIONS)


def known_answers(library: Library) -> list[str]:
    """A partner of the past, its dates known to the month: answers in the flow's order."""
    texts = library.messages.flow
    return ["Emmaüs Pays creillois", "Association ou réseau", "Bacs incroyables comestibles",
            "mars 2016", texts.no, "rentrée 2019", "Camille et Dominique"]


async def test_a_past_partner_is_recorded_in_the_group_and_listed_without_consent(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [], admins=[alice])
    fake.send(alice, group, "/partenaire_connu")
    summary = await fill(fake, alice, group, known_answers(library))
    assert "Depuis : mars 2016" in summary.plain_text and "Jusqu'à : septembre 2019" in summary.plain_text
    fake.press(alice, summary, library.messages.intake.button_confirm)
    recorded = await next_prompt_or_text(fake, group, "inscrit au registre")
    assert "sans tour de consentement" in recorded.plain_text and not recorded.buttons()

    stored = await bot.database.fetch_one("SELECT * FROM requests WHERE chat_id = ?", (group.id,))
    assert (stored["origin"], stored["status"], stored["flow_id"]) == ("known", "ended", "partenaire_connu")
    answers = {row["step_id"]: json.loads(row["value"]) for row in await bot.database.fetch_all(
        "SELECT step_id, value FROM request_answers WHERE request_id = ?", (stored["id"],))}
    assert (answers["depuis"], answers["jusqu_a"], answers["en_cours"]) == ("2016-03", "2019-09", False)

    await drain(fake, group)
    fake.send(alice, group, "/partenaires")
    register = (await fake.next_message(group)).plain_text
    ended = library.messages.requests.statuses["ended"]
    assert f"• Emmaüs Pays creillois — n°1 · {ended} · sans tour de consentement" in register
    picture = await fake.next_message(group)
    assert picture.document["photo"] and picture.document["content"].startswith(PNG)
    fake.send(alice, group, "/demandes")
    assert "sans tour de consentement" in (await fake.next_message(group)).plain_text
    fake.send(alice, group, "/consentement 1")  # nothing to decide: it is in the register as it is
    assert ended in (await fake.next_message(group)).plain_text
    assert await bot.database.fetch_all("SELECT id FROM consent_rounds") == []


async def next_prompt_or_text(fake: FakeTelegram, chat, text: str):
    while True:
        message = await fake.next_message(chat)
        if text in message.plain_text:
            return message


async def test_a_current_partner_recorded_in_private_may_leave_its_start_unknown_with_a_button(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    bea = fake.add_user("Bea")
    private = fake.private_chat(bea)
    fake.send(bea, private, "/partenaire_connu")
    intake, flow = library.messages.intake, library.messages.flow
    since = await fill(fake, bea, private, ["Alternatiba", "Association ou réseau", "Une étape du tour à vélo"])
    assert intake.button_date_unknown in since.button_texts()
    fake.press(bea, since, intake.button_date_unknown)
    summary = await fill(fake, bea, private, [flow.yes, "-"])
    assert f"Depuis : {flow.dates.unknown}" in summary.plain_text
    fake.press(bea, summary, intake.button_confirm)
    await next_prompt_or_text(fake, private, "inscrit au registre")
    stored = await bot.database.fetch_one("SELECT status, origin FROM requests WHERE chat_id = ?", (private.id,))
    assert tuple(stored) == ("current", "known")


async def test_the_register_picture_grows_with_the_register_and_shows_declined_ones(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    await log(bot.database, group, "Alternatiba", "association", "adopted")

    async def picture() -> dict:
        await drain(fake, group)
        fake.send(alice, group, "/partenaires")
        await fake.next_message(group)
        return (await fake.next_message(group)).document

    small = await picture()
    for index in range(6):
        await log(bot.database, group, f"Collectif {index}", "association", "withdrawn")
    tall = await picture()
    assert small["content"].startswith(PNG) and tall["content"].startswith(PNG)
    assert small["width"] == tall["width"] == 1080
    assert tall["height"] > small["height"]
    assert tall["width"] + tall["height"] <= 10_000


async def test_the_calendar_is_sent_in_private_with_each_deadline_and_review_date(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    staged = await scene(fake)
    await file_request(staged)
    await open_round(staged, staged.admin)
    number = await log(bot.database, staged.group, "Emmaüs", "association", "adopted")
    request = await bot.database.fetch_one(
        "SELECT id FROM requests WHERE chat_id = ? AND number = ?", (staged.group.id, number))
    due = TODAY + timedelta(days=40)
    async with bot.database.transaction() as connection:
        await reviews.set_date(connection, request["id"], "review", due)
    member = staged.circle[1]
    fake.send(member, fake.private_chat(member), "/start")
    await fake.next_message(member)
    await drain(fake, staged.group)

    fake.send(member, staged.group, "/calendrier")
    texts = library.register.calendar
    assert (await fake.next_message(staged.group)).plain_text == texts.sent_private.format(member=member.full_name)
    sent = (await fake.next_message(member)).document
    assert sent["file_name"].endswith(".ics")
    calendar = Calendar.from_ical(sent["content"])
    assert calendar["PRODID"] and calendar["VERSION"] == "2.0"
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert len(events) == 2 and all("DTSTAMP" in e for e in events.values())
    deadline = next(e for uid, e in events.items() if uid.startswith("round-"))
    (round_row,) = await bot.database.fetch_all("SELECT deadline_at FROM consent_rounds")
    start = deadline.decoded("DTSTART")
    assert str(start.tzinfo) == "Europe/Paris"
    assert start == datetime.fromisoformat(round_row["deadline_at"]).astimezone(UTC)
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    review = next(e for uid, e in events.items() if uid.startswith("review-"))
    assert review.decoded("DTSTART") == due and not isinstance(review.decoded("DTSTART"), datetime)
    assert str(review["SUMMARY"]) == texts.review_summary.format(number=number, partner="Emmaüs")


async def test_the_calendar_explains_how_to_open_a_private_chat_first(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Lyon", [alice])
    number = await log(bot.database, group, "Alternatiba", "association", "adopted")
    request = await bot.database.fetch_one("SELECT id FROM requests WHERE number = ?", (number,))
    async with bot.database.transaction() as connection:
        await reviews.set_date(connection, request["id"], "review", date(TODAY.year + 1, 1, 15))

    fake.send(alice, group, "/calendrier")
    reply = await fake.next_message(group)
    assert reply.buttons()[0][0]["url"] == "https://t.me/colibris_test_bot"
    assert "/calendrier" in reply.plain_text
    assert not [m for m in fake.sent if m.document]


async def test_a_register_too_long_for_a_photo_comes_as_its_png_file(fake: FakeTelegram, bot: RunningBot) -> None:
    from bot.core.picture import PHOTO_ROWS

    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    for index in range(PHOTO_ROWS):  # one heading and as many partners: one row too many
        await log(bot.database, group, f"Association {index:02d}", "association", "adopted")
    fake.send(alice, group, "/partenaires")
    await fake.next_message(group)
    sent = (await fake.next_message(group)).document
    assert not sent.get("photo") and sent["file_name"].endswith(".png") and sent["content"].startswith(PNG)
