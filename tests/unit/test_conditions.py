"""The condition language: each test, three-valued combinations, and what validation refuses."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.conditions import Condition

TRUE = {"answer": "a", "equals": "x"}
FALSE = {"answer": "a", "equals": "y"}
UNKNOWN = {"answer": "missing", "equals": "x"}
ANSWERS = {"a": "x"}


def check(condition: dict[str, Any], answers: Mapping[str, object]) -> bool | None:
    return Condition.model_validate(condition).evaluate(answers)


def error_types(condition: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Condition.model_validate(condition)
    return [error["type"] for error in caught.value.errors()]


# --- single tests ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("recurrent", True), ("ponctuel", False)])
def test_equals_compares_the_answer(value: object, expected: bool) -> None:
    assert check({"answer": "format", "equals": "recurrent"}, {"format": value}) is expected


def test_equals_true_matches_a_yes_answer_only() -> None:
    condition = {"answer": "conflit_interets", "equals": True}
    assert check(condition, {"conflit_interets": True}) is True
    assert check(condition, {"conflit_interets": False}) is False


def test_equals_false_is_a_real_test_not_an_absent_one() -> None:
    condition = {"answer": "conflit_interets", "equals": False}
    assert check(condition, {"conflit_interets": False}) is True
    assert check(condition, {"conflit_interets": True}) is False


@pytest.mark.parametrize(("value", "expected"), [("ponctuel", True), ("recurrent", False)])
def test_not_equals_is_true_for_any_other_answer(value: object, expected: bool) -> None:
    assert check({"answer": "format", "not_equals": "recurrent"}, {"format": value}) is expected


@pytest.mark.parametrize(("value", "expected"), [("recurrent", True), ("pluriannuel", True), ("ponctuel", False)])
def test_in_accepts_any_listed_value(value: object, expected: bool) -> None:
    condition = {"answer": "format", "in": ["recurrent", "pluriannuel"]}
    assert check(condition, {"format": value}) is expected


@pytest.mark.parametrize(("value", "expected"), [(37, True), (36, False), (12, False)])
def test_greater_than_is_strict(value: object, expected: bool) -> None:
    assert check({"answer": "duree", "greater_than": 36}, {"duree": value}) is expected


@pytest.mark.parametrize(("value", "expected"), [(11, True), (12, False), (40, False)])
def test_less_than_is_strict(value: object, expected: bool) -> None:
    assert check({"answer": "duree", "less_than": 12}, {"duree": value}) is expected


@pytest.mark.parametrize("value", ["48", True, None])
def test_comparisons_are_false_on_what_is_not_a_number(value: object) -> None:
    assert check({"answer": "duree", "greater_than": 36}, {"duree": value}) is False
    assert check({"answer": "duree", "less_than": 100}, {"duree": value}) is False


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("", True), ("   ", True), ("à voir", False), (0, False)]
)
def test_is_empty_sees_skipped_and_blank_answers(value: object, expected: bool) -> None:
    assert check({"answer": "attentes", "is_empty": True}, {"attentes": value}) is expected
    assert check({"answer": "attentes", "is_empty": False}, {"attentes": value}) is (not expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ("à voir", True),
        ("  à voir   ", True),
        ("Des ateliers réguliers", False),
        (36, False),
        (True, False),
    ],
)
def test_shorter_than_flags_vague_text(value: object, expected: bool) -> None:
    assert check({"answer": "attentes", "shorter_than": 10}, {"attentes": value}) is expected


def test_shorter_than_must_be_positive() -> None:
    assert "greater_than" in error_types({"answer": "attentes", "shorter_than": 0})


@pytest.mark.parametrize(
    "test",
    [
        {"shorter_than": 3},
        {"equals": "x"},
        {"not_equals": "x"},
        {"in": ["x"]},
        {"greater_than": 1},
        {"less_than": 1},
        {"is_empty": True},
    ],
)
def test_a_test_on_an_answer_not_given_yet_is_unknown(test: dict[str, Any]) -> None:
    assert check({"answer": "later", **test}, {"other": "x"}) is None


# --- combinations ---------------------------------------------------------------------------


def test_all_is_false_as_soon_as_one_part_is_false_even_if_others_are_unknown() -> None:
    assert check({"all": [UNKNOWN, FALSE, TRUE]}, ANSWERS) is False


def test_all_is_unknown_while_a_part_is_unknown_and_none_is_false() -> None:
    assert check({"all": [TRUE, UNKNOWN]}, ANSWERS) is None


def test_all_is_true_when_every_part_is_true() -> None:
    assert check({"all": [TRUE, {"answer": "b", "greater_than": 1}]}, {**ANSWERS, "b": 2}) is True


def test_any_is_true_as_soon_as_one_part_is_true_even_if_others_are_unknown() -> None:
    assert check({"any": [UNKNOWN, FALSE, TRUE]}, ANSWERS) is True


def test_any_is_unknown_while_a_part_is_unknown_and_none_is_true() -> None:
    assert check({"any": [FALSE, UNKNOWN]}, ANSWERS) is None


def test_any_is_false_when_every_part_is_false() -> None:
    assert check({"any": [FALSE, {"answer": "a", "in": ["z"]}]}, ANSWERS) is False


@pytest.mark.parametrize(("inner", "expected"), [(TRUE, False), (FALSE, True), (UNKNOWN, None)])
def test_not_inverts_and_keeps_unknown_unknown(inner: dict[str, Any], expected: bool | None) -> None:
    assert check({"not": inner}, ANSWERS) is expected


def test_combinations_nest() -> None:
    condition = {"any": [{"not": TRUE}, {"all": [TRUE, {"answer": "b", "is_empty": True}]}]}
    assert check(condition, {**ANSWERS, "b": None}) is True
    assert check(condition, {**ANSWERS, "b": "rempli"}) is False
    assert check(condition, ANSWERS) is None


def test_referenced_answers_lists_every_answer_read_at_any_depth() -> None:
    condition = Condition.model_validate(
        {
            "all": [
                {"answer": "a", "equals": 1},
                {"not": {"any": [{"answer": "b", "is_empty": True}, {"answer": "c", "less_than": 3}]}},
            ]
        }
    )
    assert condition.referenced_answers() == {"a", "b", "c"}


# --- validation -----------------------------------------------------------------------------


def test_a_condition_with_two_tests_is_refused() -> None:
    assert error_types({"answer": "a", "equals": "x", "in": ["y"]}) == ["condition_one_test"]


def test_a_condition_naming_an_answer_without_a_test_is_refused() -> None:
    assert error_types({"answer": "a"}) == ["condition_one_test"]


def test_a_test_without_an_answer_is_refused() -> None:
    assert error_types({"equals": "x"}) == ["condition_without_answer"]


def test_an_empty_condition_is_refused() -> None:
    assert error_types({}) == ["condition_without_answer"]


@pytest.mark.parametrize(
    "condition",
    [
        {"all": [TRUE], "any": [FALSE]},
        {"all": [TRUE], "answer": "a"},
        {"not": TRUE, "equals": "x"},
    ],
)
def test_a_combination_mixed_with_anything_else_is_refused(condition: dict[str, Any]) -> None:
    assert error_types(condition) == ["condition_mixed"]


def test_an_invalid_part_of_a_combination_is_refused() -> None:
    assert "condition_one_test" in error_types({"all": [TRUE, {"answer": "b"}]})


def test_an_unknown_test_name_is_refused() -> None:
    assert "extra_forbidden" in error_types({"answer": "a", "equal": "x"})


def test_an_evaluated_condition_pickles_and_still_evaluates() -> None:
    # The library is pickled beside the database (bot.library_cache), conditions already used.
    condition = Condition.model_validate({"not": {"answer": "a", "in": ["x", "y"]}})
    assert condition.evaluate({"a": "z"}) is True
    restored = pickle.loads(pickle.dumps(condition))
    assert restored == condition
    assert (restored.evaluate({"a": "x"}), restored.evaluate({"a": "z"}), restored.evaluate({})) == (False, True, None)
