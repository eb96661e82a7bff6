"""Configuration: a TOML file, overridden key by key by environment variables.

The schema lives in the frozen dataclasses below; the loader derives everything else
(known keys, types, env variable names, error messages) from them, so a new key is added
in exactly one place.  A wrong key or value stops start-up with a `ConfigError` naming the
key as ``section.key``, because a bot that silently ignores a typo in ``consent_hours``
runs deliberations under rules nobody agreed to.

Secrets (``telegram.token``, ``matrix.password``, ``matrix.access_token``) are masked in
``repr()`` and in error messages, so a config object can be logged safely.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import babel

from deliberation.settings import MAX_LEAD_TIMES, lead_times

__all__ = [
    "BotConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "DatabaseConfig",
    "DeliberationConfig",
    "ENV_PREFIX",
    "MatrixConfig",
    "TelegramConfig",
    "WebConfig",
    "load_config",
]

ENV_PREFIX = "CHARTERBOT_"
_MASK = "***"


class ConfigError(ValueError):
    """A configuration file or environment variable the bot cannot run with.

    ``key`` is ``section.key`` (or just ``section``) when the problem is tied to a key,
    ``env_var`` the environment variable the bad value came from, ``path`` the file.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        env_var: str | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.env_var = env_var
        self.path = path


# --------------------------------------------------------------------------- schema helpers


def _opt(
    default: Any,
    expected: str,
    valid: Callable[[Any], bool] | None = None,
    *,
    secret: bool = False,
) -> Any:
    """Declare one config key: its default, a human description of the allowed values
    (used verbatim in error messages) and an optional check run after type coercion."""
    return field(
        default=default,
        metadata={"expected": expected, "valid": valid, "secret": secret},
    )


def _one_of(*choices: str) -> tuple[str, Callable[[Any], bool]]:
    return "one of " + ", ".join(choices), lambda v: v in choices


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_locale(code: str) -> bool:
    try:
        babel.Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return False
    return True


_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HTTP_RE = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)


def _empty_or_http(value: str) -> bool:
    return value == "" or bool(_HTTP_RE.match(value))


def _is_prefix(value: str) -> bool:
    return bool(value) and not any(c.isspace() for c in value)


def _empty_or_matrix_user(value: str) -> bool:
    return value == "" or bool(re.fullmatch(r"@[^:\s]+:\S+", value))


def _are_lead_times(values: tuple[str, ...]) -> bool:
    """Durations (``"24h"``, ``"90m"``, ``"7d"``), all different, at most five; an empty
    list (or ``["none"]``): no reminders."""
    try:
        lead_times(" ".join(values) or "none")
    except ValueError:
        return False
    return True


_LEAD_TIMES = (
    f"a list of up to {MAX_LEAD_TIMES} different durations such as '24h', '90m' or '7d' "
    "(an empty list: none)",
    _are_lead_times,
)


class _Section:
    """Mixin for section dataclasses: a repr that masks secrets instead of hiding them,
    so a reader of a log can still see *whether* a token was set."""

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                parts.append(f"{f.name}='{_MASK}'")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True, repr=False)
class BotConfig(_Section):
    """Process-wide defaults for people and groups that have not chosen their own."""

    default_locale: str = _opt("en", "a locale code such as 'en', 'es' or 'pt_BR'", _is_locale)
    timezone: str = _opt("UTC", "an IANA time zone name such as 'Europe/Berlin'", _is_timezone)
    log_format: str = _opt("text", *_one_of("text", "json"))


@dataclass(frozen=True, repr=False)
class DatabaseConfig(_Section):
    """Where the store lives; a relative sqlite path is relative to the working directory."""

    url: str = _opt(
        "sqlite:///charterbot.db",
        "a database URL such as 'sqlite:///charterbot.db' or 'postgresql+psycopg://user@host/db'",
        lambda v: bool(_URL_RE.match(v)),
    )


@dataclass(frozen=True, repr=False)
class DeliberationConfig(_Section):
    """Defaults copied into a new group's settings (mediators change them per group)."""

    rule: str = _opt("consent", *_one_of("consent", "majority", "supermajority"))
    quorum: float = _opt(0.5, "a number greater than 0 and at most 1", lambda v: 0 < v <= 1)
    quorum_min: int = _opt(2, "an integer >= 1", lambda v: v >= 1)
    amendment_hours: float = _opt(48.0, "a number of hours >= 0", lambda v: v >= 0)
    consent_hours: float = _opt(72.0, "a number of hours > 0", lambda v: v > 0)
    review_months: int = _opt(12, "an integer >= 1", lambda v: v >= 1)
    on_expiry: str = _opt("lapse", *_one_of("lapse", "keep"))
    expire_days: int = _opt(14, "an integer >= 1", lambda v: v >= 1)
    reminders_before_close: tuple[str, ...] = _opt(("24h", "1h"), *_LEAD_TIMES)
    renewal_reminders: tuple[str, ...] = _opt(("30d", "7d", "1d"), *_LEAD_TIMES)


@dataclass(frozen=True, repr=False)
class ConsoleConfig(_Section):
    """The terminal group used by ``charterbot demo``."""

    enabled: bool = _opt(True, "true or false")
    mediators: tuple[str, ...] = _opt(
        ("alice",), "a list of non-empty names", lambda v: all(v_ for v_ in v)
    )


@dataclass(frozen=True, repr=False)
class TelegramConfig(_Section):
    """The Telegram adapter; ``base_url`` may point at a self-hosted Bot API server."""

    enabled: bool = _opt(False, "true or false")
    token: str = _opt("", "a bot token from @BotFather", secret=True)
    base_url: str = _opt(
        "", "empty or an http(s) URL such as 'http://127.0.0.1:8081/bot'", _empty_or_http
    )
    mode: str = _opt("polling", *_one_of("polling", "webhook"))
    webhook_url: str = _opt(
        "",
        "empty or the public https URL Telegram calls, e.g. "
        "'https://bot.example.org/telegram/webhook'",
        _empty_or_http,
    )
    webhook_listen: str = _opt("127.0.0.1", "a non-empty host name or address", bool)
    webhook_port: int = _opt(8443, "an integer from 1 to 65535", lambda v: 1 <= v <= 65535)
    webhook_secret: str = _opt(
        "",
        "empty (derived from the token) or 1-256 of A-Z a-z 0-9 _ -",
        lambda v: v == "" or bool(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v)),
        secret=True,
    )


@dataclass(frozen=True, repr=False)
class MatrixConfig(_Section):
    """The Matrix adapter; log in with ``password`` or an existing ``access_token``."""

    enabled: bool = _opt(False, "true or false")
    homeserver: str = _opt(
        "", "empty or an http(s) URL such as 'https://matrix.example.org'", _empty_or_http
    )
    user_id: str = _opt(
        "", "empty or a Matrix user id such as '@charterbot:example.org'", _empty_or_matrix_user
    )
    password: str = _opt("", "a string", secret=True)
    access_token: str = _opt("", "a string", secret=True)
    device_id: str = _opt("CHARTERBOT", "a non-empty device id", bool)
    command_prefix: str = _opt("!", "a non-empty prefix without spaces", _is_prefix)
    mediator_power_level: int = _opt(50, "an integer >= 0", lambda v: v >= 0)
    allowed_inviters: tuple[str, ...] = _opt(
        (), "a list of user ids or '*:server' patterns", lambda v: all(v_ for v_ in v)
    )
    encryption: bool = _opt(False, "true or false")
    store_path: str = _opt("matrix-store", "a directory path")
    # Other bots in the rooms, not counted among the members for the quorum.
    other_bots: tuple[str, ...] = _opt(
        (), "a list of Matrix user ids", lambda v: all(_empty_or_matrix_user(u) and u for u in v)
    )


@dataclass(frozen=True, repr=False)
class WebConfig(_Section):
    """The read-only web page showing the charters."""

    enabled: bool = _opt(True, "true or false")
    host: str = _opt("127.0.0.1", "a non-empty host name or address", bool)
    port: int = _opt(8080, "an integer from 1 to 65535", lambda v: 1 <= v <= 65535)

    @property
    def url(self) -> str:
        """Where /charter in a chat links to (SPEC has no key for a public address)."""
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``Config()`` is the all-defaults configuration."""

    bot: BotConfig = field(default_factory=BotConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    deliberation: DeliberationConfig = field(default_factory=DeliberationConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    web: WebConfig = field(default_factory=WebConfig)


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config)}


_SECTIONS: dict[str, type] = _section_types()


def _key_fields(section_cls: type) -> dict[str, tuple[Field[Any], Any]]:
    """``{key: (field, python type)}`` for one section class."""
    hints = typing.get_type_hints(section_cls)
    return {f.name: (f, hints[f.name]) for f in fields(section_cls)}


_KEYS: dict[str, dict[str, tuple[Field[Any], Any]]] = {
    name: _key_fields(cls) for name, cls in _SECTIONS.items()
}


# --------------------------------------------------------------------------- value checking


class _Invalid(Exception):
    """Raised internally when a raw value does not fit its key."""


def _coerce(kind: Any, value: Any) -> Any:
    """Check a TOML (or env-parsed) value against the key's Python type and normalise it:
    ints become floats for float keys, lists become tuples (the dataclasses are frozen)."""
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and math.isfinite(value):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(kind) is tuple:
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
    else:  # pragma: no cover - a schema bug, not a user error
        raise TypeError(f"unsupported config type {kind!r}")
    raise _Invalid


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_env(kind: Any, raw: str) -> Any:
    """Turn an environment variable's text into a value of the key's type."""
    text = raw.strip()
    try:
        if kind is str:
            return raw
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise _Invalid
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if typing.get_origin(kind) is tuple:
            if text.startswith("["):
                return tomllib.loads(f"v = {text}")["v"]
            return [item.strip() for item in text.split(",") if item.strip()]
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise _Invalid from exc
    raise TypeError(f"unsupported config type {kind!r}")  # pragma: no cover


def _describe_got(value: Any, secret: bool) -> str:
    """What to print after 'got': the value itself, except for secrets."""
    if secret:
        return f"a value of type {type(value).__name__}"
    return repr(value)


def _check(
    section: str, key: str, value: Any, *, from_env: str | None = None, raw: Any = None
) -> Any:
    """Coerce and validate one value, raising a ConfigError that names the key."""
    f, kind = _KEYS[section][key]
    meta = f.metadata
    where = f"{section}.{key}" + (f" (environment variable {from_env})" if from_env else "")
    shown = raw if raw is not None else value
    try:
        if from_env is not None:
            value = _parse_env(kind, value)
        value = _coerce(kind, value)
        valid = meta["valid"]
        if valid is not None and not valid(value):
            raise _Invalid
    except _Invalid:
        raise ConfigError(
            f"{where}: expected {meta['expected']}, got {_describe_got(shown, meta['secret'])}",
            key=f"{section}.{key}",
            env_var=from_env,
        ) from None
    return value


def _unknown(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} (expected one of {', '.join(known)}){hint}"


# --------------------------------------------------------------------------- loading


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found", path=path) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file", path=path) from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied", path=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 ({exc.reason})", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; the message ends with
        # "(at line N, column M)".
        match = re.search(r"at line (\d+)", str(exc))
        line = f":{match.group(1)}" if match else ""
        raise ConfigError(f"{path}{line}: invalid TOML: {exc}", path=path) from None


def _values_from_file(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"{section}: {_unknown(section, list(_SECTIONS), 'section')}", key=section
            )
        if not isinstance(table, dict):
            raise ConfigError(
                f"{section}: expected a table [{section}], got {table!r}", key=section
            )
        known = list(_KEYS[section])
        for key, value in table.items():
            if key not in _KEYS[section]:
                raise ConfigError(
                    f"{section}.{key}: {_unknown(key, known, 'key')}", key=f"{section}.{key}"
                )
            values.setdefault(section, {})[key] = _check(section, key, value)
    return values


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def _apply_env(values: dict[str, dict[str, Any]], env: Mapping[str, str]) -> None:
    """Override file values from ``CHARTERBOT_<SECTION>_<KEY>``.

    A variable that starts like a known section but names no key is an error: a typo such
    as ``CHARTERBOT_TELEGRAM_TOKN`` would otherwise start the bot without its token.
    Other ``CHARTERBOT_*`` variables (e.g. ones the CLI reads) are left alone.
    """
    expected = {
        _env_name(section, key): (section, key) for section in _KEYS for key in _KEYS[section]
    }
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        if upper in expected:
            section, key = expected[upper]
            values.setdefault(section, {})[key] = _check(
                section, key, env[name], from_env=name, raw=env[name]
            )
            continue
        rest = upper[len(ENV_PREFIX) :]
        for section in _KEYS:
            if rest.startswith(section.upper() + "_"):
                key = rest[len(section) + 1 :].lower()
                raise ConfigError(
                    f"{name}: {section}.{key}: {_unknown(key, list(_KEYS[section]), 'key')}",
                    key=f"{section}.{key}",
                    env_var=name,
                )


def _check_combinations(config: Config) -> None:
    """Rules that involve more than one key; only enabled adapters are held to them."""
    tg, mx = config.telegram, config.matrix
    if tg.enabled and not tg.token:
        raise ConfigError(
            f"telegram.token: required when telegram.enabled is true "
            f"(set it or {_env_name('telegram', 'token')})",
            key="telegram.token",
        )
    if tg.enabled and tg.mode == "webhook" and not tg.webhook_url:
        raise ConfigError(
            "telegram.webhook_url: required when telegram.mode is 'webhook', "
            "e.g. 'https://bot.example.org/telegram/webhook'",
            key="telegram.webhook_url",
        )
    if mx.enabled:
        if not mx.homeserver:
            raise ConfigError(
                "matrix.homeserver: required when matrix.enabled is true, "
                "e.g. 'https://matrix.example.org'",
                key="matrix.homeserver",
            )
        if not mx.user_id:
            raise ConfigError(
                "matrix.user_id: required when matrix.enabled is true, "
                "e.g. '@charterbot:example.org'",
                key="matrix.user_id",
            )
        if not (mx.password or mx.access_token):
            raise ConfigError(
                "matrix.password: matrix.password or matrix.access_token is required when "
                f"matrix.enabled is true (or {_env_name('matrix', 'password')} / "
                f"{_env_name('matrix', 'access_token')})",
                key="matrix.password",
            )
        if mx.encryption and not mx.store_path:
            raise ConfigError(
                "matrix.store_path: required when matrix.encryption is true",
                key="matrix.store_path",
            )


def load_config(path: str | Path | None, env: Mapping[str, str] = os.environ) -> Config:
    """Load the configuration from ``path`` (None: defaults only) and ``env``.

    Raises ConfigError for a missing or unreadable file, invalid TOML, an unknown section
    or key, or a value of the wrong type or range (from the file or the environment).
    """
    values: dict[str, dict[str, Any]] = {}
    file_path = Path(path) if path is not None else None
    if file_path is not None:
        try:
            values = _values_from_file(_read_toml(file_path))
        except ConfigError as exc:
            if exc.path is None:
                exc.path = file_path
            raise
    _apply_env(values, env)
    config = Config(
        **{
            section: replace(_SECTIONS[section](), **values.get(section, {}))
            for section in _SECTIONS
        }
    )
    _check_combinations(config)
    return config
