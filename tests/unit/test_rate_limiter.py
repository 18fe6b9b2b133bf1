"""FollowingRateLimiter makes a call again by changing ``data``: what the installed
python-telegram-bot does with it, proven here (pyproject.toml pins the range this test ran on)."""

from __future__ import annotations

import json
from typing import Any

from telegram.ext import ExtBot

from bot.handlers import migration
from tests.unit.in_process import InProcessTelegram, ok

OLD, NEW = -4001, -1004001


class Answers(InProcessTelegram):
    """Telegram answering in process: the old group has moved; the supergroup takes the message."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def answer(self, endpoint: str, parameters: dict[str, Any]) -> tuple[int, bytes]:
        if endpoint != "sendMessage":
            return ok(True)
        self.sent.append(parameters)
        chat_id = parameters["chat_id"]
        assert isinstance(chat_id, int | str), chat_id
        if int(chat_id) == OLD:
            body = {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": NEW},
            }
            return 400, json.dumps(body).encode()
        return ok({"message_id": 7, "date": 0, "chat": {"id": NEW, "type": "supergroup"}, "text": "x"})


async def test_a_call_to_a_group_that_moved_goes_again_to_its_supergroup_without_its_reply() -> None:
    answers = Answers()
    limiter = migration.FollowingRateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=0)
    moved: list[tuple[int, int]] = []

    async def on_migrated(old: int, new: int) -> None:
        moved.append((old, new))

    limiter.on_migrated = on_migrated
    bot = ExtBot("123:fake", request=answers, get_updates_request=answers, rate_limiter=limiter)
    await limiter.initialize()

    sent = await bot.send_message(OLD, "bonjour", reply_to_message_id=41)

    assert moved == [(OLD, NEW)]
    assert [int(call["chat_id"]) for call in answers.sent] == [OLD, NEW]
    assert "reply_parameters" in answers.sent[0] and "reply_parameters" not in answers.sent[1]
    assert sent.message_id == 7
