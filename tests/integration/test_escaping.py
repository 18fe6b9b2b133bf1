"""What members typed shows as they typed it, in every message that writes it back.

The bot speaks Telegram HTML: a partner called ``<Ma & Co>``, a member whose name holds
``<b>``, a reason with ``&`` must be escaped, or Telegram refuses the message (the fake
server parses it as strictly) or shows something else. The group here has such names
everywhere, its requests such answers; each test reads what members see (``plain_text``)
and finds exactly what was typed. The CSV export is not HTML: it holds the text unescaped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.fake_telegram import BotMessage, FakeUser, parse_html
from tests.integration.circle_scene import ACCEPT_BUTTON, OBJECTION_BUTTON, OPEN_BUTTON, QUESTION_BUTTON
from tests.integration.conversation import ANSWER_BY, CONFIRM, EDIT, HERE, NEXT_YEAR, label, replies
from tests.integration.world import PROPOSAL, World, name_in_roster, running_world

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAMES = {
    "admin": "Ana <admin> & co",
    "configured": "Dom &amp; <i>",
    "circle": "<b>Bea</b>,Cal & <Co>",
    "coordinator": "Kim <3 & >",
    "member": 'Eve "&lt;"',
    "author": "Lou &#60;u> <u>",
    "stranger": "Sam <s>",
    "group": "GL <Uzès> & « co »",
}
PARTNER = "<Ma & Co>"
ANSWERS = {
    "demande": "Prêter <le jardin> & les outils",
    "attentes": "Qu'on « parle » <franchement> & vite",
    "lien_details": "Camille <salariée> & voisine",
    "contact": "<camille@example.org> & co",
}
# A professional's one-off request: it asks the expectations as well as the short path.
REQUEST = replies(
    {
        **ANSWERS,
        "partenaire": PARTNER,
        "type_partenaire": "Professionnel·le indépendant·e",
        "format": label("format", "ponctuel"),
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "deja_rencontre": "Pas encore",
        "argent": "Non, aucun",
        "competences_pro": "Non",
        "lien_partenaire": "Moi",
    }
)
REASON = "Trop <lié> & « pressé » </b>"
QUESTION = "Qui <paie> & combien ?"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path_factory.mktemp("escaping"), NAMES, REQUEST) as built:
        yield built


@pytest.fixture(autouse=True)
async def nothing_refused(world: World) -> AsyncIterator[None]:
    """Each test starts from the built group, and no message of the bot may be refused."""
    await world.reset()
    refused = len(world.fake.errors)
    yield
    assert not world.bot.errors.records, world.bot.errors.describe()
    assert not [e for e in world.fake.errors[refused:] if e[2]["error_code"] == 400], world.fake.describe()


def shows(message: BotMessage, *typed: str) -> None:
    for text in typed:
        assert text in message.plain_text, f"{text!r} not shown in {message.plain_text!r}"


async def reply(world: World, user: FakeUser, command: str) -> BotMessage:
    await world.say(user, world.group, command)
    return world.last(world.group)


async def test_a_request_shows_its_answers_and_its_author_as_typed(world: World) -> None:
    author, member, group = world.author, world.member, world.group
    shows(world.find(author, "récapitulatif"), PARTNER, *ANSWERS.values())
    shows(world.find(author, "pour le groupe"), NAMES["group"])
    shows(world.find(author, "est enregistrée"), NAMES["group"])
    shows(world.messages["card"], PARTNER, NAMES["author"])

    shows(await reply(world, member, "/demandes"), PARTNER)
    # Issue 10: in a group, /demande never shows the contact (a personal answer).
    detail = await reply(world, member, "/demande 1")
    shows(detail, PARTNER, NAMES["author"], *(v for k, v in ANSWERS.items() if k != "contact"))
    assert ANSWERS["contact"] not in detail.plain_text
    await world.say(member, world.group, "/partenaires")  # the list, then its picture
    shows(world.find(world.group, "Registre des partenaires du groupe"), PARTNER)
    await world.say(member, group, "/partenariat")
    shows(world.last(group), NAMES["member"])
    await world.press(member, world.last(group), HERE)
    shows(world.last(group), NAMES["member"])


async def test_a_consent_round_shows_names_reasons_and_questions_as_typed(world: World) -> None:
    fake, group, admin = world.fake, world.group, world.admin
    bea, cal = world.circle
    proposal = world.messages["proposal"]
    shows(proposal, PARTNER, ANSWERS["lien_details"], NAMES["circle"].split(",")[1])
    shows(await reply(world, admin, "/relancer 2"), "<b>Bea</b>")
    newcomer = fake.add_user("Zoé <z> & co")  # a coordinator who never wrote to the bot
    fake.set_member_status(group, newcomer, "member")
    await name_in_roster(world, group, admin, newcomer, "/coordination ajouter")
    shows(world.last(group), "Zoé <z> & co")

    await world.press(bea, proposal, QUESTION_BUTTON)
    await world.say(bea, group, QUESTION, reply_to=world.last(group))
    shows(world.last(group), "<b>Bea</b>", "Cal & <Co>", QUESTION)
    await world.press(bea, proposal, OBJECTION_BUTTON)
    shows(world.last(group), "<b>Bea</b>")
    await world.say(bea, group, REASON, reply_to=world.last(group))  # Cal stands aside: the round ends

    shows(proposal, f"<b>Bea</b> : objection — « {REASON} »")
    shows(world.find(group, "Objections à travailler"), PARTNER, "<b>Bea</b>", REASON)
    summary = world.find(world.coordinator, "Bilan de consentement")
    shows(summary, NAMES["group"], PARTNER, "<b>Bea</b>", REASON, "Cal & <Co>")
    shows(world.find(group, "je n'arrive pas à écrire en privé"), NAMES["admin"], "Zoé <z> & co")
    shows(await reply(world, admin, "/bilan"), NAMES["group"], PARTNER)
    await world.say(world.coordinator, world.coordinator, "/bilan")
    shows(world.last(world.coordinator), NAMES["group"], PARTNER)

    await world.say(cal, group, "/modifier 2")
    await world.press(cal, world.find(group, "récapitulatif"), EDIT)
    await world.press(cal, world.find(group, "récapitulatif"), "Attentes mutuelles")
    await world.say(cal, group, "Rien <avant> & tout après", reply_to=world.last(group))
    await world.press(cal, world.find(group, "récapitulatif"), CONFIRM)
    amended = world.find(group, "a modifié la demande n°2")
    shows(amended, "Cal & <Co>", f"{ANSWERS['attentes']} → Rien <avant> & tout après")
    await world.press(bea, amended, OPEN_BUTTON)
    shows(world.find(group, "Votre avis d'abord"), "<b>Bea</b>", REASON)
    shows(world.find(group, PROPOSAL), PARTNER)


async def test_rosters_and_joining_show_names_as_typed(world: World) -> None:
    admin, member, group = world.admin, world.member, world.group
    shows(await reply(world, member, "/cercle"), "<b>Bea</b>", "Cal & <Co>")
    shows(await reply(world, member, "/coordination"), NAMES["coordinator"])
    shows(world.messages["join_request"], NAMES["member"])

    await world.press(admin, world.messages["join_request"], ACCEPT_BUTTON)

    shows(world.messages["join_request"], NAMES["member"], NAMES["admin"])
    said = world.fake.send(member, group, "Merci !")
    await world.say(admin, group, "/cercle retirer", reply_to=said)
    shows(world.last(group), NAMES["member"])


async def test_follow_ups_and_review_dates_show_the_partner_as_typed(world: World) -> None:
    admin, follow_up = world.admin, world.messages["follow_up"]
    shows(follow_up, PARTNER, ANSWERS["demande"], ANSWERS["attentes"])

    await world.press(admin, follow_up, "💬 À rediscuter")

    shows(follow_up, PARTNER, ANSWERS["attentes"], NAMES["admin"])
    shows(await reply(world, admin, "/revision 3"), PARTNER)
    shows(await reply(world, admin, "/revision 3 15/09/2030"), PARTNER)


async def test_the_export_and_the_flow_versions_show_as_typed(world: World) -> None:
    admin, group, fake = world.admin, world.group, world.fake
    shows(await reply(world, admin, "/export"), NAMES["admin"])
    document = world.last(admin)
    assert document.document is not None and document.caption is not None
    assert NAMES["group"] in parse_html(document.caption)[0]
    rows = list(csv.DictReader(io.StringIO(document.document["content"].decode("utf-8-sig")), delimiter=";"))
    assert {row["Partenaire"] for row in rows} == {PARTNER}, "a file is not HTML: nothing escaped"
    assert rows[0]["Contact"] == ANSWERS["contact"] and rows[0]["Proposée par"] == NAMES["author"]

    fake.send_document(admin, group, "<b>flux</b> & co.yaml", b"id: [", caption="/flux")
    await world.bot.process()
    shows(world.last(group), "<b>flux</b> & co.yaml")
    flow = (world.services.settings.flows_dir / "demande_partenariat.yaml").read_bytes()
    fake.send_document(
        admin, group, "demande_partenariat.yaml", flow.replace(b"Partenaire", b"Partenaire <&>"), caption="/flux"
    )
    await world.bot.process()
    shows(await reply(world, admin, "/flux"), NAMES["group"], NAMES["admin"])
    shows(await reply(world, admin, "/flux historique demande_partenariat"), NAMES["admin"])


async def test_what_the_bot_keeps_about_a_member_shows_as_typed(world: World) -> None:
    author = world.author
    await world.say(author, author, "/mes_donnees")
    shows(world.last(author), PARTNER, NAMES["group"])
