"""Tests for bot.i18n: catalog loading and fallback, plurals, locale formatting."""

from __future__ import annotations

import builtins
import gettext
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from io import BytesIO
from pathlib import Path

import babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from bot.i18n import (
    N_,
    Translator,
    available_locales,
    clear_caches,
    get_translator,
    parse_locale,
)

# Real msgids of locales/charterbot.pot, so these tests read the shipped Spanish catalog
# (its completeness is checked by test_catalogs.py).
USAGE = "Usage: {syntax}"
USAGE_ES = "Uso: {syntax}"
STATED = ("{stated} of {n} member stated a position.", "{stated} of {n} members stated a position.")
WITHDREW = (
    "{name} withdrew their objection to P{p}. {n} objection remains.",
    "{name} withdrew their objection to P{p}. {n} objections remain.",
)

NOON_UTC = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def fresh_catalogs() -> Iterator[None]:
    """Read the shipped catalogs afresh (another test may have cached translators)."""
    clear_caches()
    yield
    clear_caches()


def spaces(text: str) -> str:
    """CLDR uses no-break and narrow no-break spaces; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def translator_from(
    locale: str, entries: dict[str | tuple[str, str], str | tuple[str, ...]]
) -> Translator:
    """A Translator over an in-memory catalog, for cases the shipped catalogs lack."""
    catalog = Catalog(locale=locale)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translator(babel.Locale.parse(locale), gettext.GNUTranslations(buffer))


# ----------------------------------------------------------------------------- locales


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es", "es"),
        ("es_ES", "es_ES"),
        ("es-ES", "es_ES"),
        ("pt-BR", "pt_BR"),
        ("pt-br", "pt_BR"),
        ("zh_Hans", "zh_Hans"),
        (" en ", "en"),
    ],
)
def test_parse_locale_normalises(code: str, expected: str) -> None:
    locale = parse_locale(code)
    assert locale is not None and str(locale) == expected


@pytest.mark.parametrize("code", [None, "", "  ", "xx", "klingon", "de-", "1"])
def test_parse_locale_rejects(code: str | None) -> None:
    assert parse_locale(code) is None


def test_available_locales() -> None:
    locales = available_locales()
    assert "en" in locales and "es" in locales
    assert (
        Path(str(resources.files("locales"))) / "es" / "LC_MESSAGES" / "charterbot.po"
    ).is_file()
    assert locales == sorted(locales)


def test_translators_are_cached_per_normalised_locale() -> None:
    assert get_translator("es") is get_translator("es")
    assert get_translator("pt-BR") is get_translator("pt_br")


def test_no_global_gettext_is_installed() -> None:
    get_translator("es").gettext(USAGE, syntax="/help")
    assert "_" not in vars(builtins)


def test_n_marker_returns_msgid() -> None:
    assert N_(USAGE) == USAGE


# ----------------------------------------------------------------------------- text


def test_spanish_translation() -> None:
    tr = get_translator("es")
    assert tr.gettext(USAGE) == USAGE_ES  # no params: returned as it is, braces and all
    assert tr.gettext(USAGE, syntax="/status [P<n>]") == "Uso: /status [P<n>]"
    assert tr.gettext("I will write to you in English.") == "Te escribiré en español."


@pytest.mark.parametrize("code", ["es_ES", "es-ES", "es-419", "es_MX"])
def test_regional_locale_falls_back_to_language_catalog(code: str) -> None:
    tr = get_translator(code)
    assert tr.gettext(USAGE, syntax="/help") == "Uso: /help"
    assert tr.ngettext(*STATED, 2, stated="1") == "Posiciones expresadas: 1 de 2 miembros."
    # formatting still follows the regional locale
    assert tr.locale == parse_locale(code)


def test_missing_entry_falls_back_to_msgid() -> None:
    assert get_translator("es").gettext("Not in any catalog.") == "Not in any catalog."


def test_missing_catalog_falls_back_to_english() -> None:
    tr = get_translator("sw")  # Swahili: Babel knows it, no catalog ships (yet)
    assert str(tr.locale) == "sw"
    assert tr.gettext(USAGE, syntax="/help") == "Usage: /help"
    assert tr.ngettext(*STATED, 2, stated="1") == "1 of 2 members stated a position."
    assert tr.ngettext(*STATED, 1, stated="1") == "1 of 1 member stated a position."


@pytest.mark.parametrize("code", [None, "", "xx", "not a locale"])
def test_unknown_code_uses_default(code: str | None) -> None:
    assert str(get_translator(code).locale) == "en"
    assert get_translator(code, default="es").gettext(USAGE, syntax="/help") == "Uso: /help"


def test_gettext_formats_only_with_params() -> None:
    tr = get_translator("en")
    assert tr.gettext("Use {braces} literally") == "Use {braces} literally"
    assert tr.gettext("{name} proposed P{pid}", name="Ann", pid=3) == "Ann proposed P3"


@pytest.mark.parametrize(
    ("code", "n", "expected"),
    [
        ("es", 1, "Posiciones expresadas: 1 de 1 miembro."),
        ("es", 2, "Posiciones expresadas: 1 de 2 miembros."),
        ("es", 0, "Posiciones expresadas: 0 de 0 miembros."),
        ("es_MX", 1, "Posiciones expresadas: 1 de 1 miembro."),
        ("en", 1, "1 of 1 member stated a position."),
        ("en", 5, "1 of 5 members stated a position."),
        ("sw", 0, "0 of 0 members stated a position."),  # no catalog: English rule
    ],
)
def test_plural(code: str, n: int, expected: str) -> None:
    assert get_translator(code).ngettext(*STATED, n, stated=str(min(n, 1))) == expected


def test_plural_with_extra_params() -> None:
    tr = get_translator("en")
    text = tr.ngettext("{n} vote on {pid}", "{n} votes on {pid}", 3, pid="P7")
    assert text == "3 votes on P7"
    es = get_translator("es")
    assert es.ngettext(*WITHDREW, 1, name="Ann", p=7) == (
        "Ann retiró su objeción a P7. Queda 1 objeción."
    )
    assert es.ngettext(*WITHDREW, 2, name="Ann", p=7) == (
        "Ann retiró su objeción a P7. Quedan 2 objeciones."
    )


def test_spanish_numbers_inside_a_translated_message() -> None:
    es = get_translator("es")
    text = es.ngettext(*STATED, 2500, stated=es.format_number(1234))
    assert text == "Posiciones expresadas: 1.234 de 2.500 miembros."


def test_plural_rule_of_the_catalog_is_used() -> None:
    # Polish has three plural forms; the rule comes from the catalog's locale.
    tr = translator_from("pl", {("{n} file", "{n} files"): ("{n} plik", "{n} pliki", "{n} plików")})
    assert tr.ngettext("{n} file", "{n} files", 1) == "1 plik"
    assert tr.ngettext("{n} file", "{n} files", 3) == "3 pliki"
    assert tr.ngettext("{n} file", "{n} files", 5) == "5 plików"


def test_translation_with_wrong_placeholder_falls_back_to_english() -> None:
    tr = translator_from("es", {"Hello {name}": "Hola {nombre}"})
    assert tr.gettext("Hello {name}", name="Ann") == "Hello Ann"


def test_wrong_placeholder_in_source_message_raises() -> None:
    with pytest.raises(KeyError):
        get_translator("en").gettext("Hello {name}", nom="Ann")


# ----------------------------------------------------------------------------- formatting


def test_format_datetime_in_zone() -> None:
    assert spaces(get_translator("en").format_datetime(NOON_UTC, "Europe/Madrid")) == (
        "Nov 24, 2026, 1:00 PM"
    )
    assert get_translator("es").format_datetime(NOON_UTC, "Europe/Madrid") == ("24 nov 2026, 13:00")
    assert spaces(get_translator("en").format_datetime(NOON_UTC, "America/New_York")) == (
        "Nov 24, 2026, 7:00 AM"
    )


def test_format_datetime_crosses_midnight_in_zone() -> None:
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert get_translator("es").format_datetime(late, "Asia/Tokyo") == "25 nov 2026, 8:30"


def test_format_datetime_default_zone_is_utc() -> None:
    assert get_translator("es").format_datetime(NOON_UTC) == "24 nov 2026, 12:00"


def test_format_datetime_unknown_zone_uses_utc() -> None:
    assert get_translator("es").format_datetime(NOON_UTC, "Mars/Olympus") == ("24 nov 2026, 12:00")


def test_format_datetime_rejects_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        get_translator("en").format_datetime(datetime(2026, 11, 24, 12, 0), "UTC")


def test_format_date() -> None:
    assert get_translator("es").format_date(date(2026, 11, 24)) == "24 nov 2026"
    assert get_translator("en").format_date(date(2026, 11, 24)) == "Nov 24, 2026"
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert get_translator("en").format_date(late, "Asia/Tokyo") == "Nov 25, 2026"


def test_format_number_and_percent() -> None:
    assert get_translator("es").format_number(1234.5) == "1.234,5"
    assert get_translator("es_ES").format_number(1234.5) == "1.234,5"
    assert get_translator("en").format_number(1234.5) == "1,234.5"
    assert get_translator("en").format_percent(0.5) == "50%"
    assert spaces(get_translator("es").format_percent(0.5)) == "50 %"


def test_format_relative() -> None:
    en, es = get_translator("en"), get_translator("es")
    assert en.format_relative(timedelta(hours=3)) == "in 3 hours"
    assert en.format_relative(timedelta(hours=-3)) == "3 hours ago"
    assert es.format_relative(timedelta(hours=3)) == "dentro de 3 horas"
    assert es.format_relative(timedelta(hours=-3)) == "hace 3 horas"
    assert en.format_relative(timedelta(days=2)) == "in 2 days"


def test_format_list() -> None:
    assert get_translator("en").format_list(["Ann", "Bob", "Cy"]) == "Ann, Bob, and Cy"
    assert get_translator("es").format_list(iter(["Ann", "Bob", "Cy"])) == "Ann, Bob y Cy"
    assert get_translator("es").format_list([]) == ""
    assert get_translator("en").format_list(["amendment", "consent"], style="or") == (
        "amendment or consent"
    )
    assert get_translator("es").format_list(["a", "b"], style="or") == "a o b"
