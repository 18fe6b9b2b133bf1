"""The table ``python -m bench`` prints: each figure, what it is compared with, its target."""

from __future__ import annotations

import os
import platform
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.scene import ROOT


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    compared: str  # the baseline measured in the same run
    target: str
    met: bool | None  # None: informative, no target


@dataclass(frozen=True)
class Section:
    """A scenario's rows in the table, and what is printed under it (tables, profiles)."""

    rows: list[Row]
    details: list[str] = field(default_factory=list)


def machine() -> str:
    """Where the figures come from: cores, CPU model, Python, commit."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(encoding="utf-8").splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "bot"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    head = commit.stdout.strip() or "?"
    return (
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {model}, "
        f"Python {platform.python_version()}, commit {head}{' + local changes' if dirty.stdout else ''}"
    )


def verdict(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "NOT met")


def table(rows: list[Row]) -> str:
    headers = ("Figure", "Bot", "Compared with (same run)", "Target", "Met")
    return grid(headers, [(row.figure, row.value, row.compared, row.target, verdict(row.met)) for row in rows])


def grid(headers: tuple[str, ...], lines: Sequence[tuple[str, ...]]) -> str:
    """Columns as wide as their widest cell, under their headers."""
    cells = [headers, *lines]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


TRIPS_TASK = ("_Trips", "_run")  # one task runs every trip, each caller awaiting its own result
TRIPS = "aiosqlite's thread, a trip awaited (SQL, the commit's fsync; the callers' reads and writes)"


def heaviest(root: Any, top: int = 6) -> list[tuple[str, float]]:
    """Where a pyinstrument profile's time went, by the bot's function it ran for: each frame's
    own time goes to the innermost function of ``bot/`` above it (a picture drawn,
    python-telegram-bot's work for a handler), the event loop's wait for something to run (its
    ``select``) to itself, the rest to « outside the bot ». A wait on
    aiosqlite's thread (``bot/storage/db.py``) is told as its caller's: « open > read »; the
    task that runs the trips (``_Trips._run``, awaiting the thread for whoever asked) as such."""
    owners: Counter[str] = Counter()
    pending: list[tuple[Any, str, bool]] = [(root, "outside the bot (python-telegram-bot, asyncio)", False)]
    while pending:
        frame, owner, in_bot = pending.pop()
        path = frame.file_path or ""
        if frame.function == "select" and path.endswith("selectors.py"):
            owner = "the event loop waiting (nothing to run)"
        elif (frame.class_name, frame.function) == TRIPS_TASK and path.endswith("bot/storage/db.py"):
            owner = TRIPS
        elif "/bot/" in path and "/site-packages/" not in path:
            if path.endswith("bot/storage/db.py") and in_bot:
                owner = f"{owner.split(' (')[0]} > {frame.function} ({frame.file_path_short}:{frame.line_no})"
            else:
                owner = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
            in_bot = not path.endswith("bot/storage/db.py")
        owners[owner] += frame.total_self_time
        pending += [(child, owner, in_bot) for child in frame.children if not child.is_synthetic]
    total = sum(owners.values()) or 1.0
    return [(owner, seconds / total) for owner, seconds in owners.most_common(top)]
