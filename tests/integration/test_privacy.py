"""Personal data (RGPD): a member sees what is kept about them and erases it; decisions stay whole."""

from __future__ import annotations

import json

from bot.core.consent_rules import Position
from tests.fake_telegram import FakeTelegram
from tests.integration.circle_scene import (
    CLOSE_CONFIRM_BUTTON,
    CONSENT,
    OBJECTION_BUTTON,
    bot,
    position_line,
    rows,
    scene,
    settled,
)
from tests.integration.conftest import CONVERSATIONS, RunningBot
from tests.integration.conversation import (
    CONFIRM,
    ONE_OFF_ANSWERS,
    ONE_OFF_REQUEST,
    PRIVACY,
    fill,
    next_prompt,
    plain,
)

# An erased answer as request_answers stores it (JSON).
ANONYMOUS_JSON = json.dumps(PRIVACY.anonymous_name, ensure_ascii=False)

__all__ = ["bot"]  # the consent tests' bot: quick redraws


async def test_a_member_sees_what_is_kept_then_erases_it_while_the_decision_stays(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    bea, cal = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea)
    await staged.give_reason(cal, proposal, OBJECTION_BUTTON, "Personne pour tenir le stand ce jour-là")
    await settled(fake, proposal, position_line("Cal", Position.OBJECTION))
    private = fake.private_chat(cal)

    fake.send(cal, private, "/mes_donnees")
    kept = (await fake.next_message(private)).plain_text
    assert "Cercle cœur de : GL Pays d'Uzès" in kept
    assert "demande n°1 : objection" in kept and "« Personne pour tenir le stand ce jour-là »" in kept

    fake.send(cal, private, "/oublier")
    confirm = await fake.next_message(private)
    assert "C'est définitif" in confirm.plain_text
    await fake.callback_answer(fake.press(cal, confirm, PRIVACY.button_yes))
    await fake.wait_edit(confirm)
    assert "vos données personnelles sont effacées" in confirm.plain_text

    assert await rows(bot, "SELECT COUNT(*) FROM circle_members WHERE user_id = ?", cal.id) == [(0,)]
    for table, column in (("round_roster", "user_id"), ("round_positions", "user_id")):
        assert await rows(bot, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", cal.id) == [(0,)]
    assert await rows(bot, "SELECT name FROM round_roster WHERE user_id < 0") == [(PRIVACY.anonymous_name,)]
    assert await rows(bot, "SELECT position, reason FROM round_positions") == [
        ("objection", "Personne pour tenir le stand ce jour-là"),
    ]
    fake.send(cal, private, "/mes_donnees")
    assert "Je ne garde aucune donnée" in (await fake.next_message(private)).plain_text

    fake.send(staged.admin, staged.group, "/clore 1")
    fake.press(staged.admin, await staged.containing("pas encore de position"), CLOSE_CONFIRM_BUTTON)
    outcome = await staged.containing("Demande n°1")
    assert plain(CONSENT.outcomes.objection) in outcome.plain_text
    assert "Cal" not in outcome.plain_text and PRIVACY.anonymous_name in outcome.plain_text


async def test_an_author_forgotten_keeps_the_groups_request_without_name_or_contact(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    await staged.file_request()
    author, private = staged.author, fake.private_chat(staged.author)
    fake.send(author, private, "/partenariat")
    await fill(fake, author, private, ONE_OFF_REQUEST[:3], await next_prompt(fake, private))  # a private draft

    fake.send(author, private, "/oublier")
    await fake.callback_answer(fake.press(author, await fake.next_message(private), PRIVACY.button_yes))
    await fake.idle()

    assert await rows(bot, "SELECT author_id < 0, author_name, partner_name FROM requests") == [
        (1, PRIVACY.anonymous_name, "Alternatiba"),
    ]
    assert await rows(bot, "SELECT value FROM request_answers WHERE step_id = 'contact'") == [(ANONYMOUS_JSON,)]
    assert await rows(bot, "SELECT COUNT(*) FROM flow_sessions") == [(0,)]
    fake.send(staged.admin, staged.group, "/demande 1")
    detail = (await staged.containing("Demande de partenariat n°1")).plain_text
    assert "Proposée par membre anonymisé" in detail and "@dominique" not in detail


async def test_only_the_member_who_asked_can_confirm_and_never_in_a_group(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    bea, cal = staged.circle
    fake.send(bea, staged.group, "/oublier")
    assert "conversation privée" in (await staged.containing("Par discrétion")).plain_text

    private = fake.private_chat(bea)
    fake.send(bea, private, "/oublier")
    confirm = await fake.next_message(private)
    forged = fake.press_data(cal, confirm, confirm.buttons()[0][0]["callback_data"])
    assert "autre membre" in (await fake.callback_answer(forged))["text"]
    assert await rows(bot, "SELECT COUNT(*) FROM circle_members WHERE user_id = ?", bea.id) == [(1,)]
    fake.press(bea, confirm, "Non, ne rien changer")
    await fake.wait_edit(confirm)
    assert "Rien n'a été effacé" in confirm.plain_text


async def test_answers_an_uploaded_version_declares_personal_are_erased_too(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    chair, member = fake.add_user("Claude"), fake.add_user("Alice")
    group = fake.add_group("GL Gard", [chair, member], admins=[chair])
    flow = (CONVERSATIONS / "demande_partenariat.yaml").read_text(encoding="utf-8")
    assert "\npersonal: [contact]\n" in flow
    uploaded = flow.replace("\npersonal: [contact]\n", "\npersonal: [contact, demande]\n")  # may name the member
    fake.send_document(chair, group, "demande_partenariat.yaml", uploaded.encode(), caption="/flux")
    assert "Version 2" in (await fake.next_message(group)).plain_text
    private = fake.private_chat(member)
    fake.send(member, private, f"/start g{group.id}")
    summary = await fill(fake, member, private, ONE_OFF_REQUEST, await next_prompt(fake, private))
    fake.press(member, summary, CONFIRM)
    await fake.next_message(group)
    demande = ONE_OFF_ANSWERS["demande"]
    assert await rows(bot, "SELECT value FROM request_answers WHERE step_id = 'demande'") == [(f'"{demande}"',)]

    await fake.idle()
    fake.send(member, private, "/oublier")
    await fake.idle()
    await fake.callback_answer(fake.press(member, fake.messages_in(private)[-1], PRIVACY.button_yes))
    await fake.idle()

    assert await rows(
        bot, "SELECT step_id, value FROM request_answers WHERE step_id IN ('contact', 'demande') ORDER BY step_id"
    ) == [("contact", ANONYMOUS_JSON), ("demande", ANONYMOUS_JSON)]
