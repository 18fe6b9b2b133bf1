"""Run the benchmark: ``python -m bench`` (every scenario, under three minutes on two cores).

python -m bench                        every figure, in one table
python -m bench --only throughput,burst
python -m bench --profile throughput   also write a pyinstrument profile (pip install -e ".[bench]")
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Literal

from bench import burst, growth, memory, startup, throughput
from bench.report import Row, Section, grid, heaviest, machine, table
from bench.scene import library
from bot.core.library import Library

SCENARIOS = ("throughput", "burst", "growth", "memory", "startup")
LARGE = (10, 10_000)  # ten groups of 10,000 requests: 100,000
SMALL = (1, 1_000)
PROFILED = (20, 2_000)  # groups and updates of the throughput mix run again under pyinstrument
PROFILED_DEPLOYED = (200, 4_000)  # the same, as deployed: the groups at once
THROUGHPUT_TARGET = 0.25  # of the bare echo's updates per second, as deployed
LATENCY_TARGET = 0.005  # seconds, the p99 of one update at a time


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def _throughput(flows: Library, directory: Path) -> Section:
    bot, bare, floor = await throughput.measure(flows)
    deployed = await throughput.measure_deployed(flows)
    ratio, to_floor = bot.per_second / bare.per_second, bot.per_second / floor.per_second
    shares = " / ".join(f"{bot.mix[kind] * 100 / bot.updates:.0f} % {kind}" for kind in ("flow", "consent", "command"))
    percentiles = (0.50, 0.95, 0.99)
    stored = bot.stored

    def asked(command: str) -> int:
        return bot.round_trips.get(command, (0, 0))[0]

    rows = [
        Row(
            f"1. Throughput, {bot.updates:,} updates ({shares}), one at a time, updates/s",
            f"{bot.per_second:,.0f}",
            f"bare PTB echo: {bare.per_second:,.0f}/s",
            "—",
            None,
        ),
        Row("1. Throughput ratio, bot / bare", f"{ratio:.3f}", "1.000", "judged as deployed", None),
        Row(
            "1. Throughput ratio, bot / floor (bare echo + one INSERT and COMMIT per update)",
            f"{to_floor:.3f}",
            f"floor: {floor.per_second:,.0f}/s, {floor.per_second / bare.per_second:.3f} of bare",
            "—",
            None,
        ),
        *_deployed_rows(*deployed),
        Row(
            "1. Rare features in the mix: outcomes sent / register pictures / calendars (.ics in private)",
            f"{stored['outcomes_sent']:,} / {bot.files[throughput.PICTURE]:,} / {bot.files[throughput.CALENDAR]:,}",
            f"rounds closed: {stored['closed_rounds']:,}; /partenaires: {asked('/partenaires'):,}; "
            f"/calendrier: {asked('/calendrier'):,}",
            "one each",
            stored["outcomes_sent"] == stored["closed_rounds"]
            and bot.files[throughput.PICTURE] == asked("/partenaires")
            and bot.files[throughput.CALENDAR] == asked("/calendrier"),
        ),
        Row(
            "2. Latency of one update, commit included, one at a time, p50 / p95 / p99 ms",
            " / ".join(_ms(bot.percentile(q)) for q in percentiles),
            "bare: " + " / ".join(_ms(bare.percentile(q)) for q in percentiles),
            "p99 < 5 ms",
            bot.percentile(0.99) < LATENCY_TARGET,
        ),
        Row(
            "2. Latency of the rare features, median ms: /partenaires (its list; the picture follows) / closing "
            "press (publishes the outcome) / /calendrier",
            " / ".join(
                "—" if (median := bot.median_of(label)) is None else _ms(median)
                for label in ("/partenaires", throughput.CLOSING_PRESS, "/calendrier")
            ),
            "consent (press): " + ("—" if (press := bot.median_of("consent (press)")) is None else _ms(press)),
            "—",
            None,
        ),
        Row(
            "2. /partenaires -> its register picture on screen (drawn once the list is sent), median / max ms",
            f"{_ms(delays[len(delays) // 2])} / {_ms(delays[-1])}" if (delays := sorted(bot.picture_delays)) else "—",
            f"{len(delays):,} pictures; the list: "
            + ("—" if (page := bot.median_of("/partenaires")) is None else f"{_ms(page)} ms"),
            "—",
            None,
        ),
        Row(
            "2. The slowest 1 % of updates, by kind",
            ", ".join(f"{label} {count}" for label, count in bot.slowest(0.01).most_common(4)),
            f"{max(1, bot.updates // 100):,} updates",
            "—",
            None,
        ),
    ]
    details = [_per_kind(bot)]
    slow = deployed[0].per_second < THROUGHPUT_TARGET * deployed[1].per_second
    late = bot.percentile(0.99) >= LATENCY_TARGET
    if slow or late:
        details.append(await _where_the_time_goes(flows, directory, deployed=slow, latency=late))
    return Section(rows, details)


def _spread(run: throughput.Deployed) -> str:
    """The runs a replayed rate adds up, slowest and fastest."""
    if len(run.rates) < 2:
        return ""
    return f" ({len(run.rates)} runs in all, {min(run.rates):,.0f} to {max(run.rates):,.0f}/s)"


def _deployed_rows(bot: throughput.Deployed, bare: throughput.Deployed, floor: throughput.Deployed) -> list[Row]:
    """The throughput as the bot runs in production, every group's updates in order and the
    groups at once: the figure the target is judged on."""
    at_once = f"as deployed ({bot.in_flight} chats at once)"
    ratio, to_floor = bot.per_second / bare.per_second, bot.per_second / floor.per_second
    stored = bot.stored
    return [
        Row(
            f"1. Throughput {at_once}, {bot.updates:,} updates, updates/s",
            f"{bot.per_second:,.0f}",
            f"bare PTB echo: {bare.per_second:,.0f}/s{_spread(bare)}",
            "—",
            None,
        ),
        Row(
            f"1. Throughput ratio {at_once}, bot / bare",
            f"{ratio:.3f}",
            "1.000",
            f">= {THROUGHPUT_TARGET} (judged here: production runs chats at once)",
            ratio >= THROUGHPUT_TARGET,
        ),
        Row(
            f"1. Throughput ratio {at_once}, bot / floor",
            f"{to_floor:.3f}",
            f"floor: {floor.per_second:,.0f}/s{_spread(floor)}, {floor.per_second / bare.per_second:.3f} of bare",
            "—",
            None,
        ),
        Row(
            f"1. {at_once.capitalize()}: round trips / commits per update; units of work per group commit",
            f"{bot.round_trips / bot.updates:.1f} / {bot.commits / bot.updates:.2f}; "
            f"{bot.writes / max(1, bot.commits):.2f}",
            f"floor: {floor.commits / floor.updates:.2f} commits per update",
            "—",
            None,
        ),
        *_cpu_rows(at_once, bot, bare, floor),
        Row(
            f"1. {at_once.capitalize()}: /consentement -> its proposal on screen (the outbox), median / max s",
            f"{waits[len(waits) // 2]:.2f} / {waits[-1]:.2f}" if (waits := sorted(bot.proposal_waits)) else "—",
            f"{len(waits):,} rounds opened; groups stopped, a proposal missing after {throughput.SETTLED:.0f} s: "
            f"{bot.stuck}",
            f"every proposal within {throughput.SETTLED:.0f} s",
            bot.stuck == 0,
        ),
        Row(
            f"1. {at_once.capitalize()}: positions / outcomes sent / register pictures / calendars",
            f"{stored['round_positions']:,} / {stored['outcomes_sent']:,} / {bot.files[throughput.PICTURE]:,} / "
            f"{bot.files[throughput.CALENDAR]:,}",
            f"presses: {bot.mix['consent']:,}; rounds closed: {stored['closed_rounds']:,}; "
            f"/partenaires: {bot.labels['/partenaires']:,}; /calendrier: {bot.labels['/calendrier']:,}",
            "one each",
            stored["round_positions"] == bot.mix["consent"]
            and stored["outcomes_sent"] == stored["closed_rounds"]
            and bot.files[throughput.PICTURE] == bot.labels["/partenaires"]
            and bot.files[throughput.CALENDAR] == bot.labels["/calendrier"],
        ),
    ]


def _cpu_rows(
    at_once: str, bot: throughput.Deployed, bare: throughput.Deployed, floor: throughput.Deployed
) -> list[Row]:
    """Where the deployed throughput is bounded: the CPU each update costs on the event loop's
    thread, which runs every handler one at a time however many chats are at once, and the Bot
    API calls each makes (python-telegram-bot's work, and the offline Telegram's, per call)."""
    if bot.cpu is None or bare.cpu is None or floor.cpu is None:
        return []

    def per_update(run: throughput.Deployed) -> str:
        assert run.cpu is not None
        return f"{_ms(run.cpu.loop / run.updates)} / {_ms(run.cpu.process / run.updates)}"

    return [
        Row(
            f"1. {at_once.capitalize()}: CPU per update, ms: the event loop's thread / the whole process",
            per_update(bot),
            f"bare: {per_update(bare)}; floor: {per_update(floor)}",
            "—",
            None,
        ),
        Row(
            f"1. {at_once.capitalize()}: the event loop's thread computing, share of the run; Bot API calls per update",
            f"{bot.cpu.loop_busy * 100:.0f} %; {bot.api_calls / bot.updates:.2f}",
            f"bare: {bare.cpu.loop_busy * 100:.0f} %; {bare.api_calls / bare.updates:.2f};"
            f" floor: {floor.cpu.loop_busy * 100:.0f} %; {floor.api_calls / floor.updates:.2f}",
            "—",
            None,
        ),
    ]


def _per_kind(bot: throughput.Run) -> str:
    """Each kind of update: how many, its round trips to aiosqlite's thread, its median, and its
    share of the bot's handling time (what to work on first)."""
    spent = bot.seconds_by_label()
    total = sum(spent.values()) or 1.0
    lines = [
        (
            label,
            f"{seen:,}",
            f"{calls / seen:.1f}",
            "—" if (median := bot.median_of(label)) is None else _ms(median),
            f"{spent[label] * 100 / total:.1f} %",
        )
        for label, (seen, calls) in sorted(bot.round_trips.items(), key=lambda item: -spent[item[0]])
    ]
    headers = ("1. Per kind of update", "Updates", "Round trips each (target: 1 per unit of work)", "Median ms", "Time")
    return grid(headers, lines)


async def _where_the_time_goes(flows: Library, directory: Path, *, deployed: bool, latency: bool) -> str:
    """A missed throughput or latency target: the bot's functions its time goes to, from a
    shorter run of the same mix under pyinstrument (the figures above were measured without it):
    as deployed, every task the event loop runs, sampled; one at a time, each update's own time."""
    try:
        from pyinstrument import Profiler  # the bench extra only
    except ImportError:
        return 'Where the time goes: pip install -e ".[bench]" to have the profile of a missed target'
    profiled = directory / "profiled"
    for kind in ("deployed", "sequential"):
        (profiled / kind).mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, Literal["enabled", "disabled"], Callable[[], Awaitable[object]]]] = []
    if deployed:
        groups, updates = PROFILED_DEPLOYED
        runs.append(
            (
                f"as deployed, {updates:,} updates of {groups} groups at once, the event loop's thread sampled",
                "disabled",
                lambda: throughput.run_bot_deployed(flows, groups, updates, profiled / "deployed"),
            )
        )
    if latency:
        groups, updates = PROFILED
        runs.append(
            (
                f"one at a time, {updates:,} updates",
                "enabled",
                lambda: throughput.run_bot(flows, groups, updates, profiled / "sequential"),
            )
        )
    sections = []
    for title, async_mode, run in runs:
        profiler = Profiler(async_mode=async_mode)
        try:
            profiler.start()
        except RuntimeError:  # pyinstrument runs one profiler at a time: --profile throughput's
            return "Where the time goes: in the profile --profile throughput writes"
        try:
            await run()
        finally:
            session = profiler.stop()
        root = session.root_frame()
        if root is None:
            sections.append(f"Where the time goes, {title}: the profile recorded nothing")
            continue
        lines = [
            f"Where the time goes (a target missed), {title}, under pyinstrument;"
            " each frame's time given to the bot's innermost function above it"
        ]
        lines += [f"  {share * 100:5.1f} %  {owner}" for owner, share in heaviest(root, top=10)]
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


async def _burst(flows: Library, _: Path) -> Section:
    result = await burst.measure(flows)
    label = f"3. Burst, {result.presses} presses in {result.spread:.0f} s"
    if result.failure:
        return Section(
            [Row(f"{label}: {result.failure}", ", ".join(result.refusals) or "—", "—", "a tally on screen", False)]
        )
    gap = "—" if result.min_gap is None else f"{result.min_gap:.2f} s"
    exact = result.final_delay is not None and result.stored_consents == result.presses
    return Section(
        [
            Row(
                f"{label}: tally edits (shortest gap)",
                f"{result.edits} ({gap})",
                f"one edit per press: {result.presses}",
                "<= 1 per 3 s",
                result.min_gap is None or result.min_gap >= 3.0,
            ),
            Row(
                f"{label}: last press -> exact final tally on screen",
                "never" if result.final_delay is None else f"{result.final_delay:.2f} s",
                f"{result.stored_consents} consents stored",
                "exact",
                exact,
            ),
            Row(
                f"{label}: requests Telegram would refuse",
                str(result.refused),
                ", ".join(result.refusals) or "20/min/group, 1 edit/s/message, 30/s",
                "0",
                result.refused == 0,
            ),
        ]
    )


async def _growth(flows: Library, directory: Path) -> Section:
    small, large = await growth.measure(flows, directory, (SMALL, LARGE))
    rows = [
        Row(
            f"4. Growth: registers built (bulk SQL), {small.requests:,} / {large.requests:,} requests",
            f"{large.build_seconds:.1f} s",
            f"{small.build_seconds:.1f} s",
            "—",
            None,
        )
    ]
    for command, milliseconds in large.milliseconds.items():
        if command == "/export":
            value, base = large.export_per_thousand(), small.export_per_thousand()
            figure = (
                f"4. Growth: /export, ms per 1,000 rows ({large.group_requests:,}-row file: "
                f"{milliseconds / 1000:.1f} s)"
            )
        else:
            value, base = milliseconds, small.milliseconds[command]
            picture = (
                " (first page; its picture, kept since the warm-up run, follows)" if command == "/partenaires" else ""
            )
            figure = f"4. Growth: {command}{picture}, ms, {large.requests:,} requests"
        rows.append(Row(figure, f"{value:.2f}", f"{small.requests:,} requests: {base:.2f}", "<= 2x", value <= 2 * base))
    pictures = [growth.time_picture(flows, partners) for partners in growth.PICTURE_PARTNERS]
    smallest = pictures[0].milliseconds
    for timing in pictures:
        sent = "photo" if timing.as_photo else "PNG file"
        rows.append(
            Row(
                f"4. Register picture alone, {timing.partners} partners ({timing.rows} rows, {sent}, "
                f"{timing.kilobytes:,} kB), ms to lay out and draw",
                f"{timing.milliseconds:.0f}",
                f"{pictures[0].partners} partners: {smallest:.0f}",
                "—",
                None,
            )
        )
    return Section(rows)


async def _memory(flows: Library, directory: Path) -> Section:
    database = directory / f"register-{LARGE[0] * LARGE[1]}.sqlite3"
    if not database.exists():
        await growth.build(flows, database, *LARGE)
    result = await asyncio.to_thread(memory.measure, database)
    return Section(
        [
            Row(
                f"5. Memory: peak RSS, {result.members:,} members mid-flow, 100,000 requests stored",
                f"{result.peak_mb:.0f} MB",
                f"same process once started: {result.start_mb:.0f} MB",
                "< 120 MB",
                result.peak_mb < 120,
            )
        ]
    )


async def _startup(flows: Library, _: Path) -> Section:
    result = await startup.measure()
    ratio = result.median / result.bare_median
    return Section(
        [
            Row(
                f"6. Start-up: process start -> first getUpdates (median of {result.runs}; first, fresh DB)",
                f"{result.median:.2f} s ({result.first:.2f} s)",
                f"bare PTB: {result.bare_median:.2f} s",
                "< 1.5 s",
                max(result.median, result.first) < 1.5,
            ),
            Row("6. Start-up ratio, bot / bare (medians)", f"{ratio:.2f}", "1.00", "<= 2", ratio <= 2),
        ]
    )


RUNNERS: dict[str, Callable[[Library, Path], Awaitable[Section]]] = {
    "throughput": _throughput,
    "burst": _burst,
    "growth": _growth,
    "memory": _memory,
    "startup": _startup,
}


class ErrorCount(logging.Handler):
    """Counts the errors the bot logs, and keeps the first few to show."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 3:
            error = record.exc_info[1] if record.exc_info else None
            self.first.append(f"{record.name}: {record.getMessage()}" + (f" ({error!r})" if error else ""))


def _profiler(enabled: bool, output: Path) -> AbstractContextManager[None]:
    if not enabled:
        return nullcontext()
    from pyinstrument import Profiler  # the bench extra only

    class Profiled:
        def __enter__(self) -> None:
            self.profiler = Profiler(async_mode="enabled")
            self.profiler.start()

        def __exit__(self, *exc: object) -> None:
            self.profiler.stop()
            output.write_text(self.profiler.output_text(unicode=True, color=False), encoding="utf-8")
            print(f"profile written to {output}")

    return Profiled()


async def run(chosen: list[str], profile: str | None) -> list[Section]:
    flows = library()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for name in chosen:
            started = time.perf_counter()
            with _profiler(profile == name, Path(f"bench-{name}.profile.txt")):
                sections.append(await RUNNERS[name](flows, Path(scratch)))
            print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated scenarios among {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--profile", choices=SCENARIOS, help="profile this scenario with pyinstrument")
    arguments = parser.parse_args()
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    # A figure measured while the bot fails is worthless: its errors are counted and shown.
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    print(f"Machine: {machine()}", flush=True)
    started = time.perf_counter()
    sections = asyncio.run(run(chosen, arguments.profile))
    rows = [row for section in sections for row in section.rows]
    rows.append(Row("Errors the bot logged during the run", str(errors.count), "—", "0", errors.count == 0))
    print()
    print(table(rows))
    for message in errors.first:
        print(f"  error: {message}")
    for detail in (detail for section in sections for detail in section.details):
        print(f"\n{detail}")
    print(
        f"\n{len([r for r in rows if r.met is False])} target(s) missed; "
        f"benchmark took {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
