"""Who may do what, and what hostile or odd input does, in Telegram groups and private chats.

charterbot's App runs with the Telegram adapter against the fake Bot API (``harness.py``).
The tests play the users through the fake and check what they see (messages, edits, the
notes answering button presses) and, for every refusal, that the store did not change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.telegram import MEDIATOR_MENU, MENU, PRIVATE_MENU, telegram_language
from bot import grammar, render
from bot.i18n import available_locales, get_translator
from deliberation.errors import DomainError
from deliberation.model import (
    AmendmentVote,
    Base,
    Card,
    Group,
    Mediator,
    Member,
    OutboxItem,
    Person,
    Position,
    Proposal,
)
from deliberation.services import MAX_TEXT
from tests.fakes.bot_api import MAX_TEXT_UTF16, FakeBotApi, Json, parse_html, utf16_len
from tests.telegram.harness import (
    FAST_FAKE,
    START,
    RunningBot,
    answers_to,
    buttons_of,
    find,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000001
OTHER = -1001000000002
ALICE = FakeBotApi.make_user(11, "Alice", language_code="en")  # creates GROUP
BOB = FakeBotApi.make_user(12, "Bob", language_code="es")
CAROL = FakeBotApi.make_user(13, "Carol", language_code="en")
DANA = FakeBotApi.make_user(14, "Dana", language_code="en")  # an administrator of GROUP
DAVE = FakeBotApi.make_user(15, "Dave", language_code="en")
MALLORY = FakeBotApi.make_user(66, "Mallory", language_code="en")  # creates OTHER only

PAYLOAD = '<b>bold</b> <a href="http://evil">x</a> & <script>'
EVE = FakeBotApi.make_user(17, PAYLOAD, language_code="en")

# Tables that record traffic rather than deliberation: a refusal adds its inbox row and its
# answer (and the lease of the chat it is sent in), and moves the update offset.
TRAFFIC = {"inbox", "outbox", "outbox_leases", "cursors", "cards"}


# -- set-up --------------------------------------------------------------------------------


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory(**FAST_FAKE)
    fake.add_chat(
        GROUP,
        "Kitchen collective",
        creator=ALICE,
        admins=[DANA],
        members=[BOB, CAROL, DAVE, EVE],
    )
    fake.add_chat(OTHER, "Garden club", creator=MALLORY, members=[BOB])
    return fake


@contextmanager
def running(api: FakeBotApi, tmp_path: Path, **options: Any) -> Iterator[RunningBot]:
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}", **options) as bot:
        yield bot
        bot.wait_for(lambda: idle(bot), "the outbox to drain")
        assert_all_delivered(bot)


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[RunningBot]:
    with running(api, tmp_path) as started:
        yield started


def idle(bot: RunningBot) -> bool:
    """Every message sent and every card showing its latest version."""
    with bot.db.unit_of_work(write=False) as uow:
        pending = uow.session.scalars(
            select(OutboxItem.id).where(OutboxItem.state == "pending")
        ).first()
        behind = uow.session.scalars(
            select(Card.subject).where(
                Card.version > Card.shown_version, Card.message_ref.is_not(None)
            )
        ).first()
        return pending is None and behind is None


def assert_all_delivered(bot: RunningBot) -> None:
    """Every message and edit the bot tried was valid Telegram HTML within the length limit,
    nothing was given up, and every button press got its answer."""
    for method, params, _status in bot.api.requests:
        if method in ("sendMessage", "editMessageText"):
            assert params.get("parse_mode") == "HTML"
            plain, _entities = parse_html(params["text"])  # raises on HTML Telegram refuses
            assert utf16_len(plain) <= MAX_TEXT_UTF16
    failed = [(m, s) for m, _p, s in bot.api.requests if m == "sendMessage" and s != 200]
    assert failed == []
    with bot.db.unit_of_work(write=False) as uow:
        assert (
            uow.session.scalars(select(OutboxItem).where(OutboxItem.state == "failed")).all() == []
        )
    assert bot.api._open_queries == {}  # noqa: SLF001 - every press answered


def snapshot(bot: RunningBot) -> dict[str, list[str]]:
    """Every row of every deliberation table (not the traffic tables)."""
    with bot.db.unit_of_work(write=False) as uow:
        return {
            table.name: sorted(repr(tuple(row)) for row in uow.session.execute(select(table)))
            for table in Base.metadata.sorted_tables
            if table.name not in TRAFFIC
        }


def rows(bot: RunningBot, model: type[Any], *where: Any) -> list[Any]:
    with bot.db.unit_of_work(write=False) as uow:
        found = uow.session.scalars(select(model).where(*where)).all()
        uow.session.expunge_all()
        return list(found)


def phase(bot: RunningBot, number: int) -> str:
    (proposal,) = rows(bot, Proposal, Proposal.id == number)
    return proposal.phase


def say(bot: RunningBot, chat: int, user: Json, text: str, reply_to: int | None = None) -> Json:
    """``user`` writes ``text``; the bot's first new message in the chat once it came."""
    before = len(bot.api.sent_to(chat))
    bot.api.user_message(chat, user, text, reply_to=reply_to)
    bot.wait_for(lambda: len(bot.api.sent_to(chat)) > before, f"an answer to {text[:40]!r}")
    return bot.api.sent_to(chat)[before]


def said(bot: RunningBot, chat: int, user: Json, text: str, needle: str) -> Json:
    """``user`` writes ``text``; the bot's message containing ``needle``, once it came."""
    before = len(bot.api.sent_to(chat))
    bot.api.user_message(chat, user, text)

    def found() -> Json | None:
        for record in bot.api.sent_to(chat)[before:]:
            if needle in record["plain_text"]:
                return record
        return None

    return bot.wait_for(found, f"{needle!r} after {text[:40]!r}")


def press(bot: RunningBot, chat: int, user: Json, message_id: int, data: str) -> str | None:
    """``user`` presses a button with ``data``; the note the bot answered with."""
    before = len(answers_to(bot.api, user))
    bot.api.press_button(chat, user, message_id, data)
    bot.wait_for(lambda: len(answers_to(bot.api, user)) > before, f"the answer to {data!r}")
    return answers_to(bot.api, user)[before]


def card(bot: RunningBot, chat: int, needle: str) -> int:
    record = bot.wait_for(lambda: find(bot.api, chat, needle), f"a card with {needle!r}")
    return int(record["message_id"])


def keys(bot: RunningBot, chat: int, message_id: int) -> list[str]:
    markup = bot.api.message(chat, message_id).get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def note(code: str, err: DomainError) -> str:
    """A refusal as the note to a button press reads in ``code``."""
    reader = render.Reader(tr=get_translator(code), timezone="UTC", now=START)
    return " ".join(render.error(reader, err).split())


def consent_round(bot: RunningBot, text: str) -> int:
    """A proposal of GROUP by Alice, moved to its consent round; its card's message id."""
    say(bot, GROUP, ALICE, f"/propose {text}")
    card_id = card(bot, GROUP, text)
    number = int(find(bot.api, GROUP, text)["plain_text"].split(" ", 1)[0].removeprefix("P"))
    said(bot, GROUP, ALICE, f"/next P{number}", f"Consent round 1 on P{number}")
    bot.wait_for(lambda: keys(bot, GROUP, card_id), "the consent buttons")
    return card_id


# -- 1. mediator rights --------------------------------------------------------------------


def test_only_mediators_steer_and_an_admin_appoints_one(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    card(bot, GROUP, "Quiet after ten.")

    before = snapshot(bot)
    for text, command in (
        ("/next P1", "next"),
        ("/close P1", "close"),
        ("/settings consent_hours 1", "settings"),
        ("/mediator add 15", "mediator"),
    ):
        refusal = say(bot, GROUP, CAROL, text)
        assert refusal["plain_text"] == f"Only a mediator of this group can use /{command}."
    assert snapshot(bot) == before
    assert phase(bot, 1) == "amendment"

    # The administrator changes a setting, the creator closes the amendment phase.
    assert (
        "consent_hours is now 24"
        in said(bot, GROUP, DANA, "/settings consent_hours 24", "consent_hours")["plain_text"]
    )
    said(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    assert phase(bot, 1) == "consent"
    (group,) = rows(bot, Group, Group.id == f"telegram:{GROUP}")
    assert group.consent_hours == 24

    # Carol is appointed by her numeric id, announced by her name, and may steer from then on.
    say(bot, GROUP, CAROL, "/status")
    appointed = said(bot, GROUP, DANA, "/mediator add 13", "mediator")
    assert appointed["plain_text"] == "Carol is now a mediator (appointed by Dana)."
    assert [m.person_id for m in rows(bot, Mediator)] == ["telegram:13"]
    said(bot, GROUP, CAROL, "/next P1", "P1 is not adopted")
    assert phase(bot, 1) == "not_adopted"

    # The administrator ends another proposal without adoption.
    say(bot, GROUP, BOB, "/propose Bikes in the yard.")
    card(bot, GROUP, "Bikes in the yard.")
    said(bot, GROUP, DANA, "/close P2", "P2 was closed by Dana")
    assert phase(bot, 2) == "closed"
    assert api.flood_violations == []


def test_a_refusal_is_in_the_senders_language(bot: RunningBot) -> None:
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    card(bot, GROUP, "Quiet after ten.")
    refusal = say(bot, GROUP, BOB, "/next P1")
    assert refusal["plain_text"] == "Solo una persona mediadora de este grupo puede usar /next."
    assert phase(bot, 1) == "amendment"


def test_an_admin_promoted_later_is_a_mediator_once_the_cache_expires(
    api: FakeBotApi, tmp_path: Path
) -> None:
    with running(api, tmp_path, cache_seconds=0.5) as bot:
        say(bot, GROUP, ALICE, "/propose Quiet after ten.")
        card(bot, GROUP, "Quiet after ten.")
        before = snapshot(bot)
        assert "mediator" in say(bot, GROUP, DAVE, "/next P1")["plain_text"]
        assert snapshot(bot) == before

        # Dave is made an administrator; Telegram tells the bot nothing (no chat_member).
        api.add_chat(
            GROUP,
            "Kitchen collective",
            creator=ALICE,
            admins=[DANA, DAVE],
            members=[BOB, CAROL, EVE],
        )
        time.sleep(0.6)
        said(bot, GROUP, DAVE, "/next P1", "Consent round 1 on P1")
        assert phase(bot, 1) == "consent"


def test_a_chat_member_update_makes_a_promotion_count_at_once(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    card(bot, GROUP, "Quiet after ten.")
    # The bot asks for chat_member updates (Telegram sends none unless asked).
    polls = [params for method, params, _ in api.requests if method == "getUpdates"]
    assert polls and all("chat_member" in p["allowed_updates"] for p in polls)
    assert all("my_chat_member" in p["allowed_updates"] for p in polls)
    assert "mediator" in say(bot, GROUP, DAVE, "/next P1")["plain_text"]  # admins now cached

    api.chat_member_update(GROUP, DAVE, "member", "administrator", by=ALICE)
    said(bot, GROUP, DAVE, "/next P1", "Consent round 1 on P1")
    assert phase(bot, 1) == "consent"

    # And a demotion takes the right away at once, too.
    api.chat_member_update(GROUP, DANA, "administrator", "member", by=ALICE)
    before = snapshot(bot)
    refusal = say(bot, GROUP, DANA, "/close P1")
    assert refusal["plain_text"] == "Only a mediator of this group can use /close."
    assert snapshot(bot) == before


# -- 2. forged and stale buttons -----------------------------------------------------------


def test_forged_and_stale_presses_get_a_note_and_change_nothing(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, "/settings quorum 0.1")
    say(bot, GROUP, ALICE, "/settings quorum_min 1")
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    card_id = card(bot, GROUP, "Quiet after ten.")
    say(bot, GROUP, CAROL, '/amend P1 replace "ten" with "nine"')
    amendment_id = card(bot, GROUP, "A1 to P1")
    say(bot, OTHER, MALLORY, "/propose Water the beds.")
    other_card = card(bot, OTHER, "Water the beds.")
    said(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    bot.wait_for(lambda: keys(bot, GROUP, card_id), "the consent buttons")

    bad = note("es", DomainError("bad_button"))
    assert bad == "Este botón no es válido (o ya no lo es). Mira /status."
    forged = {
        "v1:x": bad,
        "drop table": bad,
        "x" * 64: bad,
        "é" * 40: bad,  # 80 bytes
        "v1:c" + " " * 60: bad,
        "v01:c": bad,
        "v1:c\n": bad,
        "r": bad,  # the private chat's button, pressed in a group
        "l:es": bad,
        "": bad,
        "v99999:c": note("es", DomainError("no_such_proposal", number=99999)),
        "v99999:o": note("es", DomainError("no_such_proposal", number=99999)),
        "a99999:+": note("es", DomainError("no_such_amendment", number=99999)),
        "a1:+": note(
            "es",
            DomainError("wrong_phase", number=1, phase="consent", expected=("amendment",)),
        ),
    }
    before = snapshot(bot)
    sent_before = len(api.sent)
    for data, expected in forged.items():
        assert press(bot, GROUP, BOB, card_id, data) == expected, data
        assert press(bot, GROUP, BOB, amendment_id, data) == expected, data
    # P1 belongs to GROUP: pressed on a card of OTHER it is not found there.
    assert press(bot, OTHER, BOB, other_card, "v1:c") == "P1 pertenece a otro grupo."
    assert press(bot, OTHER, BOB, other_card, "v1:o") == "P1 pertenece a otro grupo."
    assert snapshot(bot) == before
    assert len(api.sent) == sent_before  # a note, never a message

    # After the adoption the card's buttons are stale.
    assert "P1" in (press(bot, GROUP, CAROL, card_id, "v1:c") or "")
    said(bot, GROUP, ALICE, "/next P1", "P1 adopted")
    assert phase(bot, 1) == "adopted"
    before = snapshot(bot)
    for data in ("v1:c", "v1:o", "v1:a"):
        refusal = press(bot, GROUP, BOB, card_id, data)
        assert refusal == note(
            "es", DomainError("wrong_phase", number=1, phase="adopted", expected=("consent",))
        )
    assert snapshot(bot) == before
    presses = [a for a in api.callback_answers if a["user_id"] == BOB["id"]]
    assert len(presses) == 2 * len(forged) + 2 + 3
    assert all(a["text"] for a in presses)


def test_a_press_by_someone_outside_the_group_is_refused(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    say(bot, GROUP, CAROL, '/amend P1 replace "ten" with "nine"')
    amendment_id = card(bot, GROUP, "A1 to P1")
    before = snapshot(bot)
    outsider = note("en", DomainError("not_member"))
    assert press(bot, GROUP, MALLORY, amendment_id, "a1:+") == outsider
    assert snapshot(bot) == before

    card_id = card(bot, GROUP, "Quiet after ten.")
    said(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    before = snapshot(bot)
    sent_before = len(api.sent)
    for data in ("v1:c", "v1:k", "v1:a", "v1:o"):
        assert press(bot, GROUP, MALLORY, card_id, data) == outsider
    assert snapshot(bot) == before
    assert len(api.sent) == sent_before  # no objection prompt either
    assert rows(bot, Person, Person.id == "telegram:66") == []
    assert rows(bot, Position) == []
    assert rows(bot, AmendmentVote) == []
    assert "Mallory" not in api.message(GROUP, card_id)["text"]


# -- 3. HTML in user text ------------------------------------------------------------------


def entity_texts(message: Json) -> list[tuple[str, str]]:
    units = message["text"].encode("utf-16-le")
    return [
        (e["type"], units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"))
        for e in message.get("entities", [])
    ]


def test_html_in_texts_reasons_and_names_is_shown_literally(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, f"/propose {PAYLOAD}")
    card_id = card(bot, GROUP, PAYLOAD)
    say(bot, GROUP, EVE, f"/amend P1 {PAYLOAD} and more")
    amendment_id = card(bot, GROUP, "A1 to P1")
    assert press(bot, GROUP, BOB, amendment_id, "a1:+")
    said(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    bot.wait_for(lambda: keys(bot, GROUP, card_id), "the consent buttons")

    # Eve (whose name is the payload) objects with the button and replies with the reason.
    assert press(bot, GROUP, EVE, card_id, "v1:o")
    prompt = bot.wait_for(lambda: find(api, GROUP, "reason for your objection"), "the prompt")
    assert prompt["plain_text"].startswith(f"{PAYLOAD}, reply to this message")
    say_reason = f"{PAYLOAD} is why"
    bot.recorded(prompt["message_id"])
    api.user_message(GROUP, EVE, say_reason, reply_to=prompt["message_id"])
    bot.wait_for(
        lambda: say_reason in api.message(GROUP, card_id)["text"], "the reason on the card"
    )
    say(bot, GROUP, CAROL, f"/concern P1 {PAYLOAD}")  # a typed position is answered in the group
    status = said(bot, GROUP, CAROL, "/status P1", "text version 2")
    bot.wait_for(lambda: idle(bot), "the outbox to drain")

    shown = api.message(GROUP, card_id)["text"]
    assert f"{PAYLOAD} and more" in shown  # the amended text
    assert f"✋ {PAYLOAD}: {say_reason}" in shown
    assert f"⚠️ Carol: {PAYLOAD}" in shown
    assert f"A1 to P1 by {PAYLOAD}" in api.message(GROUP, amendment_id)["text"]
    assert f"{PAYLOAD} and more" in status["plain_text"]
    assert f"A1 by {PAYLOAD}" in status["plain_text"]
    stated = find(api, GROUP, "on P1: ✋ objection")
    assert stated is not None
    assert stated["plain_text"].startswith(f"{PAYLOAD} on P1: ✋ objection. Reason: {say_reason}")

    for record in api.sent:
        message = api.message(record["chat_id"], record["message_id"])
        for kind, covered in entity_texts(message):
            assert kind != "text_link", message["text"]
            assert covered not in ("bold", "x", "bold x"), (kind, message["text"])
        assert "http://evil" not in str(message.get("entities", []))


def test_a_name_with_html_is_literal_in_notes_and_announcements(bot: RunningBot) -> None:
    api = bot.api
    say(bot, GROUP, ALICE, "/settings amendment_hours 0")
    say(bot, GROUP, ALICE, "/propose Quiet after ten.")
    card_id = card(bot, GROUP, "Quiet after ten.")
    bot.wait_for(lambda: keys(bot, GROUP, card_id), "the consent buttons")
    assert press(bot, GROUP, EVE, card_id, "v1:k") == (
        f"{PAYLOAD} on P1: ⚠️ concern. Tally so far: ✅ 0 · ⚠️ 1 · ✋ 0 · ➖ 0"
    )
    announcement = said(bot, GROUP, ALICE, f"/mediator add {EVE['id']}", "is now a mediator")
    assert announcement["plain_text"] == f"{PAYLOAD} is now a mediator (appointed by Alice)."
    bot.wait_for(lambda: f"⚠️ {PAYLOAD}" in api.message(GROUP, card_id)["text"], "Eve on the card")
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    for record in api.sent:
        message = api.message(record["chat_id"], record["message_id"])
        assert [kind for kind, covered in entity_texts(message) if PAYLOAD in covered] == []


def test_refusals_quoting_the_input_show_it_literally(bot: RunningBot) -> None:
    before = snapshot(bot)
    for text, expected in (
        ("/settings <b>bold</b> 1", "There is no setting “<b>bold</b>”. Settings: rule,"),
        ("/lang <b>bold</b>", "I do not speak “<b>bold</b>”. Languages: ar, de, en, es"),
        ("/frob<b>x</b>", "I do not know the command /frob<b>x</b>. /help lists"),
        ("/clause C<b>1</b>", "“C<b>1</b>” is not a valid id: expected C followed by"),
        ("/consent P1 & <b>more</b>", "Usage: /consent P<n>"),
    ):
        answer = say(bot, GROUP, ALICE, text)
        assert answer["plain_text"].startswith(expected), answer["plain_text"]
        assert [k for k, _ in entity_texts(bot.api.message(GROUP, answer["message_id"]))] == []
    assert snapshot(bot) == before


# -- 4. long texts -------------------------------------------------------------------------


def long_text(length: int = MAX_TEXT) -> str:
    """``length`` characters, far more UTF-16 units (astral emoji) and escaped ones."""
    pieces, i = [], 0
    while sum(map(len, pieces)) < length:
        pieces.append(f"{i:04d}" + "🌍" * 6 + " <&> ")
        i += 1
    text = "".join(pieces)[:length]
    return text[:-1] + "z" if text[-1].isspace() else text


def squeezed(text: str) -> str:
    return "".join(text.split())


def test_a_proposal_of_the_maximum_length_is_posted_whole_in_parts(bot: RunningBot) -> None:
    api = bot.api
    text = long_text()
    assert len(text) == MAX_TEXT and utf16_len(text) > MAX_TEXT_UTF16
    too_long = say(bot, GROUP, ALICE, "/propose " + long_text(MAX_TEXT + 1))
    assert too_long["plain_text"] == "That text has 3,001 characters; at most 3,000 are allowed."
    assert rows(bot, Proposal) == []

    say(bot, GROUP, ALICE, "/propose " + text)
    card_id = card(bot, GROUP, "P1 ·")
    shown = api.message(GROUP, card_id)["text"]
    assert "Shortened to fit one message; everything: /status P1" in shown
    (stored,) = rows(bot, Proposal)
    assert stored.text == text

    before = len(api.sent_to(GROUP))
    api.user_message(GROUP, CAROL, "/status P1")
    bot.wait_for(lambda: idle(bot) and len(api.sent_to(GROUP)) > before + 1, "the parts")
    parts = [m["plain_text"] for m in api.sent_to(GROUP)[before:]]
    assert len(parts) >= 2
    assert all(utf16_len(p) <= MAX_TEXT_UTF16 for p in parts)
    assert squeezed(text) in squeezed("".join(parts))
    assert parts[0].startswith("P1 · new clause · amendment phase")


def test_a_long_proposal_in_a_group_with_two_languages(bot: RunningBot) -> None:
    """A mediator sets the group's languages with /grouplang; cards carry both."""
    api = bot.api
    say(bot, GROUP, ALICE, "/settings quorum_min 1")
    say(bot, GROUP, ALICE, "/grouplang en es")
    with bot.db.unit_of_work(write=False) as uow:
        group = uow.session.get(Group, f"telegram:{GROUP}")
        assert group is not None and group.languages == "en es"
    text = long_text()
    say(bot, GROUP, ALICE, "/propose " + text)
    card_id = card(bot, GROUP, "P1 ·")
    shown = api.message(GROUP, card_id)["text"]
    assert shown.startswith("P1 · new clause · amendment phase · round 1")
    assert "P1 · cláusula nueva · fase de enmiendas · ronda 1" in shown
    assert "Shortened to fit one message; everything: /status P1" in shown
    assert "Abreviado para caber en un mensaje; todo: /status P1" in shown

    before = len(api.sent_to(GROUP))
    api.user_message(GROUP, ALICE, "/next P1")
    bot.wait_for(lambda: idle(bot) and len(api.sent_to(GROUP)) > before + 1, "the parts")
    parts = [m["plain_text"] for m in api.sent_to(GROUP)[before:]]
    assert len(parts) >= 3  # the text twice, once per language
    assert all(utf16_len(p) <= MAX_TEXT_UTF16 for p in parts)
    assert squeezed("".join(parts)).count(squeezed(text)) == 2

    before = len(api.sent_to(GROUP))
    api.user_message(GROUP, BOB, "/status P1")  # Bob reads Spanish
    bot.wait_for(lambda: idle(bot) and len(api.sent_to(GROUP)) > before + 1, "the parts")
    parts = [m["plain_text"] for m in api.sent_to(GROUP)[before:]]
    assert squeezed(text) in squeezed("".join(parts))
    bot.wait_for(lambda: keys(bot, GROUP, card_id), "the consent buttons")
    assert utf16_len(api.message(GROUP, card_id)["text"]) <= MAX_TEXT_UTF16


# -- 5. private chats ----------------------------------------------------------------------


def test_a_private_chat_shows_only_the_persons_own_groups(bot: RunningBot) -> None:
    api = bot.api
    private = CAROL["id"]
    consent_round(bot, "Quiet after ten.")  # P1 in GROUP
    say(bot, OTHER, MALLORY, "/settings amendment_hours 0")
    say(bot, OTHER, MALLORY, "/propose The garden secret.")  # P2 in OTHER
    card(bot, OTHER, "The garden secret.")
    say(bot, GROUP, CAROL, "/status")  # Carol has spoken in GROUP: a member there
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    in_groups = {chat: len(api.sent_to(chat)) for chat in (GROUP, OTHER)}

    welcome = say(bot, private, CAROL, "/start")
    labels = buttons_of(welcome)
    assert ("English", "l:en") in labels and ("Español", "l:es") in labels
    assert ("🗳 My open rounds", "r") in labels
    assert [data for _, data in labels] == [*(f"l:{c}" for c in available_locales()), "r"]

    assert press(bot, private, CAROL, welcome["message_id"], "l:es") == "Te escribiré en español."
    (carol,) = rows(bot, Person, Person.id == "telegram:13")
    assert carol.locale == "es"

    before = len(api.sent_to(private))
    assert press(bot, private, CAROL, welcome["message_id"], "r") is None  # answered by message
    bot.wait_for(lambda: len(api.sent_to(private)) > before, "the open rounds")
    rounds = api.sent_to(private)[before]["plain_text"]
    assert rounds.startswith("Tus rondas abiertas:")
    assert "P1" in rounds and "Quiet after ten." in rounds
    assert "P2" not in rounds and "garden" not in rounds

    assert say(bot, private, CAROL, "/status P1")["plain_text"].startswith("P1 ·")
    hidden = say(bot, private, CAROL, "/status P2")["plain_text"]
    missing = say(bot, private, CAROL, "/status P99")["plain_text"]
    assert hidden == "No existe la propuesta P2."
    assert missing == "No existe la propuesta P99."

    before = snapshot(bot)
    group_only = note("es", DomainError("group_only"))
    assert group_only.startswith("Esto funciona en un grupo")
    assert say(bot, private, CAROL, "/propose Secret plan for the kitchen")["plain_text"] == (
        group_only
    )
    for text in ("/next P1", "/consent P1", "/settings quorum 1", "/mediator add 12"):
        assert say(bot, private, CAROL, text)["plain_text"] == group_only, text
    for data in ("v1:c", "v1:o", "a1:+"):  # a card's buttons, forged in the private chat
        assert press(bot, private, CAROL, welcome["message_id"], data) == group_only, data
    api.user_message(private, CAROL, "Just chatting: my secret plan")
    say(bot, private, CAROL, "/help")
    assert snapshot(bot) == before
    assert rows(bot, Proposal, Proposal.text.contains("Secret plan")) == []

    assert {chat: len(api.sent_to(chat)) for chat in (GROUP, OTHER)} == in_groups
    everything = " ".join(m["plain_text"] for chat in (GROUP, OTHER) for m in api.sent_to(chat))
    assert "secret plan" not in everything.lower()

    # Later notes in the group are in Spanish too.
    card_id = card(bot, GROUP, "Quiet after ten.")
    assert press(bot, GROUP, CAROL, card_id, "v1:c") == (
        "Carol sobre P1: ✅ consentimiento. Recuento hasta ahora: ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0"
    )
    before = len(api.sent_to(private))
    press(bot, private, CAROL, welcome["message_id"], "r")
    bot.wait_for(lambda: len(api.sent_to(private)) > before, "the open rounds again")
    assert "✔ P1" in api.sent_to(private)[before]["plain_text"]


def test_a_stranger_in_a_private_chat_sees_no_rounds(bot: RunningBot) -> None:
    consent_round(bot, "Quiet after ten.")
    stranger = FakeBotApi.make_user(77, "Stranger", language_code="en")
    welcome = say(bot, 77, stranger, "/start")
    bot.api.press_button(77, stranger, welcome["message_id"], "r")
    rounds = bot.wait_for(lambda: find(bot.api, 77, "open"), "the open rounds")
    assert rounds["plain_text"] == "No consent round of your groups is open."
    assert say(bot, 77, stranger, "/status P1")["plain_text"] == "There is no proposal P1."
    assert rows(bot, Member, Member.person_id == "telegram:77") == []


# -- 6. addressed commands and the menu ----------------------------------------------------


def test_commands_for_another_bot_are_ignored(bot: RunningBot) -> None:
    api = bot.api
    before = len(api.sent_to(GROUP))
    api.user_message(GROUP, CAROL, "/status@other_bot")
    api.user_message(GROUP, CAROL, "/propose@other_bot Not for us.")
    api.user_message(GROUP, CAROL, "/nonsense@other_bot")
    answer = said(bot, GROUP, CAROL, "/status@charter_test_bot", "No proposal is open")
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    assert api.sent_to(GROUP)[before:] == [answer]
    assert rows(bot, Proposal) == []
    said(bot, GROUP, CAROL, "/STATUS@Charter_Test_Bot", "No proposal is open")


@pytest.mark.parametrize(
    ("scope", "entries"),
    [
        ("default", MENU),
        ("all_group_chats", MENU),
        ("all_chat_administrators", MEDIATOR_MENU),
        ("all_private_chats", PRIVATE_MENU),
    ],
)
def test_the_command_menu_is_set_in_every_language_and_scope(
    bot: RunningBot, scope: str, entries: tuple[tuple[str, str], ...]
) -> None:
    api = bot.api
    names = [name for name, _ in entries]
    assert set(names) <= set(grammar.COMMANDS)
    english = api.commands_for(scope, "")  # the default language, for everyone
    assert english is not None and [c["command"] for c in english] == names
    assert "es" in available_locales()
    for code in available_locales():
        menu = api.commands_for(scope, telegram_language(code))
        assert menu is not None, (scope, code)
        assert [c["command"] for c in menu] == names
        if code != "en":
            assert menu != english  # translated descriptions
    spanish = {c["command"]: c["description"] for c in api.commands_for("all_group_chats", "es")}
    assert spanish["propose"] != "Propose a clause"


def test_every_press_is_answered_even_in_a_burst(bot: RunningBot) -> None:
    api = bot.api
    card_id = consent_round(bot, "Quiet after ten.")
    datas = ["v1:c", "junk", "v1:k", "v7:c", "a1:+", "v1:a", "l:xx", "r", "v1:o"] * 3
    users = [BOB, CAROL, DAVE, MALLORY]
    for k, data in enumerate(datas):
        api.press_button(GROUP, users[k % len(users)], card_id, data)
    bot.wait_for(lambda: len(api.callback_answers) >= len(datas), "every answer")
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    assert len(api.callback_answers) == len(datas)
    assert all(a["text"] for a in api.callback_answers)
    outsider = {note("en", DomainError("not_member")), note("en", DomainError("bad_button"))}
    assert {a["text"] for a in api.callback_answers if a["user_id"] == MALLORY["id"]} <= outsider
    assert rows(bot, Person, Person.id == "telegram:66") == []
    assert bot.api._open_queries == {}  # noqa: SLF001
