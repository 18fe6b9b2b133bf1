"""The small condition language of the YAML flows.

A condition tests earlier answers, for example ``{answer: format, in: [recurrent, pluriannuel]}``
or ``{all: [...]}``. Steps use it to be skipped, good-practice rules to fire. Evaluation is
three-valued: a condition on an answer not given yet is *unknown* (``None``), so the engine
can count a step that may still come ("Étape 3/11") without pretending it will be skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

Answers = Mapping[str, Any]
Evaluator = Callable[[Answers], bool | None]

_OPERATORS = ("equals", "not_equals", "in_", "greater_than", "less_than", "is_empty", "shorter_than")


class Condition(BaseModel):
    """One test on an answer, or a combination (all / any / not) of conditions."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    answer: str | None = None
    equals: str | int | bool | None = None
    not_equals: str | int | bool | None = None
    in_: tuple[str | int, ...] | None = Field(default=None, alias="in")
    greater_than: float | None = None
    less_than: float | None = None
    is_empty: bool | None = None
    # For "vague" free text: an answer left empty, or of fewer characters than this.
    shorter_than: int | None = Field(default=None, gt=0)
    all_: tuple[Condition, ...] | None = Field(default=None, alias="all")
    any_: tuple[Condition, ...] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        combinators = [c for c in (self.all_, self.any_, self.not_) if c is not None]
        operators = [op for op in _OPERATORS if getattr(self, op) is not None]
        if combinators:
            if len(combinators) > 1 or self.answer is not None or operators:
                raise PydanticCustomError("condition_mixed", "condition_mixed")
            return self
        if self.answer is None:
            raise PydanticCustomError("condition_without_answer", "condition_without_answer")
        if len(operators) != 1:
            raise PydanticCustomError("condition_one_test", "condition_one_test")
        return self

    def referenced_answers(self) -> set[str]:
        """Return the ids of every answer this condition reads."""
        if self.answer is not None:
            return {self.answer}
        children = self.all_ or self.any_ or ((self.not_,) if self.not_ else ())
        return set().union(*(child.referenced_answers() for child in children))

    def evaluate(self, answers: Answers) -> bool | None:
        """Return True or False, or None while an answer it needs is still missing."""
        return self._evaluator(answers)

    def __getstate__(self) -> dict[Any, Any]:
        # The library is pickled (bot.library_cache); the evaluator, closures, is built again.
        state = super().__getstate__()
        state["__dict__"] = {name: value for name, value in state["__dict__"].items() if name != "_evaluator"}
        return state

    @cached_property
    def _evaluator(self) -> Evaluator:
        """This condition as one function of the answers, built once: the engine evaluates every
        step's and rule's condition at each answer, and a condition never changes (frozen)."""
        if self.all_ is not None:
            return _combined(tuple(child._evaluator for child in self.all_), deciding=False)
        if self.any_ is not None:
            return _combined(tuple(child._evaluator for child in self.any_), deciding=True)
        if self.not_ is not None:
            return _negation(self.not_._evaluator)
        assert self.answer is not None  # validation requires it of a test
        return _on_answer(self.answer, self._value_test())

    def _value_test(self) -> Callable[[object], bool]:
        """The test of a given answer (``None``: explicitly skipped)."""
        if (is_empty := self.is_empty) is not None:
            return lambda value: _empty(value) == is_empty
        if (limit := self.shorter_than) is not None:
            return lambda value: value is None or (isinstance(value, str) and len(value.strip()) < limit)
        if (expected := self.equals) is not None:
            return lambda value: value == expected
        if (refused := self.not_equals) is not None:
            return lambda value: value != refused
        if (listed := self.in_) is not None:
            return lambda value: value in listed
        if (floor := self.greater_than) is not None:
            return lambda value: _number(value) and value > floor
        ceiling = self.less_than
        assert ceiling is not None  # validation requires exactly one test
        return lambda value: _number(value) and value < ceiling


def _combined(children: tuple[Evaluator, ...], *, deciding: bool) -> Evaluator:
    """All of the children (one False decides) or any of them (one True decides); unknown when
    none decides and one is unknown (an answer still missing)."""

    def evaluate(answers: Answers) -> bool | None:
        unknown = False
        for child in children:
            result = child(answers)
            if result is deciding:
                return deciding
            unknown = unknown or result is None
        return None if unknown else not deciding

    return evaluate


def _negation(child: Evaluator) -> Evaluator:
    def evaluate(answers: Answers) -> bool | None:
        result = child(answers)
        return None if result is None else not result

    return evaluate


def _on_answer(answer: str, test: Callable[[object], bool]) -> Evaluator:
    def evaluate(answers: Answers) -> bool | None:
        # An explicitly skipped optional answer is stored as None: known, and empty.
        return test(answers[answer]) if answer in answers else None

    return evaluate


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: object) -> TypeGuard[int | float]:
    """Whether a number test applies: yes/no answers are bools, which Python counts as ints."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
