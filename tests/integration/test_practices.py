"""Good practices: reminded right after the answer that calls for them, listed on demand, shown on cards.

Three requests of the training are played in a group, as members would: a small association
asking for a stand at a fair, a company sending 20 employees to the shared garden with a
member's facilitation skills offered unpaid, a school asking for 5-6 workshops a year for three
years. Each sees the lessons that fit it, at the answer that calls for them, addressed to the
member who answered.
"""

from __future__ import annotations

from bot.core.practice_rules import Practice
from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser, as_read
from tests.integration.conftest import RunningBot
from tests.integration.conversation import (
    ANSWER_BY,
    CONFIRM,
    FEWEST_QUESTIONS,
    HERE,
    LIBRARY,
    NEXT_YEAR,
    STEP_LABEL,
    answer,
    asked,
    is_prompt,
    known_group,
    labelled,
    next_prompt,
)

CATALOG = LIBRARY.practices

STAND = labelled(
    {
        "partenaire": "Les Ami·es de la foire bio",
        "type_partenaire": "association",
        "demande": "Tenir un stand à la foire bio du printemps",
        "format": "ponctuel",
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "lien_partenaire": "aucun",
        "contact": "@camille",
    }
)
GARDEN_DAY = labelled(
    {
        "partenaire": "Weleda",
        "type_partenaire": "entreprise",
        "demande": "Accueillir 20 salariés une journée sur le jardin partagé",
        "format": "ponctuel",
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "deja_rencontre": "pas_encore",
        "attentes": "-",
        "argent": "partenaire_donne",
        "competences_pro": "benevoles",  # Marina facilitates the day, for free
        "mise_en_avant": "entreprise",
        "lien_partenaire": "aucun",
        "contact": "@marina",
    }
)
SCHOOL = labelled(
    {
        "partenaire": "École Jean Macé",
        "type_partenaire": "ecole",
        "demande": "Animer 5 à 6 ateliers par an sur le développement durable",
        "format": "pluriannuel",
        "duree_mois": "36",
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "deja_rencontre": "rencontre",
        "attentes": "La directrice suit les directives du rectorat ; nous voulons des ateliers vivants",
        "structures_contactees": "-",
        "argent": "aucun",
        "competences_pro": "non",
        "lien_partenaire": "aucun",
        "porteurs": "cercle_coeur",
        "contact": "@brice",
    }
)


def practices_in(message: BotMessage) -> list[str]:
    """The ids of the practices a reminder message shows, in its order."""
    text = message.plain_text
    shown = [p for p in CATALOG.practices if f"💡 Bonne pratique : {as_read(p.title)}" in text]
    return [p.id for p in sorted(shown, key=lambda p: text.index(as_read(p.title)))]


async def play_in_group(
    fake: FakeTelegram, member: FakeUser, group: FakeChat, answers: dict[str, str]
) -> tuple[dict[str, list[BotMessage]], dict[str, str], BotMessage]:
    """Fill a request in the group: the reminders shown right after each answer (by step id),
    the step counter of each question ("3/13"), and the summary."""
    fake.send(member, group, "/partenariat")
    fake.press(member, await fake.next_message(group), HERE)
    prompt = await next_prompt(fake, group)
    reminders: dict[str, list[BotMessage]] = {}
    counters: dict[str, str] = {}
    for step_id, reply in asked(answers):
        counters[step_id] = prompt.plain_text.split(STEP_LABEL, 1)[1].split()[0]
        await answer(fake, member, group, prompt, reply)
        while not is_prompt(message := await fake.next_message(group)):
            reminders.setdefault(step_id, []).append(message)
        prompt = message
    return reminders, counters, prompt


def practice(practice_id: str) -> Practice:
    """A practice the shipped catalogue has."""
    found = CATALOG.get(practice_id)
    assert found is not None
    return found


def shown(reminders: dict[str, list[BotMessage]]) -> dict[str, list[str]]:
    return {step: [p for m in messages for p in practices_in(m)] for step, messages in reminders.items()}


def assert_addressed(reminders: dict[str, list[BotMessage]], member: FakeUser) -> None:
    for messages in reminders.values():
        for message in messages:
            assert message.text is not None
            assert f"tg://user?id={member.id}" in message.text, "a group reminder names its member"
            assert 1 <= len(practices_in(message)) <= 2, message.plain_text


async def test_a_small_association_asking_for_a_stand_gets_the_short_path_and_no_reminder(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    camille = fake.add_user("Camille")
    group = fake.add_group("GL Nîmes", [camille])
    reminders, counters, summary = await play_in_group(fake, camille, group, STAND)
    assert len(counters) <= 8
    assert list(counters.values()) == [f"{n}/{FEWEST_QUESTIONS}" for n in range(1, len(counters) + 1)]
    assert reminders == {}
    fake.press(camille, summary, CONFIRM)
    assert "Points de vigilance" not in (await fake.next_message(group)).plain_text


async def test_a_company_day_on_the_garden_meets_each_lesson_at_its_answer(fake: FakeTelegram, bot: RunningBot) -> None:
    marina = fake.add_user("Marina")
    group = fake.add_group("GL Evry", [marina])
    reminders, counters, summary = await play_in_group(fake, marina, group, GARDEN_DAY)

    assert shown(reminders) == {
        "deja_rencontre": ["rencontre", "terrain_de_jeu"],
        "attentes": ["attentes"],
        "competences_pro": ["benevolat"],  # a member's trade, unpaid
        "mise_en_avant": ["entreprises", "terrain_de_jeu"],  # again: the company leads the communication
    }
    assert_addressed(reminders, marina)
    assert counters["type_partenaire"] == f"2/{FEWEST_QUESTIONS}" and counters["demande"] == f"3/{len(counters)}"
    weleda = reminders["mise_en_avant"][0].plain_text
    assert "Vécu : Weleda a envoyé 20 salariés" in weleda and "En 2018, le national" in weleda
    assert reminders["attentes"][0].reply_to_message_id is not None  # a typed answer: replied to

    fake.press(marina, summary, CONFIRM)
    card = await fake.next_message(group)
    for practice_id in ("rencontre", "terrain_de_jeu", "attentes", "benevolat", "entreprises"):
        assert f"• {as_read(practice(practice_id).title)}" in card.plain_text


async def test_a_school_over_three_years_meets_lightness_twice_and_the_kembs_lesson(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    brice = fake.add_user("Brice")
    group = fake.add_group("GL Kembs", [brice])
    reminders, counters, _ = await play_in_group(fake, brice, group, SCHOOL)

    assert shown(reminders) == {
        "duree_mois": ["legerete"],  # 36 months
        "structures_contactees": ["ne_pas_reinventer"],  # none contacted yet
        "porteurs": ["legerete"],  # again, for a new reason: the core circle would carry it
    }
    assert_addressed(reminders, brice)
    assert "Vécu : À Kembs" in reminders["porteurs"][0].plain_text
    assert "Vécu : Une membre du groupe de Metz" in reminders["structures_contactees"][0].plain_text
    assert list(counters)[-1] == "contact" and counters["contact"] == f"{len(counters)}/{len(counters)}"


async def test_an_independent_professional_is_reminded_of_the_lyon_charter_with_its_link(
    fake: FakeTelegram, bot: RunningBot
) -> None:
    remy = fake.add_user("Rémy")
    private = fake.private_chat(remy)
    known_group(fake, remy)
    fake.send(remy, private, "/partenariat")
    await answer(fake, remy, private, await next_prompt(fake, private), "Une pharmacienne thérapeute")
    fake.press(remy, await next_prompt(fake, private), "Professionnel·le indépendant·e")
    reminder = await fake.next_message(private)
    assert practices_in(reminder) == ["conflits_interets"]
    link = practice("conflits_interets").link
    assert link is not None and reminder.text is not None
    assert f'href="{link.url}"' in reminder.text
    assert any(e.get("url") == link.url for e in reminder.entities)


async def test_the_catalogue_is_browsed_with_buttons(fake: FakeTelegram, bot: RunningBot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    fake.send(alice, group, "/bonnes_pratiques")
    menu = await fake.next_message(group)
    assert len(menu.button_texts()) == len(CATALOG.practices)
    title = as_read(practice("liste_partenaires").title)
    assert title in menu.button_texts()

    fake.press(alice, menu, title)
    await fake.wait_edit(menu)
    assert "trois grandes feuilles" in menu.plain_text
    fake.press(alice, menu, "↩️ Toutes les bonnes pratiques")
    await fake.wait_edit(menu)
    assert len(menu.button_texts()) == len(CATALOG.practices)

    forged = fake.press_data(alice, menu, "1|b|77")
    await fake.callback_answer(forged)
    assert len(menu.button_texts()) == len(CATALOG.practices)
