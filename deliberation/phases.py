"""The life of a proposal as a transition table (SPEC section 2).

The table is data so that it can be tested whole and drawn (``python -m
deliberation.phases`` prints the Mermaid diagram kept in docs/phases.md). Every change of
phase in the engine goes through ``advance``; anything not in the table raises
``InvalidTransition``, which the services turn into a "wrong phase" reply.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    AMENDMENT = "amendment"
    CONSENT = "consent"
    OBJECTED = "objected"
    ADOPTED = "adopted"
    NOT_ADOPTED = "not_adopted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    CLOSED = "closed"


class Action(StrEnum):
    CLOSE_AMENDMENT = "close_amendment"  # amendments applied, consent round opens
    ADOPT = "adopt"
    OBJECT = "object"
    REJECT = "reject"  # quorum missed or rule not met
    RESOLVE = "resolve"  # mediator opens a new amendment round after objections
    REOPEN = "reopen"  # a new consent round after objections, at a time a mediator scheduled
    OBJECTIONS_WITHDRAWN = "objections_withdrawn"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    EXPIRE = "expire"


# Ordered (not a set) so that the table, and the diagram drawn from it, never change order.
OPEN_PHASES = (Phase.AMENDMENT, Phase.CONSENT, Phase.OBJECTED)
OPEN = frozenset(OPEN_PHASES)
FINAL = frozenset(Phase) - OPEN

TRANSITIONS: dict[tuple[Phase, Action], Phase] = {
    (Phase.AMENDMENT, Action.CLOSE_AMENDMENT): Phase.CONSENT,
    (Phase.CONSENT, Action.ADOPT): Phase.ADOPTED,
    (Phase.CONSENT, Action.OBJECT): Phase.OBJECTED,
    (Phase.CONSENT, Action.REJECT): Phase.NOT_ADOPTED,
    (Phase.OBJECTED, Action.RESOLVE): Phase.AMENDMENT,
    (Phase.OBJECTED, Action.REOPEN): Phase.CONSENT,
    (Phase.OBJECTED, Action.OBJECTIONS_WITHDRAWN): Phase.ADOPTED,
    (Phase.OBJECTED, Action.EXPIRE): Phase.EXPIRED,
    **{(p, Action.WITHDRAW): Phase.WITHDRAWN for p in OPEN_PHASES},
    **{(p, Action.CLOSE): Phase.CLOSED for p in OPEN_PHASES},
}


class InvalidTransition(Exception):
    def __init__(self, phase: Phase, action: Action) -> None:
        super().__init__(f"{action} is not possible in phase {phase}")
        self.phase = phase
        self.action = action


def advance(phase: Phase | str, action: Action) -> Phase:
    try:
        return TRANSITIONS[(Phase(phase), action)]
    except KeyError:
        raise InvalidTransition(Phase(phase), action) from None


def allowed_from(action: Action) -> tuple[Phase, ...]:
    """The phases in which ``action`` is possible (for "expected phase" replies)."""
    return tuple(p for (p, a) in TRANSITIONS if a is action)


def mermaid() -> str:
    lines = [
        "stateDiagram-v2",
        "    [*] --> amendment: propose",
        "    [*] --> consent: propose (0 h)",
    ]
    for (source, action), target in TRANSITIONS.items():
        lines.append(f"    {source} --> {target}: {action}")
    lines += [f"    {p} --> [*]" for p in Phase if p in FINAL]
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
