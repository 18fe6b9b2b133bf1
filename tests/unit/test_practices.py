"""The catalogue of good practices and how it is shown."""

from __future__ import annotations

import pytest

from bot.core.library import Library
from bot.core.loading import InvalidFile, ValidationTexts, load
from bot.core.practice_rules import Practice, PracticeCatalog
from tests.fake_telegram import as_read

from .conftest import CONVERSATIONS
from .helpers import faults, line_of

CATALOGUE = """\
menu: "<b>Bonnes pratiques</b>"
detail: "<b>{title}</b>\\n\\n{text}\\n\\n{example}\\n\\n{link}"
example: "<i>Vécu : {example}</i>"
link: '<a href="{url}">{label}</a>'
reminder: "💡 {title} - {text}\\n{example}\\n{link}"
group_reminders: "{member}\\n{reminders}"
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
    link: {url: "https://colibris.cc/groupeslocaux/?Charte&x=1", label: La charte}
"""


def catalogue(validation: ValidationTexts, text: str = CATALOGUE) -> PracticeCatalog:
    return load(PracticeCatalog, text, "bonnes_pratiques.yaml", validation)


def practice(practices: PracticeCatalog, practice_id: str) -> Practice:
    """The practice ``practice_id`` of the catalogue, which must have it."""
    found = practices.get(practice_id)
    assert found is not None, practice_id
    return found


def test_the_real_catalogue_loads(library: Library) -> None:
    assert library.practices.ids()
    assert all(practice(library.practices, i).id == i for i in library.practices.ids())


def test_a_practice_id_used_twice_is_refused(validation: ValidationTexts) -> None:
    text = CATALOGUE + "  - id: legerete\n    title: Encore\n    text: Doublon.\n"
    with pytest.raises(InvalidFile) as caught:
        catalogue(validation, text)
    assert [message for _, message in faults(caught.value)] == [
        validation.faults["duplicate_practice"].format(practice="legerete")
    ]


def test_a_practice_text_with_a_placeholder_is_refused_at_its_line(validation: ValidationTexts) -> None:
    text = CATALOGUE.replace("Pas de campagne.", "Pas de {campagne}.")
    with pytest.raises(InvalidFile) as caught:
        catalogue(validation, text)
    assert faults(caught.value) == [
        (
            line_of(text, "{campagne}"),
            validation.faults["template_placeholder"].format(unknown="campagne", allowed="-"),
        )
    ]


def test_a_reminder_escapes_the_plain_title_and_keeps_the_text_html(validation: ValidationTexts) -> None:
    practices = catalogue(validation)
    text = practices.reminder_text(practice(practices, "legerete"))
    assert text.startswith("💡 Légèreté &amp; attachement - Ne pas engager le groupe <i>pour dix ans</i>.\n")


def test_a_reminder_shows_the_lived_example_and_leaves_out_the_link_it_lacks(validation: ValidationTexts) -> None:
    practices = catalogue(validation)
    assert as_read(practices.reminder_text(practice(practices, "legerete"))).endswith(
        "\n<i>Vécu : Une école demandait trois ans d'ateliers.</i>"
    )


def test_a_reminder_shows_the_link_as_a_link_and_leaves_out_the_example_it_lacks(validation: ValidationTexts) -> None:
    practices = catalogue(validation)
    assert practices.reminder_text(practice(practices, "apartisan")) == (
        '💡 Rester apartisan - Pas de campagne.\n<a href="https://colibris.cc/groupeslocaux/?Charte&amp;x=1">'
        "La charte</a>"
    )


def test_the_detail_shows_the_example_when_there_is_one(validation: ValidationTexts) -> None:
    practices = catalogue(validation)
    assert "Vécu : Une école" in as_read(practices.detail_text(practice(practices, "legerete")))
    assert "Vécu" not in practices.detail_text(practice(practices, "apartisan"))
    assert "\n\n\n" not in practices.detail_text(practice(practices, "apartisan"))


@pytest.mark.parametrize("url", ["javascript:alert(1)", 'https://x.org/" onclick="x', "https://x.org/<b>"])
def test_a_link_that_is_not_a_web_address_is_refused(validation: ValidationTexts, url: str) -> None:
    text = CATALOGUE.replace("https://colibris.cc/groupeslocaux/?Charte&x=1", url.replace('"', '\\"'))
    with pytest.raises(InvalidFile):
        catalogue(validation, text)


def test_every_field_of_a_practice_can_be_shown_and_no_other(validation: ValidationTexts) -> None:
    text = CATALOGUE.replace('reminder: "💡 {title}', 'reminder: "{id} {title}')
    assert (
        catalogue(validation, text).reminder_text(practice(catalogue(validation), "apartisan")).startswith("apartisan ")
    )
    with pytest.raises(InvalidFile):
        catalogue(validation, CATALOGUE.replace("{title} - {text}", "{title} - {texte}"))


def test_the_real_catalogue_shows_the_lyon_charter_as_a_link(library: Library) -> None:
    conflicts = practice(library.practices, "conflits_interets")
    assert conflicts.link is not None
    assert conflicts.link.url == "https://colibris.cc/groupeslocaux/?CharteSurLesConflitsDInteretsEntreActivi"
    assert f'href="{conflicts.link.url}"' in library.practices.reminder_text(conflicts)
    assert "Vécu" in library.practices.reminder_text(conflicts)


def test_vigilance_lists_known_practices_in_the_given_order(validation: ValidationTexts) -> None:
    practices = catalogue(validation)
    assert practices.vigilance_text(["apartisan", "inconnue", "legerete"]) == (
        "<b>Points de vigilance</b>\n• Rester apartisan\n• Légèreté &amp; attachement"
    )


@pytest.mark.parametrize("ids", [[], ["inconnue"]])
def test_no_vigilance_block_without_a_known_practice(validation: ValidationTexts, ids: list[str]) -> None:
    assert catalogue(validation).vigilance_text(ids) is None


def test_the_real_catalogue_file_is_the_one_loaded(library: Library, validation: ValidationTexts) -> None:
    text = (CONVERSATIONS / "bonnes_pratiques.yaml").read_text(encoding="utf-8")
    assert catalogue(validation, text) == library.practices
