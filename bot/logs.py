"""Logging set-up that never writes the bot token.

python-telegram-bot's HTTP client (httpx) logs every request URL at INFO, and the token is
part of those URLs; network exceptions may carry them too. httpx is quieted, and a filter on
every handler rewrites any record that still contains a secret, traceback included. An
exception that ends the process is printed by ``sys.excepthook``, not by logging (Telegram's
InvalidToken holds the token in its message): that hook redacts too.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

REDACTED = "[secret]"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def format_exception(self, kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> str:
        return self.redact("".join(traceback.format_exception(kind, error, trace)))

    def print_uncaught(self, kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        """``sys.excepthook``: the traceback of an exception that ends the process, redacted."""
        sys.stderr.write(self.format_exception(kind, error, trace))

    def print_uncaught_in_thread(self, uncaught: threading.ExceptHookArgs) -> None:
        if uncaught.exc_type is not SystemExit and uncaught.exc_value is not None:
            sys.stderr.write(f"Exception in thread {uncaught.thread.name if uncaught.thread else '?'}:\n")
            self.print_uncaught(uncaught.exc_type, uncaught.exc_value, uncaught.exc_traceback)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.format_exception(*record.exc_info).rstrip()
            record.exc_info = None
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    redact = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    sys.excepthook = redact.print_uncaught
    threading.excepthook = redact.print_uncaught_in_thread
