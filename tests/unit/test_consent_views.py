"""What a round shows: long reasons never break Telegram's 4096-character limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.consent_rules import CloseReason, Member, Outcome, Position, Stance, pack
from bot.core.library import Library
from bot.core.texts import Html
from bot.handlers import consent_views
from bot.storage.consent_rounds import Round, RoundState
from tests.fake_telegram import as_read

LIMIT = 4096
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Paris")
CIRCLE = tuple(Member(100 + i, f"Membre {i}") for i in range(12))
REQUEST = consent_views.RequestView(
    kind=Html("Association"), substance=lambda template, preview: [Html("• <b>Partenaire</b> : Alternatiba")]
)


def round_state(history: tuple[Stance, ...], *, closed: bool = False) -> RoundState:
    rnd = Round(
        id=1,
        request_id=1,
        request_number=12,
        partner_name="Alternatiba",
        author_id=999,
        author_name="Eve",
        request_version=1,
        number=1,
        chat_id=-1001000000001,
        message_id=5,
        opened_by=100,
        opened_by_name="Membre 0",
        opened_at=T0,
        deadline_at=T0 + timedelta(days=7),
        quorum_percent=50,
        offer_stand_aside=True,
        reminded_at=None,
        status="closed" if closed else "open",
        outcome=Outcome.OBJECTION if closed else None,
        close_reason=CloseReason.DEADLINE if closed else None,
        closed_at=T0 + timedelta(days=7) if closed else None,
        flow_id="demande_partenariat",
        flow_version=1,
    )
    return RoundState(rnd, CIRCLE, history, current_version=1)


def objections(length: int) -> tuple[Stance, ...]:
    return tuple(Stance(m.user_id, Position.OBJECTION, f"{m.name} : " + "x" * length, T0) for m in CIRCLE)


def test_reasons_are_previewed_in_the_live_proposal(library: Library) -> None:
    text = as_read(consent_views.proposal_text(library.consent, ZONE, round_state(objections(400)), REQUEST, LIMIT))
    assert "Membre 3 : objection — « Membre 3 : " in text
    assert "x" * 400 not in text and library.consent.round.ellipsis in text


def test_every_position_stays_visible_when_the_reasons_are_too_long(library: Library) -> None:
    texts = library.consent
    long_texts = texts.model_copy(update={"reason_preview_length": 1000})
    text = consent_views.proposal_text(long_texts, ZONE, round_state(objections(1000)), REQUEST, LIMIT)
    assert len(text) <= LIMIT
    assert all(f"Membre {i} : objection" in as_read(text) for i in range(12))
    assert "xxxx" not in text


def test_the_outcome_splits_into_messages_and_keeps_every_reason_whole(library: Library) -> None:
    state = round_state(objections(1000), closed=True)
    messages = pack(consent_views.outcome_blocks(library.consent, state), LIMIT)
    assert len(messages) > 1 and all(len(m) <= LIMIT for m in messages)
    assert all(not m.startswith("\n") and not m.endswith("\n") for m in messages)
    whole = as_read("\n".join(messages))
    assert all(f"« Membre {i} : {'x' * 1000} »" in whole for i in range(12))
    assert whole.startswith("🗳 <b>Demande n°12 — Alternatiba</b>") and "/modifier 12" in messages[-1]


def test_a_message_link_exists_for_supergroups_only() -> None:
    assert consent_views.message_link(-1001234567890, 42) == "https://t.me/c/1234567890/42"
    assert consent_views.message_link(-4000000001, 42) is None
    assert consent_views.message_link(-1001234567890, None) is None


def test_a_circle_too_large_to_name_gets_counts_that_fit(library: Library) -> None:
    circle = tuple(Member(1000 + i, f"Membre du cercle n°{i} avec un long nom") for i in range(200))
    history = tuple(
        Stance(
            m.user_id, Position.OBJECTION if i % 50 == 0 else Position.CONSENT, "trop tôt" if i % 50 == 0 else None, T0
        )
        for i, m in enumerate(circle[:150])
    )
    state = RoundState(round_state(()).round, circle, history, current_version=1)
    text = consent_views.proposal_text(library.consent, ZONE, state, REQUEST, LIMIT)
    assert len(text) <= LIMIT
    assert "✅ je consens : 147" in as_read(text) and "⛔ objection : 3" in as_read(text)
    assert "⏳ Pas encore répondu : 50" in as_read(text) and "150/200" in text


def test_the_bilan_of_a_busy_group_stays_within_one_message(library: Library) -> None:
    closed = round_state((), closed=True).round
    decisions = [closed] * 400
    text = consent_views.bilan_text(library.consent, ZONE, "GL Très Actif", [], decisions)
    assert len(text) <= LIMIT
    assert "… et 375 de plus." in text
