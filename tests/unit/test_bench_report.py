"""How the bench tells where a profile's time went (``bench.report.heaviest``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bench.report import TRIPS, heaviest


@dataclass
class Frame:
    """What ``heaviest`` reads of a pyinstrument frame."""

    function: str
    file_path: str
    total_self_time: float
    class_name: str | None = None
    line_no: int = 1
    children: list[Frame] = field(default_factory=list)
    is_synthetic: bool = False

    @property
    def file_path_short(self) -> str:
        return self.file_path.removeprefix("/repo/")


DB = "/repo/bot/storage/db.py"


def test_time_goes_to_the_bots_function_a_read_to_its_caller_and_the_trips_task_to_the_thread() -> None:
    handler = Frame(
        "press",
        "/repo/bot/handlers/intake.py",
        1.0,
        children=[Frame("read", DB, 2.0), Frame("de_json", "/venv/site-packages/telegram/_message.py", 1.0)],
    )
    trips = Frame("_run", DB, 3.0, class_name="_Trips")
    idle = Frame("select", "/python/selectors.py", 1.0)
    root = Frame("run_forever", "/python/asyncio/base_events.py", 0.0, children=[handler, trips, idle])

    shares = {owner: share for owner, share in heaviest(root, top=10) if share}

    assert shares == {
        TRIPS: pytest.approx(3 / 8),
        "press > read (bot/storage/db.py:1)": pytest.approx(2 / 8),
        "press (bot/handlers/intake.py:1)": pytest.approx(2 / 8),
        "the event loop waiting (nothing to run)": pytest.approx(1 / 8),
    }
