"""SQLite storage: migrations, update marks, sessions, requests and flow versions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bot.core.flow_engine import FlowState
from bot.storage import chats, flow_versions, requests, sessions
from bot.storage.db import Database

CHAT_A, CHAT_B = -1001, -1002
ALICE, BOB = 11, 22

ANSWERS = {
    "partenaire": "<Ma & Co> « Jardin »",
    "duree_mois": 36,
    "competences_pro": True,
    "lien_partenaire": "aucun",
    "attentes": None,
    "date_debut": "2027-03-15",
}


def migration_numbers() -> list[int]:
    folder = resources.files("bot.storage") / "migrations"
    return sorted(int(item.name.split("_", 1)[0]) for item in folder.iterdir() if item.name.endswith(".sql"))


async def scalar(database: Database, sql: str, parameters: tuple[object, ...] = ()) -> object:
    row = await database.fetch_one(sql, parameters)
    return None if row is None else row[0]


async def with_flow(database: Database, flow_id: str = "demande_partenariat") -> int:
    """Record a flow version: sessions and requests refer to one."""
    return await database.write(
        lambda connection: flow_versions.sync_disk_version(connection, flow_id, "id: demande_partenariat\n")
    )


def a_request(
    connection: sqlite3.Connection,
    chat_id: int,
    partner: str,
    answers: Mapping[str, Any] | None = None,
    author: int = ALICE,
) -> requests.PartnershipRequest:
    """A request filed by Alice's name on version 1 of the partnership flow."""
    answers = answers if answers is not None else {"partenaire": partner}
    return requests.create(
        connection,
        chat_id=chat_id,
        author_id=author,
        author_name="Alice",
        flow_id="demande_partenariat",
        flow_version=1,
        partner_name=partner,
        partner_kind="association",
        answers=answers,
    )


async def create_request(
    database: Database,
    chat_id: int,
    partner: str,
    answers: Mapping[str, Any] | None = None,
    author: int = ALICE,
) -> requests.PartnershipRequest:
    return await database.write(lambda connection: a_request(connection, chat_id, partner, answers, author))


async def active_version(database: Database, chat_id: int) -> int:
    """The version of the flow « demande » a chat uses, which it must have."""
    active = await database.read(lambda connection: flow_versions.active(connection, "demande", chat_id))
    assert active is not None
    return active.version


# --- the database file ----------------------------------------------------------------------


async def test_opening_a_new_file_creates_the_schema(database: Database) -> None:
    names = {row[0] for row in await database.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "chats",
        "flow_versions",
        "active_flows",
        "flow_sessions",
        "requests",
        "request_answers",
        "processed_updates",
    } <= names


async def test_migrations_set_the_user_version_to_the_last_one(database: Database) -> None:
    assert await scalar(database, "PRAGMA user_version") == migration_numbers()[-1]


async def test_a_database_of_the_previous_release_gets_every_later_migration(tmp_path: Path) -> None:
    """A file the bot before issue 10 made (its last migration 0008, topics and known partners
    included) is brought up to date: the decisions' columns are added, the topics' are kept."""
    path = tmp_path / "bot.sqlite3"
    first = await Database.open(path)
    await first.close()
    with sqlite3.connect(path) as older:  # as if 0009 and later had never been applied
        older.execute("DROP INDEX outbox_pending_by_chat")  # 0015
        triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'register_version_%'"
        for (trigger,) in older.execute(triggers).fetchall():
            older.execute(f"DROP TRIGGER {trigger}")  # 0014
        for trigger in ("partner_added", "partner_gone", "request_added", "request_removed", "request_changed"):
            older.execute(f"DROP TRIGGER register_{trigger}")  # 0012
        older.execute("DROP TABLE register_counts")
        older.execute("DROP TABLE register_partners")
        for column in ("consent_rounds.reopen_reason", "requests.status_reason"):
            table, name = column.split(".")
            older.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        older.execute("DROP INDEX requests_ended_by_chat")
        older.execute("PRAGMA user_version = 8")
    again = await Database.open(path)
    try:
        for table in ("consent_rounds", "requests"):
            found = {row[1] for row in await again.fetch_all(f"PRAGMA table_info({table})")}
            assert {
                "thread_id",
                *({"reopen_reason"} if table == "consent_rounds" else {"status_reason", "origin"}),
            } <= found
        assert await scalar(again, "PRAGMA user_version") == migration_numbers()[-1]
    finally:
        await again.close()


async def test_reopening_keeps_the_data_and_runs_no_migration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bot.sqlite3"
    first = await Database.open(path)
    await first.write(lambda connection: chats.remember(connection, CHAT_A, "supergroup", "Colibris du Gard"))
    await first.close()
    with caplog.at_level(logging.INFO, logger="bot.storage.db"):
        again = await Database.open(path)
    try:
        assert not [r for r in caplog.records if "migration" in r.getMessage().lower()]
        assert await again.read(lambda connection: chats.title(connection, CHAT_A)) == "Colibris du Gard"
        assert await scalar(again, "PRAGMA user_version") == migration_numbers()[-1]
    finally:
        await again.close()


async def test_the_first_opening_logs_each_migration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.storage.db"):
        database = await Database.open(tmp_path / "new.sqlite3")
    await database.close()
    assert len([r for r in caplog.records if "migration" in r.getMessage().lower()]) == len(migration_numbers())


async def test_the_journal_is_wal_and_foreign_keys_are_enforced(database: Database) -> None:
    assert await scalar(database, "PRAGMA journal_mode") == "wal"
    assert await scalar(database, "PRAGMA foreign_keys") == 1


async def test_a_missing_folder_is_created(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "donnees" / "bot.sqlite3")
    await database.close()
    assert (tmp_path / "donnees" / "bot.sqlite3").exists()


# --- update marks ---------------------------------------------------------------------------


async def test_old_update_marks_are_forgotten(database: Database) -> None:
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="seconds")
    await database.write(lambda connection: connection.execute("INSERT INTO processed_updates VALUES (1, ?)", (old,)))
    await database.claim(2)
    await database.forget_old_updates()
    assert [row[0] for row in await database.fetch_all("SELECT update_id FROM processed_updates")] == [2]


# --- chats ----------------------------------------------------------------------------------


async def test_a_chat_title_is_updated(database: Database) -> None:
    await database.write(lambda connection: chats.remember(connection, CHAT_A, "group", "Colibris"))
    await database.write(lambda connection: chats.remember(connection, CHAT_A, "supergroup", "Colibris du Gard"))
    assert await database.read(lambda connection: chats.title(connection, CHAT_A)) == "Colibris du Gard"
    assert await database.read(lambda connection: chats.title(connection, CHAT_B)) is None


# --- flow sessions --------------------------------------------------------------------------


def a_session(
    answers: Mapping[str, Any] | None = None,
    current: str | None = None,
    editing: bool = False,
    reminded: tuple[str, ...] = (),
) -> sessions.FlowSession:
    return sessions.FlowSession(
        chat_id=ALICE,
        user_id=ALICE,
        token=sessions.new_token(),
        origin_chat_id=CHAT_A,
        author_name="Alice « Colibri »",
        state=FlowState("demande_partenariat", 1, answers or {}, current, editing, reminded),
    )


async def test_a_session_round_trips_every_kind_of_answer(database: Database) -> None:
    await with_flow(database)
    session = a_session(answers=ANSWERS, current="porteurs", editing=True, reminded=("attentes", "legerete"))
    await database.write(lambda connection: sessions.save(connection, session))
    loaded = await database.read(lambda connection: sessions.get(connection, ALICE, ALICE))
    assert loaded == session
    assert loaded.state.answers == ANSWERS
    assert type(loaded.state.answers["duree_mois"]) is int
    assert type(loaded.state.answers["competences_pro"]) is bool


async def test_a_session_at_the_summary_keeps_current_none(database: Database) -> None:
    await with_flow(database)
    session = a_session(answers={"partenaire": "Emmaüs"}, current=None)
    await database.write(lambda connection: sessions.save(connection, session))
    loaded = await database.read(lambda connection: sessions.get(connection, ALICE, ALICE))
    assert loaded is not None and loaded.state.current is None


async def test_a_session_is_found_by_its_token(database: Database) -> None:
    await with_flow(database)
    session = a_session(current="partenaire")
    await database.write(lambda connection: sessions.save(connection, session))
    assert await database.read(lambda connection: sessions.by_token(connection, session.token)) == session
    assert await database.read(lambda connection: sessions.by_token(connection, "autre")) is None


async def test_saving_again_rewrites_the_one_session_of_a_member(database: Database) -> None:
    await with_flow(database)
    first = a_session(current="partenaire")
    second = a_session(answers={"partenaire": "Emmaüs"}, current="type_partenaire")

    def save_both(connection: sqlite3.Connection) -> None:
        sessions.save(connection, first)
        sessions.save(connection, second)

    await database.write(save_both)
    assert await database.read(lambda connection: sessions.get(connection, ALICE, ALICE)) == second
    assert await database.read(lambda connection: sessions.by_token(connection, first.token)) is None
    assert await scalar(database, "SELECT COUNT(*) FROM flow_sessions") == 1


async def test_sessions_are_kept_per_chat_and_member(database: Database) -> None:
    await with_flow(database)
    mine = a_session(current="partenaire")
    other = sessions.FlowSession(CHAT_A, BOB, sessions.new_token(), CHAT_A, "Bob", mine.state)

    def save_both(connection: sqlite3.Connection) -> None:
        sessions.save(connection, mine)
        sessions.save(connection, other)

    await database.write(save_both)
    bobs = await database.read(lambda connection: sessions.get(connection, CHAT_A, BOB))
    assert bobs is not None and bobs.author_name == "Bob"
    assert await database.read(lambda connection: sessions.get(connection, CHAT_A, ALICE)) is None


async def test_a_deleted_session_is_gone(database: Database) -> None:
    await with_flow(database)
    await database.write(lambda connection: sessions.save(connection, a_session(current="partenaire")))
    assert await database.write(lambda connection: sessions.delete(connection, ALICE, ALICE)) is True
    assert await database.write(lambda connection: sessions.delete(connection, ALICE, ALICE)) is False
    assert await database.read(lambda connection: sessions.get(connection, ALICE, ALICE)) is None


async def test_a_session_needs_a_recorded_flow_version(database: Database) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        await database.write(lambda connection: sessions.save(connection, a_session(current="partenaire")))


def test_session_tokens_are_short_and_distinct() -> None:
    tokens = {sessions.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) <= 10 for t in tokens)


# --- requests -------------------------------------------------------------------------------


async def test_requests_are_numbered_per_chat(database: Database) -> None:
    await with_flow(database)
    first = await create_request(database, CHAT_A, "Alternatiba")
    second = await create_request(database, CHAT_A, "Emmaüs")
    elsewhere = await create_request(database, CHAT_B, "Weleda")
    assert (first.number, second.number, elsewhere.number) == (1, 2, 1)
    assert first.status == "submitted"


async def test_answers_are_stored_one_row_each(database: Database) -> None:
    await with_flow(database)
    created = await create_request(database, CHAT_A, "Alternatiba", ANSWERS)
    rows = await database.fetch_all(
        "SELECT step_id FROM request_answers WHERE request_id = ? ORDER BY step_id", (created.id,)
    )
    assert [row[0] for row in rows] == sorted(ANSWERS)


async def test_a_request_is_found_by_number_with_its_answers(database: Database) -> None:
    await with_flow(database)
    created = await create_request(database, CHAT_A, "<Ma & Co>", ANSWERS)
    found = await database.read(lambda connection: requests.by_number(connection, CHAT_A, 1))
    assert found == created
    assert found.answers == ANSWERS
    assert found.partner_name == "<Ma & Co>"


async def test_a_request_number_belongs_to_its_chat(database: Database) -> None:
    await with_flow(database)
    await create_request(database, CHAT_A, "Alternatiba")
    assert await database.read(lambda connection: requests.by_number(connection, CHAT_B, 1)) is None
    assert await database.read(lambda connection: requests.by_number(connection, CHAT_A, 2)) is None


async def test_a_page_lists_newest_first_with_the_total(database: Database) -> None:
    await with_flow(database)
    for partner in ("Alternatiba", "Emmaüs", "Weleda"):
        await create_request(database, CHAT_A, partner)
    await create_request(database, CHAT_B, "Mairie")
    listed, total = await database.read(lambda connection: requests.page(connection, CHAT_A, offset=0, limit=2))
    assert [(r.number, r.partner_name) for r in listed] == [(3, "Weleda"), (2, "Emmaüs")]
    assert total == 3
    rest, total = await database.read(lambda connection: requests.page(connection, CHAT_A, offset=2, limit=2))
    assert [r.number for r in rest] == [1]
    assert total == 3


async def test_an_empty_chat_has_an_empty_page(database: Database) -> None:
    assert await database.read(lambda connection: requests.page(connection, CHAT_A, offset=0, limit=5)) == ([], 0)


async def test_a_failed_transaction_does_not_use_up_a_number(database: Database) -> None:
    await with_flow(database)

    def create_then_fail(connection: sqlite3.Connection) -> None:
        a_request(connection, CHAT_A, "Perdu")
        raise RuntimeError("panne")

    with pytest.raises(RuntimeError):
        await database.write(create_then_fail)
    assert (await create_request(database, CHAT_A, "Alternatiba")).number == 1
    assert await scalar(database, "SELECT COUNT(*) FROM request_answers") == 1


async def test_the_card_message_is_remembered(database: Database) -> None:
    await with_flow(database)
    created = await create_request(database, CHAT_A, "Alternatiba")
    await database.write(lambda connection: requests.set_card_message(connection, created.id, 4242))
    assert await scalar(database, "SELECT card_message_id FROM requests WHERE id = ?", (created.id,)) == 4242


# --- flow versions --------------------------------------------------------------------------


async def test_the_disk_text_is_recorded_once_while_unchanged(database: Database) -> None:
    assert (
        await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "texte 1")) == 1
    )
    assert (
        await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "texte 1")) == 1
    )
    assert await scalar(database, "SELECT COUNT(*) FROM flow_versions") == 1
    assert await database.read(lambda connection: flow_versions.version_text(connection, "demande", 1)) == "texte 1"


async def test_a_changed_disk_text_becomes_the_next_global_version(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "texte 1"))
    assert (
        await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "texte 2")) == 2
    )
    assert await active_version(database, CHAT_A) == 2
    assert await database.read(lambda connection: flow_versions.version_text(connection, "demande", 1)) == "texte 1"
    assert await database.read(lambda connection: flow_versions.version_text(connection, "demande", 2)) == "texte 2"


async def test_versions_are_counted_per_flow(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "texte 1"))
    assert await database.write(lambda connection: flow_versions.sync_disk_version(connection, "autre", "texte 1")) == 1


async def test_a_chat_override_is_preferred_to_the_global_version(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "global"))
    own = await database.write(
        lambda connection: flow_versions.add_version(
            connection, "demande", "à nous", scope_chat_id=CHAT_A, source="upload", author_id=ALICE, author_name="Alice"
        )
    )
    assert await active_version(database, CHAT_A) == own
    assert await active_version(database, CHAT_B) == 1


async def test_a_chat_override_stays_when_the_disk_file_changes(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "global"))
    own = await database.write(
        lambda connection: flow_versions.add_version(
            connection, "demande", "à nous", scope_chat_id=CHAT_A, source="upload"
        )
    )
    newer = await database.write(
        lambda connection: flow_versions.sync_disk_version(connection, "demande", "global modifié")
    )
    assert await active_version(database, CHAT_A) == own
    assert await active_version(database, CHAT_B) == newer


async def test_an_uploaded_global_version_survives_a_restart_with_the_same_file(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "disque"))
    uploaded = await database.write(
        lambda connection: flow_versions.add_version(connection, "demande", "envoyé", scope_chat_id=0, source="upload")
    )
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "disque"))
    assert await active_version(database, CHAT_A) == uploaded


async def test_an_unknown_flow_has_no_active_version(database: Database) -> None:
    assert await database.read(lambda connection: flow_versions.active(connection, "inconnu", CHAT_A)) is None
    assert await database.read(lambda connection: flow_versions.version_text(connection, "inconnu", 1)) is None


async def test_history_lists_global_and_own_versions_newest_first(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "global 1"))
    own = await database.write(
        lambda connection: flow_versions.add_version(
            connection, "demande", "à nous", scope_chat_id=CHAT_A, source="upload", author_name="Alice"
        )
    )
    theirs = await database.write(
        lambda connection: flow_versions.add_version(
            connection, "demande", "à eux", scope_chat_id=CHAT_B, source="upload"
        )
    )
    newer = await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "global 2"))
    listed = await database.read(lambda connection: flow_versions.history(connection, "demande", CHAT_A))
    assert [(v.version, v.scope_chat_id, v.source) for v in listed] == [
        (newer, 0, "disk"),
        (own, CHAT_A, "upload"),
        (1, 0, "disk"),
    ]
    assert theirs not in [v.version for v in listed]
    assert listed[1].author_name == "Alice"


async def test_another_group_upload_is_not_visible(database: Database) -> None:
    await database.write(lambda connection: flow_versions.sync_disk_version(connection, "demande", "global"))
    theirs = await database.write(
        lambda connection: flow_versions.add_version(
            connection, "demande", "à eux", scope_chat_id=CHAT_B, source="upload"
        )
    )
    assert (
        await database.read(lambda connection: flow_versions.visible_version(connection, "demande", theirs, CHAT_A))
        is None
    )
    visible = await database.read(
        lambda connection: flow_versions.visible_version(connection, "demande", theirs, CHAT_B)
    )
    assert visible is not None and visible.version == theirs
    disk = await database.read(lambda connection: flow_versions.visible_version(connection, "demande", 1, CHAT_A))
    assert disk is not None and disk.source == "disk"
