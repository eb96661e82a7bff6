"""The charter on the web (bot/web.py): every page and the feed over HTTP, what is and is
not served, languages, and the static export.

The store is made through the real App and console groups (tests/console): main and coast
form the alliance Coastal Fishers and adopt C1 (an amendment applied, so it has a history);
main then amends it into version 2 and turns ``public`` on, and has an open proposal;
``quiet`` is a group that is not public, with an adopted clause and an open proposal whose
text must never be served.
"""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import export
from bot.i18n import get_translator
from bot.web import Site, diff, make_app, negotiate, write_site
from deliberation import public
from tests.console.conftest import Console
from tests.web import atom_rules

SECRET = "Secret plan of the quiet group"


def code_in(lines: list[str]) -> str:
    (line,) = [x for x in lines if "Invite code for another group:" in x]
    return line.rsplit(" ", 1)[1]


@pytest.fixture(scope="module")
def store() -> Iterator[Console]:
    console = Console({"CHARTERBOT_CONSOLE_MEDIATORS": "alice,erin,quinn"})
    console.say(":members main alice bob\n:members coast erin frank\n:members quiet quinn rita")
    code = code_in(console.say("alice: /alliance create Coastal Fishers"))
    console.say(f"erin@coast: /alliance join {code}")
    console.say("bob: /propose --alliance We share the harbour on <b>Sundays</b>")
    console.say('frank@coast: /amend P1 replace "Sundays" with "weekdays"')
    console.say("alice: /support A1\nbob: /support A1\nerin@coast: /support A1")
    console.say("alice: /next P1")
    console.say(
        "alice: /consent P1\nbob: /concern P1 mind the tides\n"
        "erin@coast: /consent P1\nfrank@coast: /consent P1"
    )
    console.say("alice: /next P1")
    console.say("alice: /propose Bikes stay in the yard\nalice: /next P2")
    console.say("alice: /consent P2\nbob: /consent P2\nalice: /next P2")
    console.say("alice: /propose --change C2 Bikes and carts stay in the yard\nalice: /next P3")
    console.say("alice: /consent P3\nbob: /consent P3\nalice: /next P3")
    console.say("alice: /settings public on\nbob: /propose Paint the door green")
    console.say("bob: /translate P4 es Pintar la puerta de verde")
    console.say("quinn@quiet: /propose Quiet rules\nquinn@quiet: /next P5")
    console.say("quinn@quiet: /consent P5\nrita@quiet: /consent P5\nquinn@quiet: /next P5")
    console.say(f"rita@quiet: /propose {SECRET}")
    yield console


def get(console: Console, path: str, **headers: str) -> tuple[int, str, str]:
    """GET ``path`` from the site served over HTTP on 127.0.0.1."""

    async def fetch() -> tuple[int, str, str]:
        site = Site(console.db, "en", "UTC")
        async with TestClient(TestServer(make_app(site), host="127.0.0.1")) as client:
            response = await client.get(path, headers=headers)
            return response.status, response.content_type, await response.text()

    return asyncio.run(fetch())


def test_the_index_lists_the_charters_with_clauses(store: Console) -> None:
    status, kind, page = get(store, "/")
    assert (status, kind) == (200, "text/html")
    assert '<html lang="en" dir="ltr">' in page
    for name in ("Coastal Fishers", "main", "quiet"):
        assert f">{name}</a>" in page
    assert "alliance of main, coast" in page
    assert "The record verifies: no entry was altered." in page
    assert SECRET not in page


def test_a_charter_page_shows_its_clauses_escaped_with_their_parties(store: Console) -> None:
    status, _kind, page = get(store, "/charter/alliance-1.html")
    assert status == 200
    assert "We share the harbour on &lt;b&gt;weekdays&lt;/b&gt;" in page  # never markup
    assert "<b>" not in page
    assert "<dt>Parties</dt><dd>main, coast</dd>" in page
    assert "Next review" in page
    assert 'href="../clause/1.html"' in page and 'href="../charter/alliance-1.atom"' in page


def test_open_proposals_only_of_public_groups(store: Console) -> None:
    _status, _kind, public_page = get(store, "/charter/group-console-main.html")
    assert "Open proposals" in public_page and "Paint the door green" in public_page
    assert "Translation into Spanish by bob:" in public_page  # of the open proposal
    assert 'lang="es"><span class="meta">' in public_page and "Pintar la puerta" in public_page
    _status, _kind, quiet = get(store, "/charter/group-console-quiet.html")
    assert "Quiet rules" in quiet  # adopted: the charter is public
    assert "Open proposals" not in quiet and SECRET not in quiet
    for path in ("/", "/people.html", "/clause/3.html"):
        assert SECRET not in get(store, path)[2]


def test_a_clause_page_shows_each_version_with_its_diff_and_makers(store: Console) -> None:
    status, _kind, page = get(store, "/clause/2.html")
    assert status == 200
    assert "Version 2, adopted" in page and "Version 1, adopted" in page
    assert '<p class="diff">Bikes<ins> and carts</ins> stay in the yard</p>' in page
    assert "version 1 by alice, as proposed" in page
    _status, _kind, first = get(store, "/clause/1.html")
    assert "version 2 by frank, amendment A1" in first  # the amendment, credited
    assert "bob: mind the tides" in first  # a concern recorded with it (named votes)
    assert "consent 3 · concern 1 · objection 0 · abstention 0" in first


def test_the_feed_is_atom_with_an_entry_per_record(store: Console) -> None:
    status, kind, text = get(store, "/charter/group-console-main.atom")
    assert (status, kind) == (200, "application/atom+xml")
    feed = ET.fromstring(text)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in feed.findall("a:entry", ns)]
    assert titles == ["C2 changed (version 2)", "C2 adopted (version 1)"]  # newest first
    assert feed.find("a:author/a:name", ns) is not None
    assert atom_rules.problems(text) == []
    for path in ("/charter/alliance-1.atom", "/charter/group-console-quiet.atom?lang=ar"):
        assert atom_rules.problems(get(store, path)[2]) == []
    broken = text.replace("<updated>", "<updated>yesterday ", 1)
    (problem,) = atom_rules.problems(broken)
    assert problem.startswith("feed: atom:updated 'yesterday") and "RFC 3339" in problem


def test_unknown_pages_are_not_found(store: Console) -> None:
    for path in ("/charter/nope.html", "/clause/99.html", "/clause/x.html", "/charter/nope.atom"):
        assert get(store, path)[0] == 404


def test_the_language_comes_from_the_query_or_the_browser(store: Console) -> None:
    _status, _kind, arabic = get(store, "/?lang=ar")
    assert '<html lang="ar" dir="rtl">' in arabic
    assert 'href="charter/alliance-1.html?lang=ar"' in arabic  # links keep the choice
    _status, _kind, browser = get(store, "/", **{"Accept-Language": "xx, es-MX;q=0.9, en;q=0.5"})
    assert '<html lang="es" dir="ltr">' in browser
    assert negotiate(None, "pt-BR,pt;q=0.9", "en") == "pt_BR"
    assert negotiate("JA", None, "en") == "ja"
    assert negotiate("xx", None, "en") == "en"


def test_the_static_export_is_the_same_site(store: Console, tmp_path: Path) -> None:
    site = Site(store.db, "en", "UTC")
    written = write_site(site, tmp_path, "en")
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"index.html", "people.html", "charter/alliance-1.html", "clause/1.html"} <= names
    assert "charter/group-console-main.atom" in names
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert SECRET not in text
        for href in re.findall(r'href="([^"#?]+)', text):
            assert (path.parent / href).resolve().exists(), (path, href)
    served = get(store, "/clause/1.html")[2]
    assert (tmp_path / "clause/1.html").read_text(encoding="utf-8") == served


def test_the_markdown_and_json_exports_say_what_the_pages_say(store: Console) -> None:
    """Each fact a charter page or a clause page shows is in the exports too."""
    with store.db.unit_of_work(write=False) as uow:
        exported = json.loads(json.dumps(public.export_json(uow.session)))  # as printed
    markdown = export.markdown(get_translator("en"), exported)
    by_id = {ch["id"]: ch for ch in exported["charters"]}
    main = by_id["group:console:main"]
    assert main["public"] is True and not by_id["group:console:quiet"]["public"]
    (door,) = main["open_proposals"]
    assert (door["number"], door["text"], door["phase"]) == (4, "Paint the door green", "amendment")
    assert door["translations"][0]["text"] == "Pintar la puerta de verde"
    assert by_id["group:console:quiet"]["open_proposals"] == []
    assert SECRET not in json.dumps(exported) and SECRET not in markdown
    (harbour,) = by_id["alliance:1"]["clauses"]
    made = harbour["versions"][0]
    assert made["steps"] == [
        {"version": 1, "author": "bob", "amendment": None},
        {"version": 2, "author": "frank", "amendment": 1},
    ]
    head = exported["chain_head"]  # the record's head, as every page's footer shows it
    assert f"`{head}`" in markdown and f"latest {head[:16]}" in get(store, "/")[2]
    for fact in (
        "## Open proposals",
        "### P4 · amendment phase",
        "> Paint the door green",
        "Translation into Spanish by bob:",
        "    - version 2 by frank, amendment A1",
        "    - bob: mind the tides",
    ):
        assert fact in markdown
    assert markdown.count("## Open proposals") == 1  # only the public charter's
    for path, facts in {
        "/charter/group-console-main.html": ("Paint the door green", "Pintar la puerta"),
        "/clause/1.html": ("version 2 by frank, amendment A1", "bob: mind the tides"),
    }.items():
        page = get(store, path)[2]
        for fact in facts:
            assert fact in page and fact in markdown


def test_a_word_diff() -> None:
    assert diff("a b c", "a x c") == [("same", "a "), ("del", "b"), ("ins", "x"), ("same", " c")]


def test_charter_in_a_chat_links_to_the_page() -> None:
    console = Console()
    console.app.add_web()  # as `charterbot run` does with [web] enabled
    console.say(":members main alice bob")
    assert console.say("bob: /charter")[-1] == "bot: On the web: http://127.0.0.1:8080/people.html"
    console.say("alice: /propose Bikes stay in the yard\nalice: /next P1")
    console.say("alice: /consent P1\nbob: /consent P1\nalice: /next P1")
    charter = console.say("bob: /charter")
    assert charter[-1] == "bot: On the web: http://127.0.0.1:8080/charter/group-console-main.html"
    everyone = console.say("bob: /charter all")
    assert everyone[-1] == "bot: On the web: http://127.0.0.1:8080/people.html"
