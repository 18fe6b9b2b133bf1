"""Good practices: the catalogue from ``bonnes_pratiques.yaml`` and which answers call for them.

Rules live in each flow (``practices:``, a practice id and a condition on answers, evaluated
by ``Flow.triggered_practices``); the same evaluation serves the reminder shown during the
flow and the "points de vigilance" the core circle sees when it decides.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.core.flows import Identifier
from bot.core.texts import Html, Template, join, render


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Practice(_Model):
    id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=60)]
    text: Template()
    example: Template() | None = None


class PracticeCatalog(_Model):
    """The whole ``bonnes_pratiques.yaml``: the practices and how they are shown."""

    menu: Template()
    detail: Template("title", "text")
    example: Template("example")
    reminder: Template("title", "text")
    vigilance: Template("lines")
    vigilance_line: Template("title")
    button_all: Annotated[str, Field(min_length=1, max_length=64)]
    practices: Annotated[tuple[Practice, ...], Field(min_length=1, max_length=60)]
    schema_: str | None = Field(default=None, alias="$schema")

    @model_validator(mode="after")
    def _unique_ids(self) -> PracticeCatalog:
        ids = [practice.id for practice in self.practices]
        for practice_id in ids:
            if ids.count(practice_id) > 1:
                raise PydanticCustomError("duplicate_practice", "duplicate_practice", {"practice": practice_id})
        return self

    def ids(self) -> set[str]:
        return {practice.id for practice in self.practices}

    def get(self, practice_id: str) -> Practice | None:
        return next((p for p in self.practices if p.id == practice_id), None)

    def reminder_text(self, practice: Practice) -> Html:
        return render(self.reminder, title=practice.title, text=Html(practice.text))

    def detail_text(self, practice: Practice) -> Html:
        parts = [render(self.detail, title=practice.title, text=Html(practice.text))]
        if practice.example:
            parts.append(render(self.example, example=Html(practice.example)))
        return join(parts, "\n\n")

    def vigilance_text(self, practice_ids: list[str]) -> Html | None:
        """The "points de vigilance" block for these practices; None when there are none."""
        practices = [p for p in map(self.get, practice_ids) if p is not None]
        if not practices:
            return None
        lines = join([render(self.vigilance_line, title=p.title) for p in practices])
        return render(self.vigilance, lines=lines)

