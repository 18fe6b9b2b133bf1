"""Good practices: reminded when an answer calls for them, listed on demand, shown on cards."""

from __future__ import annotations

from tests.fake_telegram import FakeTelegram
from tests.integration.conversation import COMPANY_REQUEST, ONE_OFF_REQUEST, answer, fill, known_group, next_prompt


def reminders(fake: FakeTelegram, chat) -> list[str]:
    """Every practice title reminded in the chat, in order."""
    return [
        line for m in fake.messages_in(chat) for line in m.plain_text.splitlines() if line.startswith("💡")
    ]


async def test_a_company_request_meets_its_reminders_right_after_the_answer(fake: FakeTelegram, bot) -> None:
    alice = fake.add_user("Alice")
    private = fake.private_chat(alice)
    group = known_group(fake, alice)
    fake.send(alice, private, "/partenariat")
    await answer(fake, alice, private, await next_prompt(fake, private), COMPANY_REQUEST[0])
    kind = await next_prompt(fake, private)
    fake.press(alice, kind, "Entreprise")

    reminder = await fake.next_message(private)
    titles = [line for line in reminder.plain_text.splitlines() if line.startswith("💡")]
    assert titles == [
        "💡 Bonne pratique : Avec une entreprise, rester humbles et prudents",
        "💡 Bonne pratique : Convenir ensemble « sur quel terrain on joue »",
        "💡 Bonne pratique : Ne pas remplacer des professionnels par des bénévoles",
        "💡 Bonne pratique : Dire les liens d'intérêts",
    ]
    third = await next_prompt(fake, private)
    assert "Étape 3/" in third.plain_text

    await answer(fake, alice, private, third, COMPANY_REQUEST[2])
    summary = await fill(fake, alice, private, COMPANY_REQUEST[3:])
    shown = reminders(fake, private)
    assert len(shown) == len(set(shown)), "each practice is reminded once per flow"
    assert any("Légèreté dans l'attachement" in r for r in shown)  # 36 months
    assert any("Parler des attentes" in r for r in shown)  # expectations left empty
    assert any("Prendre le temps de se rencontrer" in r for r in shown)  # they came to us
    fake.press(alice, summary, "✅ Valider")
    card = await fake.next_message(group)
    assert "Points de vigilance" in card.plain_text
    assert "• Légèreté dans l'attachement" in card.plain_text
    assert "• Convenir ensemble « sur quel terrain on joue »" in card.plain_text


async def test_a_one_off_association_request_calls_for_no_reminder(fake: FakeTelegram, bot) -> None:
    bob = fake.add_user("Bob")
    private = fake.private_chat(bob)
    group = known_group(fake, bob)
    fake.send(bob, private, "/partenariat")
    summary = await fill(fake, bob, private, ONE_OFF_REQUEST)
    assert [r for r in reminders(fake, private) if "cercle cœur" not in r] == []
    fake.press(bob, summary, "✅ Valider")
    assert "Points de vigilance" in (await fake.next_message(group)).plain_text  # carried by the core circle


async def test_the_catalogue_is_browsed_with_buttons(fake: FakeTelegram, bot) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("GL Strasbourg", [alice])
    fake.send(alice, group, "/bonnes_pratiques")
    menu = await fake.next_message(group)
    assert len(menu.button_texts()) == 15
    assert "Lister tous les partenaires avec qui on coopère" in menu.button_texts()

    fake.press(alice, menu, "Lister tous les partenaires avec qui on coopère")
    await fake.wait_edit(menu)
    assert "trois grandes feuilles" in menu.plain_text
    fake.press(alice, menu, "↩️ Toutes les bonnes pratiques")
    await fake.wait_edit(menu)
    assert len(menu.button_texts()) == 15

    forged = fake.press_data(alice, menu, "1|b|77")
    await fake.callback_answer(forged)
    assert len(menu.button_texts()) == 15
