"""The charter as Markdown, worded in one language (``/export md``, ``charterbot export``).

It is made from the JSON export so that both formats always say the same thing.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import Translator
from bot.render import CLAUSE_STATUS, PHASE_NAME


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines() or [""])


def _translation(tr: Translator, translation: dict[str, Any]) -> list[str]:
    """A contributed translation of a clause version, under that version: marked as a
    translation and credited (the version's text above stays the authoritative one)."""
    head = tr.gettext("Translation into {language} by {name}:").format(
        language=tr.language_name(translation["lang"]), name=translation["translator"]
    )
    quote = "\n".join("    " + line for line in _quote(translation["text"]).splitlines())
    return ["  - " + head, "", quote, ""]


def _made(tr: Translator, version: dict[str, Any]) -> list[str]:
    """Under a clause version: how its text came to be, and the concerns recorded with it
    (as the clause page shows them)."""
    _ = tr.gettext
    out = []
    if version.get("steps"):
        out.append("  - " + _("How the text came to be:"))
        for step in version["steps"]:
            if step["amendment"]:
                line = _(
                    "version {v} by {author}, amendment A{a}",
                    v=step["version"],
                    author=step["author"],
                    a=step["amendment"],
                )
            else:
                line = _(
                    "version {v} by {author}, as proposed", v=step["version"], author=step["author"]
                )
            out.append("    - " + line)
    if version.get("concerns"):
        out.append("  - " + _("Concerns recorded with it:"))
        for concern in version["concerns"]:
            name = f"{concern['name']}: " if concern.get("name") else ""
            out.append("    - " + name + (concern.get("reason") or "—"))
    return out


def _tally(tr: Translator, tally: dict[str, int]) -> str:
    return tr.gettext(
        "consent {consent} · concern {concern} · objection {object} · abstention {abstain}",
        **{k: tr.format_number(v) for k, v in tally.items()},
    )


def _open(tr: Translator, proposals: list[dict[str, Any]]) -> list[str]:
    """A public charter's open proposals, with each group's counts as it shows them."""
    _ = tr.gettext
    out = ["## " + _("Open proposals"), ""]
    if not proposals:
        return out + [_("No open proposals."), ""]
    for p in proposals:
        phase = _(PHASE_NAME.get(p["phase"], p["phase"]))
        out += ["### " + _("P{n} · {phase}", n=p["number"], phase=phase), ""]
        out += [_quote(p["text"]), ""]
        for translation in p["translations"]:
            out += _translation(tr, translation)
        if p["closes_at"]:
            out.append(f"- {_('Closes')}: {p['closes_at']}")
        out.append(f"- {_('Amendments')}: {tr.format_number(p['amendments'])}")
        for group in p["groups"]:
            counts = (
                _tally(tr, group["tally"]) if group["tally"] else _("counts shown after the vote")
            )
            out.append(f"- {group['title']}: {counts}")
        out.append("")
    return out


def markdown(tr: Translator, data: dict[str, Any]) -> str:
    _ = tr.gettext
    out: list[str] = []
    groups = data.get("groups", {})

    def named(parties: list[str]) -> str:
        """Each party by its group's title, with its id (which stays unique)."""
        return ", ".join(
            f"{groups[p]['title']} ({p})" if p in groups and groups[p]["title"] != p else p
            for p in parties
        )

    for ch in data["charters"]:
        out.append("# " + _("Charter: {name}").format(name=ch["name"]))
        out.append("")
        out.append(_("Parties: {parties}").format(parties=named(ch["parties"]) or "—"))
        out.append("")
        if not ch["clauses"]:
            out += [_("No clauses yet."), ""]
        for clause in ch["clauses"]:
            out.append(
                "## "
                + _("C{n} · version {v} · {status}").format(
                    n=clause["number"],
                    v=clause["version"],
                    status=_(CLAUSE_STATUS.get(clause["status"], clause["status"])),
                )
            )
            out.append("")
            out.append(_quote(clause["text"]))
            out.append("")
            if clause["next_review"] and clause["status"] == "active":
                out.append(_("Next review: {date}.").format(date=clause["next_review"]))
            out.append(_("Parties: {parties}").format(parties=named(clause["parties"])))
            out.append("")
            for v in clause["versions"]:
                t = v["tally"]
                out.append(
                    "- "
                    + _("v{v} · adopted {date} by P{p} · {tally} · {hash}").format(
                        v=v["version"],
                        date=v["adopted_at"],
                        p=v["proposal"],
                        tally=f"✅ {t['consent']} · ⚠️ {t['concern']} · ✋ {t['object']} · ➖ {t['abstain']}",
                        hash=f"`{v['hash'][:12]}`",
                    )
                )
                for translation in v.get("translations", ()):
                    out += _translation(tr, translation)
                out += _made(tr, v)
            if out[-1]:  # a translation ends with its blank line
                out.append("")
        if ch.get("public"):
            out += _open(tr, ch.get("open_proposals", []))
    out.append(_("Charter record: {hash}").format(hash=f"`{data['chain_head']}`"))
    return "\n".join(out) + "\n"
