"""A group becoming a supergroup: every row with its chat id moves, none is forgotten."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial

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
from bot.storage.db import Database
from bot.storage.sessions import FlowSession

OLD, NEW = -4000000001, -1001000000001
BEA, CAL = Member(22, "Bea"), Member(33, "Cal")
FLOW = "demande_partenariat"
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def _columns(database: Database, wanted: Callable[[str, str], bool]) -> set[tuple[str, str]]:
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


def _request(connection: sqlite3.Connection, chat_id: int, partner: str) -> requests.PartnershipRequest:
    return requests.create(
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

    def seed(connection: sqlite3.Connection) -> int:
        first, second = _request(connection, OLD, "Alternatiba"), _request(connection, OLD, "Emmaüs")
        connection.execute("UPDATE requests SET card_message_id = 40 WHERE id = ?", (first.id,))
        sessions.save(connection, _session(OLD, CAL, OLD))  # answering in the group
        sessions.save(connection, _session(BEA.user_id, BEA, OLD))  # in private, for the group
        circles.add(connection, Roster.CIRCLE, OLD, BEA)
        circles.add(connection, Roster.CIRCLE, OLD, CAL)
        circles.add(connection, Roster.COORDINATION, OLD, CAL)
        circles.ask_to_join(connection, OLD, Member(44, "Dan"))
        round_id = consent_rounds.open_round(
            connection,
            request_id=first.id,
            chat_id=OLD,
            opener=BEA,
            opened_at=T0,
            deadline_at=T0 + timedelta(days=7),
            options=RoundOptions(),
            roster=(BEA, CAL),
        )
        connection.execute("UPDATE requests SET status = 'adopted' WHERE id = ?", (second.id,))
        review_dates.plan(connection, second.id, "review", date(2027, 3, 1))
        outbox.enqueue(connection, OLD, ["Résultat"], reply_to=41)
        return round_id

    def sent(connection: sqlite3.Connection, round_id: int) -> None:
        """The proposal, a reason prompt and the review's follow-up were posted."""
        consent_rounds.set_message(connection, round_id, 42)
        consent_rounds.add_prompt(connection, OLD, 43, round_id, CAL.user_id, "objection", T0)
        (review,) = review_dates.due(connection, date(2027, 3, 1), 10)
        review_dates.mark_posted(connection, review.id, 44)

    round_id = await database.write(seed)
    await database.write(partial(sent, round_id=round_id))
    return round_id


async def _rows_of(database: Database, chat_id: int) -> dict[tuple[str, str], int]:
    counts = {}
    for table, column in await _columns(database, _is_chat):
        row = await database.fetch_one(f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?", (chat_id,))
        assert row is not None
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
    assert [m.name for m in await database.read(partial(circles.listed, roster=Roster.CIRCLE, chat_id=NEW))] == [
        "Bea",
        "Cal",
    ]
    state = await database.read(partial(consent_rounds.state, round_id=round_id))
    assert state is not None
    rnd = state.round
    assert (rnd.chat_id, rnd.is_open, rnd.message_id) == (NEW, True, None)
    chat = await database.fetch_one("SELECT type FROM chats WHERE id = ?", (NEW,))
    assert chat is not None and tuple(chat) == ("supergroup",)
    version = await database.read(lambda connection: flow_versions.active(connection, FLOW, NEW))
    assert version is not None and version.scope_chat_id == NEW
    # What pointed at messages of the old chat is forgotten: they are not in the new one.
    card = await database.fetch_one("SELECT card_message_id FROM requests WHERE number = 1")
    assert card is not None and tuple(card) == (None,)
    delivery = await database.fetch_one("SELECT reply_to_message_id FROM outbox")
    assert delivery is not None and tuple(delivery) == (None,)
    # To be posted again, in the supergroup.
    (review,) = await database.read(partial(review_dates.due, latest=date(2027, 3, 1), limit=10))
    assert (review.chat_id, review.message_id) == (NEW, None)

    assert not await database.write(lambda connection: chat_migration.move(connection, OLD, NEW)), (
        "told twice, it moves once"
    )


async def test_rows_the_supergroup_already_has_are_kept_and_numbers_stay_unique(database: Database) -> None:
    await _group_everywhere(database)
    await database.write(lambda connection: chats.remember(connection, NEW, "supergroup", "GL Pays d'Uzès (nouveau)"))

    def filed_early(connection: sqlite3.Connection) -> None:
        _request(connection, NEW, "Villes en transition")  # n°1 of the supergroup
        circles.add(connection, Roster.CIRCLE, NEW, CAL)

    await database.write(filed_early)

    assert await database.write(lambda connection: chat_migration.move(connection, OLD, NEW))

    numbers = [
        (r.number, r.partner_name)
        for r in (await database.read(lambda connection: requests.page(connection, NEW, 0, 10)))[0]
    ]
    assert numbers == [(3, "Villes en transition"), (2, "Emmaüs"), (1, "Alternatiba")]
    assert [m.name for m in await database.read(partial(circles.listed, roster=Roster.CIRCLE, chat_id=NEW))] == [
        "Bea",
        "Cal",
    ]
    assert await database.read(lambda connection: chats.title(connection, NEW)) == "GL Pays d'Uzès (nouveau)"
    assert not any((await _rows_of(database, OLD)).values())
