"""Parsing an uploaded flow file away from the event loop, in a process with a time limit.

Any group admin can upload a file (256 KiB at most), and ruamel's pure-Python parser can take
seconds on a hostile one: on the event loop every other chat would wait. A thread cannot be
stopped once it runs over its time, a process can: the parse runs in a child process, which
is killed when it takes longer than ``FLOW_UPLOAD_PARSE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection
from typing import Any, cast

from bot.core.flow_engine import Flow
from bot.core.library import Library, read_flow
from bot.core.loading import InvalidFile, ValidationTexts
from bot.core.messages import Messages

# A fresh child forked from a small server process: not from the bot, whose threads (SQLite,
# HTTP) a fork would copy in whatever state they are.
_PROCESSES = multiprocessing.get_context("forkserver")
# Each child starts with the parser imported: YAML's included, which bot.core.loading imports
# only when it first reads a file (a start with the library cached reads none).
_PROCESSES.set_forkserver_preload(["bot.parsing", "ruamel.yaml"])


class ParseTooSlow(Exception):
    """The file took longer than its time limit to parse (or its parser died): not installed."""


def _parse(
    answer: Connection,
    text: bytes,
    file: str,
    validation: ValidationTexts,
    messages: Messages,
    context: dict[str, Any] | None,
) -> None:
    """In the child: parse and send back the flow, or the errors found."""
    try:
        answer.send((read_flow(text, file, validation, messages, context), None))
    except InvalidFile as invalid:
        answer.send((None, invalid.errors))
    finally:
        answer.close()


async def parse_flow(library: Library, text: bytes, file: str, seconds: float) -> Flow:
    """``library.parse_flow``, in a child process given ``seconds`` at most."""
    receiver, sender = _PROCESSES.Pipe(duplex=False)
    child = _PROCESSES.Process(
        target=_parse,
        args=(sender, text, file, library.validation, library.messages, library.flow_context()),
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        if not await asyncio.to_thread(receiver.poll, seconds):
            raise ParseTooSlow(file)
        flow, errors = receiver.recv()
    except EOFError:  # the child died without an answer
        raise ParseTooSlow(file) from None
    finally:
        if child.is_alive():
            child.kill()
        await asyncio.to_thread(child.join)
        receiver.close()
    if errors is not None:
        raise InvalidFile(errors, library.validation)
    return cast(Flow, flow)  # what _parse sends when it sends no errors
