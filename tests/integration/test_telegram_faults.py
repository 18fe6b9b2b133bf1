"""Telegram misbehaves: flood control, 5xx, timeouts, a blocked bot, an edit that changes
nothing, a group that becomes a supergroup. Nothing a member did or must read is lost."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.consent_rules import Position
from bot.handlers import outbox_sender
from bot.storage import outbox
from bot.storage.chat_migration import CHAT_COLUMNS
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser, as_read
from tests.fake_telegram.server import NOT_MODIFIED
from tests.integration.circle_scene import (
    CONSENT,
    CONSENT_BUTTON,
    OBJECTION_BUTTON,
    OPEN_BUTTON,
    PROPOSAL,
    QUESTION_BUTTON,
    REASON_ASKED,
    STAND_ASIDE_BUTTON,
    Scene,
    position_line,
    rows,
    scene,
    set_deadline,
    settled,
    waiting,
)
from tests.integration.conftest import RunningBot, running_bot, settings_for
from tests.integration.conversation import CONFIRM, EDIT, SHIPPED_FLOW, known_group, label, next_prompt, plain, until

# Short waits, so that a timeout or a retry takes a fraction of a second.
FAULTY = {
    "consent_edit_interval_seconds": 0.05,
    "rate_limit_max_retries": 2,
    "telegram_timeout_seconds": 1,
    "outbox_retry_seconds": 0.05,
}
SUMMARY = "Bilan de consentement"
OUTCOME = "🗳 Demande n°1 — Alternatiba : adoptée"
REMINDER = "le cercle attend votre position"


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_bot(fake, tmp_path, **FAULTY) as running:
        yield running


def errors(fake: FakeTelegram, code: int, chat: FakeChat | FakeUser | None = None) -> list[dict[str, Any]]:
    """The error answers the fake gave, with this code (and to this chat)."""
    return [
        params
        for _, params, error in fake.errors
        if error["error_code"] == code and (chat is None or params.get("chat_id") == chat.id)
    ]


def containing(fake: FakeTelegram, chat: FakeChat | FakeUser, text: str) -> list[BotMessage]:
    return [m for m in fake.messages_in(chat) if text in m.plain_text]


def calls_to(fake: FakeTelegram, text: str) -> list[dict[str, Any]]:
    """The sendMessage calls with this text, answered or not (a timed-out call is one)."""
    return [params for method, params in fake.calls if method == "sendMessage" and text in params["text"]]


async def private_flow(fake: FakeTelegram) -> tuple[FakeUser, FakeChat]:
    """Bea starts a request in private and is asked its first question."""
    bea = fake.add_user("Bea")
    private = fake.private_chat(bea)
    known_group(fake, bea)
    fake.send(bea, private, "/partenariat")
    await next_prompt(fake, private)
    return bea, private


def inject(fake: FakeTelegram, chat: FakeChat | FakeUser, fault: str) -> None:
    """Make the next message to ``chat`` meet ``fault`` (``502x2``: twice in a row)."""
    code, _, times = fault.partition("x")
    if code == "timeout":
        fake.delay_next("sendMessage", 3 * FAULTY["telegram_timeout_seconds"], chat_id=chat.id)
    elif code == "429":  # beyond the rate limiter's retries when repeated more than them
        fake.fail_next(
            "sendMessage",
            429,
            "Too Many Requests: retry after 1",
            retry_after=1,
            times=int(times or 1),
            chat_id=chat.id,
        )
    else:
        fake.fail_next(
            "sendMessage",
            int(code),
            "Bad Gateway" if code == "502" else "Internal Server Error",
            times=int(times or 1),
            chat_id=chat.id,
        )


async def closed_round(staged: Scene) -> None:
    """Bea, the whole circle, consents: the round closes, its outcome and summary go out."""
    await staged.file_request()
    proposal = await staged.open_round(staged.circle[0])
    await staged.press(staged.circle[0], proposal, CONSENT_BUTTON)


# --- 429, 5xx, timeouts -----------------------------------------------------------------------


async def test_a_429_on_a_flow_question_is_waited_out_and_the_question_asked(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    bea, private = await private_flow(fake)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, chat_id=bea.id)
    fake.send(bea, private, "Alternatiba")
    question = await next_prompt(fake, private)
    assert label("type_partenaire", "association") in question.button_texts()
    await fake.idle()
    assert len(errors(fake, 429, bea)) == 1
    assert len(containing(fake, private, question.plain_text)) == 1
    assert await rows(bot, "SELECT current_step FROM flow_sessions") == [("type_partenaire",)]


async def test_a_summary_failing_twice_with_502_arrives_exactly_once(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea",))
    coco = await staged.add_coordinator("Coco", started=True)
    inject(fake, coco, "502x2")
    await closed_round(staged)
    await staged.containing(OUTCOME)
    await until(fake, coco, lambda m: SUMMARY in m.plain_text)
    await fake.idle(quiet=0.5)
    assert len(errors(fake, 502, coco)) == 2
    assert len(containing(fake, coco, SUMMARY)) == 1
    assert len(containing(fake, staged.group, OUTCOME)) == 1
    assert containing(fake, staged.group, SUMMARY) == [], "a failure that passes is no reason to post it in the group"
    assert await rows(bot, "SELECT status, attempts FROM outbox WHERE chat_id = ?", coco.id) == [("sent", 2)]


async def test_a_summary_that_times_out_is_sent_again_once(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea",))
    coco = await staged.add_coordinator("Coco", started=True)
    inject(fake, coco, "timeout")
    await closed_round(staged)
    await until(fake, coco, lambda m: SUMMARY in m.plain_text)
    await fake.idle(quiet=0.5)
    assert len(calls_to(fake, SUMMARY)) == 2, "one call timed out, the next one got through"
    assert len(containing(fake, coco, SUMMARY)) == 1
    assert await rows(
        bot, "SELECT status, attempts, last_error LIKE 'TimedOut%' FROM outbox WHERE chat_id = ?", coco.id
    ) == [("sent", 1, 1)]


async def test_a_summary_pending_when_the_bot_stops_is_sent_after_the_restart(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    running = RunningBot(settings_for(fake, tmp_path, **{**FAULTY, "outbox_retry_seconds": 3600}))
    await running.start()
    try:
        staged = await scene(fake, ("Bea",))
        coco = await staged.add_coordinator("Coco", started=True)
        inject(fake, coco, "500")
        await closed_round(staged)
        await staged.containing(OUTCOME)
        await fake.idle(quiet=0.3)
        assert containing(fake, coco, SUMMARY) == []
        assert await rows(running, "SELECT status FROM outbox WHERE chat_id = ?", coco.id) == [("pending",)]

        await running.restart()  # long before the hour the retry was planned for
        await until(fake, coco, lambda m: SUMMARY in m.plain_text)
        await fake.idle(quiet=0.3)
        assert len(containing(fake, coco, SUMMARY)) == 1
        assert len(containing(fake, staged.group, OUTCOME)) == 1
        assert await rows(running, "SELECT status FROM outbox WHERE status <> 'sent'") == []
    finally:
        await running.stop()


async def test_a_storm_of_faults_loses_and_repeats_no_reminder(fake: FakeTelegram, bot: RunningBot) -> None:
    seed = random.randrange(1_000_000)
    print(f"fault storm seed {seed}")  # to replay: random.Random(seed)
    rng = random.Random(seed)
    plan = ["502", "500", "502x3", "timeout", "429", "429x3", *rng.choices(["502", "500x2", "none"], k=6)]
    rng.shuffle(plan)
    staged = await scene(fake, ("Bea", "Cal"))
    bea = staged.circle[0]
    coco = await staged.add_coordinator("Coco", started=True)
    await staged.file_request()
    proposal = await staged.open_round(bea)
    for fault in plan:  # one reminder at a time, so that each meets its own fault
        if fault != "none":
            inject(fake, staged.group, fault)
        fake.send(bea, staged.group, "/relancer 1")
        await until(fake, staged.group, lambda m: REMINDER in m.plain_text)
    inject(fake, coco, "502x2")
    await staged.press(staged.circle[1], proposal, CONSENT_BUTTON)
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await until(fake, coco, lambda m: SUMMARY in m.plain_text)
    await fake.idle(quiet=0.5)

    assert len(containing(fake, staged.group, REMINDER)) == len(plan), "each /relancer reminded once"
    assert len(containing(fake, staged.group, OUTCOME)) == 1 and len(containing(fake, coco, SUMMARY)) == 1
    assert await rows(bot, "SELECT status FROM outbox WHERE status <> 'sent'") == []
    injected = Counter({"502": 2})  # the summary's
    for code, _, times in (fault.partition("x") for fault in plan if fault != "none"):
        injected[code] += int(times or 1)
    met = Counter({str(code): len(errors(fake, code)) for code in (429, 500, 502)})
    refused = sum(len(errors(fake, code, staged.group)) for code in (429, 500, 502))
    met["timeout"] = len(calls_to(fake, REMINDER)) - len(plan) - refused  # the calls left unanswered
    assert met == injected, "every fault injected was met by a message"
    print(f"fault storm: {dict(injected)} injected over {len(plan)} reminders and a summary, all delivered once")


async def test_a_coordinator_who_blocked_the_bot_gets_the_summary_in_the_group(
    fake: FakeTelegram, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    staged = await scene(fake, ("Bea",))
    coco = await staged.add_coordinator("Coco", started=True)
    fake.block_bot(coco)
    with caplog.at_level(logging.WARNING, logger="bot"):
        await closed_round(staged)
        await staged.containing(OUTCOME)
        await staged.containing(SUMMARY)
        notice = await staged.containing("m'a bloqué")
    assert "Ana" in notice.plain_text and "Coco" in notice.plain_text
    assert len(errors(fake, 403, coco)) == 1
    assert any("refused" in r.getMessage() and "Forbidden" in r.getMessage() for r in caplog.records)
    [(unreachable,)] = await rows(bot, "SELECT unreachable_at FROM coordinators")
    assert unreachable is not None
    fake.send(staged.admin, staged.group, "/bilan")
    assert "n°1 Alternatiba : adoptée" in (await staged.containing("Tours en cours")).plain_text


@pytest.mark.parametrize("code", [403, 502])
async def test_a_question_that_cannot_be_sent_loses_no_step(
    fake: FakeTelegram, bot: RunningBot, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The member blocked the bot (403), or Telegram failed (502): the answer is kept, and the
    member who comes back is asked the next question."""
    bea, private = await private_flow(fake)
    fake.send(bea, private, "Alternatiba")
    kinds = await next_prompt(fake, private)
    if code == 403:
        fake.block_bot(bea)
    else:
        fake.fail_next("sendMessage", 502, "Bad Gateway", chat_id=bea.id)
    with caplog.at_level(logging.WARNING):
        fake.press(bea, kinds, label("type_partenaire", "association"))
        await fake.idle()
    assert len(errors(fake, code, bea)) == 1
    assert [r.levelname for r in caplog.records if r.name == "bot.handlers.errors"] == ["WARNING"]
    assert await rows(bot, "SELECT current_step FROM flow_sessions") == [("demande",)]

    fake.send(bea, private, "/partenariat")  # writing to the bot again also unblocks it
    question = await next_prompt(fake, private)
    assert as_read(SHIPPED_FLOW.step("demande").question) in question.plain_text
    assert containing(fake, private, "Oups") == []


# --- 400 "message is not modified" -------------------------------------------------------------


async def test_an_edit_that_changes_nothing_is_not_an_error(
    fake: FakeTelegram, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    staged = await scene(fake, ("Bea", "Cal"))
    bea = staged.circle[0]
    fake.send(bea, staged.group, "/bonnes_pratiques")
    menu = await fake.next_message(staged.group)
    page = menu.buttons()[0][0]["callback_data"]
    await staged.file_request()
    proposal = await staged.open_round(bea)
    with caplog.at_level(logging.ERROR):
        for _ in range(2):  # the same page twice: the second edit changes nothing
            await fake.callback_answer(fake.press_data(bea, menu, page))
        await fake.idle()  # the press is answered before its edit is made
        fake.fail_next("editMessageText", 400, NOT_MODIFIED, chat_id=staged.group.id)
        await staged.press(bea, proposal, CONSENT_BUTTON)  # its redraw is refused as unchanged
        await fake.idle(quiet=0.3)
        await staged.press(staged.circle[1], proposal, STAND_ASIDE_BUTTON)
        await settled(fake, proposal, position_line("Cal", Position.STAND_ASIDE))
    assert len(errors(fake, 400)) == 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert containing(fake, staged.group, "Oups") == [], "no apology for an edit that had nothing to do"


# --- a group that becomes a supergroup --------------------------------------------------------


async def no_row_of(bot: RunningBot, chat_id: int) -> bool:
    for table, column in CHAT_COLUMNS:
        if await rows(bot, f"SELECT 1 FROM {table} WHERE {column} = ?", chat_id):
            return False
    return True


async def round_in_a_basic_group(
    fake: FakeTelegram, names: tuple[str, ...], consenting: int
) -> tuple[Scene, FakeUser, BotMessage]:
    """A basic group's circle and coordinator, and a round its first ``consenting`` members consented to."""
    staged = await scene(fake, names, supergroup=False)
    coordinator = await staged.add_coordinator("Coco", started=True)
    await staged.file_request()
    proposal = await staged.open_round(staged.circle[0])
    for member in staged.circle[:consenting]:
        await staged.press(member, proposal, CONSENT_BUTTON)
        await settled(fake, proposal, f"{member.first_name} : je consens")
    return staged, coordinator, proposal


async def test_a_group_that_becomes_a_supergroup_keeps_its_requests_circle_and_open_round(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged, coco, proposal = await round_in_a_basic_group(fake, ("Bea", "Cal"), consenting=1)
    bea, cal = staged.circle

    old = staged.group
    staged.group = fake.migrate_to_supergroup(old)
    reposted = await staged.containing(PROPOSAL)
    assert "Bea : je consens" in reposted.plain_text and waiting("Cal") in reposted.plain_text
    stale = await fake.callback_answer(fake.press_data(cal, proposal, proposal.buttons()[0][0]["callback_data"]))
    assert "plus valable" in stale["text"], "the proposal left behind no longer counts"

    await staged.press(cal, reposted, CONSENT_BUTTON)
    assert plain(CONSENT.outcomes.adopted) in (await staged.containing("Demande n°1")).plain_text
    summary = await until(fake, coco, lambda m: SUMMARY in m.plain_text)
    link = next(e["url"] for e in summary.entities if e["type"] == "text_link")
    assert link == f"https://t.me/c/{str(staged.group.id)[4:]}/{reposted.message_id}"
    fake.send(bea, staged.group, "/cercle")
    assert "Cercle cœur (2) : Bea, Cal" in (await staged.containing("Cercle cœur")).plain_text
    fake.send(bea, staged.group, "/demande 1")
    assert "adoptée" in (await staged.containing("Demande de partenariat n°1")).plain_text
    assert await no_row_of(bot, old.id)
    assert await rows(bot, "SELECT DISTINCT chat_id FROM consent_rounds") == [(staged.group.id,)]


async def test_a_move_the_bot_missed_is_followed_when_telegram_refuses_the_old_id(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged, coco, _ = await round_in_a_basic_group(fake, ("Bea", "Cal", "Dan"), consenting=2)
    cal = staged.circle[1]

    await bot.stop()
    old = staged.group
    staged.group = fake.migrate_to_supergroup(old, announce=False)
    set_deadline(bot, datetime.now(UTC) - timedelta(minutes=1))  # it passed while the bot was stopped
    await bot.start()  # the deadline job closes the round, and its messages find the new chat
    outcome = await staged.containing("Demande n°1")
    assert (
        plain(CONSENT.outcomes.no_decision) in outcome.plain_text
    )  # issue 10: Dan was silent (this adopted at 2 of 3)
    await until(fake, coco, lambda m: SUMMARY in m.plain_text)
    assert errors(fake, 400, old), "Telegram said the group moved"
    assert await no_row_of(bot, old.id)

    # A deep link made before the move still files the request in the supergroup.
    private = fake.private_chat(cal)
    fake.send(cal, private, f"/start g{old.id}")
    assert "GL Pays d'Uzès" in (await fake.next_message(private)).plain_text
    assert await rows(bot, "SELECT origin_chat_id FROM flow_sessions") == [(staged.group.id,)]


@pytest.mark.parametrize("fault", ["timeout", "bad gateway"])
async def test_a_member_check_telegram_cannot_answer_is_logged_and_asks_to_retry(
    fake: FakeTelegram,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    member = fake.add_user("Bea")
    group = fake.add_group("GL Nîmes", [member])
    private = fake.private_chat(member)
    intake = bot.application.bot_data["library"].messages.intake
    if fault == "timeout":
        fake.delay_next("getChatMember", 3)  # longer than telegram_timeout_seconds
    else:
        fake.fail_next("getChatMember", 502, "Bad Gateway")

    with caplog.at_level(logging.WARNING):
        fake.send(member, private, f"/start g{group.id}")
        answer = await fake.next_message(private)
    assert answer.plain_text == intake.membership_unknown
    assert answer.plain_text != intake.not_a_member
    assert any("member" in record.getMessage() and str(group.id) in record.getMessage() for record in caplog.records)
    assert await rows(bot, "SELECT COUNT(*) FROM flow_sessions") == [(0,)]

    fake.send(member, private, f"/start g{group.id}")  # Telegram answers again: the flow opens
    assert "GL Nîmes" in (await fake.next_message(private)).plain_text


# --- messages that announce a change go through the outbox --------------------------------


async def objected_and_amending(staged: Scene) -> BotMessage:
    """Cal objects, the round closes on the objection, the author amends the request up to its
    « Valider » button, which is returned."""
    bea, cal = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea)
    await staged.give_reason(cal, proposal, OBJECTION_BUTTON, "Le groupe n'a personne pour tenir un stand")
    await settled(staged.fake, proposal, "Cal : objection")
    await staged.press(bea, proposal, CONSENT_BUTTON)
    await staged.containing(plain(CONSENT.outcomes.objection))
    staged.fake.send(staged.author, staged.group, "/modifier 1")
    summary = await staged.message(lambda m: CONFIRM in m.button_texts())
    staged.fake.press(staged.author, summary, EDIT)
    menu = await staged.fake.wait_edit(summary)
    staged.fake.press(staged.author, menu, "Type de partenaire")
    question = await staged.message(lambda m: label("type_partenaire", "groupe_local") in m.button_texts())
    staged.fake.press(staged.author, question, label("type_partenaire", "groupe_local"))
    return await staged.message(lambda m: CONFIRM in m.button_texts())


async def test_an_amendment_notice_telegram_fails_on_is_sent_again(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    validate = await objected_and_amending(staged)
    await fake.idle()
    inject(fake, staged.group, "500")
    fake.press(staged.author, validate, CONFIRM)
    amended = await staged.containing("a modifié la demande n°1 (version 2)")
    assert OPEN_BUTTON in amended.button_texts()
    await fake.idle(quiet=0.3)
    assert len(errors(fake, 500, staged.group)) == 1
    assert len(containing(fake, staged.group, "a modifié la demande n°1")) == 1
    assert await rows(bot, "SELECT status, attempts FROM outbox WHERE texts LIKE '%version 2%'") == [("sent", 1)]


async def test_a_reason_prompt_survives_a_restart_between_the_press_and_the_reply(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    running = RunningBot(settings_for(fake, tmp_path, **FAULTY))
    await running.start()
    try:
        staged = await scene(fake)
        bea, cal = staged.circle
        await staged.file_request()
        proposal = await staged.open_round(bea)
        alert = await staged.press(cal, proposal, OBJECTION_BUTTON)
        assert alert["text"] == REASON_ASKED
        prompt = await staged.message(lambda m: m.is_force_reply() and "Cal" in m.plain_text)
        await fake.idle()

        await running.restart()
        fake.send(cal, staged.group, "Le groupe n'a personne pour tenir un stand", reply_to=prompt)
        await settled(fake, proposal, "Cal : objection — « Le groupe n'a personne")
        assert await rows(running, "SELECT user_id, position, reason FROM round_positions") == [
            (cal.id, "objection", "Le groupe n'a personne pour tenir un stand")
        ]
    finally:
        await running.stop()


async def test_a_question_telegram_fails_to_post_is_posted_once_later(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    bea, _ = staged.circle
    await staged.file_request()
    proposal = await staged.open_round(bea)
    alert = await staged.press(bea, proposal, QUESTION_BUTTON)
    assert alert["text"] == REASON_ASKED
    prompt = await staged.message(lambda m: m.is_force_reply() and "Bea" in m.plain_text)
    await fake.idle()
    inject(fake, staged.group, "502")
    fake.send(bea, staged.group, "Qui tiendra le stand le dimanche ?", reply_to=prompt)
    question = await staged.containing("pose une question à Eve")
    assert question.reply_to_message_id == proposal.message_id
    await fake.idle(quiet=0.3)
    assert len(errors(fake, 502, staged.group)) == 1
    assert len(containing(fake, staged.group, "Qui tiendra le stand le dimanche ?")) == 1


async def test_a_proposal_telegram_fails_on_is_posted_once_and_its_buttons_count(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    bea, cal = staged.circle
    await staged.file_request()
    await fake.idle()
    inject(fake, staged.group, "502")
    proposal = await staged.open_round(bea)
    await staged.press(cal, proposal, CONSENT_BUTTON)
    await settled(fake, proposal, position_line("Cal", Position.CONSENT))
    await fake.idle(quiet=0.3)
    assert len(errors(fake, 502, staged.group)) == 1
    assert len(containing(fake, staged.group, PROPOSAL)) == 1
    assert await rows(bot, "SELECT message_id FROM consent_rounds") == [(proposal.message_id,)]


async def test_the_objectors_are_asked_first_in_reply_to_a_proposal_sent_late(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    staged = await scene(fake)
    validate = await objected_and_amending(staged)
    staged.fake.press(staged.author, validate, CONFIRM)
    amended = await staged.containing("a modifié la demande n°1 (version 2)")
    await fake.idle()
    inject(fake, staged.group, "502")
    fake.press(staged.circle[0], amended, OPEN_BUTTON)
    second = await staged.message(lambda m: PROPOSAL in m.plain_text and "(tour 2)" in m.plain_text)
    ask_first = await staged.containing("Votre avis d'abord")
    assert ask_first.reply_to_message_id == second.message_id
    await fake.idle(quiet=0.3)
    assert len(errors(fake, 502, staged.group)) == 1
    assert len(containing(fake, staged.group, "Votre avis d'abord")) == 1


# --- a message whose answer timed out (issue 15, item 17) ---------------------------------

MEASURED, LATE = 20, 5  # deliveries, and how many of them Telegram carries out but answers too late


async def test_a_delivery_telegram_did_but_answered_too_late_arrives_twice_never_more(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    """Measures what the outbox's and the README's note says: the Bot API cannot tell the bot
    whether a timed-out sendMessage was carried out (a bot cannot read a chat's messages), so
    each such delivery is sent once more, and nothing else is ever doubled or lost."""
    staged = await scene(fake)
    await fake.idle()
    late = set(random.Random(15).sample(range(MEASURED), LATE))

    def answer_late(method: str, params: dict[str, Any]) -> None:
        number = params.get("text", "").removeprefix("mesure ")
        first_try = method == "sendMessage" and number.isdigit() and not calls_to(fake, params["text"])[:-1]
        if first_try and int(number) in late:
            fake.delay_next("sendMessage", 3 * FAULTY["telegram_timeout_seconds"], done_first=True)

    fake.on_call = answer_late

    def queue(connection: sqlite3.Connection) -> None:
        for number in range(MEASURED):
            outbox.enqueue(connection, staged.group.id, [f"mesure {number}"])

    await bot.database.write(queue)
    assert bot.application.job_queue is not None
    outbox_sender.kick(bot.application.job_queue)
    await until(fake, staged.group, lambda m: m.plain_text == f"mesure {MEASURED - 1}")
    await fake.idle(quiet=0.5)
    received = Counter(m.plain_text for m in fake.messages_in(staged.group) if m.plain_text.startswith("mesure "))
    assert set(received) == {f"mesure {n}" for n in range(MEASURED)}, "none lost"
    assert {text for text, count in received.items() if count > 1} == {f"mesure {n}" for n in late}
    assert max(received.values()) == 2
    assert await rows(bot, "SELECT status, COUNT(*) FROM outbox WHERE texts LIKE '%mesure%' GROUP BY status") == [
        ("sent", MEASURED)
    ]
