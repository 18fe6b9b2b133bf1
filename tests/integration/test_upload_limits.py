"""Flow uploads cannot take the bot down: parsed in a process with a time limit, nesting
refused unread, uploads per chat per day and versions kept per chat capped (docs/flux.md)."""

from __future__ import annotations

import time
from pathlib import Path

from bot.core.messages import FlowAdminTexts
from bot.core.texts import render
from tests.fake_telegram import FakeTelegram, as_read
from tests.integration.circle_scene import rows
from tests.integration.conftest import RunningBot, settings_for
from tests.integration.test_admin_flows import NEW_QUESTION, reworded


def variant(number: int) -> bytes:
    return reworded().replace(NEW_QUESTION.encode(), f"{NEW_QUESTION} ({number})".encode())


async def started(fake: FakeTelegram, tmp_path: Path, **overrides: object) -> RunningBot:
    running = RunningBot(settings_for(fake, tmp_path, **overrides))
    await running.start()
    return running


def flow_texts(bot: RunningBot) -> FlowAdminTexts:
    texts: FlowAdminTexts = bot.application.bot_data["library"].messages.flows
    return texts


async def test_deep_nesting_is_refused_unread_while_other_chats_are_answered(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    chair, other = fake.add_user("Claude"), fake.add_user("Inès")
    group = fake.add_group("GL Gard", [chair], admins=[chair])
    elsewhere = fake.add_group("GL Hérault", [other])
    too_deep = bot.application.bot_data["library"].validation.faults["yaml_too_deep"]

    sent = time.monotonic()
    fake.send_document(chair, group, "demande_partenariat.yaml", b"[" * 16_000, caption="/flux")
    fake.send(other, elsewhere, "/aide")
    assert (await fake.next_message(elsewhere)).plain_text
    refusal = await fake.next_message(group)
    latency = time.monotonic() - sent
    print(f"16 kB of '[' refused in {latency:.3f} s")
    assert too_deep in refusal.plain_text
    assert latency < 2.0  # the parser took 7.4 s on such a file, the event loop with it
    assert await rows(bot, "SELECT COUNT(*) FROM flow_versions WHERE source = 'upload'") == [(0,)]


async def test_a_parse_over_its_time_limit_installs_nothing(fake: FakeTelegram, tmp_path: Path) -> None:
    bot = await started(fake, tmp_path, flow_upload_parse_seconds=0.001)
    try:
        chair = fake.add_user("Claude")
        group = fake.add_group("GL Gard", [chair], admins=[chair])
        fake.send_document(chair, group, "demande_partenariat.yaml", reworded(), caption="/flux")
        refusal = await fake.next_message(group)
        assert refusal.plain_text == as_read(
            render(flow_texts(bot).parse_too_slow, file="demande_partenariat.yaml", seconds=0.001)
            .replace("<b>", "")
            .replace("</b>", "")
        )
        assert await rows(bot, "SELECT COUNT(*) FROM flow_versions WHERE source = 'upload'") == [(0,)]
    finally:
        await bot.stop()


async def test_uploads_per_chat_per_day_are_capped(fake: FakeTelegram, tmp_path: Path) -> None:
    bot = await started(fake, tmp_path, flow_uploads_per_day=2)
    try:
        chair = fake.add_user("Claude")
        group = fake.add_group("GL Gard", [chair], admins=[chair])
        for number in (1, 2):
            fake.send_document(chair, group, "demande_partenariat.yaml", variant(number), caption="/flux")
            assert f"Version {number + 1}" in (await fake.next_message(group)).plain_text
        fake.send_document(chair, group, "demande_partenariat.yaml", variant(3), caption="/flux")
        assert (await fake.next_message(group)).plain_text == as_read(render(flow_texts(bot).too_many_uploads, max=2))
        assert await rows(bot, "SELECT version FROM flow_versions WHERE source = 'upload' ORDER BY version") == [
            (2,),
            (3,),
        ]
    finally:
        await bot.stop()


async def test_versions_kept_per_chat_are_capped_sparing_those_in_use(fake: FakeTelegram, tmp_path: Path) -> None:
    bot = await started(fake, tmp_path, flow_versions_kept=2)
    try:
        chair, member = fake.add_user("Claude"), fake.add_user("Alice")
        group = fake.add_group("GL Gard", [chair, member], admins=[chair])

        def upload(number: int) -> None:
            fake.send_document(chair, group, "demande_partenariat.yaml", variant(number), caption="/flux")

        for number in (1, 2, 3):
            upload(number)
            await fake.next_message(group)
        # Version 2 (the first upload), used by nobody, was forgotten to keep two.
        assert await rows(bot, "SELECT version FROM flow_versions WHERE source = 'upload' ORDER BY version") == [
            (3,),
            (4,),
        ]
        # A member starts a request on version 4; version 5 makes version 3 go, then no room is left.
        fake.send(member, group, "/partenariat")
        await fake.next_message(group)
        fake.press(member, fake.messages_in(group)[-1], bot.application.bot_data["library"].messages.intake.button_here)
        await fake.next_message(group)
        await fake.next_message(group)
        upload(4)
        assert "Version 5" in (await fake.next_message(group)).plain_text
        upload(5)
        assert (await fake.next_message(group)).plain_text == as_read(render(flow_texts(bot).too_many_versions, max=2))
        assert await rows(bot, "SELECT version FROM flow_versions WHERE source = 'upload' ORDER BY version") == [
            (4,),
            (5,),
        ]
    finally:
        await bot.stop()


async def test_an_upload_telegram_could_not_show_is_refused_and_its_report_always_fits(
    fake: FakeTelegram,
    bot: RunningBot,
) -> None:
    chair = fake.add_user("Claude")
    group = fake.add_group("GL Gard", [chair], admins=[chair])
    faults = bot.application.bot_data["library"].validation.faults

    broken = reworded().replace(NEW_QUESTION.encode(), b"Comment s'appelle<br>le partenaire ?")
    fake.send_document(chair, group, "demande_partenariat.yaml", broken, caption="/flux")
    refusal = await fake.next_message(group)
    assert faults["html_tag"].format(tag="br") in refusal.plain_text
    assert await rows(bot, "SELECT COUNT(*) FROM flow_versions WHERE source = 'upload'") == [(0,)]

    # Twenty unknown fields with keys of 1000 characters: each is quoted in its error.
    long_keys = b"".join(b"%s%02d: 1\n" % (b"k" * 1000, n) for n in range(20))
    fake.send_document(chair, group, "demande_partenariat.yaml", reworded() + long_keys, caption="/flux")
    report = await fake.next_message(group)
    assert faults["extra_forbidden"] in report.plain_text
    assert len(report.plain_text) <= 4096
