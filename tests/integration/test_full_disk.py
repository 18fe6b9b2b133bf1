"""A full disk: the member hears something went wrong, and the log says the disk is full."""

from __future__ import annotations

import logging

import pytest

from bot.core.library import load_library
from tests.fake_telegram import FakeTelegram, as_read
from tests.integration.conftest import CONVERSATIONS, RunningBot

SYSTEM = load_library(CONVERSATIONS).messages.system


async def test_a_full_disk_is_logged_as_such_and_answered(
    fake: FakeTelegram, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    chair = fake.add_user("Claude")
    group = fake.add_group("GL Gard", [chair], admins=[chair])
    flow = (CONVERSATIONS / "demande_partenariat.yaml").read_text(encoding="utf-8")
    page_count = await bot.database.fetch_one("PRAGMA page_count")
    assert page_count is not None
    pages = page_count[0]
    await bot.database.connection.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page

    with caplog.at_level(logging.ERROR):
        # Storing a version of a flow (tens of kilobytes) needs new pages.
        fake.send_document(
            chair, group, "demande_partenariat.yaml", flow.replace("Étape", "Question").encode(), caption="/flux"
        )
        answer = await fake.next_message(group)

    assert answer.plain_text == as_read(SYSTEM.error)
    errors = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "database or disk is full" in errors
    assert "cannot rollback" not in errors
