"""Webhook mode: Telegram pushes updates; a request without the right secret is refused."""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.app import webhook_options
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.integration.conftest import RunningBot, settings_for

SECRET = "s3cret-for-the-tests-only"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def webhook_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = settings_for(
        fake,
        tmp_path,
        webhook_url="https://bot.example.org/telegram",
        webhook_secret=SECRET,
        webhook_port=free_port(),
    )
    running = RunningBot(settings)
    application = running.build()
    assert application.post_init is not None and application.updater is not None  # build_application sets both
    await application.initialize()
    await application.post_init(application)
    await application.start()
    await application.updater.start_webhook(**webhook_options(settings))
    running.application = application
    yield running
    await running.stop()


def update_json(fake: FakeTelegram, user: FakeUser, text: str, update_id: int) -> str:
    chat = fake.private_chat(user)
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": chat.to_dict(),
                "from": user.to_dict(),
                "text": text,
                "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
            },
        }
    )


async def test_only_requests_with_the_secret_reach_the_bot(fake: FakeTelegram, webhook_bot: RunningBot) -> None:
    [(_, registered)] = [c for c in fake.calls if c[0] == "setWebhook"]
    assert registered["url"] == "https://bot.example.org/telegram" and registered["secret_token"] == SECRET
    alice = fake.add_user("Alice")
    fake.open_private_chat(alice)
    url = f"http://127.0.0.1:{webhook_bot.settings.webhook_port}/telegram"
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url,
            content=update_json(fake, alice, "/aide", 1),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        missing = await client.post(
            url, content=update_json(fake, alice, "/aide", 2), headers={"Content-Type": "application/json"}
        )
        await fake.idle()
        assert (forged.status_code, missing.status_code) == (403, 403)
        assert fake.messages_in(alice) == []

        genuine = await client.post(
            url,
            content=update_json(fake, alice, "/aide", 3),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
    assert genuine.status_code == 200
    assert "Je suis le bot des partenariats" in (await fake.next_message(alice)).plain_text


async def test_the_secret_is_compared_in_constant_time(
    fake: FakeTelegram, webhook_bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[set[bytes]] = []
    constant_time = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        compared.append({a, b})
        return constant_time(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)
    alice = fake.add_user("Alice")
    url = f"http://127.0.0.1:{webhook_bot.settings.webhook_port}/telegram"
    async with httpx.AsyncClient() as client:
        forged = await client.post(
            url,
            content=update_json(fake, alice, "/aide", 1),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": "s3cret-for-the-tests-onlX",
            },
        )
    assert forged.status_code == 403
    assert {b"s3cret-for-the-tests-onlX", SECRET.encode()} in compared


def test_a_webhook_needs_a_strong_secret(fake: FakeTelegram, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        settings_for(fake, tmp_path, webhook_url="https://bot.example.org/telegram", webhook_secret="short")
