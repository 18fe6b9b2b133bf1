"""The register's pure rules: review dates, and the CSV file spreadsheets must open right."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from bot.core.flow_engine import Flow, FlowEngine
from bot.core.library import Library
from bot.core.loading import InvalidFile, load
from bot.core.register_rules import (
    FOLLOW_UP,
    REVIEW,
    Outcome,
    RegisterTexts,
    ReviewRules,
    add_months,
    answer_cells,
    answer_columns,
    answer_header,
    csv_document,
    first_review,
    latest_due,
    next_review,
)
from tests.unit.conftest import CONVERSATIONS
from tests.unit.helpers import faults, flow_data, line_of, make_flow

RULES = ReviewRules(default_months=6, max_months=12, follow_up_days=7, rediscuss_months=1)
DECIDED = date(2026, 6, 1)

COMPANY_THREE_YEARS = {
    "partenaire": "Jardins Weleda",
    "type_partenaire": "entreprise",
    "format": "pluriannuel",
    "duree_mois": 36,
    "date_debut": "2026-09-15",
}


def parse_csv(content: bytes) -> list[list[str]]:
    """Read the file back as a spreadsheet would: the BOM announces UTF-8, ';' separates."""
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


# --- review dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 9, 15), 12, date(2027, 9, 15)),
        (date(2026, 5, 31), 30, date(2028, 11, 30)),
    ],
)
def test_adding_months_keeps_the_day_or_takes_the_months_last(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_a_three_year_commitment_is_reviewed_a_year_after_its_start(partnership: Flow) -> None:
    kind, due = first_review(partnership, COMPANY_THREE_YEARS, DECIDED, RULES)
    assert (kind, due) == (REVIEW, date(2027, 9, 15))


def test_a_commitment_shorter_than_a_year_is_reviewed_at_its_end(partnership: Flow) -> None:
    answers = {**COMPANY_THREE_YEARS, "format": "recurrent", "duree_mois": 4}
    assert first_review(partnership, answers, DECIDED, RULES) == (REVIEW, date(2027, 1, 15))


def test_a_start_date_before_the_decision_counts_from_the_decision(partnership: Flow) -> None:
    answers = {**COMPANY_THREE_YEARS, "date_debut": "2026-01-10", "duree_mois": 6}
    assert first_review(partnership, answers, DECIDED, RULES) == (REVIEW, date(2026, 12, 1))


def test_a_one_off_partnership_gets_a_follow_up_a_week_after_its_date(partnership: Flow) -> None:
    answers = {"format": "ponctuel", "date_debut": "2026-07-04"}
    assert first_review(partnership, answers, DECIDED, RULES) == (FOLLOW_UP, date(2026, 7, 11))


def test_a_start_known_to_the_month_counts_from_its_first_day(partnership: Flow) -> None:
    answers = {**COMPANY_THREE_YEARS, "date_debut": "2026-09"}
    assert first_review(partnership, answers, DECIDED, RULES) == (REVIEW, date(2027, 9, 1))


def test_a_start_not_fixed_yet_counts_from_the_decision(partnership: Flow) -> None:
    answers = {**COMPANY_THREE_YEARS, "date_debut": None}
    assert first_review(partnership, answers, DECIDED, RULES) == (REVIEW, date(2027, 6, 1))
    one_off = {"format": "ponctuel", "date_debut": None}
    assert first_review(partnership, one_off, DECIDED, RULES) == (FOLLOW_UP, date(2026, 6, 8))


def test_without_commitment_fields_the_default_delay_applies() -> None:
    flow = make_flow()  # declares no length, start date nor one-off condition
    assert first_review(flow, {"nom": "Emmaüs"}, DECIDED, RULES) == (REVIEW, date(2026, 12, 1))


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("continue", date(2027, 6, 1)),
        ("rediscuss", date(2026, 7, 1)),
        ("end", None),
    ],
)
def test_an_answered_follow_up_sets_the_next_date(partnership: Flow, outcome: Outcome, expected: date | None) -> None:
    assert next_review(outcome, partnership, COMPANY_THREE_YEARS, DECIDED, RULES) == expected


def test_continuing_a_one_off_partnership_brings_it_back_after_the_default_delay(partnership: Flow) -> None:
    answers = {"format": "ponctuel", "date_debut": "2026-07-04"}
    assert next_review("continue", partnership, answers, DECIDED, RULES) == date(2026, 12, 1)


def test_a_days_follow_ups_wait_for_the_posting_hour() -> None:
    assert latest_due(datetime(2026, 6, 1, 9, 59), post_hour=10) == date(2026, 5, 31)
    assert latest_due(datetime(2026, 6, 1, 10, 0), post_hour=10) == date(2026, 6, 1)


def test_rules_refuse_a_default_longer_than_the_maximum() -> None:
    with pytest.raises(ValueError):
        ReviewRules(default_months=18, max_months=12, follow_up_days=7, rediscuss_months=1)


# --- the flow's register fields ------------------------------------------------------------


def test_the_request_flow_declares_its_commitment_fields(partnership: Flow) -> None:
    fields = partnership.partner_fields
    assert (fields.length_months, fields.start_date) == ("duree_mois", "date_debut")
    assert fields.expectations == ("demande", "attentes")
    assert fields.answer_by == "date_reponse"


def test_register_fields_of_the_wrong_kind_or_unknown_are_refused_with_their_lines(library: Library) -> None:
    text = (
        "id: essai\ntitle: Essai\nintro: Bonjour\n"
        "partner_fields:\n"
        "  partner: nom\n"
        "  kind: genre\n"
        "  length_months: nom\n"
        "  start_date: genre\n"
        "  expectations: [nom, budget]\n"
        "  one_off: {answer: frequence, equals: ponctuel}\n"
        "steps:\n"
        "  - {id: nom, kind: text, label: Nom, question: Nom ?}\n"
        "  - {id: genre, kind: choice, label: Genre, question: Genre ?, options: [{value: a, label: A}]}\n"
    )
    with pytest.raises(InvalidFile) as refused:
        library.parse_flow(text, "essai.yaml")
    found = faults(refused.value)
    assert (
        line_of(text, "length_months"),
        "la durée d'engagement (partner_fields.length_months) doit être une étape « number », en mois",
    ) in found
    assert (
        line_of(text, "start_date"),
        "la date de début (partner_fields.start_date) doit être une étape « date »",
    ) in found
    assert (line_of(text, "expectations"), "l'étape « budget » n'existe pas dans ce parcours") in found
    assert (line_of(text, "one_off"), "l'étape « frequence » n'existe pas dans ce parcours") in found


def test_register_texts_need_every_follow_up_answer(library: Library) -> None:
    text = (CONVERSATIONS / "registre.yaml").read_text(encoding="utf-8")
    without_end = text.replace('    end: "⏹ Terminer"\n', "")
    assert without_end != text
    with pytest.raises(InvalidFile) as refused:
        load(RegisterTexts, without_end, "registre.yaml", library.validation)
    assert [message for _, message in faults(refused.value)] == ["il manque le texte des réponses : end"]


# --- the CSV file --------------------------------------------------------------------------


def test_the_csv_opens_with_accents_and_awkward_answers_intact() -> None:
    answers = [
        "Émile & Zoé ; « Les Colibris »",
        'Le "jardin" partagé',
        "Première ligne\nDeuxième ligne",
        '=HYPERLINK("http://exemple.org")',
        "+33 6 12 34 56 78",
    ]
    content = csv_document(["N°", "Réponse", "Durée (mois)"], [[i, text, 36] for i, text in enumerate(answers, 1)])
    rows = parse_csv(content)
    assert rows[0] == ["N°", "Réponse", "Durée (mois)"]
    assert [row[1] for row in rows[1:]] == [
        "Émile & Zoé ; « Les Colibris »",
        'Le "jardin" partagé',
        "Première ligne\nDeuxième ligne",
        '\'=HYPERLINK("http://exemple.org")',  # stays text: no formula runs when the file opens
        "'+33 6 12 34 56 78",
    ]
    assert rows[1][2] == "36"
    assert b"\r\n" in content


def test_empty_answers_are_empty_cells() -> None:
    assert parse_csv(csv_document(["a", "b"], [[None, "x"]]))[1] == ["", "x"]


def test_answer_cells_read_as_members_do_with_bare_numbers(library: Library, engine: FlowEngine) -> None:
    columns = answer_columns([engine.flow])
    answers = {
        "partenaire": "Jardins <Weleda> & Co",
        "type_partenaire": "entreprise",
        "duree_mois": 36,
        "date_debut": "2027-03-15",
        "lien_partenaire": "aucun",
        "attentes": None,
    }
    cells = dict(zip([c.id for c in columns], answer_cells(engine, columns, answers), strict=True))
    assert cells["partenaire"] == "Jardins <Weleda> & Co"
    assert cells["type_partenaire"] == "Entreprise"
    assert cells["duree_mois"] == 36
    assert cells["date_debut"] == "15/03/2027"
    assert cells["lien_partenaire"] == "Personne à ma connaissance"
    assert cells["attentes"] is None and cells["contact"] is None
    header = {c.id: answer_header(c, library.register.export.columns) for c in columns}
    assert header["duree_mois"] == "Durée d'engagement (mois)"
    assert header["partenaire"] == "Partenaire"


def test_columns_of_older_flow_versions_come_after_the_current_ones(library: Library) -> None:
    new = make_flow({"id": "budget", "kind": "number", "label": "Budget", "question": "Combien ?"})
    old = Flow.model_validate(flow_data({"id": "ancien", "kind": "text", "label": "Ancienne", "question": "?"}))
    assert [c.id for c in answer_columns([new, old])] == ["budget", "nom", "genre", "ancien"]
    cells = answer_cells(library.engine(old), answer_columns([new, old]), {"nom": "A", "ancien": "vieux"})
    assert cells == [None, "A", None, "vieux"]
