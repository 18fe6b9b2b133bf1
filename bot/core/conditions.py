"""The small condition language of the YAML flows.

A condition tests earlier answers, for example ``{answer: format, in: [recurrent, pluriannuel]}``
or ``{all: [...]}``. Steps use it to be skipped, good-practice rules to fire. Evaluation is
three-valued: a condition on an answer not given yet is *unknown* (``None``), so the engine
can count a step that may still come ("Étape 3/11") without pretending it will be skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

Answers = Mapping[str, Any]

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
        if self.all_ is not None:
            results = [c.evaluate(answers) for c in self.all_]
            if False in results:
                return False
            return None if None in results else True
        if self.any_ is not None:
            results = [c.evaluate(answers) for c in self.any_]
            if True in results:
                return True
            return None if None in results else False
        if self.not_ is not None:
            result = self.not_.evaluate(answers)
            return None if result is None else not result
        if self.answer is None or self.answer not in answers:
            # An explicitly skipped optional answer is stored as None: known, and empty.
            return None
        return self._test(answers[self.answer])

    def _test(self, value: object) -> bool:
        if self.is_empty is not None:
            empty = value is None or (isinstance(value, str) and not value.strip())
            return empty == self.is_empty
        if self.shorter_than is not None:
            return value is None or (isinstance(value, str) and len(value.strip()) < self.shorter_than)
        if self.equals is not None:
            return value == self.equals
        if self.not_equals is not None:
            return value != self.not_equals
        if self.in_ is not None:
            return value in self.in_
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if self.greater_than is not None:
            return value > self.greater_than
        return self.less_than is not None and value < self.less_than
