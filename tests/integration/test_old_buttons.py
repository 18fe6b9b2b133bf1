"""Buttons on messages too old for Telegram to show the bot: the press comes with an
inaccessible message (no text, no buttons), and the database decides whether it counts."""

from __future__ import annotations

from tests.fake_telegram import FakeTelegram
from tests.integration.circle_scene import rows, scene, settled
from tests.integration.conftest import RunningBot
from tests.integration.conversation import known_group, next_prompt


async def test_an_old_join_request_is_accepted_from_its_stored_row(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake, ("Bea",))
    texts = bot.application.bot_data["library"].consent.circle
    eve = staged.author
    fake.send(eve, staged.group, "/cercle rejoindre")
    request = await staged.containing("demande à rejoindre le cercle cœur")
    accept, refuse = (button["callback_data"] for button in request.buttons()[0])

    alert = await fake.callback_answer(fake.press_on_old_message(staged.admin, request, accept))
    assert alert.get("text") is None  # answered without an alert: accepted
    await settled(fake, request, "Eve rejoint le cercle cœur (accepté par Ana)")
    assert await rows(bot, "SELECT user_id FROM circle_members ORDER BY added_at") == [
        (staged.circle[0].id,),
        (eve.id,),
    ]
    # The request is used up: the same old button, pressed again, is gone.
    again = await fake.callback_answer(fake.press_on_old_message(staged.admin, request, refuse))
    assert again["text"] == texts.join_gone


async def test_an_old_question_is_answered_when_its_step_is_still_current(fake: FakeTelegram, bot: RunningBot) -> None:
    member = fake.add_user("Lou")
    private = fake.private_chat(member)
    known_group(fake, member)
    intake = bot.application.bot_data["library"].messages.intake
    fake.send(member, private, "/partenariat")
    question = await next_prompt(fake, private)
    while not question.buttons():  # the first question with buttons
        fake.send(member, private, "Alternatiba Gard")
        question = await next_prompt(fake, private)
    choice = question.buttons()[0][0]["callback_data"]

    fake.press_on_old_message(member, question, choice)
    following = await next_prompt(fake, private)
    assert following.message_id > question.message_id
    await fake.idle()
    assert not question.buttons(), "the answered question lost its buttons"
    # Pressed again, the old question is no longer the current step: stale.
    stale = await fake.callback_answer(fake.press_on_old_message(member, question, choice))
    assert stale["text"] == intake.stale_button
