"""The charter on the web: pages for people outside the chats, served by the bot process
(aiohttp) and written as static files by ``charterbot export --format html``.

Pages (``.html`` paths, so that the static export is the same site, links relative):
``index.html`` (every charter), ``people.html`` (the people's charter: all of them in
full), ``charter/<slug>.html`` (one charter: its clauses and, for public groups, open
proposals), ``clause/<n>.html`` (a clause's versions, what made each, diffs) and
``charter/<slug>.atom`` (its record as an Atom feed). What is shown is decided in
``deliberation.public``; the words come from the bot's catalogs, in the language of
``?lang=`` or of the browser (Accept-Language). Jinja2 escapes everything it prints.
"""

from __future__ import annotations

import asyncio
import difflib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import babel
from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from bot.i18n import N_, Translator, available_locales, get_translator
from bot.render import CLAUSE_STATUS, PHASE_NAME
from deliberation import public, queries
from deliberation.model import Clause
from deliberation.store.db import Database
from deliberation.tally import Tally

# A charter record entry, as a feed entry's title.
ACTION_NAME = {
    "adopt": N_("C{c} adopted (version {v})"),
    "change": N_("C{c} changed (version {v})"),
    "renew": N_("C{c} renewed"),
    "repeal": N_("C{c} repealed"),
    "lapse": N_("C{c} lapsed: not renewed"),
    "keep": N_("C{c} kept in force: not renewed"),
}
VERIFY_EVERY = 60.0  # seconds a verification of the record is shown before it is redone
_WORDS = re.compile(r"\s+|[^\s]+")
_ENV = Environment(
    loader=PackageLoader("bot", "templates"),
    autoescape=select_autoescape(["html", "atom"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def diff(old: str, new: str) -> list[tuple[str, str]]:
    """Word by word, what changed from ``old`` to ``new``: ("same" | "del" | "ins", text)."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
        if op in ("delete", "replace"):
            out.append(("del", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("ins", "".join(b[j1:j2])))
    return out


def negotiate(query_lang: str | None, accept: str | None, default: str) -> str:
    """The page's language: ``?lang=``, else the browser's first we ship, else ``default``."""
    known = available_locales()
    if query_lang:
        for code in known:
            if code.lower() == query_lang.replace("-", "_").lower():
                return code
    if accept:
        wanted = [part.split(";")[0].strip().replace("-", "_") for part in accept.split(",")]
        found = babel.Locale.negotiate([w for w in wanted if w], known, sep="_")
        if found is not None:
            return str(found)
    return default


@dataclass(frozen=True)
class Page:
    """One page to write: its path (relative to the site's root) and its text."""

    path: str
    text: str


class Site:
    """Words the pages from the store, in one language at a time."""

    def __init__(self, db: Database, default_locale: str = "en", timezone: str = "UTC") -> None:
        self.db = db
        self.default_locale = default_locale
        self.timezone = timezone
        self._checked: tuple[str, float, queries.VerifyResult] | None = None

    def _check(self, s: Session) -> queries.VerifyResult:
        """The record's verification, as each page's footer states it. Checking the whole
        record takes seconds on a large store, so a result is reused for ``VERIFY_EVERY``
        seconds while the record has not grown (an alteration shows within that time)."""
        head = queries.chain_head(s)
        cached = self._checked
        if cached is not None and cached[0] == head and time.monotonic() - cached[1] < VERIFY_EVERY:
            return cached[2]
        result = queries.verify(s)
        self._checked = (result.head, time.monotonic(), result)
        return result

    # -- the pages ---------------------------------------------------------------------

    def index(self, lang: str, query: str = "") -> Page:
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            return self._page(
                "index.html",
                lang,
                query,
                "index.html",
                charters=public.charter_lines(s),
                check=self._check(s),
            )

    def people(self, lang: str, query: str = "") -> Page:
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            lines = public.charter_lines(s)
            views = {v.id: v for v in queries.charters(s, [line.id for line in lines])}
            return self._page(
                "people.html",
                lang,
                query,
                "people.html",
                charters=[(line, views[line.id]) for line in lines],
                check=self._check(s),
            )

    def charter(self, wanted: str, lang: str, query: str = "") -> Page | None:
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            charter = public.find_charter(s, wanted)
            if charter is None:
                return None
            lines = {line.id: line for line in public.charter_lines(s)}
            if charter.id not in lines:
                return None  # a group's charter with nothing adopted, not public
            (view,) = queries.charters(s, charter.id)
            return self._page(
                "charter.html",
                lang,
                query,
                f"charter/{public.slug(charter.id)}.html",
                line=lines[charter.id],
                view=view,
                proposals=public.open_proposals(s, charter.id),
                check=self._check(s),
            )

    def clause(self, number: int, lang: str, query: str = "") -> Page | None:
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            if s.get(Clause, number) is None:
                return None
            view = queries.clause(s, number)
            made_by = public.proposals_of_clause(s, number)
            titles = queries.group_titles(s, [p for v in view.versions for p in v.parties])
            history = []
            previous = ""
            for v in view.versions:
                proposal = made_by.get(v.version, v.proposal)
                history.append(
                    {
                        "version": v,
                        "diff": diff(previous, v.text) if previous else [],
                        "steps": public.steps(s, proposal),
                        "tally": Tally(**v.tally),
                        "parties": [titles.get(p, p) for p in v.parties],
                    }
                )
                previous = v.text
            charter = public.find_charter(s, view.charter)
            return self._page(
                "clause.html",
                lang,
                query,
                f"clause/{number}.html",
                clause=view,
                history=list(reversed(history)),
                charter_name=charter.name if charter else view.charter,
                charter_slug=public.slug(view.charter),
                check=self._check(s),
            )

    def feed(self, wanted: str, lang: str) -> Page | None:
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            charter = public.find_charter(s, wanted)
            if charter is None or not any(
                line.id == charter.id for line in public.charter_lines(s)
            ):
                return None
            entries = public.feed(s, charter.id)
            path = f"charter/{public.slug(charter.id)}.atom"
            tr = get_translator(lang, self.default_locale)
            text = _ENV.get_template("feed.atom").render(
                charter=charter,
                feed_slug=public.slug(charter.id),
                entries=entries,
                updated=entries[0].at if entries else charter.created_at,
                **self._words(tr, path, ""),
            )
            return Page(path, text)

    # -- helpers -----------------------------------------------------------------------

    def _page(self, template: str, lang: str, query: str, path: str, **data: Any) -> Page:
        tr = get_translator(lang, self.default_locale)
        text = _ENV.get_template(template).render(**self._words(tr, path, query), **data)
        return Page(path, text)

    def _words(self, tr: Translator, path: str, query: str) -> dict[str, Any]:
        """What every template gets: the translator's words and formats, and ``url``,
        a link relative to ``path`` (so the static export works from any folder)."""
        depth = path.count("/")
        prefix = "../" * depth

        def url(target: str) -> str:
            return prefix + target + query

        return {
            "_": tr.gettext,
            "ngettext": tr.ngettext,
            "lang": tr.code.replace("_", "-"),
            "dir": "rtl" if tr.locale.character_order == "right-to-left" else "ltr",
            "date": lambda d: tr.format_date(d) if d else "",
            "when": lambda dt: tr.format_datetime(dt, self.timezone) if dt else "",
            "iso": lambda dt: dt.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "number": tr.format_number,
            "language_name": tr.language_name,
            "languages": [(code, tr.language_name(code)) for code in available_locales()],
            "current": tr.code,
            "url": url,
            "here": path,
            "slug": public.slug,
            "root": prefix,
            "status_name": lambda st: tr.gettext(CLAUSE_STATUS.get(st, st)),
            "phase_name": lambda ph: tr.gettext(PHASE_NAME.get(ph, ph)),
            "action_name": lambda action, clause, version: tr.gettext(
                ACTION_NAME.get(action, "{action} C{c}"), action=action, c=clause, v=version
            ),
        }

    def everything(self, lang: str) -> list[Page]:
        """Every page and feed, for the static export."""
        pages = [self.index(lang), self.people(lang)]
        with self.db.unit_of_work(write=False) as uow:
            lines = public.charter_lines(uow.session)
            clauses = [
                c.number
                for view in queries.charters(uow.session, [line.id for line in lines])
                for c in view.clauses
            ]
        for line in lines:
            for page in (self.charter(line.id, lang), self.feed(line.id, lang)):
                if page is not None:
                    pages.append(page)
        pages += [page for n in clauses if (page := self.clause(n, lang)) is not None]
        return pages


def write_site(site: Site, folder: Path, lang: str) -> list[Path]:
    """The static export: every page as a file under ``folder``."""
    written = []
    for page in site.everything(lang):
        target = folder / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.text, encoding="utf-8")
        written.append(target)
    return written


def make_app(site: Site) -> web.Application:
    """The aiohttp application serving the pages (each worded in a worker thread)."""

    async def word(maker: Callable[[], Page | None], kind: str = "text/html") -> web.Response:
        page = await asyncio.to_thread(maker)
        if page is None:
            raise web.HTTPNotFound(text="Not found")
        return web.Response(text=page.text, content_type=kind, charset="utf-8")

    def language(request: web.Request) -> tuple[str, str]:
        chosen = request.query.get("lang")
        lang = negotiate(chosen, request.headers.get("Accept-Language"), site.default_locale)
        return lang, (f"?lang={lang}" if chosen else "")

    async def index(request: web.Request) -> web.Response:
        lang, query = language(request)
        return await word(lambda: site.index(lang, query))

    async def people(request: web.Request) -> web.Response:
        lang, query = language(request)
        return await word(lambda: site.people(lang, query))

    async def charter(request: web.Request) -> web.Response:
        lang, query = language(request)
        wanted = request.match_info["slug"]
        return await word(lambda: site.charter(wanted, lang, query))

    async def feed(request: web.Request) -> web.Response:
        lang, _query = language(request)
        wanted = request.match_info["slug"]
        return await word(lambda: site.feed(wanted, lang), "application/atom+xml")

    async def clause(request: web.Request) -> web.Response:
        lang, query = language(request)
        try:
            number = int(request.match_info["number"])
        except ValueError:
            raise web.HTTPNotFound(text="Not found") from None
        return await word(lambda: site.clause(number, lang, query))

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/people.html", people)
    app.router.add_get("/charter/{slug}.html", charter)
    app.router.add_get("/charter/{slug}.atom", feed)
    app.router.add_get("/clause/{number}.html", clause)
    return app
