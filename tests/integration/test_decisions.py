"""Deciding as the movement decides, through Telegram: silence, the link, the substance kept
private where it is personal, a new round on something new, declining and withdrawing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import RunningBot
from tests.integration.conversation import ONE_OFF_REQUEST
from tests.integration.test_consent import (  # noqa: F401 - the bot fixture with short redraws
    PROPOSAL,
    add_coordinator,
    bot,
    file_request,
    give_reason,
    open_round,
    press,
    rows,
    scene,
    settled,
)

CONTACT = "06 12 34 56 78"
REQUEST = [CONTACT if reply == ONE_OFF_REQUEST[-1] else reply for reply in ONE_OFF_REQUEST]


def group_texts(fake: FakeTelegram, group) -> str:
    """Every text the bot ever showed in the group, edits included."""
    return "\n".join(
        f"{message.text}\n{message.edits}\n{message.reply_markup}" for message in fake.messages_in(group)
    )


def pass_deadline(bot: RunningBot) -> None:
    with sqlite3.connect(bot.settings.database_path) as connection:
        moment = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
        connection.execute("UPDATE consent_rounds SET deadline_at = ? WHERE status = 'open'", (moment,))


async def test_a_round_where_one_member_never_answers_decides_nothing(fake: FakeTelegram, bot) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea, cal, dan = staged.circle
    await file_request(staged, REQUEST)
    proposal = await open_round(staged, bea)
    await press(staged, bea, proposal, "✅ Je consens")
    await press(staged, cal, proposal, "✅ Je consens")
    await settled(fake, proposal, "Pas encore répondu : Dan")

    await bot.stop()
    pass_deadline(bot)
    await bot.start()
    outcome = await staged.containing("Demande n°1")
    assert "sans décision" in outcome.plain_text and "le silence ne vaut pas accord" in outcome.plain_text
    assert "Sans réponse : Dan" in outcome.plain_text
    assert "Date de révision" not in outcome.plain_text
    assert await rows(bot, "SELECT status FROM requests") == [("no_decision",)]


async def test_the_contact_appears_in_no_group_message_and_the_full_request_goes_private(
    fake: FakeTelegram, bot
) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    await add_coordinator(staged, "Coco", started=False)  # the summary falls back to the group
    await file_request(staged, REQUEST)
    fake.send(cal, staged.group, "/demande 1")
    detail = await staged.containing("Demande de partenariat n°1")
    assert "Alternatiba" in detail.plain_text and "Contact" not in detail.plain_text

    proposal = await open_round(staged, bea)
    assert "Ce qui est demandé au groupe : Accueillir une étape du tour à vélo" in proposal.plain_text
    assert "Attentes mutuelles : Chacun tient un stand" in proposal.plain_text
    alert = await press(staged, cal, proposal, "📄 Demande complète en privé")
    assert alert["show_alert"] and "t.me/colibris_test_bot" in alert["text"]  # Cal never started the bot
    fake.open_private_chat(cal)
    alert = await press(staged, cal, proposal, "📄 Demande complète en privé")
    assert "en privé" in alert["text"]
    full = await fake.next_message(fake.private_chat(cal))
    assert CONTACT in full.plain_text and "Accueillir une étape du tour à vélo" in full.plain_text

    stranger = fake.add_user("Sam")
    fake.set_member_status(staged.group, stranger, "member")
    fake.open_private_chat(stranger)
    await press(staged, stranger, proposal, "📄 Demande complète en privé")
    copy = await fake.next_message(fake.private_chat(stranger))
    assert "Accueillir une étape du tour à vélo" in copy.plain_text and CONTACT not in copy.plain_text

    await press(staged, bea, proposal, "✅ Je consens")
    await press(staged, cal, proposal, "✅ Je consens")
    await staged.containing("Bilan de consentement")  # the coordinator's summary, posted in the group
    await fake.idle()
    assert CONTACT not in group_texts(fake, staged.group)


async def test_a_new_round_on_an_unchanged_request_needs_an_admins_reason(fake: FakeTelegram, bot) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    await file_request(staged, REQUEST)
    proposal = await open_round(staged, bea)
    await give_reason(staged, cal, proposal, "⛔ J'ai une objection", "Personne pour tenir le stand")
    await press(staged, bea, proposal, "✅ Je consens")
    await staged.containing("objection à travailler")

    fake.send(staged.author, staged.group, "/consentement 1")
    assert "n'a pas changé depuis l'objection" in (await staged.containing("n'a pas changé")).plain_text
    fake.send(bea, staged.group, "/consentement 1 motif on a trouvé quelqu'un")
    assert "Seul·es les admins" in (await staged.containing("Seul·es les admins")).plain_text
    assert await rows(bot, "SELECT COUNT(*) FROM consent_rounds") == [(1,)]

    fake.send(staged.admin, staged.group, "/consentement 1 motif Dan tiendra le stand")
    second = await staged.containing(PROPOSAL)
    assert "Nouveau tour sur la demande inchangée, ouvert par Ana : « Dan tiendra le stand »" in second.plain_text
    told = await staged.containing("Votre avis d'abord")
    assert "sans modification" in told.plain_text and "a été modifiée" not in told.plain_text
    assert await rows(bot, "SELECT number, reopen_reason FROM consent_rounds ORDER BY id") == [
        (1, None), (2, "Dan tiendra le stand"),
    ]


async def test_the_author_withdraws_and_the_circle_declines(fake: FakeTelegram, bot) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    card = await file_request(staged, REQUEST)
    proposal = await open_round(staged, bea)
    alert = await fake.callback_answer(fake.press(bea, card, "↩️ Retirer ma demande"))
    assert "Seul·e l'auteur·rice" in alert["text"]
    fake.press(staged.author, card, "↩️ Retirer ma demande")
    await staged.containing("retire la demande n°1")
    outcome = await staged.containing("a été retirée par son auteur·rice")
    assert "sans décision" in outcome.plain_text
    await settled(fake, proposal, "demande retirée")

    await file_request(staged, REQUEST)
    fake.send(staged.author, staged.group, "/decliner 2 pas pour nous")
    assert "Seul·es le cercle cœur" in (await staged.containing("Seul·es le cercle cœur")).plain_text
    fake.send(cal, staged.group, "/decliner 2")
    await staged.containing("pourquoi le groupe la décline")
    fake.send(cal, staged.group, "/decliner 2 Ce n'est pas notre terrain de jeu")
    declined = await staged.containing("est déclinée par Cal")
    assert "« Ce n'est pas notre terrain de jeu »" in declined.plain_text
    assert await rows(bot, "SELECT number, status, status_reason FROM requests ORDER BY number") == [
        (1, "withdrawn", None), (2, "declined", "Ce n'est pas notre terrain de jeu"),
    ]

    await file_request(staged, REQUEST)
    fake.send(staged.author, staged.group, "/retirer 3 le partenaire a renoncé")
    assert "« le partenaire a renoncé »" in (await staged.containing("retire la demande n°3")).plain_text

    fake.send(cal, staged.group, "/demandes")
    listed = (await staged.containing("n°3")).plain_text
    assert "retirée" in listed and "déclinée (« Ce n'est pas notre terrain de jeu »)" in listed
    fake.send(cal, staged.group, "/demande 2")
    assert "déclinée" in (await staged.containing("Demande de partenariat n°2")).plain_text
    fake.send(cal, staged.group, "/partenaires")
    register = (await staged.containing("Alternatiba")).plain_text
    assert "retirée" in register and "déclinée" in register
    fake.send(staged.admin, staged.group, "/bilan")
    bilan = (await staged.containing("Tours en cours")).plain_text
    assert "n°2 Alternatiba : déclinée" in bilan and "n°3 Alternatiba : retirée" in bilan
    fake.send(cal, staged.group, "/consentement 2")
    assert "est déclinée" in (await staged.containing("pas de nouveau tour")).plain_text
