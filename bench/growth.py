"""Growth: the same commands on a small register and on a national one a hundred times larger.

The small database holds one group's 1,000 requests; the large one ten groups of 10,000
(100,000 requests). Every request has its answers and a consent round of ten positions;
adopted ones have a review date. What a member reads stays the same size in both (the first
page, three open rounds and ten recent decisions in /bilan), so any growth in the timings is
the bot's: a scan where an index should answer, a query per row, a page built from
everything. The export is timed per 1,000 rows: its file grows with the register, its cost
per row should not. /partenaires is timed until its first page is sent (its handler returns);
its picture follows, drawn after the warm-up run (the register's first 150 rows, both registers
fill them) and sent as it was kept by the timed runs, the register being unchanged, each waited
for, untimed, before the next run; the drawing is timed alone, for a group of 6, 36 and 150
partners. Every command is timed once the bot's start-up work is done (``scene.quiet``).

The databases are built with a few bulk ``INSERT ... SELECT`` statements after the bot
created the schema: seconds for 100,000 requests, where the bot's own path would take hours.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.members import complete_answers
from bench.offline import JSON
from bench.scene import (
    FLOW_ID,
    Updates,
    group,
    picture_posted,
    process,
    quiet,
    running_bot,
    settings,
    settled,
    user,
)
from bot.core.flow_engine import ChoiceStep
from bot.core.library import Library
from bot.core.picture_layout import PictureEntry, layout
from bot.core.register_rules import Standing
from bot.picture import draw

CIRCLE = 12  # members of each group's circle; ten of them took a position on every round
POSITIONS = 10
OPEN_ROUNDS = 3
RECENT_DECISIONS = 10
FIRST_CHAT = -1_003_000_000_000
ADMIN = user(4_000_000, "Dominique Admin")
COMMANDS = ("/demandes", "/partenaires", "/bilan", "/demande {middle}", "/export")
PICTURE_SENT = 60.0  # seconds /partenaires's picture may take, drawn after the list
PICTURE_PARTNERS = (6, 36, 150)  # a small group, the most a photo holds (40 rows), the most a picture shows


@dataclass(frozen=True)
class Timings:
    requests: int
    group_requests: int
    build_seconds: float
    milliseconds: dict[str, float]  # command -> median handling time

    def export_per_thousand(self) -> float:
        return self.milliseconds["/export"] * 1000 / self.group_requests


def chat_of(index: int) -> int:
    return FIRST_CHAT - index


async def build(library: Library, path: Path, groups: int, per_group: int) -> float:
    """A register of ``groups`` groups of ``per_group`` requests at ``path``; returns seconds taken."""
    start = time.perf_counter()
    async with running_bot(settings(path), library):
        pass  # the bot's own start: migrations, flow versions
    engine = library.engine(library.flows[FLOW_ID].flow)
    answers = complete_answers(engine, "Partenaire")
    fields = engine.flow.partner_fields
    kind_step = engine.flow.step(fields.kind)
    assert isinstance(kind_step, ChoiceStep)
    kinds = [option.value for option in kind_step.options]
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN")
        _fill(connection, groups, per_group, answers, fields.partner, kinds)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return time.perf_counter() - start


def _fill(
    connection: sqlite3.Connection, groups: int, per_group: int, answers: JSON, partner_step: str, kinds: list[str]
) -> None:
    total = groups * per_group
    connection.execute("CREATE TEMP TABLE seq (i INTEGER PRIMARY KEY)")
    connection.execute(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) INSERT INTO seq SELECT i FROM s",
        (total,),
    )
    connection.execute("CREATE TEMP TABLE template (step_id TEXT, value TEXT)")
    connection.executemany(
        "INSERT INTO template VALUES (?, ?)",
        [(step, json.dumps(value, ensure_ascii=False)) for step, value in answers.items()],
    )
    connection.execute("CREATE TEMP TABLE kinds (k INTEGER PRIMARY KEY, value TEXT)")
    connection.executemany("INSERT INTO kinds VALUES (?, ?)", list(enumerate(kinds)))
    connection.execute("CREATE TEMP TABLE circle (k INTEGER PRIMARY KEY)")
    connection.executemany("INSERT INTO circle VALUES (?)", [(k,) for k in range(CIRCLE)])
    for index in range(groups):
        connection.execute(
            "INSERT INTO chats (id, type, title, updated_at) VALUES (?, 'supergroup', ?, ?)",
            (chat_of(index), f"GL national {index}", "2026-01-01T00:00:00+00:00"),
        )
    # A request's place in its group: n = 1 (oldest) .. per_group (newest). The newest three
    # are in consent, the ten before were decided these last days, the others long ago.
    connection.execute(
        f"""
        CREATE TEMP TABLE plan AS
        SELECT i, {FIRST_CHAT} - (i - 1) / {per_group} AS chat_id, (i - 1) % {per_group} + 1 AS n,
               CASE WHEN (i - 1) % {per_group} + 1 > {per_group - OPEN_ROUNDS} THEN 'open'
                    WHEN (i - 1) % {per_group} + 1 > {per_group - OPEN_ROUNDS - RECENT_DECISIONS} THEN 'recent'
                    ELSE 'old' END AS age
        FROM seq
        """
    )
    stamp = "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', ?)"
    connection.execute(
        f"""
        INSERT INTO requests (id, chat_id, number, author_id, author_name, flow_id, flow_version, partner_name,
                              partner_kind, status, card_message_id, created_at, updated_at, decided_at, version,
                              review_planned)
        SELECT p.i, p.chat_id, p.n, {ADMIN["id"]} + p.n % {CIRCLE}, 'Membre ' || (p.n % {CIRCLE}), '{FLOW_ID}', 1,
               'Partenaire ' || (p.i * 7919 % ({per_group} / 2 + 1)), k.value,
               CASE p.age WHEN 'open' THEN 'in_consent'
                          ELSE CASE WHEN p.i % 5 = 0 THEN 'objection' ELSE 'adopted' END END,
               p.n, {stamp}, {stamp},
               CASE p.age WHEN 'open' THEN NULL ELSE {stamp} END, 1,
               CASE WHEN p.age <> 'open' AND p.i % 5 <> 0 THEN 1 ELSE 0 END
        FROM plan p JOIN kinds k ON k.k = p.i % {len(kinds)}
        """,
        ("-60 days", "-60 days", "-30 days"),
    )
    # Spread the dates: old requests over three years, recent decisions over the last ten days.
    connection.execute(
        f"""
        UPDATE requests SET
            created_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now',
                                  '-' || (40 + ({per_group} - number) * 1000 / {per_group}) || ' days'),
            decided_at = CASE WHEN decided_at IS NULL THEN NULL
                              WHEN number > {per_group - OPEN_ROUNDS - RECENT_DECISIONS}
                              THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now',
                                            '-' || ({per_group - OPEN_ROUNDS} - number) || ' days')
                              ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now',
                                            '-' || (33 + ({per_group} - number) * 1000 / {per_group}) || ' days')
                         END
        """
    )
    connection.execute("UPDATE requests SET updated_at = COALESCE(decided_at, created_at)")
    connection.execute(
        """
        INSERT INTO request_answers (request_id, step_id, value)
        SELECT r.id, t.step_id, CASE t.step_id WHEN ? THEN json_quote(r.partner_name) ELSE t.value END
        FROM requests r CROSS JOIN template t
        """,
        (partner_step,),
    )
    connection.execute(
        f"""
        INSERT INTO consent_rounds (id, request_id, request_version, number, chat_id, message_id, opened_by,
                                    opened_by_name, opened_at, deadline_at, quorum_percent, offer_stand_aside,
                                    status, outcome, close_reason, closed_at, published_at)
        SELECT r.id, r.id, 1, 1, r.chat_id, 100000 + r.number, {ADMIN["id"]}, 'Dominique Admin', r.created_at,
               CASE WHEN r.decided_at IS NULL THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', '+5 days')
                    ELSE r.decided_at END,
               50, 1,
               CASE WHEN r.decided_at IS NULL THEN 'open' ELSE 'closed' END,
               CASE WHEN r.decided_at IS NULL THEN NULL ELSE r.status END,
               CASE WHEN r.decided_at IS NULL THEN NULL ELSE 'deadline' END,
               r.decided_at, r.decided_at
        FROM requests r
        """
    )
    connection.execute(
        f"""
        INSERT INTO round_roster (round_id, user_id, name, rank)
        SELECT r.id, {ADMIN["id"]} + c.k, 'Membre ' || c.k, c.k FROM consent_rounds r CROSS JOIN circle c
        """
    )
    connection.execute(
        f"""
        INSERT INTO round_positions (round_id, user_id, position, reason, recorded_at)
        SELECT r.id, {ADMIN["id"]} + c.k,
               CASE WHEN r.outcome = 'objection' AND c.k = 1 THEN 'objection'
                    WHEN c.k = 2 THEN 'reservation' ELSE 'consent' END,
               CASE WHEN r.outcome = 'objection' AND c.k = 1 THEN 'Le partenaire attend trop de bénévolat'
                    WHEN c.k = 2 THEN 'Garder un œil sur la communication' END,
               r.opened_at
        FROM consent_rounds r CROSS JOIN circle c WHERE c.k < {POSITIONS} ORDER BY r.id, c.k
        """
    )
    connection.execute(
        """
        INSERT INTO reviews (request_id, kind, due_on, created_at)
        SELECT id, 'review', date('now', '+' || (30 + id % 300) || ' days'), decided_at
        FROM requests WHERE review_planned = 1
        """
    )
    for index in range(groups):
        connection.executemany(
            "INSERT INTO circle_members (chat_id, user_id, name, added_at) VALUES (?, ?, ?, ?)",
            [(chat_of(index), ADMIN["id"] + k, f"Membre {k}", "2026-01-01T00:00:00+00:00") for k in range(CIRCLE)],
        )
        connection.execute(
            "INSERT INTO coordinators (chat_id, user_id, name, added_at) VALUES (?, ?, ?, ?)",
            (chat_of(index), ADMIN["id"], ADMIN["first_name"], "2026-01-01T00:00:00+00:00"),
        )


async def time_commands(library: Library, path: Path, per_group: int, repeats: int = 15) -> dict[str, float]:
    """Median handling time of each command in the first group, in milliseconds."""
    updates = Updates()
    chat = group(chat_of(0), "GL national 0")
    results: dict[str, float] = {}
    async with running_bot(settings(path), library) as (application, telegram):
        telegram.admins[chat["id"]] = [ADMIN]
        # Timed once the start-up is done: it redraws every open round's proposal (30 in the large
        # register) and reads what the outbox and the cards left to send, on the database's
        # thread the commands share; timed during it, the first command measured the restart.
        await quiet(telegram)
        for template in COMMANDS:
            command = template.format(middle=per_group // 2)
            # The export takes a second or more: three runs say enough.
            runs = 3 if command == "/export" else repeats
            samples = []
            for attempt in range(runs + 1):  # the first one warms the caches up, as any command would
                data = updates.message(ADMIN, chat, command)
                picture = picture_posted(telegram, data)
                start = time.perf_counter()
                await process(application, data)
                if attempt:
                    samples.append(time.perf_counter() - start)
                # Untimed: the picture follows the list; the next run starts once it is sent.
                if await settled(telegram, picture, PICTURE_SENT) is None:
                    raise AssertionError(f"{command} sent no picture within {PICTURE_SENT:.0f} s")
            results[command.split()[0]] = statistics.median(samples) * 1000
    return results


async def measure(library: Library, directory: Path, sizes: tuple[tuple[int, int], ...]) -> list[Timings]:
    """Build each (groups, per group) register under ``directory`` and time the commands on it."""
    timings = []
    for groups, per_group in sizes:
        path = directory / f"register-{groups * per_group}.sqlite3"
        seconds = await build(library, path, groups, per_group)
        commands = await time_commands(library, path, per_group)
        timings.append(Timings(groups * per_group, per_group, seconds, commands))
    return timings


@dataclass(frozen=True)
class PictureTiming:
    partners: int
    rows: int  # kinds and partners drawn (at most 150)
    as_photo: bool  # True: sent as a photo (a JPEG); False: too long for one, sent as the PNG file
    kilobytes: int
    milliseconds: float  # median time to lay the picture out, draw and encode it


def time_picture(library: Library, partners: int, repeats: int = 3) -> PictureTiming:
    """The register's picture for ``partners`` partners of three kinds, every standing, laid out and
    drawn as the bot does in its worker thread (its fonts loaded by a first, untimed drawing)."""
    standings = list(Standing)
    kinds = ("Association", "Entreprise", "Collectivité")
    entries = [
        PictureEntry(
            kind=kinds[n % len(kinds)],
            partner=f"Partenaire {n}",
            status=standings[n % 4].value,
            standing=standings[n % 4],
            start=date(2016 + n % 8, 3, 1),
            end=None if standings[n % 4] is Standing.CURRENT else date(2024, 6, 30),
        )
        for n in range(partners)
    ]
    entries.sort(key=lambda entry: kinds.index(entry.kind))  # grouped by kind, as the register lists them
    texts = library.register.picture
    samples = []
    content = b""
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        plan = layout(entries, texts, group="GL national 0", today=date.today(), partners=partners)
        content = draw(plan)
        if attempt:
            samples.append(time.perf_counter() - start)
    return PictureTiming(
        partners, plan.rows, plan.fits_a_photo, len(content) // 1024, statistics.median(samples) * 1000
    )
