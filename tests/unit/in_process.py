"""Telegram answering python-telegram-bot in process, for unit tests: nothing on a network."""

from __future__ import annotations

import json
from typing import Any

from telegram.request import BaseRequest, RequestData


class InProcessTelegram(BaseRequest):
    """Answers each Bot API call with what ``answer`` returns for its method and parameters."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *timeouts: object,  # read, write, connect and pool: nothing goes on a network here
        **named_timeouts: object,
    ) -> tuple[int, bytes]:
        return self.answer(url.rsplit("/", 1)[-1], dict(request_data.parameters if request_data else {}))

    def answer(self, endpoint: str, parameters: dict[str, Any]) -> tuple[int, bytes]:
        """The HTTP status and body Telegram answers; by default every call succeeds with True."""
        return ok(True)


def ok(result: object) -> tuple[int, bytes]:
    return 200, json.dumps({"ok": True, "result": result}).encode()
