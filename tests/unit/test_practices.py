"""The catalogue of good practices and how it is shown."""

from __future__ import annotations

import pytest

from bot.core.loading import InvalidFile, load
from bot.core.practices import PracticeCatalog

from .conftest import CONVERSATIONS
from .helpers import faults, line_of

CATALOGUE = """\
menu: "<b>Bonnes pratiques</b>"
detail: "<b>{title}</b>\\n\\n{text}"
example: "<i>Vécu : {example}</i>"
reminder: "💡 {title} : {text}"
vigilance: "<b>Points de vigilance</b>\\n{lines}"
vigilance_line: "• {title}"
button_all: Toutes
practices:
  - id: legerete
    title: Légèreté & attachement
    text: Ne pas engager le groupe <i>pour dix ans</i>.
    example: Une école demandait trois ans d'ateliers.
  - id: apartisan
    title: Rester apartisan
    text: Pas de campagne.
"""


def catalogue(validation, text: str = CATALOGUE) -> PracticeCatalog:
    return load(PracticeCatalog, text, "bonnes_pratiques.yaml", validation)


def test_the_real_catalogue_loads(library):
    assert library.practices.ids()
    assert all(library.practices.get(i).id == i for i in library.practices.ids())


def test_a_practice_id_used_twice_is_refused(validation):
    text = CATALOGUE + "  - id: legerete\n    title: Encore\n    text: Doublon.\n"
    with pytest.raises(InvalidFile) as caught:
        catalogue(validation, text)
    assert [message for _, message in faults(caught.value)] == [
        validation.faults["duplicate_practice"].format(practice="legerete")
    ]


def test_a_practice_text_with_a_placeholder_is_refused_at_its_line(validation):
    text = CATALOGUE.replace("Pas de campagne.", "Pas de {campagne}.")
    with pytest.raises(InvalidFile) as caught:
        catalogue(validation, text)
    assert faults(caught.value) == [(
        line_of(text, "{campagne}"),
        validation.faults["template_placeholder"].format(unknown="campagne", allowed="-"),
    )]


def test_a_reminder_escapes_the_plain_title_and_keeps_the_text_html(validation):
    practices = catalogue(validation)
    text = practices.reminder_text(practices.get("legerete"))
    assert text == "💡 Légèreté &amp; attachement : Ne pas engager le groupe <i>pour dix ans</i>."


def test_the_detail_shows_the_example_when_there_is_one(validation):
    practices = catalogue(validation)
    assert "Vécu : Une école" in practices.detail_text(practices.get("legerete"))
    assert "Vécu" not in practices.detail_text(practices.get("apartisan"))


def test_vigilance_lists_known_practices_in_the_given_order(validation):
    practices = catalogue(validation)
    assert practices.vigilance_text(["apartisan", "inconnue", "legerete"]) == (
        "<b>Points de vigilance</b>\n• Rester apartisan\n• Légèreté &amp; attachement"
    )


@pytest.mark.parametrize("ids", [[], ["inconnue"]])
def test_no_vigilance_block_without_a_known_practice(validation, ids):
    assert catalogue(validation).vigilance_text(ids) is None


def test_the_real_catalogue_file_is_the_one_loaded(library, validation):
    text = (CONVERSATIONS / "bonnes_pratiques.yaml").read_text(encoding="utf-8")
    assert catalogue(validation, text) == library.practices
