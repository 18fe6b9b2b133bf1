"""The core circle decides on a request by consent, in a group with privacy mode on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Update

from bot.core.consent_rules import Position
from tests.fake_telegram import FakeTelegram
from tests.integration.circle_scene import (  # noqa: F401 - the bot fixture with quick redraws
    ACCEPT_BUTTON,
    CLOSE_CONFIRM_BUTTON,
    CONFLICT_BUTTON,
    CONSENT,
    CONSENT_BUTTON,
    FULL_REQUEST_BUTTON,
    OBJECTION_BUTTON,
    OPEN_BUTTON,
    PROPOSAL,
    QUESTION_BUTTON,
    RESERVATION_BUTTON,
    STAND_ASIDE_BUTTON,
    bot,
    position_line,
    rows,
    scene,
    set_deadline,
    settled,
    unanswered,
    waiting,
)
from tests.integration.conftest import RunningBot, settings_for
from tests.integration.conversation import COMPANY_REQUEST, CONFIRM, EDIT, label, plain, until

# --- a whole round --------------------------------------------------------------------------


async def test_a_full_round_adopts_the_request_and_coordinators_get_the_summary(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea, cal, dan = staged.circle
    coco = await staged.add_coordinator("Coco", started=True)

    card = await staged.file_request()
    fake.press(bea, card, OPEN_BUTTON)
    proposal = await staged.containing(PROPOSAL)
    assert "Alternatiba" in proposal.plain_text
    assert waiting("Bea, Cal, Dan") in proposal.plain_text
    assert proposal.button_texts() == [
        CONSENT_BUTTON,
        RESERVATION_BUTTON,
        OBJECTION_BUTTON,
        STAND_ASIDE_BUTTON,
        QUESTION_BUTTON,
        CONFLICT_BUTTON,
        FULL_REQUEST_BUTTON,
    ]
    assert "Adoptée si tout le cercle (3 personne(s)) s'est positionné et sans objection" in proposal.plain_text

    assert (await staged.press(bea, proposal, CONSENT_BUTTON))["text"] == CONSENT.alerts.recorded.format(
        position=CONSENT_BUTTON
    )
    await settled(fake, proposal, position_line("Bea", Position.CONSENT))
    await staged.give_reason(cal, proposal, RESERVATION_BUTTON, "Attention à bien co-signer les affiches")
    await settled(fake, proposal, position_line("Cal", Position.RESERVATION, "Attention à bien co-signer les affiches"))
    assert waiting("Dan") in proposal.plain_text

    await staged.press(dan, proposal, CONSENT_BUTTON)
    outcome = await staged.containing(plain(CONSENT.outcomes.adopted))
    assert "Conditions à garder en tête (les réserves)" in outcome.plain_text
    assert "Cal : « Attention à bien co-signer les affiches »" in outcome.plain_text
    assert "C'est Eve qui répond au partenaire." in outcome.plain_text
    assert "Date de révision :" in outcome.plain_text and "/revision 1 JJ/MM/AAAA" in outcome.plain_text
    await settled(fake, proposal, "Tour clos")
    assert CONSENT.close_reasons.all_answered in proposal.plain_text and not proposal.buttons()

    summary = await until(fake, coco, lambda m: "Bilan" in m.plain_text)
    assert "Bilan de consentement — GL Pays d'Uzès" in summary.plain_text
    assert "Alternatiba" in summary.plain_text and label("type_partenaire", "association") in summary.plain_text
    assert "Format : Ponctuel (une action)" in summary.plain_text
    assert "Cal : je consens avec une réserve" in summary.plain_text
    assert "« Attention à bien co-signer les affiches »" in summary.plain_text
    assert unanswered("personne") in summary.plain_text
    link = next(e["url"] for e in summary.entities if e["type"] == "text_link" and "t.me/c/" in e["url"])
    assert "C'est Eve qui répond au partenaire." in summary.plain_text  # the summary says the same
    assert "Date de révision :" in summary.plain_text
    assert link == f"https://t.me/c/{str(staged.group.id)[4:]}/{proposal.message_id}"

    [(status, decided_at)] = await rows(bot, "SELECT status, decided_at FROM requests")
    assert status == "adopted" and decided_at is not None
    fake.send(bea, staged.group, "/demande 1")
    assert "adoptée" in (await staged.containing("Demande de partenariat n°1")).plain_text


async def test_an_objection_needs_its_reason_then_an_amendment_asks_objectors_first(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    bea, cal = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea, "/consentement 1 durée=3")
    assert "(tour 1)" in proposal.plain_text

    prompt = await staged.give_reason(cal, proposal, OBJECTION_BUTTON, "?!")
    assert prompt.reply_markup is not None and prompt.reply_markup["selective"]
    retry = await staged.message(lambda m: m.is_force_reply())
    assert "au moins 3 caractères" in retry.plain_text
    assert await rows(bot, "SELECT * FROM round_positions") == []
    fake.send(cal, staged.group, "Le groupe n'a personne pour tenir un stand ce jour-là", reply_to=retry)
    await settled(fake, proposal, "Cal : objection — « Le groupe n'a personne")

    await staged.press(bea, proposal, CONSENT_BUTTON)
    outcome = await staged.containing(plain(CONSENT.outcomes.objection))
    assert "Objections à travailler" in outcome.plain_text and "/modifier 1" in outcome.plain_text
    assert await rows(bot, "SELECT status FROM requests") == [("objection",)]

    fake.send(staged.author, staged.group, "/modifier 1")
    await staged.containing("Modification de la demande n°1")
    summary = await staged.message(lambda m: CONFIRM in m.button_texts())
    fake.press(staged.author, summary, EDIT)
    menu = await fake.wait_edit(summary)
    fake.press(staged.author, menu, "Type de partenaire")
    question = await staged.message(lambda m: label("type_partenaire", "groupe_local") in m.button_texts())
    fake.press(staged.author, question, label("type_partenaire", "groupe_local"))
    fake.press(staged.author, await staged.message(lambda m: CONFIRM in m.button_texts()), CONFIRM)
    amended = await staged.containing("a modifié la demande n°1 (version 2)")
    assert "Type de partenaire : Association ou réseau → Autre groupe local" in amended.plain_text
    assert await rows(bot, "SELECT version, status FROM requests") == [(2, "submitted")]

    stale = await fake.callback_answer(fake.press_data(cal, proposal, "1|c|1|1|consent"))  # the old buttons
    assert "plus valable" in stale["text"]

    fake.press(bea, amended, OPEN_BUTTON)
    second = await staged.containing(PROPOSAL)
    assert "(tour 2)" in second.plain_text and waiting("Cal, Bea") in second.plain_text
    ask_first = await staged.containing("Votre avis d'abord")
    assert "Cal" in ask_first.plain_text and "Le groupe n'a personne pour tenir un stand" in ask_first.plain_text
    assert "Type de partenaire : Association ou réseau → Autre groupe local" in ask_first.plain_text
    assert label("type_partenaire", "groupe_local") in second.plain_text
    assert await rows(bot, "SELECT number, request_version FROM consent_rounds ORDER BY id") == [(1, 1), (2, 2)]


async def test_dropping_an_amendment_says_the_request_is_unchanged(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    await staged.file_request()
    before = await rows(bot, "SELECT step_id, value FROM request_answers ORDER BY step_id")

    fake.send(staged.author, staged.group, "/modifier 1")
    await staged.message(lambda m: CONFIRM in m.button_texts())
    fake.send(staged.author, staged.group, "/annuler")
    dropped = await staged.containing("Modification abandonnée")
    assert "la demande n°1 reste telle qu'elle était" in dropped.plain_text
    assert await rows(bot, "SELECT step_id, value FROM request_answers ORDER BY step_id") == before
    assert await rows(bot, "SELECT version, status FROM requests") == [(1, "submitted")]
    assert await rows(bot, "SELECT * FROM amendments") == []


async def test_a_proposal_does_not_wait_for_the_job_queue(fake: FakeTelegram, bot: RunningBot) -> None:
    """The opening starts its group's outbox drain itself: jobs held back (a busy queue) do not
    hold back the proposal."""
    staged = await scene(fake)
    await staged.file_request()
    job_queue = bot.application.job_queue
    assert job_queue is not None  # build_application sets one up
    job_queue.scheduler.pause()
    try:
        proposal = await asyncio.wait_for(staged.open_round(staged.circle[0]), 5)
    finally:
        job_queue.scheduler.resume()
    assert waiting("Bea, Cal") in proposal.plain_text


async def test_a_member_changes_position_and_the_history_keeps_every_change(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea, cal, _ = staged.circle
    coco = await staged.add_coordinator("Coco", started=True)
    await staged.file_request()
    proposal = await staged.open_round(bea)

    await staged.press(cal, proposal, CONSENT_BUTTON)
    assert (await staged.press(cal, proposal, CONSENT_BUTTON))["text"] == CONSENT.alerts.already
    await staged.give_reason(cal, proposal, OBJECTION_BUTTON, "Un autre stand est déjà prévu ce jour-là")
    await settled(fake, proposal, position_line("Cal", Position.OBJECTION))
    await staged.press(cal, proposal, STAND_ASIDE_BUTTON)
    await settled(fake, proposal, position_line("Cal", Position.STAND_ASIDE))
    assert "objection" not in proposal.plain_text.split("Où en est le cercle")[1]

    history = await rows(bot, "SELECT position, reason FROM round_positions ORDER BY id")
    assert history == [
        ("consent", None),
        ("objection", "Un autre stand est déjà prévu ce jour-là"),
        ("stand_aside", None),
    ]
    fake.send(staged.admin, staged.group, "/clore 1")
    confirm = await staged.containing("pas encore de position")
    assert "Bea, Dan" in confirm.plain_text and plain(CONSENT.outcomes.no_decision) in confirm.plain_text
    fake.press(staged.admin, confirm, CLOSE_CONFIRM_BUTTON)
    outcome = await staged.containing("Demande n°1")  # only Cal answered, standing aside: no decision
    assert plain(CONSENT.outcomes.no_decision) in outcome.plain_text and unanswered("Bea, Dan") in outcome.plain_text
    summary = await until(fake, coco, lambda m: "Bilan" in m.plain_text)
    assert "Cal : en retrait" in summary.plain_text
    assert "Objection(s) levée(s) pendant le tour : Cal" in summary.plain_text
    assert unanswered("Bea, Dan") in summary.plain_text


async def test_a_redelivered_or_double_press_records_one_position(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea = staged.circle[0]
    await staged.file_request()
    proposal = await staged.open_round(bea)
    await staged.press(bea, proposal, CONSENT_BUTTON)
    pressed = fake.updates[-1]
    await bot.application.process_update(Update.de_json(pressed, bot.application.bot))
    fake.press(bea, proposal, CONSENT_BUTTON)
    await fake.idle()
    assert await rows(bot, "SELECT user_id, position FROM round_positions") == [(bea.id, "consent")]


# --- who may press --------------------------------------------------------------------------


async def test_only_the_roster_at_opening_may_take_a_position(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    bea = staged.circle[0]
    await staged.file_request()
    proposal = await staged.open_round(bea)

    alert = await staged.press(staged.author, proposal, CONSENT_BUTTON)
    assert alert["show_alert"] and alert["text"] == CONSENT.alerts.not_in_roster
    said = fake.send(staged.author, staged.group, "Je rejoins le cercle")
    fake.send(staged.admin, staged.group, "/cercle ajouter", reply_to=said)
    await staged.containing("Eve rejoint le cercle cœur")
    alert = await staged.press(staged.author, proposal, CONSENT_BUTTON)
    assert "au moment de l'ouverture" in alert["text"]
    alert = await staged.press(staged.author, proposal, QUESTION_BUTTON)
    assert "au moment de l'ouverture" in alert["text"]
    assert await rows(bot, "SELECT * FROM round_positions") == []
    assert waiting("Bea, Cal") in proposal.plain_text


async def test_forged_callbacks_are_refused_and_change_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    bea = staged.circle[0]
    await staged.file_request()
    proposal = await staged.open_round(bea, "/consentement 1 retrait=non")
    assert STAND_ASIDE_BUTTON not in proposal.button_texts()
    [(round_id,)] = await rows(bot, "SELECT id FROM consent_rounds")

    for forged in (
        f"1|c|{round_id}|1|stand_aside",  # an option this round does not offer
        f"1|c|{round_id}|7|consent",  # another version of the request
        f"1|c|{round_id + 1}|1|consent",  # no such round
        f"1|c|{round_id}|1|veto",  # no such position
        "1|c|1",
    ):
        alert = await fake.callback_answer(fake.press_data(bea, proposal, forged))
        assert alert["show_alert"] and "plus valable" in alert["text"], forged
    await fake.idle()
    assert await rows(bot, "SELECT * FROM round_positions") == []
    assert await rows(bot, "SELECT * FROM round_prompts") == []


async def test_a_question_is_posted_for_the_author_without_taking_a_position(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    bea = staged.circle[0]
    await staged.file_request()
    proposal = await staged.open_round(bea)
    await staged.give_reason(bea, proposal, QUESTION_BUTTON, "Qui tiendra le stand le dimanche ?")
    question = await staged.containing("pose une question à Eve")
    assert "Qui tiendra le stand le dimanche ?" in question.plain_text
    assert question.reply_to_message_id == proposal.message_id
    assert await rows(bot, "SELECT * FROM round_positions") == []


# --- conflicts of interest ------------------------------------------------------------------


# Issue 10 changed this rule: a link declared for another member no longer recuses the author;
# the member concerned declares it on the proposal.
async def test_the_member_who_has_the_link_declares_it_on_the_proposal(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"), author_in_circle=True)
    bea, cal, dan = staged.circle
    await staged.file_request(COMPANY_REQUEST)  # another member's link: "Camille y travaille"
    proposal = await staged.open_round(cal)
    assert "Bea : en retrait" not in proposal.plain_text and waiting("Bea, Cal, Dan") in proposal.plain_text
    assert (
        "Lien avec le partenaire déclaré dans la demande (Un·e autre membre du groupe) : Camille y travaille"
        in proposal.plain_text
    )
    assert "Si ce lien est le vôtre, appuyez sur « 🔗 J'ai un lien avec ce partenaire »" in proposal.plain_text
    assert "tout le cercle (3 personne(s))" in proposal.plain_text

    await staged.press(dan, proposal, CONFLICT_BUTTON)
    await settled(fake, proposal, position_line("Dan", Position.CONFLICT))
    assert "tout le cercle (2 personne(s))" in proposal.plain_text
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.press(cal, proposal, CONSENT_BUTTON)
    outcome = await staged.containing(plain(CONSENT.outcomes.adopted))  # Dan, recused, neither blocked nor counted
    assert "Sans réponse" not in outcome.plain_text
    assert await rows(bot, "SELECT outcome, close_reason FROM consent_rounds") == [("adopted", "all_answered")]


async def test_the_authors_own_link_recuses_the_author_and_no_one_else(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal"), author_in_circle=True)
    _bea, cal = staged.circle
    replies = [("Moi" if reply == "Un·e autre membre du groupe" else reply) for reply in COMPANY_REQUEST]
    await staged.file_request(replies)
    proposal = await staged.open_round(cal)
    assert "Bea : en retrait (lien d'intérêt)" in proposal.plain_text
    assert "Lien avec le partenaire déclaré dans la demande (Moi) : Camille y travaille" in proposal.plain_text
    assert waiting("Cal") in proposal.plain_text
    await staged.press(cal, proposal, CONSENT_BUTTON)
    await staged.containing(plain(CONSENT.outcomes.adopted))


# --- deadlines ------------------------------------------------------------------------------


async def test_reminder_and_deadline_fire_after_a_restart(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea, cal, dan = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea)
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.press(dan, proposal, STAND_ASIDE_BUTTON)
    await settled(fake, proposal, position_line("Dan", Position.STAND_ASIDE))

    await bot.stop()
    set_deadline(bot, datetime.now(UTC) + timedelta(hours=3))  # the 24 h reminder is due
    await bot.start()
    reminder = await staged.containing("le cercle attend votre position")
    assert "Cal" in reminder.plain_text and "Bea" not in reminder.plain_text
    assert any(e.get("user", {}).get("id") == cal.id or f"id={cal.id}" in e.get("url", "") for e in reminder.entities)

    await bot.stop()
    set_deadline(bot, datetime.now(UTC) - timedelta(minutes=1))  # the deadline passed while stopped
    await bot.start()
    # Issue 10 changed this rule (it adopted at 2 of 3): silent Cal means no decision.
    outcome = await staged.containing("Demande n°1")
    assert plain(CONSENT.outcomes.no_decision) in outcome.plain_text and unanswered("Cal") in outcome.plain_text
    assert "/prolonger 1 3" in outcome.plain_text and "/consentement 1" in outcome.plain_text
    await settled(fake, proposal, CONSENT.close_reasons.deadline)
    assert not proposal.buttons()
    assert await rows(bot, "SELECT status FROM requests") == [("no_decision",)]
    assert await rows(bot, "SELECT close_reason FROM consent_rounds") == [("deadline",)]

    fake.send(staged.admin, staged.group, "/prolonger 1 3")  # the next step offered: more time
    await staged.containing("est rouvert pour 3 jour(s)")
    await settled(fake, proposal, waiting("Cal"))
    await staged.press(cal, proposal, CONSENT_BUTTON)
    assert plain(CONSENT.outcomes.adopted) in (await staged.containing("Demande n°1")).plain_text
    assert await rows(bot, "SELECT status FROM requests") == [("adopted",)]


# --- stewards -------------------------------------------------------------------------------


async def test_stewards_close_extend_remind_and_review(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    bea, cal = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea)

    fake.send(bea, staged.group, "/clore 1")
    assert "Réservé aux admins" in (await fake.next_message(staged.group)).plain_text
    fake.send(bea, staged.group, "/relancer 1")
    assert "Bea, Cal" in (await staged.containing("le cercle attend votre position")).plain_text
    fake.send(staged.admin, staged.group, "/prolonger 1 3")
    extended = await staged.containing("prolongé de 3 jour(s)")
    [(deadline,)] = await rows(bot, "SELECT deadline_at FROM consent_rounds")
    assert datetime.fromisoformat(deadline) > datetime.now(UTC) + timedelta(days=9, hours=23)
    await settled(fake, proposal, extended.plain_text.split("jusqu'au ")[1].rstrip("."))

    await staged.press(cal, proposal, CONSENT_BUTTON)
    fake.send(staged.admin, staged.group, "/bilan")
    bilan = await staged.containing("Tours en cours")
    assert "n°1 Alternatiba (tour 1) : 1/2 réponses — ✅ 1" in bilan.plain_text
    assert "Aucune décision." in bilan.plain_text

    # Issue 10 changed this rule (an early close adopted at 1 of 2): the closer confirms, and
    # closing while Bea is silent ends without a decision.
    fake.send(staged.admin, staged.group, "/clore 1")
    confirm = await staged.containing("pas encore de position")
    assert "Bea" in confirm.plain_text and "Cal" not in confirm.plain_text
    alert = await fake.callback_answer(fake.press(cal, confirm, CLOSE_CONFIRM_BUTTON))
    assert alert["text"] == CONSENT.alerts.close_not_yours
    fake.press(staged.admin, confirm, "⏳ Laisser le tour ouvert")
    await settled(fake, confirm, "reste ouvert")
    assert await rows(bot, "SELECT status FROM consent_rounds") == [("open",)]

    fake.send(staged.admin, staged.group, "/clore 1")
    confirm = await staged.containing("pas encore de position")
    fake.press(staged.admin, confirm, CLOSE_CONFIRM_BUTTON)
    outcome = await staged.containing("Demande n°1")
    assert plain(CONSENT.outcomes.no_decision) in outcome.plain_text and unanswered("Bea") in outcome.plain_text
    assert await rows(bot, "SELECT close_reason, closed_by FROM consent_rounds") == [("early", staged.admin.id)]
    fake.send(staged.admin, staged.group, "/bilan")
    bilan = await staged.containing("Tours en cours")
    assert "Aucun tour en cours." in bilan.plain_text and "n°1 Alternatiba : sans décision" in bilan.plain_text


async def test_a_coordinator_who_never_started_the_bot_gets_the_summary_in_the_group(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake, ("Bea",))
    bea = staged.circle[0]
    coco = await staged.add_coordinator("Coco", started=False)

    for number in (1, 2):
        await staged.file_request()
        proposal = await staged.open_round(bea, f"/consentement {number}")
        await staged.press(bea, proposal, CONSENT_BUTTON)
        summary = await staged.containing("Bilan de consentement")
        assert f"Demande n°{number}" in summary.plain_text
    await fake.idle()
    notices = [m for m in fake.messages_in(staged.group) if "n'a jamais ouvert de conversation" in m.plain_text]
    assert len(notices) == 1, "the admins are told once"
    assert "Ana" in notices[0].plain_text and "Coco" in notices[0].plain_text
    assert notices[0].buttons()[0][0]["url"] == "https://t.me/colibris_test_bot"
    assert fake.messages_in(fake.private_chat(coco)) == []


# --- coalesced edits ------------------------------------------------------------------------


async def test_a_burst_of_fifty_presses_ends_with_the_exact_tally(fake: FakeTelegram, tmp_path: Path) -> None:
    running = RunningBot(settings_for(fake, tmp_path / "burst", consent_edit_interval_seconds=0.3))
    await running.start()
    try:
        staged = await scene(fake, ("Bea", "Cal", "Dan", "Eli", "Fao", "Gus"))
        await staged.file_request()
        proposal = await staged.open_round(staged.circle[0])
        pressers = staged.circle[:5]  # Gus never answers: the round stays open
        buttons = [CONSENT_BUTTON, STAND_ASIDE_BUTTON]
        queries = [
            fake.press(member, proposal, buttons[(turn + index) % 2])
            for turn in range(10)
            for index, member in enumerate(pressers)
        ]
        for query in queries:
            await fake.callback_answer(query)
        await fake.idle(quiet=0.5)
        edits = len(proposal.edits)
        assert edits < 10, f"{edits} edits for 50 presses"
        # The 10th turn (turn 9) pressed buttons[(9 + index) % 2].
        expected = {member.first_name: buttons[(9 + index) % 2] for index, member in enumerate(pressers)}
        for name, button in expected.items():
            wording = "je consens" if button.startswith("✅") else "en retrait"
            assert f"{name} : {wording}" in proposal.plain_text
        assert waiting("Gus") in proposal.plain_text
        latest = await running.database.fetch_all(
            "SELECT user_id, position FROM round_positions p WHERE id = "
            "(SELECT MAX(id) FROM round_positions q WHERE q.user_id = p.user_id)"
        )
        assert sorted(row["position"] for row in latest) == sorted(
            "consent" if b.startswith("✅") else "stand_aside" for b in expected.values()
        )
        assert len(await running.database.fetch_all("SELECT * FROM round_positions")) == 50
    finally:
        await running.stop()


# --- the circle -----------------------------------------------------------------------------


async def test_admins_manage_the_circle_and_members_ask_to_join(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea",))
    bea, eve = staged.circle[0], staged.author

    said = fake.send(eve, staged.group, "Coucou")
    fake.send(bea, staged.group, "/cercle ajouter", reply_to=said)
    assert "Seul·es les admins" in (await fake.next_message(staged.group)).plain_text
    fake.send(staged.admin, staged.group, "/cercle ajouter")
    assert (
        "Répondez à un message de la personne concernée avec /cercle ajouter"
        in (await fake.next_message(staged.group)).plain_text
    )

    fake.send(eve, staged.group, "/cercle rejoindre")
    request = await staged.containing("demande à rejoindre le cercle cœur")
    alert = await fake.callback_answer(fake.press(bea, request, ACCEPT_BUTTON))
    assert "Seul·es les admins" in alert["text"]
    fake.press(staged.admin, request, ACCEPT_BUTTON)
    await settled(fake, request, "Eve rejoint le cercle cœur (accepté par Ana)")
    assert not request.buttons()

    fake.send(bea, staged.group, "/cercle")
    assert "Cercle cœur (2) : Bea, Eve" in (await staged.containing("Cercle cœur")).plain_text
    said = fake.send(bea, staged.group, "Je fais une pause")
    fake.send(staged.admin, staged.group, "/cercle retirer", reply_to=said)
    await staged.containing("Bea ne fait plus partie du cercle cœur")
    fake.send(eve, staged.group, "/cercle")
    assert "Cercle cœur (1) : Eve" in (await staged.containing("Cercle cœur")).plain_text


async def test_consent_commands_are_registered_in_french(fake: FakeTelegram, bot: RunningBot) -> None:
    registered = [params for method, params in fake.calls if method == "setMyCommands"]
    names = {command["command"]: command["description"] for command in registered[0]["commands"]}
    assert names["consentement"] == "Ouvrir un tour de consentement (ex. /consentement 12)"
    assert {"cercle", "relancer", "bilan", "modifier"} <= names.keys()
    admin_names = {c["command"] for params in registered for c in params["commands"]}
    assert {"clore", "prolonger", "coordination"} <= admin_names
