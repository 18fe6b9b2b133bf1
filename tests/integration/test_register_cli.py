"""``python -m bot export --chat``: the register as CSV from the command line, without a token."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.storage import flows as flow_store
from bot.storage import requests
from bot.storage.db import Database
from tests.integration.conftest import CONVERSATIONS
from tests.integration.test_register import FLOW_ID, parse_csv


async def test_the_command_line_exports_a_chats_register(tmp_path: Path) -> None:
    path, chat_id = tmp_path / "registre.sqlite3", -1001234567890
    database = await Database.open(path)
    flow_text = (CONVERSATIONS / f"{FLOW_ID}.yaml").read_text(encoding="utf-8")
    version = await flow_store.sync_disk_version(database, FLOW_ID, flow_text)
    answers = {"partenaire": "Collectif pour la transition citoyenne", "type_partenaire": "association",
               "demande": "Fête des possibles ; stand commun", "format": "recurrent", "duree_mois": 12}
    async with database.transaction() as connection:
        await requests.create(
            connection, chat_id=chat_id, author_id=7, author_name="Cécile", flow_id=FLOW_ID, flow_version=version,
            partner_name=answers["partenaire"], partner_kind="association", answers=answers,
        )
    await database.close()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    environment.update(DATABASE_PATH=str(path), FLOWS_DIR=str(CONVERSATIONS))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "export", *args], capture_output=True, check=False,
                              cwd=CONVERSATIONS.parent, env=environment, timeout=60)

    result = await asyncio.to_thread(run, "--chat", str(chat_id))
    assert result.returncode == 0, result.stderr.decode()
    (row,) = parse_csv(result.stdout)
    assert row["Partenaire"] == "Collectif pour la transition citoyenne"
    assert row["Ce qui est demandé au groupe"] == "Fête des possibles ; stand commun"
    assert (row["Durée d'engagement (mois)"], row["Proposée par"]) == ("12", "Cécile")
    empty = await asyncio.to_thread(run, "--chat", "-42")
    assert empty.returncode == 0 and len(parse_csv(empty.stdout)) == 0
    assert "Aucune demande" in empty.stderr.decode()
