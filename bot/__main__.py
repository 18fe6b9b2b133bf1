"""Command line of the partnership bot.

python -m bot                  run the bot (long polling)
python -m bot check [FILES]    validate YAML files as the bot would (exit 1 on any error)
python -m bot schema           print the JSON Schema of the flow format (for editors)
python -m bot shell [FLOW]     play a flow in the terminal, without Telegram
python -m bot export --chat ID write a chat's partner register as CSV on standard output
python -m bot backup PATH      copy the database to PATH, even while the bot runs
python -m bot import --chat ID FILE.csv   load a list of partners (the export's columns), all or nothing
python -m bot --help           every command and option
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pydantic import ValidationError

from bot.config import Settings
from bot.core.flow_engine import Flow
from bot.core.library import PRACTICES_FILE, Library, load_library
from bot.core.loading import InvalidFile

if TYPE_CHECKING:  # imported at run time by the commands that open the database
    from bot.storage.db import AlreadyRunning, DatabaseUnavailable

EXIT_INVALID_FILES = 1  # python -m bot check, shell
# The bot cannot start until an admin fixes a setting, a YAML file or the token: the only
# status systemd does not restart on (RestartPreventExitStatus). Anything else, Telegram or
# the network failing included, is worth a restart; Python's own uncaught-error status is 1.
EXIT_CONFIGURATION = 2
EXIT_NO_DATABASE = 3
EXIT_BACKUP_FAILED = 4
EXIT_ALREADY_RUNNING = 5
EXIT_IMPORT_REFUSED = 6


def _library(directory: Path, failure_status: int = EXIT_INVALID_FILES, cache: Path | None = None) -> Library:
    """Load every YAML file, or print all their errors and exit: never start half-configured.
    With ``cache``, files unchanged since it was written are not parsed again (bot.library_cache)."""
    try:
        if cache is not None:
            from bot import library_cache

            return library_cache.load(directory, cache)
        return load_library(directory)
    except InvalidFile as invalid:
        print(*invalid.lines(), sep="\n", file=sys.stderr)
        sys.exit(failure_status)


def _database_failed(library: Library, failure: DatabaseUnavailable | AlreadyRunning) -> NoReturn:
    """Say in French why the database cannot be used, and exit (its connection is closed)."""
    from bot.storage.db import AlreadyRunning

    texts = library.messages.cli
    if isinstance(failure, AlreadyRunning):
        print(texts.already_running.format(path=failure.path, **failure.holder), file=sys.stderr)
        sys.exit(EXIT_ALREADY_RUNNING)
    print(texts.database_unavailable.format(path=failure.path, error=failure.reason), file=sys.stderr)
    sys.exit(EXIT_NO_DATABASE)


def run(settings: Settings, arguments: argparse.Namespace) -> None:
    """Run the bot (webhook if WEBHOOK_URL is set, long polling otherwise) until interrupted."""
    # Start-up makes some 75,000 objects that live as long as the process (modules, classes,
    # handlers, the flows), and the collector, run every 700 new objects, went over them
    # again and again: a tenth of the start. It is off while they are made, then they are
    # set aside for good (gc.freeze): no collection goes over them again, now or while the
    # bot runs. The few cycles start-up leaves (30 to 100 kB) are kept with them.
    gc.disable()
    from telegram.error import InvalidToken

    from bot.app import build_application, serve
    from bot.library_cache import cache_path
    from bot.logs import setup_logging
    from bot.storage.db import AlreadyRunning, DatabaseUnavailable

    library = _library(settings.flows_dir, EXIT_CONFIGURATION, cache_path(settings.database_path))
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        print(library.messages.system.missing_token, file=sys.stderr)
        sys.exit(EXIT_CONFIGURATION)
    secrets = [settings.telegram_bot_token.get_secret_value()]
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    setup_logging(settings.log_level, secrets)
    try:
        application = build_application(settings, library)
        gc.freeze()
        gc.enable()
        serve(application, settings)
    except InvalidToken:  # its message holds the token: never print it
        print(library.messages.cli.token_rejected, file=sys.stderr)
        sys.exit(EXIT_CONFIGURATION)
    except (DatabaseUnavailable, AlreadyRunning) as failure:
        _database_failed(library, failure)


def check(settings: Settings, arguments: argparse.Namespace) -> None:
    """Validate FLOWS_DIR with the given files in place of theirs, exactly as /recharger would."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        for source in settings.flows_dir.glob("*.yaml"):
            shutil.copyfile(source, directory / source.name)
        for file in arguments.files:
            shutil.copyfile(file, directory / file.name)
        library = _library(directory)
    for line in check_warnings(library):
        print(line, file=sys.stderr)
    names = ", ".join(sorted(f.name for f in arguments.files)) or str(settings.flows_dir)
    print(library.messages.cli.check_ok.format(files=names))


def check_warnings(library: Library) -> list[str]:
    """What would silently never show: a practice no rule can recall, a condition never true."""
    texts = library.messages.cli
    untriggered = library.practices.untriggered(source.flow for source in library.flows.values())
    lines = [
        texts.warning.format(
            file=PRACTICES_FILE, where=practice, problem=texts.warning_untriggered.format(practice=practice)
        )
        for practice in untriggered
    ]
    for flow_id, source in sorted(library.flows.items()):
        for fault in source.flow.never_true():
            where = (
                texts.warning_step.format(step=fault.name)
                if fault.place == "steps"
                else texts.warning_rule.format(number=fault.index + 1, practice=fault.name)
            )
            problem = getattr(texts, f"warning_{fault.kind}")
            problem = problem.format(step=fault.step, value=fault.value, test=fault.value)
            lines.append(texts.warning.format(file=f"{flow_id}.yaml", where=where, problem=problem))
    return lines


def schema(settings: Settings, arguments: argparse.Namespace) -> None:
    """Print the JSON Schema of a flow file, for editors that complete and check YAML."""
    print(json.dumps(Flow.model_json_schema(by_alias=True), ensure_ascii=False, indent=2))


def shell(settings: Settings, arguments: argparse.Namespace) -> None:
    """Play a flow in the terminal with the bot's engine, reminders and texts."""
    from bot.preview import Preview

    library = _library(settings.flows_dir)
    source = library.flows.get(arguments.flow)
    if source is None:
        print(
            library.messages.cli.unknown_flow.format(flow=arguments.flow, flows=", ".join(library.flows)),
            file=sys.stderr,
        )
        sys.exit(EXIT_INVALID_FILES)
    preview = Preview(library, library.engine(source.flow), iter(sys.stdin), sys.stdout, echo=not sys.stdin.isatty())
    preview.run(version=0, today=datetime.now(settings.zone).date())


def export(settings: Settings, arguments: argparse.Namespace) -> None:
    """Write a chat's partner register on standard output, the very file /export sends."""
    import asyncio

    from bot.catalog import FlowCatalog
    from bot.export import register_csv
    from bot.storage.db import Database, DatabaseUnavailable

    library = _library(settings.flows_dir)
    texts = library.register.export
    if not settings.database_path.exists():  # opening it would create an empty one
        print(texts.cli_no_database, file=sys.stderr)
        sys.exit(EXIT_NO_DATABASE)

    async def build() -> bytes:
        # Read-only: exporting neither migrates the live bot's database nor records the files
        # on disk as flow versions; each request is read with the version it was filed with.
        database = await Database.open(settings.database_path, read_only=True)
        try:
            catalog = FlowCatalog(database)
            catalog.read_only(library)
            document = await register_csv(database, catalog, settings.zone, arguments.chat)
        finally:
            await database.close()
        if document.count == 0:
            print(texts.cli_empty, file=sys.stderr)
        return document.content

    try:
        sys.stdout.buffer.write(asyncio.run(build()))
    except DatabaseUnavailable as failure:
        _database_failed(library, failure)


def import_(settings: Settings, arguments: argparse.Namespace) -> None:
    """Load a CSV list of partners into a chat's register: every line, or none if one is refused."""
    import asyncio

    from bot.catalog import FlowCatalog
    from bot.importer import import_register
    from bot.storage.db import AlreadyRunning, Database, DatabaseUnavailable

    library = _library(settings.flows_dir)
    texts = library.register.import_
    if not settings.database_path.exists():  # a mistyped DATABASE_PATH would get the partners
        print(library.register.export.cli_no_database, file=sys.stderr)
        sys.exit(EXIT_NO_DATABASE)
    try:
        content = arguments.file.read_bytes()
    except OSError as error:
        print(texts.unreadable.format(error=error), file=sys.stderr)
        sys.exit(EXIT_IMPORT_REFUSED)

    async def load() -> None:
        try:
            database = await Database.open(settings.database_path)
        except (DatabaseUnavailable, AlreadyRunning) as failure:
            _database_failed(library, failure)
        try:
            catalog = FlowCatalog(database)
            await catalog.use(library)
            today = datetime.now(settings.zone).date()
            report = await import_register(database, catalog, settings.zone, arguments.chat, content, today)
        finally:
            await database.close()
        if report.problem is not None:
            print(report.problem, file=sys.stderr)
            sys.exit(EXIT_IMPORT_REFUSED)
        if report.refusals:
            print(*report.refusals, texts.refused.format(count=len(report.refusals)), sep="\n", file=sys.stderr)
            sys.exit(EXIT_IMPORT_REFUSED)
        print(texts.done.format(count=report.imported, chat=arguments.chat))
        if report.already_there:
            print(texts.already_there.format(count=report.already_there))

    asyncio.run(load())


def backup(settings: Settings, arguments: argparse.Namespace) -> None:
    """Copy the database to PATH with SQLite's online backup: consistent even while the bot writes."""
    import sqlite3

    from bot.storage import db

    library = _library(settings.flows_dir)
    texts = library.messages.cli
    if not settings.database_path.exists():  # connecting would create an empty one
        print(library.register.export.cli_no_database, file=sys.stderr)
        sys.exit(EXIT_NO_DATABASE)
    if arguments.path.resolve() == settings.database_path.resolve():  # renaming onto it would corrupt it
        print(texts.backup_same_file.format(path=arguments.path), file=sys.stderr)
        sys.exit(EXIT_BACKUP_FAILED)
    try:
        db.backup(settings.database_path, arguments.path)
    except (db.BackupFailed, sqlite3.Error) as failure:
        print(texts.backup_failed.format(path=arguments.path, error=failure), file=sys.stderr)
        sys.exit(EXIT_BACKUP_FAILED)
    size = max(1, round(arguments.path.stat().st_size / 1024))
    print(texts.backup_done.format(path=arguments.path, size=size))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Telegram bot helping Colibris local groups discuss partnerships.",
    )
    parser.set_defaults(handler=run)
    commands = parser.add_subparsers(metavar="COMMAND")
    commands.add_parser("run", help="run the bot with long polling (default)").set_defaults(handler=run)
    checker = commands.add_parser("check", help="validate YAML files as the bot would; exit 1 on any error")
    checker.add_argument(
        "files",
        nargs="*",
        type=Path,
        metavar="FILE",
        help="files to check in place of FLOWS_DIR's (default: FLOWS_DIR as it is)",
    )
    checker.set_defaults(handler=check)
    commands.add_parser("schema", help="print the JSON Schema of the flow format").set_defaults(handler=schema)
    player = commands.add_parser("shell", help="play a flow in the terminal, without Telegram")
    player.add_argument("flow", nargs="?", default="demande_partenariat", help="flow id (default: %(default)s)")
    player.set_defaults(handler=shell)
    exporter = commands.add_parser("export", help="write a chat's partner register as CSV (UTF-8, ';') on stdout")
    exporter.add_argument(
        "--chat", type=int, required=True, metavar="CHAT_ID", help="the Telegram chat id (a group's starts with -100)"
    )
    exporter.set_defaults(handler=export)
    importer = commands.add_parser(
        "import", help="load a CSV list of partners (the export's columns) into a chat's register"
    )
    importer.add_argument(
        "--chat", type=int, required=True, metavar="CHAT_ID", help="the Telegram chat id (a group's starts with -100)"
    )
    importer.add_argument("file", type=Path, metavar="FILE.csv", help="UTF-8 or Windows-1252, ';' or ',' separated")
    importer.set_defaults(handler=import_)
    saver = commands.add_parser("backup", help="copy the database to PATH, consistently even while the bot runs")
    saver.add_argument("path", type=Path, metavar="PATH", help="the copy to write (replaced only once it is checked)")
    saver.set_defaults(handler=backup)
    arguments = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:  # a wrong .env value: say which, without a traceback
        print(error, file=sys.stderr)
        sys.exit(EXIT_CONFIGURATION)
    arguments.handler(settings, arguments)


if __name__ == "__main__":
    main()
