"""What /partenaires counts per group, kept by the triggers of migration 0012 whatever writes requests."""

from __future__ import annotations

import sqlite3
from functools import partial

from bot.core.register_rules import Origin
from bot.storage import chat_migration, register_rows, requests
from bot.storage.db import Database
from bot.storage.register_rows import Counts
from tests.unit.test_register_storage import add
from tests.unit.test_storage import ALICE, CHAT_A, CHAT_B, with_flow


def counted_from_scratch(connection: sqlite3.Connection, chat_id: int) -> Counts:
    """What counting the group's requests gives: the counts kept must always say the same."""
    requests, partners = connection.execute(
        "SELECT COUNT(*), COUNT(DISTINCT partner_name COLLATE NOCASE) FROM requests WHERE chat_id = ?", (chat_id,)
    ).fetchone()
    return Counts(requests, partners)


async def kept_and_counted(database: Database, chat_id: int) -> tuple[Counts, Counts]:
    return await database.read(
        lambda connection: (register_rows.counts(connection, chat_id), counted_from_scratch(connection, chat_id))
    )


async def test_a_group_without_requests_counts_none(database: Database) -> None:
    assert await database.read(partial(register_rows.counts, chat_id=CHAT_A)) == Counts(0, 0)


async def test_counts_follow_requests_filed_renamed_and_deleted(database: Database) -> None:
    await with_flow(database)
    first = await add(database, CHAT_A, "Alternatiba", "association")
    await add(database, CHAT_A, "alternatiba", "association")
    renamed = await add(database, CHAT_A, "Emmaüs", "association")
    await add(database, CHAT_B, "Emmaüs", "association")
    assert await kept_and_counted(database, CHAT_A) == (Counts(3, 2), Counts(3, 2))

    def rename(connection: sqlite3.Connection) -> None:  # an amendment changing the partner's name
        connection.execute("UPDATE requests SET partner_name = 'ALTERNATIBA' WHERE id = ?", (renamed,))

    await database.write(rename)
    assert await kept_and_counted(database, CHAT_A) == (Counts(3, 1), Counts(3, 1))
    await database.write(lambda connection: connection.execute("DELETE FROM requests WHERE id = ?", (first,)))
    assert await kept_and_counted(database, CHAT_A) == (Counts(2, 1), Counts(2, 1))
    assert await kept_and_counted(database, CHAT_B) == (Counts(1, 1), Counts(1, 1))


async def test_counts_include_known_partners_and_a_private_request_attached_to_the_group(database: Database) -> None:
    """/partenaires counted every request of the group, known partners included (i12), and a
    request filed in private counts for the group once attached to it (i11)."""
    await with_flow(database)
    await add(database, CHAT_A, "Alternatiba", "association")

    def known_and_private(connection: sqlite3.Connection) -> requests.PartnershipRequest:
        requests.create(
            connection,
            chat_id=CHAT_A,
            author_id=ALICE,
            author_name="Alice",
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name="Biocoop",
            partner_kind="entreprise",
            answers={},
            status="adopted",
            origin=Origin.KNOWN,
        )
        return requests.create(
            connection,
            chat_id=ALICE,
            author_id=ALICE,
            author_name="Alice",
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name="alternatiba",
            partner_kind="association",
            answers={},
        )

    private = await database.write(known_and_private)
    assert await kept_and_counted(database, CHAT_A) == (Counts(2, 2), Counts(2, 2))
    assert await database.write(lambda connection: requests.attach(connection, private, CHAT_A, None)) == 3
    assert await kept_and_counted(database, CHAT_A) == (Counts(3, 2), Counts(3, 2))
    assert await kept_and_counted(database, ALICE) == (Counts(0, 0), Counts(0, 0))


async def test_counts_move_with_a_group_that_became_a_supergroup(database: Database) -> None:
    await with_flow(database)
    await add(database, CHAT_A, "Alternatiba", "association")
    await add(database, CHAT_A, "Emmaüs", "association")
    await add(database, CHAT_B, "emmaüs", "association")  # the supergroup was used before the move was known
    assert await database.write(lambda connection: chat_migration.move(connection, CHAT_A, CHAT_B))
    assert await kept_and_counted(database, CHAT_B) == (Counts(3, 2), Counts(3, 2))
    assert await database.read(partial(register_rows.counts, chat_id=CHAT_A)) == Counts(0, 0)


async def test_counting_reads_one_row_not_the_groups_requests(database: Database) -> None:
    plan = await database.read(
        lambda connection: " ".join(
            row["detail"]
            for row in connection.execute(
                "EXPLAIN QUERY PLAN SELECT requests, partners FROM register_counts WHERE chat_id = ?", (CHAT_A,)
            )
        )
    )
    assert plan.startswith("SEARCH register_counts USING INTEGER PRIMARY KEY")


async def version(database: Database, chat_id: int) -> int:
    return await database.read(partial(register_rows.version, chat_id=chat_id))


async def test_the_version_changes_with_whatever_the_register_shows_and_only_then(database: Database) -> None:
    """The register's picture is drawn again only when its version changed (migration 0014)."""
    await with_flow(database)
    assert await version(database, CHAT_A) == 0
    adopted = await add(database, CHAT_A, "Alternatiba", "association", "adopted")
    other = await version(database, CHAT_B)
    seen = [await version(database, CHAT_A)]
    for change in (
        "UPDATE requests SET status = 'ended' WHERE id = ?",
        "UPDATE request_answers SET value = '\"Alternatiba 2\"' WHERE request_id = ?",
        "INSERT INTO reviews (request_id, kind, due_on, created_at) VALUES (?, 'review', '2027-01-01', '2026-01-01')",
        "UPDATE reviews SET outcome = 'end', answered_at = '2026-12-01' WHERE request_id = ?",
        "DELETE FROM requests WHERE id = ?",
    ):
        await database.write(lambda connection, sql=change: connection.execute(sql, (adopted,)))
        seen.append(await version(database, CHAT_A))
    assert seen == sorted(set(seen)), "every change raised the version"
    await database.write(  # the circle, another group's request: not what the picture shows
        lambda connection: connection.execute(
            "INSERT INTO circle_members (chat_id, user_id, name, added_at) VALUES (?, ?, 'Alice', '2026-01-01')",
            (CHAT_A, ALICE),
        )
    )
    await add(database, CHAT_B, "Ailleurs", "association")
    assert await version(database, CHAT_A) == seen[-1] and await version(database, CHAT_B) > other
