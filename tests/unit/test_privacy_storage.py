"""Erasing a member covers every column that can hold a Telegram user id, present and future."""

from __future__ import annotations

import json
import re
import sqlite3

from bot.core.consent_rules import Member
from bot.storage import circles, outbox, personal_data
from bot.storage.db import Database

# Column names that hold a person's Telegram id in this schema's conventions.
PERSON_COLUMN = re.compile(r"^(user_id|author_id|\w+_by)$")


async def test_every_person_column_is_erased_or_pseudonymised(database: Database) -> None:
    tables = [
        row["name"]
        for row in await database.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    person_columns = {
        (table, column["name"])
        for table in tables
        for column in await database.fetch_all(f"PRAGMA table_info({table})")
        if PERSON_COLUMN.match(column["name"])
    }
    covered = {(t, c) for t, c, _ in personal_data.PSEUDONYMISED} | set(personal_data.DELETED)
    assert person_columns, "the schema has person columns: the pattern must find them"
    assert person_columns <= covered, f"not handled by /oublier: {sorted(person_columns - covered)}"


async def test_erasure_unnames_the_member_in_queued_messages_and_empties_sent_ones(database: Database) -> None:
    group, camille, other = -1001, 31, 32

    def seed(connection: sqlite3.Connection) -> None:
        circles.add(connection, circles.Roster.CIRCLE, group, Member(camille, "Cam"))
        circles.add(connection, circles.Roster.COORDINATION, group, Member(camille, "Camille <Durand>"))
        circles.add(connection, circles.Roster.CIRCLE, group, Member(other, "Bob"))
        for text in (
            f'Objection de <a href="tg://user?id={camille}">Camille</a> : à travailler',  # pending
            "Camille &lt;Durand&gt; : consentement ; Bob : objection",  # delivered below
            "Tisane de camomille et Camomille pour Bob",  # « Cam » only inside a word: not her
        ):
            outbox.enqueue(connection, group, [text])
        outbox.delivered(connection, 2)

    await database.write(seed)

    await database.write(
        lambda connection: personal_data.forget(
            connection, camille, anonymous_name="membre anonymisé", personal_steps={}
        )
    )

    queued = {
        row["id"]: (row["status"], json.loads(row["texts"]))
        for row in await database.fetch_all("SELECT id, status, texts FROM outbox")
    }
    assert queued == {
        1: ("pending", ["Objection de membre anonymisé : à travailler"]),
        2: ("sent", []),
        3: ("pending", ["Tisane de camomille et Camomille pour Bob"]),
    }
