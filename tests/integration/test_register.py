"""The partner register: /partenaires, /export, review dates and their follow-ups."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot.core.register_rules import add_months
from bot.storage import flow_versions, requests
from bot.storage.db import Database
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.integration.conftest import RunningBot, settings_for
from tests.integration.conversation import (
    COMPANY_ANSWERS,
    COMPANY_REQUEST,
    NEXT_YEAR,
    answer,
    fill,
    next_prompt,
)

FLOW_ID = "demande_partenariat"
TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()  # the settings' time zone


def parse_csv(content: bytes) -> list[dict[str, str]]:
    """Read the file back as a spreadsheet does: UTF-8 announced by its BOM, ';' between cells."""
    assert content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


Found = TypeVar("Found")


async def eventually(check: Callable[[], Awaitable[Found | None]], timeout: float = 5.0) -> Found:
    """Wait until ``check`` returns something truthy (a job runs on its own schedule)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)
    return result


async def file_company_request(fake: FakeTelegram, member: FakeUser, group: FakeChat) -> None:
    """Alice logs the Weleda three-year request through the real flow, in the group."""
    fake.send(member, group, "/partenariat")
    fake.press(member, await fake.next_message(group), "✍️ Répondre ici")
    await answer(fake, member, group, await next_prompt(fake, group), COMPANY_REQUEST[0])
    summary = await fill(fake, member, group, COMPANY_REQUEST[1:])
    fake.press(member, summary, "✅ Valider")
    await drain(fake, group)


async def drain(fake: FakeTelegram, chat: FakeChat) -> None:
    """Mark as read everything the bot has sent to the chat so far."""
    await fake.idle()
    while True:
        try:
            await fake.next_message(chat, timeout=0)
        except AssertionError:
            return


async def log(
    database: Database, chat: FakeChat, partner: str, kind: str, status: str = "submitted", **answers: object
) -> int:
    """Put a request in the register directly, as if a member had filed it; its number."""
    active = await database.read(lambda connection: flow_versions.active(connection, FLOW_ID, chat.id))
    assert active is not None
    version = active.version
    values = {"partenaire": partner, "type_partenaire": kind, **answers}
    request = await database.write(
        partial(
            requests.create,
            chat_id=chat.id,
            author_id=1,
            author_name="Dominique",
            flow_id=FLOW_ID,
            flow_version=version,
            partner_name=partner,
            partner_kind=kind,
            answers=values,
        )
    )
    if status != "submitted":
        await decide(database, request.id, status)
    return request.number


async def decide(database: Database, request_id: int, status: str = "adopted") -> None:
    """What the closing of a consent round does to a request."""
    decided_at = datetime.now(UTC).isoformat(timespec="seconds")
    await database.write(
        lambda connection: connection.execute(
            "UPDATE requests SET status = ?, decided_at = ? WHERE id = ?", (status, decided_at, request_id)
        )
    )


async def open_review(database: Database, number: int, chat: FakeChat) -> sqlite3.Row | None:
    return await database.fetch_one(
        "SELECT v.* FROM reviews v JOIN requests r ON r.id = v.request_id"
        " WHERE r.chat_id = ? AND r.number = ? AND v.outcome IS NULL",
        (chat.id, number),
    )


async def make_due(database: Database) -> None:
    """Time passes: every open review falls due yesterday."""
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    await database.write(
        lambda connection: connection.execute("UPDATE reviews SET due_on = ? WHERE outcome IS NULL", (yesterday,))
    )


@pytest.fixture
async def quick_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot with its review job every fraction of a second, posting at any hour."""
    running = RunningBot(settings_for(fake, tmp_path, review_check_minutes=0.003, review_post_hour=0))
    await running.start()
    yield running
    await running.stop()


def follow_ups(fake: FakeTelegram, group: FakeChat) -> list[BotMessage]:
    return [m for m in fake.messages_in(group) if "▶️ Continuer" in m.button_texts()]


async def posted(fake: FakeTelegram, group: FakeChat, count: int) -> list[BotMessage]:
    """The follow-ups in the group once there are ``count`` of them."""
    return await eventually(lambda: _count(follow_ups(fake, group), count))


async def _count(messages: list[BotMessage], count: int) -> list[BotMessage] | None:
    return messages if len(messages) == count else None


# --- /partenaires ------------------------------------------------------------------------------


async def test_the_register_lists_every_organisation_grouped_by_kind(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    await file_company_request(fake, alice, group)
    await log(bot.database, group, "Alternatiba", "association", "adopted", format="ponctuel")
    await log(bot.database, group, "Emmaüs", "association")
    await log(bot.database, group, "École Jules Ferry", "ecole", "objection")

    fake.send(alice, group, "/partenaires")
    register = (await fake.next_message(group)).plain_text

    assert "4 organisation(s), 4 demande(s) — page 1/1" in register
    lines = register.splitlines()
    headings = [lines.index(h) for h in ("Association ou réseau", "École / éducation", "Entreprise")]
    assert headings == sorted(headings)
    today = TODAY.strftime("%d/%m/%Y")
    assert f"• Alternatiba — n°2 · adoptée · déposée le {today} · décidée le {today}" in register
    assert f"• Emmaüs — n°3 · déposée · déposée le {today}" in register
    assert "• École Jules Ferry — n°4 · objection à travailler" in register
    assert "• Jardins <Weleda> & Co — n°1 · déposée" in register
    assert lines.index("• Jardins <Weleda> & Co — n°1 · déposée · déposée le " + today) > headings[2]


async def test_the_register_pages_with_buttons(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Gard", [alice])
    for index in range(14):
        await log(bot.database, group, f"Association {index:02d}", "association")

    fake.send(alice, group, "/partenaires")
    first = await fake.next_message(group)
    assert "14 demande(s) — page 1/2" in first.plain_text and "Association 11" in first.plain_text
    assert first.button_texts() == ["Page suivante ▶️"]
    fake.press(alice, first, "Page suivante ▶️")
    second = await fake.wait_edit(first)
    assert "page 2/2" in second.plain_text and "Association 13" in second.plain_text
    assert "Association 00" not in second.plain_text
    assert second.button_texts() == ["◀️ Page précédente"]


# --- /export -----------------------------------------------------------------------------------


async def test_an_admin_receives_the_register_as_csv_in_private(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Évry", [alice], admins=[alice])
    await file_company_request(fake, alice, group)
    await log(
        bot.database,
        group,
        "Réseau d'échanges « Savoirs ; partagés »",
        "association",
        "adopted",
        format="ponctuel",
        demande='Des ateliers "cuisine"\net couture',
    )
    fake.send(alice, fake.private_chat(alice), "/start")
    await fake.next_message(alice)

    fake.send(alice, group, "/export")
    notice = await fake.next_message(group)
    assert "je vous ai envoyé le registre en privé" in notice.plain_text
    sent = await fake.next_message(alice)
    assert sent.document is not None and sent.caption is not None
    assert sent.document["file_name"] == f"registre-partenaires-{TODAY.isoformat()}.csv"
    assert "GL Évry" in sent.caption and "2 demande(s)" in sent.caption

    weleda, savoirs = parse_csv(sent.document["content"])
    assert weleda["N°"] == "1"
    assert weleda["Partenaire"] == "Jardins <Weleda> & Co"
    assert weleda["Type de partenaire"] == "Entreprise"
    assert weleda["Ce qui est demandé au groupe"] == "20 salariés sur le jardin partagé pendant une journée"
    assert weleda["Durée d'engagement (mois)"] == "36"
    assert weleda["Date de début"] == NEXT_YEAR
    assert weleda["Précisions sur le lien"] == "Camille y travaille"
    assert weleda["Attentes mutuelles"] == COMPANY_ANSWERS["attentes"]
    assert weleda["Statut"] == "déposée" and weleda["Proposée par"] == "Alice"
    assert weleda["Déposée le"] == TODAY.strftime("%d/%m/%Y") and weleda["Décidée le"] == ""
    assert savoirs["Partenaire"] == "Réseau d'échanges « Savoirs ; partagés »"
    assert savoirs["Ce qui est demandé au groupe"] == 'Des ateliers "cuisine"\net couture'
    assert savoirs["Statut"] == "adoptée" and savoirs["Décidée le"] == TODAY.strftime("%d/%m/%Y")


async def test_a_circle_member_may_export_but_not_another_member(fake: FakeTelegram, bot: RunningBot) -> None:
    circle, member = fake.add_user("Camille"), fake.add_user("Bob")
    group = fake.add_group("GL Metz", [circle, member])
    await log(bot.database, group, "Alternatiba", "association")
    await bot.database.write(
        lambda connection: connection.execute(
            "INSERT INTO circle_members (chat_id, user_id, name, added_at) VALUES (?, ?, ?, ?)",
            (group.id, circle.id, circle.full_name, "2026-01-01T00:00:00+00:00"),
        )
    )
    for user in (circle, member):
        fake.send(user, fake.private_chat(user), "/start")
        await fake.next_message(user)

    fake.send(member, group, "/export")
    refusal = await fake.next_message(group)
    assert "Seul·es le cercle cœur, les coordinateur·rices et les admins" in refusal.plain_text
    fake.send(circle, group, "/export")
    document = await fake.next_message(circle)
    assert document.document is not None
    assert [row["Partenaire"] for row in parse_csv(document.document["content"])] == ["Alternatiba"]
    await fake.idle()
    assert not [m for m in fake.messages_in(member) if m.document]


async def test_export_asks_to_open_a_private_chat_first(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Lyon", [], admins=[alice])

    fake.send(alice, group, "/export")
    reply = await fake.next_message(group)
    assert "Ouvrez d'abord une discussion avec moi" in reply.plain_text
    assert reply.buttons()[0][0]["url"] == "https://t.me/colibris_test_bot"
    assert not [m for m in fake.sent if m.document]


# --- review dates and follow-ups ----------------------------------------------------------------


async def test_a_review_falls_due_across_restarts_and_its_answer_updates_the_register(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    alice, bob = fake.add_user("Alice"), fake.add_user("Bob")
    group = fake.add_group("GL Pays d'Uzès", [bob], admins=[alice])
    await file_company_request(fake, alice, group)
    request = await bot.database.fetch_one("SELECT id FROM requests WHERE chat_id = ?", (group.id,))
    assert request is not None
    await decide(bot.database, request["id"])

    await bot.restart()  # the job plans adopted partnerships at start-up
    review = await eventually(lambda: open_review(bot.database, 1, group))
    start = datetime.strptime(NEXT_YEAR, "%d/%m/%Y").date()
    assert review["due_on"] == add_months(start, 12).isoformat()  # 36 months asked, reviewed yearly
    assert review["kind"] == "review" and review["posted_at"] is None

    await bot.stop()
    database = await Database.open(bot.settings.database_path)
    await make_due(database)  # time passes while the bot is down
    await database.close()
    await bot.start()  # what fell due meanwhile is posted at start-up

    (follow_up,) = await posted(fake, group, 1)
    text = follow_up.plain_text
    assert "Date de révision : partenariat n°1 avec Jardins <Weleda> & Co (Entreprise)" in text
    assert "Ce qui est demandé au groupe : 20 salariés sur le jardin partagé pendant une journée" in text
    assert f"Attentes mutuelles : {COMPANY_ANSWERS['attentes']}" in text
    assert follow_up.button_texts() == ["▶️ Continuer", "💬 À rediscuter", "⏹ Terminer"]

    refused = fake.press(bob, follow_up, "⏹ Terminer")
    assert "Seul·es le cercle cœur" in (await fake.callback_answer(refused))["text"]
    fake.press(alice, follow_up, "▶️ Continuer")
    answered = await fake.wait_edit(follow_up)
    next_date = add_months(TODAY, 12)
    assert f"Alice : on continue. Prochaine révision le {next_date.strftime('%d/%m/%Y')}." in answered.plain_text
    assert answered.buttons() == []
    stale = fake.press_data(alice, follow_up, f"1|v|{review['id']}|end")
    assert "déjà reçu une réponse" in (await fake.callback_answer(stale))["text"]

    status = await bot.database.fetch_one("SELECT status FROM requests WHERE id = ?", (request["id"],))
    assert status is not None and status["status"] == "adopted"
    following = await open_review(bot.database, 1, group)
    assert following is not None
    assert following["due_on"] == next_date.isoformat() and following["id"] != review["id"]
    fake.send(bob, group, "/partenaires")
    assert f"révision le {next_date.strftime('%d/%m/%Y')}" in (await fake.next_message(group)).plain_text


async def test_a_one_off_gets_how_did_it_go_and_can_be_ended_or_rediscussed(
    fake: FakeTelegram, quick_bot: RunningBot
) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Alès", [], admins=[alice])
    one_off = {"format": "ponctuel", "date_debut": TODAY.isoformat(), "attentes": "Chacun tient un stand"}
    await log(quick_bot.database, group, "Alternatiba", "association", "adopted", **one_off)
    await log(quick_bot.database, group, "Pharmacienne d'Alès", "professionnel", "adopted", **one_off)
    first = await eventually(lambda: open_review(quick_bot.database, 1, group))
    assert (first["kind"], first["due_on"]) == ("follow_up", (TODAY + timedelta(days=7)).isoformat())
    await eventually(lambda: open_review(quick_bot.database, 2, group))
    await make_due(quick_bot.database)

    ended, rediscussed = await posted(fake, group, 2)
    assert "Alors, comment ça s'est passé avec Alternatiba ?" in ended.plain_text
    assert "Attentes mutuelles : Chacun tient un stand" in ended.plain_text
    fake.press(alice, ended, "⏹ Terminer")
    assert "partenariat terminé" in (await fake.wait_edit(ended)).plain_text
    fake.press(alice, rediscussed, "💬 À rediscuter")
    in_a_month = add_months(TODAY, 1).strftime("%d/%m/%Y")
    assert f"Je reposerai la question le {in_a_month}" in (await fake.wait_edit(rediscussed)).plain_text

    await drain(fake, group)
    fake.send(alice, group, "/partenaires")
    register = (await fake.next_message(group)).plain_text
    assert "• Alternatiba — n°1 · terminée" in register
    assert f"• Pharmacienne d'Alès — n°2 · adoptée · déposée le {TODAY.strftime('%d/%m/%Y')}" in register
    assert f"révision le {in_a_month} · à rediscuter" in register
    await fake.idle()
    asked = [m for m in fake.messages_in(group) if "comment ça s'est passé" in m.plain_text]
    assert len(asked) == 2, "an answered follow-up is never posted again"


async def test_revision_shows_and_changes_a_date_written_the_french_way(
    fake: FakeTelegram, quick_bot: RunningBot
) -> None:
    alice, bob = fake.add_user("Alice"), fake.add_user("Bob")
    group = fake.add_group("GL Kembs", [bob], admins=[alice])
    await log(
        quick_bot.database,
        group,
        "École de Kembs",
        "ecole",
        "adopted",
        format="pluriannuel",
        duree_mois=36,
        date_debut=TODAY.isoformat(),
    )
    await log(quick_bot.database, group, "Alternatiba", "association")
    await eventually(lambda: open_review(quick_bot.database, 1, group))

    async def reply_to(member: FakeUser, command: str) -> str:
        fake.send(member, group, command)
        return (await fake.next_message(group)).plain_text

    assert "prochaine révision le " + add_months(TODAY, 12).strftime("%d/%m/%Y") in await reply_to(bob, "/revision 1")
    assert "Seul·es le cercle cœur" in await reply_to(bob, "/revision 1 15/09/2030")
    assert "sera revu le 15/09/2030" in await reply_to(alice, "/revision n°1 15 septembre 2030")
    moved = await open_review(quick_bot.database, 1, group)
    assert moved is not None and moved["due_on"] == "2030-09-15"
    assert "sera revu le 01/03/2031" in await reply_to(alice, "/revision 1 1er mars 2031")
    assert "pas reconnu la date" in await reply_to(alice, "/revision 1 31/02/2031")
    assert "déjà passée" in await reply_to(alice, "/revision 1 01/01/2020")
    assert "est « déposée »" in await reply_to(alice, "/revision 2 15/09/2030")
    assert "pas de demande n°9" in await reply_to(alice, "/revision 9")
    assert "/revision 12 15/09/2027" in await reply_to(alice, "/revision")
    moved = await open_review(quick_bot.database, 1, group)
    assert moved is not None and moved["due_on"] == "2031-03-01"
