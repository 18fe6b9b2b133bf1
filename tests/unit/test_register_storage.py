"""The register's storage: paging by kind, planning and answering reviews, and index use."""

from __future__ import annotations

import sqlite3
from datetime import date
from functools import partial

from bot.storage import register_rows, requests, review_dates
from bot.storage.db import Database
from tests.unit.test_storage import ALICE, BOB, CHAT_A, CHAT_B, scalar, with_flow

DUE = date(2027, 3, 1)


async def add(
    database: Database, chat_id: int, partner: str, kind: str, status: str = "submitted", answers=None
) -> int:
    def change(connection: sqlite3.Connection) -> int:
        request = requests.create(
            connection,
            chat_id=chat_id,
            author_id=ALICE,
            author_name="Alice",
            flow_id="demande_partenariat",
            flow_version=1,
            partner_name=partner,
            partner_kind=kind,
            answers=answers or {"partenaire": partner},
        )
        connection.execute(
            "UPDATE requests SET status = ?, decided_at = CASE WHEN ? = 'adopted' THEN '2026-06-01T08:00:00+00:00' END"
            " WHERE id = ?",
            (status, status, request.id),
        )
        return request.id

    return await database.write(change)


async def test_a_page_groups_requests_by_kind_then_partner_name(database: Database):
    await with_flow(database)
    for partner, kind in [
        ("Weleda", "entreprise"),
        ("emmaüs", "association"),
        ("Alternatiba", "association"),
        ("École Jules Ferry", "ecole"),
        ("Biocoop", "entreprise"),
    ]:
        await add(database, CHAT_A, partner, kind)
    await add(database, CHAT_B, "Ailleurs", "association")

    first = await database.read(partial(register_rows.page, chat_id=CHAT_A, offset=0, limit=3))
    second = await database.read(partial(register_rows.page, chat_id=CHAT_A, offset=3, limit=3))
    assert [(e.partner_kind, e.partner_name) for e in first + second] == [
        ("association", "Alternatiba"),
        ("association", "emmaüs"),
        ("ecole", "École Jules Ferry"),
        ("entreprise", "Biocoop"),
        ("entreprise", "Weleda"),
    ]


async def test_counts_name_each_organisation_once_whatever_its_case(database: Database):
    await with_flow(database)
    for partner in ("Alternatiba", "ALTERNATIBA", "Emmaüs"):
        await add(database, CHAT_A, partner, "association")
    counts = await database.read(partial(register_rows.counts, chat_id=CHAT_A))
    assert (counts.requests, counts.partners) == (3, 2)


async def test_adopted_requests_are_planned_once(database: Database):
    await with_flow(database)
    adopted = await add(database, CHAT_A, "Weleda", "entreprise", "adopted", {"duree_mois": 36})
    await add(database, CHAT_A, "Emmaüs", "association", "in_consent")

    waiting = await database.read(partial(review_dates.to_plan, limit=10))
    assert [item.request_id for item in waiting] == [adopted]
    assert waiting[0].decided_at.startswith("2026-06-01")

    def plan_twice(connection: sqlite3.Connection) -> None:
        assert review_dates.plan(connection, adopted, "review", DUE)
        assert not review_dates.plan(connection, adopted, "review", DUE)

    await database.write(plan_twice)
    assert await database.read(partial(review_dates.to_plan, limit=10)) == []
    assert await scalar(database, "SELECT COUNT(*) FROM reviews") == 1


async def test_a_date_set_by_hand_before_planning_is_kept(database: Database):
    await with_flow(database)
    adopted = await add(database, CHAT_A, "Weleda", "entreprise", "adopted")

    def set_by_hand(connection: sqlite3.Connection) -> None:
        review_dates.set_date(connection, adopted, "review", date(2027, 9, 15))

    await database.write(set_by_hand)
    assert await database.read(partial(review_dates.to_plan, limit=10)) == []
    assert (await database.read(partial(review_dates.open_review, request_id=adopted))).due_on == "2027-09-15"


async def test_due_reviews_of_adopted_partnerships_are_posted_once(database: Database):
    await with_flow(database)
    adopted = await add(database, CHAT_A, "Weleda", "entreprise", "adopted")
    ended = await add(database, CHAT_A, "Biocoop", "entreprise", "adopted")

    def plan_one_ended(connection: sqlite3.Connection) -> None:
        review_dates.plan(connection, adopted, "review", DUE)
        review_dates.plan(connection, ended, "review", DUE)
        connection.execute("UPDATE requests SET status = 'ended' WHERE id = ?", (ended,))

    await database.write(plan_one_ended)

    assert await database.read(partial(review_dates.due, latest=date(2027, 2, 28), limit=10)) == []
    (review,) = await database.read(partial(review_dates.due, latest=DUE, limit=10))
    assert (review.request_id, review.chat_id, review.kind) == (adopted, CHAT_A, "review")

    def posted(connection: sqlite3.Connection) -> None:
        review_dates.mark_posted(connection, review.id, 777)

    await database.write(posted)
    assert await database.read(partial(review_dates.due, latest=DUE, limit=10)) == []
    assert (await database.read(partial(review_dates.get, review_id=review.id))).message_id == 777


async def test_moving_a_posted_review_makes_it_due_again_at_its_new_date(database: Database):
    await with_flow(database)
    adopted = await add(database, CHAT_A, "Weleda", "entreprise", "adopted")

    def plan(connection: sqlite3.Connection) -> None:
        review_dates.plan(connection, adopted, "review", DUE)

    await database.write(plan)
    (review,) = await database.read(partial(review_dates.due, latest=DUE, limit=10))

    def posted(connection: sqlite3.Connection) -> None:
        review_dates.mark_posted(connection, review.id, 777)

    await database.write(posted)

    def moved(connection: sqlite3.Connection) -> None:
        review_dates.set_date(connection, adopted, "review", date(2027, 4, 1))

    await database.write(moved)
    moved = await database.read(partial(review_dates.get, review_id=review.id))
    assert (moved.due_on, moved.message_id) == ("2027-04-01", None)
    assert [r.id for r in await database.read(partial(review_dates.due, latest=date(2027, 4, 1), limit=10))] == [
        review.id
    ]


async def test_an_answer_counts_once_and_opens_the_next_review_or_ends(database: Database):
    await with_flow(database)
    adopted = await add(database, CHAT_A, "Weleda", "entreprise", "adopted")

    def plan(connection: sqlite3.Connection) -> None:
        review_dates.plan(connection, adopted, "review", DUE)

    await database.write(plan)
    review = await database.read(partial(review_dates.open_review, request_id=adopted))

    def answer_twice(connection: sqlite3.Connection) -> None:
        assert review_dates.answer(
            connection, review, "continue", user_id=ALICE, user_name="Alice", next_on=date(2028, 3, 1)
        )
        assert not review_dates.answer(connection, review, "end", user_id=BOB, user_name="Bob", next_on=None)

    await database.write(answer_twice)
    following = await database.read(partial(review_dates.open_review, request_id=adopted))
    assert following.due_on == "2028-03-01" and following.id != review.id

    def end(connection: sqlite3.Connection) -> None:
        review_dates.answer(connection, following, "end", user_id=BOB, user_name="Bob", next_on=None)

    await database.write(end)
    assert await scalar(database, "SELECT status FROM requests WHERE id = ?", (adopted,)) == "ended"
    assert await database.read(partial(review_dates.open_review, request_id=adopted)) is None
    (entry,) = await database.read(partial(register_rows.page, chat_id=CHAT_A, offset=0, limit=10))
    assert (entry.last_outcome, entry.review_on) == ("end", None)


async def test_the_export_reads_requests_with_their_answers_in_batches_up_to_the_last_asked(
    database: Database, monkeypatch
):
    monkeypatch.setattr(register_rows, "EXPORT_BATCH", 2)
    await with_flow(database)
    for number in range(1, 6):
        await add(database, CHAT_A, f"Partenaire {number}", "association", answers={"duree_mois": number})
    last = await database.read(partial(register_rows.last_number, chat_id=CHAT_A))
    await add(database, CHAT_A, "Filed meanwhile", "association")
    batches, after = [], 0
    while batch := await database.read(partial(register_rows.batch, chat_id=CHAT_A, after=after, until=last)):
        batches.append([(entry.number, entry.answers) for entry in batch])
        after = batch[-1].number
    assert batches == [
        [(1, {"duree_mois": 1}), (2, {"duree_mois": 2})],
        [(3, {"duree_mois": 3}), (4, {"duree_mois": 4})],
        [(5, {"duree_mois": 5})],
    ]


async def plan_of(database: Database, sql: str, parameters: tuple) -> str:
    rows = await database.fetch_all(f"EXPLAIN QUERY PLAN {sql}", parameters)
    return "\n".join(row["detail"] for row in rows)


async def test_register_queries_use_indexes_not_full_scans(database: Database):
    page = await plan_of(
        database,
        "SELECT id FROM requests WHERE chat_id = ? ORDER BY partner_kind, partner_name COLLATE NOCASE, number"
        " LIMIT 10 OFFSET 20",
        (CHAT_A,),
    )
    assert "requests_register" in page and "TEMP B-TREE" not in page
    planning = await plan_of(
        database, "SELECT id FROM requests WHERE status = 'adopted' AND review_planned = 0 ORDER BY id LIMIT 10", ()
    )
    assert "requests_to_plan" in planning
    due = await plan_of(
        database, "SELECT id FROM reviews WHERE outcome IS NULL AND posted_at IS NULL AND due_on <= ?", ("2027-01-01",)
    )
    assert "reviews_due" in due
