"""A member logs a partnership request, in a group (privacy mode on) or in private."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from telegram import Update
from telegram.constants import BotCommandLimit
from telegram.ext import CommandHandler

from bot.core.texts import NARROW_NBSP, plain, render
from bot.handlers import general
from bot.storage import requests
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser, as_read
from tests.integration.conftest import RunningBot
from tests.integration.conversation import (
    COMPANY_REQUEST,
    CONFIRM,
    EDIT,
    FEWEST_QUESTIONS,
    HERE,
    IN_PRIVATE,
    LASTING_ANSWERS,
    LIBRARY,
    ONE_OFF_ANSWERS,
    ONE_OFF_REQUEST,
    STEP_LABEL,
    answer,
    asked,
    fill,
    known_group,
    label,
    next_prompt,
)


async def start_here(fake: FakeTelegram, member: FakeUser, group: FakeChat) -> None:
    fake.send(member, group, "/partenariat")
    intro = await fake.next_message(group)
    fake.press(member, intro, HERE)


async def test_member_completes_a_request_in_the_group(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Pays d'Uzès", [alice])

    fake.send(alice, group, "/partenariat")
    intro = await fake.next_message(group)
    assert IN_PRIVATE in intro.button_texts()
    assert f"{FEWEST_QUESTIONS} questions vont suivre" in intro.plain_text
    private_button = next(b for row in intro.buttons() for b in row if "url" in b)
    assert private_button["url"] == f"https://t.me/colibris_test_bot?start=g{group.id}"
    fake.press(alice, intro, HERE)

    flow_intro = await fake.next_message(group)
    assert f"{FEWEST_QUESTIONS} questions" in flow_intro.plain_text
    first = await next_prompt(fake, group)
    assert f"{STEP_LABEL}1/{FEWEST_QUESTIONS}" in first.plain_text
    assert first.text is not None
    assert f"partenariat{NARROW_NBSP}?" in first.text, "French typography, without the admin typing it"
    assert first.is_force_reply()
    assert "Alice" in first.plain_text

    await answer(fake, alice, group, first, COMPANY_REQUEST[0])
    summary = await fill(fake, alice, group, COMPANY_REQUEST[1:])
    assert "récapitulatif" in summary.plain_text
    assert "Jardins <Weleda> & Co" in summary.plain_text
    assert "36 mois" in summary.plain_text
    fake.press(alice, summary, CONFIRM)

    card = await fake.next_message(group)
    assert "n°1" in card.plain_text
    assert "Jardins <Weleda> & Co" in card.plain_text
    assert label("type_partenaire", "entreprise") in card.plain_text

    fake.send(alice, group, "/demandes")
    listing = await fake.next_message(group)
    assert "n°1 · Jardins <Weleda> & Co · Entreprise · déposée" in listing.plain_text

    fake.send(alice, group, "/demande 1")
    detail = await fake.next_message(group)
    assert "Camille y travaille" in detail.plain_text
    assert "Attentes mutuelles : De l'aide pour les plantations de printemps" in detail.plain_text


async def test_member_fills_the_request_in_private_through_the_deep_link(fake: FakeTelegram, bot: RunningBot) -> None:
    bob = fake.add_user("Bob")
    group = fake.add_group("GL Alès", [bob])
    private = fake.private_chat(bob)

    # The link may come from anywhere: the bot has seen no command in the group yet.
    fake.send(bob, private, f"/start g{group.id}")
    intro = await fake.next_message(private)
    assert "GL Alès" in intro.plain_text
    first = await next_prompt(fake, private)
    assert not first.is_force_reply()

    await answer(fake, bob, private, first, ONE_OFF_REQUEST[0])
    summary = await fill(fake, bob, private, ONE_OFF_REQUEST[1:])
    assert "Durée" not in summary.plain_text  # one-off: the length question was skipped
    fake.press(bob, summary, CONFIRM)

    card = await fake.next_message(group)
    assert "Alternatiba" in card.plain_text
    confirmation = await fake.next_message(private)
    assert "n°1" in confirmation.plain_text and "GL Alès" in confirmation.plain_text


async def test_the_member_hears_the_request_is_posted_before_its_card_is_recorded(
    fake: FakeTelegram, bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card is noted as posted once the member has their answer, not before."""
    bob = fake.add_user("Bob")
    group = fake.add_group("GL Alès", [bob])
    private = fake.private_chat(bob)
    fake.send(bob, private, f"/start g{group.id}")
    await fake.next_message(private)
    first = await next_prompt(fake, private)
    await answer(fake, bob, private, first, ONE_OFF_REQUEST[0])
    summary = await fill(fake, bob, private, ONE_OFF_REQUEST[1:])
    noting = threading.Event()
    record = requests.set_card_message

    def held(connection: sqlite3.Connection, request_id: int, message_id: int) -> None:
        noting.wait(10)  # on the database's thread: nothing else is read or written meanwhile
        record(connection, request_id, message_id)

    monkeypatch.setattr(requests, "set_card_message", held)
    fake.press(bob, summary, CONFIRM)
    try:
        confirmation = await asyncio.wait_for(fake.next_message(private), 5)
    finally:
        noting.set()
    texts = LIBRARY.messages.intake
    assert confirmation.plain_text == as_read(plain(render(texts.saved_and_posted, number=1, group="GL Alès")))
    [card] = fake.messages_in(group)
    noted = None
    for _ in range(100):  # then noted, once let through
        noted = await bot.database.fetch_one("SELECT card_message_id FROM requests")
        if noted is not None and noted["card_message_id"] is not None:
            break
        await asyncio.sleep(0.02)
    assert noted is not None and noted["card_message_id"] == card.message_id


async def test_a_stranger_cannot_file_a_request_for_a_group_by_deep_link(fake: FakeTelegram, bot: RunningBot) -> None:
    member, stranger = fake.add_user("Membre"), fake.add_user("Inconnu")
    group = fake.add_group("GL Metz", [member])
    private = fake.private_chat(stranger)

    fake.send(stranger, private, f"/start g{group.id}")
    refusal = await fake.next_message(private)
    assert "membres de ce groupe" in refusal.plain_text
    await fake.idle()
    assert len(fake.messages_in(private)) == 1


async def test_two_members_fill_requests_in_the_same_group_without_mixing(fake: FakeTelegram, bot: RunningBot) -> None:
    alice, bob = fake.add_user("Alice"), fake.add_user("Bob")
    group = fake.add_group("GL Evry", [alice, bob])

    await start_here(fake, alice, group)
    alice_q = await next_prompt(fake, group)
    await start_here(fake, bob, group)
    bob_q = await next_prompt(fake, group)

    fake.send(bob, group, "Villes en transition", reply_to=bob_q)
    fake.send(alice, group, "Emmaüs", reply_to=alice_q)
    first, second = await next_prompt(fake, group), await next_prompt(fake, group)
    by_member = {("Bob" if "Bob" in m.plain_text else "Alice"): m for m in (first, second)}
    assert set(by_member) == {"Alice", "Bob"}
    assert all(f"{STEP_LABEL}2/" in m.plain_text for m in by_member.values())

    fake.press(alice, by_member["Alice"], label("type_partenaire", "association"))
    await next_prompt(fake, group)
    fake.send(bob, group, "/annuler")
    await fake.next_message(group)
    fake.send(alice, group, "/retour")
    back = await next_prompt(fake, group)
    assert f"{STEP_LABEL}2/" in back.plain_text and "Alice" in back.plain_text


async def test_a_members_buttons_do_nothing_for_another(fake: FakeTelegram, bot: RunningBot) -> None:
    alice, bob = fake.add_user("Alice"), fake.add_user("Bob")
    group = fake.add_group("GL Kembs", [alice, bob])

    fake.send(alice, group, "/partenariat")
    intro = await fake.next_message(group)
    refused = fake.press(bob, intro, HERE)
    alert = await fake.callback_answer(refused)
    assert alert["show_alert"] and "autre membre" in alert["text"]

    fake.press(alice, intro, HERE)
    question = await next_prompt(fake, group)
    fake.send(alice, group, "Alternatiba", reply_to=question)
    kind = await next_prompt(fake, group)
    query = fake.press(bob, kind, label("type_partenaire", "entreprise"))
    assert "autre membre" in (await fake.callback_answer(query))["text"]
    await fake.idle()
    assert kind.buttons(), "the question is still open for Alice"


async def test_cancel_stops_the_flow_and_stores_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    private = fake.private_chat(alice)
    known_group(fake, alice)
    fake.send(alice, private, "/partenariat")
    await next_prompt(fake, private)
    fake.send(alice, private, "Alternatiba")
    kind = await next_prompt(fake, private)
    fake.send(alice, private, "/annuler")
    assert "abandonnée" in (await fake.next_message(private)).plain_text

    stale = fake.press(alice, kind, label("type_partenaire", "entreprise"))
    assert "plus valable" in (await fake.callback_answer(stale))["text"]
    fake.send(alice, private, "/demandes")
    assert "Aucune demande" in (await fake.next_message(private)).plain_text


async def test_back_and_edit_from_the_summary(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    private = fake.private_chat(alice)
    group = known_group(fake, alice)
    fake.send(alice, private, "/partenariat")
    first = await next_prompt(fake, private)
    await answer(fake, alice, private, first, "Alternatve")
    second = await next_prompt(fake, private)
    fake.press(alice, second, "↩️ Retour")
    again = await next_prompt(fake, private)
    assert f"{STEP_LABEL}1/" in again.plain_text

    await answer(fake, alice, private, again, ONE_OFF_REQUEST[0])
    summary = await fill(fake, alice, private, ONE_OFF_REQUEST[1:])
    assert "Alternatiba" in summary.plain_text
    fake.press(alice, summary, EDIT)
    menu = await fake.wait_edit(summary)
    fake.press(alice, menu, "Format")
    format_question = await next_prompt(fake, private)
    assert "Réponse actuelle" in format_question.plain_text
    fake.press(alice, format_question, label("format", "pluriannuel"))
    length = await next_prompt(fake, private)
    assert "combien de mois" in length.plain_text
    fake.send(alice, private, "24")
    lasting = {**ONE_OFF_ANSWERS, "format": label("format", "pluriannuel"), "duree_mois": "24", **LASTING_ANSWERS}
    added = [reply for step, reply in asked(lasting) if step in LASTING_ANSWERS]  # the one-off was not asked
    new_summary = await fill(fake, alice, private, added)
    assert "24 mois" in new_summary.plain_text
    fake.press(alice, new_summary, CONFIRM)
    await fake.next_message(private)
    await fake.next_message(group)  # the card
    fake.send(alice, group, "/demande 1")
    assert label("format", "pluriannuel") in (await fake.next_message(group)).plain_text


async def test_bad_inputs_are_re_asked_politely_and_change_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    await start_here(fake, alice, group)
    question = await next_prompt(fake, group)

    fake.send_sticker(alice, group, reply_to=question)
    sticker_reply = await next_prompt(fake, group)
    assert "que du texte" in sticker_reply.plain_text and f"{STEP_LABEL}1/" in sticker_reply.plain_text
    fake.send(alice, group, "x" * 500, reply_to=sticker_reply)
    too_long = await next_prompt(fake, group)
    assert "120 au maximum" in too_long.plain_text and f"{STEP_LABEL}1/" in too_long.plain_text

    fake.send(alice, group, "Emmaüs", reply_to=too_long)
    kind = await next_prompt(fake, group)
    fake.send(alice, group, "3", reply_to=kind)
    re_asked = await next_prompt(fake, group)
    assert "choisir une des propositions" in re_asked.plain_text and f"{STEP_LABEL}2/" in re_asked.plain_text

    fake.send(alice, group, "Emmaüs encore")  # not a reply: privacy mode hides it from the bot
    await fake.idle()
    assert fake.messages_in(group)[-1] is re_asked


async def test_a_restart_in_the_middle_of_a_flow_loses_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Lyon", [alice])
    await start_here(fake, alice, group)
    for reply in COMPANY_REQUEST[:5]:
        await answer(fake, alice, group, await next_prompt(fake, group), reply)
    pending = await next_prompt(fake, group)

    await bot.restart()

    await answer(fake, alice, group, pending, COMPANY_REQUEST[5])
    summary = await fill(fake, alice, group, COMPANY_REQUEST[6:])
    assert "Jardins <Weleda> & Co" in summary.plain_text
    assert "De l'aide pour les plantations" in summary.plain_text


async def test_commands_are_registered_in_french(fake: FakeTelegram, bot: RunningBot) -> None:
    registered = [params for method, params in fake.calls if method == "setMyCommands"]
    assert registered
    names = {command["command"]: command["description"] for command in registered[0]["commands"]}
    assert names["partenariat"] == "Proposer une demande de partenariat"
    assert {"demandes", "demande", "annuler", "aide", "retour"} <= names.keys()


async def test_an_update_delivered_twice_is_applied_once(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    private = fake.private_chat(alice)
    group = known_group(fake, alice)
    fake.send(alice, private, "/partenariat")
    await next_prompt(fake, private)
    fake.send(alice, private, "Alternatiba")
    second = await next_prompt(fake, private)
    typed_answer = fake.updates[-1]
    sent = len(fake.sent)

    # Telegram redelivers updates whose offset was not confirmed before a crash: one whose
    # answer is stored is skipped whole (not even read against the next question).
    await bot.application.process_update(Update.de_json(typed_answer, bot.application.bot))
    await fake.idle()
    assert fake.sent[sent:] == []

    summary = await fill(fake, alice, private, ONE_OFF_REQUEST[1:], first=second)
    fake.press(alice, summary, CONFIRM)
    await fake.next_message(private)
    confirm = fake.updates[-1]
    await bot.application.process_update(Update.de_json(confirm, bot.application.bot))
    await fake.idle()
    await fake.next_message(group)  # the card, posted once
    fake.send(alice, group, "/demandes")
    listing = await fake.next_message(group)
    assert "(1)" in listing.plain_text and "n°2" not in listing.plain_text


async def test_an_unknown_command_points_to_help_without_swallowing_known_ones(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    alice = fake.add_user("Alice")
    private, group = fake.private_chat(alice), fake.add_group("GL Metz", [alice])
    texts = LIBRARY.messages.system

    fake.send(alice, private, "/agenda")
    pointed = as_read(render(texts.unknown_command, command="/agenda"))
    assert (await fake.next_message(private)).plain_text == pointed

    fake.send(alice, group, "/agenda")  # maybe another bot's: not a word
    await fake.idle()
    assert fake.messages_in(group) == []
    fake.send(alice, group, "/agenda@colibris_test_bot")
    assert "/aide" in (await fake.next_message(group)).plain_text

    sent = len(fake.sent)
    fake.send(alice, group, "/aide@colibris_test_bot")
    await fake.idle()
    assert [m.plain_text for m in fake.sent[sent:]] == [as_read(plain(texts.help))]

    # An update claiming a command as long as a message may be (forged: Telegram marks 64
    # characters at most), echoed whole, would pass what a message holds.
    forged = "/" + "a" * 4095
    fake.send(alice, private, forged, entities=[{"type": "bot_command", "offset": 0, "length": len(forged)}])
    shortened = as_read(render(texts.unknown_command, command="/" + "a" * BotCommandLimit.MAX_COMMAND))
    assert (await fake.next_message(private)).plain_text == shortened


async def test_start_naming_the_bot_in_a_group_greets_as_in_private(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Metz", [alice])
    greeting = as_read(plain(LIBRARY.messages.system.start))

    fake.send(alice, group, "/start")  # maybe another bot's: not a word
    await fake.idle()
    assert fake.messages_in(group) == []
    sent = len(fake.sent)
    fake.send(alice, group, f"/start@colibris_test_bot g{group.id}")  # a deep link opens flows in private only
    await fake.idle()
    assert [m.plain_text for m in fake.sent[sent:]] == [greeting]


async def test_every_command_offered_is_handled_above_the_unknown_command_handler(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    handlers = bot.application.handlers[0]
    assert handlers[-1].callback is general.unknown_command
    handled = {command for handler in handlers if isinstance(handler, CommandHandler) for command in handler.commands}
    offered = {
        command["command"]
        for method, params in fake.calls
        if method == "setMyCommands"
        for command in params["commands"]
    }
    assert {"partenaire_connu", "calendrier", "sujet", "rattacher"} <= offered
    assert offered <= handled
