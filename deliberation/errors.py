"""The one error type of the engine.

The engine never words a message: it raises ``DomainError(code, **params)`` and the shell
renders the code in the reader's language. Every code is listed in ``CODES`` so that a test
can check each has a rendering.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the engine refuses; nothing was changed."""

    def __init__(self, code: str, **params: Any) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(code)
        self.code = code
        self.params = params

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.params!r})"


CODES = frozenset(
    {
        "bad_id",  # kind, given
        "no_such_proposal",  # number
        "no_such_amendment",  # number
        "no_such_clause",  # number
        "not_in_group",  # kind, number: the thing belongs to another group
        "ambiguous_proposal",  # phase, numbers: several candidates for an omitted id
        "no_open_proposal",  # phase: an omitted id and no candidate
        "wrong_phase",  # number, phase, expected (tuple of phases)
        "not_mediator",  # command
        "not_member",
        "not_author",  # kind, number
        "not_objector",  # number
        "no_position",  # number: nothing to retract in the current consent round
        "reason_required",  # command
        "text_required",  # command
        "text_too_long",  # limit, length
        "passage_not_found",  # passage
        "passage_ambiguous",  # passage, count
        "passage_same",
        "amendment_closed",  # number, status
        "own_amendment",  # number: an author cannot vote on their own amendment
        "clause_not_active",  # number, status
        "unknown_setting",  # key, known
        "bad_setting_value",  # key, expected
        "bad_language",  # language, known
        "already_mediator",  # person
        "not_a_mediator",  # person
        "stale",  # the proposal changed under a concurrent request; try again
        "group_only",  # a command that changes a group's deliberation, sent in a private chat
        "private_only",  # command: one that works only in a private chat (/remind), in a group
        "bad_button",  # button data that is none of the forms the bot writes
        "no_such_meeting",  # number
        "meeting_over",  # number, status ("cancelled" | "held"): it cannot be cancelled
        "bad_time",  # reason ("unreadable" | "past"), text, timezone: a time people wrote
        "bad_duration",  # text: a duration people wrote ("48h")
        "nothing_scheduled",  # number: /schedule P<n> cancel with no round scheduled
        "renewal_open",  # clause, proposal: /renew while a renewal of the clause is open
        "no_alliance",  # the group is in no alliance
        "which_alliance",  # numbers: the group is in several; name one
        "no_such_alliance",  # number
        "not_in_alliance",  # number: this group is not in L<n>
        "bad_invite",  # the code is unknown, used, expired or revoked (not told which)
        "already_in_alliance",  # number, name
        "bad_alliance_setting",  # key, expected
    }
)
