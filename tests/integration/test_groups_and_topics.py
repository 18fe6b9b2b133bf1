"""Every request reaches its group: started in private, and in the topics of a forum.

A request started in private is for one of the groups the bot knows where the member is
(Telegram says so through getChatMember); in a forum supergroup, every message of a flow, a
round and a follow-up stays in the topic it started in, and the fake server refuses a thread
it does not have, as Telegram does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import BadRequest

from bot.core.consent_rules import Position
from bot.core.library import Library, load_library
from bot.core.texts import render
from bot.handlers import reviews
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.integration.circle_scene import QUICK_REDRAWS
from tests.integration.conftest import CONVERSATIONS, RunningBot, running_bot
from tests.integration.conversation import CONFIRM, ONE_OFF_REQUEST, containing, fill, next_prompt, plain, until
from tests.integration.direct import DirectBot, reviews_fall_due


@pytest.fixture(scope="module")
def library() -> Library:
    return load_library(CONVERSATIONS)


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot with quick redraws and retries, and follow-ups posted as soon as they are due."""
    settings = {**QUICK_REDRAWS, "review_post_hour": 0, "outbox_retry_seconds": 0.1}
    async with running_bot(fake, tmp_path, **settings) as running:
        yield running


async def known_group(fake: FakeTelegram, title: str, members: list[FakeUser], creator: FakeUser) -> FakeChat:
    """A group the bot has seen: someone typed /aide there."""
    group = fake.add_group(title, members, creator=creator)
    fake.send(creator, group, "/aide")
    await fake.next_message(group)
    return group


async def added_group(fake: FakeTelegram, title: str, members: list[FakeUser], creator: FakeUser) -> FakeChat:
    """A group the bot was just added to (my_chat_member), where nobody wrote yet."""
    group = fake.add_group(title, members, creator=creator)
    fake.set_member_status(group, fake.bot, "left")
    fake.add_bot(group, creator)
    await fake.idle()
    return group


def card_text(library: Library, number: int) -> str:
    return f"{library.flows['demande_partenariat'].flow.title} n°{number}"


# --- a request started in private -----------------------------------------------------------


async def test_a_member_of_one_known_group_files_for_it_from_private(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve = fake.add_user("Ana"), fake.add_user("Eve")
    group = await known_group(fake, "GL Pays d'Uzès", [eve], creator=ana)
    fake.add_group("GL où le bot n'est pas", [eve], creator=ana)  # never seen: not offered
    private = fake.private_chat(eve)

    fake.send(eve, private, "/partenariat")
    intro = await fake.next_message(private)
    title = library.flows["demande_partenariat"].flow.title
    assert plain(render(library.messages.intake.private_intro, title=title, group=group.title)) in intro.plain_text
    fake.press(eve, await fill(fake, eve, fake.private_chat(eve), ONE_OFF_REQUEST), CONFIRM)

    card = await containing(fake, group, card_text(library, 1))
    assert library.consent.round.open_button in card.button_texts()
    saved = render(library.messages.intake.saved_and_posted, number=1, group=group.title)
    assert (await containing(fake, private, "n°1")).plain_text == plain(saved)
    fake.send(eve, group, "/demandes")
    assert "Alternatiba" in (await fake.next_message(group)).plain_text
    assert [
        (row["chat_id"], row["number"]) for row in await bot.database.fetch_all("SELECT chat_id, number FROM requests")
    ] == [(group.id, 1)]


async def test_a_member_of_two_groups_picks_one_and_the_press_is_checked_again(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve = fake.add_user("Ana"), fake.add_user("Eve")
    uzes = await known_group(fake, "GL Pays d'Uzès", [eve], creator=ana)
    ales = await added_group(fake, "GL Alès", [eve], creator=ana)
    await known_group(fake, "GL Nîmes", [], creator=ana)  # Eve is not a member
    left = await known_group(fake, "GL Quitté", [eve], creator=ana)
    fake.remove_bot(left, ana)  # the bot was removed: not offered any more
    private = fake.private_chat(eve)

    fake.send(eve, private, "/partenariat")
    choice = await fake.next_message(private)
    texts = library.messages.groups
    assert choice.plain_text == plain(texts.choose)
    assert ales.title is not None and uzes.title is not None
    assert choice.button_texts() == [ales.title, uzes.title]

    fake.set_member_status(uzes, eve, "left")  # she left Uzès meanwhile
    query = fake.press(eve, choice, uzes.title)
    assert (await fake.callback_answer(query))["text"] == texts.not_a_member
    fake.press(eve, choice, ales.title)
    intro = await fake.next_message(private)
    assert f"« {ales.title} »" in intro.plain_text
    fake.press(eve, await fill(fake, eve, fake.private_chat(eve), ONE_OFF_REQUEST), CONFIRM)
    await containing(fake, ales, card_text(library, 1))
    filed = await bot.database.fetch_one("SELECT chat_id FROM requests")
    assert filed is not None
    assert filed["chat_id"] == ales.id


async def test_a_member_of_no_known_group_is_told_how_to_add_the_bot(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve = fake.add_user("Ana"), fake.add_user("Eve")
    await known_group(fake, "GL Nîmes", [], creator=ana)
    private = fake.private_chat(eve)
    fake.send(eve, private, "/partenariat")
    answer = await fake.next_message(private)
    assert answer.plain_text == plain(library.messages.groups.no_group)
    assert len(answer.plain_text.strip().splitlines()) <= 3  # two lines, a blank one between
    assert await bot.database.fetch_all("SELECT * FROM flow_sessions") == []


async def test_telegram_failing_to_answer_is_not_taken_for_not_a_member(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve = fake.add_user("Ana"), fake.add_user("Eve")
    group = await known_group(fake, "GL Pays d'Uzès", [eve], creator=ana)
    private = fake.private_chat(eve)
    fake.fail_next("getChatMember", 502, "Bad Gateway", chat_id=group.id)
    fake.send(eve, private, "/partenariat")
    assert (await fake.next_message(private)).plain_text == plain(library.messages.groups.try_again)
    assert await bot.database.fetch_all("SELECT * FROM flow_sessions") == []

    fake.send(eve, private, "/partenariat")  # Telegram answers again
    assert f"« {group.title} »" in (await fake.next_message(private)).plain_text


async def test_a_group_known_before_a_restart_is_written_again_only_once_renamed(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    ana = fake.add_user("Ana")
    group = fake.add_group("GL Alès", [], creator=ana)
    direct = DirectBot.for_tests(fake, tmp_path)
    await direct.start()
    try:
        fake.send(ana, group, "/aide")
        await direct.process()
        await direct.restart()
        committed = direct.database.units_committed

        fake.send(ana, group, "/aide")
        await direct.process()
        assert direct.database.units_committed == committed  # known as it is: nothing written

        group.title = "GL Alès et Cévennes"
        fake.send(ana, group, "/aide")
        await direct.process()
        assert direct.database.units_committed == committed + 1
        titles = await direct.database.fetch_all("SELECT title FROM chats WHERE id = ?", (group.id,))
        assert [row["title"] for row in titles] == ["GL Alès et Cévennes"]
        assert not direct.errors.records, direct.errors.describe()
    finally:
        await direct.stop()


async def test_a_request_filed_without_a_group_is_attached_once_by_its_author(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    ana, eve, bob = fake.add_user("Ana"), fake.add_user("Eve"), fake.add_user("Bob")
    group = await known_group(fake, "GL Pays d'Uzès", [eve, bob], creator=ana)
    private = fake.private_chat(eve)
    fake.send(eve, private, "/partenariat")
    await fake.next_message(private)
    fake.press(eve, await fill(fake, eve, fake.private_chat(eve), ONE_OFF_REQUEST), CONFIRM)
    await containing(fake, group, card_text(library, 1))
    # As an older version of the bot stored it: in Eve's private chat, for no group.
    await bot.database.write(lambda connection: connection.execute("UPDATE requests SET chat_id = author_id"))
    texts = library.messages.groups

    fake.send(eve, private, "/demandes")
    listed = await containing(fake, private, "Alternatiba")
    assert plain(texts.private_list_hint) in listed.plain_text
    fake.send(bob, fake.private_chat(bob), "/rattacher 1")  # not his
    assert (await fake.next_message(bob)).plain_text == plain(render(texts.attach_not_found, number=1))
    fake.send(eve, group, "/rattacher 1")
    assert (await fake.next_message(group)).plain_text == plain(texts.attach_private_only)

    fake.send(eve, private, "/rattacher 1")
    assert group.title is not None
    done = await containing(fake, private, group.title)
    assert done.plain_text == plain(render(texts.attached, number=1, new_number=1, group=group.title))
    card = await containing(fake, group, card_text(library, 1))
    assert library.consent.round.open_button in card.button_texts()
    fake.send(eve, group, "/demandes")
    assert "Alternatiba" in (await fake.next_message(group)).plain_text

    fake.send(eve, private, "/rattacher 1")  # once only
    assert (await fake.next_message(private)).plain_text == plain(render(texts.attach_not_found, number=1))


# --- forum topics ---------------------------------------------------------------------------


async def test_the_fake_refuses_threads_as_telegram_does(fake: FakeTelegram, bot: RunningBot) -> None:
    ana = fake.add_user("Ana")
    forum = fake.add_forum("GL Forum", [], creator=ana)
    plain_group = fake.add_group("GL Sans sujets", [], creator=ana)
    topic = fake.create_topic(forum, "Partenariats", by=ana)
    client = Bot(fake.token, base_url=fake.base_url)
    async with client:
        sent = await client.send_message(forum.id, "Bonjour", message_thread_id=topic)
        assert sent.is_topic_message and sent.message_thread_id == topic
        for chat, thread in ((forum.id, topic + 100), (plain_group.id, topic)):
            with pytest.raises(BadRequest, match="Message thread not found"):
                await client.send_message(chat, "Perdu", message_thread_id=thread)
        fake.close_topic(forum, topic)
        with pytest.raises(BadRequest, match=r"(?i)^topic_closed$"):
            await client.send_message(forum.id, "Fermé", message_thread_id=topic)
    assert fake.errors[-1][2]["description"] == "Bad Request: TOPIC_CLOSED"


async def forum_scene(fake: FakeTelegram) -> tuple[FakeChat, FakeUser, list[FakeUser], FakeUser]:
    """A forum with its admin, a core circle named in General, and a member."""
    ana = fake.add_user("Ana")
    circle = [fake.add_user("Bea"), fake.add_user("Cal")]
    eve = fake.add_user("Eve")
    forum = fake.add_forum("GL Forum", [*circle, eve], creator=ana)
    for member in circle:
        said = fake.send(member, forum, f"Bonjour, c'est {member.first_name}")
        fake.send(ana, forum, "/cercle ajouter", reply_to=said)
        await containing(fake, forum, member.first_name)
    return forum, ana, circle, eve


async def test_a_flow_a_round_and_its_follow_ups_stay_in_their_topic(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    forum, ana, (bea, cal), eve = await forum_scene(fake)
    coco = fake.add_user("Coco")  # a coordinator who never started the bot: summary in the group
    fake.set_member_status(forum, coco, "member")
    said = fake.send(coco, forum, "Je coordonne")
    fake.send(ana, forum, "/coordination ajouter", reply_to=said)
    await containing(fake, forum, "Coco")
    topic = fake.create_topic(forum, "Partenariats", by=ana)
    start = len(fake.messages_in(forum))
    consent = library.consent

    fake.send_in_topic(eve, forum, topic, "/partenariat")
    intro = await fake.next_message(forum)
    fake.press(eve, intro, library.messages.intake.button_here)
    fake.press(eve, await fill(fake, eve, forum, ONE_OFF_REQUEST), CONFIRM)
    card = await containing(fake, forum, card_text(library, 1))
    fake.press(bea, card, consent.round.open_button)
    proposal = await containing(fake, forum, "Alternatiba")
    fake.press(bea, proposal, consent.positions.of(Position.CONSENT).button)
    fake.send_in_topic(bea, forum, topic, "/relancer 1")
    await containing(fake, forum, "Cal")
    fake.press(cal, proposal, consent.positions.of(Position.RESERVATION).button)
    prompt = await until(fake, forum, lambda m: m.is_force_reply())
    fake.fail_next("sendMessage", 502, "Bad Gateway", chat_id=forum.id)  # the outcome goes again
    fake.send(cal, forum, "Bien co-signer les affiches", reply_to=prompt)
    await containing(fake, forum, plain(consent.outcome.reservations))
    await containing(fake, forum, "Coco")  # the summary Coco could not get, and the admins told

    application = bot.application
    assert application.job_queue is not None
    application.job_queue.run_once(reviews.sweep, 0)  # the adopted partnership gets its date
    await fake.idle()
    await reviews_fall_due(bot.database, application.bot_data["services"].today())
    application.job_queue.run_once(reviews.sweep, 0)  # its follow-up is due
    follow_up = await until(
        fake, forum, lambda m: any(label in m.button_texts() for label in library.register.follow_up.buttons.values())
    )
    await fake.idle()

    sent = fake.messages_in(forum)[start:]
    assert follow_up in sent and proposal in sent
    assert len(sent) > len(ONE_OFF_REQUEST) + 10  # every question, then the card, the round, its follow-up
    assert [m.plain_text for m in sent if m.message_thread_id != topic] == []
    assert [e for e in fake.errors if "thread" in e[2]["description"]] == []
    [(_, refused, _)] = [e for e in fake.errors if e[2]["error_code"] == 502]
    assert refused["message_thread_id"] == topic


async def test_a_message_merely_posted_in_a_topic_is_no_answer(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    forum, _ana, _, eve = await forum_scene(fake)
    # In a topic the bot created, every message replies to the bot's creation message, so the
    # bot sees them all, privacy mode or not: only a reply to its question is an answer.
    topic = fake.create_topic(forum, "Partenariats", by=fake.bot)
    fake.send_in_topic(eve, forum, topic, "/partenariat")
    intro = await fake.next_message(forum)
    fake.press(eve, intro, library.messages.intake.button_here)
    question = await next_prompt(fake, forum)
    fake.send_in_topic(eve, forum, topic, "On en parle demain ?")
    await fake.idle()
    assert fake.messages_in(forum)[-1] is question
    assert [row["answers"] for row in await bot.database.fetch_all("SELECT answers FROM flow_sessions")] == ["{}"]

    fake.send(eve, forum, "Alternatiba", reply_to=question)
    assert (await next_prompt(fake, forum)).message_thread_id == topic


@pytest.mark.parametrize("lose", ["delete_topic", "close_topic"])
async def test_the_home_topic_receives_what_starts_elsewhere_until_it_is_lost(
    fake: FakeTelegram, bot: RunningBot, library: Library, lose: str
) -> None:
    forum, ana, (bea, _), eve = await forum_scene(fake)
    home = fake.create_topic(forum, "Partenariats", by=ana)
    texts = library.messages.topics
    fake.send_in_topic(eve, forum, home, "/sujet")
    assert (await fake.next_message(forum)).plain_text == plain(texts.admins_only)
    fake.send_in_topic(ana, forum, home, "/sujet")
    chosen = await fake.next_message(forum)
    assert chosen.plain_text == plain(texts.home_set) and chosen.message_thread_id == home

    private = fake.private_chat(eve)
    fake.send(eve, private, "/partenariat")
    await fake.next_message(private)
    fake.press(eve, await fill(fake, eve, fake.private_chat(eve), ONE_OFF_REQUEST), CONFIRM)
    card = await containing(fake, forum, card_text(library, 1))
    assert card.message_thread_id == home
    fake.send(bea, forum, "/consentement 1")  # typed in General
    proposal = await containing(fake, forum, "Alternatiba")
    assert proposal.message_thread_id == home

    getattr(fake, lose)(forum, home)
    for number in (2, 3):
        fake.send(eve, private, "/partenariat")
        await fake.next_message(private)
        fake.press(eve, await fill(fake, eve, fake.private_chat(eve), ONE_OFF_REQUEST), CONFIRM)
        card = await containing(fake, forum, card_text(library, number))
        assert card.message_thread_id is None  # General
    await fake.idle()
    lost = plain(render(texts.home_lost, admins="Ana"))
    assert [m.message_thread_id for m in fake.messages_in(forum) if m.plain_text == lost] == [None]
    chat = await bot.database.fetch_one("SELECT home_thread_id FROM chats WHERE id = ?", (forum.id,))
    assert chat is not None
    assert chat["home_thread_id"] is None
    fake.send(ana, forum, "/sujet")  # in General: General again, said there
    assert (await fake.next_message(forum)).plain_text == plain(texts.home_reset)


async def test_a_reminder_in_a_topic_names_its_member_once_the_press_is_answered(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    forum, ana, _, eve = await forum_scene(fake)
    topic = fake.create_topic(forum, "Partenariats", by=ana)
    fake.send_in_topic(eve, forum, topic, "/partenariat")
    fake.press(eve, await fake.next_message(forum), library.messages.intake.button_here)
    fake.send(eve, forum, "Une pharmacienne thérapeute", reply_to=await next_prompt(fake, forum))
    kind = await next_prompt(fake, forum)
    pressed = fake.press(eve, kind, "Professionnel·le indépendant·e")
    reminder = await containing(fake, forum, "💡")

    assert reminder.message_thread_id == topic
    assert reminder.text is not None
    assert f"tg://user?id={eve.id}" in reminder.text
    calls = [(method, params) for method, params in fake.calls if method in ("answerCallbackQuery", "sendMessage")]
    answered = next(
        i
        for i, (method, params) in enumerate(calls)
        if method == "answerCallbackQuery" and params.get("callback_query_id") == pressed
    )
    sent = next(
        i for i, (method, params) in enumerate(calls) if method == "sendMessage" and "💡" in str(params.get("text"))
    )
    assert answered < sent, "the press is answered before its reminder is sent"


async def test_closing_early_withdrawing_and_declining_stay_in_the_topic(
    fake: FakeTelegram, bot: RunningBot, library: Library
) -> None:
    """Issue 10's messages: the /clore confirmation, the withdraw and decline notices and the
    outcome of a round a withdrawal ends go to the topic the requests were filed in."""
    forum, ana, (bea, cal), eve = await forum_scene(fake)
    topic = fake.create_topic(forum, "Partenariats", by=ana)
    start = len(fake.messages_in(forum))
    consent, intake = library.consent, library.messages.intake

    async def filed(number: int) -> BotMessage:
        fake.send_in_topic(eve, forum, topic, "/partenariat")
        fake.press(eve, await fake.next_message(forum), intake.button_here)
        fake.press(eve, await fill(fake, eve, forum, ONE_OFF_REQUEST), CONFIRM)
        return await containing(fake, forum, card_text(library, number))

    fake.press(bea, await filed(1), consent.round.open_button)
    proposal = await containing(fake, forum, "Alternatiba")
    fake.press(bea, proposal, consent.positions.of(Position.CONSENT).button)
    fake.send_in_topic(ana, forum, topic, "/clore 1")  # Cal has not answered: confirm first
    confirm = await until(fake, forum, lambda m: consent.commands_feedback.close_confirm in m.button_texts())
    await fake.callback_answer(fake.press(ana, confirm, consent.commands_feedback.close_confirm))
    await containing(fake, forum, plain(consent.outcomes.no_decision))

    second = await filed(2)
    fake.press(bea, second, consent.round.open_button)
    await until(
        fake,
        forum,
        lambda m: m is not proposal and "Alternatiba" in m.plain_text and consent.round.full_button in m.button_texts(),
    )
    await fake.callback_answer(fake.press(eve, second, consent.withdraw.button))
    await containing(fake, forum, plain(render(consent.outcome.withdrawn, number=2)))
    await filed(3)
    fake.send_in_topic(cal, forum, topic, "/decliner 3 Ce n'est pas notre terrain de jeu")
    await containing(fake, forum, "Ce n'est pas notre terrain de jeu")
    await fake.idle()

    stored = await bot.database.fetch_all("SELECT number, status FROM requests ORDER BY number")
    assert [tuple(row) for row in stored] == [
        (1, "no_decision"),
        (2, "withdrawn"),
        (3, "declined"),
    ]
    sent = fake.messages_in(forum)[start:]
    assert confirm in sent and len(sent) > 15
    assert [m.plain_text for m in sent if m.message_thread_id != topic] == []
    assert [e for e in fake.errors if "thread" in e[2]["description"]] == []
