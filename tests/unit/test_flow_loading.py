"""Reading flow files: every fault is reported in French, at its line, all at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.core.flow_engine import ChoiceStep, Flow
from bot.core.library import Library, load_library, load_validation_texts
from bot.core.loading import MAX_FILE_BYTES, InvalidFile, ValidationTexts, load
from bot.core.messages import Messages

from .conftest import CONVERSATIONS
from .helpers import faults, line_of

FLOW = """\
id: essai
title: Essai
intro: Quelques questions.
partner_fields: {partner: nom, kind: genre}
steps:
  - id: nom
    kind: text
    label: Nom
    question: Quel nom ?
    max_length: 120
  - id: genre
    kind: choice
    label: Genre
    question: Quel genre ?
    options:
      - {value: asso, label: Association}
      - {value: autre, label: Autre}
  - id: duree
    kind: number
    label: Durée
    question: Combien de mois ?
    max: 240
"""


def refuse(text: str | bytes, validation: ValidationTexts, model: type[BaseModel] = Flow) -> InvalidFile:
    with pytest.raises(InvalidFile) as caught:
        load(model, text, "essai.yaml", validation)
    return caught.value


def with_step(extra: str) -> str:
    return FLOW + extra


def where(validation: ValidationTexts, step: str, field: str) -> str:
    """How an error names a field of a step, in erreurs.yaml's words."""
    return f"{validation.step.format(step=step)}, {validation.field.format(field=field)}"


def test_the_reference_flow_of_these_tests_is_valid(validation: ValidationTexts) -> None:
    flow = load(Flow, FLOW, "essai.yaml", validation)
    assert [s.id for s in flow.steps] == ["nom", "genre", "duree"]
    assert isinstance(flow.step("genre"), ChoiceStep)


def test_the_real_library_loads_with_its_flow_and_texts(library: Library) -> None:
    assert "demande_partenariat" in library.flows
    source = library.flows["demande_partenariat"]
    assert source.text == (CONVERSATIONS / "demande_partenariat.yaml").read_text(encoding="utf-8")
    assert library.parse_flow(source.text, "demande_partenariat.yaml") == source.flow
    assert isinstance(library.messages, Messages)


def test_a_duplicate_step_id_is_reported_at_the_second_step(validation: ValidationTexts) -> None:
    text = with_step("  - id: nom\n    kind: text\n    label: Autre nom\n    question: Encore ?\n")
    second = len(FLOW.splitlines()) + 1  # "- id: nom" is on two lines: the added one is at fault
    invalid = refuse(text, validation)
    assert faults(invalid) == [(second, validation.faults["duplicate_step"].format(step="nom"))]
    assert invalid.errors[0].where == where(validation, "nom", "id")


def test_a_condition_on_a_later_step_is_reported_at_its_when(validation: ValidationTexts) -> None:
    text = FLOW.replace("    max_length: 120\n", "    max_length: 120\n    when: {answer: duree, greater_than: 1}\n")
    assert faults(refuse(text, validation)) == [
        (
            line_of(text, "when: {answer: duree"),
            validation.faults["condition_unknown_answer"].format(step="nom", answer="duree"),
        )
    ]


def test_a_condition_on_the_step_itself_is_refused(validation: ValidationTexts) -> None:
    text = FLOW + "    when: {answer: duree, greater_than: 1}\n"
    assert faults(refuse(text, validation)) == [
        (
            line_of(text, "when:"),
            validation.faults["condition_unknown_answer"].format(step="duree", answer="duree"),
        )
    ]


def test_a_condition_on_an_unknown_answer_is_refused(validation: ValidationTexts) -> None:
    text = FLOW + "    when: {all: [{answer: genre, equals: asso}, {not: {answer: budjet, is_empty: true}}]}\n"
    assert faults(refuse(text, validation)) == [
        (
            line_of(text, "when:"),
            validation.faults["condition_unknown_answer"].format(step="duree", answer="budjet"),
        )
    ]


def test_a_malformed_condition_is_reported_in_french_at_its_line(validation: ValidationTexts) -> None:
    text = FLOW + "    when: {answer: genre, equals: asso, in: [autre]}\n"
    assert faults(refuse(text, validation)) == [(line_of(text, "when:"), validation.faults["condition_one_test"])]


def test_a_practice_rule_on_an_unknown_answer_is_refused(validation: ValidationTexts) -> None:
    text = FLOW + "practices:\n  - practice: legerete\n    when: {answer: duree_mois, greater_than: 24}\n"
    assert faults(refuse(text, validation)) == [
        (
            line_of(text, "duree_mois"),
            validation.faults["condition_unknown_answer"].format(step="legerete", answer="duree_mois"),
        )
    ]


def test_a_choice_without_options_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace(
        "    options:\n      - {value: asso, label: Association}\n      - {value: autre, label: Autre}\n", ""
    )
    invalid = refuse(text, validation)
    assert faults(invalid) == [(line_of(text, "- id: genre"), validation.faults["missing"])]
    assert invalid.errors[0].where == where(validation, "genre", "options")


def test_a_choice_with_an_empty_option_list_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("    options:\n", "    options: []\n").replace(
        "      - {value: asso, label: Association}\n      - {value: autre, label: Autre}\n", ""
    )
    assert faults(refuse(text, validation)) == [
        (line_of(text, "options: []"), validation.faults["too_short"].format(min_length=1))
    ]


def test_an_unknown_step_kind_is_reported_at_the_kind_line(validation: ValidationTexts) -> None:
    text = FLOW.replace("kind: number", "kind: nombre")
    ((line, message),) = faults(refuse(text, validation))
    assert line == line_of(text, "kind: nombre")
    assert "nombre" in message and "number" in message
    assert message.startswith(validation.faults["union_tag_invalid"].split("«")[0])


def test_a_misspelled_field_is_reported_as_unknown_at_its_line(validation: ValidationTexts) -> None:
    text = FLOW.replace("    max: 240\n", "    maxi: 240\n")
    invalid = refuse(text, validation)
    assert faults(invalid) == [(line_of(text, "maxi:"), validation.faults["extra_forbidden"])]
    assert invalid.errors[0].where == where(validation, "duree", "maxi")


def test_partner_fields_naming_a_missing_step_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("kind: genre}", "kind: genres}")
    assert faults(refuse(text, validation)) == [
        (line_of(text, "partner_fields"), validation.faults["unknown_step"].format(step="genres"))
    ]


def test_a_card_naming_a_missing_step_is_refused(validation: ValidationTexts) -> None:
    text = FLOW + "card:\n  - nom\n  - contact\n"
    assert faults(refuse(text, validation)) == [
        (line_of(text, "- contact"), validation.faults["unknown_step"].format(step="contact"))
    ]


def test_the_register_kind_must_be_a_choice(validation: ValidationTexts) -> None:
    text = FLOW.replace("kind: genre}", "kind: duree}")
    assert faults(refuse(text, validation)) == [
        (line_of(text, "partner_fields"), validation.faults["register_kind_not_choice"])
    ]


def test_a_word_where_a_number_is_expected_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("max: 240", 'max: "douze"')
    invalid = refuse(text, validation)
    assert faults(invalid) == [(line_of(text, "douze"), validation.faults["int_parsing"])]
    assert invalid.lines() == [
        validation.with_line.format(
            file="essai.yaml",
            line=line_of(text, "douze"),
            where=", " + where(validation, "duree", "max"),
            message=validation.faults["int_parsing"],
        )
    ]


def test_a_bad_template_in_a_question_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("question: Quel nom ?", "question: Quel nom pour {groupe} ?")
    assert faults(refuse(text, validation)) == [
        (
            line_of(text, "{groupe}"),
            validation.faults["template_placeholder"].format(unknown="groupe", allowed="-"),
        )
    ]


def test_every_field_fault_is_reported_at_once(validation: ValidationTexts) -> None:
    text = (
        FLOW.replace("    max_length: 120\n", "    max_length: beaucoup\n    optionel: true\n")
        .replace("kind: number", "kind: nombre")
        .replace("title: Essai", "title: ''")
    )
    found = dict(faults(refuse(text, validation)))
    assert set(found) == {line_of(text, fragment) for fragment in ("title:", "beaucoup", "optionel", "nombre")}
    assert found[line_of(text, "title:")] == validation.faults["string_too_short"].format(min_length=1)
    assert found[line_of(text, "beaucoup")] == validation.faults["int_parsing"]
    assert found[line_of(text, "optionel")] == validation.faults["extra_forbidden"]
    assert "« nombre »" in found[line_of(text, "nombre")]


def test_every_reference_fault_is_reported_at_once(validation: ValidationTexts) -> None:
    text = (
        FLOW.replace("kind: genre}", "kind: inconnu}")
        + "  - id: nom\n    kind: text\n    label: Doublon\n    question: Encore ?\n"
        + "    when: {answer: plus_tard, is_empty: true}\n"
    )
    messages = [message for _, message in faults(refuse(text, validation))]
    assert sorted(messages) == sorted(
        [
            validation.faults["duplicate_step"].format(step="nom"),
            validation.faults["condition_unknown_answer"].format(step="nom", answer="plus_tard"),
            validation.faults["unknown_step"].format(step="inconnu"),
        ]
    )


def test_a_practice_rule_naming_a_practice_missing_from_the_catalogue_is_refused(
    library: Library, validation: ValidationTexts
) -> None:
    text = FLOW + "practices:\n  - practice: legerte\n    when: {answer: duree, greater_than: 24}\n"
    with pytest.raises(InvalidFile) as caught:
        library.parse_flow(text, "essai.yaml")
    assert faults(caught.value) == [
        (
            line_of(text, "practice: legerte"),
            validation.faults["unknown_practice"].format(practice="legerte"),
        )
    ]


def test_a_practice_rule_naming_a_catalogue_practice_is_accepted(library: Library) -> None:
    practice = min(library.practices.ids())
    text = FLOW + f"practices:\n  - practice: {practice}\n    when: {{answer: duree, greater_than: 24}}\n"
    assert library.parse_flow(text, "essai.yaml").practices[0].practice == practice


def test_every_practice_the_real_flow_recalls_is_in_the_catalogue(library: Library, partnership: Flow) -> None:
    assert partnership.practices
    assert {rule.practice for rule in partnership.practices} <= library.practices.ids()


# --- YAML itself ----------------------------------------------------------------------------


def test_a_yaml_syntax_error_is_reported_in_french_with_its_line(validation: ValidationTexts) -> None:
    text = FLOW.replace("    label: Durée\n", "    label: [Durée\n")
    ((line, message),) = faults(refuse(text, validation))
    assert message.startswith(validation.faults["yaml_syntax"].split("{problem}")[0])
    assert line is not None and line >= line_of(text, "[Durée")


def test_a_tab_in_the_indentation_is_a_syntax_error(validation: ValidationTexts) -> None:
    text = FLOW.replace("    max: 240", "\tmax: 240")
    ((line, message),) = faults(refuse(text, validation))
    assert line == line_of(text, "\tmax")
    assert message.startswith(validation.faults["yaml_syntax"].split("{problem}")[0])


def test_a_key_written_twice_is_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("title: Essai\n", "title: Essai\ntitle: Autre\n")
    ((line, message),) = faults(refuse(text, validation))
    assert line == line_of(text, "title: Autre")
    assert message.startswith(validation.faults["yaml_syntax"].split("{problem}")[0])


def test_anchors_and_aliases_are_refused(validation: ValidationTexts) -> None:
    text = FLOW.replace("options:\n", "options: &options\n") + "    options: *options\n"
    invalid = refuse(text, validation)
    assert invalid.errors
    assert {message for _, message in faults(invalid)} == {validation.faults["yaml_alias"]}
    assert line_of(text, "&options") in {line for line, _ in faults(invalid)}


def test_a_billion_laughs_is_refused_without_being_expanded(validation: ValidationTexts) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    invalid = refuse("\n".join(lines) + "\n", validation)
    assert {message for _, message in faults(invalid)} == {validation.faults["yaml_alias"]}


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system ['echo hacked']",
        "!!python/object:bot.core.flow_engine.Flow {}",
        "!include autre.yaml",
        "!!binary aGVsbG8=",
    ],
)
def test_custom_tags_are_refused(validation: ValidationTexts, value: str) -> None:
    text = FLOW.replace("title: Essai", f"title: {value}")
    invalid = refuse(text, validation)
    ((line, message),) = faults(invalid)
    assert line == line_of(text, "title:")
    tag = value.split()[0].removeprefix("!!")
    assert tag in message
    assert message.startswith(validation.faults["yaml_tag"].split("{tag}")[0])


def test_a_file_over_256_kib_is_refused(validation: ValidationTexts) -> None:
    text = FLOW + "# " + "x" * MAX_FILE_BYTES + "\n"
    assert faults(refuse(text, validation)) == [(None, validation.faults["file_too_large"].format(max=256))]


def test_the_size_limit_counts_bytes_not_characters(validation: ValidationTexts) -> None:
    # 150 000 "é" are 300 000 bytes of UTF-8: over the limit although fewer characters.
    text = FLOW + "# " + "é" * 150_000 + "\n"
    assert len(text) < MAX_FILE_BYTES
    assert faults(refuse(text, validation)) == [(None, validation.faults["file_too_large"].format(max=256))]
    assert faults(refuse(text.encode(), validation)) == faults(refuse(text, validation))


def test_a_file_just_under_the_limit_is_read(validation: ValidationTexts) -> None:
    padding = MAX_FILE_BYTES - len(FLOW.encode()) - len("# \n")
    text = FLOW + "# " + "x" * padding + "\n"
    assert len(text.encode()) == MAX_FILE_BYTES
    assert load(Flow, text, "essai.yaml", validation).id == "essai"


def test_a_file_that_is_not_utf8_is_refused(validation: ValidationTexts) -> None:
    assert faults(refuse(FLOW.encode("latin-1"), validation)) == [(None, validation.faults["not_utf8"])]


def test_utf8_bytes_are_read(validation: ValidationTexts) -> None:
    assert load(Flow, FLOW.encode(), "essai.yaml", validation).step("duree").label == "Durée"


@pytest.mark.parametrize("text", ["", "# rien\n"])
def test_an_empty_file_is_refused(validation: ValidationTexts, text: str) -> None:
    assert faults(refuse(text, validation)) == [(None, validation.faults["empty_file"])]


@pytest.mark.parametrize("text", ["- id: essai\n", "juste du texte\n"])
def test_a_file_that_is_not_a_mapping_is_refused(validation: ValidationTexts, text: str) -> None:
    assert faults(refuse(text, validation)) == [(1, validation.faults["not_a_mapping"])]


def test_a_misspelled_placeholder_in_messages_is_refused_at_its_line(validation: ValidationTexts) -> None:
    text = (CONVERSATIONS / "messages.yaml").read_text(encoding="utf-8")
    broken = text.replace("Votre demande n°{number} est enregistrée.", "Votre demande n°{nombre} est enregistrée.")
    assert broken != text
    invalid = refuse(broken, validation, Messages)
    assert faults(invalid) == [
        (
            line_of(broken, "{nombre}"),
            validation.faults["template_placeholder"].format(unknown="nombre", allowed="number"),
        )
    ]
    assert invalid.errors[0].where == '"intake", "saved"'


# --- the library of a whole directory -------------------------------------------------------


@pytest.fixture
def conversations_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "conversations"
    shutil.copytree(CONVERSATIONS, copy)
    return copy


def test_load_library_lists_the_broken_file_and_its_fault(
    conversations_copy: Path, validation: ValidationTexts
) -> None:
    (conversations_copy / "essai.yaml").write_text(FLOW.replace("max: 240", "maxi: 240"), encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        load_library(conversations_copy)
    assert [(e.file, e.message) for e in caught.value.errors] == [("essai.yaml", validation.faults["extra_forbidden"])]
    assert "essai.yaml" in str(caught.value)


def test_load_library_reports_every_broken_file(conversations_copy: Path, validation: ValidationTexts) -> None:
    (conversations_copy / "essai.yaml").write_text(FLOW.replace("max: 240", "maxi: 240"), encoding="utf-8")
    messages = conversations_copy / "messages.yaml"
    text = messages.read_text(encoding="utf-8")
    messages.write_text(text.replace("n°{number} est enregistrée.", "n°{numero} est enregistrée."), encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        load_library(conversations_copy)
    assert {e.file for e in caught.value.errors} == {"essai.yaml", "messages.yaml"}


def test_load_library_accepts_a_new_valid_flow(conversations_copy: Path) -> None:
    (conversations_copy / "essai.yaml").write_text(FLOW, encoding="utf-8")
    loaded = load_library(conversations_copy)
    assert loaded.flows["essai"].text == FLOW
    assert "demande_partenariat" in loaded.flows


def test_a_broken_erreurs_file_is_reported_with_fallback_wording(conversations_copy: Path) -> None:
    (conversations_copy / "erreurs.yaml").write_text("with_line: [\n", encoding="utf-8")
    assert load_validation_texts(conversations_copy).faults == {}
    with pytest.raises(InvalidFile) as caught:
        load_library(conversations_copy)
    assert [e.file for e in caught.value.errors] == ["erreurs.yaml"]


def test_reloading_or_checking_files_refuses_a_flow_telegram_could_not_show(tmp_path: Path) -> None:
    """/recharger and ``python -m bot check`` read the folder with load_library: the same checks."""
    folder = tmp_path / "flows"
    shutil.copytree(CONVERSATIONS, folder)
    flow_file = folder / "demande_partenariat.yaml"
    text = flow_file.read_text(encoding="utf-8")
    flow_file.write_text(text.replace("question: ", "question: <blink>Attention</blink> ", 1), encoding="utf-8")
    validation = load_validation_texts(folder)
    with pytest.raises(InvalidFile) as caught:
        load_library(folder)
    assert [error.message for error in caught.value.errors] == [validation.faults["html_tag"].format(tag="blink")]
    assert caught.value.errors[0].where == 'étape "partenaire", "question"'
