"""Admins change the flows while the bot runs: upload, versions, rollback, reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fake_telegram import FakeTelegram, FakeUser
from tests.integration.conftest import CONVERSATIONS, RunningBot, running_bot, settings_for
from tests.integration.conversation import (
    CONFIRM,
    HERE,
    ONE_OFF_REQUEST,
    fill,
    known_group,
    next_prompt,
)

FLOW_FILE = CONVERSATIONS / "demande_partenariat.yaml"
ORIGINAL_QUESTION = "Avec qui serait ce partenariat ? Le nom de l'organisation ou de la personne."
NEW_QUESTION = "Comment s'appelle le partenaire ?"


def reworded() -> bytes:
    return FLOW_FILE.read_text(encoding="utf-8").replace(ORIGINAL_QUESTION, NEW_QUESTION).encode()


@pytest.fixture
async def admin_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[tuple[RunningBot, FakeUser]]:
    """The bot with one configured admin (ADMIN_USER_IDS)."""
    admin = fake.add_user("Dominique", username="dominique")
    async with running_bot(fake, tmp_path, admin_user_ids=frozenset({admin.id})) as running:
        yield running, admin


async def test_a_group_admin_rewords_a_question_for_the_next_request_only(fake: FakeTelegram, bot: RunningBot) -> None:
    chair, member = fake.add_user("Claude"), fake.add_user("Alice")
    group = fake.add_group("GL Gard", [chair, member], admins=[chair])
    private = fake.private_chat(member)

    fake.send(member, private, f"/start g{group.id}")
    first = await next_prompt(fake, private)  # Alice is mid-flow on version 1

    fake.send_document(chair, group, "demande_partenariat.yaml", reworded(), caption="/flux")
    installed = await fake.next_message(group)
    assert "Version 2" in installed.plain_text and "pour ce groupe" in installed.plain_text

    summary = await fill(fake, member, private, ONE_OFF_REQUEST, first)  # finishes on version 1
    fake.press(member, summary, CONFIRM)
    await fake.next_message(group)

    fake.send(member, private, f"/start g{group.id}")
    await fake.next_message(private)
    assert NEW_QUESTION in (await next_prompt(fake, private)).plain_text

    other = fake.add_group("GL Ailleurs", [member])
    fake.send(member, other, "/partenariat")
    fake.press(member, await fake.next_message(other), HERE)
    assert ORIGINAL_QUESTION in (await next_prompt(fake, other)).plain_text, "other groups keep theirs"


async def test_an_invalid_upload_is_explained_and_changes_nothing(fake: FakeTelegram, bot: RunningBot) -> None:
    chair = fake.add_user("Claude")
    group = fake.add_group("GL Lyon", [chair], admins=[chair])
    broken = FLOW_FILE.read_text(encoding="utf-8").replace("    max: 240\n", "    max: douze\n")
    broken = broken.replace("    label: Contact\n", "    libelle: Contact\n")

    fake.send_document(chair, group, "demande_partenariat.yaml", broken.encode(), caption="/flux")
    refusal = (await fake.next_message(group)).plain_text
    assert "n'est pas installé" in refusal
    line_of_max = broken.splitlines().index("    max: douze") + 1
    assert f'ligne {line_of_max}, étape "duree_mois", "max" : doit être un nombre entier' in refusal
    line_of_typo = broken.splitlines().index("    libelle: Contact") + 1
    assert f'ligne {line_of_typo}, étape "contact", "libelle" : champ inconnu' in refusal
    assert 'étape "contact", "label" : champ obligatoire manquant' in refusal

    fake.send(chair, group, "/flux")
    listing = (await fake.next_message(group)).plain_text
    assert "demande_partenariat : version 1, fichier du serveur" in listing


async def test_members_cannot_upload_list_or_roll_back(fake: FakeTelegram, bot: RunningBot) -> None:
    chair, member = fake.add_user("Claude"), fake.add_user("Alice")
    group = fake.add_group("GL Metz", [chair, member], admins=[chair])
    for action in ("/flux", "/flux retour demande_partenariat 1", "/recharger"):
        fake.send(member, group, action)
        assert "admin" in (await fake.next_message(group)).plain_text
    fake.send_document(member, group, "demande_partenariat.yaml", reworded(), caption="/flux")
    assert "admin" in (await fake.next_message(group)).plain_text
    fake.send(member, group, "/partenariat")
    fake.press(member, await fake.next_message(group), HERE)
    assert ORIGINAL_QUESTION in (await next_prompt(fake, group)).plain_text


async def test_roll_back_history_and_download(fake: FakeTelegram, bot: RunningBot) -> None:
    chair = fake.add_user("Claude")
    group = fake.add_group("GL Alès", [chair], admins=[chair])
    fake.send_document(chair, group, "demande_partenariat.yaml", reworded(), caption="/flux")
    await fake.next_message(group)

    fake.send(chair, group, "/flux historique demande_partenariat")
    history = (await fake.next_message(group)).plain_text
    assert "v2 — propre à ce groupe, Claude" in history and "← en service" in history
    assert "v1 — fichier du serveur" in history

    fake.send(chair, group, "/flux telecharger demande_partenariat")
    download = await fake.next_message(group)
    assert download.document is not None
    assert NEW_QUESTION in download.document["content"].decode()

    fake.send(chair, group, "/flux retour demande_partenariat 1")
    assert "revient à la version 1" in (await fake.next_message(group)).plain_text
    fake.send(chair, group, "/partenariat")
    fake.press(chair, await fake.next_message(group), HERE)
    assert ORIGINAL_QUESTION in (await next_prompt(fake, group)).plain_text

    fake.send(chair, group, "/flux retour demande_partenariat 9")
    assert "Pas de version 9" in (await fake.next_message(group)).plain_text


async def test_a_configured_admin_uploads_for_every_group_in_private(
    fake: FakeTelegram, admin_bot: tuple[RunningBot, FakeUser]
) -> None:
    _, admin = admin_bot
    member = fake.add_user("Alice")
    group = fake.add_group("GL Évry", [member])
    private = fake.private_chat(admin)
    fake.send_document(admin, private, "demande_partenariat.yaml", reworded(), caption="/flux")
    assert "pour tous les groupes" in (await fake.next_message(private)).plain_text

    fake.send(member, group, "/partenariat")
    fake.press(member, await fake.next_message(group), HERE)
    assert NEW_QUESTION in (await next_prompt(fake, group)).plain_text


async def test_reload_rereads_the_files_and_keeps_serving_when_they_are_broken(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    flows_dir = tmp_path / "conversations"
    flows_dir.mkdir()
    for source in CONVERSATIONS.glob("*.yaml"):
        (flows_dir / source.name).write_bytes(source.read_bytes())
    admin = fake.add_user("Dominique")
    running = RunningBot(settings_for(fake, tmp_path, flows_dir=flows_dir, admin_user_ids=frozenset({admin.id})))
    await running.start()
    try:
        private = fake.private_chat(admin)
        known_group(fake, admin)
        (flows_dir / "demande_partenariat.yaml").write_text("steps: [", encoding="utf-8")
        fake.send(admin, private, "/recharger")
        refusal = (await fake.next_message(private)).plain_text
        assert "rien n'a changé" in refusal and "demande_partenariat.yaml, ligne 1" in refusal

        (flows_dir / "demande_partenariat.yaml").write_bytes(reworded())
        fake.send(admin, private, "/recharger")
        assert "demande_partenariat : version 2" in (await fake.next_message(private)).plain_text
        fake.send(admin, private, "/partenariat")
        assert NEW_QUESTION in (await next_prompt(fake, private)).plain_text
    finally:
        await running.stop()
