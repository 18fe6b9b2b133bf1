"""Which flow version serves whom: the files on disk, recorded as versions in the database.

A member finishes a flow on the version they started with, even after the files changed, so
engines are looked up by ``(flow id, version)`` and older versions are rebuilt from the text
kept in the database.
"""

from __future__ import annotations

from bot.core.flows import FlowEngine
from bot.core.library import Library
from bot.storage import flows as flow_store
from bot.storage.db import Database


class UnknownFlow(LookupError):
    """No version of this flow is recorded."""


class FlowCatalog:
    def __init__(self, library: Library, database: Database) -> None:
        self.library = library
        self.database = database
        self._engines: dict[tuple[str, int], FlowEngine] = {}

    async def sync_disk(self) -> None:
        """Record each flow file as a version (a new one when its text changed)."""
        for flow_id, source in self.library.flows.items():
            version = await flow_store.sync_disk_version(self.database, flow_id, source.text)
            self._engines[(flow_id, version)] = self.library.engine(source.flow)

    async def engine(self, flow_id: str, version: int) -> FlowEngine:
        """The engine for one version, validated once and then cached."""
        key = (flow_id, version)
        if key not in self._engines:
            text = await flow_store.version_text(self.database, flow_id, version)
            if text is None:
                raise UnknownFlow(key)
            self._engines[key] = self.library.engine(self.library.parse_flow(text, f"{flow_id}.yaml"))
        return self._engines[key]

    async def active(self, flow_id: str, chat_id: int) -> tuple[int, FlowEngine]:
        """The version a chat should start now, with its engine."""
        version = await flow_store.active_version(self.database, flow_id, chat_id)
        if version is None:
            raise UnknownFlow(flow_id)
        return version, await self.engine(flow_id, version)
