"""Storage of the circle, coordinators, consent rounds and amendments (SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.consent_rules import (
    CloseReason,
    Member,
    Outcome,
    Position,
    RoundOptions,
    Stance,
)
from bot.core.flow_engine import FlowState
from bot.storage import (
    amendments,
    circles,
    consent_rounds,
    flow_versions,
    requests,
    sessions,
)
from bot.storage.circles import Roster
from bot.storage.db import AlreadyHandled, Database
from bot.storage.sessions import FlowSession

GROUP = -1001
ANA, BEA, CAL = Member(11, "Ana"), Member(22, "Bea"), Member(33, "Cal")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bot.sqlite3")
    await database.write(
        lambda connection: flow_versions.sync_disk_version(
            connection, "demande_partenariat", "id: demande_partenariat\n"
        )
    )
    yield database
    await database.close()


async def new_request(database: Database, partner: str = "Alternatiba") -> requests.PartnershipRequest:
    async with database.transaction() as connection:
        return await requests.create(
            connection,
            chat_id=GROUP,
            author_id=ANA.user_id,
            author_name=ANA.name,
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name=partner,
            partner_kind="association",
            answers={"partenaire": partner, "porteurs": "cercle_coeur"},
        )


async def open_round(database: Database, request_id: int, conflicts: tuple[int, ...] = ()) -> int:
    async with database.transaction() as connection:
        return await consent_rounds.open_round(
            connection,
            request_id=request_id,
            chat_id=GROUP,
            opener=BEA,
            opened_at=T0,
            deadline_at=T0 + timedelta(days=7),
            options=RoundOptions(),
            roster=(CAL, BEA, ANA),
            conflicts=conflicts,
        )


async def record(
    database: Database,
    round_id: int,
    member: Member,
    position: Position,
    reason: str | None = None,
    update_id: int | None = None,
) -> bool:
    async with database.transaction(update_id) as connection:
        return await consent_rounds.record(connection, round_id, Stance(member.user_id, position, reason, T0))


async def request_row(database: Database) -> tuple:
    return tuple(await database.fetch_one("SELECT status, decided_at, version FROM requests"))


# --- rounds -------------------------------------------------------------------------------


async def test_a_round_keeps_its_roster_snapshot_and_marks_the_request_in_consent(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id, conflicts=(ANA.user_id,))
    state = await consent_rounds.state(database, round_id)
    assert state.roster == (CAL, BEA, ANA)
    assert [(s.user_id, s.position) for s in state.history] == [(ANA.user_id, Position.CONFLICT)]
    assert state.round.request_number == 1 and state.round.partner_name == "Alternatiba"
    assert state.round.deadline_at == T0 + timedelta(days=7) and state.round.is_open
    assert state.current_version == 1 == state.round.request_version
    assert await request_row(database) == ("in_consent", None, 1)


async def test_a_request_has_one_open_round_at_most(database: Database) -> None:
    request = await new_request(database)
    await open_round(database, request.id)
    with pytest.raises(sqlite3.IntegrityError):
        await open_round(database, request.id)


async def test_positions_are_kept_in_order_and_only_while_open(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id)
    assert await record(database, round_id, BEA, Position.CONSENT)
    assert await record(database, round_id, BEA, Position.OBJECTION, "Trop tôt")
    history = (await consent_rounds.state(database, round_id)).history
    assert [(s.position, s.reason) for s in history] == [(Position.CONSENT, None), (Position.OBJECTION, "Trop tôt")]

    async with database.transaction() as connection:
        assert await consent_rounds.close(
            connection,
            round_id,
            outcome=Outcome.OBJECTION,
            reason=CloseReason.EARLY,
            at=T0 + timedelta(days=1),
            closed_by=BEA.user_id,
        )
        assert not await consent_rounds.close(
            connection, round_id, outcome=Outcome.ADOPTED, reason=CloseReason.DEADLINE, at=T0
        )
    assert not await record(database, round_id, CAL, Position.CONSENT)
    state = await consent_rounds.state(database, round_id)
    assert (state.round.outcome, state.round.close_reason) == (Outcome.OBJECTION, CloseReason.EARLY)
    assert await request_row(database) == ("objection", (T0 + timedelta(days=1)).isoformat(), 1)


async def test_a_redelivered_update_records_nothing_more(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id)
    await record(database, round_id, BEA, Position.CONSENT, update_id=700)
    with pytest.raises(AlreadyHandled):
        await record(database, round_id, BEA, Position.CONSENT, update_id=700)
    assert len((await consent_rounds.state(database, round_id)).history) == 1


async def test_deadlines_reminders_and_lists(database: Database) -> None:
    first, second = await new_request(database), await new_request(database, "Emmaüs")
    first_round, second_round = await open_round(database, first.id), await open_round(database, second.id)
    async with database.transaction() as connection:
        assert await consent_rounds.mark_reminded(connection, first_round, T0)
        assert not await consent_rounds.mark_reminded(connection, first_round, T0)
    assert await consent_rounds.extend(database, first_round, T0 + timedelta(days=10), keep_reminder=False)
    extended = (await consent_rounds.state(database, first_round)).round
    assert extended.deadline_at == T0 + timedelta(days=10) and extended.reminded_at is None

    async with database.transaction() as connection:
        await consent_rounds.close(
            connection, second_round, outcome=Outcome.ADOPTED, reason=CloseReason.ALL_ANSWERED, at=T0
        )
    assert [r.id for r in await consent_rounds.open_rounds(database)] == [first_round]
    assert [r.id for r in await consent_rounds.open_rounds(database, GROUP)] == [first_round]
    assert await consent_rounds.open_rounds(database, -999) == []
    assert [r.id for r in await consent_rounds.unpublished(database)] == [second_round]
    async with database.transaction() as connection:
        assert await consent_rounds.mark_published(connection, second_round, T0)
        assert not await consent_rounds.mark_published(connection, second_round, T0)
    assert await consent_rounds.unpublished(database) == []
    assert [r.partner_name for r in await consent_rounds.decisions_since(database, GROUP, T0 - timedelta(days=30))] == [
        "Emmaüs"
    ]
    assert await consent_rounds.decisions_since(database, GROUP, T0 + timedelta(days=1)) == []
    assert not await consent_rounds.extend(database, second_round, T0, keep_reminder=True)


async def test_a_reason_prompt_is_answered_once(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id)
    await consent_rounds.add_prompt(database, GROUP, 40, round_id, CAL.user_id, "objection", T0)
    assert await consent_rounds.prompt_at(database, GROUP, 40) == consent_rounds.Prompt(
        round_id, CAL.user_id, "objection"
    )
    assert await consent_rounds.prompt_at(database, GROUP, 41) is None
    async with database.transaction() as connection:
        assert await consent_rounds.drop_prompt(connection, GROUP, 40)
        assert not await consent_rounds.drop_prompt(connection, GROUP, 40)


# --- the circle and coordinators ----------------------------------------------------------


async def test_rosters_are_kept_per_group(database: Database) -> None:
    async with database.transaction() as connection:
        assert await circles.add(connection, Roster.CIRCLE, GROUP, BEA)
        assert not await circles.add(connection, Roster.CIRCLE, GROUP, BEA)
        assert await circles.add(connection, Roster.COORDINATION, GROUP, CAL)
    assert await circles.members(database, Roster.CIRCLE, GROUP) == [BEA]
    assert await circles.contains(database, Roster.COORDINATION, GROUP, CAL.user_id)
    assert not await circles.contains(database, Roster.CIRCLE, -999, BEA.user_id)
    assert await circles.coordinated_chats(database, CAL.user_id) == [GROUP]
    async with database.transaction() as connection:
        assert await circles.remove(connection, Roster.CIRCLE, GROUP, BEA.user_id)
        assert not await circles.remove(connection, Roster.CIRCLE, GROUP, BEA.user_id)
    assert await circles.members(database, Roster.CIRCLE, GROUP) == []


async def test_a_request_to_join_is_answered_once(database: Database) -> None:
    async with database.transaction() as connection:
        assert await circles.ask_to_join(connection, GROUP, CAL)
        assert not await circles.ask_to_join(connection, GROUP, CAL)
        assert await circles.take_join_request(connection, GROUP, CAL.user_id) == CAL
        assert await circles.take_join_request(connection, GROUP, CAL.user_id) is None


async def test_admins_are_told_once_about_an_unreachable_coordinator(database: Database) -> None:
    async with database.transaction() as connection:
        await circles.add(connection, Roster.COORDINATION, GROUP, CAL)
        assert await circles.mark_unreachable(connection, GROUP, CAL.user_id)
        assert not await circles.mark_unreachable(connection, GROUP, CAL.user_id)
        await circles.mark_reachable(connection, GROUP, CAL.user_id)
        assert await circles.mark_unreachable(connection, GROUP, CAL.user_id)


# --- amendments ---------------------------------------------------------------------------


async def test_an_amendment_replaces_the_answers_and_keeps_the_former_version(database: Database) -> None:
    request = await new_request(database)
    session = FlowSession(
        chat_id=GROUP,
        user_id=ANA.user_id,
        token=sessions.new_token(),
        origin_chat_id=GROUP,
        author_name=ANA.name,
        state=FlowState("demande_partenariat", 1, answers=dict(request.answers), current=None),
    )
    async with database.transaction() as connection:
        await amendments.start(connection, session, request.id)
    assert await amendments.amended_number(database, session.token) == 1
    assert await amendments.amended_number(database, "unknown-token") is None

    answers = {"partenaire": "Alternatiba Gard", "porteurs": "equipe_projet"}
    async with database.transaction() as connection:
        version = await amendments.apply(
            connection,
            session,
            request.id,
            answers=answers,
            partner_name="Alternatiba Gard",
            partner_kind="association",
        )
    assert version == 2
    assert (await requests.by_number(database, GROUP, 1)).answers == answers
    assert await request_row(database) == ("submitted", None, 2)
    former = await database.fetch_one("SELECT version, answers FROM request_versions")
    assert former["version"] == 1 and "cercle_coeur" in former["answers"]
    assert await sessions.get(database, GROUP, ANA.user_id) is None
    assert await amendments.amended_number(database, session.token) is None
