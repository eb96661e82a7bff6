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

# The Spanish entries these tests rely on.  The real catalog is generated with pybabel;
# it must keep them (or these tests move to a catalog of their own).
ES_PO = r"""# Spanish translations for charterbot.
msgid ""
msgstr ""
"Project-Id-Version: charterbot 0.1.0\n"
"Language: es\n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=utf-8\n"
"Content-Transfer-Encoding: 8bit\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

msgid "Unknown command."
msgstr "Comando desconocido."

msgid "{n} person"
msgid_plural "{n} people"
msgstr[0] "{n} persona"
msgstr[1] "{n} personas"
"""

NOON_UTC = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="module")
def spanish_catalog() -> Iterator[None]:
    """Make sure locales/es has a catalog; create the minimal one only if there is none."""
    po = Path(str(resources.files("locales"))) / "es" / "LC_MESSAGES" / "charterbot.po"
    if not po.exists():
        po.parent.mkdir(parents=True, exist_ok=True)
        po.write_text(ES_PO, encoding="utf-8")
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
    assert locales == sorted(locales)


def test_translators_are_cached_per_normalised_locale() -> None:
    assert get_translator("es") is get_translator("es")
    assert get_translator("pt-BR") is get_translator("pt_br")


def test_no_global_gettext_is_installed() -> None:
    get_translator("es").gettext("Unknown command.")
    assert "_" not in vars(builtins)


def test_n_marker_returns_msgid() -> None:
    assert N_("Unknown command.") == "Unknown command."


# ----------------------------------------------------------------------------- text


def test_spanish_translation() -> None:
    assert get_translator("es").gettext("Unknown command.") == "Comando desconocido."


@pytest.mark.parametrize("code", ["es_ES", "es-ES", "es-419", "es_MX"])
def test_regional_locale_falls_back_to_language_catalog(code: str) -> None:
    tr = get_translator(code)
    assert tr.gettext("Unknown command.") == "Comando desconocido."
    # formatting still follows the regional locale
    assert tr.locale == parse_locale(code)


def test_missing_entry_falls_back_to_msgid() -> None:
    assert get_translator("es").gettext("Not in any catalog.") == "Not in any catalog."


def test_missing_catalog_falls_back_to_english() -> None:
    tr = get_translator("fr")
    assert str(tr.locale) == "fr"
    assert tr.gettext("Unknown command.") == "Unknown command."
    assert tr.ngettext("{n} person", "{n} people", 2) == "2 people"


@pytest.mark.parametrize("code", [None, "", "xx", "not a locale"])
def test_unknown_code_uses_default(code: str | None) -> None:
    assert str(get_translator(code).locale) == "en"
    assert get_translator(code, default="es").gettext("Unknown command.") == (
        "Comando desconocido."
    )


def test_gettext_formats_only_with_params() -> None:
    tr = get_translator("en")
    assert tr.gettext("Use {braces} literally") == "Use {braces} literally"
    assert tr.gettext("{name} proposed P{pid}", name="Ann", pid=3) == "Ann proposed P3"


@pytest.mark.parametrize(
    ("code", "n", "expected"),
    [
        ("es", 1, "1 persona"),
        ("es", 2, "2 personas"),
        ("es", 0, "0 personas"),
        ("en", 1, "1 person"),
        ("en", 5, "5 people"),
    ],
)
def test_plural(code: str, n: int, expected: str) -> None:
    assert get_translator(code).ngettext("{n} person", "{n} people", n) == expected


def test_plural_with_extra_params() -> None:
    tr = get_translator("en")
    text = tr.ngettext("{n} vote on {pid}", "{n} votes on {pid}", 3, pid="P7")
    assert text == "3 votes on P7"


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
