"""Tests for bot.config: defaults, the example file, env overrides, errors naming keys."""

from __future__ import annotations

import re
import tomllib
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
# Shaped like a real bot token (built here so no token-shaped literal sits in the repo).
TOKEN = "123456789:" + "AAHfiqksKZ8WmR2zSjiQ7" + "_v4TMAKdiHm9T0"

# SPEC section 7, plus the keys documented beyond it (docs/decisions.md): telegram's
# webhook settings, matrix.other_bots (issue 4: bots not counted for the quorum) and
# bot.log_format (issue 9: JSON logs).
SPEC_KEYS = {
    "bot": {"default_locale", "timezone", "log_format"},
    "database": {"url"},
    "deliberation": {
        "rule",
        "quorum",
        "quorum_min",
        "amendment_hours",
        "consent_hours",
        "review_months",
        "on_expiry",
        "expire_days",
        "reminders_before_close",
        "renewal_reminders",
    },
    "console": {"enabled", "mediators"},
    "telegram": {
        "enabled",
        "token",
        "base_url",
        "mode",
        "webhook_url",
        "webhook_listen",
        "webhook_port",
        "webhook_secret",
    },
    "matrix": {
        "enabled",
        "homeserver",
        "user_id",
        "password",
        "access_token",
        "device_id",
        "command_prefix",
        "mediator_power_level",
        "allowed_inviters",
        "encryption",
        "store_path",
        "other_bots",
    },
    "web": {"enabled", "host", "port"},
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env=env or {})


# ----------------------------------------------------------------------------- defaults


def test_no_path_gives_defaults() -> None:
    cfg = load_config(None, env={})
    assert cfg == Config()
    assert cfg.bot.default_locale == "en"
    assert cfg.bot.timezone == "UTC"
    assert cfg.database.url == "sqlite:///charterbot.db"
    d = cfg.deliberation
    assert (d.rule, d.quorum, d.quorum_min) == ("consent", 0.5, 2)
    assert (d.amendment_hours, d.consent_hours, d.review_months) == (48, 72, 12)
    assert (d.on_expiry, d.expire_days) == ("lapse", 14)
    assert cfg.console.enabled is True
    assert cfg.console.mediators == ("alice",)
    assert cfg.telegram.enabled is False
    assert cfg.telegram.mode == "polling"
    assert cfg.matrix.device_id == "CHARTERBOT"
    assert cfg.matrix.command_prefix == "!"
    assert cfg.matrix.mediator_power_level == 50
    assert cfg.matrix.allowed_inviters == ()
    assert cfg.matrix.store_path == "matrix-store"
    assert (cfg.web.enabled, cfg.web.host, cfg.web.port) == (True, "127.0.0.1", 8080)


def test_schema_has_exactly_the_spec_keys() -> None:
    cfg = Config()
    sections = {f.name for f in fields(Config)}
    assert sections == set(SPEC_KEYS)
    for section, keys in SPEC_KEYS.items():
        assert {f.name for f in fields(getattr(cfg, section))} == keys


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(FrozenInstanceError):
        cfg.web.port = 1  # type: ignore[misc]


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_text(tmp_path, "") == Config()


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(missing, env={})
    assert str(missing) in str(info.value)


# ----------------------------------------------------------------------------- example file


def test_example_file_loads_to_the_defaults() -> None:
    assert load_config(EXAMPLE, env={}) == Config()


def test_example_file_lists_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert {section: set(table) for section, table in data.items()} == SPEC_KEYS


def test_example_file_comments_every_key() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\w+\s*=", line):
            commented = "#" in line or lines[number - 1].lstrip().startswith("#")
            assert commented, f"config.example.toml line {number + 1} has no comment: {line}"


# ----------------------------------------------------------------------------- file values


def test_file_values_are_read_and_typed(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        """
        [bot]
        default_locale = "pt-BR"
        timezone = "Europe/Berlin"
        [deliberation]
        rule = "supermajority"
        quorum = 1          # an integer is accepted for a number
        amendment_hours = 0
        consent_hours = 1.5
        [console]
        mediators = ["ann", "bob"]
        [web]
        port = 9000
        """,
    )
    assert cfg.bot.default_locale == "pt-BR"
    assert cfg.bot.timezone == "Europe/Berlin"
    assert cfg.deliberation.rule == "supermajority"
    assert cfg.deliberation.quorum == 1.0 and isinstance(cfg.deliberation.quorum, float)
    assert cfg.deliberation.amendment_hours == 0
    assert cfg.deliberation.consent_hours == 1.5
    assert cfg.console.mediators == ("ann", "bob")
    assert cfg.web.port == 9000
    # untouched keys keep their defaults
    assert cfg.deliberation.review_months == 12


def test_relative_sqlite_path_is_kept_as_written(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, '[database]\nurl = "sqlite:///data/bot.db"\n')
    assert cfg.database.url == "sqlite:///data/bot.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[deliberation]\nrule = "unanimous"',
            "deliberation.rule: expected one of consent, majority, supermajority, got 'unanimous'",
        ),
        ("[deliberation]\nquorum = 2", "deliberation.quorum: expected a number greater than 0"),
        ("[deliberation]\nquorum = 0", "deliberation.quorum: expected"),
        ('[deliberation]\nquorum = "half"', "deliberation.quorum: expected a number"),
        ("[deliberation]\nquorum_min = 0", "deliberation.quorum_min: expected an integer >= 1"),
        ("[deliberation]\nquorum_min = 1.5", "deliberation.quorum_min: expected an integer"),
        ("[deliberation]\namendment_hours = -1", "deliberation.amendment_hours: expected"),
        ("[deliberation]\nconsent_hours = 0", "deliberation.consent_hours: expected"),
        ('[deliberation]\non_expiry = "drop"', "deliberation.on_expiry: expected one of lapse"),
        ("[deliberation]\nexpire_days = 0", "deliberation.expire_days: expected"),
        ("[console]\nenabled = 1", "console.enabled: expected true or false, got 1"),
        ('[console]\nmediators = "alice"', "console.mediators: expected a list"),
        ("[console]\nmediators = [1, 2]", "console.mediators: expected a list"),
        ('[telegram]\nmode = "push"', "telegram.mode: expected one of polling, webhook"),
        ('[telegram]\nbase_url = "ftp://x"', "telegram.base_url: expected empty or an http"),
        ("[matrix]\nmediator_power_level = -1", "matrix.mediator_power_level: expected"),
        ('[matrix]\nuser_id = "charterbot"', "matrix.user_id: expected"),
        ('[matrix]\ncommand_prefix = ""', "matrix.command_prefix: expected"),
        ("[web]\nport = 0", "web.port: expected an integer from 1 to 65535, got 0"),
        ("[web]\nport = 70000", "web.port: expected an integer from 1 to 65535"),
        ("[web]\nport = true", "web.port: expected an integer"),
        ('[bot]\ntimezone = "Mars/Olympus"', "bot.timezone: expected an IANA time zone"),
        ('[bot]\ndefault_locale = "klingon"', "bot.default_locale: expected a locale code"),
        ('[database]\nurl = "charterbot.db"', "database.url: expected a database URL"),
    ],
)
def test_wrong_value_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert str(info.value).startswith(message)
    assert info.value.key == message.split(":")[0]


def test_unknown_key_names_the_key_and_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, "[deliberation]\nconsent_hour = 3\n")
    message = str(info.value)
    assert message.startswith("deliberation.consent_hour: unknown key")
    assert "did you mean 'consent_hours'" in message


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^slack: unknown section"):
        load_text(tmp_path, "[slack]\nenabled = true\n")


def test_section_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^web: expected a table \[web\]"):
        load_text(tmp_path, "web = 1\n")


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\ntimezone = "UTC"\nthis is not toml\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).startswith(f"{path}:3: invalid TOML")
    assert info.value.path == path


def test_value_error_records_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nport = 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == path


# ----------------------------------------------------------------------------- environment


def test_env_overrides_every_type(tmp_path: Path) -> None:
    path = write(tmp_path, '[deliberation]\nrule = "majority"\n[web]\nport = 9000\n')
    env = {
        "CHARTERBOT_DELIBERATION_RULE": "supermajority",
        "CHARTERBOT_DELIBERATION_QUORUM": "0.75",
        "CHARTERBOT_DELIBERATION_QUORUM_MIN": "3",
        "CHARTERBOT_DELIBERATION_AMENDMENT_HOURS": "0",
        "CHARTERBOT_WEB_PORT": "9100",
        "CHARTERBOT_WEB_ENABLED": "no",
        "CHARTERBOT_CONSOLE_ENABLED": "0",
        "CHARTERBOT_MATRIX_ENCRYPTION": "Yes",
        "CHARTERBOT_CONSOLE_MEDIATORS": "ann, bob ,",
        "CHARTERBOT_MATRIX_ALLOWED_INVITERS": '["@ann:example.org", "*:example.org"]',
        "CHARTERBOT_DATABASE_URL": "postgresql+psycopg://bot@db/charter",
        "UNRELATED": "ignored",
        "CHARTERBOT_CONFIG": "other CHARTERBOT_ variables outside the sections are ignored",
    }
    cfg = load_config(path, env=env)
    d = cfg.deliberation
    assert (d.rule, d.quorum, d.quorum_min, d.amendment_hours) == ("supermajority", 0.75, 3, 0)
    assert cfg.web.port == 9100
    assert cfg.web.enabled is False
    assert cfg.console.enabled is False
    assert cfg.matrix.encryption is True
    assert cfg.console.mediators == ("ann", "bob")
    assert cfg.matrix.allowed_inviters == ("@ann:example.org", "*:example.org")
    assert cfg.database.url == "postgresql+psycopg://bot@db/charter"


def test_env_empty_list() -> None:
    cfg = load_config(None, env={"CHARTERBOT_CONSOLE_MEDIATORS": ""})
    assert cfg.console.mediators == ()


def test_env_secrets() -> None:
    cfg = load_config(
        None,
        env={
            "CHARTERBOT_TELEGRAM_TOKEN": TOKEN,
            "CHARTERBOT_MATRIX_PASSWORD": "hunter2",
            "CHARTERBOT_MATRIX_ACCESS_TOKEN": "syt_abc_def",
        },
    )
    assert cfg.telegram.token == TOKEN
    assert cfg.matrix.password == "hunter2"
    assert cfg.matrix.access_token == "syt_abc_def"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CHARTERBOT_DELIBERATION_RULE",
            "unanimous",
            "deliberation.rule (environment variable CHARTERBOT_DELIBERATION_RULE): "
            "expected one of consent, majority, supermajority, got 'unanimous'",
        ),
        (
            "CHARTERBOT_DELIBERATION_QUORUM",
            "2",
            "deliberation.quorum (environment variable CHARTERBOT_DELIBERATION_QUORUM): "
            "expected a number greater than 0 and at most 1, got '2'",
        ),
        ("CHARTERBOT_WEB_PORT", "http", "web.port (environment variable CHARTERBOT_WEB_PORT)"),
        ("CHARTERBOT_WEB_ENABLED", "maybe", "web.enabled (environment variable"),
        ("CHARTERBOT_CONSOLE_MEDIATORS", "[1, 2]", "console.mediators (environment variable"),
        ("CHARTERBOT_CONSOLE_MEDIATORS", "[unclosed", "console.mediators (environment variable"),
    ],
)
def test_wrong_env_value_names_key_and_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={name: value})
    assert str(info.value).startswith(message)
    assert info.value.env_var == name


def test_env_typo_in_a_known_section_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"CHARTERBOT_TELEGRAM_TOKN": TOKEN})
    message = str(info.value)
    assert "CHARTERBOT_TELEGRAM_TOKN" in message
    assert "telegram.tokn: unknown key" in message
    assert "did you mean 'token'" in message
    assert TOKEN not in message


# ----------------------------------------------------------------------------- combinations


def test_enabled_telegram_needs_a_token() -> None:
    with pytest.raises(ConfigError, match=r"^telegram\.token: required"):
        load_config(None, env={"CHARTERBOT_TELEGRAM_ENABLED": "true"})
    cfg = load_config(
        None, env={"CHARTERBOT_TELEGRAM_ENABLED": "true", "CHARTERBOT_TELEGRAM_TOKEN": TOKEN}
    )
    assert cfg.telegram.enabled


def test_enabled_matrix_needs_login(tmp_path: Path) -> None:
    base = '[matrix]\nenabled = true\nhomeserver = "https://m.example.org"\n'
    with pytest.raises(ConfigError, match=r"^matrix\.user_id: required"):
        load_text(tmp_path, base)
    base += 'user_id = "@bot:example.org"\n'
    with pytest.raises(ConfigError, match=r"^matrix\.password: .*access_token"):
        load_text(tmp_path, base)
    cfg = load_text(tmp_path, base, env={"CHARTERBOT_MATRIX_ACCESS_TOKEN": "syt_x"})
    assert cfg.matrix.enabled
    with pytest.raises(ConfigError, match=r"^matrix\.store_path: required"):
        load_text(tmp_path, base + 'encryption = true\nstore_path = ""\npassword = "pw"\n')


# ----------------------------------------------------------------------------- secrets


def test_repr_masks_secrets() -> None:
    cfg = load_config(
        None,
        env={
            "CHARTERBOT_TELEGRAM_TOKEN": TOKEN,
            "CHARTERBOT_MATRIX_PASSWORD": "hunter2",
            "CHARTERBOT_MATRIX_ACCESS_TOKEN": "syt_secret_value",
        },
    )
    for text in (repr(cfg), str(cfg), repr(cfg.telegram), str(cfg.matrix), f"{cfg}"):
        assert TOKEN not in text
        assert "hunter2" not in text
        assert "syt_secret_value" not in text
    assert "token='***'" in repr(cfg.telegram)
    # unset secrets show as empty, so a reader can tell whether one was configured
    assert "password=''" in repr(Config().matrix)


def test_error_messages_do_not_show_secret_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, "[telegram]\ntoken = 123456789\n")
    assert "123456789" not in str(info.value)
    assert str(info.value).startswith("telegram.token: expected")


# ----------------------------------------------------------------------------- lead times


def test_reminder_lead_times_default_and_reach_new_groups() -> None:
    from bot.app import defaults_from

    cfg = load_config(None, env={})
    assert cfg.deliberation.reminders_before_close == ("24h", "1h")
    assert cfg.deliberation.renewal_reminders == ("30d", "7d", "1d")
    defaults = defaults_from(cfg)
    assert (defaults.reminders_before_close, defaults.renewal_reminders) == (
        "24h 1h",
        "30d 7d 1d",
    )


def test_reminder_lead_times_from_the_file_and_the_environment(tmp_path: Path) -> None:
    from bot.app import defaults_from

    cfg = load_text(
        tmp_path,
        '[deliberation]\nreminders_before_close = ["2h", "48h", "30 min"]\n'
        "renewal_reminders = []\n",
    )
    assert cfg.deliberation.reminders_before_close == ("2h", "48h", "30 min")
    defaults = defaults_from(cfg)
    assert defaults.reminders_before_close == "48h 2h 30m"  # canonical, longest first
    assert defaults.renewal_reminders == "none"
    env = {
        "CHARTERBOT_DELIBERATION_REMINDERS_BEFORE_CLOSE": "12h, 1h",
        "CHARTERBOT_DELIBERATION_RENEWAL_REMINDERS": '["14d", "2d"]',
    }
    cfg = load_config(None, env=env)
    assert cfg.deliberation.reminders_before_close == ("12h", "1h")
    assert cfg.deliberation.renewal_reminders == ("14d", "2d")
    assert defaults_from(cfg).reminders_before_close == "12h 1h"


@pytest.mark.parametrize(
    "value",
    [
        '["soon"]',
        '["1h", "60m"]',  # the same lead twice
        '["1h", "2h", "3h", "4h", "5h", "6h"]',  # more than five
        '["0h"]',
        '["400d"]',
        '"24h 1h"',  # a list is expected
        "[24, 1]",
    ],
)
def test_wrong_reminder_lead_times_name_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, f"[deliberation]\nreminders_before_close = {value}\n")
    assert info.value.key == "deliberation.reminders_before_close"
    assert str(info.value).startswith(
        "deliberation.reminders_before_close: expected a list of up to 5 different durations"
    )


def test_wrong_reminder_lead_times_in_the_environment_name_the_variable() -> None:
    name = "CHARTERBOT_DELIBERATION_RENEWAL_REMINDERS"
    with pytest.raises(ConfigError) as info:
        load_config(None, env={name: "30d, 30d"})
    assert str(info.value).startswith(
        f"deliberation.renewal_reminders (environment variable {name}): expected a list"
    )
    assert info.value.env_var == name
