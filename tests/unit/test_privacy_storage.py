"""Erasing a member covers every column that can hold a Telegram user id, present and future."""

from __future__ import annotations

import re

from bot.storage import privacy
from bot.storage.db import Database

# Column names that hold a person's Telegram id in this schema's conventions.
PERSON_COLUMN = re.compile(r"^(user_id|author_id|\w+_by)$")


async def test_every_person_column_is_erased_or_pseudonymised(database: Database) -> None:
    tables = [row["name"] for row in await database.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )]
    person_columns = {
        (table, column["name"])
        for table in tables
        for column in await database.fetch_all(f"PRAGMA table_info({table})")
        if PERSON_COLUMN.match(column["name"])
    }
    covered = {(t, c) for t, c, _ in privacy.PSEUDONYMISED} | set(privacy.DELETED)
    assert person_columns, "the schema has person columns: the pattern must find them"
    assert person_columns <= covered, f"not handled by /oublier: {sorted(person_columns - covered)}"
