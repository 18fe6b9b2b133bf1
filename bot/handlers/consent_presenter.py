"""What a consent round shows of its request, for ``bot.rounds``' presenter port.

The substance the circle decides on (never an answer the flow declares personal), the link
with the partner the request declares, the review date an adoption sets, and the texts of
the proposal, the outcome, the summaries and the reminders, rendered from the YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from bot.core import consent_rules
from bot.core.consent_rules import Member
from bot.core.consent_texts import ConsentTexts
from bot.core.flow_engine import FlowEngine
from bot.core.register_rules import day_text, first_review
from bot.core.telegram_html import MESSAGE_LIMIT
from bot.core.texts import Html, join, render
from bot.handlers import consent_views, practices
from bot.rounds.ports import Markup, Opened
from bot.services import BotContext
from bot.storage import consent_rounds, requests
from bot.storage.requests import PartnershipRequest


def consent_texts(context: BotContext) -> ConsentTexts:
    return context.services.library.consent


async def round_request(context: BotContext, rnd: consent_rounds.Round) -> PartnershipRequest:
    request = await context.services.database.read(
        partial(requests.by_number, chat_id=rnd.chat_id, number=rnd.request_number)
    )
    assert request is not None  # a round's request is never deleted while the round exists
    return request


def _substance_lines(
    engine: FlowEngine, texts: ConsentTexts, answers: Mapping[str, Any], template: str, preview: int | None
) -> list[Html]:
    """What the circle decides on: the card's answers, then the substance ones, never a personal one."""
    flow = engine.flow
    steps = {step.id: step for step in flow.steps}
    shown = dict.fromkeys([*flow.card, *texts.substance_answers])
    return [
        render(template, label=steps[i].label, answer=engine.display(steps[i], answers[i], preview))
        for i in shown
        if i in steps and i in answers and i not in flow.personal
    ]


def _declared_link(engine: FlowEngine, texts: ConsentTexts, answers: Mapping[str, Any]) -> Html | None:
    """Whose link with the partner the request declares, and what it is (older requests only say what)."""
    links, words = texts.links, texts.round
    details = links.described(answers)
    if details is None:
        return None
    step = None if links.answer is None else {step.id: step for step in engine.flow.steps}.get(links.answer)
    whose = None if step is None else answers.get(step.id)
    who = Html(words.link_someone) if step is None or whose is None else engine.display(step, whose)
    return render(words.declared_link, who=who, details=details)


class RoundDrawing:
    """The messages of rounds on requests of one flow version, from ``consentement.yaml``:
    no wait, so that they are drawn inside the transaction that queues them."""

    def __init__(self, context: BotContext, engine: FlowEngine) -> None:
        self.context, self.engine = context, engine
        self.texts = consent_texts(context)

    def _review_day(self, request: PartnershipRequest, closed_at: datetime) -> str:
        """The review date an adoption on that day sets (the review job plans the same one)."""
        services = self.context.services
        decided_on = closed_at.astimezone(services.settings.zone).date()
        return day_text(first_review(self.engine.flow, request.answers, decided_on, services.library.register.rules)[1])

    def _request_view(
        self, request: PartnershipRequest, closed_at: datetime | None = None
    ) -> consent_views.RequestView:
        engine, texts = self.engine, self.texts
        flow = engine.flow
        return consent_views.RequestView(
            kind=engine.display(flow.step(flow.partner_fields.kind), request.partner_kind),
            substance=partial(_substance_lines, engine, texts, request.answers),
            vigilance=practices.vigilance(self.context, flow, request.answers),
            declared_link=_declared_link(engine, texts, request.answers),
            review=None if closed_at is None else self._review_day(request, closed_at),
        )

    def proposal(self, state: consent_rounds.RoundState, request: PartnershipRequest) -> tuple[Html, Markup | None]:
        texts = self.texts
        zone = self.context.services.settings.zone
        return (
            consent_views.proposal_text(texts, zone, state, self._request_view(request), MESSAGE_LIMIT),
            consent_views.proposal_keyboard(texts, state.round),
        )

    def closing(
        self, state: consent_rounds.RoundState, request: PartnershipRequest, group: str
    ) -> tuple[list[str], list[str]]:
        texts, rnd = self.texts, state.round
        view = self._request_view(request, rnd.closed_at)
        outcome = consent_rules.pack(consent_views.outcome_blocks(texts, state, view.review), MESSAGE_LIMIT)
        summary = consent_rules.pack(
            consent_views.summary_blocks(texts, self.context.services.settings.zone, state, view, group), MESSAGE_LIMIT
        )
        return outcome, summary

    def objectors_first(self, opened: Opened, request: PartnershipRequest) -> Html | None:
        """Ask the previous round's objectors first, with what changed since (or the admin's reason)."""
        if not opened.objections:
            return None
        texts, rnd = self.texts, opened.state.round
        members = consent_views.names(
            texts, [Member(uid, name) for uid, (name, _) in zip(opened.objector_ids, opened.objections, strict=True)]
        )
        if opened.before is not None:  # amended since the objection: what changed, before → after
            changes = consent_views.changes(
                self.engine, opened.before, request.answers, texts.amend, texts.reason_preview_length
            )
            lines = [render(texts.round.ask_first, members=members, number=rnd.request_number, changes=changes)]
        else:
            lines = [
                render(
                    texts.round.ask_first_reason,
                    members=members,
                    number=rnd.request_number,
                    admin=rnd.opened_by_name,
                    reason=opened.reason or "",
                )
            ]
        lines += [
            render(texts.round.previous_objection, member=name, reason=reason) for name, reason in opened.objections
        ]
        return join(lines)


class RoundPresenter:
    """The round's messages for Telegram, rendered from ``consentement.yaml``."""

    def __init__(self, context: BotContext) -> None:
        self.context = context

    async def drawing(self, flow_id: str, flow_version: int) -> RoundDrawing:
        return RoundDrawing(self.context, await self.context.services.catalog.engine(flow_id, flow_version))

    def reminder(self, state: consent_rounds.RoundState) -> Html:
        texts, rnd = consent_texts(self.context), state.round
        return render(
            texts.commands_feedback.reminder,
            members=consent_views.names(texts, state.tally.waiting),
            number=rnd.request_number,
            deadline=consent_views.local(rnd.deadline_at, self.context.services.settings.zone, texts.round.date_format),
        )
