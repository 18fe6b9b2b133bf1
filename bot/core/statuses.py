"""The statuses of a request and of a consent round: one name each, in code, SQL and YAML.

The values are what the database stores and the keys of ``statuses`` in ``messages.yaml``,
where each is worded in French.
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_CONSENT = "in_consent"
    # The three outcomes of a round (bot.core.consent_rules.Outcome) are request statuses too.
    ADOPTED = "adopted"
    OBJECTION = "objection"
    NO_DECISION = "no_decision"
    WITHDRAWN = "withdrawn"  # the author took it back
    DECLINED = "declined"  # the circle or an admin said no without a round
    ENDED = "ended"  # an adopted partnership that a review ended, or a known partner's that is over
    CURRENT = "current"  # a known partner's partnership going on (recorded without a round)


class RoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


# A round may open on a request waiting for a decision, or after one that did not adopt it;
# the author may amend it, withdraw it, and the circle decline it, in the same statuses.
UNDECIDED = frozenset({RequestStatus.SUBMITTED, RequestStatus.OBJECTION, RequestStatus.NO_DECISION})
# Withdrawing also closes the round in progress, without a decision.
WITHDRAWABLE = UNDECIDED | {RequestStatus.IN_CONSENT}
