"""Translations and locale-aware formatting, one `Translator` per reader's locale.

The bot answers many people in many languages from one process, so nothing here is
global: no process-wide install of a language, no process locale.  Renderers ask `get_translator` for
the reader's locale and use the returned object for both text and formatting.

Catalogs are the ``.po`` files under the ``locales`` package
(``locales/<lang>/LC_MESSAGES/charterbot.po``).  They are compiled in memory with Babel
when first needed, so the ``.po`` is the single source and no build step can be forgotten.
A locale without a catalog falls back, step by step, to shorter locales
(``pt_BR`` -> ``pt``) and finally to the English msgids.
"""

from __future__ import annotations

import functools
import gettext
import html
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import babel
from babel import dates as babel_dates
from babel import lists as babel_lists
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.bidi import FSI, PDI, RLM, rtl_template

__all__ = [
    "DOMAIN",
    "N_",
    "Translator",
    "available_locales",
    "catalog_names",
    "clear_caches",
    "get_translator",
    "parse_locale",
]

DOMAIN = "charterbot"
_SOURCE_LOCALE = "en"  # the language of the msgids

_log = logging.getLogger(__name__)


def N_(msgid: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction without translating it now.

    Use it for module-level constants that are translated later, per reader, with
    ``translator.gettext(constant)``.
    """
    return msgid


# --------------------------------------------------------------------------- locales


def parse_locale(code: str | None) -> babel.Locale | None:
    """Normalise a locale code ("es", "es_ES", "pt-BR", "pt-br", "zh_Hans") to a
    `babel.Locale`, or None if Babel does not know it.

    Useful for validating ``/lang`` input and platform hints before storing them.
    """
    if not code or not code.strip():
        return None
    try:
        return babel.Locale.parse(code.strip().replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return None


def catalog_names(locale: babel.Locale) -> list[str]:
    """Catalog directory names to try for a locale, most specific first:
    zh_Hant_TW -> zh_Hant_TW, zh_Hant, zh_TW, zh."""
    lang, script, territory = locale.language, locale.script, locale.territory
    names = [str(locale)]
    if script and territory:
        names.append(f"{lang}_{script}")
    if territory:
        names.append(f"{lang}_{territory}")
    if not script:
        # "zh" is written in Han Simplified unless said otherwise (CLDR likely subtags):
        # a reader of plain "zh" gets the zh_Hans catalog.
        likely = str(babel.core.get_global("likely_subtags").get(lang, "")).split("_")
        if len(likely) > 1 and len(likely[1]) == 4:
            names.append(f"{lang}_{likely[1]}")
    names.append(lang)
    return list(dict.fromkeys(names))


def _locales_dir() -> Traversable:
    return resources.files("locales")


def available_locales() -> list[str]:
    """Locale codes that have a catalog, plus "en" (the msgids themselves), sorted."""
    found = {_SOURCE_LOCALE}
    for entry in _locales_dir().iterdir():
        if entry.is_dir() and (entry / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
            found.add(entry.name)
    return sorted(found)


# --------------------------------------------------------------------------- catalogs


@functools.cache
def _compiled_catalog(name: str) -> bytes | None:
    """The ``.mo`` bytes of ``locales/<name>/LC_MESSAGES/charterbot.po``, or None.

    Cached per catalog directory: parsing a ``.po`` is far slower than using it.
    A catalog that cannot be read is logged and treated as missing, so a broken
    translation degrades to English instead of stopping the bot.
    """
    po = _locales_dir() / name / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return None
    try:
        with po.open("rb") as fh:
            catalog = read_po(fh, domain=DOMAIN)
    except Exception:
        _log.exception("cannot read catalog %s; falling back", name)
        return None
    # An untranslated plural entry would otherwise be written with English forms and
    # hide a translation from a fallback catalog (es_ES -> es).
    for message in list(catalog)[1:]:
        if isinstance(message.string, tuple) and not any(message.string):
            catalog.delete(message.id, context=message.context)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def _translations(locale: babel.Locale) -> gettext.NullTranslations:
    """A chain of catalogs for ``locale`` (most specific first) ending in English."""
    chain: gettext.NullTranslations | None = None
    for name in catalog_names(locale):
        data = _compiled_catalog(name)
        if data is None:
            continue
        translations = gettext.GNUTranslations(BytesIO(data))
        if chain is None:
            chain = translations
        else:
            chain.add_fallback(translations)
    return chain if chain is not None else gettext.NullTranslations()


# --------------------------------------------------------------------------- translator


class Translator:
    """Text and formatting for one reader's locale.

    Messages use ``str.format`` placeholders (``"{name} proposed {pid}"``).  If a
    translation's placeholders do not match the parameters (a translator's typo), the
    English message is used instead, so a bad catalog entry never breaks a reply.
    """

    __slots__ = ("locale", "_translations", "_escape", "_escaping", "_rtl")

    def __init__(
        self,
        locale: babel.Locale,
        translations: gettext.NullTranslations,
        escape: Callable[[str], str] | None = None,
    ) -> None:
        self.locale = locale
        self._translations = translations
        self._escape = escape
        self._escaping: Translator | None = None
        # Right-to-left languages get their messages' ids and names isolated (bot.bidi).
        self._rtl = locale.character_order == "right-to-left"

    def for_html(self) -> Translator:
        """This translator for HTML output: the message texts themselves are escaped
        (before the parameters are put in), so a literal ``<reason>`` in a usage line is
        shown as text and never read as a tag."""
        if self._escape is not None:
            return self
        if self._escaping is None:
            self._escaping = Translator(
                self.locale, self._translations, functools.partial(html.escape, quote=False)
            )
        return self._escaping

    def __repr__(self) -> str:
        return f"Translator({str(self.locale)!r})"

    @property
    def line_start(self) -> str:
        """What a line the bot composes itself (not from a message) starts with: a
        right-to-left mark for a right-to-left reader (bot/bidi.py), else nothing."""
        return RLM if self._rtl else ""

    def isolate(self, text: str) -> str:
        """Text of its own direction (a name) inside a right-to-left reader's line."""
        return f"{FSI}{text}{PDI}" if self._rtl else text

    @property
    def code(self) -> str:
        """The locale identifier, e.g. "es_ES"."""
        return str(self.locale)

    # -- text

    def gettext(self, msgid: str, **params: Any) -> str:
        """Translate ``msgid``; format it with ``params`` only if any are given (so a
        message with literal braces and no parameters is returned as it is)."""
        text = self._translations.gettext(msgid)
        if self._rtl:  # a shipped catalog is complete: every message is its own
            text = rtl_template(text)
        if self._escape is not None:
            text, msgid = self._escape(text), self._escape(msgid)
        if not params:
            return text
        return self._format(text, msgid, params)

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """Translate with the locale's plural rule for ``n``; ``{n}`` is always available
        in the message, formatted for the locale ("1,001"), next to ``params``."""
        text = self._translations.ngettext(singular, plural, n)
        fallback = singular if n == 1 else plural
        if self._rtl:
            text = rtl_template(text)
        if self._escape is not None:
            text, fallback = self._escape(text), self._escape(fallback)
        return self._format(text, fallback, {"n": self.format_number(n), **params})

    @staticmethod
    def _format(text: str, original: str, params: dict[str, Any]) -> str:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError, AttributeError):
            if text == original:
                raise  # the source message itself is wrong: a programming error
            _log.warning("translation %r does not fit its parameters; using English", text)
            return original.format(**params)

    # -- formatting

    def format_datetime(self, dt: datetime, tzname: str = "UTC") -> str:
        """An aware datetime as a medium date and short time in the IANA zone ``tzname``
        (e.g. "24 nov 2026, 13:00" for es in Europe/Madrid).

        An unknown zone falls back to UTC (logged): a stale preference must not stop a
        reply.  A naive datetime is a bug in the caller and raises ValueError.
        """
        if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
            raise ValueError("format_datetime needs an aware datetime")
        local = dt.astimezone(self._zone(tzname))
        pattern = babel_dates.get_datetime_format("medium", locale=self.locale)
        time_text = babel_dates.format_time(local, "short", locale=self.locale)
        date_text = babel_dates.format_date(local, "medium", locale=self.locale)
        return str(pattern).replace("'", "").replace("{0}", time_text).replace("{1}", date_text)

    def format_date(self, d: date | datetime, tzname: str | None = None) -> str:
        """A medium date ("24 nov 2026"); an aware datetime is first moved to ``tzname``."""
        if isinstance(d, datetime) and tzname is not None and d.tzinfo is not None:
            d = d.astimezone(self._zone(tzname))
        return babel_dates.format_date(d, "medium", locale=self.locale)

    def format_number(self, n: float | int) -> str:
        """A number with the locale's separators (es: 1234.5 -> "1.234,5")."""
        return babel_numbers.format_decimal(n, locale=self.locale)

    def format_percent(self, x: float) -> str:
        """A fraction as a percentage (0.5 -> "50%", es "50 %")."""
        return babel_numbers.format_percent(x, locale=self.locale)

    def format_relative(self, delta: timedelta) -> str:
        """A time difference from now: positive is the future ("in 3 hours"), negative
        the past ("3 hours ago")."""
        return babel_dates.format_timedelta(delta, add_direction=True, locale=self.locale)

    def language_name(self, code: str) -> str:
        """A language's own name in the reader's language ("ja" -> "Japanese", "japonés")."""
        locale = parse_locale(code)
        name = locale.get_display_name(self.locale) if locale is not None else None
        return name or code

    def format_list(self, items: Iterable[str], style: str = "standard") -> str:
        """Items joined the locale's way ("a, b and c", es "a, b y c"); ``style`` is a
        Babel list style, e.g. "or" for alternatives ("a, b or c")."""
        style_: Any = style  # Babel types it as a Literal of its style names
        return babel_lists.format_list(list(items), style=style_, locale=self.locale)

    @staticmethod
    def _zone(tzname: str) -> ZoneInfo:
        try:
            return ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError):
            _log.warning("unknown time zone %r; using UTC", tzname)
            return ZoneInfo("UTC")


@functools.cache
def _translator_for(locale_id: str) -> Translator:
    locale = babel.Locale.parse(locale_id)
    return Translator(locale, _translations(locale))


def get_translator(code: str | None, default: str = _SOURCE_LOCALE) -> Translator:
    """The (cached) Translator for ``code``, or for ``default`` if ``code`` is empty or
    not a locale Babel knows.  Cached by normalised locale, so arbitrary user input
    cannot grow the cache beyond the locales that exist."""
    locale = parse_locale(code) or parse_locale(default) or babel.Locale.parse(_SOURCE_LOCALE)
    return _translator_for(str(locale))


def clear_caches() -> None:
    """Forget compiled catalogs and translators, e.g. after editing a ``.po`` file."""
    _translator_for.cache_clear()
    _compiled_catalog.cache_clear()
