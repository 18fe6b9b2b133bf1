"""The callback-data codec: what a button carries, parsed into pydantic models.

Callback data is the only thing a button carries, and anyone can forge it. It is short
(Telegram allows 64 bytes), starts with a version, and is parsed here only, into pydantic
models; whatever does not parse is treated as a stale button. Every handler then re-checks
the press against the database.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from telegram import CallbackQuery

CALLBACK_VERSION = "1"
SEPARATOR = "|"
# Telegram user ids have at most 52 significant bits; a larger forged one would overflow SQLite.
UserId = Annotated[int, Field(gt=0, lt=2**52)]
# Group chat ids are negative: -100<internal id> for supergroups, shorter for basic groups.
GroupId = Annotated[int, Field(lt=0, gt=-(10**13))]


class Payload(BaseModel):
    """What a button carries; each kind names itself with a one-letter ``kind``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str  # each kind narrows it to its own letter


class FlowPress(Payload):
    """A button under a question or the summary of a flow in progress."""

    kind: Literal["f"] = "f"
    token: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{4,16}$")]
    step: Annotated[int, Field(ge=-1, le=99)]  # -1: the summary
    action: Literal["choose", "yes", "no", "skip", "back", "confirm", "menu", "edit", "summary", "cancel"]
    arg: Annotated[int, Field(ge=0, le=99)] = 0


class AnswerHere(Payload):
    """ "Répondre ici" under the group intro: only the member who asked may press it."""

    kind: Literal["h"] = "h"
    user_id: UserId


class PracticePage(Payload):
    """/bonnes_pratiques: one practice, or the menu of all of them (index -1)."""

    kind: Literal["b"] = "b"
    index: Annotated[int, Field(ge=-1, le=99)]


class ListPage(Payload):
    """Page through a chat's requests."""

    kind: Literal["l"] = "l"
    page: Annotated[int, Field(ge=0, le=100_000)]


class ConsentPress(Payload):
    """A position (or a question) under a consent round's proposal, for one request version."""

    kind: Literal["c"] = "c"
    round_id: Annotated[int, Field(gt=0, lt=10**12)]
    version: Annotated[int, Field(gt=0, lt=10**6)]
    action: Literal["consent", "reservation", "objection", "stand_aside", "conflict", "question"]


class OpenConsent(Payload):
    """ "Ouvrir le consentement" under a request card (the request's number in its chat)."""

    kind: Literal["o"] = "o"
    number: Annotated[int, Field(gt=0, lt=10**9)]


class CircleJoin(Payload):
    """An admin's answer to a member's request to join the core circle."""

    kind: Literal["j"] = "j"
    user_id: UserId
    answer: Literal["yes", "no"]


class RegisterPage(Payload):
    """Page through a chat's partner register (/partenaires)."""

    kind: Literal["p"] = "p"
    page: Annotated[int, Field(ge=0, le=100_000)]


class ReviewPress(Payload):
    """Continuer / À rediscuter / Terminer under a review follow-up."""

    kind: Literal["v"] = "v"
    review: Annotated[int, Field(gt=0, lt=10**12)]
    outcome: Literal["continue", "rediscuss", "end"]


class ForgetMe(Payload):
    """The confirmation of /oublier: only the member who asked may answer it."""

    kind: Literal["x"] = "x"
    user_id: UserId
    confirmed: bool


class ChooseGroup(Payload):
    """The group a request started in private is for, among the member's groups."""

    kind: Literal["g"] = "g"
    chat_id: GroupId


class ChooseRegisterGroup(ChooseGroup):
    """The group whose register a known partner recorded in private goes into: a ChooseGroup,
    so the same handler checks it, for the /partenaire_connu flow."""

    kind: Literal["n"] = "n"  # type: ignore[assignment]


class AttachRequest(Payload):
    """The group a request filed without one (in private, before groups were asked) joins."""

    kind: Literal["a"] = "a"
    number: Annotated[int, Field(gt=0, lt=10**9)]
    chat_id: GroupId


class FullRequest(Payload):
    """Under a proposal: send me the complete request in private."""

    kind: Literal["r"] = "r"
    number: Annotated[int, Field(gt=0, lt=10**9)]


class WithdrawRequest(Payload):
    """ "Retirer ma demande" under a request card: only its author may press it."""

    kind: Literal["w"] = "w"
    number: Annotated[int, Field(gt=0, lt=10**9)]


class CloseConfirm(Payload):
    """Close anyway, or not, a round some members have not answered: for the closer only."""

    kind: Literal["k"] = "k"
    round_id: Annotated[int, Field(gt=0, lt=10**12)]
    user_id: UserId
    confirmed: bool


# Every kind of button, in one place: a new kind is added here and nowhere else in the codec.
AnyPayload = Annotated[
    FlowPress
    | AnswerHere
    | ListPage
    | PracticePage
    | RegisterPage
    | ReviewPress
    | ConsentPress
    | OpenConsent
    | CircleJoin
    | ForgetMe
    | ChooseGroup
    | AttachRequest
    | ChooseRegisterGroup  # /partenaire_connu in private
    | FullRequest
    | WithdrawRequest
    | CloseConfirm,  # issue 10: deciding as the movement decides
    Field(discriminator="kind"),
]
PAYLOADS: tuple[type[Payload], ...] = get_args(get_args(AnyPayload)[0])
_PAYLOAD: TypeAdapter[AnyPayload] = TypeAdapter(AnyPayload)
_FIELDS = {model.model_fields["kind"].default: [n for n in model.model_fields if n != "kind"] for model in PAYLOADS}


def encode(payload: Payload) -> str:
    values = [str(getattr(payload, name)) for name in _FIELDS[payload.kind]]
    return SEPARATOR.join([CALLBACK_VERSION, payload.kind, *values])


# app.py's CallbackQueryHandler patterns each decode the data of every press until one
# matches, then the handler decodes it again: about ten pydantic validations of one string.
# Payloads are frozen, so the same press decodes once; the cache is small and bounded.
@lru_cache(maxsize=1024)
def decode(data: str | None) -> Payload | None:
    """Parse callback data; None for anything unknown, old or forged."""
    if not data:
        return None
    version, _, rest = data.partition(SEPARATOR)
    kind, _, rest = rest.partition(SEPARATOR)
    if version != CALLBACK_VERSION or kind not in _FIELDS:
        return None
    values = rest.split(SEPARATOR) if rest else []
    names = _FIELDS[kind]
    if len(values) != len(names):
        return None
    try:
        return _PAYLOAD.validate_python({"kind": kind, **dict(zip(names, values, strict=True))})
    except ValidationError:
        return None


def on_its_message(
    query: CallbackQuery,
    *,
    same_kind: bool = False,
    database_checks: bool = False,
) -> Payload | None:
    """The press's payload if its message carries that very button (or, with ``same_kind``, one
    of its kind) as Telegram shows the message now; None for data forged onto another message
    of the bot, or for a button removed since.

    A handler that rewrites the pressed message reads its payload here: a forged press must not
    turn a consent proposal into a list page, or strip a request card of its buttons.

    On a message too old for Telegram to show it (an ``InaccessibleMessage``: no text, no
    buttons), nothing can be compared: with ``database_checks`` (the handler checks the payload
    against the stored rows it acts on, such as a join request or a flow's token and step)
    the payload is taken as is; otherwise the press is stale.
    """
    payload = decode(query.data)
    if payload is None:
        return None
    if database_checks and query.message is not None and not query.message.is_accessible:
        return payload
    markup = getattr(query.message, "reply_markup", None)  # an inaccessible message has none
    buttons = [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []
    # Telegram sends the pressed button's data as it is: found among them, it is on its
    # message, without decoding every other button (a pydantic validation each).
    if not same_kind and query.data in buttons:
        return payload
    carried = map(decode, buttons)
    if any(type(c) is type(payload) if same_kind else c == payload for c in carried):
        return payload
    return None
