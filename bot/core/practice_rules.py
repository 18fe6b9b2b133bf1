"""Good practices: the catalogue from ``bonnes_pratiques.yaml`` and which answers call for them.

Rules live in each flow (``practices:``, a practice id and a condition on answers, evaluated
by ``Flow.triggered_practices``); the same evaluation serves the reminder shown during the
flow and the "points de vigilance" the core circle sees when it decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bot.core.flow_engine import Flow, Identifier
from bot.core.texts import Html, Placeholders, Template, escape, join, placeholders, render

# What a practice's detail and reminder may show: every field of a practice.
PRACTICE_FIELDS = ("id", "title", "text", "example", "link")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Model):
    """A page to read further (the Lyon group's charter): an address and the words shown."""

    # No quote or angle bracket: the address goes into an HTML attribute as written.
    url: Annotated[str, Field(pattern=r"^https?://[^\s\"'<>]+$", max_length=500)]
    label: Annotated[str, Field(min_length=1, max_length=120)]


class Practice(_Model):
    id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=60)]
    text: Template
    example: Template | None = None  # the lived example it comes from, shown as « Vécu : … »
    link: Link | None = None


class PracticeCatalog(_Model):
    """The whole ``bonnes_pratiques.yaml``: the practices and how they are shown."""

    menu: Template
    # A line of these two that holds only a field the practice lacks ({example}, {link}) is left out.
    detail: Annotated[str, Placeholders(*PRACTICE_FIELDS)]
    reminder: Annotated[str, Placeholders(*PRACTICE_FIELDS)]
    example: Annotated[str, Placeholders("example")]
    link: Annotated[str, Placeholders("url", "label")]
    # In a group, the reminders an answer calls for, addressed to the member who gave it.
    group_reminders: Annotated[str, Placeholders("member", "reminders")]
    vigilance: Annotated[str, Placeholders("lines")]
    vigilance_line: Annotated[str, Placeholders("title")]
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

    def untriggered(self, flows: Iterable[Flow]) -> list[str]:
        """The practices no rule of these flows can show: none names them, or theirs never hold."""
        reachable = set()
        for flow in flows:
            impossible = {fault.index for fault in flow.never_true() if fault.place == "practices"}
            reachable |= {rule.practice for i, rule in enumerate(flow.practices) if i not in impossible}
        return [practice.id for practice in self.practices if practice.id not in reachable]

    def get(self, practice_id: str) -> Practice | None:
        return next((p for p in self.practices if p.id == practice_id), None)

    def reminder_text(self, practice: Practice) -> Html:
        return self._fill(self.reminder, practice)

    def detail_text(self, practice: Practice) -> Html:
        return self._fill(self.detail, practice)

    def _fill(self, template: str, practice: Practice) -> Html:
        """``template`` with the practice's fields; lines that only show a missing field are dropped."""
        values: dict[str, Html | None] = {
            "id": escape(practice.id),
            "title": escape(practice.title),
            "text": Html(practice.text),
            "example": render(self.example, example=Html(practice.example)) if practice.example else None,
            "link": render(self.link, url=practice.link.url, label=practice.link.label) if practice.link else None,
        }
        missing = {name for name, value in values.items() if value is None}
        kept = [
            line
            for line in template.split("\n")
            if not (placeholders(line) and placeholders(line) <= missing and not _PLACEHOLDER.sub("", line).strip())
        ]
        filled = render("\n".join(kept), **{name: value or Html("") for name, value in values.items()})
        return Html(re.sub(r"\n{3,}", "\n\n", filled).strip())

    def vigilance_text(self, practice_ids: list[str]) -> Html | None:
        """The "points de vigilance" block for these practices; None when there are none."""
        practices = [p for p in map(self.get, practice_ids) if p is not None]
        if not practices:
            return None
        lines = join([render(self.vigilance_line, title=p.title) for p in practices])
        return render(self.vigilance, lines=lines)
