"""Plain helpers shared by the unit tests: inline flows, playing inputs, finding YAML lines."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.flow_engine import Choose, Flow, FlowEngine, FlowState, Input, Text, Turn
from bot.core.loading import InvalidFile

# A fixed "today" for every date question: tests never depend on the real date.
TODAY = date(2026, 6, 1)

# One valid answer per step of conversations/demande_partenariat.yaml.
VALID_ANSWERS: dict[str, Input] = {
    "partenaire": Text("Alternatiba"),
    "type_partenaire": Choose("association"),
    "demande": Text("Animer 5 ateliers par an"),
    "format": Choose("ponctuel"),
    "duree_mois": Text("36"),
    "date_debut": Text("15/03/2027"),
    "date_reponse": Text("01/02/2027"),
    "deja_rencontre": Choose("rencontre"),
    "attentes": Text("-"),
    "structures_contactees": Text("-"),
    "argent": Choose("aucun"),
    "competences_pro": Choose("non"),
    "mise_en_avant": Choose("groupe"),
    "lien_partenaire": Choose("aucun"),
    "lien_details": Text("Ma sœur y travaille"),
    "dimension_politique": Choose("no"),
    "porteurs": Choose("equipe_projet"),
    "contact": Text("@colibri_gard"),
}

_REGISTER_STEPS: list[dict[str, Any]] = [
    {"id": "nom", "kind": "text", "label": "Nom", "question": "Quel nom ?"},
    {
        "id": "genre",
        "kind": "choice",
        "label": "Genre",
        "question": "Quel genre ?",
        "options": [{"value": "asso", "label": "Association"}, {"value": "autre", "label": "Autre"}],
    },
]


def flow_data(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A flow as the YAML would hold it: the given steps first, then the register's steps."""
    ids = {step["id"] for step in steps}
    data: dict[str, Any] = {
        "id": "essai",
        "title": "Essai",
        "intro": "Quelques questions.",
        "steps": [*steps, *(s for s in _REGISTER_STEPS if s["id"] not in ids)],
        "partner_fields": {"partner": "nom", "kind": "genre"},
    }
    data.update(fields)
    return data


def make_flow(*steps: dict[str, Any], **fields: Any) -> Flow:
    return Flow.model_validate(flow_data(*steps, **fields))


def play(engine: FlowEngine, state: FlowState, *inputs: Input, today: date = TODAY) -> Turn:
    """Apply inputs one after the other; every one of them must be accepted."""
    turn = None
    for action in inputs:
        turn = engine.advance(state, action, today)
        assert turn.error is None, f"{action!r} refused at {state.current}: {turn.error}"
        state = turn.state
    assert turn is not None
    return turn


def answer_until(engine: FlowEngine, stop_at: str | None, overrides: dict[str, Input] | None = None) -> FlowState:
    """Answer the real flow with valid answers until ``stop_at`` is asked (None: the summary)."""
    answers = {**VALID_ANSWERS, **(overrides or {})}
    state = engine.start(1).state
    while state.current is not None and state.current != stop_at:
        state = play(engine, state, answers[state.current]).state
    assert state.current == stop_at, f"never asked {stop_at}"
    return state


def line_of(text: str, fragment: str) -> int:
    """The 1-based number of the only line of ``text`` that contains ``fragment``."""
    found = [number for number, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(found) == 1, f"{fragment!r} is on lines {found}"
    return found[0]


def faults(invalid: InvalidFile) -> list[tuple[int | None, str]]:
    """(line, message) of every error of a refused file."""
    return [(error.line, error.message) for error in invalid.errors]
