"""A group becoming a supergroup: every row with its chat id moves, none is forgotten."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial

import aiosqlite

from bot.core.consent_rules import Member, RoundOptions
from bot.core.flow_engine import FlowState
from bot.storage import (
    chat_migration,
    chats,
    circles,
    consent_rounds,
    flow_versions,
    outbox,
    requests,
    review_dates,
    sessions,
)
from bot.storage.circles import Roster
from bot.storage.db import Database, within
from bot.storage.sessions import FlowSession

OLD, NEW = -4000000001, -1001000000001
BEA, CAL = Member(22, "Bea"), Member(33, "Cal")
FLOW = "demande_partenariat"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def _columns(database: Database, wanted) -> set[tuple[str, str]]:
    """The schema's columns for which ``wanted(table, column)`` holds, read from SQLite itself."""
    tables = await database.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    found = set()
    for (table,) in tables:
        for column in await database.fetch_all(f"SELECT name FROM pragma_table_info('{table}')"):
            if wanted(table, column["name"]):
                found.add((table, column["name"]))
    return found


def _is_chat(table: str, column: str) -> bool:
    return column == "chat_id" or column.endswith("_chat_id") or (table, column) == ("chats", "id")


def _is_message(table: str, column: str) -> bool:
    return column == "message_id" or column.endswith("_message_id")


async def test_every_column_holding_a_chat_or_one_of_its_messages_is_moved(database: Database) -> None:
    assert await _columns(database, _is_chat) == set(chat_migration.CHAT_COLUMNS)
    assert await _columns(database, _is_message) == set(chat_migration.MESSAGE_COLUMNS)


async def _request(connection: aiosqlite.Connection, chat_id: int, partner: str) -> requests.PartnershipRequest:
    return await requests.create(
        connection,
        chat_id=chat_id,
        author_id=BEA.user_id,
        author_name=BEA.name,
        flow_id=FLOW,
        flow_version=1,
        partner_name=partner,
        partner_kind="association",
        answers={"partenaire": partner},
    )


def _session(chat_id: int, user: Member, origin: int) -> FlowSession:
    return FlowSession(
        chat_id, user.user_id, sessions.new_token(), origin, user.name, FlowState(FLOW, 1, {}, "partenaire")
    )


async def _group_everywhere(database: Database) -> int:
    """A basic group with a row in every table that has a chat id; return its open round's id."""
    await database.write(
        lambda connection: flow_versions.sync_disk_version(connection, FLOW, "id: demande_partenariat\n")
    )
    await database.write(lambda connection: chats.remember(connection, OLD, "group", "GL Pays d'Uzès"))
    await database.write(
        lambda connection: flow_versions.add_version(
            connection, FLOW, "id: demande_partenariat\n# à nous\n", scope_chat_id=OLD, source="upload"
        )
    )
    async with database.transaction() as connection:
        first, second = await _request(connection, OLD, "Alternatiba"), await _request(connection, OLD, "Emmaüs")
        await connection.execute("UPDATE requests SET card_message_id = 40 WHERE id = ?", (first.id,))
        await sessions.save(connection, _session(OLD, CAL, OLD))  # answering in the group
        await sessions.save(connection, _session(BEA.user_id, BEA, OLD))  # in private, for the group
        await circles.add(connection, Roster.CIRCLE, OLD, BEA)
        await circles.add(connection, Roster.CIRCLE, OLD, CAL)
        await circles.add(connection, Roster.COORDINATION, OLD, CAL)
        await circles.ask_to_join(connection, OLD, Member(44, "Dan"))
        round_id = await consent_rounds.open_round(
            connection,
            request_id=first.id,
            chat_id=OLD,
            opener=BEA,
            opened_at=T0,
            deadline_at=T0 + timedelta(days=7),
            options=RoundOptions(),
            roster=(BEA, CAL),
        )
        await connection.execute("UPDATE requests SET status = 'adopted' WHERE id = ?", (second.id,))
        await review_dates.plan(connection, second.id, "review", date(2027, 3, 1))
        await within(connection, partial(outbox.enqueue, chat_id=OLD, texts=["Résultat"], reply_to=41))
    async with database.transaction() as connection:
        await consent_rounds.set_message(connection, round_id, 42)
    await consent_rounds.add_prompt(database, OLD, 43, round_id, CAL.user_id, "objection", T0)
    (review,) = await review_dates.due(database, date(2027, 3, 1), 10)
    async with database.transaction() as connection:
        await review_dates.mark_posted(connection, review.id, 44)
    return round_id


async def _rows_of(database: Database, chat_id: int) -> dict[tuple[str, str], int]:
    counts = {}
    for table, column in await _columns(database, _is_chat):
        row = await database.fetch_one(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?", (chat_id,))
        counts[(table, column)] = row["n"]
    return counts


async def test_a_group_moves_whole_to_its_supergroup(database: Database) -> None:
    round_id = await _group_everywhere(database)
    before = await _rows_of(database, OLD)
    assert all(before.values()), f"the scene misses a table: {before}"

    assert await database.write(lambda connection: chat_migration.move(connection, OLD, NEW))

    assert not any((await _rows_of(database, OLD)).values())
    moved = await _rows_of(database, NEW)
    prompts = ("round_prompts", "chat_id")
    assert moved == {**before, prompts: 0}, "every row followed, but the reason prompts, which stayed behind"
    assert [
        (r.number, r.partner_name)
        for r in (await database.read(lambda connection: requests.page(connection, NEW, 0, 10)))[0]
    ] == [
        (2, "Emmaüs"),
        (1, "Alternatiba"),
    ]
    assert [m.name for m in await circles.members(database, Roster.CIRCLE, NEW)] == ["Bea", "Cal"]
    rnd = (await consent_rounds.state(database, round_id)).round
    assert (rnd.chat_id, rnd.is_open, rnd.message_id) == (NEW, True, None)
    assert tuple(await database.fetch_one("SELECT type FROM chats WHERE id = ?", (NEW,))) == ("supergroup",)
    assert (await database.read(lambda connection: flow_versions.active(connection, FLOW, NEW))).scope_chat_id == NEW
    # What pointed at messages of the old chat is forgotten: they are not in the new one.
    assert tuple(await database.fetch_one("SELECT card_message_id FROM requests WHERE number = 1")) == (None,)
    assert tuple(await database.fetch_one("SELECT reply_to_message_id FROM outbox")) == (None,)
    (review,) = await review_dates.due(database, date(2027, 3, 1), 10)  # to be posted again, in the supergroup
    assert (review.chat_id, review.message_id) == (NEW, None)

    assert not await database.write(lambda connection: chat_migration.move(connection, OLD, NEW)), (
        "told twice, it moves once"
    )


async def test_rows_the_supergroup_already_has_are_kept_and_numbers_stay_unique(database: Database) -> None:
    await _group_everywhere(database)
    await database.write(lambda connection: chats.remember(connection, NEW, "supergroup", "GL Pays d'Uzès (nouveau)"))
    async with database.transaction() as connection:
        await _request(connection, NEW, "Villes en transition")  # n°1 of the supergroup, filed early
        await circles.add(connection, Roster.CIRCLE, NEW, CAL)

    assert await database.write(lambda connection: chat_migration.move(connection, OLD, NEW))

    numbers = [
        (r.number, r.partner_name)
        for r in (await database.read(lambda connection: requests.page(connection, NEW, 0, 10)))[0]
    ]
    assert numbers == [(3, "Villes en transition"), (2, "Emmaüs"), (1, "Alternatiba")]
    assert [m.name for m in await circles.members(database, Roster.CIRCLE, NEW)] == ["Bea", "Cal"]
    assert await database.read(lambda connection: chats.title(connection, NEW)) == "GL Pays d'Uzès (nouveau)"
    assert not any((await _rows_of(database, OLD)).values())
