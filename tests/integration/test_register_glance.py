"""The register at a glance: known partners (/partenaire_connu), its picture, /calendrier."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from telegram import Update
from telegram.error import BadRequest

from bot import picture
from bot.core.library import Library, load_library
from bot.core.picture_layout import Layout
from bot.core.register_rules import Standing
from bot.core.statuses import RequestStatus
from bot.core.texts import render
from bot.storage import review_dates
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.integration.circle_scene import scene
from tests.integration.conftest import CONVERSATIONS, RunningBot
from tests.integration.conversation import fill, known_group, plain
from tests.integration.direct import DirectBot
from tests.integration.test_register import TODAY, drain, log

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(CONVERSATIONS)


def known_answers(library: Library) -> list[str]:
    """A partner of the past, its dates known to the month: answers in the flow's order."""
    texts = library.messages.flow
    return [
        "Emmaüs Pays creillois",
        "Association ou réseau",
        "Bacs incroyables comestibles",
        "mars 2016",
        texts.no,
        "rentrée 2019",
        "Camille et Dominique",
    ]


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
    assert stored is not None
    assert (stored["origin"], stored["status"], stored["flow_id"]) == ("known", "ended", "partenaire_connu")
    answers = {
        row["step_id"]: json.loads(row["value"])
        for row in await bot.database.fetch_all(
            "SELECT step_id, value FROM request_answers WHERE request_id = ?", (stored["id"],)
        )
    }
    assert (answers["depuis"], answers["jusqu_a"], answers["en_cours"]) == ("2016-03", "2019-09", False)

    await drain(fake, group)
    fake.send(alice, group, "/partenaires")
    register = (await fake.next_message(group)).plain_text
    ended = library.messages.requests.statuses[RequestStatus.ENDED]
    assert f"• Emmaüs Pays creillois — n°1 · {ended} · sans tour de consentement" in register
    picture = await next_document(fake, group)
    assert picture["photo"] and picture["content"].startswith(JPEG)
    fake.send(alice, group, "/demandes")
    assert "sans tour de consentement" in (await fake.next_message(group)).plain_text
    fake.send(alice, group, "/consentement 1")  # nothing to decide: it is in the register as it is
    assert ended in (await fake.next_message(group)).plain_text
    assert await bot.database.fetch_all("SELECT id FROM consent_rounds") == []


async def next_prompt_or_text(fake: FakeTelegram, chat: FakeChat | FakeUser, text: str) -> BotMessage:
    while True:
        message = await fake.next_message(chat)
        if text in message.plain_text:
            return message


async def next_document(fake: FakeTelegram, chat: FakeChat | FakeUser) -> dict[str, Any]:
    """The file the bot sends next in this chat: the register's picture, its calendar."""
    document = (await fake.next_message(chat)).document
    assert document is not None
    return document


async def test_a_current_partner_recorded_in_private_goes_to_the_register_of_the_members_group(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    bea = fake.add_user("Bea")
    group = known_group(fake, bea)
    private = fake.private_chat(bea)
    fake.send(bea, private, "/partenaire_connu")
    intake, flow = library.messages.intake, library.messages.flow
    intro = await fake.next_message(private)
    assert f"« {group.title} »" in intro.plain_text
    since = await fill(fake, bea, private, ["Alternatiba", "Association ou réseau", "Une étape du tour à vélo"])
    assert intake.button_date_unknown in since.button_texts()
    fake.press(bea, since, intake.button_date_unknown)
    summary = await fill(fake, bea, private, [flow.yes, "-"])
    assert f"Depuis : {flow.dates.unknown}" in summary.plain_text
    fake.press(bea, summary, intake.button_confirm)
    recorded = await next_prompt_or_text(fake, group, "inscrit au registre")
    assert "Alternatiba" in recorded.plain_text
    told = render(library.register.known.recorded_in_group, number=1, group=group.title)
    assert (await next_prompt_or_text(fake, private, "n°1")).plain_text == plain(told)
    stored = await bot.database.fetch_all("SELECT chat_id, status, origin FROM requests")
    assert [tuple(row) for row in stored] == [(group.id, "current", "known")]


async def test_a_known_partner_recorded_in_private_by_a_member_of_two_groups_goes_where_she_picks(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve = fake.add_user("Ana"), fake.add_user("Eve")
    forum = fake.add_forum("GL Forum", [eve], creator=ana)
    fake.add_bot(forum, ana)
    home = fake.create_topic(forum, "Partenariats", by=ana)
    fake.send_in_topic(ana, forum, home, "/sujet")
    await fake.next_message(forum)
    other = known_group(fake, eve, "GL Alès")
    private = fake.private_chat(eve)

    fake.send(eve, private, "/partenaire_connu")
    choice = await fake.next_message(private)
    assert choice.plain_text == plain(library.messages.groups.known_choose)
    assert forum.title is not None and other.title is not None
    assert sorted(choice.button_texts()) == sorted([forum.title, other.title])
    query = fake.press(eve, choice, forum.title)
    answered = await fake.callback_answer(query)
    assert not answered.get("text")
    assert f"« {forum.title} »" in (await fake.next_message(private)).plain_text
    summary = await fill(fake, eve, private, known_answers(library))
    fake.press(eve, summary, library.messages.intake.button_confirm)
    recorded = await next_prompt_or_text(fake, forum, "inscrit au registre")
    assert recorded.message_thread_id == home
    stored = await bot.database.fetch_all("SELECT chat_id, origin, thread_id FROM requests")
    assert [tuple(row) for row in stored] == [(forum.id, "known", home)]
    told = render(library.register.known.recorded_in_group, number=1, group=forum.title)
    assert (await next_prompt_or_text(fake, private, "n°1")).plain_text == plain(told)

    fake.send(eve, private, "/partenaire_connu")  # the press is checked again: no longer a member
    choice = await fake.next_message(private)
    fake.set_member_status(other, eve, "left")
    query = fake.press(eve, choice, other.title)
    assert (await fake.callback_answer(query))["text"] == library.messages.groups.not_a_member
    assert await bot.database.fetch_all("SELECT * FROM flow_sessions") == []


async def test_a_known_partner_in_private_needs_a_group(fake: FakeTelegram, bot: RunningBot, library: Library) -> None:
    eve = fake.add_user("Eve")
    private = fake.private_chat(eve)
    fake.send(eve, private, "/partenaire_connu")
    assert (await fake.next_message(private)).plain_text == plain(library.messages.groups.known_no_group)
    fake.send(eve, private, "/calendrier")
    assert (await fake.next_message(private)).plain_text == plain(library.register.calendar.no_group)
    assert await bot.database.fetch_all("SELECT * FROM flow_sessions") == []


async def test_the_register_picture_grows_with_the_register_and_shows_declined_ones(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    await log(bot.database, group, "Alternatiba", "association", "adopted")

    async def picture() -> dict[str, Any]:
        await drain(fake, group)
        fake.send(alice, group, "/partenaires")
        await fake.next_message(group)
        return await next_document(fake, group)

    small = await picture()
    for index in range(6):
        await log(bot.database, group, f"Collectif {index}", "association", "withdrawn")
    tall = await picture()
    assert small["content"].startswith(JPEG) and tall["content"].startswith(JPEG)
    assert small["file_name"] == f"{library.register.picture.file_name.format(date=TODAY.isoformat())}.jpg"
    assert small["width"] == tall["width"] == 1080
    assert tall["height"] > small["height"]
    assert tall["width"] + tall["height"] <= 10_000


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Layout]:
    """Every layout the bot draws, in order; the drawing itself goes on."""
    plans: list[Layout] = []
    draw = picture.PictureWorker.draw

    async def draw_and_count(worker: picture.PictureWorker, plan: Layout) -> bytes:
        plans.append(plan)
        return await draw(worker, plan)

    monkeypatch.setattr(picture.PictureWorker, "draw", draw_and_count)
    return plans


async def test_an_unchanged_register_sends_the_picture_drawn_last_and_a_change_draws_it_anew(
    fake: FakeTelegram, bot: RunningBot, drawn: list[Layout]
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    number = await log(bot.database, group, "Alternatiba", "association", "adopted")

    async def sent_picture() -> bytes:
        await drain(fake, group)
        fake.send(alice, group, "/partenaires")
        await fake.next_message(group)
        content: bytes = (await next_document(fake, group))["content"]
        return content

    first, again = await sent_picture(), await sent_picture()
    assert again == first and len(drawn) == 1
    await bot.database.write(  # the partnership ended: same rows, another colour
        lambda connection: connection.execute(
            "UPDATE requests SET status = 'ended' WHERE chat_id = ? AND number = ?", (group.id, number)
        )
    )
    ended = await sent_picture()
    assert ended != first and len(drawn) == 2
    assert drawn[-1].bars[0].standing is Standing.ENDED


async def test_the_calendar_is_sent_in_private_with_each_deadline_and_review_date(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    staged = await scene(fake)
    await staged.file_request()
    await staged.open_round(staged.admin)
    number = await log(bot.database, staged.group, "Emmaüs", "association", "adopted")
    request = await bot.database.fetch_one(
        "SELECT id FROM requests WHERE chat_id = ? AND number = ?", (staged.group.id, number)
    )
    assert request is not None
    due = TODAY + timedelta(days=40)
    await bot.database.write(partial(review_dates.set_date, request_id=request["id"], kind="review", due_on=due))
    member = staged.circle[1]
    fake.send(member, fake.private_chat(member), "/start")
    await fake.next_message(member)
    await drain(fake, staged.group)

    fake.send(member, staged.group, "/calendrier")
    texts = library.register.calendar
    assert (await fake.next_message(staged.group)).plain_text == texts.sent_private.format(member=member.full_name)
    sent = await next_document(fake, member)
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


async def test_the_calendar_asked_in_private_covers_every_group_of_the_member(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    eve, ana = fake.add_user("Eve"), fake.add_user("Ana")
    uzes, ales = known_group(fake, eve), known_group(fake, eve, "GL Alès")
    elsewhere = known_group(fake, ana, "GL Nîmes")  # not Eve's
    due = TODAY + timedelta(days=40)
    for group, partner in ((uzes, "Emmaüs"), (ales, "Alternatiba"), (elsewhere, "Weleda")):
        number = await log(bot.database, group, partner, "association", "adopted")
        request = await bot.database.fetch_one(
            "SELECT id FROM requests WHERE chat_id = ? AND number = ?", (group.id, number)
        )
        assert request is not None
        await bot.database.write(partial(review_dates.set_date, request_id=request["id"], kind="review", due_on=due))
    private = fake.private_chat(eve)

    fake.send(eve, private, "/calendrier")
    texts = library.register.calendar
    sent = await next_document(fake, private)
    events = list(Calendar.from_ical(sent["content"]).walk("VEVENT"))
    summaries = sorted(str(e["SUMMARY"]) for e in events)
    assert summaries == sorted(
        texts.in_group.format(group=group.title, summary=texts.review_summary.format(number=1, partner=partner))
        for group, partner in ((uzes, "Emmaüs"), (ales, "Alternatiba"))
    )

    fake.set_member_status(ales, eve, "left")  # one group left: its dates, without a tag
    fake.send(eve, private, "/calendrier")
    sent = await next_document(fake, private)
    (event,) = Calendar.from_ical(sent["content"]).walk("VEVENT")
    assert str(event["SUMMARY"]) == texts.review_summary.format(number=1, partner="Emmaüs")


async def test_the_calendar_explains_how_to_open_a_private_chat_first(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Lyon", [alice])
    number = await log(bot.database, group, "Alternatiba", "association", "adopted")
    request = await bot.database.fetch_one("SELECT id FROM requests WHERE number = ?", (number,))
    assert request is not None
    await bot.database.write(
        partial(review_dates.set_date, request_id=request["id"], kind="review", due_on=date(TODAY.year + 1, 1, 15))
    )

    fake.send(alice, group, "/calendrier")
    reply = await fake.next_message(group)
    assert reply.buttons()[0][0]["url"] == "https://t.me/colibris_test_bot"
    assert "/calendrier" in reply.plain_text
    assert not [m for m in fake.sent if m.document]


async def test_a_register_too_long_for_a_photo_comes_as_its_png_file(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    from bot.core.picture_layout import PHOTO_ROWS

    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    for index in range(PHOTO_ROWS):  # one heading and as many partners: one row too many
        await log(bot.database, group, f"Association {index:02d}", "association", "adopted")
    fake.send(alice, group, "/partenaires")
    await fake.next_message(group)
    sent = await next_document(fake, group)
    assert not sent.get("photo") and sent["content"].startswith(PNG)
    assert sent["file_name"] == f"{library.register.picture.file_name.format(date=TODAY.isoformat())}.png"


class HeldDrawings:
    """The bot's drawings held until ``release``: what the bot does while a picture is being
    drawn shows; each image drawn is kept, in order."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.drawn: list[bytes] = []

    async def __call__(self, plan: Layout) -> bytes:  # in place of PictureWorker.draw
        await asyncio.wait_for(self.released.wait(), timeout=10)
        content = await asyncio.to_thread(picture.draw, plan)
        self.drawn.append(content)
        return content

    def release(self) -> None:
        self.released.set()


@pytest.fixture
async def direct(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[DirectBot]:
    """The bot handed its updates: ``process`` returns once their handlers have."""
    running = DirectBot.for_tests(fake, tmp_path)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def held(direct: DirectBot, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldDrawings]:
    """The direct bot's pictures held (released before the bot stops, which waits for them)."""
    drawings = HeldDrawings()
    monkeypatch.setattr(picture.PictureWorker, "draw", drawings)
    yield drawings
    drawings.release()


async def handled(bot: DirectBot) -> None:
    """Hand the queued updates to the bot, returning once their handlers have, whatever they left
    running (``DirectBot.process`` waits for that too)."""
    for data in bot.fake.take_updates():
        await bot.application.process_update(Update.de_json(data, bot.application.bot))


def pictures_sent(fake: FakeTelegram) -> list[str]:
    return [method for method, _ in fake.calls if method in ("sendPhoto", "sendDocument")]


async def test_the_list_is_answered_before_its_picture_is_drawn_and_the_picture_follows_in_its_topic(
    fake: FakeTelegram, direct: DirectBot, held: HeldDrawings, library: Library
) -> None:
    ana = fake.add_user("Ana")
    forum = fake.add_forum("GL Forum", [], creator=ana)
    fake.add_bot(forum, ana)
    topic = fake.create_topic(forum, "Partenariats", by=ana)
    await direct.process()
    fake.mark_read(forum)  # whatever the bot says on joining
    await log(direct.database, forum, "Alternatiba", "association", "adopted")

    fake.send_in_topic(ana, forum, topic, "/partenaires")
    await asyncio.wait_for(handled(direct), timeout=5)  # the handler is done, the picture still held
    page = await fake.next_message(forum, timeout=0)
    assert "Alternatiba" in page.plain_text and page.message_thread_id == topic
    assert pictures_sent(fake) == [] and held.drawn == []

    held.release()
    sent = await fake.next_message(forum)
    assert sent.document is not None and sent.document["content"] == held.drawn[0]
    assert sent.message_thread_id == topic
    assert sent.caption == render(library.register.picture.caption, partners=1)
    assert not direct.errors.records, direct.errors.describe()


async def test_two_lists_asked_while_the_picture_is_drawn_get_the_one_picture_drawn_once(
    fake: FakeTelegram, direct: DirectBot, held: HeldDrawings
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    await log(direct.database, group, "Alternatiba", "association", "adopted")
    fake.send(alice, group, "/partenaires")
    fake.send(alice, group, "/partenaires")
    await handled(direct)

    held.release()
    messages = [await fake.next_message(group) for _ in range(4)]
    assert ["Alternatiba" in m.plain_text for m in messages] == [True, True, False, False]
    assert [m.document["content"] for m in messages[2:] if m.document] == held.drawn * 2
    assert len(held.drawn) == 1


async def test_each_list_gets_the_picture_of_the_register_it_shows_in_the_order_asked(
    fake: FakeTelegram, direct: DirectBot, held: HeldDrawings
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    number = await log(direct.database, group, "Alternatiba", "association", "adopted")
    fake.send(alice, group, "/partenaires")
    await handled(direct)
    await direct.database.write(  # ended while the first picture is being drawn
        lambda connection: connection.execute(
            "UPDATE requests SET status = 'ended' WHERE chat_id = ? AND number = ?", (group.id, number)
        )
    )
    fake.send(alice, group, "/partenaires")
    await handled(direct)

    held.release()
    adopted, ended = await fake.next_message(group), await fake.next_message(group)
    assert "adoptée" in adopted.plain_text and "terminée" in ended.plain_text
    first, second = await fake.next_message(group), await fake.next_message(group)
    assert first.document is not None and second.document is not None
    assert [first.document["content"], second.document["content"]] == held.drawn
    assert held.drawn[0] != held.drawn[1]


async def test_a_picture_telegram_refuses_is_logged_the_list_stays_and_the_next_list_sends_it(
    fake: FakeTelegram, direct: DirectBot, drawn: list[Layout], library: Library
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    await log(direct.database, group, "Alternatiba", "association", "adopted")
    fake.fail_next("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    fake.send(alice, group, "/partenaires")
    await direct.process()

    assert "Alternatiba" in (await fake.next_message(group)).plain_text
    apology = await fake.next_message(group)
    assert apology.plain_text == plain(library.messages.system.error)
    (record,) = direct.errors.records
    assert record.exc_info is not None and isinstance(record.exc_info[1], BadRequest)
    assert record.exc_info[1].message.upper() == "IMAGE_PROCESS_FAILED"
    direct.errors.records.clear()

    fake.send(alice, group, "/partenaires")
    await direct.process()
    assert "Alternatiba" in (await fake.next_message(group)).plain_text
    sent = await fake.next_message(group)
    assert sent.document is not None and sent.document["content"].startswith(JPEG)
    assert len(drawn) == 1 and not direct.errors.records


async def test_an_empty_register_has_no_picture(fake: FakeTelegram, direct: DirectBot, library: Library) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    fake.send(alice, group, "/partenaires")
    await direct.process()
    assert (await fake.next_message(group)).plain_text == plain(library.register.partners.empty)
    assert pictures_sent(fake) == [] and len(fake.messages_in(group)) == 1
