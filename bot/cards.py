"""Live cards and the other messages that carry buttons.

A card is the one message of a proposal (or of an amendment) that platforms with buttons
keep up to date by editing it. It is worded from the store when it is sent or edited, not
when the change happened, so any number of changes in between cost one edit and the card
always shows the latest state. It shows what ``/status`` would show a non-voter, so the
group's ``show_tally`` and ``named_votes`` hold on the card too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from babel import Locale
from sqlalchemy.orm import Session

from bot import buttons, render
from bot.i18n import N_
from bot.messages import Button, Outbound
from bot.textsplit import split_message
from deliberation import commands as c
from deliberation import queries
from deliberation.errors import DomainError
from deliberation.model import Amendment, Group

ReaderFor = Callable[[str, str], render.Reader]  # (language, time zone) -> reader

STANCE_BUTTONS = (
    (c.Stance.CONSENT, "✅", N_("Consent")),
    (c.Stance.CONCERN, "⚠️", N_("Concern")),
    (c.Stance.OBJECT, "✋", N_("Object")),
    (c.Stance.ABSTAIN, "➖", N_("Stand aside")),
)


# How a proposal card is cut down when it would not fit one message: text excerpt,
# listed positions and amendments, characters per reason. The full view is /status.
SHORTER = ((1000, 20, 20, 300), (300, 5, 5, 100), (100, 0, 0, 0))


def word(
    s: Session, chat: str, subject: str, reader_for: ReaderFor, max_text: int = 4096
) -> Outbound | None:
    """The card ``subject`` ("P12", "A5") of ``chat`` as it should look now (None: gone)."""
    group = s.get(Group, chat)
    if group is None:
        return None
    readers = [reader_for(code, group.timezone) for code in group.languages.split()]
    html = isinstance(readers[0].markup, render.HtmlMarkup)
    number = int(subject[1:])
    try:
        if subject.startswith("P"):
            view = queries.proposal(s, chat, number, None)
            text = "\n\n".join(render.status(r, view) for r in readers)
            for limits in SHORTER:
                if len(split_message(text, max_text, html)) == 1:
                    break
                text = "\n\n".join(_shortened(r, view, *limits) for r in readers)
            text = split_message(text, max_text, html)[0]
            return Outbound(text, _proposal_buttons(readers[0], view))
        amendment = s.get(Amendment, number)
        if amendment is None:
            return None
        view = queries.proposal(s, chat, amendment.proposal_id, None)
    except DomainError:
        return None
    (a,) = [a for a in view.amendments if a.number == number]
    text = "\n\n".join(_amendment(r, view, a) for r in readers)
    rows: tuple[tuple[Button, ...], ...] = ()
    if view.phase == "amendment" and a.status == "open":
        _ = readers[0].tr.gettext
        rows = (
            (
                Button("👍 " + _("Support"), buttons.amendment(number, True)),
                Button("👎 " + _("Oppose"), buttons.amendment(number, False)),
            ),
        )
    return Outbound(text, rows)


def _shortened(
    r: render.Reader,
    view: queries.ProposalView,
    chars: int,
    positions: int,
    amendments: int,
    reason: int,
) -> str:
    """The card with less in it, and where to read everything."""
    short = dataclasses.replace(
        view,
        text=render.excerpt(view.text, chars) if chars < len(view.text) else view.text,
        positions=tuple(
            dataclasses.replace(p, reason=p.reason and render.excerpt(p.reason, reason) or None)
            for p in view.positions[:positions]
        ),
        amendments=view.amendments[:amendments],
        translations=tuple(
            dataclasses.replace(t, text=render.excerpt(t.text, chars)) if chars < len(t.text) else t
            for t in view.translations
        ),
    )
    more = r.tr.gettext("Shortened to fit one message; everything: {p}status P{n}").format(
        p=r.prefix, n=view.number
    )
    return f"{render.status(r, short)}\n{more}"


def _proposal_buttons(
    r: render.Reader, view: queries.ProposalView
) -> tuple[tuple[Button, ...], ...]:
    if view.phase != "consent":
        return ()
    return (
        tuple(
            Button(f"{icon} {r.tr.gettext(label)}", buttons.position(view.number, stance))
            for stance, icon, label in STANCE_BUTTONS
        ),
    )


def _amendment(r: render.Reader, view: queries.ProposalView, a: queries.AmendmentView) -> str:
    head = render.amendment_head(
        r, a.number, view.number, a.author, a.passage, a.replacement, a.text, origin=a.origin
    )
    status = r.tr.gettext(render.AMENDMENT_STATUS.get(a.status, a.status))
    return f"{head}\n{render.support_counts(r, a.support, a.oppose)} ({status})"


def objection_prompt(r: render.Reader, name: str, proposal: int) -> str:
    return r.tr.gettext(
        "{name}, reply to this message with the reason for your objection to P{n} "
        "(or send {p}object P{n} <reason>)."
    ).format(name=r.markup.text(name), n=proposal, p=r.prefix)


def objection_note(r: render.Reader, proposal: int) -> str:
    return r.tr.gettext("Reply to my message with your reason to object to P{n}.").format(
        n=proposal
    )


def private_menu(r: render.Reader, languages: list[str]) -> tuple[tuple[Button, ...], ...]:
    """Language buttons (each in its own language) and "my open rounds"."""
    names = tuple(
        Button(Locale.parse(code).get_display_name(code).capitalize(), buttons.language(code))
        for code in languages
    )
    return (names, (Button("🗳 " + r.tr.gettext("My open rounds"), buttons.MY_ROUNDS),))


def start_private(r: render.Reader, menu: bool = True) -> str:
    """/start in a private chat: what the bot is, and the person's language and time zone;
    ``menu``: the answer carries the private menu's buttons (not on Matrix: no buttons)."""
    _ = r.tr.gettext
    return "\n".join(
        (
            render.start_text(r),
            _("Your language: {language}. Your time zone: {zone}.").format(
                language=r.tr.locale.get_display_name(r.tr.locale), zone=r.timezone
            ),
            _("Choose a language below, or see the rounds waiting for your position.")
            if menu
            else _(
                "Send {p}lang <code> to choose a language, or {p}status to see the rounds "
                "waiting for your position."
            ).format(p=r.prefix),
            _(
                "Send {p}remind on to be reminded here before a round closes while you have "
                "not stated a position."
            ).format(p=r.prefix),
        )
    )


def my_rounds(r: render.Reader, rounds: list[queries.RoundLine]) -> str:
    _ = r.tr.gettext
    if not rounds:
        return _("No consent round of your groups is open.")
    out = [r.markup.bold(_("Your open rounds:"))]
    for line in rounds:
        mark = "✔" if line.responded else "•"
        out.append(
            _("{mark} P{n} · until {when} · {text}").format(
                mark=mark,
                n=line.number,
                when=r.when(line.closes_at) if line.closes_at else "—",
                text=render.quoted(r, render.excerpt(line.text)),
            )
        )
    out.append(_("✔ marks the rounds where you stated a position."))
    return "\n".join(out)
