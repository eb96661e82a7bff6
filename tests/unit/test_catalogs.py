"""The gettext template and the shipped catalogs are complete and consistent.

These tests are the translators' checklist (docs/translating.md):

* every string marked in the code is in ``locales/charterbot.pot`` and nothing else is
  (a stale template means ``bash scripts/i18n.sh`` was not run);
* every catalog under ``locales/`` has every msgid of the template, a non-empty
  translation for each, no fuzzy and no obsolete entries;
* a translation keeps the ``{placeholders}`` of its msgid (a plural form may leave out
  ``{n}``), and a catalog has as many plural forms as its language needs;
* each catalog loads through `bot.i18n.get_translator` and every message formats.
"""

from __future__ import annotations

import gettext
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import babel
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.bidi import rtl_template
from bot.i18n import DOMAIN, clear_caches, get_translator

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
TEMPLATE = LOCALES / f"{DOMAIN}.pot"
SCRIPT = ROOT / "scripts" / "i18n.sh"
CATALOGS = sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def lang_of(po: Path) -> str:
    return po.parent.parent.name


def read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, domain=DOMAIN)


def key(message: Message) -> str | tuple[str, ...]:
    """A message's identity: the msgid, or (msgid, msgid_plural) for a plural."""
    return tuple(message.id) if isinstance(message.id, list | tuple) else message.id


def messages(catalog: Catalog) -> list[Message]:
    """The catalog's entries without the header."""
    return [m for m in catalog if m.id]


def fields(text: str) -> set[str]:
    """The ``str.format`` field names of ``text`` ("{n} of {a.b}" -> {"n", "a"})."""
    names = set()
    for _literal, name, _spec, _conversion in string.Formatter().parse(text):
        if name is not None:
            names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return names


def dummy(names: set[str]) -> dict[str, object]:
    return {name: 3 if name == "n" else f"<{name}>" for name in names}


@pytest.fixture(scope="module")
def template() -> Catalog:
    return read(TEMPLATE)


@pytest.fixture(autouse=True, scope="module")
def fresh_translators() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


def test_catalogs_are_shipped() -> None:
    assert {"en", "es"} <= {lang_of(po) for po in CATALOGS}


# ------------------------------------------------------------------------ the template


def extraction_options() -> list[str]:
    """The keyword and mapping options of scripts/i18n.sh, so both extract alike."""
    script = SCRIPT.read_text(encoding="utf-8")
    keywords = re.findall(r"(?<!\S)-k\s+(\S+)", script)
    mapping = re.search(r"(?<!\S)-F\s+(\S+)", script)
    assert keywords and mapping, "scripts/i18n.sh no longer reads as expected"
    options = ["-F", mapping.group(1)]
    for keyword in keywords:
        options += ["-k", keyword]
    return options


def test_template_matches_the_code(tmp_path: Path, template: Catalog) -> None:
    out = tmp_path / f"{DOMAIN}.pot"
    command = [sys.executable, "-m", "babel.messages.frontend", "extract"]
    command += extraction_options() + ["--no-location", "-o", str(out), "."]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    in_code = {key(m) for m in messages(read(out))}
    in_template = {key(m) for m in messages(template)}
    hint = "run `bash scripts/i18n.sh` and translate the new strings"
    assert not in_code - in_template, f"missing from the template ({hint})"
    assert not in_template - in_code, f"no longer in the code ({hint})"


# ------------------------------------------------------------------------ the catalogs


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_is_named_after_a_known_locale(po: Path) -> None:
    locale = babel.Locale.parse(lang_of(po))
    assert str(read(po).locale) == str(locale), "the Language header names another locale"


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_has_the_template_msgids(po: Path, template: Catalog) -> None:
    wanted = {key(m) for m in messages(template)}
    present = {key(m) for m in messages(read(po))}
    assert not wanted - present, "missing; run `bash scripts/i18n.sh`"
    assert not present - wanted, "not in the template; run `bash scripts/i18n.sh`"


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_has_no_empty_translation(po: Path) -> None:
    empty = []
    for m in messages(read(po)):
        forms = m.string if isinstance(m.string, list | tuple) else (m.string,)
        if not all(forms):
            empty.append(key(m))
    assert not empty


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_has_no_fuzzy_entry(po: Path) -> None:
    catalog = read(po)
    assert not catalog.fuzzy, "the header is marked fuzzy"
    assert not [key(m) for m in messages(catalog) if m.fuzzy]


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_has_no_obsolete_entry(po: Path) -> None:
    assert not list(read(po).obsolete), "remove the #~ entries"


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_plural_forms_fit_the_language(po: Path) -> None:
    catalog = read(po)
    rule = get_plural(babel.Locale.parse(lang_of(po)))
    assert catalog.num_plurals == rule.num_plurals, f"Plural-Forms should be: {rule}"
    ours = gettext.c2py(catalog.plural_expr)
    cldr = gettext.c2py(rule.plural_expr)
    assert [ours(n) for n in range(1001)] == [cldr(n) for n in range(1001)], (
        f"Plural-Forms should be: {rule}"
    )
    for m in messages(catalog):
        if m.pluralizable:
            assert len(m.string) == rule.num_plurals, key(m)


def placeholder_errors(m: Message) -> list[str]:
    errors = []
    try:
        if m.pluralizable:
            expected = fields(m.id[1])
            for i, form in enumerate(m.string):
                if fields(form) not in (expected, expected - {"n"}):
                    errors.append(f"{m.id[0]!r} form {i}: {sorted(fields(form))}")
        elif fields(m.string) != fields(m.id):
            errors.append(f"{m.id!r}: {sorted(fields(m.string))} != {sorted(fields(m.id))}")
    except ValueError as exc:  # unbalanced braces
        errors.append(f"{key(m)!r}: {exc}")
    return errors


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_keeps_the_placeholders(po: Path) -> None:
    errors = [error for m in messages(read(po)) for error in placeholder_errors(m)]
    assert not errors, "placeholders differ:\n" + "\n".join(errors)


def test_placeholder_check_catches_mistakes() -> None:
    assert placeholder_errors(Message("Hi {name}", "Hola {nombre}"))
    assert placeholder_errors(Message("Hi {name}", "Hola {name"))
    assert not placeholder_errors(Message("Hi {name}", "{name}, hola"))
    plural = ("{n} file in {dir}", "{n} files in {dir}")
    assert not placeholder_errors(Message(plural, ("un archivo en {dir}", "{n} en {dir}")))
    assert placeholder_errors(Message(plural, ("{n} archivo", "{n} archivos en {dir}")))


@pytest.mark.parametrize("po", CATALOGS, ids=lang_of)
def test_catalog_loads_and_every_message_formats(po: Path) -> None:
    lang = lang_of(po)
    catalog = read(po)
    tr = get_translator(lang)
    assert str(tr.locale) == lang
    # A right-to-left catalog's messages come with direction marks (bot/bidi.py).
    shaped = rtl_template if tr.locale.character_order == "right-to-left" else str
    choose = gettext.c2py(catalog.plural_expr)
    for m in messages(catalog):
        if m.pluralizable:
            singular, plural = m.id
            params = dummy((fields(singular) | fields(plural)) - {"n"})
            for n in (0, 1, 2, 5, 21, 101):
                expected = shaped(m.string[choose(n)]).format(n=n, **params)
                assert tr.ngettext(singular, plural, n, **params) == expected, (singular, n)
        else:
            text = tr.gettext(m.id)
            assert text == shaped(m.string), f"{m.id!r} is not translated by the loaded catalog"
            text.format(**dummy(fields(m.id)))
