"""Start-up: from starting ``python -m bot`` to its first getUpdates, against the tests' fake server.

The fake Bot API server of the tests (``tests/fake_telegram``) runs in this process on
127.0.0.1; the bot runs as it is deployed, a fresh Python process reading its settings from
the environment. The clock starts just before the process is spawned and stops when the
server sees the first ``getUpdates``: imports, settings, YAML files, database and migrations,
``getMe``, the command menus. The same is measured for ``bench.bare_bot``, a bare
python-telegram-bot application, to show the floor; each start runs a few times.

Both start from compiled bytecode, as the bot is deployed (the Dockerfile compiles it, a
virtualenv caches it at the first start). Where ``PYTHONDONTWRITEBYTECODE`` is set, Python
never caches the bytecode of the bot's own modules while the bare application imports only
installed packages, compiled when they were installed: the bot would be measured compiling
its ~80 modules at every start (0.1-0.2 s), which no deployed start does.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.scene import CONVERSATIONS, ROOT
from tests.fake_telegram import FakeTelegram

# Starts of each, in turn. Other work on the machine (two cores shared with whatever else runs)
# moves a single start by tenths of a second: with three, the ratio of the medians went from
# 1.35 to 1.97 between two runs a minute apart on unchanged code, one slow start deciding it.
RUNS = 7


@dataclass(frozen=True)
class Startup:
    runs: int
    first: float  # seconds, fresh database (migrations run)
    median: float  # seconds, every start
    bare_median: float


async def _start_once(fake: FakeTelegram, module: str, database: Path) -> float:
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
        "TELEGRAM_BASE_FILE_URL": fake.base_file_url,
        "DATABASE_PATH": str(database),
        "FLOWS_DIR": str(CONVERSATIONS),
        "LOG_LEVEL": "WARNING",
        "POLLING_TIMEOUT": "1",
    }
    polls = fake.poll_count
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        while fake.poll_count == polls:
            if process.returncode is not None:
                said = await process.stderr.read() if process.stderr else b""
                raise RuntimeError(f"python -m {module} stopped: {said.decode()}")
            await asyncio.sleep(0.002)
        return time.perf_counter() - start
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # PTB stops polling and shuts down cleanly
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def measure(runs: int = RUNS) -> Startup:
    for package in ("bot", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        async with FakeTelegram() as fake:
            database = Path(scratch) / "startup.sqlite3"
            bot, bare = [], []
            for _ in range(runs):  # in turn: a change of the machine's load weighs on both alike
                bot.append(await _start_once(fake, "bot", database))
                bare.append(await _start_once(fake, "bench.bare_bot", database))
    return Startup(runs, bot[0], statistics.median(bot), statistics.median(bare))
