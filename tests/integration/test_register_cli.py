"""``python -m bot export --chat``: the register as CSV from the command line, without a token."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from bot.storage import flow_versions, requests
from bot.storage.db import Database
from tests.fake_telegram import as_read
from tests.integration.conftest import CONVERSATIONS
from tests.integration.test_register import FLOW_ID, parse_csv


async def test_the_command_line_exports_a_chats_register(tmp_path: Path) -> None:
    path, chat_id = tmp_path / "registre.sqlite3", -1001234567890
    database = await Database.open(path)
    flow_text = (CONVERSATIONS / f"{FLOW_ID}.yaml").read_text(encoding="utf-8")
    version = await database.write(lambda connection: flow_versions.sync_disk_version(connection, FLOW_ID, flow_text))
    answers: dict[str, Any] = {  # as JSON: texts and a number
        "partenaire": "Collectif pour la transition citoyenne",
        "type_partenaire": "association",
        "demande": "Fête des possibles ; stand commun",
        "format": "recurrent",
        "duree_mois": 12,
    }
    await database.write(
        partial(
            requests.create,
            chat_id=chat_id,
            author_id=7,
            author_name="Cécile",
            flow_id=FLOW_ID,
            flow_version=version,
            partner_name=answers["partenaire"],
            partner_kind="association",
            answers=answers,
        )
    )
    await database.close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment.update(DATABASE_PATH=str(path), FLOWS_DIR=str(CONVERSATIONS))

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "export", *args],
            capture_output=True,
            check=False,
            cwd=CONVERSATIONS.parent,
            env=environment,
            timeout=60,
        )

    result = await asyncio.to_thread(run, "--chat", str(chat_id))
    assert result.returncode == 0, result.stderr.decode()
    (row,) = parse_csv(result.stdout)
    assert row["Partenaire"] == "Collectif pour la transition citoyenne"
    assert row["Ce qui est demandé au groupe"] == "Fête des possibles ; stand commun"
    assert (row["Durée d'engagement (mois)"], row["Proposée par"]) == ("12", "Cécile")
    empty = await asyncio.to_thread(run, "--chat", "-42")
    assert empty.returncode == 0 and len(parse_csv(empty.stdout)) == 0
    assert "Aucune demande" in empty.stderr.decode()


async def test_the_command_line_imports_a_list_all_or_nothing(tmp_path: Path) -> None:
    from bot.core.library import load_library

    texts = load_library(CONVERSATIONS).register.import_
    path, chat_id = tmp_path / "registre.sqlite3", -1001234567890
    await (await Database.open(path)).close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment.update(DATABASE_PATH=str(path), FLOWS_DIR=str(CONVERSATIONS))
    header = "Partenaire;Type de partenaire;Ce qui a été fait ensemble;Depuis;Toujours en cours;Jusqu'à\r\n"
    good = "Emmaüs;Association ou réseau;Bacs incroyables comestibles;mars 2016;Non;06/2019\r\n"
    bad = "Alternatiba;Fusée;Une étape du tour à vélo;je ne sais pas;Oui;\r\n"
    file = tmp_path / "partenaires.csv"

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            check=False,
            cwd=CONVERSATIONS.parent,
            env=environment,
            timeout=60,
        )

    file.write_bytes((header + good + bad).encode("utf-8"))
    refused = await asyncio.to_thread(run, "import", "--chat", str(chat_id), str(file))
    errors = as_read(refused.stderr.decode())
    assert refused.returncode == 6, errors
    assert "ligne 3 : « Type de partenaire » : « Fusée »" in errors and "ligne 2" not in errors
    assert as_read(texts.refused.format(count=1)) in errors
    empty = await asyncio.to_thread(run, "export", "--chat", str(chat_id))
    assert parse_csv(empty.stdout) == []

    file.write_bytes((header + good + bad.replace("Fusée", "Association ou réseau")).encode("utf-8"))
    accepted = await asyncio.to_thread(run, "import", "--chat", str(chat_id), str(file))
    assert accepted.returncode == 0, accepted.stderr.decode()
    assert accepted.stdout.decode().strip() == texts.done.format(count=2, chat=chat_id)
    exported = parse_csv((await asyncio.to_thread(run, "export", "--chat", str(chat_id))).stdout)
    assert [(row["Partenaire"], row["Depuis"], row["Statut"]) for row in exported] == [
        ("Emmaüs", "mars 2016", "terminée"),
        ("Alternatiba", "", "en cours"),
    ]

    again = await asyncio.to_thread(run, "import", "--chat", str(chat_id), str(file))
    assert again.returncode == 0, again.stderr.decode()
    assert again.stdout.decode().splitlines() == [
        texts.done.format(count=0, chat=chat_id),
        texts.already_there.format(count=2),
    ]
    assert parse_csv((await asyncio.to_thread(run, "export", "--chat", str(chat_id))).stdout) == exported
