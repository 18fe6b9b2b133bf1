"""``python -m bot`` as a real process, talking to the tests' fake Bot API on 127.0.0.1.

The fake server runs in the test's event loop, so the process is driven with asyncio's
subprocesses: the loop keeps serving the bot while a test waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from tests.fake_telegram import FakeTelegram
from tests.integration.conftest import CONVERSATIONS

ROOT = CONVERSATIONS.parent
SETTINGS = {name.upper() for name in Settings.model_fields}


def bot_environment(**settings: str) -> dict[str, str]:
    """The environment of a ``python -m bot`` process run in a scratch directory (no ``.env``):
    these settings only, none of the developer's machine."""
    inherited = {key: value for key, value in os.environ.items() if key.upper() not in SETTINGS}
    return inherited | {"PYTHONPATH": str(ROOT), "FLOWS_DIR": str(CONVERSATIONS), **settings}


class BotProcess:
    """The bot process: started, killed with SIGKILL or stopped like systemd would."""

    def __init__(self, fake: FakeTelegram, workdir: Path, **settings: str) -> None:
        self.fake = fake
        self.workdir = workdir
        self.database = workdir / "bot.sqlite3"
        self.log = workdir / "bot.log"
        self.environment = bot_environment(
            TELEGRAM_BOT_TOKEN=fake.token,
            TELEGRAM_BASE_URL=fake.base_url,
            TELEGRAM_BASE_FILE_URL=fake.base_file_url,
            DATABASE_PATH=str(self.database),
            RATE_LIMIT_OVERALL_PER_SECOND="0",
            RATE_LIMIT_GROUP_PER_MINUTE="0",
            RATE_LIMIT_MAX_RETRIES="0",
            POLLING_TIMEOUT="1",
            **settings,
        )
        self._process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The latest process started."""
        if self._process is None:
            raise RuntimeError("the bot was never started")
        return self._process

    async def start(self) -> None:
        """Launch the process; ``ready`` waits until it polls."""
        self.polls_before = self.fake.poll_count
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"===== start {self.starts + 1} =====\n")
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=self.workdir,
                env=self.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1

    async def ready(self, timeout: float = 30) -> None:
        """Wait until the process asks Telegram for updates (its start-up is over)."""

        async def polling() -> None:
            while self.fake.poll_count == self.polls_before:
                if self.process.returncode is not None:
                    raise AssertionError(f"the bot exited with {self.process.returncode}:\n{self.tail()}")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(polling(), timeout)

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the host dies or the OOM killer strikes."""
        self.fake.on_call = None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def kill_at_call(self, calls: int) -> None:
        """Arm a SIGKILL for the moment Telegram receives the bot's ``calls``-th next call,
        before it is answered: the member sees it, the bot never learns it was done."""
        counter = itertools.count(1)

        def on_call(method: str, parameters: dict[str, Any]) -> None:
            if next(counter) == calls:
                self.fake.on_call = None
                self.process.send_signal(signal.SIGKILL)

        self.fake.on_call = on_call

    async def kill_at_write(self, writes: int, timeout: float) -> None:
        """SIGKILL as soon as the bot has written ``writes`` times to the database's WAL: in the
        middle of a commit or just after it, before the bot tells anyone."""
        wal = self.database.with_name(f"{self.database.name}-wal")

        def stamp() -> tuple[int, int] | None:
            try:
                status = wal.stat()
            except FileNotFoundError:
                return None
            return status.st_mtime_ns, status.st_size

        last, seen = stamp(), 0
        deadline = asyncio.get_running_loop().time() + timeout
        while seen < writes and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0)  # let the fake server answer the bot meanwhile
            now = stamp()
            seen, last = seen + (now != last), now
        await self.kill()

    async def killed(self, timeout: float) -> None:
        """Wait for an armed kill; kill now if the bot made fewer calls than that by then."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.process.wait()), timeout)
        await self.kill()

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd or Docker stop the bot, and wait for the exit code."""
        process = self._process
        if process is None:
            return 0
        if process.returncode is not None:
            return process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(f"the bot did not stop on SIGTERM:\n{self.tail()}") from None

    def tail(self, lines: int = 60) -> str:
        """The end of the bot's log, for failure messages."""
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
