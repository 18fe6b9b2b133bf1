"""Storage of the circle, coordinators, consent rounds and amendments (SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
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
    return await database.write(
        partial(
            requests.create,
            chat_id=GROUP,
            author_id=ANA.user_id,
            author_name=ANA.name,
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name=partner,
            partner_kind="association",
            answers={"partenaire": partner, "porteurs": "cercle_coeur"},
        )
    )


async def open_round(database: Database, request_id: int, conflicts: tuple[int, ...] = ()) -> int:
    return await database.write(
        partial(
            consent_rounds.open_round,
            request_id=request_id,
            chat_id=GROUP,
            opener=BEA,
            opened_at=T0,
            deadline_at=T0 + timedelta(days=7),
            options=RoundOptions(),
            roster=(CAL, BEA, ANA),
            conflicts=conflicts,
        )
    )


async def record(
    database: Database,
    round_id: int,
    member: Member,
    position: Position,
    reason: str | None = None,
    update_id: int | None = None,
) -> bool:
    stance = Stance(member.user_id, position, reason, T0)
    return await database.write(partial(consent_rounds.record, round_id=round_id, stance=stance), update_id)


async def state(database: Database, round_id: int) -> consent_rounds.RoundState:
    found = await database.read(partial(consent_rounds.state, round_id=round_id))
    assert found is not None
    return found


async def request_row(database: Database) -> tuple[object, ...]:
    row = await database.fetch_one("SELECT status, decided_at, version FROM requests")
    assert row is not None
    return tuple(row)


# --- rounds -------------------------------------------------------------------------------


async def test_a_round_keeps_its_roster_snapshot_and_marks_the_request_in_consent(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id, conflicts=(ANA.user_id,))
    found = await state(database, round_id)
    assert found.roster == (CAL, BEA, ANA)
    assert [(s.user_id, s.position) for s in found.history] == [(ANA.user_id, Position.CONFLICT)]
    assert found.round.request_number == 1 and found.round.partner_name == "Alternatiba"
    assert found.round.deadline_at == T0 + timedelta(days=7) and found.round.is_open
    assert found.current_version == 1 == found.round.request_version
    assert (found.round.flow_id, found.round.flow_version) == ("demande_partenariat", 1)
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
    history = (await state(database, round_id)).history
    assert [(s.position, s.reason) for s in history] == [(Position.CONSENT, None), (Position.OBJECTION, "Trop tôt")]

    def close(connection: sqlite3.Connection) -> None:
        assert consent_rounds.close(
            connection,
            round_id,
            outcome=Outcome.OBJECTION,
            reason=CloseReason.EARLY,
            at=T0 + timedelta(days=1),
            closed_by=BEA.user_id,
        )
        assert not consent_rounds.close(
            connection, round_id, outcome=Outcome.ADOPTED, reason=CloseReason.DEADLINE, at=T0
        )

    await database.write(close)
    assert not await record(database, round_id, CAL, Position.CONSENT)
    closed = await state(database, round_id)
    assert (closed.round.outcome, closed.round.close_reason) == (Outcome.OBJECTION, CloseReason.EARLY)
    assert await request_row(database) == ("objection", (T0 + timedelta(days=1)).isoformat(), 1)


async def test_a_redelivered_update_records_nothing_more(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id)
    await record(database, round_id, BEA, Position.CONSENT, update_id=700)
    with pytest.raises(AlreadyHandled):
        await record(database, round_id, BEA, Position.CONSENT, update_id=700)
    assert len((await state(database, round_id)).history) == 1


async def test_deadlines_reminders_and_lists(database: Database) -> None:
    first, second = await new_request(database), await new_request(database, "Emmaüs")
    first_round, second_round = await open_round(database, first.id), await open_round(database, second.id)

    def remind(connection: sqlite3.Connection) -> None:
        assert consent_rounds.mark_reminded(connection, first_round, T0)
        assert not consent_rounds.mark_reminded(connection, first_round, T0)

    await database.write(remind)
    later = T0 + timedelta(days=10)
    assert await database.write(
        partial(consent_rounds.extend, round_id=first_round, deadline_at=later, keep_reminder=False)
    )
    extended = (await state(database, first_round)).round
    assert extended.deadline_at == later and extended.reminded_at is None

    await database.write(
        partial(
            consent_rounds.close, round_id=second_round, outcome=Outcome.ADOPTED, reason=CloseReason.ALL_ANSWERED, at=T0
        )
    )
    assert [r.id for r in await database.read(consent_rounds.open_rounds)] == [first_round]
    assert [r.id for r in await database.read(partial(consent_rounds.open_rounds, chat_id=GROUP))] == [first_round]
    assert await database.read(partial(consent_rounds.open_rounds, chat_id=-999)) == []
    assert [r.id for r in await database.read(consent_rounds.unpublished)] == [second_round]

    def publish(connection: sqlite3.Connection) -> None:
        assert consent_rounds.mark_published(connection, second_round, T0)
        assert not consent_rounds.mark_published(connection, second_round, T0)

    await database.write(publish)
    assert await database.read(consent_rounds.unpublished) == []
    month_ago = T0 - timedelta(days=30)
    decided = await database.read(partial(consent_rounds.decisions_since, chat_id=GROUP, since=month_ago))
    assert [r.partner_name for r in decided] == ["Emmaüs"]
    tomorrow = T0 + timedelta(days=1)
    assert await database.read(partial(consent_rounds.decisions_since, chat_id=GROUP, since=tomorrow)) == []
    assert not await database.write(
        partial(consent_rounds.extend, round_id=second_round, deadline_at=T0, keep_reminder=True)
    )


async def test_a_reason_prompt_is_answered_once(database: Database) -> None:
    request = await new_request(database)
    round_id = await open_round(database, request.id)
    await database.write(
        partial(
            consent_rounds.add_prompt,
            chat_id=GROUP,
            message_id=40,
            round_id=round_id,
            user_id=CAL.user_id,
            action="objection",
            at=T0,
        )
    )
    assert await database.read(partial(consent_rounds.prompt_at, chat_id=GROUP, message_id=40)) == (
        consent_rounds.Prompt(round_id, CAL.user_id, "objection")
    )
    assert await database.read(partial(consent_rounds.prompt_at, chat_id=GROUP, message_id=41)) is None

    def answer(connection: sqlite3.Connection) -> None:
        assert consent_rounds.drop_prompt(connection, GROUP, 40)
        assert not consent_rounds.drop_prompt(connection, GROUP, 40)

    await database.write(answer)


# --- the circle and coordinators ----------------------------------------------------------


async def test_rosters_are_kept_per_group(database: Database) -> None:
    def add(connection: sqlite3.Connection) -> None:
        assert circles.add(connection, Roster.CIRCLE, GROUP, BEA)
        assert not circles.add(connection, Roster.CIRCLE, GROUP, BEA)
        assert circles.add(connection, Roster.COORDINATION, GROUP, CAL)

    def read(connection: sqlite3.Connection) -> None:
        assert circles.listed(connection, Roster.CIRCLE, GROUP) == [BEA]
        assert circles.contains(connection, Roster.COORDINATION, GROUP, CAL.user_id)
        assert not circles.contains(connection, Roster.CIRCLE, -999, BEA.user_id)
        assert circles.coordinated_chats(connection, CAL.user_id) == [GROUP]

    def remove(connection: sqlite3.Connection) -> None:
        assert circles.remove(connection, Roster.CIRCLE, GROUP, BEA.user_id)
        assert not circles.remove(connection, Roster.CIRCLE, GROUP, BEA.user_id)

    await database.write(add)
    await database.read(read)
    await database.write(remove)
    assert await database.read(partial(circles.listed, roster=Roster.CIRCLE, chat_id=GROUP)) == []


async def test_a_request_to_join_is_answered_once(database: Database) -> None:
    def ask_and_answer(connection: sqlite3.Connection) -> None:
        assert circles.ask_to_join(connection, GROUP, CAL)
        assert not circles.ask_to_join(connection, GROUP, CAL)
        assert circles.take_join_request(connection, GROUP, CAL.user_id) == CAL
        assert circles.take_join_request(connection, GROUP, CAL.user_id) is None

    await database.write(ask_and_answer)


async def test_admins_are_told_once_about_an_unreachable_coordinator(database: Database) -> None:
    def unreachable(connection: sqlite3.Connection) -> None:
        circles.add(connection, Roster.COORDINATION, GROUP, CAL)
        assert circles.mark_unreachable(connection, GROUP, CAL.user_id)
        assert not circles.mark_unreachable(connection, GROUP, CAL.user_id)
        circles.mark_reachable(connection, GROUP, CAL.user_id)
        assert circles.mark_unreachable(connection, GROUP, CAL.user_id)

    await database.write(unreachable)


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
    await database.write(partial(amendments.start, session=session, request_id=request.id))
    assert await database.read(partial(sessions.by_token, token=session.token)) == replace(session, amends=1)
    assert await database.read(partial(sessions.get, chat_id=GROUP, user_id=ANA.user_id)) == replace(session, amends=1)

    answers = {"partenaire": "Alternatiba Gard", "porteurs": "equipe_projet"}
    version = await database.write(
        partial(
            amendments.apply,
            session=session,
            request_id=request.id,
            answers=answers,
            partner_name="Alternatiba Gard",
            partner_kind="association",
        )
    )
    assert version == 2
    amended = await database.read(partial(requests.by_number, chat_id=GROUP, number=1))
    assert amended is not None and amended.answers == answers
    assert await request_row(database) == ("submitted", None, 2)
    former = await database.fetch_one("SELECT version, answers FROM request_versions")
    assert former is not None
    assert former["version"] == 1 and "cercle_coeur" in former["answers"]
    assert await database.read(partial(sessions.get, chat_id=GROUP, user_id=ANA.user_id)) is None
