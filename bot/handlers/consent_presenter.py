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
from bot.storage import chats, consent_rounds, requests
from bot.storage.requests import PartnershipRequest


def consent_texts(context: BotContext) -> ConsentTexts:
    return context.services.library.consent


async def round_request(context: BotContext, rnd: consent_rounds.Round) -> PartnershipRequest:
    request = await requests.by_number(context.services.database, rnd.chat_id, rnd.request_number)
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
    steps = {step.id: step for step in engine.flow.steps}
    whose = answers.get(links.answer) if links.answer in steps else None
    who = Html(words.link_someone) if whose is None else engine.display(steps[links.answer], whose)
    return render(words.declared_link, who=who, details=details)


def _review_day(context: BotContext, engine: FlowEngine, request: PartnershipRequest, closed_at: datetime) -> str:
    """The review date an adoption on that day sets (the review job plans the same one)."""
    services = context.services
    decided_on = closed_at.astimezone(services.settings.zone).date()
    return day_text(first_review(engine.flow, request.answers, decided_on, services.library.register.rules)[1])


async def _request_view(
    context: BotContext, request: PartnershipRequest, closed_at: datetime | None = None
) -> consent_views.RequestView:
    texts = consent_texts(context)
    engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
    flow = engine.flow
    return consent_views.RequestView(
        kind=engine.display(flow.step(flow.partner_fields.kind), request.partner_kind),
        substance=partial(_substance_lines, engine, texts, request.answers),
        vigilance=await practices.vigilance_points(context, request),
        declared_link=_declared_link(engine, texts, request.answers),
        review=None if closed_at is None else _review_day(context, engine, request, closed_at),
    )


class RoundPresenter:
    """The round's messages for Telegram, rendered from ``consentement.yaml``."""

    def __init__(self, context: BotContext) -> None:
        self.context = context

    async def proposal(self, state: consent_rounds.RoundState) -> tuple[Html, Markup | None]:
        context, texts = self.context, consent_texts(self.context)
        view = await _request_view(context, await round_request(context, state.round))
        keyboard = consent_views.proposal_keyboard(texts, state.round)
        return (
            consent_views.proposal_text(texts, context.services.settings.zone, state, view, MESSAGE_LIMIT),
            None if keyboard is None else keyboard.to_dict(),
        )

    async def closing(self, state: consent_rounds.RoundState) -> tuple[list[str], list[str]]:
        context, texts, rnd = self.context, consent_texts(self.context), state.round
        services = context.services
        request = await round_request(context, rnd)
        group = await chats.title(services.database, rnd.chat_id) or ""
        view = await _request_view(context, request, rnd.closed_at)
        outcome = consent_rules.pack(consent_views.outcome_blocks(texts, state, view.review), MESSAGE_LIMIT)
        summary = consent_rules.pack(
            consent_views.summary_blocks(texts, services.settings.zone, state, view, group), MESSAGE_LIMIT
        )
        return outcome, summary

    def reminder(self, state: consent_rounds.RoundState) -> Html:
        texts, rnd = consent_texts(self.context), state.round
        return render(
            texts.commands_feedback.reminder,
            members=consent_views.names(texts, state.tally.waiting),
            number=rnd.request_number,
            deadline=consent_views.local(rnd.deadline_at, self.context.services.settings.zone, texts.round.date_format),
        )

    async def objectors_first(self, opened: Opened) -> Html | None:
        """Ask the previous round's objectors first, with what changed since (or the admin's reason)."""
        if not opened.objections:
            return None
        context, texts, rnd = self.context, consent_texts(self.context), opened.state.round
        members = consent_views.names(
            texts, [Member(uid, name) for uid, (name, _) in zip(opened.objector_ids, opened.objections, strict=True)]
        )
        if opened.before is not None:  # amended since the objection: what changed, before → after
            request = await round_request(context, rnd)
            engine = await context.services.catalog.engine(request.flow_id, request.flow_version)
            changes = consent_views.changes(
                engine, opened.before, request.answers, texts.amend, texts.reason_preview_length
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
