"""``charterbot`` command line (SPEC section 8)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.app import App, open_database
from bot.config import Config, ConfigError, load_config
from bot.export import markdown
from bot.i18n import get_translator
from bot.logging import configure_logging
from bot.web import Site, write_site
from deliberation import public, queries
from deliberation.store.db import Database
from deliberation.timers import ManualClock, SystemClock

EXIT_CONFIG = 2
EXIT_BROKEN_CHAIN = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="charterbot", description="Deliberation by consent in chat groups."
    )
    parser.add_argument("--config", help="TOML configuration file (default: built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run every enabled adapter, the deadlines and the delivery of messages"),
        ("demo", "the console group: type `name: text` lines as several people, or pipe a script"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--config", dest="config_sub", help=argparse.SUPPRESS)
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    db.add_argument("--config", dest="config_sub", help=argparse.SUPPRESS)
    export = sub.add_parser("export", help="write charters to stdout")
    export.add_argument("--format", choices=["md", "json", "html"], default="md")
    export.add_argument("--charter", help="one charter id (default: all)")
    export.add_argument("--out", help="html: write the whole site into this folder")
    export.add_argument("--lang", help="html: the pages' language (default: [bot] default_locale)")
    export.add_argument("--config", dest="config_sub", help=argparse.SUPPRESS)
    verify = sub.add_parser("verify", help="check the charter hash chain")
    verify.add_argument("--config", dest="config_sub", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config_sub or args.config)
    except ConfigError as exc:
        print(f"charterbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(
        "WARNING" if args.command in ("demo", "export", "verify") else "INFO",
        json=config.bot.log_format == "json",
    )
    handler = {"run": _run, "demo": _demo, "db": _db, "export": _export, "verify": _verify}[
        args.command
    ]
    return handler(config, args)


def _run(config: Config, args: argparse.Namespace) -> int:
    app = App.build(config, SystemClock())
    if config.console.enabled:
        app.add_console()
    if config.telegram.enabled:
        app.add_telegram()
    if config.matrix.enabled:
        app.add_matrix()
    if config.web.enabled:
        app.add_web()
    asyncio.run(app.run_forever(sys.stdin if config.console.enabled else None, signals=True))
    return 0


def _demo(config: Config, args: argparse.Namespace) -> int:
    app = App.build(config, ManualClock(SystemClock().now()))
    app.add_console()
    if sys.stdin.isatty():
        print(
            "charterbot demo: type lines as `name: text` (e.g. `alice: /propose We meet monthly`),\n"
            f"`:advance 2d` to move time, Ctrl-D to end. Mediators: {', '.join(config.console.mediators)}."
        )
    try:
        asyncio.run(app.run_demo(sys.stdin))
    except KeyboardInterrupt:
        pass
    return 0


def _db(config: Config, args: argparse.Namespace) -> int:
    open_database(config).dispose()
    print("charterbot: database is up to date")
    return 0


def _export(config: Config, args: argparse.Namespace) -> int:
    db = open_database(config)
    if args.format == "html":
        return _export_html(config, db, args)
    with db.unit_of_work(write=False) as uow:
        data = public.export_json(uow.session, args.charter)
    if args.charter and not data["charters"]:
        print(f"charterbot: no charter {args.charter!r}", file=sys.stderr)
        return EXIT_CONFIG
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(markdown(get_translator(config.bot.default_locale), data))
    return 0


def _export_html(config: Config, db: Database, args: argparse.Namespace) -> int:
    """The web pages as files: with --out, the whole site into that folder (hostable as
    it is); without, one page to stdout (the charter asked for, else the people's)."""
    site = Site(db, config.bot.default_locale, config.bot.timezone)
    lang = args.lang or config.bot.default_locale
    if args.out:
        written = write_site(site, Path(args.out), lang)
        print(f"charterbot: wrote {len(written)} files to {args.out}", file=sys.stderr)
        return 0
    page = site.charter(args.charter, lang) if args.charter else site.people(lang)
    if page is None:
        print(f"charterbot: no charter {args.charter!r}", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(page.text)
    return 0


def _verify(config: Config, args: argparse.Namespace) -> int:
    db = Database(config.database.url)
    with db.unit_of_work(write=False) as uow:
        result = queries.verify(uow.session)
    if result.problem is None:
        print(f"charterbot: charter chain intact: {result.entries} entries, head {result.head}")
        return 0
    problem = result.problem
    where = f" at entry {problem.seq}" if problem.seq else ""  # 0: a row no entry records
    print(f"charterbot: charter record broken{where}: {problem.describe()}", file=sys.stderr)
    return EXIT_BROKEN_CHAIN


if __name__ == "__main__":
    raise SystemExit(main())
