"""Play members answering the bot, so tests read like conversations."""

from __future__ import annotations

from datetime import date

from tests.fake_telegram import BotMessage, FakeChat, FakeTelegram, FakeUser

NEXT_YEAR = date(date.today().year + 1, 3, 15).strftime("%d/%m/%Y")

# Answers to every question of conversations/demande_partenariat.yaml, in order: a button
# label is pressed, anything else is typed.
COMPANY_REQUEST = [
    "Jardins <Weleda> & Co",
    "Entreprise",
    "Le partenaire nous a sollicités",
    "20 salariés sur le jardin partagé pendant une journée",
    "De l'aide pour les plantations de printemps",
    "-",
    "Sur plusieurs années",
    "36",
    NEXT_YEAR,
    "Non",
    "Un·e autre membre du groupe",
    "Camille y travaille",
    "Non",
    "Logos sur les deux sites",
    "Une équipe projet dédiée",
    "camille@example.org",
]

ONE_OFF_REQUEST = [
    "Alternatiba",
    "Association ou réseau",
    "Une envie commune",
    "Accueillir une étape du tour à vélo",
    "Une belle fête et des rencontres",
    "Chacun tient un stand",
    "Ponctuel (une action)",
    NEXT_YEAR,
    "Non",
    "Personne à ma connaissance",
    "Non",
    "Affiches communes",
    "Le cercle cœur",
    "@dominique",
]


def known_group(fake: FakeTelegram, member: FakeUser, title: str = "GL Pays d'Uzès") -> FakeChat:
    """The member's local group, which the bot was just added to: a request the member starts
    in private is for it (the bot handles the update before the member's next one)."""
    group = fake.add_group(title, [member])
    fake.add_bot(group, member)
    return group


def is_prompt(message: BotMessage) -> bool:
    """A question or summary: it waits for buttons or a typed reply (private questions
    to type have neither, but say which step they are)."""
    return bool(message.buttons()) or message.is_force_reply() or "Étape " in message.plain_text


async def next_prompt(fake: FakeTelegram, chat: FakeChat | FakeUser) -> BotMessage:
    """Skip informative messages up to the next question or summary."""
    while True:
        message = await fake.next_message(chat)
        if is_prompt(message):
            return message


async def answer(fake: FakeTelegram, member: FakeUser, chat: FakeChat, prompt: BotMessage, reply: str) -> None:
    """Answer one question the way a member would: press the button, or type (as a reply in groups)."""
    if reply in prompt.button_texts():
        fake.press(member, prompt, reply)
    elif chat.type == "private":
        fake.send(member, chat, reply)
    else:
        fake.send(member, chat, reply, reply_to=prompt)


async def fill(
    fake: FakeTelegram, member: FakeUser, chat: FakeChat, replies: list[str], first: BotMessage | None = None
) -> BotMessage:
    """Answer the questions in order, starting with ``first`` if already read; return the summary."""
    for reply in replies:
        prompt = first or await next_prompt(fake, chat)
        first = None
        await answer(fake, member, chat, prompt, reply)
    return await next_prompt(fake, chat)
