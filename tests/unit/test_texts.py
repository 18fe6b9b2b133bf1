"""Templates: values are escaped, placeholders are checked when a file is loaded."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from bot.core.library import Library
from bot.core.texts import (
    NARROW_NBSP,
    Html,
    Placeholders,
    escape,
    fitting,
    join,
    plain,
    render,
    shorten,
    typography,
)


def refusal(template: str, *allowed: str) -> ErrorDetails:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(Annotated[str, Placeholders(*allowed)]).validate_python(template)
    (error,) = caught.value.errors()
    return error


def test_render_escapes_a_value() -> None:
    assert render("Partenaire : {partner}", partner="<Ma & Co>") == "Partenaire : &lt;Ma &amp; Co&gt;"


def test_render_keeps_the_template_own_html() -> None:
    assert render("<b>{title}</b>", title="Jardin & co") == "<b>Jardin &amp; co</b>"


def test_render_does_not_escape_an_html_value_twice() -> None:
    fragment = render("<i>{name}</i>", name="A & B")
    assert render("• {line}", line=fragment) == "• <i>A &amp; B</i>"


def test_render_returns_html_so_it_can_be_nested() -> None:
    assert isinstance(render("{x}", x="<"), Html)


def test_render_shows_non_text_values() -> None:
    assert render("n°{number} : {ok}", number=12, ok=None) == "n°12 : None"


def test_escape_and_join_build_html_from_member_text() -> None:
    assert join([escape("<a>"), Html("<b>b</b>")]) == "&lt;a&gt;\n<b>b</b>"


def test_template_accepts_its_declared_placeholders_and_doubled_braces() -> None:
    adapter = TypeAdapter(Annotated[str, Placeholders("number", "group")])
    text = "Demande n°{number} du groupe {group} {{sans accolade}}"
    assert adapter.validate_python(text) == text
    assert render(text, number=3, group="Gard") == "Demande n°3 du groupe Gard {sans accolade}"


def test_template_refuses_an_unknown_placeholder() -> None:
    error = refusal("Demande n°{nombre}", "number")
    assert error["type"] == "template_placeholder"
    assert error["ctx"] == {"unknown": "nombre", "allowed": "number"}


def test_template_without_placeholders_refuses_any() -> None:
    assert refusal("Bonjour {member}")["type"] == "template_placeholder"


@pytest.mark.parametrize("template", ["Un { tout seul", "Un } tout seul", "{number"])
def test_template_refuses_a_lone_brace(template: str) -> None:
    assert refusal(template, "number")["type"] == "template_syntax"


@pytest.mark.parametrize("template", ["{x.__class__}", "{x[0]}", "{x.__init__.__globals__}"])
def test_template_refuses_attribute_and_item_access_even_on_an_allowed_name(template: str) -> None:
    assert refusal(template, "x")["type"] == "template_placeholder"


@pytest.mark.parametrize(
    "template",
    [
        "{number!r}",
        "{number:>999999999}",
        # A placeholder nested in a format spec is not returned by the formatter's parse():
        # it used to pass validation and made render() crash in front of a member.
        "{number:{number.__class__}}",
        "{number:{group}}",
    ],
)
def test_template_refuses_conversions_and_format_specs(template: str) -> None:
    assert refusal(template, "number", "group")["type"] == "template_placeholder"


@pytest.mark.parametrize("template", ["{}", "{0}"])
def test_template_refuses_positional_placeholders(template: str) -> None:
    assert refusal(template, "number")["type"] == "template_placeholder"


def test_plain_is_what_members_read() -> None:
    assert plain(render("<b>{name}</b> : {answer}", name="Ana", answer="<Ma & Co>")) == "Ana : <Ma & Co>"


def test_fitting_shortens_answers_only_as_much_as_the_limit_needs() -> None:
    answer = "&" * 1000  # five characters of markup each, one for the member

    def message(preview: int | None) -> Html:
        return render("<b>Réponse</b> : {answer}", answer=answer if preview is None else shorten(answer, preview, "…"))

    assert fitting(message, 1010) == message(None), "what fits as read is not shortened"
    assert plain(fitting(message, 500)) == "Réponse : " + "&" * 400 + "…"


# --- French typography ------------------------------------------------------------------------

NNBSP = NARROW_NBSP


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Tout est juste ?", f"Tout est juste{NNBSP}?"),
        ("Tout est juste?", f"Tout est juste{NNBSP}?"),
        ("Bravo !", f"Bravo{NNBSP}!"),
        ("Attention : un lien", f"Attention{NNBSP}: un lien"),
        ("oui ; non", f"oui{NNBSP}; non"),
        ("« sur quel terrain on joue »", f"«{NNBSP}sur quel terrain on joue{NNBSP}»"),
        ("«vampiriser»", f"«{NNBSP}vampiriser{NNBSP}»"),
        ("Qui aide qui ?!", f"Qui aide qui{NNBSP}?!"),
        ("<b>{label}</b> : {answer}", f"<b>{{label}}</b>{NNBSP}: {{answer}}"),
    ],
)
def test_typography_puts_a_narrow_no_break_space_where_french_wants_one(typed: str, shown: str) -> None:
    assert typography(typed) == shown
    assert typography(shown) == shown  # applying it again changes nothing


@pytest.mark.parametrize(
    "kept",
    [
        '<a href="https://colibris.cc/groupeslocaux/?CharteSurLesConflitsDInteretsEntreActivi">charte</a>',
        "https://colibris.cc/groupeslocaux/?ReseauAreseau",
        "/aide",
        "/partenariat@colibris_bot",
        "rendez-vous à 14:30",
        "Ma &amp; Co",
        "?",
        "ligne\n: début de ligne",
    ],
)
def test_typography_never_touches_tags_addresses_commands_times_or_entities(kept: str) -> None:
    assert typography(kept) == kept


def test_the_bot_gives_every_yaml_text_its_typography_so_admins_need_not_type_it(library: Library) -> None:
    assert library.messages.flow.summary.endswith(f"Tout est juste{NNBSP}?")
    entreprises = library.practices.get("terrain_de_jeu")
    assert entreprises is not None
    assert entreprises.title == f"Convenir ensemble «{NNBSP}sur quel terrain on joue{NNBSP}»"
    assert all(" ?" not in step.question for step in library.flows["demande_partenariat"].flow.steps)


def test_error_wording_keeps_yaml_as_it_must_be_typed(library: Library) -> None:
    assert "« nom: valeur »" in library.validation.faults["not_a_mapping"]
