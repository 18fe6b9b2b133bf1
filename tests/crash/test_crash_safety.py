"""Crashes lose nothing: ``python -m bot`` killed with SIGKILL again and again, mid-conversation.

Members file requests in the group and in private while the core circle takes positions on
one of them (and changes them, with reasons); the bot process is killed at random moments
and restarted each time. The fake Bot API server keeps running and keeps the updates the bot
did not confirm, so Telegram's redelivery happens as it would for real.

After every kill, the database file must hold every answer and position the bot had
acknowledged (the member saw the next question, the button's answer, their position on the
proposal), each once and in order. At the end every member finished what they started, and
the round's tally is what the members did.

    CRASH_SEED=123 python -m pytest tests/crash -q      # replay a run (its seed is printed)
    CRASH_KILLS=200 python -m pytest tests/crash -q     # a longer run (default: 24 kills)
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from tests.crash.members import CircleMember, Filler, Member, Steward
from tests.crash.process import BotProcess
from tests.fake_telegram import FakeChat, FakeTelegram, FakeUser
from tests.integration.circle_scene import CONSENT_BUTTON, OBJECTION_BUTTON, RESERVATION_BUTTON, STAND_ASIDE_BUTTON
from tests.integration.conversation import COMPANY_REQUEST, ONE_OFF_REQUEST

KILLS = int(os.environ.get("CRASH_KILLS", "24"))
CONSENT, RESERVATION, OBJECTION, STAND_ASIDE = (
    CONSENT_BUTTON,
    RESERVATION_BUTTON,
    OBJECTION_BUTTON,
    STAND_ASIDE_BUTTON,
)
# The bot is quiet (everything fetched, no call in flight) for this long: it is done.
QUIET = 0.15
# When the first kill after an action falls: see the loop.
MOMENTS = ("call", "call", "write", "write", "delay")


def partner(replies: list[str], name: str) -> list[str]:
    return [name, *replies[1:]]


async def settle(fake: FakeTelegram) -> None:
    await fake.idle(quiet=QUIET, timeout=30)


async def register_circle(fake: FakeTelegram, group: FakeChat, admin: FakeUser, circle: list[FakeUser]) -> None:
    """The group's admin names the core circle, replying /cercle ajouter to each member."""
    for member in circle:
        said = fake.send(member, group, f"Bonjour, c'est {member.first_name}")
        fake.send(admin, group, "/cercle ajouter", reply_to=said)
        while "rejoint le cercle cœur" not in (await fake.next_message(group)).plain_text:
            pass


def check_database(path: Path, members: list[Member]) -> None:
    """Every acknowledged answer and position is in the file, once each."""
    with closing(sqlite3.connect(path)) as database:
        for member in members:
            member.check(database)


async def test_killing_the_bot_at_random_moments_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
    replay = f"replay with CRASH_SEED={seed} CRASH_KILLS={KILLS}"
    print(f"crash test: {replay}")
    began = time.monotonic()
    async with FakeTelegram() as fake:
        ana = fake.add_user("Ana")
        bea, cal, dan, eve, fil, gus, hugo = (
            fake.add_user(name) for name in ("Bea", "Cal", "Dan", "Eve", "Fil", "Gus", "Hugo")
        )
        group = fake.add_group("GL Crash-sur-Gardon", [bea, cal, dan, eve, fil, gus, hugo], creator=ana)
        bot = BotProcess(fake, tmp_path, CONSENT_EDIT_INTERVAL_SECONDS="0.05")
        await bot.start()
        try:
            await bot.ready()
            await register_circle(fake, group, ana, [dan, eve, fil, gus, hugo])

            # Bea's and Cal's requests are filled in the group, Dan's and Eve's in private.
            bea_files = Filler(fake, group, bea, partner(ONE_OFF_REQUEST, "Alternatiba Gard"), private=False)
            fillers = [
                bea_files,
                Filler(fake, group, cal, COMPANY_REQUEST, private=False),
                Filler(fake, group, dan, partner(COMPANY_REQUEST, "Brasserie du Vidourle"), private=True),
                Filler(fake, group, eve, partner(ONE_OFF_REQUEST, "Collectif <Transition> Alès"), private=True),
            ]
            # The circle decides on Bea's request; Hugo answers last, which closes the round.
            circle = [
                CircleMember(
                    fake, group, dan, [(CONSENT, None), (OBJECTION, "Personne n'est libre ce jour-là"), (CONSENT, None)]
                ),
                CircleMember(
                    fake,
                    group,
                    eve,
                    [
                        (OBJECTION, "Le groupe n'a pas de stand prévu"),
                        (RESERVATION, "Attention à co-signer les affiches"),
                    ],
                ),
                CircleMember(
                    fake,
                    group,
                    fil,
                    [(STAND_ASIDE, None), (CONSENT, None), (OBJECTION, "La date tombe sur la fête des possibles")],
                    opens=bea_files,
                ),
                CircleMember(
                    fake,
                    group,
                    gus,
                    [(RESERVATION, "À condition d'en reparler au bilan"), (STAND_ASIDE, None), (CONSENT, None)],
                ),
            ]
            # Meanwhile Ana, the group's admin, gives the circle two more days.
            ana_extends = Steward(fake, group, ana, days=2)
            circle.append(CircleMember(fake, group, hugo, [(CONSENT, None)], after=(*circle, ana_extends)))
            members: list[Member] = [*fillers, *circle, ana_extends]

            # Kills fall after chosen actions, the first some milliseconds later (mid-update),
            # the next ones while the restarted bot starts up. Drawn from the seed alone.
            nominal = sum(member.minimum_actions for member in members)
            kills_rng, order_rng = random.Random(f"{seed}:kills"), random.Random(f"{seed}:order")
            kill_at = Counter(kills_rng.randrange(nominal) for _ in range(KILLS))
            moments = [
                (
                    kills_rng.choice(MOMENTS),
                    kills_rng.randint(1, 3),
                    kills_rng.uniform(0, 0.02),
                    kills_rng.uniform(0.2, 1.2),
                )
                for _ in range(KILLS)
            ]
            actions = kills = 0
            for _turn in range(nominal * 4):
                if all(member.done for member in members):
                    break
                ready = [member for member in members if member.ready()]
                assert ready, f"nobody can go on: {members} ({replay})"
                acting = order_rng.sample(ready, min(len(ready), order_rng.choice((1, 1, 2, 3))))
                due = 0
                for member in acting:
                    member.act()
                    due += kill_at[actions]
                    actions += 1
                for repeat in range(due):
                    moment, nth, mid_update, during_start = moments[kills]
                    if repeat > 0:  # killed again while it starts up
                        await asyncio.sleep(during_start)
                        await bot.kill()
                    elif moment == "call":  # as Telegram receives the bot's n-th call
                        bot.kill_at_call(nth)
                        await bot.killed(timeout=0.5)
                    elif moment == "write":  # in or right after the bot's n-th write to the database
                        await bot.kill_at_write(nth, timeout=0.5)
                    else:  # some milliseconds after the members acted
                        await asyncio.sleep(mid_update)
                        await bot.kill()
                    kills += 1
                    for member in members:
                        member.observe()
                    check_database(bot.database, members)
                    await bot.start()
                if due:
                    await bot.ready()
                await settle(fake)
                for member in members:
                    member.observe()
                    member.conclude()
            else:
                raise AssertionError(f"the scenario did not end in {nominal * 4} turns: {members} ({replay})")

            assert await bot.stop() == 0, bot.tail()
        finally:
            if bot.process.returncode is None:
                await bot.kill()
            print(f"bot log (last lines):\n{bot.tail(30)}")

        check_database(bot.database, members)
        with closing(sqlite3.connect(bot.database)) as database:
            assert database.execute("SELECT COUNT(*) FROM flow_sessions").fetchone() == (0,)
            assert database.execute(
                "SELECT r.status, r.outcome, q.partner_name, q.status FROM consent_rounds r"
                " JOIN requests q ON q.id = r.request_id"
            ).fetchall() == [("closed", "objection", "Alternatiba Gard", "objection")]
            final = database.execute(
                "SELECT user_id, position FROM round_positions p WHERE id = ("
                " SELECT MAX(id) FROM round_positions WHERE user_id = p.user_id)"
            ).fetchall()
        assert Counter(position for _, position in final) == {"consent": 3, "reservation": 1, "objection": 1}
        assert dict(final) == {
            dan.id: "consent",
            eve.id: "reservation",
            fil.id: "objection",
            gus.id: "consent",
            hugo.id: "consent",
        }

    elapsed = time.monotonic() - began
    acknowledged = sum(member.acknowledged for member in members)
    print(
        f"crash test: {kills} kills survived, {len(fake.updates)} updates driven, "
        f"{sum(member.actions for member in members)} member actions ({acknowledged} acknowledged), "
        f"{bot.starts} starts, {elapsed:.1f} s ({replay})"
    )
    assert kills == KILLS
