"""A burst: a 200-member circle presses "Je consens" within two seconds on one proposal.

The bot runs with Telegram's budgets as in production (its rate limiter, its redraw interval)
and the offline API plays Telegram's limits: 20 messages a minute in a group, about one edit
a second per message, 30 messages a second overall. Presses arrive on the application's own
update queue at their times, as polling would deliver them; the bot takes them one by one.
Measured: how many times the proposal was edited and how far apart, how long after the last
press the exact final tally was on screen, and how many requests Telegram would have refused.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from telegram import Update
from telegram.ext import Application

from bench.members import complete_answers
from bench.offline import Limits, OfflineTelegram, Sent, plain
from bench.scene import Updates, group, running_bot, settings, user
from bot.core.consent_rules import Member
from bot.core.library import Library
from bot.core.texts import render
from bot.handlers import callback_data
from bot.storage import chats, circles, requests
from bot.storage.circles import Roster

FLOW_ID = "demande_partenariat"
CHAT = group(-1_002_000_000_001, "GL Grande Assemblée")
SETTLE_SECONDS = 12.0  # the longest the final tally may take before the burst counts as failed


@dataclass(frozen=True)
class Burst:
    presses: int
    spread: float  # seconds between the first and the last press
    edits: int
    min_gap: float | None  # shortest time between two edits of the proposal
    final_delay: float | None  # last press -> exact final tally on screen; None: never shown
    refused: int
    refusals: tuple[str, ...]
    stored_consents: int
    failure: str | None = None  # why the burst could not even start


async def _seed(application: Application, telegram: OfflineTelegram, library: Library, members: list[dict]) -> None:
    database = application.bot_data["services"].database
    engine = library.engine(library.flows[FLOW_ID].flow)
    answers = complete_answers(engine, "Alternatiba")
    telegram.admins[CHAT["id"]] = [members[0]]
    telegram.titles[CHAT["id"]] = CHAT["title"]
    await chats.remember(database, CHAT["id"], "supergroup", CHAT["title"])

    def seed(connection: sqlite3.Connection) -> None:
        for member in members:
            circles.add(connection, Roster.CIRCLE, CHAT["id"], Member(member["id"], member["first_name"]))
        circles.add(connection, Roster.COORDINATION, CHAT["id"], Member(members[0]["id"], members[0]["first_name"]))
        requests.create(
            connection,
            chat_id=CHAT["id"],
            author_id=members[0]["id"],
            author_name=members[0]["first_name"],
            flow_id=FLOW_ID,
            flow_version=1,
            partner_name="Alternatiba",
            partner_kind=answers[engine.flow.partner_fields.kind],
            answers=answers,
        )

    await database.write(seed)


async def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def _proposal(telegram: OfflineTelegram) -> Sent | None:
    for sent in telegram.by_chat[CHAT["id"]]:
        if any(isinstance(callback_data.decode(data), callback_data.ConsentPress) for data in sent.callback_data()):
            return sent
    return None


async def measure(library: Library, presses: int = 200, spread: float = 2.0) -> Burst:
    """Open a round on a circle of ``presses`` members, then have all of them consent within ``spread``."""
    members = [user(3_000_000 + n, f"Camille Dupont-{n:03d}") for n in range(presses)]
    updates = Updates()
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as scratch:
        bot_settings = settings(
            Path(scratch) / "burst.sqlite3",
            rate_limit_overall_per_second=30,
            rate_limit_group_per_minute=20,
            rate_limit_max_retries=3,
        )
        async with running_bot(bot_settings, library, limits=Limits()) as (application, telegram):
            await _seed(application, telegram, library, members)
            interval = bot_settings.consent_edit_interval_seconds
            await application.update_queue.put(
                Update.de_json(updates.message(members[0], CHAT, "/consentement 1"), application.bot)
            )
            if not await _until(lambda: _proposal(telegram) is not None, 10):
                reasons = tuple(sorted({f"{r.method}: {r.reason}" for r in telegram.refused}))
                return Burst(
                    presses,
                    spread,
                    0,
                    None,
                    None,
                    len(telegram.refused),
                    reasons,
                    0,
                    failure="the round's proposal was never posted",
                )
            proposal = _proposal(telegram)
            # The round has been open a while when the circle rushes in: the first press redraws at once.
            await asyncio.sleep(interval)
            consent = next(
                d
                for d in proposal.callback_data()
                if isinstance(p := callback_data.decode(d), callback_data.ConsentPress) and p.action == "consent"
            )
            start = time.monotonic()
            for index, member in enumerate(members):
                await asyncio.sleep(max(0.0, start + spread * index / max(1, presses - 1) - time.monotonic()))
                last_press = time.monotonic()
                await application.update_queue.put(
                    Update.de_json(updates.press(member, proposal, consent), application.bot)
                )
            tally = plain(render(library.consent.round.tally_intro, answered=presses, counted=presses))
            shown = await _until(lambda: tally in plain(proposal.text), SETTLE_SECONDS)
            # The first edit that shows the final tally, not a later one.
            final_delay = (
                next(at for at, text in proposal.edits if tally in plain(text)) - last_press if shown else None
            )
            await asyncio.sleep(1.0)  # whatever the bot still sends after the tally (outcome, summary)
            database = application.bot_data["services"].database
            stored = await database.fetch_all(
                "SELECT p.position FROM round_positions p WHERE p.id IN"
                " (SELECT MAX(id) FROM round_positions GROUP BY round_id, user_id)"
            )
    gaps = [later - earlier for (earlier, _), (later, _) in zip(proposal.edits, proposal.edits[1:], strict=False)]
    return Burst(
        presses=presses,
        spread=spread,
        edits=len(proposal.edits),
        min_gap=min(gaps) if gaps else None,
        final_delay=final_delay,
        refused=len(telegram.refused),
        refusals=tuple(sorted({f"{r.method}: {r.reason}" for r in telegram.refused})),
        stored_consents=sum(1 for row in stored if row["position"] == "consent"),
    )
