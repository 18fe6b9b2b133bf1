"""What members and coordinators read about a consent round, rendered from ``consentement.yaml``.

Pure functions of a round's state and its texts: the live proposal and its buttons, the
outcome posted in the group, the coordinators' summary and ``/bilan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.consent_rules import (
    CloseReason,
    Member,
    Outcome,
    Position,
    Tally,
    lifted_objections,
)
from bot.core.consent_texts import AmendTexts, BilanTexts, ConsentTexts
from bot.core.flow_engine import FlowEngine
from bot.core.texts import Html, escape, join, render, shorten
from bot.handlers import callback_data, keyboards
from bot.storage.consent_rounds import Round, RoundState

SUPERGROUP_PREFIX = "-100"  # supergroup ids are -100<internal id>; only they have message links


def local(moment: datetime, zone: ZoneInfo, fmt: str) -> str:
    return moment.astimezone(zone).strftime(fmt)


def names(texts: ConsentTexts, members: Sequence[Member]) -> Html:
    """Members as mentions (they notify when first posted), or "personne"."""
    if not members:
        return Html(texts.round.nobody)
    return join([keyboards.mention(m.user_id, m.name) for m in members], ", ")


def plain_names(texts: ConsentTexts, members: Sequence[Member]) -> Html:
    """Members by name only: summaries are read later, mentions would notify for nothing."""
    return join([escape(m.name) for m in members], ", ") if members else Html(texts.round.nobody)


def message_link(chat_id: int, message_id: int | None) -> str | None:
    """A link members of a supergroup can open; basic groups have none."""
    text = str(chat_id)
    if message_id is None or not text.startswith(SUPERGROUP_PREFIX):
        return None
    return f"https://t.me/c/{text.removeprefix(SUPERGROUP_PREFIX)}/{message_id}"


def position_lines(
    texts: ConsentTexts, tally: Tally, plain: str, with_reason: str, preview: int | None = None
) -> list[Html]:
    """One line per member who took a position, in roster order, with their reason if any.

    ``preview`` shortens reasons to that many characters (0: leaves them out); None shows them whole.
    """
    lines = []
    for member in tally.roster:
        stance = tally.current.get(member.user_id)
        if stance is None:
            continue
        text = texts.positions.of(stance.position)
        values = {"icon": text.icon, "member": member.name, "position": text.name}
        if stance.reason and preview != 0:
            reason = stance.reason if preview is None else shorten(stance.reason, preview, texts.round.ellipsis)
            lines.append(render(with_reason, reason=reason, **values))
        else:
            lines.append(render(plain, **values))
    return lines


# --- the live proposal ------------------------------------------------------------------


# "label : answer" lines of what the circle decides on, each answer cut to a length (None: whole).
SubstanceLines = Callable[[str, int | None], list[Html]]


@dataclass(frozen=True)
class RequestView:
    """What a round shows of its request, prepared by the handler from the stored request:
    never an answer the flow declares personal."""

    kind: Html
    substance: SubstanceLines
    vigilance: Html | None = None
    declared_link: Html | None = None  # who has a link with the partner, and what it is
    review: str | None = None  # the review date an adoption would set, as members read it


@dataclass(frozen=True)
class ProposalFit:
    """How much of the request and the reasons the live proposal shows."""

    substance: int
    reasons: int
    compact: bool


def proposal_text(texts: ConsentTexts, zone: ZoneInfo, state: RoundState, request: RequestView, limit: int) -> Html:
    """The round's message: the request, the positions' meaning, and who said what so far.

    Reasons are previewed; when that would pass Telegram's length ``limit``, they are left out
    (the outcome and the summaries give them whole); when even one line per member is too long
    (a circle of a hundred), the tally counts positions instead of naming everyone.
    """
    short = texts.substance_preview_length
    tightest = min(short, SHORTEST_ANSWER)
    fits = (
        ProposalFit(short, texts.reason_preview_length, False),
        ProposalFit(short, 0, False),
        ProposalFit(tightest, 0, False),
        ProposalFit(tightest, 0, True),
    )
    for fit in fits:
        text = _proposal_text(texts, zone, state, request, fit)
        if len(text) <= limit:
            break
    return text


SHORTEST_ANSWER = 80  # characters of each answer when a crowded proposal must shrink


def _tally_block(texts: ConsentTexts, state: RoundState, preview: int, compact: bool) -> list[Html]:
    rnd, tally, words = state.round, state.tally, texts.round
    block = [render(words.tally_intro, answered=len(tally.answered), counted=len(tally.counted))]
    if compact:
        for position in Position:
            count = len(tally.members_with(position))
            if count:
                text = texts.positions.of(position)
                block.append(render(words.position_count, icon=text.icon, position=text.name, count=count))
        if tally.waiting and rnd.is_open:
            block.append(render(words.waiting_count, count=len(tally.waiting)))
        block.append(Html(words.compact_note))
        return block
    block += position_lines(texts, tally, words.position_line, words.position_line_reason, preview)
    if tally.waiting and rnd.is_open:
        block.append(render(words.waiting, members=names(texts, tally.waiting)))
    return block


def rule_text(texts: ConsentTexts, tally: Tally) -> Html:
    """The adoption rule in plain words: the whole circle, or the lower bar a group chose."""
    if tally.whole_circle:
        return render(texts.round.rule_whole_circle, counted=len(tally.counted))
    return render(texts.round.rule_quorum, needed=tally.needed, counted=len(tally.counted))


def _proposal_text(
    texts: ConsentTexts, zone: ZoneInfo, state: RoundState, request: RequestView, fit: ProposalFit
) -> Html:
    rnd, tally, words = state.round, state.tally, texts.round
    preview, compact = fit.reasons, fit.compact
    parts = [
        render(words.header, number=rnd.request_number, partner=rnd.partner_name, round=rnd.number),
    ]
    if rnd.reopen_reason:
        parts.append(render(words.reopen_reason, admin=rnd.opened_by_name, reason=rnd.reopen_reason))
    parts.append(
        join(
            [
                *request.substance(words.substance_line, fit.substance),
                render(words.details, number=rnd.request_number),
            ]
        )
    )
    if request.vigilance is not None:
        parts.append(request.vigilance)
    if request.declared_link is not None:
        invite = render(words.link_invite, button=texts.positions.conflict.button) if rnd.is_open else None
        parts.append(join([request.declared_link, *([invite] if invite else [])]))
    if rnd.is_open:
        legend = [
            render(words.legend_line, icon=text.icon, meaning=Html(text.meaning), button=text.button)
            for text in map(texts.positions.of, offered_positions(rnd))
        ]
        parts.append(join([Html(words.legend_intro), *legend]))
    parts.append(
        join(
            [
                render(words.deadline, deadline=local(rnd.deadline_at, zone, words.date_format)),
                rule_text(texts, tally),
            ]
        )
    )
    parts.append(join(_tally_block(texts, state, preview, compact)))
    if not rnd.is_open and rnd.outcome and rnd.close_reason and rnd.closed_at:
        parts.append(
            render(
                words.closed,
                date=local(rnd.closed_at, zone, words.date_format),
                reason=getattr(texts.close_reasons, rnd.close_reason),
                outcome=getattr(texts.outcomes, rnd.outcome),
            )
        )
    return join(parts, "\n\n")


def offered_positions(rnd: Round) -> list[Position]:
    """The positions a round's buttons offer, in the order they are shown."""
    return _offered(rnd.offer_stand_aside)


def _offered(stand_aside: bool) -> list[Position]:
    positions = [Position.CONSENT, Position.RESERVATION, Position.OBJECTION]
    if stand_aside:
        positions.append(Position.STAND_ASIDE)
    return positions


def proposal_keyboard(texts: ConsentTexts, rnd: Round) -> InlineKeyboardMarkup | None:
    if not rnd.is_open:
        return None
    return _open_round_keyboard(texts, rnd.id, rnd.request_version, rnd.offer_stand_aside, rnd.request_number)


# An open round's buttons never change (they name the round, its request's version and
# number): every redraw of its proposal shows the keyboard drawn the first time. Keyboards
# are immutable, so one is shared safely; the rounds being redrawn are few.
@lru_cache(maxsize=256)
def _open_round_keyboard(
    texts: ConsentTexts, round_id: int, version: int, stand_aside: bool, number: int
) -> InlineKeyboardMarkup:
    press = partial(callback_data.ConsentPress, round_id=round_id, version=version)
    rows = [[keyboards.button(texts.positions.of(p).button, press(action=p.value))] for p in _offered(stand_aside)]
    rows.append([keyboards.button(texts.round.question_button, press(action="question"))])
    rows.append([keyboards.button(texts.positions.conflict.button, press(action=Position.CONFLICT.value))])
    rows.append([keyboards.button(texts.round.full_button, callback_data.FullRequest(number=number))])
    return InlineKeyboardMarkup(rows)


def open_keyboard(texts: ConsentTexts, number: int, *, withdraw: bool = False) -> InlineKeyboardMarkup:
    """The button that opens a round on a request (under its card and after an amendment),
    and, under its card, the one by which its author withdraws it."""
    rows = [[keyboards.button(texts.round.open_button, callback_data.OpenConsent(number=number))]]
    if withdraw:
        rows.append([keyboards.button(texts.withdraw.button, callback_data.WithdrawRequest(number=number))])
    return InlineKeyboardMarkup(rows)


def close_keyboard(texts: ConsentTexts, rnd: Round, closer: int) -> InlineKeyboardMarkup:
    """Confirm or not an early close while members have not answered; for the closer only."""
    press = partial(callback_data.CloseConfirm, round_id=rnd.id, user_id=closer)
    return InlineKeyboardMarkup(
        [
            [keyboards.button(texts.commands_feedback.close_confirm, press(confirmed=True))],
            [keyboards.button(texts.commands_feedback.close_keep, press(confirmed=False))],
        ]
    )


def start_keyboard(texts: ConsentTexts, bot_username: str) -> InlineKeyboardMarkup:
    """A link to the bot's private chat: only its member can open it, then summaries get through."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.coordination.button_start, url=f"https://t.me/{bot_username}")]]
    )


def changes(
    engine: FlowEngine, before: Mapping[str, Any], after: Mapping[str, Any], texts: AmendTexts, preview: int | None
) -> Html:
    """The answers that changed, in the flow's order, as "label : before → after"; the personal
    ones (the contact) are never among them: this is posted in the group."""
    lines = [
        render(
            texts.change_line,
            label=step.label,
            before=engine.display(step, before.get(step.id), preview),
            after=engine.display(step, after.get(step.id), preview),
        )
        for step in engine.flow.steps
        if before.get(step.id) != after.get(step.id) and step.id not in engine.flow.personal
    ]
    return join(lines) if lines else Html(texts.no_change)


# --- once closed --------------------------------------------------------------------------


def outcome_blocks(
    texts: ConsentTexts, state: RoundState, review: str | None = None, *, in_group: bool = True
) -> list[Html]:
    """The decision as posted in the group: outcome, reservations as conditions, objections,
    who did not answer, who answers the partner, the review date, what comes next.

    One block per line ("" between sections), so that many long reasons split across messages.
    ``review`` is the review date an adoption sets. Out of the group (the summaries, read
    later) nobody is mentioned, and the summary names who did not answer its own way.
    """
    rnd, tally, words = state.round, state.tally, texts.outcome
    outcome = rnd.outcome or tally.outcome()
    blocks = [
        render(
            words.message,
            number=rnd.request_number,
            partner=rnd.partner_name,
            outcome=getattr(texts.outcomes, outcome),
        )
    ]
    if rnd.close_reason is CloseReason.WITHDRAWN:
        return [*blocks, render(words.withdrawn, number=rnd.request_number)]
    for position, heading in ((Position.RESERVATION, words.reservations), (Position.OBJECTION, words.objections)):
        members = tally.members_with(position)
        if members:
            blocks += [Html(""), Html(heading)]
            blocks += [render(words.line, member=m.name, reason=s.reason or "") for m, s in members]
    blocks.append(Html(""))
    if tally.waiting and in_group:
        blocks.append(render(words.waiting, members=names(texts, tally.waiting)))
    author = keyboards.mention(rnd.author_id, rnd.author_name) if in_group else escape(rnd.author_name)
    blocks.append(render(words.answers_partner, member=author))
    if outcome is Outcome.ADOPTED and review is not None:
        blocks.append(render(words.review, date=review, number=rnd.request_number))
    blocks += [Html(""), render(words.hint(outcome), number=rnd.request_number)]
    return blocks


def summary_blocks(
    texts: ConsentTexts, zone: ZoneInfo, state: RoundState, request: RequestView, group: str
) -> list[Html]:
    """The coordinators' summary, in blocks that can be split across messages."""
    rnd, tally, words = state.round, state.tally, texts.summary
    date_format = texts.round.date_format
    blocks = [
        render(
            words.header,
            group=group,
            number=rnd.request_number,
            round=rnd.number,
            partner=rnd.partner_name,
            kind=request.kind,
        ),
        *request.substance(words.substance_line, None),
        *([request.declared_link] if request.declared_link is not None else []),
        render(
            words.outcome,
            outcome=getattr(texts.outcomes, rnd.outcome or tally.outcome()),
            reason=getattr(texts.close_reasons, rnd.close_reason or "deadline"),
        ),
        *outcome_blocks(texts, state, request.review, in_group=False)[1:],
        render(
            words.dates,
            opened=local(rnd.opened_at, zone, date_format),
            opener=rnd.opened_by_name,
            deadline=local(rnd.deadline_at, zone, date_format),
            closed=local(rnd.closed_at or rnd.deadline_at, zone, date_format),
        ),
        Html(words.positions),
        *position_lines(texts, tally, words.position, words.position_reason),
    ]
    roster = {m.user_id: m for m in tally.roster}
    lifted = [roster[uid] for uid in lifted_objections(state.history) if uid in roster]
    if lifted:
        blocks.append(render(words.lifted, members=plain_names(texts, lifted)))
    blocks.append(render(words.waiting, members=plain_names(texts, tally.waiting)))
    link = message_link(rnd.chat_id, rnd.message_id)
    blocks.append(render(words.link, link=link) if link else Html(words.no_link))
    return blocks


# --- /bilan -------------------------------------------------------------------------------


def bilan_text(
    texts: ConsentTexts,
    zone: ZoneInfo,
    group: str,
    open_states: Sequence[RoundState],
    decisions: Sequence[Round],
    ended: Sequence[tuple[int, str, str, datetime]] = (),
) -> Html:
    """``ended``: requests withdrawn or declined lately, as (number, partner, status, when)."""
    words, day = texts.bilan, texts.round.day_format
    open_lines = []
    for state in open_states:
        rnd, tally = state.round, state.tally
        open_lines.append(
            render(
                words.open_line,
                number=rnd.request_number,
                partner=rnd.partner_name,
                round=rnd.number,
                answered=len(tally.answered),
                counted=len(tally.counted),
                consents=len(tally.members_with(Position.CONSENT)),
                reservations=len(tally.members_with(Position.RESERVATION)),
                objections=len(tally.members_with(Position.OBJECTION)),
                deadline=local(rnd.deadline_at, zone, texts.round.date_format),
            )
        )
    decision_lines = [
        render(
            words.decision_line,
            number=rnd.request_number,
            partner=rnd.partner_name,
            outcome=getattr(texts.outcomes, rnd.outcome or Outcome.NO_DECISION),
            date=local(rnd.closed_at or rnd.deadline_at, zone, day),
        )
        for rnd in decisions
    ] + [
        render(words.ended_line, number=number, partner=partner, status=status, date=local(when, zone, day))
        for number, partner, status, when in ended
    ]
    return join(
        [
            render(words.header, group=group),
            join([Html(words.open_header), *(_at_most(words, open_lines) or [Html(words.no_open)])]),
            join(
                [
                    render(words.decisions_header, days=texts.decisions_days),
                    *(_at_most(words, decision_lines) or [Html(words.no_decisions)]),
                ]
            ),
        ],
        "\n\n",
    )


BILAN_LINES = 25  # per section: both together stay well within Telegram's 4096 characters


def _at_most(words: BilanTexts, lines: list[Html]) -> list[Html]:
    if len(lines) <= BILAN_LINES:
        return lines
    return [*lines[:BILAN_LINES], render(words.more, count=len(lines) - BILAN_LINES)]
