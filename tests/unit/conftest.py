"""Fixtures of the unit tests: the real YAML library, its engine and texts, a database file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.core.flow_engine import Flow, FlowEngine
from bot.core.library import Library, load_library
from bot.core.loading import ValidationTexts
from bot.core.messages import FlowTexts
from bot.storage.db import Database

CONVERSATIONS = Path(__file__).resolve().parents[2] / "conversations"


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library(CONVERSATIONS)


@pytest.fixture(scope="session")
def texts(library: Library) -> FlowTexts:
    return library.messages.flow


@pytest.fixture(scope="session")
def validation(library: Library) -> ValidationTexts:
    return library.validation


@pytest.fixture(scope="session")
def partnership(library: Library) -> Flow:
    return library.flows["demande_partenariat"].flow


@pytest.fixture(scope="session")
def engine(library: Library, partnership: Flow) -> FlowEngine:
    return library.engine(partnership)


@pytest.fixture
def engine_for(library: Library) -> Callable[[Flow], FlowEngine]:
    """Build the engine of an inline flow with the real French texts."""
    return library.engine


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    yield database
    await database.close()
