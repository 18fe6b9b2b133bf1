"""The benchmark's scenarios still drive the real bot: a miniature throughput run, not timed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bench import throughput
from bench.scene import library, settings


async def test_a_miniature_throughput_run_handles_every_update_and_reports_figures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    bot, bare, floor = await throughput.measure(library(), groups=2, total=200)
    assert bot.updates == bare.updates == floor.updates == 200
    assert set(bot.mix) == {"flow", "consent", "command"}
    assert bot.mix["flow"] > bot.mix["consent"] > bot.mix["command"]
    assert len(bot.latencies) == len(bare.latencies) == len(floor.latencies) == 200
    assert sum(seen for seen, _ in bot.round_trips.values()) == 200
    assert bot.per_second > 0 and bare.per_second > 0
    assert 0 < bot.percentile(0.5) <= bot.percentile(0.99)
    assert not [record.getMessage() for record in caplog.records], "the bot logged errors under load"
    # Every press took a position; members filed requests beyond the three seeded per group.
    assert bot.stored["round_positions"] == bot.mix["consent"]
    assert bot.stored["requests"] > 2 * throughput.ROUNDS_PER_GROUP
    # The rare features ran: every closed round published its outcome and the outbox sent it to
    # the group, every /partenaires sent its picture, every /calendrier its .ics in private.
    assert bot.round_trips[throughput.CLOSING_PRESS][0] == bot.stored["closed_rounds"] > 0
    assert bot.stored["published_rounds"] == bot.stored["outcomes_sent"] == bot.stored["closed_rounds"]
    assert bot.files[throughput.PICTURE] == bot.round_trips["/partenaires"][0] > 0
    assert bot.files[throughput.CALENDAR] == bot.round_trips["/calendrier"][0] > 0
    # The next update waited for each /partenaires's picture.
    assert len(bot.picture_delays) == bot.round_trips["/partenaires"][0]


async def test_a_miniature_run_as_deployed_handles_the_groups_at_once_and_counts_commits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    bot, bare, floor = await throughput.measure_deployed(library(), groups=3, total=300)
    assert bot.stuck == 0
    # The echo and the floor replay the bot's updates several times, their runs added up.
    assert bot.updates == 300
    assert bare.updates == 300 * throughput.BARE_REPLAYS and len(bare.rates) == throughput.BARE_REPLAYS
    assert floor.updates == 300 * throughput.FLOOR_REPLAYS and len(floor.rates) == throughput.FLOOR_REPLAYS
    assert bare.per_second == pytest.approx(bare.updates / sum(300 / rate for rate in bare.rates))
    assert bot.in_flight == bare.in_flight == floor.in_flight == settings(Path("unused")).concurrent_updates
    assert bot.mix["flow"] > bot.mix["consent"] > bot.mix["command"]
    assert not [record.getMessage() for record in caplog.records], "the bot logged errors under load"
    # Each update's writes were committed, some of them sharing a commit; the floor commits too.
    assert 0 < bot.commits < bot.writes
    assert bot.round_trips >= bot.commits
    assert 0 < floor.commits <= floor.updates
    assert len(bot.proposal_waits) == bot.labels["/consentement"] > 0
    # Every press took a position, every closed round's outcome was sent, every /partenaires
    # sent its picture and every /calendrier its .ics.
    assert bot.stored["round_positions"] == bot.mix["consent"]
    assert bot.stored["outcomes_sent"] == bot.stored["closed_rounds"] == bot.labels[throughput.CLOSING_PRESS] > 0
    assert bot.files[throughput.PICTURE] == bot.labels["/partenaires"] > 0
    assert bot.files[throughput.CALENDAR] == bot.labels["/calendrier"] > 0
    # The CPU each run used, and its Bot API calls: the bot makes more calls than the echo's one.
    for run in (bot, bare, floor):
        assert run.cpu is not None
        # The loop's CPU is part of the process's; the two clocks tick apart by a millisecond or so.
        assert 0 < run.cpu.loop <= run.cpu.process + 0.005
        assert 0 < run.cpu.loop_busy <= 1.05  # the clocks are read a few instructions apart
    assert bare.api_calls == bare.updates
    assert bot.api_calls > bot.updates
