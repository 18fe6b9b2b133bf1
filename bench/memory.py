"""Memory: peak resident size of a bot process with 100,000 stored requests and 10,000 members mid-flow.

Measured in a fresh process (``python -m bench.memory DATABASE MEMBERS``), so nothing the
other scenarios loaded counts: the bot opens the large register built for the growth figures,
10,000 members each have a request in progress (stored at its fourth question), and each of
them answers one more question through the bot. The process reports its resident size once
started and its peak at the end, from the kernel (``/proc/self/status``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.members import FlowMember, next_input
from bench.scene import (
    FLOW_ID,
    ROOT,
    Updates,
    library,
    private,
    process,
    running_bot,
    settings,
    user,
)
from bot.core.flow_engine import Text
from bot.storage import sessions
from bot.storage.sessions import FlowSession

ANSWERED = 3  # questions each member answered before the measure


@dataclass(frozen=True)
class Memory:
    members: int
    start_mb: float  # resident size once the bot started on the register
    peak_mb: float  # peak resident size after every member answered


def _status_mb(field: str) -> float:
    """A size from /proc/self/status, in MB (VmRSS: now; VmHWM: the peak).

    Not ``getrusage``: Linux carries ``ru_maxrss`` over ``execve``, so a process spawned by a
    large parent (this benchmark) would report the parent's size. VmHWM is this process's own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


async def _run(database: Path, members: int) -> Memory:
    flows = library()
    engine = flows.engine(flows.flows[FLOW_ID].flow)
    updates = Updates()
    async with running_bot(settings(database), flows, keep=False) as (application, _):
        start_mb = _status_mb("VmRSS")
        store = application.bot_data["services"].database
        fillers = []
        for index in range(members):
            member = user(5_000_000 + index, f"Membre {index}")
            filler = FlowMember(member, private(member), engine, f"Asso {index}")
            answered = 0
            # At least ANSWERED answers, then on to a question answered by typing (the measure
            # types it): the flow's steps change with the issues, its first typed one with them.
            while answered < ANSWERED or not isinstance(next_input(engine, filler.state, filler.partner), Text):
                filler.state = engine.advance(
                    filler.state, next_input(engine, filler.state, filler.partner), date.today()
                ).state
                answered += 1
            fillers.append(filler)

        def save_all(connection: sqlite3.Connection) -> None:
            for filler in fillers:
                member = filler.user
                session = FlowSession(
                    chat_id=member["id"],
                    user_id=member["id"],
                    token=sessions.new_token(),
                    origin_chat_id=member["id"],
                    author_name=member["first_name"],
                    state=filler.state,
                )
                sessions.save(connection, session)

        await store.write(save_all)
        for filler in fillers:
            action = next_input(engine, filler.state, filler.partner)
            assert isinstance(action, Text)  # as the loop above left every member
            await process(application, updates.message(filler.user, filler.chat, action.text))
    return Memory(members, start_mb, _status_mb("VmHWM"))


def measure(database: Path, members: int = 10_000) -> Memory:
    """Run the measure in a fresh Python process and read its report."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(database), str(members)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Memory(**json.loads(completed.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(_run(Path(sys.argv[1]), int(sys.argv[2])))
    print(json.dumps(result.__dict__))
