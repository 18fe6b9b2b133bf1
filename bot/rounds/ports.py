"""The two small interfaces the round lifecycle reaches the outside world through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.core.texts import Html
from bot.storage.consent_rounds import RoundState
from bot.storage.requests import PartnershipRequest

Job = Callable[[], Awaitable[None]]
# Answers the button press being handled. Called right after its change is committed and
# before anything else is sent: a send may wait seconds for its group's rate limit, and
# Telegram gives up on an unanswered press after about 15 s.
Acknowledge = Callable[[], Awaitable[object]]


async def acknowledge(answer: Acknowledge | None) -> None:
    """Answer the press, when there is one to answer (a command has none)."""
    if answer is not None:
        await answer()


@dataclass(frozen=True)
class Destination:
    """Where a message goes: a chat, and in a forum supergroup the topic it belongs to."""

    chat_id: int
    message_thread_id: int | None = None


class Markup(Protocol):
    """A keyboard as the presenter draws it: the sender takes it as it is (no conversion at
    each redraw), the outbox keeps its JSON (``reply_markup``'s)."""

    def to_dict(self) -> dict[str, Any]: ...


class Sender(Protocol):
    """Edit a message (new messages go through the outbox, ``bot.storage.outbox``)."""

    async def edit(self, to: Destination, message_id: int, text: Html, *, markup: Markup | None = None) -> None:
        """Edit a message; an edit that changes nothing is not an error."""


class Scheduler(Protocol):
    """Run a job later, whatever happens to the update that asked for it."""

    def run_at(self, name: str, when: datetime | float, job: Job) -> None:
        """Run ``job`` at ``when`` (a moment, or seconds from now); a late job still runs."""

    def cancel(self, name: str) -> None: ...

    def scheduled(self, name: str) -> bool: ...


class Drawing(Protocol):
    """What members read about the rounds of one flow version, drawn without a wait: it is
    called inside the transaction that queues the message, with the request read there."""

    def proposal(self, state: RoundState, request: PartnershipRequest) -> tuple[Html, Markup | None]: ...

    def closing(self, state: RoundState, request: PartnershipRequest, group: str) -> tuple[list[str], list[str]]:
        """The outcome for the group and the summary for the coordinators, each in messages."""

    def objectors_first(self, opened: Opened, request: PartnershipRequest) -> Html | None:
        """The message asking the previous round's objectors first, if there were any."""


class Presenter(Protocol):
    """What members read about a round, rendered by the adapter from the YAML texts."""

    async def drawing(self, flow_id: str, flow_version: int) -> Drawing:
        """The drawing of rounds on requests filed with this flow version (its flow loaded once)."""

    def reminder(self, state: RoundState) -> Html: ...


@dataclass(frozen=True)
class Opened:
    """A round just opened, with what its previous round left to answer."""

    round_id: int
    state: RoundState
    objections: tuple[tuple[str, str], ...]  # (name, reason) of the previous round's objectors
    objector_ids: tuple[int, ...]
    before: dict[str, Any] | None  # the answers objected to, when the request was amended since
    reason: str | None  # an admin's reason for a new round on the unchanged request
