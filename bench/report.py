"""The table ``python -m bench`` prints: each figure, what it is compared with, its target."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.scene import ROOT


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    compared: str  # the baseline measured in the same run
    target: str
    met: bool | None  # None: informative, no target


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


def table(rows: list[Row]) -> str:
    headers = ("Figure", "Bot", "Compared with (same run)", "Target", "Met")
    cells = [headers] + [
        (row.figure, row.value, row.compared, row.target, "—" if row.met is None else ("yes" if row.met else "NO"))
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
