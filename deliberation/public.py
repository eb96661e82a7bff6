"""What anyone may read of the store: the web page, its feeds and the static export.

Charters of adopted clauses are public (they are what the groups agreed to show the world).
Anything not yet adopted (open proposals, their amendments and counts) is shown only for
groups that chose ``/settings public on``; an alliance's only when every group of the
alliance did. Names of people who took positions are never listed here: the page shows
counts, the authors of texts and amendments (their work is credited), and the reasons of
concerns recorded with a clause, named only as the group allowed when it adopted it.
Nothing of private chats, invite codes or members is read here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deliberation import queries
from deliberation.alliances import party_groups
from deliberation.model import (
    Amendment,
    ChainEntry,
    Charter,
    ClauseVersion,
    Group,
    Person,
    Proposal,
    Round,
    TextVersion,
)
from deliberation.phases import OPEN, Phase
from deliberation.tally import Tally

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
STEPS_CHUNK = 5_000  # proposal ids per query of ``steps_of`` (SQLite binds at most 32,766)


def slug(charter_id: str) -> str:
    """A charter's name in a URL or a file name ("group:telegram:-100" -> "group-telegram--100")."""
    return _SLUG.sub("-", charter_id)


@dataclass(frozen=True, slots=True)
class CharterLine:
    """A charter in the index."""

    id: str
    slug: str
    name: str
    kind: str  # "group" | "alliance"
    parties: tuple[str, ...]  # the groups' titles
    clauses: int  # active clauses
    public: bool  # its open proposals are shown


@dataclass(frozen=True, slots=True)
class OpenProposal:
    number: int
    kind: str
    text: str
    phase: str
    closes_at: datetime | None
    amendments: int
    groups: tuple[tuple[str, Tally | None], ...]  # per group: its counts, None if hidden
    translations: tuple[queries.TranslationView, ...]  # of the current text


@dataclass(frozen=True, slots=True)
class Step:
    """One text version of the proposal that made a clause version: who wrote it, and
    through which amendment."""

    version: int
    author: str
    amendment: int | None
    text: str


@dataclass(frozen=True, slots=True)
class FeedEntry:
    seq: int
    action: str  # adopt | change | renew | repeal | lapse | keep
    clause: int
    version: int | None
    text: str
    at: datetime
    hash: str


def charter_lines(s: Session) -> list[CharterLine]:
    """Every charter with adopted clauses, or of a public group or alliance."""
    lines = []
    titles = dict(s.execute(select(Group.id, Group.title)).all())
    for view in queries.charters(s):
        public = is_public(s, view.id)
        active = sum(c.status == "active" for c in view.clauses)
        if not view.clauses and not public:
            continue
        kind = view.id.partition(":")[0]
        lines.append(
            CharterLine(
                id=view.id,
                slug=slug(view.id),
                name=view.name,
                kind=kind,
                parties=tuple(titles.get(p, p) for p in view.parties),
                clauses=active,
                public=public,
            )
        )
    return lines


def find_charter(s: Session, wanted: str) -> Charter | None:
    """The charter whose id or slug is ``wanted``."""
    charter = s.get(Charter, wanted)
    if charter is not None:
        return charter
    for candidate in s.scalars(select(Charter)):
        if slug(candidate.id) == wanted:
            return candidate
    return None


def groups_of(s: Session, charter_id: str) -> list[Group]:
    """The groups a charter belongs to now: its group, or its alliance's groups."""
    kind, _, rest = charter_id.partition(":")
    if kind == "group":
        group = s.get(Group, rest)
        return [group] if group is not None else []
    return party_groups(s, int(rest))


def is_public(s: Session, charter_id: str) -> bool:
    groups = groups_of(s, charter_id)
    return bool(groups) and all(g.public for g in groups)


def open_proposals(s: Session, charter_id: str) -> list[OpenProposal]:
    """The charter's open proposals with each group's counts (as the group shows them);
    [] unless the charter is public."""
    if not is_public(s, charter_id):
        return []
    out = []
    found = list(
        s.scalars(
            select(Proposal)
            .where(Proposal.charter_id == charter_id, Proposal.phase.in_(OPEN))
            .order_by(Proposal.id)
        )
    )
    translated = queries.translations_of(s, {f"P{p.id}": p.text_version for p in found})
    for p in found:
        amendments = len(s.scalars(select(Amendment.id).where(Amendment.proposal_id == p.id)).all())
        groups: list[tuple[str, Tally | None]] = []
        if p.phase in (Phase.CONSENT, Phase.OBJECTED):
            for r in s.scalars(
                select(Round)
                .where(Round.proposal_id == p.id, Round.number == p.round_no)
                .where(Round.phase == Phase.CONSENT.value)
                .order_by(Round.id)
            ):
                group = s.get(Group, r.party or p.group_id)
                if group is None:
                    continue
                tally = Tally(r.n_consent, r.n_concern, r.n_object, r.n_abstain)
                shown = group.show_tally == "live" or r.closed_at is not None
                groups.append((group.title, tally if shown else None))
        out.append(
            OpenProposal(
                number=p.id,
                kind=p.kind,
                text=p.text,
                phase=p.phase,
                closes_at=p.phase_closes_at,
                amendments=amendments,
                groups=tuple(groups),
                translations=tuple(t for t in translated.get(f"P{p.id}", ()) if not t.outdated),
            )
        )
    return out


def steps(s: Session, proposal: int) -> list[Step]:
    """How the proposal's text came to be: each version, its author and its amendment."""
    return steps_of(s, [proposal]).get(proposal, [])


def steps_of(s: Session, proposals: Collection[int]) -> dict[int, list[Step]]:
    """``steps`` of several proposals, read at once (an export of a charter of a thousand
    clauses asks for thousands), a chunk of ids per query."""
    wanted = sorted(set(proposals))
    found: dict[int, list[Step]] = {}
    for start in range(0, len(wanted), STEPS_CHUNK):
        rows = s.execute(
            select(TextVersion, Person.name)
            .join(Person, Person.id == TextVersion.author_id, isouter=True)
            .where(TextVersion.proposal_id.in_(wanted[start : start + STEPS_CHUNK]))
            .order_by(TextVersion.proposal_id, TextVersion.version)
        ).all()
        for v, name in rows:
            found.setdefault(v.proposal_id, []).append(
                Step(v.version, name or v.author_id.partition(":")[2], v.amendment_id, v.text)
            )
    return found


def proposals_of_clause(s: Session, clause: int) -> dict[int, int]:
    """Clause version -> the proposal that made it."""
    return dict(
        s.execute(
            select(ClauseVersion.version, ClauseVersion.proposal_id).where(
                ClauseVersion.clause_id == clause
            )
        ).all()
    )


def feed(s: Session, charter_id: str) -> list[FeedEntry]:
    """The charter's record, newest first: adoptions, changes, renewals, repeals, lapses."""
    entries = []
    for row in s.scalars(
        select(ChainEntry)
        .where(ChainEntry.charter_id == charter_id)
        .order_by(ChainEntry.seq.desc())
    ):
        payload: dict[str, Any] = json.loads(row.payload)
        entries.append(
            FeedEntry(
                seq=row.seq,
                action=row.action,
                clause=row.clause_id,
                version=payload.get("version"),
                text=payload.get("text") or "",
                at=row.created_at,
                hash=row.hash,
            )
        )
    return entries


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _translations(views: Sequence[queries.TranslationView]) -> list[dict[str, Any]]:
    return [
        {
            "lang": t.lang,
            "text": t.text,
            "translator": t.translator,
            "version": t.version,
            "outdated": t.outdated,
        }
        for t in views
    ]


def _open_json(p: OpenProposal) -> dict[str, Any]:
    return {
        "number": p.number,
        "kind": p.kind,
        "text": p.text,
        "phase": p.phase,
        "closes_at": _iso(p.closes_at),
        "amendments": p.amendments,
        "groups": [
            {"title": title, "tally": dataclasses.asdict(tally) if tally else None}
            for title, tally in p.groups
        ],
        "translations": _translations(p.translations),
    }


def export_json(s: Session, charter_id: str | Sequence[str] | None = None) -> dict[str, Any]:
    """The SPEC section 9 export, with what the web page shows besides: ``groups`` (each
    party's title and platform), each version's ``steps`` (its text's authors and
    amendments) and a public charter's ``open_proposals``. The Markdown export and the pages
    are worded from the same reads. The record's head is here; checking the whole record
    is ``charterbot verify``'s work (seconds on a large store, whatever charter is
    exported), whose result the pages show."""
    views = queries.charters(s, charter_id)
    ids = {p for ch in views for p in ch.parties} | {
        p for ch in views for c in ch.clauses for p in c.parties
    }
    groups = s.execute(select(Group.id, Group.title, Group.platform).where(Group.id.in_(ids)))
    charters = []
    for ch in views:
        # A version's steps are those of the proposal that made it (``VersionView.proposal``).
        made = steps_of(s, [v.proposal for c in ch.clauses for v in c.versions])
        public = is_public(s, ch.id)
        charters.append(
            {
                "id": ch.id,
                "name": ch.name,
                "parties": list(ch.parties),
                "public": public,
                "clauses": [
                    {
                        "number": c.number,
                        "status": c.status,
                        "text": c.text,
                        "version": c.version,
                        "adopted_at": _iso(c.adopted_at),
                        "parties": list(c.parties),
                        "next_review": c.next_review.isoformat() if c.next_review else None,
                        "versions": [
                            {
                                "version": v.version,
                                "text": v.text,
                                "adopted_at": _iso(v.adopted_at),
                                "proposal": v.proposal,
                                "tally": v.tally,
                                "concerns": [dict(x) for x in v.concerns],
                                "parties": list(v.parties),
                                "hash": v.hash,
                                "steps": [
                                    {
                                        "version": step.version,
                                        "author": step.author,
                                        "amendment": step.amendment,
                                    }
                                    for step in made.get(v.proposal, [])
                                ],
                                "translations": _translations(v.translations),
                            }
                            for v in c.versions
                        ],
                    }
                    for c in ch.clauses
                ],
                "open_proposals": [_open_json(p) for p in open_proposals(s, ch.id)]
                if public
                else [],
            }
        )
    return {
        "groups": {gid: {"title": title, "platform": platform} for gid, title, platform in groups},
        "charters": charters,
        "chain_head": queries.chain_head(s),
    }
