"""Play members answering the bot, so tests read like conversations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from bot.core.flow_engine import ChoiceStep, Choose, Input, Text, YesNoStep
from bot.core.library import load_library
from tests.fake_telegram import (
    BotMessage,
    FakeChat,
    FakeTelegram,
    FakeUser,
    as_read,
    parse_html,
)

NEXT_YEAR = date(date.today().year + 1, 3, 15).strftime("%d/%m/%Y")
ANSWER_BY = date(date.today().year + 1, 3, 1).strftime("%d/%m/%Y")
LIBRARY = load_library(Path(__file__).resolve().parents[2] / "conversations")
SHIPPED_FLOW = LIBRARY.flows["demande_partenariat"].flow
CONFIRM = LIBRARY.messages.intake.button_confirm
EDIT = LIBRARY.messages.intake.button_edit
HERE = LIBRARY.messages.intake.button_here
IN_PRIVATE = LIBRARY.messages.intake.button_private
PRIVACY = LIBRARY.messages.privacy
# What a private question shows before its number ("Étape 2/9").
STEP_LABEL = as_read(
    parse_html(LIBRARY.messages.flow.question.format(number="\0", total="", question=""))[0]
).partition("\0")[0]


def asked(answers: dict[str, str]) -> list[tuple[str, str]]:
    """The questions the shipped flow asks, in its order, for these answers by step id, each
    with its reply: a button label is pressed, anything else is typed. Read from the loaded
    YAML, so a question added or skipped there changes the list, not the tests."""
    engine = LIBRARY.engine(SHIPPED_FLOW)
    state, said = engine.start(1).state, []
    while state.current is not None:
        step, reply = SHIPPED_FLOW.step(state.current), answers[state.current]
        action: Input
        if isinstance(step, ChoiceStep):
            action = Choose(next(o.value for o in step.options if as_read(o.label) == reply))
        elif isinstance(step, YesNoStep):
            action = Choose("yes" if reply == as_read(LIBRARY.messages.flow.yes) else "no")
        else:
            action = Text(reply)
        turn = engine.advance(state, action, date.today())
        assert turn.error is None, (state.current, reply, turn.error)
        said.append((step.id, reply))
        state = turn.state
    return said


def label(step_id: str, value: str) -> str:
    """The button a member presses for this option of the shipped flow (``yes`` or ``no`` on a
    yes/no question), as the YAML words it: an admin's rewording breaks no test."""
    step = SHIPPED_FLOW.step(step_id)
    if isinstance(step, YesNoStep):
        return as_read(LIBRARY.messages.flow.yes if value == "yes" else LIBRARY.messages.flow.no)
    assert isinstance(step, ChoiceStep), step_id
    return as_read(next(option.label for option in step.options if option.value == value))


def labelled(answers: dict[str, str]) -> dict[str, str]:
    """Answers by step id, each option given by its value in the YAML, as the member gives them."""
    return {
        step_id: label(step_id, answer) if isinstance(SHIPPED_FLOW.step(step_id), ChoiceStep | YesNoStep) else answer
        for step_id, answer in answers.items()
    }


def plain(html: str) -> str:
    """What a member reads of an HTML text from the YAML."""
    return as_read(parse_html(html)[0])


def replies(answers: dict[str, str]) -> list[str]:
    """The replies to the questions the shipped flow asks for these answers, in its order."""
    return [reply for _, reply in asked(answers)]


FEWEST_QUESTIONS = LIBRARY.engine(SHIPPED_FLOW).fewest_questions()

# Answers by step id: a company sending 20 employees to the shared garden for years, a member
# declaring a link with it; an association's one-off request (the short path).
COMPANY_ANSWERS = labelled(
    {
        "partenaire": "Jardins <Weleda> & Co",
        "type_partenaire": "entreprise",
        "demande": "20 salariés sur le jardin partagé pendant une journée",
        "format": "pluriannuel",
        "duree_mois": "36",
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "deja_rencontre": "pas_encore",
        "attentes": "De l'aide pour les plantations de printemps",
        "argent": "partenaire_donne",
        "competences_pro": "non",
        "mise_en_avant": "les_deux",
        "lien_partenaire": "autre_membre",
        "lien_details": "Camille y travaille",
        "porteurs": "equipe_projet",
        "contact": "camille@example.org",
    }
)
COMPANY_REQUEST = replies(COMPANY_ANSWERS)

ONE_OFF_ANSWERS = labelled(
    {
        "partenaire": "Alternatiba",
        "type_partenaire": "association",
        "demande": "Accueillir une étape du tour à vélo",
        "format": "ponctuel",
        "date_debut": NEXT_YEAR,
        "date_reponse": ANSWER_BY,
        "lien_partenaire": "aucun",
        "contact": "@dominique",
    }
)
ONE_OFF_REQUEST = replies(ONE_OFF_ANSWERS)
# What a lasting association partnership asks besides: a member who changes the one-off's
# format to a lasting one answers these too.
LASTING_ANSWERS = labelled(
    {
        "deja_rencontre": "rencontre",
        "attentes": "-",
        "argent": "aucun",
        "competences_pro": "non",
        "dimension_politique": "no",
        "porteurs": "equipe_projet",
    }
)


def known_group(fake: FakeTelegram, member: FakeUser, title: str = "GL Pays d'Uzès") -> FakeChat:
    """The member's local group, which the bot was just added to: a request the member starts
    in private is for it (the bot handles the update before the member's next one)."""
    group = fake.add_group(title, [member])
    fake.add_bot(group, member)
    return group


def is_prompt(message: BotMessage) -> bool:
    """A question or summary: it waits for buttons or a typed reply (private questions
    to type have neither, but say which step they are)."""
    return bool(message.buttons()) or message.is_force_reply() or STEP_LABEL in message.plain_text


async def until(fake: FakeTelegram, chat: FakeChat | FakeUser, predicate: Callable[[BotMessage], bool]) -> BotMessage:
    """The next message the bot sends in the chat that matches, skipping the others."""
    while True:
        message = await fake.next_message(chat)
        if predicate(message):
            return message


async def containing(fake: FakeTelegram, chat: FakeChat | FakeUser, text: str) -> BotMessage:
    return await until(fake, chat, lambda m: text in m.plain_text)


async def next_prompt(fake: FakeTelegram, chat: FakeChat | FakeUser) -> BotMessage:
    """Skip informative messages up to the next question or summary."""
    return await until(fake, chat, is_prompt)


async def polling() -> None:
    """A polling bot fetches a member's update by itself: the next message is awaited."""


# How a member's updates reach the bot: ``polling``, or a DirectBot's ``process``.
Delivery = Callable[[], Awaitable[object]]


async def answer(
    fake: FakeTelegram,
    member: FakeUser,
    chat: FakeChat,
    prompt: BotMessage,
    reply: str,
    deliver: Delivery = polling,
) -> None:
    """Answer one question the way a member would: press the button, or type (as a reply in groups)."""
    if reply in prompt.button_texts():
        fake.press(member, prompt, reply)
    elif chat.type == "private":
        fake.send(member, chat, reply)
    else:
        fake.send(member, chat, reply, reply_to=prompt)
    await deliver()


async def fill(
    fake: FakeTelegram,
    member: FakeUser,
    chat: FakeChat,
    replies: list[str],
    first: BotMessage | None = None,
    deliver: Delivery = polling,
) -> BotMessage:
    """Answer the questions in order, starting with ``first`` if already read; return the summary."""
    for reply in replies:
        prompt = first or await next_prompt(fake, chat)
        first = None
        await answer(fake, member, chat, prompt, reply, deliver)
    return await next_prompt(fake, chat)


async def open_in_private(
    fake: FakeTelegram, author: FakeUser, group: FakeChat, deliver: Delivery = polling
) -> FakeChat:
    """The author opens a request for ``group`` through its deep link; their private chat."""
    private = fake.private_chat(author)
    fake.mark_read(private)  # the request's questions come after
    fake.send(author, private, f"/start g{group.id}")
    await deliver()
    return private


async def file_request(
    fake: FakeTelegram,
    author: FakeUser,
    group: FakeChat,
    replies: list[str] = ONE_OFF_REQUEST,
    deliver: Delivery = polling,
) -> BotMessage:
    """The author fills a request for ``group`` in private and validates it; the summary."""
    private = await open_in_private(fake, author, group, deliver)
    summary = await fill(fake, author, private, replies, deliver=deliver)
    fake.press(author, summary, CONFIRM)
    await deliver()
    return summary
