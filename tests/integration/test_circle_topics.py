"""/cercle ajouter adds people only: not a forum topic's creator by default, not Telegram's
service account that forwards a channel's posts (777000, not flagged as a bot)."""

from __future__ import annotations

from bot.core.consent_texts import CircleTexts
from bot.core.texts import render
from tests.fake_telegram import FakeTelegram, as_read
from tests.integration.circle_scene import rows
from tests.integration.conftest import RunningBot


def circle_texts(bot: RunningBot) -> CircleTexts:
    return bot.services.library.consent.circle


async def test_a_command_in_a_topic_with_no_reply_adds_nobody(fake: FakeTelegram, bot: RunningBot) -> None:
    admin, founder, member = fake.add_user("Ana"), fake.add_user("Tom"), fake.add_user("Lou")
    group = fake.add_forum("GL Forum", [founder, member], creator=admin)
    topic = fake.create_topic(group, "Partenariats", by=founder)

    fake.send_in_topic(admin, group, topic, "/cercle ajouter")  # Telegram makes it a reply to the topic's start
    answer = await fake.next_message(group)
    assert answer.plain_text == as_read(render(circle_texts(bot).reply_needed, command="/cercle ajouter"))
    assert await rows(bot, "SELECT user_id FROM circle_members") == []

    said = fake.send_in_topic(member, group, topic, "Je veux bien en être")
    fake.send_in_topic(admin, group, topic, "/cercle ajouter", reply_to=said)  # a real reply still works
    assert "rejoint le cercle cœur" in (await fake.next_message(group)).plain_text
    assert await rows(bot, "SELECT user_id FROM circle_members") == [(member.id,)]


async def test_a_channel_post_forwarded_by_telegram_cannot_join_the_circle(fake: FakeTelegram, bot: RunningBot) -> None:
    admin = fake.add_user("Ana")
    group = fake.add_group("GL Discussion", [], creator=admin)
    forwarded = fake.automatic_forward(group, "Nouvelle publication du canal")
    assert forwarded["from"] == {"id": 777000, "is_bot": False, "first_name": "Telegram"}

    for command in ("/cercle ajouter", "/coordination ajouter"):
        fake.send(admin, group, command, reply_to=forwarded)
        answer = await fake.next_message(group)
        assert answer.plain_text == as_read(circle_texts(bot).not_a_person)
    assert await rows(bot, "SELECT user_id FROM circle_members UNION ALL SELECT user_id FROM coordinators") == []
