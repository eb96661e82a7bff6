"""Live cards: what a proposal's card shows and that it always fits one Telegram message."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import cards, render
from bot.i18n import get_translator
from bot.textsplit import split_message
from deliberation import commands as c
from deliberation.model import Group
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.fakes.bot_api import parse_html, utf16_len

GROUP = "telegram:-100"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def html_reader(code: str, timezone: str) -> render.Reader:
    return render.Reader(get_translator(code), timezone, NOW, "/", render.HtmlMarkup())


def actor(n: int, admin: bool = False) -> c.Actor:
    return c.Actor(GROUP, f"telegram:{n}", f"Person <{n}> & co", platform_admin=admin)


def test_a_huge_card_is_shortened_to_one_message_with_a_pointer_to_status() -> None:
    db = Database("sqlite+pysqlite:///:memory:")
    upgrade(db.engine)
    engine = Deliberation(db, ManualClock(NOW), Defaults(amendment_hours=0))
    engine.handle(actor(1, admin=True), c.Propose("€" * 2999 + "😀"))
    with db.unit_of_work() as uow:
        group = uow.session.get(Group, GROUP)
        assert group is not None
        group.languages = "en es"
        uow.commit()
    for n in range(2, 60):
        engine.handle(actor(n), c.StatePosition(1, c.Stance.OBJECT, "<b>why</b> " * 90))
    with db.unit_of_work(write=False) as uow:
        card = cards.word(uow.session, GROUP, "P1", html_reader)
    assert card is not None
    assert len(split_message(card.text, 4096, html=True)) == 1
    plain, entities = parse_html(card.text)
    assert utf16_len(plain) <= 4096
    assert "/status P1" in plain
    assert "<b>why</b>" in plain  # user text shown as typed, never as markup
    assert [b.data for row in card.buttons for b in row] == ["v1:c", "v1:k", "v1:o", "v1:a"]
