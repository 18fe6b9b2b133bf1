"""The flow engine, on the real partnership flow and on small inline flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from bot.core.flow_engine import (
    Back,
    ChoiceStep,
    Choose,
    Confirm,
    Edit,
    Flow,
    FlowEngine,
    FlowState,
    Input,
    Question,
    Skip,
    Summary,
    Text,
)
from bot.core.library import Library
from bot.core.messages import FlowTexts
from bot.core.texts import Html, plain, render

from .helpers import TODAY, VALID_ANSWERS, answer_until, make_flow, play

# --- helpers ----------------------------------------------------------------------------------


def single(
    engine_for: Callable[[Flow], FlowEngine], step: dict[str, Any], **fields: Any
) -> tuple[FlowEngine, FlowState]:
    """The engine of a flow whose first question is ``step``, and its starting state."""
    engine = engine_for(make_flow(step, **fields))
    return engine, engine.start(1).state


def refused(engine: FlowEngine, state: FlowState, action: Input, today: date = TODAY) -> Html:
    """Apply an input that must be refused; check nothing moved and return the error."""
    turn = engine.advance(state, action, today)
    assert turn.error is not None, f"{action!r} was accepted"
    assert turn.state == state
    assert not turn.done
    assert turn.prompt == engine.prompt(state)
    return turn.error


def accepted(engine: FlowEngine, state: FlowState, action: Input, today: date = TODAY) -> Any:
    """The value an accepted input stored for the current step."""
    step_id = state.current
    assert step_id is not None, "the flow is at its summary"
    return play(engine, state, action, today=today).state.answers[step_id]


def question(prompt: Question | Summary) -> Question:
    """The prompt, which must be a question."""
    assert isinstance(prompt, Question), prompt
    return prompt


def summary(prompt: Question | Summary) -> Summary:
    """The prompt, which must be the summary."""
    assert isinstance(prompt, Summary), prompt
    return prompt


def option_label(flow: Flow, step_id: str, value: str) -> str:
    """The label of the option ``value`` of the choice step ``step_id``."""
    step = flow.step(step_id)
    assert isinstance(step, ChoiceStep), step_id
    option = step.option(value)
    assert option is not None, value
    return option.label


TEXT = {"id": "nom", "kind": "text", "label": "Nom", "question": "Quel nom ?", "min_length": 3, "max_length": 10}
OPTIONAL = {
    "id": "attentes",
    "kind": "text",
    "label": "Attentes",
    "question": "Attentes ?",
    "optional": True,
    "min_length": 3,
}
CHOICE = {
    "id": "type",
    "kind": "choice",
    "label": "Type",
    "question": "Quel type ?",
    "options": [{"value": "ecole", "label": "École / éducation"}, {"value": "entreprise", "label": "Entreprise"}],
}
YES_NO = {"id": "lien", "kind": "yes_no", "label": "Lien", "question": "Un lien ?"}
NUMBER = {
    "id": "duree",
    "kind": "number",
    "label": "Durée",
    "question": "Combien de mois ?",
    "min": 1,
    "max": 240,
    "unit": "mois",
}
DATE = {"id": "debut", "kind": "date", "label": "Début", "question": "Quand ?"}
FUTURE = {**DATE, "future_only": True}


# --- the real flow: start, counting, conditional step ---------------------------------------


def test_start_asks_the_first_question_as_number_one_of_the_questions_every_member_is_asked(
    engine: FlowEngine, partnership: Flow
) -> None:
    turn = engine.start(7)
    assert turn.state == FlowState("demande_partenariat", 7, current=partnership.steps[0].id)
    assert isinstance(turn.prompt, Question)
    assert turn.prompt.step == partnership.steps[0]
    # Nothing is answered yet: only the questions without a condition are sure to come.
    unconditional = [s for s in partnership.steps if s.when is None]
    assert (turn.prompt.number, turn.prompt.total) == (1, len(unconditional))
    assert engine.fewest_questions() == len(unconditional)
    assert turn.prompt.can_go_back is False


def test_the_intro_promises_the_questions_every_member_is_asked(engine: FlowEngine) -> None:
    assert f" {engine.fewest_questions()} " in engine.intro()
    assert "{" not in engine.intro()


def test_questions_are_numbered_in_order(engine: FlowEngine, partnership: Flow) -> None:
    state = engine.start(1).state
    prompt = question(engine.advance(state, VALID_ANSWERS["partenaire"], TODAY).prompt)
    assert (prompt.step.id, prompt.number) == (partnership.steps[1].id, 2)
    assert prompt.can_go_back is True


def test_a_one_off_association_keeps_the_short_path_and_its_total(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, "format")
    assert question(engine.prompt(state)).total == engine.fewest_questions()
    turn = play(engine, state, Choose("ponctuel"))
    assert turn.state.current == "date_debut"
    assert "duree_mois" not in turn.state.answers
    assert question(turn.prompt).total == engine.fewest_questions()
    assert question(turn.prompt).number == question(engine.prompt(state)).number + 1


def test_the_total_grows_when_an_answer_calls_for_more_questions_and_never_shrinks(engine: FlowEngine) -> None:
    """Played to the end, a request's totals only grow, and the last number is the last total."""
    for overrides in (
        {},
        {"type_partenaire": Choose("entreprise"), "lien_partenaire": Choose("auteur")},
        {"type_partenaire": Choose("ecole"), "format": Choose("pluriannuel")},
        {"type_partenaire": Choose("public"), "format": Choose("recurrent")},
    ):
        answers = {**VALID_ANSWERS, **overrides}
        state, totals, numbers = engine.start(1).state, [], []
        while state.current is not None:
            prompt = question(engine.prompt(state))
            totals.append(prompt.total)
            numbers.append(prompt.number)
            state = play(engine, state, answers[state.current]).state
        assert totals == sorted(totals), overrides
        assert numbers == list(range(1, len(numbers) + 1)) and totals[-1] == len(numbers), overrides


def questions_asked(engine: FlowEngine, overrides: dict[str, Input]) -> list[str]:
    """The steps a request with these answers (the others from VALID_ANSWERS) is asked."""
    answers, state, asked = {**VALID_ANSWERS, **overrides}, engine.start(1).state, []
    while state.current is not None:
        asked.append(state.current)
        state = play(engine, state, answers[state.current]).state
    return asked


def test_the_shipped_flow_asks_a_one_off_association_at_most_eight_questions(engine: FlowEngine) -> None:
    short = questions_asked(engine, {"type_partenaire": Choose("association"), "format": Choose("ponctuel")})
    assert len(short) <= 8
    assert len(short) == engine.fewest_questions()


@pytest.mark.parametrize(
    "overrides",
    [
        {"format": Choose("pluriannuel")},
        {"type_partenaire": Choose("entreprise")},
        {"type_partenaire": Choose("public")},
        {"lien_partenaire": Choose("les_deux")},
    ],
)
def test_lasting_company_public_and_conflict_paths_ask_more(engine: FlowEngine, overrides: dict[str, Input]) -> None:
    assert len(questions_asked(engine, overrides)) > engine.fewest_questions()


@pytest.mark.parametrize("format_", ["recurrent", "pluriannuel"])
def test_a_lasting_partnership_asks_the_duration(engine: FlowEngine, partnership: Flow, format_: str) -> None:
    state = answer_until(engine, "format")
    turn = play(engine, state, Choose(format_))
    assert turn.state.current == "duree_mois"
    assert question(turn.prompt).total > question(engine.prompt(state)).total
    assert play(engine, turn.state, Text("36")).state.answers["duree_mois"] == 36


@pytest.mark.parametrize("whose", ["auteur", "autre_membre", "les_deux"])
def test_details_of_a_link_with_the_partner_are_asked_only_when_there_is_one(
    engine: FlowEngine, partnership: Flow, whose: str
) -> None:
    state = answer_until(engine, "lien_partenaire")
    assert play(engine, state, Choose(whose)).state.current == "lien_details"
    no = play(engine, state, Choose("aucun"))
    assert no.state.current == "contact"
    assert question(no.prompt).total == engine.fewest_questions()


def test_the_summary_comes_after_the_last_question(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, partnership.steps[-1].id)
    turn = play(engine, state, VALID_ANSWERS[partnership.steps[-1].id])
    assert turn.state.current is None
    assert isinstance(turn.prompt, Summary)
    labels = [label for label, _ in turn.prompt.lines]
    assert labels == [s.label for s in partnership.steps if s.when is None]


def test_the_summary_shows_answers_as_a_member_reads_them(
    engine: FlowEngine, partnership: Flow, texts: FlowTexts
) -> None:
    state = answer_until(
        engine,
        None,
        {
            "partenaire": Text("<Ma & Co>"),
            "format": Choose("recurrent"),
            "competences_pro": Choose("non"),
            "dimension_politique": Choose("no"),
        },
    )
    lines = dict(summary(engine.prompt(state)).lines)
    label = partnership.step
    assert lines[label("partenaire").label] == "&lt;Ma &amp; Co&gt;"
    assert lines[label("type_partenaire").label] == option_label(partnership, "type_partenaire", "association")
    assert lines[label("attentes").label] == texts.skipped
    assert lines[label("duree_mois").label] == "36 mois"
    assert lines[label("date_debut").label] == "15/03/2027"
    assert lines[label("competences_pro").label] == option_label(partnership, "competences_pro", "non")
    assert lines[label("dimension_politique").label] == texts.no


# --- text steps -----------------------------------------------------------------------------


def test_a_text_answer_is_kept_without_surrounding_spaces(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, TEXT)
    assert accepted(engine, state, Text("  Emmaüs  ")) == "Emmaüs"


def test_a_too_short_text_is_refused_with_the_minimum(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, TEXT)
    assert refused(engine, state, Text(" ab ")) == render(texts.errors.text_too_short, min=3)


def test_a_too_long_text_is_refused_with_its_length(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, TEXT)
    error = refused(engine, state, Text("Villes en transition"))
    assert error == render(texts.errors.text_too_long, max=10, length=20)


def test_a_text_at_the_limits_is_accepted(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, TEXT)
    assert accepted(engine, state, Text("abc")) == "abc"
    assert accepted(engine, state, Text("a" * 10)) == "a" * 10


def test_a_step_can_word_its_own_error(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, {**TEXT, "error": "Le nom complet, s'il vous plaît."})
    assert refused(engine, state, Text("ab")) == "Le nom complet, s'il vous plaît."


@pytest.mark.parametrize("action", [Text("-"), Text(" Je ne sais PAS "), Skip()])
def test_an_optional_text_can_be_left_empty(engine_for: Callable[[Flow], FlowEngine], action: Input) -> None:
    engine, state = single(engine_for, OPTIONAL)
    turn = play(engine, state, action)
    assert turn.state.answers == {"attentes": None}
    assert turn.state.current == "nom"


def test_an_optional_text_still_checks_its_length_when_answered(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, OPTIONAL)
    assert refused(engine, state, Text("ok")) == render(texts.errors.text_too_short, min=3)


@pytest.mark.parametrize("step", [TEXT, CHOICE, YES_NO, NUMBER, DATE])
def test_a_required_question_cannot_be_skipped(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, step: dict[str, Any]
) -> None:
    engine, state = single(engine_for, step)
    assert refused(engine, state, Skip()) == render(texts.errors.required)


def test_a_dash_is_a_real_answer_to_a_required_text(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, {**TEXT, "min_length": 1})
    assert accepted(engine, state, Text("-")) == "-"


@pytest.mark.parametrize("step", [TEXT, NUMBER, DATE])
def test_a_button_press_on_a_typed_question_is_stale(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, step: dict[str, Any]
) -> None:
    engine, state = single(engine_for, step)
    assert question(engine.prompt(state)).step.buttons(texts) == ()
    assert refused(engine, state, Choose("ecole")) == texts.stale_action


@pytest.mark.parametrize("step", [CHOICE, YES_NO])
def test_each_button_of_a_question_gives_the_answer_its_label_says(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, step: dict[str, Any]
) -> None:
    engine, state = single(engine_for, step)
    buttons = question(engine.prompt(state)).step.buttons(texts)
    assert buttons
    for button in buttons:
        answer = accepted(engine, state, Choose(button.value))
        assert plain(engine.display(engine.flow.step(step["id"]), answer)) == button.label


# --- choice steps ---------------------------------------------------------------------------


def test_a_choice_is_made_with_its_button(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, CHOICE)
    assert accepted(engine, state, Choose("entreprise")) == "entreprise"


@pytest.mark.parametrize("typed", ["école / éducation", "  ÉCOLE / Éducation ", "ecole"])
def test_a_choice_can_be_typed_whatever_the_case(engine_for: Callable[[Flow], FlowEngine], typed: str) -> None:
    engine, state = single(engine_for, CHOICE)
    assert accepted(engine, state, Text(typed)) == "ecole"


@pytest.mark.parametrize("action", [Text("1"), Text("2"), Text("une école"), Choose("mairie")])
def test_a_choice_outside_the_options_is_refused(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, action: Input
) -> None:
    engine, state = single(engine_for, CHOICE)
    assert refused(engine, state, action) == render(texts.errors.choice)


# --- yes/no steps ---------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "value"), [(Choose("yes"), True), (Choose("no"), False)])
def test_yes_no_by_button(engine_for: Callable[[Flow], FlowEngine], action: Input, value: bool) -> None:
    engine, state = single(engine_for, YES_NO)
    assert accepted(engine, state, action) is value


@pytest.mark.parametrize(("typed", "value"), [("oui", True), (" Oui ", True), ("non", False), ("NON", False)])
def test_yes_no_by_typing_oui_or_non(engine_for: Callable[[Flow], FlowEngine], typed: str, value: bool) -> None:
    engine, state = single(engine_for, YES_NO)
    assert accepted(engine, state, Text(typed)) is value


@pytest.mark.parametrize("typed", ["peut-être", "1", ""])
def test_yes_no_refuses_anything_else(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, typed: str) -> None:
    engine, state = single(engine_for, YES_NO)
    assert refused(engine, state, Text(typed)) == render(texts.errors.yes_no)


# --- number steps ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "value"), [("36", 36), (" 1 ", 1), ("240", 240), ("+12", 12)])
def test_a_number_in_range_is_accepted(engine_for: Callable[[Flow], FlowEngine], typed: str, value: int) -> None:
    engine, state = single(engine_for, NUMBER)
    assert accepted(engine, state, Text(typed)) == value


def test_a_number_can_be_written_with_thousands_spaces(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, {**NUMBER, "max": None})
    assert accepted(engine, state, Text("1 500")) == 1500
    assert accepted(engine, state, Text("1\u202f500")) == 1500


@pytest.mark.parametrize("typed", ["3 ans", "douze", "2,5", "2.5", "", "36 mois"])
def test_what_is_not_a_whole_number_is_refused(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, typed: str
) -> None:
    engine, state = single(engine_for, NUMBER)
    assert refused(engine, state, Text(typed)) == render(texts.errors.number_invalid)


def test_a_number_below_the_minimum_is_refused(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, NUMBER)
    assert refused(engine, state, Text("0")) == render(texts.errors.number_too_small, min=1)
    assert refused(engine, state, Text("-5")) == render(texts.errors.number_too_small, min=1)


def test_a_number_above_the_maximum_is_refused(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, NUMBER)
    assert refused(engine, state, Text("241")) == render(texts.errors.number_too_large, max=240)


# --- date steps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("15/03/2027", "2027-03-15"),
        ("15-03-27", "2027-03-15"),
        ("15.03.2027", "2027-03-15"),
        ("5/3/2027", "2027-03-05"),
        ("15 mars 2027", "2027-03-15"),
        ("15 MARS 2027", "2027-03-15"),
        ("1er avril 2027", "2027-04-01"),
        ("14 juillet 2027", "2027-07-14"),
        ("15 août 2027", "2027-08-15"),
        ("1 décembre 2027", "2027-12-01"),
    ],
)
def test_dates_are_read_in_french_forms(engine_for: Callable[[Flow], FlowEngine], typed: str, iso: str) -> None:
    engine, state = single(engine_for, DATE)
    assert accepted(engine, state, Text(typed)) == iso


@pytest.mark.parametrize(
    "typed",
    [
        "31/02/2027",
        "29/02/2027",
        "15/13/2027",
        "32 mars 2027",
        "15 mars",
        "demain",
        "15 march 2027",
        "2027-03-15",
        "15/03/202",
    ],
)
def test_an_impossible_or_unreadable_date_is_refused(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, typed: str
) -> None:
    engine, state = single(engine_for, DATE)
    assert refused(engine, state, Text(typed)) == render(texts.errors.date_invalid)


def test_a_leap_day_exists_in_a_leap_year(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, DATE)
    assert accepted(engine, state, Text("29/02/2028")) == "2028-02-29"


def test_a_future_only_date_refuses_a_day_before_today(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, FUTURE)
    today = date(2027, 3, 16)
    assert refused(engine, state, Text("15/03/2027"), today=today) == render(texts.errors.date_in_past)


def test_a_future_only_date_is_judged_against_the_given_today(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, FUTURE)
    assert accepted(engine, state, Text("15/03/2027"), today=date(2027, 3, 15)) == "2027-03-15"
    assert accepted(engine, state, Text("15/03/2027"), today=date(2027, 3, 14)) == "2027-03-15"


def test_a_date_without_future_only_may_be_past(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine, state = single(engine_for, DATE)
    past = TODAY - timedelta(days=400)
    assert accepted(engine, state, Text(past.strftime("%d/%m/%Y"))) == past.isoformat()


OPTIONAL_DATE = {**DATE, "optional": True}


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("mars 2027", "2027-03"),
        ("Mars 2027", "2027-03"),
        ("03/2027", "2027-03"),
        ("3-2027", "2027-03"),
        ("rentrée 2027", "2027-09"),
        ("août 2015", "2015-08"),
    ],
)
def test_a_month_and_year_is_kept_as_a_month(engine_for: Callable[[Flow], FlowEngine], typed: str, stored: str) -> None:
    engine, state = single(engine_for, DATE)
    assert accepted(engine, state, Text(typed)) == stored


def test_a_month_shows_as_a_month_not_a_made_up_day(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, DATE)
    answers = play(engine, state, Text("rentrée 2027")).state.answers
    shown = dict(engine.summary(answers).lines)["Début"]
    assert shown == texts.dates.month_year.format(month=texts.months[8], year=2027)
    assert "/" not in shown


@pytest.mark.parametrize("typed", ["13/2027", "0/2027", "printemps 2027", "mars"])
def test_an_unreadable_month_is_refused(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts, typed: str) -> None:
    engine, state = single(engine_for, DATE)
    assert refused(engine, state, Text(typed)) == render(texts.errors.date_invalid)


def test_a_future_only_month_is_fine_until_it_is_over(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, FUTURE)
    assert accepted(engine, state, Text("mars 2027"), today=date(2027, 3, 31)) == "2027-03"
    assert refused(engine, state, Text("mars 2027"), today=date(2027, 4, 1)) == render(texts.dates.month_in_past)


def test_every_unknown_word_leaves_an_optional_date_unknown(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, OPTIONAL_DATE)
    for word in [*texts.dates.unknown_words, "Je ne sais pas", "Pas encore fixée.", "pas encore fixé", "-"]:
        assert accepted(engine, state, Text(word)) is None, word


def test_the_unknown_button_leaves_an_optional_date_unknown_and_says_so(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, OPTIONAL_DATE)
    turn = play(engine, state, Skip())
    assert turn.state.answers == {"debut": None}
    assert dict(engine.summary(turn.state.answers).lines)["Début"] == texts.dates.unknown


def test_a_required_date_cannot_be_left_unknown(engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts) -> None:
    engine, state = single(engine_for, DATE)
    assert refused(engine, state, Text("je ne sais pas")) == render(texts.errors.date_invalid)
    assert refused(engine, state, Skip()) == render(texts.errors.required)


def test_an_optional_date_re_asks_with_the_unknown_way_out(
    engine_for: Callable[[Flow], FlowEngine], texts: FlowTexts
) -> None:
    engine, state = single(engine_for, OPTIONAL_DATE)
    assert refused(engine, state, Text("demain")) == render(texts.dates.invalid_optional)


def test_the_request_flow_accepts_a_start_date_not_fixed_yet(engine: FlowEngine) -> None:
    state = answer_until(engine, "date_debut")
    assert play(engine, state, Text("pas encore fixée")).state.answers["date_debut"] is None


# --- Back -----------------------------------------------------------------------------------


def test_back_is_refused_on_the_first_question(engine: FlowEngine, texts: FlowTexts) -> None:
    state = engine.start(1).state
    assert refused(engine, state, Back()) == texts.cannot_go_back


def test_back_returns_to_the_previous_question_and_forgets_its_answer(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, "demande")
    turn = play(engine, state, Back())
    assert turn.state.current == "type_partenaire"
    assert set(turn.state.answers) == {"partenaire"}
    asked = question(turn.prompt)
    assert (asked.step.id, asked.number) == ("type_partenaire", 2)
    assert asked.current_answer is None


def test_back_skips_a_question_that_was_not_asked(engine: FlowEngine) -> None:
    state = answer_until(engine, "date_debut", {"format": Choose("ponctuel")})
    assert play(engine, state, Back()).state.current == "format"


def test_back_returns_to_a_conditional_question_that_was_asked(engine: FlowEngine) -> None:
    state = answer_until(engine, "date_debut", {"format": Choose("recurrent")})
    turn = play(engine, state, Back())
    assert turn.state.current == "duree_mois"
    assert "format" in turn.state.answers and "duree_mois" not in turn.state.answers


def test_back_then_answer_again_continues_where_it_was(engine: FlowEngine) -> None:
    state = answer_until(engine, "demande")
    turn = play(engine, state, Back(), Choose("entreprise"))
    assert turn.state.current == "demande"
    assert turn.state.answers["type_partenaire"] == "entreprise"


def test_back_from_the_summary_reopens_the_last_question(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, None)
    turn = play(engine, state, Back())
    assert turn.state.current == partnership.steps[-1].id
    assert partnership.steps[-1].id not in turn.state.answers


# --- summary, Edit, Confirm -----------------------------------------------------------------


def test_typing_at_the_summary_asks_to_use_the_buttons(engine: FlowEngine, texts: FlowTexts) -> None:
    state = answer_until(engine, None)
    assert refused(engine, state, Text("c'est bon")) == texts.use_buttons


def test_edit_asks_the_question_again_showing_the_current_answer(engine: FlowEngine) -> None:
    state = answer_until(engine, None)
    turn = play(engine, state, Edit("partenaire"))
    assert turn.state.current == "partenaire" and turn.state.editing
    asked = question(turn.prompt)
    assert asked.current_answer == "Alternatiba"
    assert asked.can_go_back is True


def test_answering_an_edited_question_returns_to_the_summary(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, None)
    turn = play(engine, state, Edit("partenaire"), Text("Emmaüs"))
    assert turn.state.current is None and not turn.state.editing
    assert dict(summary(turn.prompt).lines)[partnership.step("partenaire").label] == "Emmaüs"
    assert turn.state.answers["contact"] == state.answers["contact"]  # others kept


def test_back_while_editing_returns_to_the_summary_unchanged(engine: FlowEngine) -> None:
    state = answer_until(engine, None)
    turn = play(engine, state, Edit("partenaire"), Back())
    assert turn.state == state
    assert isinstance(turn.prompt, Summary)


def test_editing_the_format_to_several_years_asks_the_duration_first(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, None, {"format": Choose("ponctuel")})
    asking = play(engine, state, Edit("format"), Choose("pluriannuel"))
    assert asking.state.current == "duree_mois"
    assert isinstance(asking.prompt, Question)
    back_at_summary = play(engine, asking.state, Text("48"))
    while back_at_summary.state.current is not None:  # the other questions a long partnership adds
        back_at_summary = play(engine, back_at_summary.state, VALID_ANSWERS[back_at_summary.state.current])
    assert back_at_summary.state.current is None
    assert dict(summary(back_at_summary.prompt).lines)[partnership.step("duree_mois").label] == "48 mois"


def test_back_after_an_edit_revealed_a_question_cannot_reach_an_incomplete_summary(engine: FlowEngine) -> None:
    # Used to jump to the summary without the duration, which Confirm then accepted.
    state = answer_until(engine, None, {"format": Choose("ponctuel")})
    asking = play(engine, state, Edit("format"), Choose("pluriannuel"))
    turn = play(engine, asking.state, Back())
    assert turn.state.current == "format"
    assert not engine.advance(turn.state, Confirm(), TODAY).done
    finished = play(engine, turn.state, Choose("ponctuel"))
    assert finished.state.current is None
    assert engine.advance(finished.state, Confirm(), TODAY).done


def test_editing_the_format_back_to_one_off_drops_the_duration(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, None, {"format": Choose("recurrent")})
    assert "duree_mois" in engine.relevant_answers(state.answers)
    turn = play(engine, state, Edit("format"), Choose("ponctuel"))
    assert turn.state.current is None
    assert "duree_mois" not in engine.relevant_answers(turn.state.answers)
    labels = [label for label, _ in summary(turn.prompt).lines]
    assert partnership.step("duree_mois").label not in labels
    assert [s.id for s in engine.editable_steps(turn.state)].count("duree_mois") == 0
    done = play(engine, turn.state, Confirm())
    assert "duree_mois" not in done.state.answers


def test_relevant_answers_drops_an_answer_whose_question_no_longer_applies(engine: FlowEngine) -> None:
    answers = {"format": "ponctuel", "duree_mois": 12, "lien_partenaire": "aucun", "lien_details": "?"}
    assert engine.relevant_answers(answers) == {"format": "ponctuel", "lien_partenaire": "aucun"}


@pytest.mark.parametrize("step_id", ["duree_mois", "inconnue"])
def test_edit_of_a_question_not_in_the_summary_is_stale(engine: FlowEngine, texts: FlowTexts, step_id: str) -> None:
    state = answer_until(engine, None, {"format": Choose("ponctuel")})
    assert refused(engine, state, Edit(step_id)) == texts.stale_action


def test_edit_is_refused_before_the_summary(engine: FlowEngine, texts: FlowTexts) -> None:
    state = answer_until(engine, "format")
    assert refused(engine, state, Edit("partenaire")) == texts.stale_action


def test_confirm_is_refused_before_the_summary(engine: FlowEngine, texts: FlowTexts) -> None:
    state = answer_until(engine, "contact")
    assert refused(engine, state, Confirm()) == texts.stale_action


def test_confirm_at_the_summary_finishes_with_the_relevant_answers(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(
        engine,
        None,
        {
            "format": Choose("pluriannuel"),
            "lien_partenaire": Choose("autre_membre"),
            "type_partenaire": Choose("ecole"),
        },
    )
    turn = play(engine, state, Confirm())
    assert turn.done
    asked = {s.id for s in partnership.steps} - {"mise_en_avant", "dimension_politique"}  # not a school's
    assert set(turn.state.answers) == asked
    assert turn.state.answers["duree_mois"] == 36
    assert turn.state.answers["lien_partenaire"] == "autre_membre"
    assert turn.state.answers["attentes"] is None
    assert turn.state.answers["date_debut"] == "2027-03-15"


def test_confirm_leaves_out_questions_that_were_not_asked(engine: FlowEngine, partnership: Flow) -> None:
    turn = play(engine, answer_until(engine, None), Confirm())
    assert set(turn.state.answers) == {s.id for s in partnership.steps if s.when is None}


def test_card_lines_show_the_card_answers_in_flow_order(
    engine: FlowEngine, partnership: Flow, texts: FlowTexts
) -> None:
    state = answer_until(engine, None, {"format": Choose("recurrent")})
    lines = engine.card_lines(state.answers).split("\n")
    expected = [
        render(
            texts.summary_line,
            label=partnership.step(i).label,
            answer=engine.display(partnership.step(i), state.answers[i]),
        )
        for i in partnership.card
    ]
    assert lines == expected


# --- good-practice reminders ----------------------------------------------------------------

PRACTICE_FLOW = {
    "practices": [
        {"practice": "attentes_mutuelles", "when": {"answer": "attentes", "is_empty": True}},
        {"practice": "legerete", "when": {"answer": "duree", "greater_than": 24}},
        {"practice": "legerete", "when": {"answer": "attentes", "equals": "dix ans"}},
    ]
}


def practice_engine(engine_for: Callable[[Flow], FlowEngine]) -> FlowEngine:
    return engine_for(make_flow(OPTIONAL, NUMBER, **PRACTICE_FLOW))


def test_a_practice_is_recalled_when_its_condition_becomes_true(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine = practice_engine(engine_for)
    turn = play(engine, engine.start(1).state, Skip())
    assert turn.reminders == ("attentes_mutuelles",)
    assert turn.state.reminded == ("attentes_mutuelles:0",)  # the practice and the rule, its reason


def test_no_practice_is_recalled_while_its_condition_is_false_or_unknown(
    engine_for: Callable[[Flow], FlowEngine],
) -> None:
    engine = practice_engine(engine_for)
    turn = play(engine, engine.start(1).state, Text("Des ateliers"))
    assert turn.reminders == ()
    assert play(engine, turn.state, Text("12")).reminders == ()


def test_a_practice_is_never_recalled_twice_for_the_same_answer(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine = practice_engine(engine_for)
    first = play(engine, engine.start(1).state, Skip())
    again = play(engine, first.state, Back(), Text("-"))
    assert again.reminders == ()
    assert again.state.reminded == ("attentes_mutuelles:0",)


def test_a_practice_is_recalled_again_at_a_later_answer_for_a_new_reason(
    engine_for: Callable[[Flow], FlowEngine],
) -> None:
    engine = practice_engine(engine_for)
    first = play(engine, engine.start(1).state, Text("dix ans"))
    assert first.reminders == ("legerete",)
    second = play(engine, first.state, Text("36"))
    assert second.reminders == ("legerete",)
    assert second.state.reminded == ("legerete:2", "legerete:1")


def test_two_rules_of_one_practice_true_at_one_answer_recall_it_once(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine = engine_for(
        make_flow(
            YES_NO,
            NUMBER,
            practices=[
                {"practice": "legerete", "when": {"answer": "duree", "greater_than": 24}},
                {
                    "practice": "legerete",
                    "when": {"all": [{"answer": "lien", "equals": True}, {"answer": "duree", "greater_than": 12}]},
                },
            ],
        )
    )
    turn = play(engine, engine.start(1).state, Choose("yes"), Text("36"))
    assert turn.reminders == ("legerete",)
    assert turn.state.reminded == ("legerete:0", "legerete:1")


def test_at_most_two_practices_are_recalled_at_once_the_others_at_the_next_answer(
    engine_for: Callable[[Flow], FlowEngine],
) -> None:
    rules = [
        {"practice": p, "when": {"answer": "lien", "equals": True}} for p in ("benevolat", "legerete", "apartisan")
    ]
    engine = engine_for(make_flow(YES_NO, NUMBER, practices=rules))
    first = play(engine, engine.start(1).state, Choose("yes"))
    assert first.reminders == ("benevolat", "legerete")
    assert play(engine, first.state, Text("3")).reminders == ("apartisan",)


def test_a_session_begun_before_reasons_were_kept_is_not_recalled_again(
    engine_for: Callable[[Flow], FlowEngine],
) -> None:
    engine = practice_engine(engine_for)
    old = FlowState("essai", 1, {"attentes": "dix ans"}, current="duree", reminded=("legerete",))
    assert play(engine, old, Text("36")).reminders == ()


def test_reminders_accumulate_across_the_flow(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine = practice_engine(engine_for)
    turn = play(engine, engine.start(1).state, Skip(), Text("36"))
    assert turn.reminders == ("legerete",)
    assert turn.state.reminded == ("attentes_mutuelles:0", "legerete:1")


def test_a_refused_answer_recalls_nothing(engine_for: Callable[[Flow], FlowEngine]) -> None:
    engine = practice_engine(engine_for)
    state = play(engine, engine.start(1).state, Text("Des ateliers")).state
    assert engine.advance(state, Text("300"), TODAY).reminders == ()


# --- the real flow's practice rules -----------------------------------------------------------


def test_choosing_a_company_recalls_nothing_before_the_request_is_described(engine: FlowEngine) -> None:
    state = answer_until(engine, "type_partenaire")
    assert play(engine, state, Choose("entreprise")).reminders == ()


def test_unpaid_skills_recall_volunteering_even_after_it_was_recalled_for_a_company(engine: FlowEngine) -> None:
    state = answer_until(engine, "argent", {"type_partenaire": Choose("entreprise")})
    no_money = play(engine, state, Choose("aucun"))
    assert "benevolat" in no_money.reminders
    assert "benevolat" in play(engine, no_money.state, Choose("benevoles")).reminders


def test_an_independent_professional_recalls_the_conflicts_of_interest(engine: FlowEngine) -> None:
    state = answer_until(engine, "type_partenaire")
    assert play(engine, state, Choose("professionnel")).reminders == ("conflits_interets",)


def test_the_core_circle_carrying_a_multi_year_project_recalls_the_kembs_lesson(engine: FlowEngine) -> None:
    state = answer_until(engine, "porteurs", {"format": Choose("pluriannuel")})
    assert "legerete" in state.reminded[0]  # already for the 36 months
    assert play(engine, state, Choose("cercle_coeur")).reminders == ("legerete",)
    assert play(engine, state, Choose("equipe_projet")).reminders == ()


def test_the_practices_of_an_answer_are_recalled_right_after_it(engine: FlowEngine, partnership: Flow) -> None:
    state = answer_until(engine, "duree_mois", {"format": Choose("pluriannuel")})
    rules = [r.practice for r in partnership.practices if r.when.referenced_answers() == {"duree_mois"}]
    assert rules
    long = play(engine, state, Text("36"))
    assert set(rules) <= set(long.reminders)
    assert play(engine, state, Text("1")).reminders == ()


def test_triggered_practices_lists_each_practice_once_in_rule_order(engine_for: Callable[[Flow], FlowEngine]) -> None:
    flow = make_flow(
        YES_NO,
        NUMBER,
        practices=[
            {"practice": "benevolat", "when": {"answer": "lien", "equals": True}},
            {"practice": "legerete", "when": {"answer": "duree", "greater_than": 24}},
            {"practice": "benevolat", "when": {"answer": "duree", "greater_than": 12}},
            {"practice": "apartisan", "when": {"answer": "lien", "equals": False}},
        ],
    )
    assert flow.triggered_practices({"lien": True, "duree": 36}) == ["benevolat", "legerete"]
    assert flow.triggered_practices({"duree": 13}) == ["benevolat"]
    assert flow.triggered_practices({}) == []


def test_confirm_drops_an_answer_to_a_question_that_no_longer_applies(engine: FlowEngine) -> None:
    # A stored session may hold such an answer (saved by an older engine, or by hand).
    complete = answer_until(engine, None, {"format": Choose("ponctuel")})
    stale = FlowState(complete.flow_id, complete.flow_version, {**complete.answers, "duree_mois": 36})
    turn = play(engine, stale, Confirm())
    assert turn.done
    assert turn.state.answers == complete.answers


# --- conditions that can never be true (python -m bot check warns) ----------------------------


def test_conditions_no_answer_can_make_true_are_found_with_their_reason() -> None:
    flow = make_flow(
        CHOICE,
        YES_NO,
        NUMBER,
        OPTIONAL,
        practices=[
            {"practice": "benevolat", "when": {"answer": "type", "equals": "ecolle"}},
            {"practice": "legerete", "when": {"answer": "lien", "equals": "oui"}},
            {"practice": "apartisan", "when": {"answer": "type", "greater_than": 2}},
            {
                "practice": "apartisan",
                "when": {"any": [{"answer": "type", "in": ["x", "y"]}, {"answer": "duree", "shorter_than": 3}]},
            },
            {
                "practice": "attentes",
                "when": {"all": [{"answer": "type", "equals": "ecole"}, {"answer": "duree", "greater_than": 12}]},
            },
            {
                "practice": "attentes",
                "when": {"any": [{"answer": "type", "equals": "ecolle"}, {"answer": "attentes", "is_empty": True}]},
            },
            {"practice": "rencontre", "when": {"not": {"answer": "type", "equals": "ecolle"}}},
        ],
    )
    found = [(f.place, f.index, f.kind, f.step, f.value) for f in flow.never_true()]
    assert found == [
        ("practices", 0, "unknown_value", "type", "ecolle"),
        ("practices", 1, "unknown_value", "lien", "oui"),
        ("practices", 2, "wrong_kind", "type", "greater_than"),
        ("practices", 3, "unknown_value", "type", "x"),
        ("practices", 3, "unknown_value", "type", "y"),
        ("practices", 3, "wrong_kind", "duree", "shorter_than"),
    ]


def test_a_practice_whose_rules_never_hold_is_untriggered(library: Library) -> None:
    flow = make_flow(
        CHOICE,
        practices=[
            {"practice": "benevolat", "when": {"answer": "type", "equals": "ecolle"}},
            {"practice": "legerete", "when": {"answer": "type", "equals": "ecole"}},
        ],
    )
    untriggered = library.practices.untriggered([flow])
    assert "benevolat" in untriggered and "legerete" not in untriggered


def test_every_practice_of_the_shipped_catalogue_has_a_rule_that_can_hold(library: Library, partnership: Flow) -> None:
    assert library.practices.untriggered([partnership]) == []
    assert partnership.never_true() == []


def test_an_amended_request_recalls_only_what_a_changed_answer_calls_for_anew(engine: FlowEngine) -> None:
    filled = answer_until(
        engine,
        None,
        {"type_partenaire": Choose("entreprise"), "argent": Choose("aucun"), "competences_pro": Choose("non")},
    )
    reopened = engine.reopen(1, engine.advance(filled, Confirm(), TODAY).state.answers)
    assert isinstance(engine.prompt(reopened), Summary)
    assert play(engine, reopened, Edit("partenaire"), Text("Weleda")).reminders == ()  # benevolat was shown
    assert play(engine, reopened, Edit("competences_pro"), Choose("benevoles")).reminders == ("benevolat",)
