"""``python -m bot import``: the export's file read back, every line checked, all or nothing."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, date, datetime
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from bot.catalog import FlowCatalog
from bot.core.library import Library
from bot.export import register_csv
from bot.importer import import_register
from bot.storage import flow_versions, requests, review_dates
from bot.storage.db import Database

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 12, 3)
SOURCE, TARGET = -1001, -1002


@pytest.fixture
async def catalog(database: Database, library: Library) -> FlowCatalog:
    catalog = FlowCatalog(database)
    await catalog.use(library)
    return catalog


async def add(database: Database, flow_id: str, answers: dict, **fields) -> int:
    version = (await database.read(lambda connection: flow_versions.active(connection, flow_id, SOURCE))).version
    stored = await database.write(
        partial(
            requests.create,
            chat_id=SOURCE,
            author_id=5,
            author_name="Cécile",
            flow_id=flow_id,
            flow_version=version,
            partner_name=answers["partenaire"],
            partner_kind=answers["type_partenaire"],
            answers=answers,
            **fields,
        )
    )
    return stored.id


async def a_register(database: Database) -> None:
    """A request decided and reviewed, one not decided yet, and two partners known from before."""
    adopted = await add(
        database,
        "demande_partenariat",
        {
            "partenaire": "Jardins « Weleda » ; & Co",
            "type_partenaire": "entreprise",
            "demande": "=20 salariés\nune journée",
            "format": "pluriannuel",
            "duree_mois": 36,
            "date_debut": "2027-09",
            "date_reponse": "2026-05-15",
            "deja_rencontre": "pas_encore",
            "attentes": None,
            "argent": "partenaire_donne",
            "competences_pro": "benevoles",
            "mise_en_avant": "les_deux",
            "lien_partenaire": "autre_membre",
            "lien_details": "Camille y travaille",
            "porteurs": "equipe_projet",
            "contact": "+33 6 12 34 56 78",
        },
        status="adopted",
        created_at="2026-05-02T10:00:00+00:00",
        decided_at="2026-05-20T16:00:00+00:00",
    )

    def reviewed(connection: sqlite3.Connection) -> None:
        review_dates.restore(
            connection,
            adopted,
            "review",
            due_on=date(2027, 9, 1),
            last_outcome="rediscuss",
            last_on=date(2026, 11, 2),
            answered_at="2026-11-02T11:00:00+00:00",
            answered_by_name="Bea",
        )

    await database.write(reviewed)
    await add(
        database,
        "demande_partenariat",
        {
            "partenaire": "Alternatiba",
            "type_partenaire": "association",
            "demande": "Une étape du tour",
            "format": "ponctuel",
            "date_debut": None,
            "date_reponse": None,
            "lien_partenaire": "aucun",
            "contact": "@dominique",
        },
    )
    await add(
        database,
        "partenaire_connu",
        {
            "partenaire": "Emmaüs",
            "type_partenaire": "association",
            "ensemble": "Bacs incroyables comestibles",
            "depuis": "2016-03",
            "en_cours": False,
            "jusqu_a": "2019-09-14",
            "qui_connait": "Camille",
        },
        status="ended",
        origin="known",
    )
    await add(
        database,
        "partenaire_connu",
        {
            "partenaire": "École Jules Ferry",
            "type_partenaire": "ecole",
            "ensemble": "Ateliers jardin",
            "depuis": None,
            "en_cours": True,
            "qui_connait": None,
        },
        status="current",
        origin="known",
    )


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def document(
    header: list[str], lines: list[dict[str, str]], delimiter: str = ";", encoding: str = "utf-8-sig"
) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(lines)
    return buffer.getvalue().encode(encoding)


async def test_the_export_re_imported_gives_the_same_register(database: Database, catalog: FlowCatalog) -> None:
    await a_register(database)
    exported = (await register_csv(database, catalog, PARIS, SOURCE)).content
    report = await import_register(database, catalog, PARIS, TARGET, exported, TODAY)
    assert (report.imported, report.refusals, report.problem) == (4, (), None)
    assert (await register_csv(database, catalog, PARIS, TARGET)).content == exported
    assert rows(exported)[0]["Dernier suivi"] == "à rediscuter le 02/11/2026"  # a register worth comparing
    known = await database.fetch_all(
        "SELECT status, origin, card_message_id FROM requests WHERE chat_id = ? AND origin = 'known'", (TARGET,)
    )
    assert [tuple(row) for row in known] == [("ended", "known", 0), ("current", "known", 0)]
    assert [r for r in await database.read(requests.without_card) if r.chat_id == TARGET] == []  # no card to post


async def test_one_bad_line_refuses_the_whole_file_then_the_mended_file_goes_in(
    database: Database, catalog: FlowCatalog, library: Library
) -> None:
    await a_register(database)
    lines = rows((await register_csv(database, catalog, PARIS, SOURCE)).content)
    header = list(lines[0])
    lines[2]["Type de partenaire"] = "Fusée"
    lines[3]["Depuis"] = "l'an dernier"
    report = await import_register(database, catalog, PARIS, TARGET, document(header, lines), TODAY)
    texts = library.register.import_
    assert report.imported == 0 and len(report.refusals) == 2
    assert (
        report.refusals[0].startswith(texts.line.format(line=5, reason=""))
        and texts.quoted.format(value="Fusée") in report.refusals[0]
    )
    assert "Type de partenaire" in report.refusals[0] and "Depuis" in report.refusals[1]
    assert await database.fetch_all("SELECT id FROM requests WHERE chat_id = ?", (TARGET,)) == []

    lines[2]["Type de partenaire"], lines[3]["Depuis"] = "Association ou réseau", "je ne sais pas"
    mended = await import_register(database, catalog, PARIS, TARGET, document(header, lines), TODAY)
    assert (mended.imported, mended.refusals) == (4, ())


async def test_a_hand_made_list_in_windows_1252_with_commas_is_read_as_known_partners(
    database: Database, catalog: FlowCatalog
) -> None:
    header = [
        "Partenaire",
        "Type de partenaire",
        "Ce qui a été fait ensemble",
        "Depuis",
        "Toujours en cours",
        "Jusqu'à",
        "Qui le connaît dans le groupe",
    ]
    lines = [
        {
            "Partenaire": "Réseau d'échanges réciproques de savoirs",
            "Type de partenaire": "Association ou réseau",
            "Ce qui a été fait ensemble": "Ateliers couture",
            "Depuis": "rentrée 2017",
            "Toujours en cours": "non",
            "Jusqu'à": "06/2020",
            "Qui le connaît dans le groupe": "",
        },
        {
            "Partenaire": "Mairie",
            "Type de partenaire": "Collectivité ou organisme public",
            "Ce qui a été fait ensemble": "Prêt de salle",
            "Depuis": "",
            "Toujours en cours": "oui",
        },
    ]
    report = await import_register(database, catalog, PARIS, TARGET, document(header, lines, ",", "cp1252"), TODAY)
    assert (report.imported, report.refusals) == (2, ())
    stored = await database.fetch_all(
        "SELECT partner_name, status, origin, author_name FROM requests WHERE chat_id = ? ORDER BY number", (TARGET,)
    )
    assert [tuple(row)[:3] for row in stored] == [
        ("Réseau d'échanges réciproques de savoirs", "ended", "known"),
        ("Mairie", "current", "known"),
    ]
    answers = await database.fetch_all(
        "SELECT value FROM request_answers a JOIN requests r ON r.id = a.request_id"
        " WHERE r.chat_id = ? AND step_id IN ('depuis', 'jusqu_a') ORDER BY r.number, step_id",
        (TARGET,),
    )
    assert [row["value"] for row in answers] == ['"2017-09"', '"2020-06"', "null"]


async def test_the_same_file_imported_twice_adds_its_partners_once(database: Database, catalog: FlowCatalog) -> None:
    await a_register(database)
    exported = (await register_csv(database, catalog, PARIS, SOURCE)).content
    await import_register(database, catalog, PARIS, TARGET, exported, TODAY)

    again = await import_register(database, catalog, PARIS, TARGET, exported, TODAY)

    assert (again.imported, again.already_there, again.refusals, again.problem) == (0, 4, (), None)
    assert (await register_csv(database, catalog, PARIS, TARGET)).content == exported


async def test_a_line_is_left_out_only_when_its_partner_kind_and_day_are_in_the_register(
    database: Database, catalog: FlowCatalog, library: Library
) -> None:
    await a_register(database)
    lines = rows((await register_csv(database, catalog, PARIS, SOURCE)).content)
    header = list(lines[0])
    await import_register(database, catalog, PARIS, TARGET, document(header, lines), TODAY)
    filed, partner = library.register.export.columns.created, "Partenaire"
    kinds = library.flows["partenaire_connu"].flow.step("type_partenaire").options
    public = next(option.label for option in kinds if option.value == "public")
    respaced = {**lines[0], partner: f"  {lines[0][partner].upper()} "}  # the same partner
    undated = {**lines[3], filed: ""}  # the same partner, whenever it was filed
    other_day = {**lines[1], filed: "01/01/2020"}
    other_kind = {**lines[2], "Type de partenaire": public}

    report = await import_register(
        database, catalog, PARIS, TARGET, document(header, [respaced, other_day, other_kind, undated]), TODAY
    )

    assert (report.imported, report.already_there) == (2, 2)
    added = await database.fetch_all(
        "SELECT partner_name FROM requests WHERE chat_id = ? ORDER BY number DESC LIMIT 2", (TARGET,)
    )
    assert [name for (name,) in added] == [lines[2][partner], lines[1][partner]]


async def test_a_file_without_the_partner_column_is_refused_before_any_line(
    database: Database, catalog: FlowCatalog, library: Library
) -> None:
    report = await import_register(database, catalog, PARIS, TARGET, document(["Nom"], [{"Nom": "Emmaüs"}]), TODAY)
    quoted = library.register.import_.quoted
    assert report.imported == 0 and quoted.format(value="Partenaire") in report.problem
    empty = await import_register(database, catalog, PARIS, TARGET, b"\xff\xfe\x00\x00", TODAY)
    assert empty.problem.startswith(library.register.import_.unreadable.format(error="")[:10])


def test_created_and_decided_days_stay_the_groups_days() -> None:
    from bot.importer import _moment

    assert datetime.fromisoformat(_moment(date(2026, 3, 29), PARIS)).astimezone(PARIS).date() == date(2026, 3, 29)
    assert datetime.fromisoformat(_moment(date(2026, 1, 1), PARIS)).tzinfo == UTC
