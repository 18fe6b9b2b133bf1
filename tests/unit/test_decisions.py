"""Deciding as the movement decides: the whole circle, someone besides the author, the right
person recused, a new round on something new, an outcome that says what comes next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.core.consent_rules import (
    CloseReason,
    Member,
    NewRound,
    Outcome,
    Position,
    Stance,
    Tally,
    first_deadline,
    new_round_refusal,
    split_reason,
)
from bot.core.flow_engine import FlowEngine
from bot.core.library import Library
from bot.core.texts import Html, plain, render
from bot.handlers import consent_views
from bot.storage.consent_rounds import Round, RoundState
from tests.unit.helpers import flow_data, make_flow

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Paris")
AUTHOR, BEA, CAL = Member(1, "Eve"), Member(2, "Bea"), Member(3, "Cal")
CIRCLE = (AUTHOR, BEA, CAL)


def stance(member: Member, position: Position, reason: str | None = None) -> Stance:
    return Stance(member.user_id, position, reason, T0)


def whole_circle(*history: Stance) -> Tally:
    return Tally.of(CIRCLE, history, 100, author_id=AUTHOR.user_id)


# --- silence never adopts ------------------------------------------------------------------


def test_a_silent_member_means_no_decision_by_default(library: Library) -> None:
    quorum = library.consent.defaults.quorum_percent
    silent = Tally.of(CIRCLE, (stance(BEA, Position.CONSENT), stance(CAL, Position.CONSENT)), quorum, AUTHOR.user_id)
    assert [m.name for m in silent.waiting] == ["Eve"]
    assert silent.outcome() is Outcome.NO_DECISION
    everyone = whole_circle(
        stance(BEA, Position.CONSENT), stance(CAL, Position.CONSENT), stance(AUTHOR, Position.STAND_ASIDE)
    )
    assert everyone.outcome() is Outcome.ADOPTED


def test_a_group_may_choose_a_lower_bar() -> None:
    lower = Tally.of(CIRCLE, (stance(BEA, Position.CONSENT), stance(CAL, Position.CONSENT)), 60, AUTHOR.user_id)
    assert not lower.whole_circle and lower.needed == 2
    assert lower.outcome() is Outcome.ADOPTED


def test_the_authors_consent_alone_never_adopts() -> None:
    alone = whole_circle(
        stance(AUTHOR, Position.CONSENT), stance(BEA, Position.STAND_ASIDE), stance(CAL, Position.STAND_ASIDE)
    )
    assert alone.everyone_answered and alone.outcome() is Outcome.NO_DECISION
    with_bea = whole_circle(
        stance(AUTHOR, Position.CONSENT),
        stance(BEA, Position.RESERVATION, "Les logos"),
        stance(CAL, Position.STAND_ASIDE),
    )
    assert with_bea.outcome() is Outcome.ADOPTED


def test_a_recused_member_neither_blocks_nor_counts() -> None:
    recused = whole_circle(
        stance(CAL, Position.CONFLICT), stance(AUTHOR, Position.CONSENT), stance(BEA, Position.CONSENT)
    )
    assert [m.name for m in recused.recused] == ["Cal"]
    assert recused.everyone_answered and recused.outcome() is Outcome.ADOPTED


# --- the right person is recused -----------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "recused"),
    [
        ({"lien_partenaire": "auteur", "lien_details": "J'y travaille"}, True),
        ({"lien_partenaire": "les_deux"}, True),
        ({"lien_partenaire": "autre_membre", "lien_details": "Camille y travaille"}, False),
        ({"lien_partenaire": "aucun"}, False),
        ({"conflit_interets": True, "conflit_details": "Camille y travaille"}, False),  # filed before the question
    ],
)
def test_only_the_authors_own_declaration_recuses_the_author(
    library: Library, answers: dict[str, Any], recused: bool
) -> None:
    assert library.consent.links.author_recused(answers) is recused


def test_the_declared_link_is_read_from_new_and_older_requests(library: Library) -> None:
    links = library.consent.links
    assert links.described({"lien_partenaire": "autre_membre", "lien_details": "Camille y travaille"}) == (
        "Camille y travaille"
    )
    assert links.described({"conflit_interets": True, "conflit_details": "Ma sœur"}) == "Ma sœur"
    assert links.described({"lien_partenaire": "aucun"}) is None


# --- a new round needs something new -------------------------------------------------------


def test_a_new_round_after_an_objection_needs_an_amendment_or_an_admins_reason() -> None:
    unchanged = {"objected_version": 1, "current_version": 1}
    assert new_round_refusal(**unchanged, reason=None, by_admin=True) is NewRound.UNCHANGED
    assert new_round_refusal(**unchanged, reason="Le partenaire a précisé", by_admin=True) is None
    assert new_round_refusal(**unchanged, reason="Je veux", by_admin=False) is NewRound.REASON_ADMINS_ONLY
    assert new_round_refusal(objected_version=1, current_version=2, reason=None, by_admin=False) is None
    assert new_round_refusal(objected_version=None, current_version=1, reason=None, by_admin=False) is None


def test_the_reason_follows_its_word_after_the_options() -> None:
    assert split_reason(["durée=3", "motif", "le", "partenaire", "a", "rappelé"], ["motif"]) == (
        ["durée=3"],
        "le partenaire a rappelé",
    )
    assert split_reason(["durée=3"], ["motif"]) == (["durée=3"], None)
    assert split_reason(["Motif"], ["motif"]) == ([], None)


def test_objectors_are_told_what_changed_but_never_the_contact(library: Library, engine: FlowEngine) -> None:
    before = {"porteurs": "cercle_coeur", "contact": "06 12 34 56 78"}
    after = {"porteurs": "equipe_projet", "contact": "07 00 00 00 00"}
    text = consent_views.changes(engine, before, after, library.consent.amend, None)
    assert "Le cercle cœur → Une équipe projet dédiée" in text
    assert "06 12" not in text and "07 00" not in text
    assert consent_views.changes(engine, before, before, library.consent.amend, None) == library.consent.amend.no_change


# --- the answer-by date ----------------------------------------------------------------------


def test_the_first_deadline_is_never_later_than_the_date_the_partner_needs_an_answer() -> None:
    opened = datetime(2026, 6, 1, 9, 0, tzinfo=ZONE)
    assert first_deadline(opened, 7, None, ZONE) == opened + timedelta(days=7)
    assert first_deadline(opened, 7, date(2026, 6, 4), ZONE) == datetime(2026, 6, 4, 0, 0, tzinfo=ZONE)
    assert first_deadline(opened, 7, date(2026, 6, 20), ZONE) == opened + timedelta(days=7)
    # Needed today: the end of the day, not a deadline already past.
    assert first_deadline(opened, 7, date(2026, 6, 1), ZONE) == datetime(2026, 6, 1, 23, 59, 59, tzinfo=ZONE)
    assert first_deadline(opened, 7, date(2026, 5, 1), ZONE) == opened + timedelta(days=7)


def test_a_flow_may_name_its_answer_by_date_step() -> None:
    step = {"id": "reponse_avant", "kind": "date", "label": "Réponse attendue", "question": "Pour quand ?"}
    flow = make_flow(step, partner_fields={"partner": "nom", "kind": "genre", "answer_by": "reponse_avant"})
    assert flow.partner_fields.answer_by == "reponse_avant"
    text = {"id": "reponse_avant", "kind": "text", "label": "Réponse attendue", "question": "Pour quand ?"}
    with pytest.raises(ValidationError, match="answer_by_not_date"):
        make_flow(text, partner_fields={"partner": "nom", "kind": "genre", "answer_by": "reponse_avant"})
    assert "answer_by" not in flow_data()["partner_fields"]


# --- the outcome -----------------------------------------------------------------------------


def closed_round(outcome: Outcome, reason: CloseReason = CloseReason.DEADLINE, quorum: int = 100) -> Round:
    return Round(
        id=1,
        request_id=1,
        request_number=4,
        partner_name="Alternatiba",
        author_id=AUTHOR.user_id,
        author_name=AUTHOR.name,
        request_version=1,
        number=1,
        chat_id=-1001,
        message_id=5,
        opened_by=2,
        opened_by_name="Bea",
        opened_at=T0,
        deadline_at=T0 + timedelta(days=7),
        quorum_percent=quorum,
        offer_stand_aside=True,
        reminded_at=None,
        status="closed",
        outcome=outcome,
        close_reason=reason,
        closed_at=T0 + timedelta(days=7),
        flow_id="demande_partenariat",
        flow_version=1,
    )


def test_an_adoption_states_its_conditions_who_answers_and_the_review_date(library: Library) -> None:
    texts = library.consent
    history = (
        stance(AUTHOR, Position.CONSENT),
        stance(BEA, Position.RESERVATION, "Co-signer les affiches"),
        stance(CAL, Position.CONSENT),
    )
    state = RoundState(closed_round(Outcome.ADOPTED, CloseReason.ALL_ANSWERED), CIRCLE, history, 1)
    text = "\n".join(consent_views.outcome_blocks(texts, state, "15/03/2027"))
    assert texts.outcomes.adopted in text
    assert texts.outcome.reservations in text
    assert render(texts.outcome.line, member="Bea", reason="Co-signer les affiches") in text
    assert plain(texts.outcome.answers_partner.format(member="Eve")) in plain(text)
    assert "15/03/2027" in text and "/revision 4" in text


def test_no_decision_names_who_did_not_answer_and_what_to_do(library: Library) -> None:
    texts = library.consent
    state = RoundState(closed_round(Outcome.NO_DECISION), CIRCLE, (stance(BEA, Position.CONSENT),), 1)
    text = "\n".join(consent_views.outcome_blocks(texts, state, "15/03/2027"))
    assert texts.outcomes.no_decision in text
    assert "Eve" in text and "Cal" in text
    assert "/prolonger 4" in text and "/consentement 4" in text
    assert "15/03/2027" not in text  # no review date without an adoption


def test_an_objection_gives_its_reasons_and_the_way_forward(library: Library) -> None:
    texts = library.consent
    history = (stance(BEA, Position.OBJECTION, "Personne pour tenir le stand"),)
    state = RoundState(closed_round(Outcome.OBJECTION), CIRCLE, history, 1)
    text = "\n".join(consent_views.outcome_blocks(texts, state))
    assert "Personne pour tenir le stand" in text and "/modifier 4" in text


def test_a_withdrawn_request_ends_its_round_without_a_decision(library: Library) -> None:
    texts = library.consent
    state = RoundState(closed_round(Outcome.NO_DECISION, CloseReason.WITHDRAWN), CIRCLE, (), 1)
    blocks = consent_views.outcome_blocks(texts, state)
    assert blocks[-1] == texts.outcome.withdrawn.format(number=4)


def test_the_proposal_states_the_rule_in_plain_words(library: Library) -> None:
    texts = library.consent
    request = consent_views.RequestView(kind=Html("Association"), substance=lambda template, preview: [])
    for quorum, rule in (
        (100, texts.round.rule_whole_circle.format(counted=3)),
        (60, texts.round.rule_quorum.format(needed=2, counted=3)),
    ):
        rnd = closed_round(Outcome.NO_DECISION, quorum=quorum)
        text = consent_views.proposal_text(texts, ZONE, RoundState(rnd, CIRCLE, (), 1), request, 4096)
        assert plain(rule) in plain(text)
