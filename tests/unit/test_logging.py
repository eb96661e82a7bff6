"""Tests for bot.logging: one output format for structlog and stdlib, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from bot.logging import configure_logging, get_logger, redact

# Shaped like a real bot token (built here so no token-shaped literal sits in the repo).
TOKEN = "123456789:" + "AAHfiqksKZ8WmR2zSjiQ7" + "_v4TMAKdiHm9T0"
URL = f"https://api.telegram.org/bot{TOKEN}/getMe"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "telegram")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)
    structlog.reset_defaults()


@pytest.fixture
def out() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# ----------------------------------------------------------------------------- redaction


def test_token_in_message_is_redacted(out: io.StringIO) -> None:
    log = get_logger("test")
    log.info(f"token is {TOKEN}")
    log.info("token is %s", TOKEN)
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count('event="token is ***"') == 2


def test_token_in_url_is_redacted(out: io.StringIO) -> None:
    get_logger("test").info("request", url=URL)
    text = out.getvalue()
    assert TOKEN not in text
    assert "url=https://api.telegram.org/bot***/getMe" in text


@pytest.mark.parametrize("key", ["token", "password", "access_token", "secret", "bot_token"])
def test_secret_keywords_are_redacted(out: io.StringIO, key: str) -> None:
    get_logger("test").info("login", **{key: "hunter2"})
    text = out.getvalue()
    assert "hunter2" not in text
    assert f"{key}=***" in text


def test_nested_values_are_redacted(out: io.StringIO) -> None:
    get_logger("test").info("cfg", data={"password": "hunter2", "urls": [URL]})
    text = out.getvalue()
    assert "hunter2" not in text and TOKEN not in text


def test_objects_showing_a_token_are_redacted(out: io.StringIO) -> None:
    class Request:
        def __repr__(self) -> str:
            return f"<Request GET {URL}>"

    get_logger("test").info("sent", request=Request())
    assert TOKEN not in out.getvalue()
    assert "bot***/getMe" in out.getvalue()


def test_traceback_is_redacted(out: io.StringIO) -> None:
    log = get_logger("test")
    try:
        raise RuntimeError(f"cannot reach {URL}")
    except RuntimeError:
        log.exception("failed")
        logging.getLogger("some.library").exception("failed too")
    text = out.getvalue()
    assert TOKEN not in text
    assert text.count("RuntimeError: cannot reach https://api.telegram.org/bot***/getMe") == 2


def test_other_values_are_kept(out: io.StringIO) -> None:
    get_logger("test").info("tally", proposal="P12", consent=5, ok=True, ratio=0.5)
    line = lines(out)[-1]
    assert "proposal=P12 consent=5 ok=true ratio=0.5" in line
    assert "level=info" in line and "logger=test" in line and "event=tally" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"bot{TOKEN}/getUpdates", "bot***/getUpdates"),
        (
            "https://m.org/_matrix/client/v3/sync?access_token=abc123&since=s1",
            "https://m.org/_matrix/client/v3/sync?access_token=***&since=s1",
        ),
        ("Authorization: Bearer syt_Ym90_AbCdEf_0aB1cD", "Authorization: Bearer ***"),
        ("token syt_Ym90_AbCdEf_0aB1cD used", "token *** used"),
        ("room !abc:example.org at 12:30", "room !abc:example.org at 12:30"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


# ----------------------------------------------------------------------------- stdlib routing


def test_stdlib_records_use_the_same_format(out: io.StringIO) -> None:
    logging.getLogger("some.library").info("connected to %s", "db")
    line = lines(out)[-1]
    assert line.startswith("timestamp=")
    assert 'level=info logger=some.library event="connected to db"' in line


def test_library_loggers_are_quiet_below_warning(out: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST %s", URL)
    logging.getLogger("telegram.ext.Updater").debug("polling %s", URL)
    assert out.getvalue() == ""
    logging.getLogger("httpx").warning("HTTP Request: POST %s failed", URL)
    text = out.getvalue()
    assert "level=warning logger=httpx" in text
    assert TOKEN not in text and "bot***/getMe" in text


def test_library_level_can_be_lowered_and_is_still_redacted() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream, library_level="DEBUG")
    logging.getLogger("httpx").info("HTTP Request: POST %s", URL)
    text = stream.getvalue()
    assert "logger=httpx" in text and TOKEN not in text


def test_level_filters() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream=stream)
    get_logger("test").info("hidden")
    logging.getLogger("x").info("hidden too")
    get_logger("test").warning("shown")
    assert [line.split("event=")[1] for line in lines(stream)] == ["shown"]


def test_reconfiguring_does_not_duplicate_output() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    configure_logging(stream=stream)
    get_logger("test").warning("once")
    assert len(lines(stream)) == 1


def test_json_output() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    get_logger("test").info("request", url=URL, token=TOKEN)
    logging.getLogger("lib").warning("lib says %s", TOKEN)
    first, second = (json.loads(line) for line in lines(stream))
    assert first["event"] == "request"
    assert first["url"] == "https://api.telegram.org/bot***/getMe"
    assert first["token"] == "***"
    assert first["level"] == "info" and first["logger"] == "test" and "timestamp" in first
    assert second == second | {"event": "lib says ***", "level": "warning", "logger": "lib"}


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging()
    get_logger("test").warning("to stderr", token=TOKEN)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "to stderr" in captured.err and TOKEN not in captured.err


def test_unknown_level_is_an_error_and_changes_nothing() -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD", stream=io.StringIO())
    assert logging.getLogger().handlers == handlers
