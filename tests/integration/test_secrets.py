"""The bot token never reaches the logs, at any level, even when Telegram fails."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from bot.logs import REDACTED, RedactSecrets, setup_logging
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import RunningBot
from tests.integration.conversation import (
    CONFIRM,
    ONE_OFF_REQUEST,
    fill,
    known_group,
    next_prompt,
)


@pytest.fixture
def all_logs(fake: FakeTelegram, caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of every logger at DEBUG, through the bot's own logging set-up."""
    caplog.set_level(logging.DEBUG)
    setup_logging("DEBUG", [fake.token])
    # Someone debugging a network problem turns httpx back on: its request URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    yield caplog
    for handler in logging.getLogger().handlers:
        for installed in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(installed)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    sys.excepthook, threading.excepthook = sys.__excepthook__, threading.__excepthook__


async def test_a_full_scenario_with_telegram_faults_logs_no_token(
    fake: FakeTelegram, bot: RunningBot, all_logs: pytest.LogCaptureFixture
) -> None:
    alice = fake.add_user("Alice")
    private = fake.private_chat(alice)
    known_group(fake, alice)
    fake.fail_next("sendMessage", 500, "Internal Server Error")
    fake.send(alice, private, "/partenariat")
    await fake.idle()
    fake.send(alice, private, "/partenariat")
    summary = await fill(fake, alice, private, ONE_OFF_REQUEST, await next_prompt(fake, private))
    fake.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    fake.press(alice, summary, CONFIRM)
    await fake.idle()

    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in all_logs.records)
    assert all_logs.records, "the scenario logged nothing: the test would prove nothing"
    assert REDACTED in text, "httpx logged its request URLs, redacted"
    assert fake.token not in text
    assert fake.token.split(":", 1)[1] not in text


def test_an_exception_that_ends_the_process_is_printed_without_the_token(
    fake: FakeTelegram, all_logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{fake.token}/getMe failed")
    except RuntimeError as error:
        sys.excepthook(type(error), error, error.__traceback__)  # what Python calls as it exits
    printed = capsys.readouterr().err
    assert "RuntimeError" in printed and REDACTED in printed
    assert fake.token not in printed
