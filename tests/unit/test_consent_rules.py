"""The consent rules: quorum, objections, reservations, standing aside, conflicts, amendments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.consent_rules import (
    InvalidOption,
    Member,
    OptionWords,
    Outcome,
    Position,
    Refusal,
    RoundOptions,
    Stance,
    Tally,
    ask_first,
    check_press,
    deadline_after,
    is_change,
    latest,
    lifted_objections,
    pack,
    parse_options,
    quorum_needed,
    reminder_time,
)
from bot.core.library import load_library
from bot.core.loading import InvalidFile

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ANA, BEA, CAL, DAN = (Member(i, name) for i, name in enumerate(("Ana", "Bea", "Cal", "Dan"), start=1))
CIRCLE = (ANA, BEA, CAL, DAN)
WORDS = OptionWords(("durée", "jours"), ("quorum",), ("retrait",), ("oui",), ("non",))


def stance(member: Member, position: Position, reason: str | None = None, minute: int = 0) -> Stance:
    return Stance(member.user_id, position, reason, T0 + timedelta(minutes=minute))


def tally(*history: Stance, quorum: int = 50, roster: tuple[Member, ...] = CIRCLE) -> Tally:
    return Tally.of(roster, history, quorum)


# --- outcome ------------------------------------------------------------------------------


def test_consent_of_the_quorum_without_objection_adopts() -> None:
    result = tally(stance(ANA, Position.CONSENT), stance(BEA, Position.CONSENT))
    assert result.needed == 2 and result.quorum_reached
    assert result.outcome() is Outcome.ADOPTED


def test_silence_is_not_consent() -> None:
    assert tally(stance(ANA, Position.CONSENT)).outcome() is Outcome.NO_DECISION
    assert tally().outcome() is Outcome.NO_DECISION


def test_one_objection_stops_adoption_whatever_the_others_say() -> None:
    result = tally(
        stance(ANA, Position.CONSENT),
        stance(BEA, Position.CONSENT),
        stance(CAL, Position.CONSENT),
        stance(DAN, Position.OBJECTION, "Cela engage le groupe sur 3 ans"),
    )
    assert result.outcome() is Outcome.OBJECTION


def test_an_objection_counts_even_below_the_quorum() -> None:
    assert tally(stance(ANA, Position.OBJECTION, "Trop tôt")).outcome() is Outcome.OBJECTION


def test_reservations_do_not_block_and_are_kept_with_their_reason() -> None:
    result = tally(stance(ANA, Position.RESERVATION, "Attention aux logos"), stance(BEA, Position.CONSENT))
    assert result.outcome() is Outcome.ADOPTED
    [(member, kept)] = result.members_with(Position.RESERVATION)
    assert member == ANA and kept.reason == "Attention aux logos"


def test_standing_aside_answers_but_never_adopts_alone() -> None:
    aside = tally(stance(ANA, Position.STAND_ASIDE), stance(BEA, Position.STAND_ASIDE))
    assert aside.quorum_reached and aside.outcome() is Outcome.NO_DECISION
    with_one_consent = tally(stance(ANA, Position.STAND_ASIDE), stance(BEA, Position.CONSENT))
    assert with_one_consent.outcome() is Outcome.ADOPTED


def test_a_conflict_of_interest_stands_aside_outside_the_quorum() -> None:
    result = tally(stance(ANA, Position.CONFLICT), stance(BEA, Position.CONSENT))
    assert [m.name for m in result.counted] == ["Bea", "Cal", "Dan"]
    assert result.needed == 2 and not result.quorum_reached
    assert [m.name for m in result.waiting] == ["Cal", "Dan"]
    assert result.outcome() is Outcome.NO_DECISION


@pytest.mark.parametrize(("counted", "percent", "needed"), [(4, 50, 2), (3, 50, 2), (5, 60, 3), (1, 1, 1), (0, 50, 1)])
def test_the_quorum_is_a_share_of_the_counted_members_rounded_up(counted: int, percent: int, needed: int) -> None:
    assert quorum_needed(counted, percent) == needed


def test_the_round_is_complete_once_every_counted_member_answered() -> None:
    answers = [stance(m, Position.CONSENT) for m in (BEA, CAL, DAN)]
    assert not tally(*answers).everyone_answered
    assert tally(stance(ANA, Position.CONFLICT), *answers).everyone_answered
    assert not tally(*(stance(m, Position.CONFLICT) for m in CIRCLE)).everyone_answered


# --- positions over time ------------------------------------------------------------------


def test_the_latest_position_counts_and_the_history_keeps_them_all() -> None:
    history = [
        stance(ANA, Position.CONSENT, minute=1),
        stance(ANA, Position.OBJECTION, "Pas sans équipe projet", minute=2),
        stance(ANA, Position.RESERVATION, "Avec une équipe projet, ça va", minute=3),
    ]
    assert latest(history)[ANA.user_id].position is Position.RESERVATION
    assert tally(*history).outcome() is not Outcome.OBJECTION
    assert lifted_objections(history) == [ANA.user_id]


def test_a_standing_objection_is_not_lifted() -> None:
    history = [stance(ANA, Position.OBJECTION, "Non", minute=1), stance(BEA, Position.CONSENT, minute=2)]
    assert lifted_objections(history) == []


def test_pressing_the_same_position_twice_changes_nothing() -> None:
    current = stance(ANA, Position.CONSENT)
    assert not is_change(current, Position.CONSENT, None)
    assert is_change(current, Position.STAND_ASIDE, None)
    assert is_change(None, Position.CONSENT, None)
    reserved = stance(ANA, Position.RESERVATION, "Logos")
    assert is_change(reserved, Position.RESERVATION, "Logos et presse")


def test_positions_of_members_outside_the_roster_are_ignored() -> None:
    stranger = Member(99, "Zoé")
    result = tally(stance(stranger, Position.OBJECTION, "Je ne suis pas du cercle"), stance(ANA, Position.CONSENT))
    assert result.members_with(Position.OBJECTION) == ()


def test_after_an_amendment_the_objectors_are_asked_first() -> None:
    assert ask_first(CIRCLE, [CAL.user_id, ANA.user_id]) == (ANA, CAL, BEA, DAN)
    assert ask_first(CIRCLE, []) == CIRCLE


# --- presses ------------------------------------------------------------------------------


def press(
    *,
    is_open: bool = True,
    pressed_version: int = 2,
    round_version: int = 2,
    request_version: int = 2,
    in_roster: bool = True,
    offered: bool = True,
) -> Refusal | None:
    """A press on an open round at version 2, offered to a member of the roster, unless told otherwise."""
    return check_press(
        is_open=is_open,
        pressed_version=pressed_version,
        round_version=round_version,
        request_version=request_version,
        in_roster=in_roster,
        offered=offered,
    )


def test_a_press_is_checked_against_the_stored_round() -> None:
    assert press() is None
    assert press(is_open=False) is Refusal.CLOSED
    assert press(in_roster=False) is Refusal.NOT_IN_ROSTER
    assert press(offered=False) is Refusal.STALE


@pytest.mark.parametrize("versions", [(1, 2, 2), (2, 1, 2), (2, 2, 3)])
def test_a_press_for_another_version_of_the_request_is_stale(versions: tuple[int, int, int]) -> None:
    pressed, round_version, request_version = versions
    result = press(pressed_version=pressed, round_version=round_version, request_version=request_version)
    assert result is Refusal.STALE


# --- options and time ---------------------------------------------------------------------


def test_options_typed_when_opening_override_the_defaults() -> None:
    defaults = RoundOptions()
    assert parse_options([], defaults, WORDS) == defaults
    options = parse_options(["Durée=3", "quorum=60%", "retrait=non"], defaults, WORDS)
    assert options == RoundOptions(duration_days=3, quorum_percent=60, offer_stand_aside=False)
    assert parse_options(["jours=10j"], defaults, WORDS).duration_days == 10


@pytest.mark.parametrize(
    "word", ["durée", "durée=", "durée=trois", "quorum=0", "quorum=101", "durée=61", "retrait=peut-être", "vote=oui"]
)
def test_unreadable_options_are_refused(word: str) -> None:
    with pytest.raises(InvalidOption):
        parse_options([word], RoundOptions(), WORDS)


def test_the_reminder_comes_a_day_before_the_deadline_but_never_before_the_opening() -> None:
    deadline = deadline_after(T0, 7)
    assert deadline == T0 + timedelta(days=7)
    assert reminder_time(T0, deadline, 24) == deadline - timedelta(hours=24)
    assert reminder_time(T0, deadline_after(T0, 1), 24) is None
    assert reminder_time(T0, deadline, 0) is None


def test_long_summaries_are_split_between_blocks() -> None:
    blocks = ["a" * 40, "b" * 40, "c" * 40]
    assert pack(blocks, 100) == ["a" * 40 + "\n" + "b" * 40, "c" * 40]
    assert pack(blocks, 1000) == ["\n".join(blocks)]
    assert pack([], 10) == []


def test_blank_lines_between_sections_never_start_or_end_a_message() -> None:
    blocks = ["titre", "", "a" * 40, "b" * 40, "", "c" * 40]
    assert pack(blocks, 1000) == ["titre\n\n" + "a" * 40 + "\n" + "b" * 40 + "\n\n" + "c" * 40]
    assert pack(blocks, 80) == ["titre\n\n" + "a" * 40, "b" * 40, "c" * 40]


# --- consentement.yaml --------------------------------------------------------------------


CONVERSATIONS = Path(__file__).resolve().parents[2] / "conversations"


def load_with(tmp_path: Path, old: str, new: str) -> list[str]:
    """Load the conversations with one change to consentement.yaml; the errors, in French."""
    for source in CONVERSATIONS.glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "consentement.yaml":
            assert old in text
            text = text.replace(old, new)
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFile) as refused:
        load_library(tmp_path)
    return refused.value.lines()


def test_the_consent_texts_load_with_their_defaults() -> None:
    texts = load_library(CONVERSATIONS).consent
    # Issue 10: the shipped default is the whole circle (it was 50 %).
    assert texts.defaults == RoundOptions(duration_days=7, quorum_percent=100, offer_stand_aside=True)
    assert texts.positions.of(Position.OBJECTION).button == "⛔ J'ai une objection"


def test_a_misspelt_placeholder_is_refused_with_its_line(tmp_path: Path) -> None:
    [error] = load_with(tmp_path, "{member}, quelle est votre objection", "{membre}, quelle est votre objection")
    assert error.startswith("consentement.yaml, ligne ")
    assert "{membre} n'est pas connu ici ; possibles : member, number" in error


def test_an_option_word_used_twice_is_refused(tmp_path: Path) -> None:
    [error] = load_with(tmp_path, "quorum: [quorum]", "quorum: [quorum, jours]")
    assert "le mot « jours » sert déjà à une autre option" in error
