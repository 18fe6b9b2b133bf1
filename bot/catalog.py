"""Which flow version serves whom: files on disk and uploads, recorded as versions.

A member finishes a flow on the version they started with, even after the files changed or
an admin uploaded a new version, so engines are looked up by ``(flow id, version)`` and older
versions are rebuilt from the text kept in the database.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from bot.core.flow_engine import Flow, FlowEngine
from bot.core.library import Library
from bot.storage import flow_versions
from bot.storage.db import Database


class UnknownFlow(LookupError):
    """No version of this flow is recorded."""


class FlowCatalog:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._library: Library | None = None
        self._engines: dict[tuple[str, int], FlowEngine] = {}

    async def use(self, library: Library) -> dict[str, int]:
        """Serve a newly loaded library; record each flow file as a version if it changed.

        Returns the version of each file. Engines are rebuilt lazily with the new texts.
        """
        self._library = library
        self._engines.clear()

        def record(connection: sqlite3.Connection) -> dict[str, int]:
            return {
                flow_id: flow_versions.sync_disk_version(connection, flow_id, source.text)
                for flow_id, source in library.flows.items()
            }

        versions = await self.database.write(record)
        for flow_id, source in library.flows.items():
            self._engines[(flow_id, versions[flow_id])] = library.engine(source.flow)
        return versions

    @property
    def library(self) -> Library:
        """The texts and flows served now."""
        if self._library is None:
            raise RuntimeError("the catalog serves no library yet: use() or read_only() comes first")
        return self._library

    def read_only(self, library: Library) -> None:
        """Serve ``library``'s texts without recording its files (``python -m bot export``):
        every version comes from the database, which is left as it is."""
        self._library = library
        self._engines.clear()

    async def install(
        self,
        flow: Flow,
        text: str,
        *,
        scope_chat_id: int,
        author_id: int,
        author_name: str,
        kept: int,
        update_id: int | None = None,
    ) -> int | None:
        """Store an uploaded version (once per update) and make it the one its scope uses from
        now on; None when the scope already keeps ``kept`` versions still in use."""

        def store(connection: sqlite3.Connection) -> int | None:
            if not flow_versions.make_room(connection, scope_chat_id, kept):
                return None
            return flow_versions.add_version(
                connection,
                flow.id,
                text,
                scope_chat_id=scope_chat_id,
                source="upload",
                author_id=author_id,
                author_name=author_name,
            )

        version = await self.database.write(store, update_id)
        if version is not None:
            self._engines[(flow.id, version)] = self.library.engine(flow)
        return version

    async def engine(self, flow_id: str, version: int) -> FlowEngine:
        """The engine for one version, validated once and then cached."""
        key = (flow_id, version)
        if key not in self._engines:
            text = await self.database.read(partial(flow_versions.version_text, flow_id=flow_id, version=version))
            if text is None:
                raise UnknownFlow(key)
            # Validated when it was stored; re-checking its practice ids against today's
            # catalogue could strand a member mid-flow when a practice was renamed since.
            library = self.library
            flow = library.parse_flow(text, f"{flow_id}.yaml", check_practices=False)
            self._engines[key] = library.engine(flow)
        return self._engines[key]

    async def active(self, flow_id: str, chat_id: int) -> tuple[int, FlowEngine]:
        """The version a chat should start now, with its engine."""
        active = await self.database.read(partial(flow_versions.active, flow_id=flow_id, chat_id=chat_id))
        if active is None:
            raise UnknownFlow(flow_id)
        return active.version, await self.engine(flow_id, active.version)
