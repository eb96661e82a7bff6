"""Decision rules: pure functions over a tally, with exact fractions.

``decide`` answers whether a consent round adopts its proposal. The rules come from SPEC
section 2; quorum counts everyone who stated a position (abstentions too), the majority
rules count only those who took a side (consent and concern agree, objection disagrees).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from deliberation.commands import Stance


class Rule(StrEnum):
    CONSENT = "consent"
    MAJORITY = "majority"
    SUPERMAJORITY = "supermajority"


class Verdict(StrEnum):
    ADOPTED = "adopted"
    OBJECTED = "objected"  # consent rule: quorum met but objections stand
    NO_QUORUM = "no_quorum"
    RULE_NOT_MET = "rule_not_met"


@dataclass(frozen=True, slots=True)
class Tally:
    consent: int = 0
    concern: int = 0
    object: int = 0
    abstain: int = 0

    @classmethod
    def of(cls, stances: Iterable[Stance | str]) -> Tally:
        """Count one stance per person: callers pass each person's current stance once."""
        counts = dict.fromkeys(Stance, 0)
        for stance in stances:
            counts[Stance(stance)] += 1
        return cls(**{s.value: n for s, n in counts.items()})

    @property
    def stated(self) -> int:
        return self.consent + self.concern + self.object + self.abstain

    @property
    def agreeing(self) -> int:
        return self.consent + self.concern

    @property
    def sided(self) -> int:
        return self.agreeing + self.object

    def as_dict(self) -> dict[str, int]:
        return {
            "consent": self.consent,
            "concern": self.concern,
            "object": self.object,
            "abstain": self.abstain,
        }


def quorum_met(tally: Tally, quorum: Fraction, quorum_min: int, eligible: int) -> bool:
    """At least ``quorum`` of the eligible members and at least ``quorum_min`` people stated."""
    stated = tally.stated
    return stated >= quorum_min and Fraction(stated) >= quorum * eligible


def _consent(t: Tally) -> bool:
    return t.object == 0


def _majority(t: Tally) -> bool:
    return t.sided > 0 and 2 * t.agreeing > t.sided


def _supermajority(t: Tally) -> bool:
    return t.sided > 0 and 3 * t.agreeing >= 2 * t.sided


RULES: dict[Rule, Callable[[Tally], bool]] = {
    Rule.CONSENT: _consent,
    Rule.MAJORITY: _majority,
    Rule.SUPERMAJORITY: _supermajority,
}


def decide(
    tally: Tally, rule: Rule | str, quorum: Fraction, quorum_min: int, eligible: int
) -> Verdict:
    """The outcome of a closed consent round.

    ``eligible`` is the number of human members when the round closed; it never counts
    below the number who stated a position (people may leave after voting).
    """
    eligible = max(eligible, tally.stated)
    if not quorum_met(tally, quorum, quorum_min, eligible):
        return Verdict.NO_QUORUM
    rule = Rule(rule)
    if RULES[rule](tally):
        return Verdict.ADOPTED
    return Verdict.OBJECTED if rule is Rule.CONSENT else Verdict.RULE_NOT_MET
