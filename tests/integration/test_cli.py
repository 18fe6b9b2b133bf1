"""The admins' command-line tools, run as subprocesses: check, schema, shell, and the missing token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_telegram import as_read
from tests.integration.conftest import CONVERSATIONS
from tests.integration.conversation import LIBRARY

ROOT = CONVERSATIONS.parent


def run_bot(
    *args: str, flows_dir: Path = CONVERSATIONS, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment.update(FLOWS_DIR=str(flows_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=60,
    )


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "conversations"
    shutil.copytree(CONVERSATIONS, directory)
    return directory


def test_check_accepts_the_shipped_files() -> None:
    result = run_bot("check")
    assert result.returncode == 0, result.stderr
    assert "Tout est valide" in result.stdout


def test_check_accepts_the_shipped_files_without_a_warning() -> None:
    result = run_bot("check")
    assert result.stderr == ""  # every practice has a rule that a request can meet


def test_check_warns_of_a_rule_never_true_and_a_practice_never_recalled_but_accepts_the_file(tmp_path: Path) -> None:
    edited = (CONVERSATIONS / "demande_partenariat.yaml").read_text(encoding="utf-8")
    edited = edited.replace("{answer: type_partenaire, equals: groupe_local}", "{answer: type_partenaire, equals: gl}")
    edited = edited.replace("{answer: duree_mois, greater_than: 12}", "{answer: format, greater_than: 12}", 1)
    candidate = tmp_path / "demande_partenariat.yaml"
    candidate.write_text(edited, encoding="utf-8")
    cli = LIBRARY.messages.cli

    result = run_bot("check", str(candidate))
    assert result.returncode == 0, result.stderr
    assert "Tout est valide" in result.stdout
    warnings = as_read(result.stderr).splitlines()
    assert (
        as_read(
            cli.warning.format(
                file="bonnes_pratiques.yaml",
                where="entre_nous",
                problem=cli.warning_untriggered.format(practice="entre_nous"),
            )
        )
        in warnings
    )
    assert any("« gl »" in line and "type_partenaire" in line for line in warnings)
    assert any("greater_than" in line and "« format »" in line for line in warnings)
    assert len(warnings) == 3


def test_check_reports_every_error_of_a_file_with_its_line_and_exits_1(tmp_path: Path) -> None:
    edited = (CONVERSATIONS / "demande_partenariat.yaml").read_text(encoding="utf-8")
    edited = edited.replace("    max: 240\n", "    max: douze\n").replace("    unit: mois\n", "    unite: mois\n")
    candidate = tmp_path / "demande_partenariat.yaml"
    candidate.write_text(edited, encoding="utf-8")
    lines = edited.splitlines()

    result = run_bot("check", str(candidate))

    assert result.returncode == 1
    assert (
        f'ligne {lines.index("    max: douze") + 1}, étape "duree_mois", "max" : doit être un nombre entier'
        in result.stderr
    )
    assert f'ligne {lines.index("    unite: mois") + 1}, étape "duree_mois", "unite" : champ inconnu' in result.stderr


def test_schema_is_valid_json_describing_every_step_kind_and_matches_the_shipped_file() -> None:
    result = run_bot("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    kinds = {d["properties"]["kind"]["const"] for name, d in schema["$defs"].items() if name.endswith("Step")}
    assert kinds == {"text", "choice", "yes_no", "number", "date"}
    assert json.loads((ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8")) == schema, (
        "docs/flow.schema.json is stale: python -m bot schema > docs/flow.schema.json"
    )


def test_shell_plays_a_flow_with_reminders_and_summary() -> None:
    # A company, over three years ("douze" is re-asked), a member's trade offered unpaid.
    answers = [
        "Weleda",
        "2",
        "Une journée au jardin partagé",
        "3",
        "douze",
        "36",
        "15/03/2099",
        "01/03/2099",
        "2",
        "Ils veulent communiquer",
        "1",
        "3",
        "3",
        "1",
        "2",
        "camille@example.org",
        "1",
    ]
    result = run_bot("shell", stdin="\n".join(answers) + "\n")
    assert result.returncode == 0, result.stderr
    out = as_read(result.stdout)
    assert "Étape 1/8" in out and "Étape 3/13" in out and "Étape 5/15" in out
    assert "Bonne pratique : Ne pas remplacer des professionnels par des bénévoles" in out
    assert "Bonne pratique : Avec une entreprise, rester humbles et prudents" in out
    assert "J'attends un nombre entier" in out  # "douze" re-asked
    assert "• Durée d'engagement : 36 mois" in out
    assert "Points de vigilance" in out and "Légèreté dans l'attachement" in out


def test_shell_refuses_an_unknown_flow() -> None:
    result = run_bot("shell", "inconnu")
    assert result.returncode == 1
    assert "Pas de parcours « inconnu »" in as_read(result.stderr)


def test_the_bot_refuses_to_start_with_a_broken_file_with_the_configuration_status(flows_copy: Path) -> None:
    (flows_copy / "messages.yaml").write_text("flow: {}\n", encoding="utf-8")
    result = run_bot(flows_dir=flows_copy, TELEGRAM_BOT_TOKEN="123:abc")
    assert result.returncode == 2  # not 1, Python's status for any crash: systemd restarts on that
    assert "messages.yaml" in result.stderr and "champ obligatoire manquant" in result.stderr


def test_without_a_token_the_bot_explains_in_french_and_english_and_exits_2() -> None:
    result = run_bot(TELEGRAM_BOT_TOKEN="")
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "Il manque le jeton" in result.stderr and "is missing" in result.stderr
    assert "Traceback" not in result.stderr
