"""A corpus of broken flow files, each refused with its expected French message at its line.

Every file of ``broken_flows/`` is a copy of the valid flow ``VALID`` below with one fault. Its
first lines say what is wrong and what the admin must read::

    # Défaut : max: douze au lieu d'un nombre.
    # attendu: ligne 30, étape "duree", "max" : doit être un nombre entier

Each ``# attendu:`` line is an exact substring of one rendered error (``InvalidFile.lines()``
worded by the real ``conversations/erreurs.yaml``), with its line number when the fault has
one; there are as many errors as ``# attendu:`` lines unless ``# erreurs: N`` says otherwise.
Faults a comment cannot carry (binary, JSON, a huge file) are generated below.
"""

from __future__ import annotations

import json
import re
import shutil
import string
from pathlib import Path

import pytest

from bot.core.library import Library, load_library
from bot.core.loading import MAX_FILE_BYTES, InvalidFile, ValidationTexts

from .conftest import CONVERSATIONS
from .helpers import line_of

CORPUS = Path(__file__).resolve().parent / "broken_flows"
FILES = sorted(CORPUS.glob("*.yaml"))

_EXPECTED = re.compile(r"^#\s*attendu\s*:\s*(.+?)\s*$")
_COUNT = re.compile(r"^#\s*erreurs\s*:\s*(\d+)\s*$")
_LINE = re.compile(r"\bligne \d+\b")

# What pydantic says when a fault has no French wording in erreurs.yaml.
_ENGLISH = (
    "Field required",
    "Input should",
    "Extra inputs",
    "String should",
    "List should",
    "Tuple should",
    "Value error",
    "validation error",
    "Assertion failed",
    "should have",
    "Unable to",
    "is not a valid",
    "Invalid ",
)

# The valid flow every corpus file is a variant of (kept equal to the files' bodies).
VALID = """\
id: essai
title: Essai
intro: Quelques questions sur le partenaire.
partner_fields:
  partner: nom
  kind: genre
card: [nom, genre, duree]
steps:
  - id: nom
    kind: text
    label: Nom
    question: Quel est le nom du partenaire ?
    min_length: 2
    max_length: 120
  - id: genre
    kind: choice
    label: Genre
    question: Quel genre de partenaire ?
    options:
      - {value: asso, label: Association}
      - {value: autre, label: Autre}
  - id: duree
    kind: number
    label: Durée
    question: Combien de mois ?
    unit: mois
    min: 1
    max: 240
  - id: precisions
    kind: text
    label: Précisions
    question: Des précisions sur ce partenaire ?
    optional: true
    when: {answer: genre, equals: autre}
practices:
  - practice: legerete
    when: {answer: duree, greater_than: 12}
"""


@pytest.fixture(scope="module")
def library() -> Library:
    """The real library (texts, error wording, practice ids), read once for this module."""
    return load_library(CONVERSATIONS)


def header(path: Path) -> tuple[list[str], int | None]:
    """The expected substrings and error count written in a corpus file's leading comments."""
    expected: list[str] = []
    count: int | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if match := _EXPECTED.match(line):
            expected.append(match.group(1))
        elif match := _COUNT.match(line):
            count = int(match.group(1))
    return expected, count


def refuse(library: Library, data: str | bytes, file: str) -> InvalidFile:
    with pytest.raises(InvalidFile) as caught:
        library.parse_flow(data, file)
    return caught.value


def _wording(template: str) -> re.Pattern[str]:
    """A pattern matching what a fault template of erreurs.yaml can render to."""
    try:
        parts = [
            re.escape(literal) + (".*" if field is not None else "")
            for literal, field, _, _ in string.Formatter().parse(template)
        ]
    except ValueError:  # not a format string: shown as written
        return re.compile(re.escape(template), re.DOTALL)
    return re.compile("".join(parts), re.DOTALL)


def assert_french(invalid: InvalidFile, validation: ValidationTexts) -> None:
    """Every message is one of erreurs.yaml's wordings, never pydantic's English."""
    wordings = [_wording(t) for t in validation.faults.values()]
    wordings += [re.compile(re.escape(t)) for t in validation.faults.values()]  # unformattable
    for line in invalid.lines():
        assert not any(english in line for english in _ENGLISH), line
    for error in invalid.errors:
        assert any(w.fullmatch(error.message) for w in wordings), f"not from erreurs.yaml: {error.message!r}"


def assert_reported(invalid: InvalidFile, file: str, expected: list[str], count: int | None) -> None:
    lines = invalid.lines()
    shown = "\n".join(lines)
    for substring in expected:
        assert any(substring in line for line in lines), f"{substring!r} missing from:\n{shown}"
    assert len(lines) == (len(expected) if count is None else count), shown
    assert all(line.startswith(file) for line in lines), shown


# --- the corpus -------------------------------------------------------------------------------


def test_the_corpus_covers_at_least_25_faults_each_with_its_expectation() -> None:
    assert len(FILES) >= 25
    for path in FILES:
        expected, _ = header(path)
        assert expected, f"{path.name} states no « # attendu: » line"
        for substring in expected:
            # A line number whenever the fault has one; otherwise the file name, then the message.
            assert _LINE.search(substring) or substring.startswith(f"{path.name} : "), substring


def test_the_flow_the_corpus_varies_on_is_valid(library: Library) -> None:
    assert [s.id for s in library.parse_flow(VALID, "essai.yaml").steps] == ["nom", "genre", "duree", "precisions"]


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_a_broken_flow_is_refused_with_its_french_message(library: Library, path: Path) -> None:
    expected, count = header(path)
    invalid = refuse(library, path.read_bytes(), path.name)
    assert_reported(invalid, path.name, expected, count)
    assert_french(invalid, library.validation)


# --- faults a file of the corpus cannot carry -------------------------------------------------

_STEPS = [{"id": "nom", "kind": "text", "label": "Nom", "question": "Quel nom ?"}]

GENERATED: dict[str, tuple[str | bytes, list[str]]] = {
    # A latin-1 export from an old editor: "é" is one byte, not UTF-8.
    "latin1.yaml": (VALID.encode("latin-1"), ["latin1.yaml : le fichier doit être encodé en UTF-8"]),
    # An image sent by mistake.
    "image.yaml": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        ["image.yaml : le fichier doit être encodé en UTF-8"],
    ),
    # Binary that happens to be valid UTF-8: refused at the first NUL character.
    "binaire.yaml": (
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00",
        ["ligne 1 : caractère interdit (U+0000) : le fichier doit être du texte YAML, pas un fichier binaire"],
    ),
    "caractere_de_controle.yaml": (
        VALID.replace("label: Durée", "label: Dur\x07ée"),
        ["ligne 24 : caractère interdit (U+0007) : le fichier doit être du texte YAML, pas un fichier binaire"],
    ),
    # JSON is YAML, but a list is not a flow.
    "json.yaml": (
        json.dumps(_STEPS, indent=2),
        ["ligne 1 : le fichier doit être une suite de champs « nom: valeur »"],
    ),
    "trop_gros.yaml": (
        VALID + "# " + "x" * MAX_FILE_BYTES + "\n",
        ["trop_gros.yaml : le fichier dépasse 256 Kio"],
    ),
}


@pytest.mark.parametrize("file", list(GENERATED))
def test_a_generated_broken_file_is_refused_with_its_french_message(library: Library, file: str) -> None:
    data, expected = GENERATED[file]
    invalid = refuse(library, data, file)
    assert_reported(invalid, file, expected, None)
    assert_french(invalid, library.validation)


def test_a_flow_whose_id_is_not_its_file_name_is_refused_by_the_library(library: Library, tmp_path: Path) -> None:
    directory = tmp_path / "conversations"
    shutil.copytree(CONVERSATIONS, directory)
    (directory / "autre_nom.yaml").write_text(VALID, encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        load_library(directory)
    assert_reported(
        caught.value,
        "autre_nom.yaml",
        ['autre_nom.yaml, "id" : l\'identifiant « essai » doit être le nom du fichier (autre_nom.yaml)'],
        None,
    )
    assert_french(caught.value, library.validation)


# --- several faults at once, and the real flow ------------------------------------------------


def test_three_independent_faults_are_reported_at_once_each_at_its_line(library: Library) -> None:
    text = (
        VALID.replace("title: Essai", "title: ''")
        .replace("    kind: text\n    label: Nom", "    kind: texte\n    label: Nom")
        .replace("optional: true", "optional: peut-être")
    )
    invalid = refuse(library, text, "essai.yaml")
    lines = [line_of(text, "title: ''"), line_of(text, "kind: texte"), line_of(text, "peut-être")]
    assert lines == [2, 10, 33]
    assert sorted(error.line for error in invalid.errors if error.line is not None) == lines
    assert_reported(
        invalid,
        "essai.yaml",
        [
            'essai.yaml, ligne 2, "title" : est trop court (au moins 1 caractère(s))',
            'essai.yaml, ligne 10, étape "nom", "kind" : type d\'étape inconnu « texte »',
            'essai.yaml, ligne 33, étape "precisions", "optional" : doit être true ou false',
        ],
        None,
    )
    assert_french(invalid, library.validation)


def test_the_real_partnership_flow_parses(library: Library) -> None:
    path = CONVERSATIONS / "demande_partenariat.yaml"
    flow = library.parse_flow(path.read_bytes(), path.name)
    assert flow.id == "demande_partenariat"
    assert flow == library.flows["demande_partenariat"].flow


def test_a_file_nested_thousands_of_levels_deep_is_refused_in_french(library: Library) -> None:
    deep = "id: x\nsteps: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(InvalidFile) as refused:
        library.parse_flow(deep, "profond.yaml")
    assert "trop de niveaux" in "\n".join(refused.value.lines())
