"""Fake Telegram Bot API server for integration tests (see ``server.py``)."""

from .html_parser import HtmlParseError, parse_html
from .server import (
    BotMessage,
    FakeApiError,
    FakeChat,
    FakeTelegram,
    FakeTopic,
    FakeUser,
    SavedMessages,
    as_read,
)

__all__ = [
    "BotMessage",
    "FakeApiError",
    "FakeChat",
    "FakeTelegram",
    "FakeTopic",
    "FakeUser",
    "HtmlParseError",
    "SavedMessages",
    "as_read",
    "parse_html",
]
