"""Events, errors and read models worded for one reader: their language, time zone and the
platform's markup.

Every string here goes through the reader's ``Translator``; ``_`` and ``n_`` are bound per
call so that ``pybabel extract`` finds the msgids (keywords ``_``, ``n_:1,2``, ``N_``).
User-supplied text is always passed through ``Markup.text`` so an HTML platform escapes it.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import grammar as g
from bot.i18n import N_, Translator
from deliberation import events as e
from deliberation import queries as q
from deliberation.errors import DomainError
from deliberation.tally import Tally, Verdict

EXCERPT = 80  # characters of a proposal text shown in lists


class Markup:
    """Plain text (console, Matrix ``body``): user text as it is."""

    def text(self, value: str) -> str:
        return value

    def bold(self, value: str) -> str:
        return value

    def code(self, value: str) -> str:
        return value


class HtmlMarkup(Markup):
    """Telegram HTML and Matrix ``formatted_body``: user text escaped."""

    def text(self, value: str) -> str:
        return html.escape(value, quote=False)

    def bold(self, value: str) -> str:
        return f"<b>{value}</b>"

    def code(self, value: str) -> str:
        return f"<code>{value}</code>"


@dataclass(frozen=True, slots=True)
class Reader:
    """Everything wording depends on besides the content."""

    tr: Translator
    timezone: str
    now: datetime
    prefix: str = "/"
    markup: Markup = Markup()  # noqa: RUF009 - an immutable, stateless default

    def __post_init__(self) -> None:
        # Message texts hold literal "<reason>" and the like: for HTML they are escaped as
        # well as the user text, whoever builds the reader.
        if isinstance(self.markup, HtmlMarkup):
            object.__setattr__(self, "tr", self.tr.for_html())

    def when(self, moment: datetime | None) -> str:
        """``Nov 26, 2026, 12:00 PM (in 2 days)`` in the reader's locale and zone."""
        if moment is None:
            return ""
        absolute = self.tr.format_datetime(moment, self.timezone)
        return f"{absolute} ({self.tr.format_relative(moment - self.now)})"


STANCE_ICON = {"consent": "✅", "concern": "⚠️", "object": "✋", "abstain": "➖"}
STANCE_NAME = {
    "consent": N_("consent"),
    "concern": N_("concern"),
    "object": N_("objection"),
    "abstain": N_("stand aside"),
}
PHASE_NAME = {
    "amendment": N_("amendment phase"),
    "consent": N_("consent phase"),
    "objected": N_("objected"),
    "adopted": N_("adopted"),
    "not_adopted": N_("not adopted"),
    "withdrawn": N_("withdrawn"),
    "expired": N_("expired"),
    "closed": N_("closed"),
}
KIND_NAME = {
    "new": N_("new clause"),
    "change": N_("change of a clause"),
    "renewal": N_("renewal"),
    "repeal": N_("repeal"),
}
CLAUSE_STATUS = {"active": N_("in force"), "repealed": N_("repealed"), "lapsed": N_("lapsed")}
RULE_NAME = {
    "consent": N_("consent (no standing objection)"),
    "majority": N_("majority"),
    "supermajority": N_("two-thirds majority"),
}
# A group's outcome in an alliance proposal: a Verdict value, or "left" (it left meanwhile).
VERDICT_NAME = {
    "adopted": N_("adopted"),
    "objected": N_("objections stand"),
    "no_quorum": N_("quorum not reached"),
    "rule_not_met": N_("rule not met"),
    "left": N_("left the alliance"),
}
VERDICT_ICON = {"adopted": "✅", "objected": "✋", "left": "🚪"}  # else ❌
PLATFORM_NAME = {"telegram": "Telegram", "matrix": "Matrix", "console": N_("console")}
ALLIANCE_SETTINGS = ("min_parties", "rule")


def excerpt(text: str, limit: int = EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def counts(r: Reader, tally: Tally) -> str:
    """``✅ 2 · ⚠️ 1 · ✋ 0 · ➖ 0``"""
    return " · ".join(
        f"{STANCE_ICON[k]} {r.tr.format_number(v)}" for k, v in tally.as_dict().items()
    )


def tally_line(r: Reader, tally: Tally) -> str:
    return r.tr.line_start + counts(r, tally)


def names(r: Reader, items: Sequence[str]) -> str:
    """Names people gave (groups' titles) as a list: each escaped, and isolated for a
    right-to-left reader so that each reads in its own direction."""
    return r.tr.format_list([r.tr.isolate(r.markup.text(item)) for item in items])


def platform_name(r: Reader, platform: str) -> str:
    return r.tr.gettext(PLATFORM_NAME[platform]) if platform in PLATFORM_NAME else platform


def verdict_name(r: Reader, verdict: str) -> str:
    return r.tr.gettext(VERDICT_NAME.get(verdict, verdict))


def stance_label(r: Reader, stance: str) -> str:
    return f"{STANCE_ICON.get(stance, '')} {r.tr.gettext(STANCE_NAME.get(stance, stance))}"


def quoted(r: Reader, text: str) -> str:
    return f"“{r.markup.text(text)}”"


def block(r: Reader, text: str) -> str:
    """A proposal or clause text, set apart on its own lines."""
    return "\n".join("  " + r.markup.text(line) for line in text.splitlines() or [""])


def translation_for(
    r: Reader, translations: Sequence[q.TranslationView]
) -> q.TranslationView | None:
    """The translation ``r`` reads in place of the original: into their language (exactly,
    else the same base language: pt_BR and pt), of the current text; one of an earlier
    version (the newest) only when there is no current one. None: the original."""
    code = r.tr.code.lower()
    base = code.partition("_")[0]
    fitting = [t for t in translations if t.lang.lower().partition("_")[0] == base]
    if not fitting:
        return None
    return min(fitting, key=lambda t: (t.outdated, t.lang.lower() != code, -t.version))


def text_for(r: Reader, text: str, translations: Sequence[q.TranslationView]) -> list[str]:
    """A proposal's or clause's text as ``r`` reads it: a translation into their language
    in its place, marked as one on the line above and credited to its translator, with the
    original on the lines after it; else the original alone."""
    chosen = translation_for(r, translations)
    if chosen is None:
        return [block(r, text)]
    _ = r.tr.gettext
    values = {
        "language": r.tr.language_name(chosen.lang),
        "name": r.markup.text(chosen.translator),
        "v": chosen.version,
    }
    if chosen.outdated:
        mark = _(
            "🌐 Outdated translation into {language} by {name}, of version {v} (the original "
            "below is authoritative):"
        )
    else:
        mark = _("🌐 Translation into {language} by {name} (the original below is authoritative):")
    return [mark.format(**values), block(r, chosen.text), _("Original:"), block(r, text)]


def late_note(r: Reader, late: bool) -> str:
    _ = r.tr.gettext
    return _("(Late: this fell due while the bot was offline.)") + " " if late else ""


def consent_hint(r: Reader, number: int) -> str:
    _ = r.tr.gettext
    p = r.prefix
    return _(
        "State your position: ✅ {p}consent P{n} · ⚠️ {p}concern P{n} [reason] · "
        "✋ {p}object P{n} <reason> · ➖ {p}abstain P{n}"
    ).format(p=p, n=number)


# -- events -----------------------------------------------------------------------------


def event(r: Reader, ev: e.Event) -> str:
    """One event as a message for ``r``."""
    handler: Callable[[Reader, Any], str] = _EVENTS[type(ev)]
    return handler(r, ev)


def _proposal_opened(r: Reader, ev: e.ProposalOpened) -> str:
    _ = r.tr.gettext
    t = r.markup.text
    p = r.prefix
    if ev.kind == "renewal" and ev.automatic:
        head = late_note(r, ev.late) + _(
            "P{n}: C{c} comes up for renewal today. Does this clause stay in force?"
        ).format(n=ev.proposal, c=ev.clause)
    elif ev.kind == "renewal":
        head = _(
            "P{n}: renewal of C{c}, opened by {author}. Does this clause stay in force?"
        ).format(n=ev.proposal, c=ev.clause, author=t(ev.author))
    elif ev.kind == "repeal":
        head = _("P{n}: repeal of C{c}, proposed by {author}. Reason: {reason}").format(
            n=ev.proposal, c=ev.clause, author=t(ev.author), reason=t(ev.reason or "")
        )
    elif ev.kind == "change":
        head = _("P{n}: change of C{c}, proposed by {author}:").format(
            n=ev.proposal, c=ev.clause, author=t(ev.author)
        )
    else:
        head = _("P{n}: new clause proposed by {author}:").format(
            n=ev.proposal, author=t(ev.author)
        )
    lines = [r.markup.bold(head)]
    if ev.origin:
        lines.append(_("Proposed in {group}.").format(group=r.tr.isolate(t(ev.origin))))
    if ev.alliance:
        lines.append(alliance_proposal_line(r, ev.alliance, ev.alliance_id, ev.parties))
    lines.append(block(r, ev.text))
    if ev.concerns:
        lines.append(_("Concerns recorded when it was last adopted:"))
        lines += _statements(r, ev.concerns, STANCE_ICON["concern"])
    if ev.kind == "renewal":
        change = _("To change the text instead, propose a change: {p}propose --change C{c} <text>")
        lines.append(change.format(p=p, c=ev.clause))
    if ev.closes_at is None:  # no amendment phase: the consent round's message follows
        return "\n".join(lines)
    if ev.phase == "amendment":
        lines.append(_("Amendment phase until {when}.").format(when=r.when(ev.closes_at)))
        lines.append(
            _(
                'Amend with {p}amend P{n} <new text> or {p}amend P{n} replace "<passage>" with '
                '"<new passage>".'
            ).format(p=p, n=ev.proposal)
        )
    else:
        lines.append(_("Consent round until {when}.").format(when=r.when(ev.closes_at)))
        lines.append(consent_hint(r, ev.proposal))
    return "\n".join(lines)


def alliance_proposal_line(
    r: Reader, name: str, number: int | None, parties: Sequence[str] = ()
) -> str:
    """That a proposal is one of alliance L``number`` ``name``, and which groups take part."""
    _ = r.tr.gettext
    if parties:
        return _(
            "An alliance proposal of L{a} {name}: each of its groups holds its own consent "
            "round. Taking part: {groups}."
        ).format(a=number, name=r.markup.text(name), groups=names(r, parties))
    return _("An alliance proposal of L{a} {name}.").format(a=number, name=r.markup.text(name))


def amendment_change(
    r: Reader, passage: str | None, replacement: str | None, text: str | None
) -> str:
    _ = r.tr.gettext
    if passage is not None:
        if replacement:
            return _("replace {old} with {new}").format(
                old=quoted(r, passage), new=quoted(r, replacement)
            )
        return _("delete {old}").format(old=quoted(r, passage))
    return _("new text:") + "\n" + block(r, text or "")


def amendment_head(
    r: Reader,
    number: int,
    proposal: int,
    author: str,
    passage: str | None,
    replacement: str | None,
    text: str | None,
    origin: str = "",
) -> str:
    """``A5 to P2 by bob: replace “x” with “y”`` (its announcement, and its card);
    ``origin``: the group of the alliance it came from, when that is another."""
    values = {
        "a": number,
        "n": proposal,
        "author": r.markup.text(author),
        "change": amendment_change(r, passage, replacement, text),
    }
    if origin:
        return r.tr.gettext("A{a} to P{n} by {author} from {origin}: {change}").format(
            origin=r.markup.text(origin), **values
        )
    return r.tr.gettext("A{a} to P{n} by {author}: {change}").format(**values)


def support_counts(r: Reader, support: int, oppose: int) -> str:
    return r.tr.gettext("Support {s}, opposition {o}.").format(
        s=r.tr.format_number(support), o=r.tr.format_number(oppose)
    )


def _amendment_proposed(r: Reader, ev: e.AmendmentProposed) -> str:
    head = amendment_head(
        r, ev.amendment, ev.proposal, ev.author, ev.passage, ev.replacement, ev.text, ev.origin
    )
    hint = r.tr.gettext("Support it with {p}support A{a}, oppose it with {p}oppose A{a}.").format(
        p=r.prefix, a=ev.amendment
    )
    return f"{head}\n{hint}"


def _amendment_voted(r: Reader, ev: e.AmendmentVoted) -> str:
    _ = r.tr.gettext
    template = _("{name} supports A{a}.") if ev.support else _("{name} opposes A{a}.")
    counts = support_counts(r, ev.supporters, ev.opposers)
    return template.format(name=r.markup.text(ev.voter), a=ev.amendment) + " " + counts


def _amendment_accepted(r: Reader, ev: e.AmendmentAccepted) -> str:
    _ = r.tr.gettext
    head = _("The author accepted A{a} by {author}. P{n} is now version {v}:").format(
        a=ev.amendment, author=r.markup.text(ev.author), n=ev.proposal, v=ev.version
    )
    return f"{head}\n{block(r, ev.text)}"


def _consent_opened(r: Reader, ev: e.ConsentOpened) -> str:
    _ = r.tr.gettext
    t = r.markup.text
    lines = []
    if ev.reopened:
        lines.append(
            late_note(r, ev.late)
            + _("A new consent round on P{n} opens, as a mediator scheduled.").format(n=ev.proposal)
        )
    elif not ev.skipped:
        lines.append(
            late_note(r, ev.late)
            + _("The amendment phase of P{n} is closed.").format(n=ev.proposal)
        )
    for a in ev.applied:
        lines.append(
            _("Applied: A{a} by {author} (version {v}).").format(
                a=a.amendment, author=t(a.author), v=a.version
            )
        )
    for a in ev.conflicts:
        lines.append(
            _(
                "Not applied, conflicting: A{a} by {author} no longer fits the text. {author}, "
                "please amend the new text in a later round or raise it in the consent round."
            ).format(a=a.amendment, author=t(a.author))
        )
    if ev.not_passed:
        lines.append(
            _("Not applied (no more support than opposition): {list}.").format(
                list=r.tr.format_list([f"A{n}" for n in ev.not_passed])
            )
        )
    lines.append(
        r.markup.bold(
            _("Consent round {k} on P{n} (version {v}), until {when}:").format(
                k=ev.round, n=ev.proposal, v=ev.version, when=r.when(ev.closes_at)
            )
        )
    )
    if ev.alliance:
        lines.append(
            _(
                "An alliance proposal of L{a} {name}: this is this group's own consent round; "
                "every group of the alliance holds one."
            ).format(a=ev.alliance_id, name=r.markup.text(ev.alliance))
        )
    if not ev.skipped:  # otherwise the text was just shown with the proposal
        lines.append(block(r, ev.text))
    lines.append(consent_hint(r, ev.proposal))
    return "\n".join(lines)


def _consent_reminder(r: Reader, ev: e.ConsentReminder) -> str:
    head = late_note(r, ev.late) + r.tr.gettext(
        "Reminder: the consent round on P{n} closes {relative} ({when})."
    ).format(
        n=ev.proposal,
        relative=r.tr.format_relative(ev.closes_at - r.now),
        when=r.tr.format_datetime(ev.closes_at, r.timezone),
    )
    missing = r.tr.ngettext(
        "{n} of {eligible} members has not stated a position yet.",
        "{n} of {eligible} members have not stated a position yet.",
        ev.not_responded,
        eligible=r.tr.format_number(ev.eligible),
    )
    return "\n".join([r.markup.bold("⏰ " + head), missing, consent_hint(r, ev.proposal)])


def private_reminder(r: Reader, ev: e.ConsentReminder) -> str:
    """The reminder in the private chat of a member who asked for one (``/remind on``) and
    has not stated a position: which group, which proposal, and how to answer there."""
    _ = r.tr.gettext
    p = r.prefix
    values = {
        "n": ev.proposal,
        "relative": r.tr.format_relative(ev.closes_at - r.now),
        "when": r.tr.format_datetime(ev.closes_at, r.timezone),
        "group": r.markup.text(ev.title),
    }
    if ev.title and ev.title != ev.group:
        head = _(
            "Reminder: the consent round on P{n} in {group} closes {relative} ({when}), and "
            "you have not stated a position yet."
        ).format(**values)
    else:  # a group whose name the platform has not told us
        head = _(
            "Reminder: the consent round on P{n} in one of your groups closes {relative} "
            "({when}), and you have not stated a position yet."
        ).format(**values)
    hint = _(
        "State your position in the group: ✅ {p}consent P{n} · ⚠️ {p}concern P{n} [reason] · "
        "✋ {p}object P{n} <reason> · ➖ {p}abstain P{n}"
    ).format(p=p, n=ev.proposal)
    lines = [r.markup.bold("⏰ " + head)]
    if ev.text:
        lines.append(quoted(r, excerpt(ev.text, 200)))
    lines += [hint, _("{p}remind off stops these reminders.").format(p=p)]
    return "\n".join(lines)


def _position_stated(r: Reader, ev: e.PositionStated) -> str:
    _ = r.tr.gettext
    t = r.markup.text
    if not ev.named:
        text = _("A position on P{n} was recorded.").format(n=ev.proposal)
    elif ev.previous and ev.previous != ev.stance:
        text = _("{name} changed their position on P{n}: {stance} (was {previous}).").format(
            name=t(ev.person),
            n=ev.proposal,
            stance=stance_label(r, ev.stance),
            previous=stance_label(r, ev.previous),
        )
    else:
        text = _("{name} on P{n}: {stance}.").format(
            name=t(ev.person), n=ev.proposal, stance=stance_label(r, ev.stance)
        )
    if ev.reason and ev.named:
        text += " " + _("Reason: {reason}").format(reason=t(ev.reason))
    if ev.tally is not None:
        text += "\n" + _("Tally so far: {tally}").format(tally=tally_line(r, ev.tally))
    return text


def _position_retracted(r: Reader, ev: e.PositionRetracted) -> str:
    _ = r.tr.gettext
    if not ev.named:
        text = _("A position on P{n} was withdrawn.").format(n=ev.proposal)
    else:
        text = _("{name} withdrew their position on P{n} (was {previous}).").format(
            name=r.markup.text(ev.person), n=ev.proposal, previous=stance_label(r, ev.previous)
        )
    if ev.tally is not None:
        text += "\n" + _("Tally so far: {tally}").format(tally=tally_line(r, ev.tally))
    return text


def _statements(
    r: Reader, items: tuple[e.Statement, ...], icon: str, indent: str = ""
) -> list[str]:
    _ = r.tr.gettext
    t = r.markup.text
    out = []
    for s in items:
        reason = t(s.reason) if s.reason else _("(no reason given)")
        name = r.tr.isolate(t(s.name)) if s.name else None
        line = f"{icon} {name}: {reason}" if name else f"{icon} {reason}"
        out.append(r.tr.line_start + indent + line)
    return out


def _adopted_head(r: Reader, ev: e.Decided) -> str:
    _ = r.tr.gettext
    if ev.kind == "repeal":
        return _("P{n} adopted: C{c} is repealed.").format(n=ev.proposal, c=ev.clause)
    if ev.kind == "renewal":
        return _("P{n} adopted: C{c} is renewed.").format(n=ev.proposal, c=ev.clause)
    return _("P{n} adopted: clause C{c}, version {v}, is in the charter.").format(
        n=ev.proposal, c=ev.clause, v=ev.clause_version
    )


def _objectors_hint(r: Reader, proposal: int) -> str:
    return r.tr.gettext(
        "Objectors may withdraw with {p}withdraw P{n}; a mediator may open a new amendment "
        "round with {p}resolve P{n}."
    ).format(p=r.prefix, n=proposal)


def _decided(r: Reader, ev: e.Decided) -> str:
    _ = r.tr.gettext
    n_ = r.tr.ngettext
    lines = [late_note(r, ev.late).strip()] if ev.late else []
    count = n_(
        "{stated} of {n} member stated a position.",
        "{stated} of {n} members stated a position.",
        ev.eligible,
        stated=r.tr.format_number(ev.tally.stated),
    )
    if ev.alliance is not None:
        return "\n".join(lines + _alliance_decided(r, ev, ev.alliance, count))
    if ev.verdict is Verdict.ADOPTED:
        lines.append(r.markup.bold(_adopted_head(r, ev)))
        lines.append(tally_line(r, ev.tally) + " · " + count)
        lines += _adoption_record(r, ev)
    elif ev.verdict is Verdict.OBJECTED:
        lines.append(
            r.markup.bold(_("P{n} is not adopted yet: objections stand.").format(n=ev.proposal))
        )
        lines.append(tally_line(r, ev.tally) + " · " + count)
        lines += _statements(r, ev.objections, STANCE_ICON["object"])
        lines.append(_objectors_hint(r, ev.proposal))
    else:
        if ev.verdict is Verdict.NO_QUORUM:
            why = _("P{n} is not adopted: the quorum was not reached.").format(n=ev.proposal)
        else:
            why = _("P{n} is not adopted: the rule {rule} was not met.").format(
                n=ev.proposal, rule=_(RULE_NAME.get(ev.rule, ev.rule))
            )
        lines += [r.markup.bold(why), tally_line(r, ev.tally) + " · " + count]
        if ev.verdict is Verdict.NO_QUORUM and ev.quorum and ev.eligible:
            lines.append(
                _(
                    "Taking part: {share}; the quorum is {quorum} of the members, "
                    "and at least {min}."
                ).format(
                    share=r.tr.format_percent(ev.tally.stated / ev.eligible),
                    quorum=r.tr.format_percent(float(ev.quorum)),
                    min=r.tr.format_number(ev.quorum_min),
                )
            )
        lines += _statements(r, ev.objections, STANCE_ICON["object"])
    return "\n".join(lines)


def _adoption_record(r: Reader, ev: e.Decided) -> list[str]:
    """What an adoption wrote into the charter: concerns, next review, the record's head."""
    _ = r.tr.gettext
    lines = []
    if ev.concerns:
        lines.append(_("Concerns recorded with the clause:"))
        lines += _statements(r, ev.concerns, STANCE_ICON["concern"])
    if ev.next_review:
        lines.append(_("Next review: {date}.").format(date=r.tr.format_date(ev.next_review)))
    if ev.chain_head:
        lines.append(_("Charter record: {hash}").format(hash=r.markup.code(ev.chain_head[:16])))
    return lines


def _alliance_decided(
    r: Reader, ev: e.Decided, outcome: e.AllianceOutcome, count: str
) -> list[str]:
    """An alliance proposal decided: the alliance's verdict, this group's counts, then
    every group's outcome (objections named only where that group names votes)."""
    _ = r.tr.gettext
    t = r.markup.text
    adopted = outcome.verdict == Verdict.ADOPTED.value
    if adopted:
        head = _adopted_head(r, ev)
    elif outcome.verdict == Verdict.OBJECTED.value:
        head = _("P{n} is not adopted yet: objections stand.").format(n=ev.proposal)
    else:
        head = _("P{n} is not adopted by alliance L{a} {name}.").format(
            n=ev.proposal, a=outcome.alliance, name=t(outcome.name)
        )
    lines = [
        r.markup.bold(head),
        _("This group: {tally} · {count}").format(tally=counts(r, ev.tally), count=count),
        r.tr.ngettext(
            "Alliance L{a} {name}: {n} group had to adopt it; {adopted} of {total} did.",
            "Alliance L{a} {name}: {n} groups had to adopt it; {adopted} of {total} did.",
            outcome.needed,
            a=outcome.alliance,
            name=t(outcome.name),
            adopted=r.tr.format_number(
                sum(g.verdict == Verdict.ADOPTED.value for g in outcome.groups)
            ),
            total=r.tr.format_number(len(outcome.groups)),
        ),
    ]
    for group in outcome.groups:
        icon = VERDICT_ICON.get(group.verdict, "❌")
        title = r.tr.isolate(t(group.group))
        if group.id == ev.group:
            title = _("{group} (this group)").format(group=title)
        verdict = verdict_name(r, group.verdict)
        lines.append(f"{r.tr.line_start}{icon} {title}: {verdict} · {counts(r, group.tally)}")
        lines += _statements(r, group.objections, STANCE_ICON["object"], indent="    ")
    if adopted:
        if outcome.parties:
            lines.append(_("Parties: {parties}").format(parties=names(r, outcome.parties)))
        lines += _adoption_record(r, ev)
    elif outcome.verdict == Verdict.OBJECTED.value:
        lines.append(_objectors_hint(r, ev.proposal))
    return lines


def _resolved(r: Reader, ev: e.Resolved) -> str:
    _ = r.tr.gettext
    t = r.markup.text
    if ev.by is None:
        head = _(
            "Round {k} of P{n} opens as scheduled, to resolve the objections. "
            "Amendments until {when}."
        ).format(k=ev.round, n=ev.proposal, when=r.when(ev.closes_at))
    else:
        head = _(
            "{by} opened round {k} of P{n} to resolve the objections. Amendments until {when}."
        ).format(by=t(ev.by), k=ev.round, n=ev.proposal, when=r.when(ev.closes_at))
    lines = [late_note(r, ev.late) + head]
    if ev.objectors:
        lines.append(
            _("{names}: you are invited to propose amendments with {p}amend P{n}.").format(
                names=r.tr.format_list([t(x) for x in ev.objectors]), p=r.prefix, n=ev.proposal
            )
        )
    return "\n".join(lines)


def _renewal_reminder(r: Reader, ev: e.RenewalReminder) -> str:
    _ = r.tr.gettext
    head = late_note(r, ev.late) + _(
        "Reminder: C{c} comes up for renewal {relative} ({when}):"
    ).format(
        c=ev.clause,
        relative=r.tr.format_relative(ev.review_at - r.now),
        when=r.tr.format_datetime(ev.review_at, r.timezone),
    )
    return "\n".join(
        [
            r.markup.bold("⏰ " + head),
            block(r, excerpt(ev.text)),
            _(
                "A renewal round opens by itself then; {p}renew C{c} starts it now, "
                "{p}propose --change C{c} <text> proposes a change."
            ).format(p=r.prefix, c=ev.clause),
        ]
    )


def _not_renewed(r: Reader, ev: e.NotRenewed) -> str:
    _ = r.tr.gettext
    if ev.lapsed:
        return _("C{c} was not renewed and has lapsed: it is no longer in force.").format(
            c=ev.clause
        )
    return _(
        "C{c} was not renewed; as this charter says, it stays in force. Next review: {date}."
    ).format(c=ev.clause, date=r.tr.format_date(ev.next_review) if ev.next_review else "—")


def _round_scheduled(r: Reader, ev: e.RoundScheduled) -> str:
    _ = r.tr.gettext
    if ev.phase == "consent":
        text = _("{by} scheduled the consent round of P{n}: it opens {opens} and closes {closes}.")
    else:
        text = _(
            "{by} scheduled a new amendment round of P{n}: it opens {opens} and closes {closes}."
        )
    return "🗓 " + text.format(
        by=r.markup.text(ev.by),
        n=ev.proposal,
        opens=r.when(ev.opens_at),
        closes=r.when(ev.closes_at),
    )


def _schedule_cancelled(r: Reader, ev: e.ScheduleCancelled) -> str:
    _ = r.tr.gettext
    lines = [
        _("{by} cancelled the scheduled {phase} of P{n}.").format(
            by=r.markup.text(ev.by), phase=_(PHASE_NAME[ev.phase]), n=ev.proposal
        )
    ]
    if ev.closes_at is not None:
        lines.append(_("The amendment phase closes {when}.").format(when=r.when(ev.closes_at)))
    return "\n".join(lines)


def _objection_withdrawn(r: Reader, ev: e.ObjectionWithdrawn) -> str:
    return r.tr.ngettext(
        "{name} withdrew their objection to P{p}. {n} objection remains.",
        "{name} withdrew their objection to P{p}. {n} objections remain.",
        ev.remaining,
        name=r.markup.text(ev.person),
        p=ev.proposal,
    )


def _proposal_ended(r: Reader, ev: e.ProposalEnded) -> str:
    _ = r.tr.gettext
    by = r.markup.text(ev.by or "")
    if ev.how == "withdrawn":
        return _("P{n} was withdrawn by {by}.").format(n=ev.proposal, by=by)
    if ev.how == "superseded":
        return _("P{n} is closed: C{c}, the clause it concerned, was repealed.").format(
            n=ev.proposal, c=ev.clause
        )
    if ev.how == "closed":
        return _("P{n} was closed by {by} without adoption.").format(n=ev.proposal, by=by)
    return late_note(r, ev.late) + _(
        "P{n} expired: its objections were not resolved in time."
    ).format(n=ev.proposal)


def _setting_changed(r: Reader, ev: e.SettingChanged) -> str:
    if ev.key == "languages":
        names = r.tr.format_list([r.tr.language_name(code) for code in ev.value.split()])
        return r.tr.gettext(
            "This group's languages are now {names}: announcements come in each of them."
        ).format(names=names)
    return r.tr.gettext("Setting {key} is now {value}.").format(
        key=ev.key, value=r.markup.text(ev.value)
    )


def _mediator_changed(r: Reader, ev: e.MediatorChanged) -> str:
    _ = r.tr.gettext
    template = (
        _("{name} is now a mediator (appointed by {by}).")
        if ev.added
        else _("{name} is no longer a mediator.")
    )
    return template.format(name=r.markup.text(ev.person), by=r.markup.text(ev.by))


def _language_set(r: Reader, ev: e.LanguageSet) -> str:
    return r.tr.gettext("I will write to you in English.")


def _timezone_set(r: Reader, ev: e.TimezoneSet) -> str:
    return r.tr.gettext("I will show you times in {zone}; it is {time} there now.").format(
        zone=ev.zone, time=r.tr.format_datetime(r.now, ev.zone)
    )


def _translation_added(r: Reader, ev: e.TranslationAdded) -> str:
    _ = r.tr.gettext
    if ev.replaced:
        head = _("{name} replaced the translation of {subject} (version {v}) into {language}.")
    else:
        head = _("{name} contributed a translation of {subject} (version {v}) into {language}.")
    language = r.tr.language_name(ev.lang)
    shown = f"status {ev.subject}" if ev.subject.startswith("P") else f"clause {ev.subject}"
    return " ".join(
        (
            head.format(
                name=r.markup.text(ev.translator),
                subject=ev.subject,
                v=ev.version,
                language=language,
            ),
            _("Readers of {language} see it with the original in {p}{command}.").format(
                language=language, p=r.prefix, command=shown
            ),
        )
    )


def _reminders_set(r: Reader, ev: e.RemindersSet) -> str:
    _ = r.tr.gettext
    if ev.on:
        return _(
            "I will remind you here before a consent round of your groups closes, if you have "
            "not stated a position yet. {p}remind off stops it."
        ).format(p=r.prefix)
    return _("I will not send you private reminders any more.")


def _meeting_announced(r: Reader, ev: e.MeetingAnnounced) -> str:
    _ = r.tr.gettext
    head = _("📅 Meeting M{n}, {when}, announced by {by}:").format(
        n=ev.meeting, when=r.when(ev.at), by=r.markup.text(ev.by)
    )
    lines = [r.markup.bold(head), block(r, ev.topic)]
    if ev.reminders:
        times = r.tr.format_list([r.tr.format_datetime(at, r.timezone) for at in ev.reminders])
        lines.append(_("Reminders: {times}.").format(times=times))
    lines.append(
        _("Mediators can call it off with {p}meeting cancel M{n}.").format(p=r.prefix, n=ev.meeting)
    )
    return "\n".join(lines)


def _meeting_reminder(r: Reader, ev: e.MeetingReminder) -> str:
    head = r.tr.gettext("⏰ Reminder: meeting M{n} begins {relative} ({when}):").format(
        n=ev.meeting,
        relative=r.tr.format_relative(ev.at - r.now),
        when=r.tr.format_datetime(ev.at, r.timezone),
    )
    return "\n".join([late_note(r, ev.late) + r.markup.bold(head), block(r, ev.topic)])


def _meeting_cancelled(r: Reader, ev: e.MeetingCancelled) -> str:
    head = r.tr.gettext("Meeting M{n} of {when} was called off by {by}:").format(
        n=ev.meeting, when=r.tr.format_datetime(ev.at, r.timezone), by=r.markup.text(ev.by)
    )
    return "\n".join([head, block(r, ev.topic)])


# -- alliances --------------------------------------------------------------------------


def _invite_lines(r: Reader, alliance: int, code: str, expires_at: datetime) -> list[str]:
    """How an invite code is used, the code shown exactly (and easy to copy)."""
    _ = r.tr.gettext
    shown = r.markup.code(r.markup.text(code))
    return [
        _(
            "It works once, until {when}: a mediator of the other group sends "
            "{p}alliance join {code} there."
        ).format(when=r.when(expires_at), p=r.prefix, code=shown),
        _("{p}alliance revoke L{a} cancels the codes not yet used.").format(p=r.prefix, a=alliance),
    ]


def _alliance_created(r: Reader, ev: e.AllianceCreated) -> str:
    _ = r.tr.gettext
    head = _("Alliance L{a} {name} is created, with this group in it.").format(
        a=ev.alliance, name=r.markup.text(ev.name)
    )
    code = _("Invite code for another group: {code}").format(
        code=r.markup.code(r.markup.text(ev.code))
    )
    return "\n".join(
        [r.markup.bold(head), code, *_invite_lines(r, ev.alliance, ev.code, ev.expires_at)]
    )


def _invite_created(r: Reader, ev: e.InviteCreated) -> str:
    head = r.tr.gettext("New invite code for alliance L{a} {name}: {code}").format(
        a=ev.alliance, name=r.markup.text(ev.name), code=r.markup.code(r.markup.text(ev.code))
    )
    return "\n".join([head, *_invite_lines(r, ev.alliance, ev.code, ev.expires_at)])


def _invites_revoked(r: Reader, ev: e.InvitesRevoked) -> str:
    values = {"a": ev.alliance, "name": r.markup.text(ev.name)}
    if not ev.count:
        return r.tr.gettext("Alliance L{a} {name} has no open invite code to revoke.").format(
            **values
        )
    return r.tr.ngettext(
        "{n} open invite code of alliance L{a} {name} was revoked.",
        "{n} open invite codes of alliance L{a} {name} were revoked.",
        ev.count,
        **values,
    )


def _alliance_joined(r: Reader, ev: e.AllianceJoined) -> str:
    return r.tr.gettext(
        "{joined} ({platform}) joined alliance L{a} {name}. Its groups: {groups}."
    ).format(
        joined=r.markup.text(ev.joined),
        platform=platform_name(r, ev.platform),
        a=ev.alliance,
        name=r.markup.text(ev.name),
        groups=names(r, ev.groups),
    )


def _alliance_left(r: Reader, ev: e.AllianceLeft) -> str:
    _ = r.tr.gettext
    values = {"left": r.markup.text(ev.left), "a": ev.alliance, "name": r.markup.text(ev.name)}
    if ev.groups:
        text = _("{left} left alliance L{a} {name}. Still in it: {groups}.").format(
            groups=names(r, ev.groups), **values
        )
    else:
        text = _("{left} left alliance L{a} {name}; no group is in it any more.").format(**values)
    if ev.proposals:
        text += " " + r.tr.ngettext(
            "The open alliance proposal {list} is decided without it.",
            "The open alliance proposals {list} are decided without it.",
            len(ev.proposals),
            list=r.tr.format_list([f"P{n}" for n in ev.proposals]),
        )
    return text


def adoption_rule(r: Reader, min_parties: int | None) -> str:
    """How many groups must adopt an alliance proposal."""
    if min_parties is None:
        return r.tr.gettext("An alliance proposal is adopted when every group adopts it.")
    return r.tr.ngettext(
        "An alliance proposal is adopted when at least {n} group adopts it.",
        "An alliance proposal is adopted when at least {n} groups adopt it.",
        min_parties,
    )


def alliance_rule(r: Reader, rule: str) -> str:
    """By which rule each group decides an alliance proposal."""
    _ = r.tr.gettext
    if rule == "own":
        return _("Each group decides alliance proposals by its own rule.")
    return _("Every group decides alliance proposals by the rule {rule}.").format(
        rule=_(RULE_NAME[rule]) if rule in RULE_NAME else r.markup.text(rule)
    )


def _alliance_setting_changed(r: Reader, ev: e.AllianceSettingChanged) -> str:
    head = r.tr.gettext("{by} set {key} of alliance L{a} {name} to {value}.").format(
        by=r.markup.text(ev.by),
        key=r.markup.text(ev.key),
        a=ev.alliance,
        name=r.markup.text(ev.name),
        value=r.markup.text(ev.value),
    )
    if ev.key == "min_parties":
        number = int(ev.value) if ev.value.isdigit() and int(ev.value) > 0 else None
        return f"{head} {adoption_rule(r, number)}"
    if ev.key == "rule":
        return f"{head} {alliance_rule(r, ev.value)}"
    return head


_EVENTS: dict[type, Callable[[Reader, Any], str]] = {
    e.ProposalOpened: _proposal_opened,
    e.AmendmentProposed: _amendment_proposed,
    e.AmendmentVoted: _amendment_voted,
    e.AmendmentAccepted: _amendment_accepted,
    e.ConsentOpened: _consent_opened,
    e.ConsentReminder: _consent_reminder,
    e.PositionStated: _position_stated,
    e.PositionRetracted: _position_retracted,
    e.Decided: _decided,
    e.Resolved: _resolved,
    e.RoundScheduled: _round_scheduled,
    e.RenewalReminder: _renewal_reminder,
    e.NotRenewed: _not_renewed,
    e.ScheduleCancelled: _schedule_cancelled,
    e.ObjectionWithdrawn: _objection_withdrawn,
    e.ProposalEnded: _proposal_ended,
    e.SettingChanged: _setting_changed,
    e.MediatorChanged: _mediator_changed,
    e.LanguageSet: _language_set,
    e.TimezoneSet: _timezone_set,
    e.RemindersSet: _reminders_set,
    e.TranslationAdded: _translation_added,
    e.MeetingAnnounced: _meeting_announced,
    e.MeetingReminder: _meeting_reminder,
    e.MeetingCancelled: _meeting_cancelled,
    e.AllianceCreated: _alliance_created,
    e.InviteCreated: _invite_created,
    e.InvitesRevoked: _invites_revoked,
    e.AllianceJoined: _alliance_joined,
    e.AllianceLeft: _alliance_left,
    e.AllianceSettingChanged: _alliance_setting_changed,
}

# -- errors -----------------------------------------------------------------------------


def _phases(r: Reader, phases: Any) -> str:
    return r.tr.format_list([r.tr.gettext(PHASE_NAME.get(p, p)) for p in phases], style="or")


def error(r: Reader, err: DomainError) -> str:
    """A refusal: what was wrong and what is expected. Nothing was changed."""
    _ = r.tr.gettext
    p = dict(err.params)
    t = r.markup.text
    code = err.code
    if code == "bad_id":
        return _(
            "“{given}” is not a valid id: expected {kind} followed by a number, e.g. {kind}1."
        ).format(given=t(str(p["given"])), kind=p["kind"])
    if code == "no_such_proposal":
        return _("There is no proposal P{n}.").format(n=p["number"])
    if code == "no_such_amendment":
        return _("There is no amendment A{n}.").format(n=p["number"])
    if code == "no_such_clause":
        return _("There is no clause C{n}.").format(n=p["number"])
    if code == "not_in_group":
        return _("{kind}{n} belongs to another group.").format(kind=p["kind"], n=p["number"])
    if code == "ambiguous_proposal":
        return _(
            "Several proposals are in the {phase}: {list}. Say which one, e.g. P{first}."
        ).format(
            phase=_phases(r, p["phase"]),
            list=r.tr.format_list([f"P{n}" for n in p["numbers"]]),
            first=p["numbers"][0],
        )
    if code == "no_open_proposal":
        return _(
            "No proposal is in the {phase} now. Name one with its id, e.g. P1, or see {p}status."
        ).format(phase=_phases(r, p["phase"]), p=r.prefix)
    if code == "wrong_phase":
        return _("P{n} is {phase}; this needs the {expected}.").format(
            n=p["number"],
            phase=_(PHASE_NAME.get(p["phase"], p["phase"])),
            expected=_phases(r, p["expected"]),
        )
    if code == "not_mediator":
        return _("Only a mediator of this group can use {p}{command}.").format(
            p=r.prefix, command=p["command"]
        )
    if code == "not_member":
        return _("Only members of this group can take part in its deliberations.")
    if code == "not_author":
        return _("Only the author of {kind}{n} can do that.").format(kind=p["kind"], n=p["number"])
    if code == "not_objector":
        return _("You have no standing objection to P{n}; only its author can withdraw it.").format(
            n=p["number"]
        )
    if code == "no_position":
        return _("You have no position on P{n} to withdraw.").format(n=p["number"])
    if code == "reason_required":
        return _("An objection needs a reason: {p}object P1 <reason>.").format(p=r.prefix)
    if code == "text_required":
        return usage(r, p["command"])
    if code == "text_too_long":
        return _("That text has {length} characters; at most {limit} are allowed.").format(
            length=r.tr.format_number(p["length"]), limit=r.tr.format_number(p["limit"])
        )
    if code == "passage_not_found":
        return _(
            "The passage {passage} is not in the current text. Copy it exactly, or see {p}status."
        ).format(passage=quoted(r, excerpt(p["passage"])), p=r.prefix)
    if code == "passage_ambiguous":
        return _(
            "The passage {passage} occurs {count} times; quote a longer passage that occurs once."
        ).format(passage=quoted(r, excerpt(p["passage"])), count=p["count"])
    if code == "passage_same":
        return _("That amendment would not change the text.")
    if code == "amendment_closed":
        return _("A{n} is no longer open ({status}).").format(
            n=p["number"], status=_(AMENDMENT_STATUS.get(p["status"], p["status"]))
        )
    if code == "own_amendment":
        return _(
            "You wrote A{n}; your support is understood. Others can support or oppose it."
        ).format(n=p["number"])
    if code == "clause_not_active":
        return _("C{n} is not in force ({status}).").format(
            n=p["number"], status=_(CLAUSE_STATUS.get(p["status"], p["status"]))
        )
    if code == "unknown_setting":
        return _("There is no setting “{key}”. Settings: {known}.").format(
            key=t(str(p["key"])), known=", ".join(p["known"])
        )
    if code == "bad_setting_value":
        return _("That value does not fit {key}: expected {expected}.").format(
            key=p["key"], expected=p["expected"]
        )
    if code == "bad_language":
        return _("I do not speak “{code}”. Languages: {known}.").format(
            code=t(str(p["language"])), known=", ".join(p["known"])
        )
    if code == "already_mediator":
        return _("{person} is already a mediator.").format(person=t(p["person"]))
    if code == "not_a_mediator":
        return _("{person} is not an appointed mediator.").format(person=t(p["person"]))
    if code == "bad_time":
        if p["reason"] == "past":
            head = _("{text} is not in the future.").format(text=quoted(r, excerpt(p["text"])))
        else:
            head = _("I cannot read {text} as a time.").format(text=quoted(r, excerpt(p["text"])))
        example = _(
            "Write for example: 2026-12-01 18:00 · tomorrow 18:00 · in 2h (time zone {zone})."
        ).format(zone=p["timezone"])
        return f"{head} {example}"
    if code == "bad_duration":
        return _("I cannot read {text} as a duration: write for example 48h, 2d or 90min.").format(
            text=quoted(r, excerpt(p["text"]))
        )
    if code == "renewal_open":
        return _("A renewal of C{c} is already open: P{n}.").format(c=p["clause"], n=p["proposal"])
    if code == "nothing_scheduled":
        return _("No round of P{n} is scheduled.").format(n=p["number"])
    if code == "no_such_meeting":
        return _("There is no meeting M{n}. {p}meeting lists those to come.").format(
            n=p["number"], p=r.prefix
        )
    if code == "meeting_over":
        if p["status"] == "cancelled":
            return _("Meeting M{n} was already called off.").format(n=p["number"])
        return _("Meeting M{n} has already begun; it can no longer be called off.").format(
            n=p["number"]
        )
    if code == "stale":
        return _("Many changes arrived at once; please try again.")
    if code == "group_only":
        return _(
            "This works in a group. Here you can use {p}start, {p}help, {p}lang and {p}status."
        ).format(p=r.prefix)
    if code == "private_only":
        return _("{p}{command} works in a private chat with me: write to me there.").format(
            p=r.prefix, command=p["command"]
        )
    if code == "bad_button":
        return _("This button is not valid (any more). See {p}status.").format(p=r.prefix)
    alliance = _alliance_error(r, code, p)
    if alliance is not None:
        return alliance
    return _("That did not work.")


def _alliance_error(r: Reader, code: str, p: dict[str, Any]) -> str | None:
    _ = r.tr.gettext
    t = r.markup.text
    if code == "no_alliance":
        return no_alliance(r)
    if code == "which_alliance":
        numbers = p["numbers"]
        return _(
            "This group is in several alliances: {list}. Say which one, e.g. "
            "{p}alliance leave L{first} or {p}propose --alliance=L{first} <text>."
        ).format(list=r.tr.format_list([f"L{n}" for n in numbers]), first=numbers[0], p=r.prefix)
    if code == "no_such_alliance":
        return _("There is no alliance L{n}.").format(n=p["number"])
    if code == "not_in_alliance":
        return _("This group is not in alliance L{n}. {p}alliance lists its alliances.").format(
            n=p["number"], p=r.prefix
        )
    if code == "bad_invite":
        return _(
            "This invite code does not work: it is mistyped, used, expired or revoked. Ask a "
            "mediator of the alliance for a new one ({p}alliance invite)."
        ).format(p=r.prefix)
    if code == "already_in_alliance":
        return _("This group is already in alliance L{n} {name}.").format(
            n=p["number"], name=t(str(p["name"]))
        )
    if code == "bad_alliance_setting":
        if p["key"] not in ALLIANCE_SETTINGS:
            return _("Alliances have no setting “{key}”. Alliance settings: {expected}.").format(
                key=t(str(p["key"])), expected=t(str(p["expected"]))
            )
        return _("That value does not fit {key}: expected {expected}.").format(
            key=p["key"], expected=t(str(p["expected"]))
        )
    return None


def no_alliance(r: Reader) -> str:
    return r.tr.gettext(
        "This group is in no alliance. A mediator creates one with {p}alliance create <name>, "
        "or joins one with {p}alliance join <code>."
    ).format(p=r.prefix)


AMENDMENT_STATUS = {
    "open": N_("open"),
    "accepted": N_("accepted"),
    "applied": N_("applied"),
    "conflicting": N_("conflicting"),
    "not_passed": N_("not passed"),
}

# -- the grammar's refusals ---------------------------------------------------------------

USAGE: dict[str, tuple[str, str]] = {
    "propose": (
        N_(
            "{p}propose <text>  ·  {p}propose --change C<n> <text>  ·  "
            "{p}propose --alliance[=L<n>] <text>"
        ),
        N_("propose a new clause, or a change of a clause"),
    ),
    "amend": (
        N_('{p}amend P<n> <new text>  ·  {p}amend P<n> replace "<passage>" with "<new passage>"'),
        N_("propose an amendment"),
    ),
    "support": (N_("{p}support A<n>"), N_("support an amendment")),
    "oppose": (N_("{p}oppose A<n>"), N_("oppose an amendment")),
    "accept": (N_("{p}accept A<n>"), N_("the proposal's author applies an amendment at once")),
    "consent": (N_("{p}consent P<n>"), N_("✅ I agree")),
    "concern": (N_("{p}concern P<n> [reason]"), N_("⚠️ I agree, with a concern")),
    "object": (N_("{p}object P<n> <reason>"), N_("✋ I object (a reason is required)")),
    "abstain": (N_("{p}abstain P<n>"), N_("➖ I stand aside")),
    "withdraw": (N_("{p}withdraw P<n>"), N_("withdraw your proposal, or your objection")),
    "resolve": (N_("{p}resolve P<n>"), N_("mediator: open a new amendment round after objections")),
    "next": (N_("{p}next P<n>"), N_("mediator: close the current phase now")),
    "close": (N_("{p}close P<n>"), N_("mediator: end a proposal without adoption")),
    "schedule": (
        N_(
            "{p}schedule P<n> amendment|consent <when> [for <duration>]  ·  {p}schedule P<n> cancel"
        ),
        N_(
            "mediator: when the next round opens, "
            "e.g. {p}schedule P4 consent tomorrow 18:00 for 48h"
        ),
    ),
    "meeting": (
        N_("{p}meeting <when> <topic or link>  ·  {p}meeting cancel M<n>  ·  {p}meeting"),
        N_(
            "mediator: announce a live meeting, reminded a day and an hour before, "
            "e.g. {p}meeting tomorrow 18:00 Fishing rights; {p}meeting alone lists them"
        ),
    ),
    "renew": (N_("{p}renew C<n>"), N_("start the renewal of a clause now")),
    "repeal": (N_("{p}repeal C<n> <reason>"), N_("propose to remove a clause")),
    "translate": (
        N_("{p}translate P<n>|C<n> <language> <text>"),
        N_(
            "translate the current text of a proposal or clause for readers of that language, "
            "e.g. {p}translate P3 ja <text>; the original stays authoritative"
        ),
    ),
    "status": (N_("{p}status [P<n>]"), N_("open proposals, or one proposal in detail")),
    "charter": (
        N_("{p}charter [all]"),
        N_("the charters of this group and its alliances; all: every charter (the people's)"),
    ),
    "clause": (N_("{p}clause C<n>"), N_("a clause: text, parties, versions, next review")),
    "settings": (N_("{p}settings [<key> <value>]"), N_("show the settings; mediators change them")),
    "mediator": (N_("{p}mediator add|remove <user>"), N_("mediator: appoint or remove a mediator")),
    "alliance": (
        N_(
            "{p}alliance  ·  {p}alliance create <name>  ·  {p}alliance invite [L<n>] [<duration>]"
            "  ·  {p}alliance revoke [L<n>]  ·  {p}alliance join <code>  ·  "
            "{p}alliance leave [L<n>]  ·  {p}alliance settings [L<n>] <key> <value>"
        ),
        N_(
            "the alliances of this group with others, which decide alliance proposals "
            "({p}propose --alliance) together; mediators create one (with an invite code for "
            "another group's mediator), invite, join, leave and set min_parties and rule"
        ),
    ),
    "export": (N_("{p}export [md|json]"), N_("the charter as Markdown or JSON")),
    "timezone": (
        N_("{p}timezone <Area/City>"),
        N_(
            "mediator: the group's time zone, e.g. {p}timezone Europe/Madrid; "
            "in a private chat with me: your own"
        ),
    ),
    "lang": (N_("{p}lang <code>"), N_("the language I write to you in, e.g. {p}lang es")),
    "grouplang": (
        N_("{p}grouplang <code> [<code> ...]"),
        N_("mediator: the group's languages; announcements come in each, e.g. {p}grouplang en ja"),
    ),
    "remind": (
        N_("{p}remind on|off"),
        N_("in a private chat with me: remind you there of rounds you have not answered"),
    ),
    "help": (N_("{p}help [command]"), N_("this help")),
    "start": (N_("{p}start"), N_("welcome and your preferences")),
}


def usage(r: Reader, command: str) -> str:
    _ = r.tr.gettext
    syntax, _purpose = USAGE.get(command, USAGE["help"])
    return _("Usage: {syntax}").format(syntax=_(syntax).format(p=r.prefix))


def unknown(r: Reader, name: str) -> str:
    return r.tr.gettext(
        "I do not know the command {p}{name}. {p}help lists what I understand."
    ).format(p=r.prefix, name=r.markup.text(name[:32]))


def help_text(r: Reader, command: str | None = None) -> str:
    _ = r.tr.gettext
    if command and command in USAGE:
        syntax, purpose = USAGE[command]
        return f"{_(syntax).format(p=r.prefix)}\n{_(purpose).format(p=r.prefix)}"
    lines = [
        r.markup.bold(
            _("charterbot: proposals, amendments and consent, recorded in the group's charter.")
        ),
    ]
    for name in g.COMMANDS:
        if name in USAGE:
            syntax, purpose = USAGE[name]
            lines.append(f"{_(syntax).format(p=r.prefix)} — {_(purpose).format(p=r.prefix)}")
    return "\n".join(lines)


def start_text(r: Reader) -> str:
    return r.tr.gettext(
        "Welcome to charterbot. I help groups propose, amend and adopt agreements by consent. "
        "Choose my language with {p}lang <code>; {p}help lists everything."
    ).format(p=r.prefix)


# -- read models -------------------------------------------------------------------------


def open_list(
    r: Reader, lines: list[q.ProposalLine], meetings: Sequence[q.MeetingLine] = ()
) -> str:
    """``/status``: the open proposals, then the meetings to come."""
    _ = r.tr.gettext
    if not lines:
        out = [_("No proposal is open. Start one with {p}propose <text>.").format(p=r.prefix)]
    else:
        out = [r.markup.bold(_("Open proposals:"))]
    for line in lines:
        out.append(
            _("P{n} · {phase} · until {when} · {stated} stated · {text}").format(
                n=line.number,
                phase=_(PHASE_NAME[line.phase]),
                when=r.when(line.closes_at) if line.closes_at else "—",
                stated=r.tr.format_number(line.stated),
                text=quoted(r, excerpt(line.text)),
            )
        )
    if meetings:
        out += [r.markup.bold(_("Upcoming meetings:")), *meeting_lines(r, meetings)]
    return "\n".join(out)


def meeting_lines(r: Reader, meetings: Sequence[q.MeetingLine]) -> list[str]:
    return [
        r.tr.gettext("M{n} · {when} · {topic}").format(
            n=m.number, when=r.when(m.at), topic=r.markup.text(" ".join(m.topic.split()))
        )
        for m in meetings
    ]


def meeting_list(r: Reader, meetings: Sequence[q.MeetingLine]) -> str:
    """``/meeting``: the group's meetings to come."""
    _ = r.tr.gettext
    if not meetings:
        return _(
            "No meeting is planned. Mediators announce one with {p}meeting <when> <topic or link>."
        ).format(p=r.prefix)
    return "\n".join([r.markup.bold(_("Upcoming meetings:")), *meeting_lines(r, meetings)])


def status(r: Reader, v: q.ProposalView) -> str:
    _ = r.tr.gettext
    t = r.markup.text
    head = _("P{n} · {kind} · {phase} · round {k}").format(
        n=v.number, kind=_(KIND_NAME[v.kind]), phase=_(PHASE_NAME[v.phase]), k=v.round
    )
    lines = [r.markup.bold(head)]
    if v.alliance:
        lines.append(alliance_proposal_line(r, v.alliance, v.alliance_id))
    if v.origin:
        lines.append(_("Proposed in {group}.").format(group=r.tr.isolate(t(v.origin))))
    if v.clause:
        lines.append(_("Clause: C{c}").format(c=v.clause))
    lines.append(
        _("By {author} · text version {version}").format(author=t(v.author), version=v.version)
    )
    lines += text_for(r, v.text, v.translations)
    if v.reason:
        lines.append(_("Reason: {reason}").format(reason=t(v.reason)))
    if v.closes_at:
        lines.append(_("This phase closes {when}.").format(when=r.when(v.closes_at)))
    if v.reminders:
        times = ", ".join(r.when(moment) for moment in v.reminders)
        lines.append(_("Reminders before the close: {times}.").format(times=times))
    if v.earlier_concerns:
        lines.append(_("Concerns recorded when it was last adopted:"))
        for pos in v.earlier_concerns:
            name = t(pos.name) if pos.name else _("someone")
            reason = f": {t(pos.reason)}" if pos.reason else ""
            lines.append(f"  {STANCE_ICON['concern']} {name}{reason}")
    if v.scheduled:
        lines.append(
            _("Scheduled: the {phase} opens {opens} and closes {closes}.").format(
                phase=_(PHASE_NAME[v.scheduled.phase]),
                opens=r.when(v.scheduled.opens_at),
                closes=r.when(v.scheduled.closes_at),
            )
        )
    if v.expires_at:
        lines.append(
            _("Unless a mediator resolves the objections, it expires {when}.").format(
                when=r.when(v.expires_at)
            )
        )
    if v.amendments:
        lines.append(_("Amendments:"))
        for a in v.amendments:
            lines.append(
                "  "
                + _("A{a} by {author} ({status}, +{s}/−{o}): {change}").format(
                    a=a.number,
                    author=t(a.author),
                    status=_(AMENDMENT_STATUS.get(a.status, a.status)),
                    s=a.support,
                    o=a.oppose,
                    change=amendment_change(
                        r, a.passage, a.replacement, a.text and excerpt(a.text)
                    ),
                )
            )
    if v.phase in ("consent", "objected") or v.outcome:
        stated = r.tr.ngettext(
            "{stated} of {n} member stated a position.",
            "{stated} of {n} members stated a position.",
            max(v.eligible, v.stated),
            stated=r.tr.format_number(v.stated),
        )
        lines.append(stated)
        if v.tally is not None:
            lines.append(tally_line(r, v.tally))
        else:
            lines.append(_("Counts are shown when the round closes."))
        for pos in v.positions:
            name = t(pos.name) if pos.name else _("someone")
            reason = f": {t(pos.reason)}" if pos.reason else ""
            lines.append(f"  {STANCE_ICON.get(pos.stance, '')} {name}{reason}")
    if v.parties and (v.phase in ("consent", "objected") or v.outcome):
        lines.append(_("Groups of the alliance:"))
        lines += [party_line(r, party) for party in v.parties]
    elif v.parties:  # no round yet: only who takes part
        lines.append(
            _("Groups of the alliance: {groups}.").format(
                groups=names(r, [party.group for party in v.parties])
            )
        )
    if v.phase == "consent":
        lines.append(consent_hint(r, v.number))
    return "\n".join(lines)


def party_line(r: Reader, party: q.PartyView) -> str:
    """One group's round of an alliance proposal: who responded, counts where that group
    shows them, its outcome once closed."""
    parts = [
        r.tr.ngettext("{n} responded", "{n} responded", party.stated),
    ]
    if party.tally is not None:
        parts.append(counts(r, party.tally))
    if party.verdict:
        parts.append(verdict_name(r, party.verdict))
    title = r.tr.isolate(r.markup.text(party.group))
    return f"{r.tr.line_start}  {title}: {' · '.join(parts)}"


def clause_text(r: Reader, c: q.ClauseView, full: bool = True) -> str:
    _ = r.tr.gettext
    head = _("C{n} · version {v} · {status}").format(
        n=c.number, v=c.version, status=_(CLAUSE_STATUS.get(c.status, c.status))
    )
    lines = [r.markup.bold(head), *text_for(r, c.text, c.translations)]
    if c.next_review and c.status == "active":
        lines.append(_("Next review: {date}.").format(date=r.tr.format_date(c.next_review)))
    parties = names(r, c.party_names or c.parties)
    if not full:
        if c.charter.startswith("alliance:"):  # a multilateral agreement: who is bound
            lines.append(_("Parties: {parties}").format(parties=parties))
        return "\n".join(lines)
    lines.append(_("Parties: {parties}").format(parties=parties))
    lines.append(_("Versions:"))
    for v in c.versions:
        lines.append(
            "  "
            + _("v{v} · adopted {date} by P{p} · {tally} · {hash}").format(
                v=v.version,
                date=r.tr.format_datetime(v.adopted_at, r.timezone),
                p=v.proposal,
                tally=tally_line(r, Tally(**v.tally)),
                hash=r.markup.code(v.hash[:12]),
            )
        )
    return "\n".join(lines)


def charter(r: Reader, views: list[q.CharterView], head: str, link: str | None = None) -> str:
    _ = r.tr.gettext
    on_the_web = [_("On the web: {url}").format(url=r.markup.text(link))] if link else []
    if not views or not any(v.clauses for v in views):
        empty = _("The charter has no clauses yet. Propose one with {p}propose <text>.")
        return "\n".join([empty.format(p=r.prefix), *on_the_web])
    lines = []
    for view in views:
        lines.append(r.markup.bold(_("Charter: {name}").format(name=r.markup.text(view.name))))
        for c in view.clauses:
            lines.append(clause_text(r, c, full=False))
    lines.append(_("Charter record: {hash}").format(hash=r.markup.code(head[:16])))
    return "\n".join(lines + on_the_web)


def alliances(r: Reader, views: Sequence[q.AllianceView]) -> str:
    """``/alliance``: the group's alliances, each with its groups and settings."""
    _ = r.tr.gettext
    n_ = r.tr.ngettext
    t = r.markup.text
    if not views:
        return no_alliance(r)
    out = []
    for v in views:
        out.append(r.markup.bold(_("L{n} · {name}").format(n=v.number, name=t(v.name))))
        for group in v.groups:
            languages = r.tr.format_list([r.tr.language_name(code) for code in group.languages])
            line = _("{title} · {platform} · {languages}").format(
                title=t(group.title), platform=platform_name(r, group.platform), languages=languages
            )
            out.append("  " + line)
        out.append(adoption_rule(r, v.min_parties))
        out.append(alliance_rule(r, v.rule))
        if v.open_proposals:
            out.append(
                _("Open alliance proposals: {list}.").format(
                    list=r.tr.format_list([f"P{n}" for n in v.open_proposals])
                )
            )
        out.append(
            n_(
                "{n} invite code is open.",
                "{n} invite codes are open.",
                v.open_invites,
            )
        )
    if len(views) == 1:
        out.append(
            _("Propose to the whole alliance with {p}propose --alliance <text>.").format(p=r.prefix)
        )
    else:
        out.append(
            _("Propose to one of them with {p}propose --alliance=L{n} <text>.").format(
                p=r.prefix, n=views[0].number
            )
        )
    out.append(
        _(
            "Mediators: {p}alliance invite, {p}alliance leave, "
            "{p}alliance settings min_parties <n>|all, {p}alliance settings rule own|<rule>."
        ).format(p=r.prefix)
    )
    return "\n".join(out)


def settings(r: Reader, values: dict[str, str]) -> str:
    _ = r.tr.gettext
    lines = [r.markup.bold(_("Settings of this group:"))]
    lines += [f"  {key} = {value}" for key, value in values.items()]
    lines.append(_("Mediators change a setting with {p}settings <key> <value>.").format(p=r.prefix))
    return "\n".join(lines)
