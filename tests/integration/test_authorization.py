"""Who may do what: every privileged action against every role, as the bot was designed.

The table below is the authorization matrix; ``docs/autorisations.md`` shows it in French
and a test checks the two agree. Each cell starts from the same group (see ``world.py``):
an allowed action has its effect, a refused one gets a French refusal and changes nothing
in the database.

A stranger cannot write in a group: their commands are those of someone who left the group
before the bot read them (or wrote in a public group on behalf of a channel). Their presses
are real: anyone can press the buttons of a public group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.fake_telegram import FakeUser
from tests.integration.circle_scene import ACCEPT_BUTTON, CONSENT_BUTTON, OPEN_BUTTON
from tests.integration.conftest import CONVERSATIONS
from tests.integration.direct import TableRows, differences, snapshot
from tests.integration.world import World, running_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES = {  # as docs/autorisations.md names them
    "stranger": "Hors du groupe",
    "member": "Membre",
    "author": "Auteur·rice de la demande",
    "circle": "Cercle cœur",
    "coordinator": "Coordination",
    "chat_admin": "Admin du groupe",
    "configured_admin": "Admin du bot (ADMIN_USER_IDS)",
}
ADMINS = frozenset({"chat_admin", "configured_admin"})
STEWARDS = ADMINS | {"coordinator"}
REGISTER_KEEPERS = STEWARDS | {"circle"}
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "autorisations.md"


# --- how each role acts -------------------------------------------------------------------------


async def command(world: World, user: FakeUser, text: str, reply_to: FakeUser | None = None) -> str:
    """Type ``text`` in the group (in reply to a message of ``reply_to``); what the bot answers."""
    fake, group = world.fake, world.group
    target = fake.send(reply_to, group, "Bonjour à tous") if reply_to else None
    stranger = user is world.stranger
    if stranger:
        fake.set_member_status(group, user, "member")
    fake.send(user, group, text, reply_to=target)
    if stranger:
        fake.set_member_status(group, user, "left")  # gone before the bot reads the command
    sent = len(fake.sent)
    await world.bot.process()
    replies = [m.plain_text or m.caption or "" for m in fake.sent[sent:] if m.chat_id == group.id]
    return "\n".join(replies)


async def upload(world: World, user: FakeUser) -> str:
    """Send a reworded flow file captioned /flux in the group."""
    fake, group = world.fake, world.group
    flow = (CONVERSATIONS / "demande_partenariat.yaml").read_bytes()
    if user is world.stranger:
        fake.set_member_status(group, user, "member")
    fake.send_document(
        user, group, "demande_partenariat.yaml", flow.replace(b"Partenaire", b"Organisme"), caption="/flux"
    )
    if user is world.stranger:
        fake.set_member_status(group, user, "left")
    sent = len(fake.sent)
    await world.bot.process()
    return "\n".join(m.plain_text or "" for m in fake.sent[sent:])


async def press(world: World, user: FakeUser, message: str, button: str) -> str:
    """Press a button of one of the world's messages; the alert the member sees."""
    alert = await world.press(user, world.messages[message], button)
    text: str = alert.get("text", "")
    return text


# --- what shows that an action was done ---------------------------------------------------------


Changes = dict[str, dict[str, TableRows]]
Evidence = Callable[[World, FakeUser, str, Changes], bool]


def changed(table: str) -> Evidence:
    return lambda world, user, told, changes: table in changes


def told(words: str) -> Evidence:
    return lambda world, user, answer, changes: words in answer


def received_the_register(world: World, user: FakeUser, answer: str, changes: Changes) -> bool:
    document = world.fake.messages_in(user)[-1].document
    return document is not None and document["file_name"].endswith(".csv")


@dataclass(frozen=True)
class Action:
    label: str  # as docs/autorisations.md names it
    allowed: frozenset[str]
    act: Callable[[World, FakeUser], Awaitable[str]]
    done: Evidence
    refusal: str  # words of the French refusal

    def __str__(self) -> str:
        return self.label


ACTIONS = [
    Action(
        "/consentement 12 (ouvrir un tour)",
        ADMINS | {"author", "circle"},
        lambda w, u: command(w, u, "/consentement 1"),
        changed("consent_rounds"),
        "peuvent ouvrir un tour de consentement",
    ),
    Action(
        "Bouton « Ouvrir le consentement »",
        ADMINS | {"author", "circle"},
        lambda w, u: press(w, u, "card", OPEN_BUTTON),
        changed("consent_rounds"),
        "peuvent ouvrir un tour",
    ),
    # Nobody answered round 2 yet: /clore names the silent members and asks to confirm.
    Action(
        "/clore 12",
        STEWARDS,
        lambda w, u: command(w, u, "/clore 2"),
        told("pas encore de position"),
        "Réservé aux admins du groupe et aux coordinateur·rices",
    ),
    Action(
        "/prolonger 12 3",
        STEWARDS,
        lambda w, u: command(w, u, "/prolonger 2 3"),
        changed("consent_rounds"),
        "Réservé aux admins du groupe et aux coordinateur·rices",
    ),
    Action(
        "/relancer 12",
        STEWARDS | {"circle"},
        lambda w, u: command(w, u, "/relancer 2"),
        told("le cercle attend votre position"),
        "Réservé aux admins du groupe et aux coordinateur·rices",
    ),
    Action(
        "Boutons de position d'un tour",
        frozenset({"circle"}),
        lambda w, u: press(w, u, "proposal", CONSENT_BUTTON),
        changed("round_positions"),
        "Seul·es les membres du cercle cœur au moment de l'ouverture",
    ),
    Action(
        "/cercle ajouter (en réponse)",
        ADMINS,
        lambda w, u: command(w, u, "/cercle ajouter", w.member),
        changed("circle_members"),
        "Seul·es les admins du groupe peuvent modifier le cercle cœur",
    ),
    Action(
        "/cercle retirer (en réponse)",
        ADMINS,
        lambda w, u: command(w, u, "/cercle retirer", w.circle[1]),
        changed("circle_members"),
        "Seul·es les admins du groupe peuvent modifier le cercle cœur",
    ),
    Action(
        "Réponse à « /cercle rejoindre »",
        ADMINS,
        lambda w, u: press(w, u, "join_request", ACCEPT_BUTTON),
        changed("circle_members"),
        "Seul·es les admins du groupe peuvent répondre à cette demande",
    ),
    Action(
        "/coordination ajouter (en réponse)",
        ADMINS,
        lambda w, u: command(w, u, "/coordination ajouter", w.member),
        changed("coordinators"),
        "Seul·es les admins du groupe peuvent modifier le cercle cœur et la coordination",
    ),
    Action(
        "/coordination retirer (en réponse)",
        ADMINS,
        lambda w, u: command(w, u, "/coordination retirer", w.coordinator),
        changed("coordinators"),
        "Seul·es les admins du groupe peuvent modifier le cercle cœur et la coordination",
    ),
    Action(
        "/bilan",
        STEWARDS,
        lambda w, u: command(w, u, "/bilan"),
        told("Bilan —"),
        "Réservé aux admins du groupe et aux coordinateur·rices",
    ),
    Action(
        "/export",
        REGISTER_KEEPERS,
        lambda w, u: command(w, u, "/export"),
        received_the_register,
        "peuvent exporter le registre",
    ),
    Action(
        "/revision 12 15/09/2030",
        REGISTER_KEEPERS,
        lambda w, u: command(w, u, "/revision 3 15/09/2030"),
        changed("reviews"),
        "peuvent changer une date de révision",
    ),
    Action(
        "Boutons d'une révision",
        REGISTER_KEEPERS,
        lambda w, u: press(w, u, "follow_up", "▶️ Continuer"),
        changed("reviews"),
        "répondent à la révision",
    ),
    Action(
        "/modifier 12",
        frozenset({"author"}),
        lambda w, u: command(w, u, "/modifier 1"),
        changed("amendments"),
        "Seul·e l'auteur·rice de la demande n°1 peut la modifier",
    ),
    Action(
        "/flux (envoi d'un fichier)",
        ADMINS,
        upload,
        changed("flow_versions"),
        "Seul·es les admins de ce groupe (ou du bot, en privé) peuvent gérer les parcours",
    ),
    Action(
        "/flux retour demande_partenariat 1",
        ADMINS,
        lambda w, u: command(w, u, "/flux retour demande_partenariat 1"),
        changed("active_flows"),
        "Seul·es les admins de ce groupe (ou du bot, en privé) peuvent gérer les parcours",
    ),
    Action(
        "/recharger",
        frozenset({"configured_admin"}),
        lambda w, u: command(w, u, "/recharger"),
        told("Fichiers relus"),
        "Seules les personnes qui administrent le bot",
    ),
    Action(
        "/retirer 12",
        frozenset({"author"}),
        lambda w, u: command(w, u, "/retirer 1"),
        changed("requests"),
        "Seul·e l'auteur·rice de la demande n°1 peut la retirer",
    ),
    Action(
        "Bouton « Retirer ma demande »",
        frozenset({"author"}),
        lambda w, u: press(w, u, "card", "↩️ Retirer ma demande"),
        changed("requests"),
        "Seul·e l'auteur·rice de la demande peut la retirer",
    ),
    Action(
        "/decliner 12 raison",
        ADMINS | {"circle"},
        lambda w, u: command(w, u, "/decliner 1 pas notre terrain"),
        changed("requests"),
        "Seul·es le cercle cœur et les admins du groupe peuvent décliner",
    ),
]
CELLS = [(action, role) for action in ACTIONS for role in ROLES]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory.mktemp("authorization")) as built:
        yield built


@pytest.mark.parametrize(
    ("action", "role"),
    CELLS,
    ids=[f"{action.label}-{role}-{'allowed' if role in action.allowed else 'refused'}" for action, role in CELLS],
)
async def test_each_role_may_do_what_it_was_given_and_nothing_else(world: World, action: Action, role: str) -> None:
    await world.reset()
    user = world.roles()[role]
    before = await snapshot(world.bot.database)

    answer = await action.act(world, user)

    changes = differences(before, await snapshot(world.bot.database))
    assert not world.bot.errors.records, world.bot.errors.describe()
    if role in action.allowed:
        assert action.done(world, user, answer, changes), f"not done: {answer!r} {changes}"
    else:
        assert action.refusal in answer, f"no French refusal: {answer!r}"
        assert not changes, f"a refused action changed {changes}"


def matrix() -> str:
    """The matrix as the Markdown table of docs/autorisations.md."""
    lines = ["| Action | " + " | ".join(ROLES.values()) + " |", "| --- |" + " :-: |" * len(ROLES)]
    for action in ACTIONS:
        marks = ["✅" if role in action.allowed else "—" for role in ROLES]
        lines.append(f"| {action.label} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


async def test_the_documented_matrix_is_the_tested_one() -> None:
    assert matrix() in DOCUMENT.read_text(encoding="utf-8"), f"update docs/autorisations.md with:\n{matrix()}"
