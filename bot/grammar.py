"""The one command grammar for every platform: message text -> a request, or a refusal.

Console and Telegram use the prefix ``/``, Matrix ``!``. Pure functions: no I/O and no
wording. A refusal is raised as ``UnknownCommand`` (the word is not a command),
``UsageError`` (the command's usage line should be shown) or, from ``ids.parse_number``,
``DomainError("bad_id")``. Whether the sender may do what they ask, and whether texts are
too long, is the engine's business.

Choices where the spec is silent (also in docs/):

- A text whose prefix is not followed by a letter (``/``, ``/ x``, ``!!!``, ``//``) is not a
  command. ``/cmd@otherbot`` is addressed to another bot and is ignored.
- An id may be followed by ``:``, ``,``, ``;`` or ``.`` (``/object P3: reason``).
- Commands that take nothing but ids refuse extra words; ``/start`` ignores them (Telegram
  deep links send ``/start <payload>``) and ``/help`` reads only its first word.
- ``--change`` may also be typed with the dash a phone makes of ``--`` (``—change``).
- ``/settings key=value`` is read as ``/settings key value``; setting keys are lower-cased.
  So are ``/alliance settings`` keys.
- An alliance is named ``L2`` (or ``l2``); a plain ``2`` too as the first argument of
  ``/alliance invite|revoke|leave|settings``, except where it begins a duration
  (``/alliance invite 2 days``). ``/propose --alliance L2 <text>`` and
  ``--alliance=L2`` name an alliance; ``--alliance=2`` too. ``/alliance L2`` and
  ``/alliance settings L2`` show that alliance only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from deliberation import commands as c
from deliberation.errors import DomainError
from deliberation.ids import Kind, looks_like_number, parse_number


class UnknownCommand(Exception):
    """The command word is none of ``COMMANDS``; ``name`` is the word without the prefix."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class UsageError(Exception):
    """The command is known but its arguments are not; show ``command``'s usage line."""

    def __init__(self, command: str) -> None:
        super().__init__(command)
        self.command = command


# -- read-only requests (answered by queries, not by the engine) ---------------------------


@dataclass(frozen=True, slots=True)
class Help:
    command: str | None = None


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class ShowStatus:
    proposal: int | None = None


@dataclass(frozen=True, slots=True)
class ShowCharter:
    everyone: bool = False  # ``/charter all``: the people's charter, every charter in the store


@dataclass(frozen=True, slots=True)
class ShowClause:
    clause: int


@dataclass(frozen=True, slots=True)
class ShowSettings:
    pass


@dataclass(frozen=True, slots=True)
class Export:
    format: str = "md"  # "md" | "json"


@dataclass(frozen=True, slots=True)
class ListMeetings:
    """``/meeting`` alone: the group's meetings still to come."""


@dataclass(frozen=True, slots=True)
class ShowAlliances:
    """``/alliance`` (and ``/alliance settings``): the group's alliances, or one of them."""

    alliance: int | None = None


@dataclass(frozen=True, slots=True)
class MediatorRequest:
    """``/mediator add|remove <user>``: the platform adapter resolves ``user`` to a person."""

    add: bool
    user: str


Query = (
    Help
    | Start
    | ShowStatus
    | ShowCharter
    | ShowClause
    | ShowSettings
    | Export
    | ListMeetings
    | ShowAlliances
)
Request = c.Command | Query | MediatorRequest

COMMANDS: tuple[str, ...] = (
    "propose",
    "amend",
    "support",
    "oppose",
    "accept",
    "consent",
    "concern",
    "object",
    "abstain",
    "withdraw",
    "resolve",
    "next",
    "close",
    "schedule",
    "meeting",
    "renew",
    "repeal",
    "translate",
    "status",
    "charter",
    "clause",
    "settings",
    "mediator",
    "alliance",
    "export",
    "timezone",
    "lang",
    "grouplang",
    "remind",
    "help",
    "start",
)

MEDIATOR_COMMANDS: frozenset[str] = frozenset(
    {
        "resolve",
        "next",
        "close",
        "schedule",
        "meeting",
        "settings",
        "mediator",
        "alliance",
        "timezone",
        "grouplang",
    }
)
"""Commands only mediators may use (``settings`` only when setting a value, ``meeting`` only
when announcing or cancelling one, ``alliance`` only when it changes something)."""

EXPORT_FORMATS = {"md": "md", "markdown": "md", "json": "json"}

_LEADING_MARKS = re.compile(r"^[^\w]+")  # "/propose", "!propose" -> "propose"
_COMMAND = re.compile(r"(\S*)(.*)", re.DOTALL)
_ID_TAIL = ":,;."
_ID_LIKE = re.compile(r"^[A-Za-z]?\d+$")  # an id, perhaps of the wrong kind or too long
_OPTION = re.compile(r"^(?:--|[\u2012\u2013\u2014\u2015\u2212])([A-Za-z]+)(?:=(.*))?$")
_ALLIANCE = re.compile(r"^[Ll](\d{1,9})$")
_NUMBER = re.compile(r"^\d{1,9}$")
_QUOTES = '"\u201c\u201d\u201e\u201f\u00ab\u00bb'  # " “ ” „ ‟ « »
_GUILLEMETS = "\u00ab\u00bb"
_TYPO_SPACES = "\u00a0\u202f\u2009"  # no-break, narrow no-break, thin
_REPLACE = re.compile(rf"replace\s*([{_QUOTES}])", re.IGNORECASE)
_WITH = re.compile(rf"[{_QUOTES}]\s*with\s*[{_QUOTES}]", re.IGNORECASE)


def parse(text: str, prefix: str = "/", bot_username: str | None = None) -> Request | None:
    """Read one message. ``None`` when it is not a command for this bot."""
    text = text.lstrip()
    if not prefix or not text.startswith(prefix):
        return None
    match = _COMMAND.match(text, len(prefix))
    assert match is not None  # the pattern matches any string
    word, rest = match.group(1), match.group(2)
    name, _, addressee = word.partition("@")
    if not name[:1].isalpha():
        return None
    if addressee and bot_username and addressee.lower() != bot_username.lstrip("@").lower():
        return None
    name = name.lower()
    handler = _HANDLERS.get(name)
    if handler is None:
        raise UnknownCommand(name[:64])
    return handler(rest.strip())


# -- arguments -----------------------------------------------------------------------------


def _split(rest: str) -> tuple[str, str]:
    """The first word and the rest (newlines kept inside, outer whitespace stripped)."""
    parts = rest.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def _id_token(token: str) -> str:
    return token.rstrip(_ID_TAIL) or token


def _required_id(command: str, rest: str, kind: Kind) -> tuple[int, str]:
    token, remainder = _split(rest)
    if not token:
        raise UsageError(command)
    return parse_number(_id_token(token), kind), remainder


def _optional_proposal(rest: str) -> tuple[int | None, str]:
    """The proposal id when the first word is one; else ``None`` and the whole text."""
    token, remainder = _split(rest)
    candidate = _id_token(token)
    if token and looks_like_number(candidate, Kind.PROPOSAL):
        return parse_number(candidate, Kind.PROPOSAL), remainder
    return None, rest


def _nothing_more(command: str, remainder: str, kind: Kind | None = None) -> None:
    """Refuse anything after the arguments; an id of the wrong kind gets ``bad_id``."""
    if not remainder:
        return
    if kind is not None and _ID_LIKE.match(_id_token(remainder)):
        parse_number(_id_token(remainder), kind)  # raises bad_id
    raise UsageError(command)


def _only_proposal(command: str, rest: str) -> int | None:
    proposal, remainder = _optional_proposal(rest)
    _nothing_more(command, remainder, Kind.PROPOSAL)
    return proposal


def _only_id(command: str, rest: str, kind: Kind) -> int:
    number, remainder = _required_id(command, rest, kind)
    _nothing_more(command, remainder)
    return number


def _no_arguments(command: str, rest: str) -> None:
    _nothing_more(command, rest)


# -- commands ------------------------------------------------------------------------------


_PROPOSE_OPTIONS = ("change", "alliance")


def _propose(rest: str) -> c.Propose:
    """``/propose <text>``, ``/propose --change C<n> <text>`` (or ``--change=C<n>``),
    ``/propose --alliance [L<n>] <text>`` (or ``--alliance=L<n>``)."""
    token, remainder = _split(rest)
    option = _option(token)
    if option is None:
        if not rest:
            raise UsageError("propose")
        return c.Propose(rest)
    name, value = option
    if name == "alliance":
        return _allied(value, remainder)
    if name != "change":
        raise UsageError("propose")  # no other option
    if value is not None:  # --change=C3 <text>
        remainder = f"{value} {remainder}".strip() if value else ""
    clause, text = _required_id("propose", remainder, Kind.CLAUSE)
    if not text:
        raise UsageError("propose")
    return c.Propose(text, kind=c.ProposalKind.CHANGE, clause=clause)


def _option(token: str) -> tuple[str, str | None] | None:
    """``--name`` or ``--name=value``: (the lower-cased name, the value or None); None when
    the word is no option. A phone's dash (``—change``) is an option only if it names one,
    else the text begins with a dash."""
    option = _OPTION.match(token)
    if option is None:
        return None
    name = option.group(1).lower()
    if not token.startswith("--") and name not in _PROPOSE_OPTIONS:
        return None
    return name, option.group(2)


def _allied(value: str | None, rest: str) -> c.Propose:
    """What follows ``--alliance``: an alliance proposal, in the alliance named (``=L2``,
    ``=2`` or a first word ``L2``) or the group's only one."""
    if value is not None:
        if not value:
            raise UsageError("propose")
        number = _alliance_number(value, plain=True)
        if number is None:
            raise _bad_alliance(value)
        text = rest
    else:
        token, remainder = _split(rest)
        number = _alliance_number(token) if token else None
        text = remainder if number is not None else rest
    first, _ = _split(text)
    if not text or _option(first) is not None:  # no text, or --alliance --change ...
        raise UsageError("propose")
    return c.Propose(text, allied=True, alliance=number)


def _amend(rest: str) -> c.Amend:
    proposal, body = _optional_proposal(rest)
    if not body:
        raise UsageError("amend")
    opening = _REPLACE.match(body)
    if opening is None:
        return c.Amend(proposal, text=body)
    passage, replacement = _replace_form(body, opening)
    return c.Amend(proposal, passage=passage, replacement=replacement)


def _replace_form(body: str, opening: re.Match[str]) -> tuple[str, str]:
    """``replace "<passage>" with "<new passage>"``, linear in the length of the text."""
    if body[-1] not in _QUOTES:
        raise UsageError("amend")
    end = len(body) - 1  # the closing quote of the new passage
    start = opening.end()  # just after the opening quote of the passage
    separator = _WITH.search(body, start, end + 1)
    if separator is None or separator.end() > end:
        raise UsageError("amend")
    passage = _unquote(body[start : separator.start()], opening.group(1))
    replacement = _unquote(body[separator.end() : end], body[separator.end() - 1])
    if not passage.strip():
        raise UsageError("amend")
    return passage, replacement


def _unquote(inner: str, quote: str) -> str:
    """Typographic spaces at the edges are dropped; inside guillemets, plain ones too."""
    return inner.strip(_TYPO_SPACES + (" " if quote in _GUILLEMETS else ""))


def _vote(support: bool) -> Callable[[str], c.VoteAmendment]:
    def build(rest: str) -> c.VoteAmendment:
        command = "support" if support else "oppose"
        return c.VoteAmendment(_only_id(command, rest, Kind.AMENDMENT), support=support)

    return build


def _accept(rest: str) -> c.AcceptAmendment:
    return c.AcceptAmendment(_only_id("accept", rest, Kind.AMENDMENT))


def _position(command: str, stance: c.Stance) -> Callable[[str], c.StatePosition]:
    def build(rest: str) -> c.StatePosition:
        if stance in (c.Stance.CONSENT, c.Stance.ABSTAIN):
            return c.StatePosition(_only_proposal(command, rest), stance)
        proposal, reason = _optional_proposal(rest)
        return c.StatePosition(proposal, stance, reason or None)

    return build


def _on_proposal(
    command: str, cls: type[c.Withdraw | c.Resolve | c.Next | c.Close]
) -> Callable[[str], Request]:
    def build(rest: str) -> Request:
        return cls(_only_proposal(command, rest))

    return build


_SCHEDULE_PHASES = {"amendment": "amendment", "amend": "amendment", "consent": "consent"}
_FOR = re.compile(r"^(.*\S)\s+for\s+(\S.*)$", re.IGNORECASE | re.DOTALL)


def _schedule(rest: str) -> c.Schedule:
    """``/schedule [P4] amendment|consent <when> [for <duration>]``, ``/schedule [P4] cancel``.
    The time is read by the engine, which knows the group's time zone and languages."""
    proposal, remainder = _optional_proposal(rest)
    word, when = _split(remainder)
    word = word.lower()
    if word == "cancel":
        _nothing_more("schedule", when)
        return c.Schedule(proposal, None)
    if word not in _SCHEDULE_PHASES or not when:
        raise UsageError("schedule")
    duration = None
    split = _FOR.match(when)
    if split is not None:
        when, duration = split.group(1), split.group(2).strip()
    return c.Schedule(proposal, _SCHEDULE_PHASES[word], when, duration)


def _meeting(rest: str) -> ListMeetings | c.AnnounceMeeting | c.CancelMeeting:
    """``/meeting`` (the list), ``/meeting cancel M<n>``, ``/meeting <when> <topic or link>``.
    The engine splits the time from the topic: it knows the group's time zone and languages."""
    if not rest:
        return ListMeetings()
    word, remainder = _split(rest)
    if word.lower() == "cancel":
        return c.CancelMeeting(_only_id("meeting", remainder, Kind.MEETING))
    if not remainder:
        raise UsageError("meeting")  # a time and a topic, or a topic alone: both are needed
    return c.AnnounceMeeting(rest)


def _renew(rest: str) -> c.Renew:
    return c.Renew(_only_id("renew", rest, Kind.CLAUSE))


def _repeal(rest: str) -> c.Repeal:
    clause, reason = _required_id("repeal", rest, Kind.CLAUSE)
    if not reason:
        raise UsageError("repeal")
    return c.Repeal(clause, reason)


_TRANSLATED = {"P": Kind.PROPOSAL, "C": Kind.CLAUSE}


def _translate(rest: str) -> c.Translate:
    """``/translate P3 ja <text>``, ``/translate C2 pt-br <text>``: the id must say which
    kind it is (P or C); the shell checks the language as for ``/lang``."""
    token, remainder = _split(rest)
    token = _id_token(token)
    kind = _TRANSLATED.get(token[:1].upper())
    if kind is None:
        raise UsageError("translate")
    number = parse_number(token, kind)
    lang, text = _split(remainder)
    if not lang or not text:
        raise UsageError("translate")
    return c.Translate(kind.value, number, lang, text)


def _status(rest: str) -> ShowStatus:
    return ShowStatus(_only_proposal("status", rest))


def _charter(rest: str) -> ShowCharter:
    token, remainder = _split(rest)
    if token.lower() == "all" and not remainder:
        return ShowCharter(everyone=True)
    _no_arguments("charter", rest)
    return ShowCharter()


def _clause(rest: str) -> ShowClause:
    return ShowClause(_only_id("clause", rest, Kind.CLAUSE))


def _help(rest: str) -> Help:
    token, _ = _split(rest)
    if not token:
        return Help()
    name = _LEADING_MARKS.sub("", token).partition("@")[0].lower()
    return Help(name or None)


def _start(rest: str) -> Start:
    return Start()  # a Telegram deep link may carry a payload: not used yet


def _settings(rest: str) -> ShowSettings | c.ChangeSetting:
    if not rest:
        return ShowSettings()
    key, value = _key_value("settings", rest)
    return c.ChangeSetting(key, value)


def _key_value(command: str, rest: str) -> tuple[str, str]:
    """``key value`` or ``key=value`` (a value may be of several words); the key
    lower-cased."""
    key, value = _split(rest)
    if "=" in key:  # "key=value", "key=48h 2h" (a value of several words)
        key, _, first = key.partition("=")
        value = f"{first} {value}".strip()
    if not key or not value:
        raise UsageError(command)
    return key.lower(), value


# -- alliances -----------------------------------------------------------------------------

_CODE_WRAPPING = "`'" + _QUOTES  # what a copied invite code may come wrapped in


def _alliance(rest: str) -> Request:
    """``/alliance [L<n>]``, ``/alliance create <name>``, ``/alliance invite [L<n>]
    [<duration>]``, ``/alliance revoke [L<n>]``, ``/alliance join <code>``, ``/alliance
    leave [L<n>]``, ``/alliance settings [L<n>] [<key> <value>]``."""
    if not rest:
        return ShowAlliances()
    word, remainder = _split(rest)
    number = _alliance_number(word)
    if number is not None:  # /alliance L2: that one alone
        _nothing_more("alliance", remainder)
        return ShowAlliances(number)
    action = word.lower()
    if action == "create":
        name = " ".join(remainder.split())  # a name is one line
        if not name:
            raise UsageError("alliance")
        return c.CreateAlliance(name)
    if action == "join":
        code, more = _split(remainder)
        code = code.strip(_CODE_WRAPPING)
        if not code or more:
            raise UsageError("alliance")
        return c.JoinAlliance(code)
    if action == "invite":
        number, valid_for = _leading_alliance(remainder, duration=True)
        return c.InviteToAlliance(number, valid_for or None)
    if action == "revoke":
        return c.RevokeInvites(_only_alliance(remainder))
    if action == "leave":
        return c.LeaveAlliance(_only_alliance(remainder))
    if action == "settings":
        number, setting = _leading_alliance(remainder)
        if not setting:
            return ShowAlliances(number)
        key, value = _key_value("alliance", setting)
        return c.AllianceSetting(key, value, number)
    raise UsageError("alliance")


def _alliance_number(token: str, plain: bool = False) -> int | None:
    """``L2``, ``l2`` (and with ``plain`` ``2``) -> 2; else None."""
    token = _id_token(token)
    match = _ALLIANCE.match(token)
    if match is not None:
        return int(match.group(1))
    if plain and _NUMBER.match(token):
        return int(token)
    return None


def _bad_alliance(token: str) -> DomainError:
    return DomainError("bad_id", kind="L", given=token[:20])


def _leading_alliance(rest: str, duration: bool = False) -> tuple[int | None, str]:
    """The alliance named by the first word (``L2``, or ``2`` unless, with ``duration``, it
    begins a duration such as ``2 days``) and the rest; else None and the whole text. An
    id of another kind (``P2``) is refused with ``bad_id``."""
    token, remainder = _split(rest)
    if not token:
        return None, ""
    number = _alliance_number(token)
    if number is not None:
        return number, remainder
    bare = _id_token(token)
    if _NUMBER.match(bare) and not (duration and remainder[:1].isalpha()):
        return int(bare), remainder
    if _ID_LIKE.match(bare) and bare[:1].isalpha():
        raise _bad_alliance(token)
    return None, rest


def _only_alliance(rest: str) -> int | None:
    number, remainder = _leading_alliance(rest)
    if number is None and rest:
        raise UsageError("alliance")
    _nothing_more("alliance", remainder)
    return number


def _mediator(rest: str) -> MediatorRequest:
    action, user = _split(rest)
    action = action.lower()
    if action not in ("add", "remove"):
        raise UsageError("mediator")  # an empty user means: the person replied to
    return MediatorRequest(add=action == "add", user=user)


def _export(rest: str) -> Export:
    token, remainder = _split(rest)
    if not token:
        return Export()
    format = EXPORT_FORMATS.get(token.lower())
    if format is None or remainder:
        raise UsageError("export")
    return Export(format)


def _lang(rest: str) -> c.SetLanguage:
    code, remainder = _split(rest)
    if not code or remainder:
        raise UsageError("lang")
    return c.SetLanguage(code)


_ON_OFF = {"on": True, "off": False}


def _remind(rest: str) -> c.SetReminders:
    word, remainder = _split(rest)
    if word.lower() not in _ON_OFF or remainder:
        raise UsageError("remind")
    return c.SetReminders(_ON_OFF[word.lower()])


def _grouplang(rest: str) -> c.ChangeSetting:
    """``/grouplang en ja``: the group's languages, the first one the group's default."""
    if not rest:
        raise UsageError("grouplang")
    return c.ChangeSetting("languages", " ".join(rest.replace(",", " ").split()))


def _timezone(rest: str) -> c.ChangeSetting:
    zone, remainder = _split(rest)
    if not zone or remainder:
        raise UsageError("timezone")
    return c.ChangeSetting("timezone", zone)


_HANDLERS: dict[str, Callable[[str], Request]] = {
    "propose": _propose,
    "amend": _amend,
    "support": _vote(True),
    "oppose": _vote(False),
    "accept": _accept,
    "consent": _position("consent", c.Stance.CONSENT),
    "concern": _position("concern", c.Stance.CONCERN),
    "object": _position("object", c.Stance.OBJECT),
    "abstain": _position("abstain", c.Stance.ABSTAIN),
    "withdraw": _on_proposal("withdraw", c.Withdraw),
    "resolve": _on_proposal("resolve", c.Resolve),
    "next": _on_proposal("next", c.Next),
    "close": _on_proposal("close", c.Close),
    "schedule": _schedule,
    "meeting": _meeting,
    "renew": _renew,
    "repeal": _repeal,
    "translate": _translate,
    "status": _status,
    "charter": _charter,
    "clause": _clause,
    "settings": _settings,
    "mediator": _mediator,
    "alliance": _alliance,
    "export": _export,
    "timezone": _timezone,
    "lang": _lang,
    "grouplang": _grouplang,
    "remind": _remind,
    "help": _help,
    "start": _start,
}
