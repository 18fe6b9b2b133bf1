"""Fake Telegram Bot API server for integration tests (see ``server.py``)."""

from .html_parser import HtmlParseError, parse_html
from .server import BotMessage, FakeApiError, FakeChat, FakeTelegram, FakeTopic, FakeUser

__all__ = [
    "BotMessage",
    "FakeApiError",
    "FakeChat",
    "FakeTelegram",
    "FakeTopic",
    "FakeUser",
    "HtmlParseError",
    "parse_html",
]
