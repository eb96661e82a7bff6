"""Structured logging (structlog) with secrets redacted before anything is written.

Our own code logs through `get_logger`; libraries (httpx, python-telegram-bot, nio,
SQLAlchemy, ...) log through the standard `logging` module.  Both end in one stderr
handler rendering the same ``key=value`` (logfmt) or JSON lines, so an operator reads one
format.

Why redaction lives here and not at call sites: the Telegram Bot API puts the bot token
in every URL (``https://api.telegram.org/bot<token>/getMe``), and httpx and PTB log those
URLs, and error messages and tracebacks repeat them.  One processor that runs last,
after tracebacks are rendered, catches all of them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "REDACTED",
    "configure_logging",
    "get_logger",
    "redact",
    "redact_secrets",
]

REDACTED = "***"

# Keys whose values are secrets whatever they look like.
_SECRET_KEYS = frozenset(
    {"token", "password", "access_token", "secret", "api_key", "authorization"}
)
_SECRET_SUFFIXES = ("_token", "_password", "_secret")

# Values that look like secrets wherever they appear.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram bot token, also inside .../bot<token>/getMe
    (re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"), REDACTED),
    # Synapse / Matrix Authentication Service access tokens
    (re.compile(r"\b(?:syt|syr|mct|mat)_[A-Za-z0-9_]+"), REDACTED),
    # access_token=... in a URL query (older Matrix clients)
    (re.compile(r"(?i)(access_token=)[^&\s\"']+"), r"\1" + REDACTED),
    # Authorization: Bearer ...
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
)

# Libraries that log request URLs (which hold the Telegram token) at INFO/DEBUG.
_NOISY_LOGGERS = ("httpx", "httpcore", "telegram", "telegram.ext")

_HANDLER_NAME = "charterbot"


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return lowered in _SECRET_KEYS or lowered.endswith(_SECRET_SUFFIXES)


def redact(text: str) -> str:
    """``text`` with every token-shaped substring replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth > 5:  # pathological nesting: render it, redacted
        return redact(repr(value))
    if isinstance(value, Mapping):
        return {
            k: REDACTED if _is_secret_key(k) else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact_value(v, depth + 1) for v in value]
        # keep plain tuples/sets as they are; subclasses (namedtuples) render fine as lists
        return type(value)(items) if type(value) in (tuple, set, frozenset) else items
    # Any other object (an httpx.URL, a request, an exception) is rendered later with
    # str() or repr(); if either would show a secret, hand over the redacted text.
    for text in (str(value), repr(value)):
        cleaned = redact(text)
        if cleaned != text:
            return cleaned
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret keys and token-shaped values everywhere."""
    return {
        key: REDACTED if _is_secret_key(key) else _redact_value(value)
        for key, value in event_dict.items()
    }


def _shared_processors() -> list[Processor]:
    """Processors applied to our events and to stdlib records alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(
    level: str | int = "INFO",
    json: bool = False,
    *,
    library_level: str | int = "WARNING",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging to one stderr handler with redaction.

    ``level`` is the root level; ``json`` switches from ``key=value`` to one JSON object
    per line.  ``library_level`` is the minimum level of the httpx/telegram loggers,
    which log request URLs.  ``stream`` (default: sys.stderr at call time) is for tests.
    Calling it again replaces the previous configuration instead of adding handlers.
    """
    root_level, lib_level = _level(level), _level(library_level)  # fail before changing
    shared = _shared_processors()
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if json
        else structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "logger", "event"],
            drop_missing=True,
            bool_as_flag=False,
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_secrets,  # last before rendering: tracebacks are text by now
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(root_level)

    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(lib_level)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    return value


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named ``name`` (use ``__name__``)."""
    return structlog.stdlib.get_logger(name)
