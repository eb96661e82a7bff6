"""The charter page in a real headless Chromium (Debian's ``chromium``, driven by
Playwright with the system browser: no browser download): a reader opens a charter,
follows a clause to its history, switches the language, at desktop and phone widths, with
screenshots; and axe-core (the accessibility engine, bundled by axe-playwright-python)
finds nothing wrong on the pages."""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.web import Site, make_app
from tests.console.conftest import Console
from tests.web.test_pages import store  # noqa: F401 - the shared store fixture

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here: install Debian's chromium (.ci/run does)"
)
playwright = pytest.importorskip("playwright.sync_api")
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(store: Console) -> Iterator[str]:  # noqa: F811 - the fixture imported above
    """The site on 127.0.0.1, in a thread of its own, as `charterbot run` serves it."""
    loop = asyncio.new_event_loop()
    port = free_port()
    runner = web.AppRunner(make_app(Site(store.db, "en", "UTC")))

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_a_reader_follows_a_clause_and_switches_language(
    served: str, browser: object, width: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport=WIDTHS[width])  # type: ignore[attr-defined]
    page.goto(f"{served}/charter/alliance-1.html")
    assert page.locator("h1").inner_text() == "Charter: Coastal Fishers"
    assert (
        page.locator("blockquote").first.inner_text() == "We share the harbour on <b>weekdays</b>"
    )
    page.screenshot(path=str(tmp_path / f"charter-{width}.png"), full_page=True)

    page.get_by_role("link", name="C1 · version 1").first.click()
    page.wait_for_url("**/clause/1.html")
    assert page.get_by_role("heading", name="Versions").is_visible()
    assert page.get_by_text("version 2 by frank, amendment A1").is_visible()

    page.get_by_label("Language").select_option("es")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/clause/1.html?lang=es")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", name="Versiones").is_visible()
    page.screenshot(path=str(tmp_path / f"clause-es-{width}.png"), full_page=True)
    # The phone width needs no sideways scrolling.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert (tmp_path / f"charter-{width}.png").stat().st_size > 1000
    page.close()


@pytest.mark.parametrize(
    "path", ["/", "/people.html", "/charter/alliance-1.html", "/clause/1.html", "/?lang=ar"]
)
def test_axe_finds_no_accessibility_violation(served: str, browser: object, path: str) -> None:
    page = browser.new_page(viewport=WIDTHS["desktop"])  # type: ignore[attr-defined]
    page.goto(served + path)
    results = axe_module.Axe().run(page)
    violations = results.response["violations"]
    assert violations == [], [(v["id"], v["impact"], v["help"]) for v in violations]
    page.close()


def test_a_charter_prints_without_the_controls(
    served: str, browser: object, tmp_path: Path
) -> None:
    """Printed (print media, as Chromium's "Save as PDF" does): the clauses and the record
    are there, the navigation and the language form are not."""
    page = browser.new_page(viewport=WIDTHS["desktop"])  # type: ignore[attr-defined]
    page.goto(f"{served}/charter/group-console-main.html")
    page.emulate_media(media="print")
    assert not page.get_by_label("Language").is_visible()
    assert not page.get_by_role("navigation").is_visible()
    assert page.get_by_role("heading", name="Open proposals").is_visible()
    assert page.get_by_text("Bikes and carts stay in the yard").first.is_visible()
    assert page.get_by_text("The record verifies: no entry was altered.").is_visible()
    pdf = tmp_path / "charter.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    page.close()
