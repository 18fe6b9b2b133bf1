"""Deciding as the movement decides, through Telegram: silence, the link, the substance kept
private where it is personal, a new round on something new, declining and withdrawing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.statuses import RequestStatus
from bot.core.texts import render
from tests.fake_telegram import FakeChat, FakeTelegram, as_read
from tests.integration.circle_scene import (  # noqa: F401 - bot: quick redraws
    CONSENT,
    CONSENT_BUTTON,
    FULL_REQUEST_BUTTON,
    OBJECTION_BUTTON,
    PROPOSAL,
    bot,
    rows,
    scene,
    settled,
    waiting,
)
from tests.integration.conftest import RunningBot
from tests.integration.conversation import (
    LIBRARY,
    ONE_OFF_ANSWERS,
    SHIPPED_FLOW,
    plain,
    replies,
)

CONTACT = "06 12 34 56 78"
REQUEST = replies({**ONE_OFF_ANSWERS, "contact": CONTACT})
STATUSES = LIBRARY.messages.requests.statuses
WITHDRAW = CONSENT.withdraw.button


def group_texts(fake: FakeTelegram, group: FakeChat) -> str:
    """Every text the bot ever showed in the group, edits included."""
    return "\n".join(f"{message.text}\n{message.edits}\n{message.reply_markup}" for message in fake.messages_in(group))


def pass_deadline(bot: RunningBot) -> None:
    with sqlite3.connect(bot.settings.database_path) as connection:
        moment = (datetime.now(UTC) - timedelta(minutes=1)).isoformat(timespec="seconds")
        connection.execute("UPDATE consent_rounds SET deadline_at = ? WHERE status = 'open'", (moment,))


async def test_a_round_where_one_member_never_answers_decides_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal", "Dan"))
    bea, cal, _dan = staged.circle
    await staged.file_request(REQUEST)
    proposal = await staged.open_round(bea)
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.press(cal, proposal, CONSENT_BUTTON)
    await settled(fake, proposal, waiting("Dan"))

    await bot.stop()
    pass_deadline(bot)
    await bot.start()
    outcome = await staged.containing("Demande n°1")
    assert plain(CONSENT.outcomes.no_decision) in outcome.plain_text
    assert plain(render(CONSENT.outcome.hint_no_decision, number=1)) in outcome.plain_text
    assert plain(render(CONSENT.outcome.waiting, members="Dan")) in outcome.plain_text
    assert "/revision" not in outcome.plain_text  # no review date without an adoption
    assert await rows(bot, "SELECT status FROM requests") == [("no_decision",)]


async def test_the_contact_appears_in_no_group_message_and_the_full_request_goes_private(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    await staged.add_coordinator("Coco", started=False)  # the summary falls back to the group
    await staged.file_request(REQUEST)
    fake.send(cal, staged.group, "/demande 1")
    detail = await staged.containing("Demande de partenariat n°1")
    assert "Alternatiba" in detail.plain_text and SHIPPED_FLOW.step("contact").label not in detail.plain_text

    proposal = await staged.open_round(bea)
    for step_id in ("demande", "format", "date_debut", "date_reponse"):
        label, answer = SHIPPED_FLOW.step(step_id).label, ONE_OFF_ANSWERS[step_id]
        assert plain(render(CONSENT.round.substance_line, label=label, answer=answer)) in proposal.plain_text
    alert = await staged.press(cal, proposal, FULL_REQUEST_BUTTON)
    assert alert["show_alert"]  # Cal never started the bot
    assert as_read(alert["text"]) == plain(render(CONSENT.alerts.full_unreachable, bot="colibris_test_bot"))
    fake.open_private_chat(cal)
    alert = await staged.press(cal, proposal, FULL_REQUEST_BUTTON)
    assert as_read(alert["text"]) == plain(CONSENT.alerts.full_sent)
    full = await fake.next_message(fake.private_chat(cal))
    assert CONTACT in full.plain_text and "Accueillir une étape du tour à vélo" in full.plain_text

    stranger = fake.add_user("Sam")
    fake.set_member_status(staged.group, stranger, "member")
    fake.open_private_chat(stranger)
    await staged.press(stranger, proposal, FULL_REQUEST_BUTTON)
    copy = await fake.next_message(fake.private_chat(stranger))
    assert "Accueillir une étape du tour à vélo" in copy.plain_text and CONTACT not in copy.plain_text

    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.press(cal, proposal, CONSENT_BUTTON)
    await staged.containing("Bilan de consentement")  # the coordinator's summary, posted in the group
    await fake.idle()
    assert CONTACT not in group_texts(fake, staged.group)


async def test_a_new_round_on_an_unchanged_request_needs_an_admins_reason(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    await staged.file_request(REQUEST)
    proposal = await staged.open_round(bea)
    await staged.give_reason(cal, proposal, OBJECTION_BUTTON, "Personne pour tenir le stand")
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.containing(plain(CONSENT.outcomes.objection))

    fake.send(staged.author, staged.group, "/consentement 1")
    await staged.containing(plain(render(CONSENT.commands_feedback.unchanged, number=1)))
    fake.send(bea, staged.group, "/consentement 1 motif on a trouvé quelqu'un")
    await staged.containing(plain(CONSENT.commands_feedback.reason_admins_only))
    assert await rows(bot, "SELECT COUNT(*) FROM consent_rounds") == [(1,)]

    fake.send(staged.admin, staged.group, "/consentement 1 motif Dan tiendra le stand")
    second = await staged.containing(PROPOSAL)
    assert plain(render(CONSENT.round.reopen_reason, admin="Ana", reason="Dan tiendra le stand")) in second.plain_text
    await staged.containing(
        plain(
            render(CONSENT.round.ask_first_reason, members="Cal", number=1, admin="Ana", reason="Dan tiendra le stand")
        )
    )
    assert await rows(bot, "SELECT number, reopen_reason FROM consent_rounds ORDER BY id") == [
        (1, None),
        (2, "Dan tiendra le stand"),
    ]


async def test_the_author_withdraws_and_the_circle_declines(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea, cal = staged.circle
    card = await staged.file_request(REQUEST)
    proposal = await staged.open_round(bea)
    alert = await fake.callback_answer(fake.press(bea, card, WITHDRAW))
    assert as_read(alert["text"]) == plain(CONSENT.withdraw.not_author_alert)
    fake.press(staged.author, card, WITHDRAW)
    await staged.containing(plain(render(CONSENT.withdraw.done, member="Eve", number=1, partner="Alternatiba")))
    await staged.containing(plain(render(CONSENT.outcome.withdrawn, number=1)))
    await settled(fake, proposal, plain(CONSENT.close_reasons.withdrawn))

    await staged.file_request(REQUEST)
    fake.send(staged.author, staged.group, "/decliner 2 pas pour nous")
    await staged.containing(plain(CONSENT.decline.not_allowed))
    fake.send(cal, staged.group, "/decliner 2")
    await staged.containing(plain(CONSENT.decline.usage))
    fake.send(cal, staged.group, "/decliner 2 Ce n'est pas notre terrain de jeu")
    declined_notice = render(
        CONSENT.decline.done,
        number=2,
        partner="Alternatiba",
        member="Cal",
        reason="Ce n'est pas notre terrain de jeu",
        author="Eve",
    )
    await staged.containing(plain(declined_notice))
    assert await rows(bot, "SELECT number, status, status_reason FROM requests ORDER BY number") == [
        (1, "withdrawn", None),
        (2, "declined", "Ce n'est pas notre terrain de jeu"),
    ]

    await staged.file_request(REQUEST)
    fake.send(staged.author, staged.group, "/retirer 3 le partenaire a renoncé")
    await staged.containing(
        plain(
            render(
                CONSENT.withdraw.done_word,
                member="Eve",
                number=3,
                partner="Alternatiba",
                word="le partenaire a renoncé",
            )
        )
    )

    fake.send(cal, staged.group, "/demandes")
    listed = (await staged.containing("n°3")).plain_text
    withdrawn, declined = STATUSES[RequestStatus.WITHDRAWN], STATUSES[RequestStatus.DECLINED]
    declined_why = plain(
        render(CONSENT.decline.status_with_reason, status=declined, reason="Ce n'est pas notre terrain de jeu")
    )
    assert withdrawn in listed and declined_why in listed
    fake.send(cal, staged.group, "/demande 2")
    assert declined in (await staged.containing("Demande de partenariat n°2")).plain_text
    fake.send(cal, staged.group, "/partenaires")
    register = (await staged.containing("Alternatiba")).plain_text
    assert withdrawn in register and declined in register
    fake.send(staged.admin, staged.group, "/bilan")
    bilan = (await staged.containing(plain(CONSENT.bilan.open_header))).plain_text
    assert f"n°2 Alternatiba : {declined}" in bilan and f"n°3 Alternatiba : {withdrawn}" in bilan
    fake.send(cal, staged.group, "/consentement 2")
    await staged.containing(plain(render(CONSENT.commands_feedback.cannot_open, number=2, status=declined)))


async def test_the_first_round_ends_before_the_date_the_partner_awaits_an_answer(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    """The shipped flow's date_reponse is its answer_by: a week's round is cut to end by then."""
    staged = await scene(fake, ("Bea", "Cal"))
    soon = date.today() + timedelta(days=3)
    await staged.file_request(replies({**ONE_OFF_ANSWERS, "date_reponse": soon.strftime("%d/%m/%Y")}))
    await staged.open_round(staged.circle[0], "/consentement 1 durée=7")
    [(deadline,)] = await rows(bot, "SELECT deadline_at FROM consent_rounds")
    by = datetime.combine(soon, time.min, ZoneInfo(bot.settings.timezone))
    assert datetime.now(UTC) < datetime.fromisoformat(deadline) <= by
