"""Command line of the partnership bot.

    python -m bot            run the bot (long polling)
    python -m bot --help     every command
    python -m bot export --chat ID
                             write a chat's partner register as CSV on standard output
"""

from __future__ import annotations

import argparse
import sys

from bot.config import Settings
from bot.core.library import Library, load_library
from bot.core.loading import InvalidFile

EXIT_INVALID_FILES = 1
EXIT_MISSING_TOKEN = 2
EXIT_NO_DATABASE = 3


def _library(settings: Settings) -> Library:
    """Load every YAML file, or print all their errors and exit: never start half-configured."""
    try:
        return load_library(settings.flows_dir)
    except InvalidFile as invalid:
        print(f"{settings.flows_dir}:", *invalid.lines(), sep="\n", file=sys.stderr)
        sys.exit(EXIT_INVALID_FILES)


def run(settings: Settings) -> None:
    """Run the bot with long polling until interrupted."""
    from bot.app import build_application
    from bot.logs import setup_logging

    library = _library(settings)
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value().strip():
        print(library.messages.system.missing_token, file=sys.stderr)
        sys.exit(EXIT_MISSING_TOKEN)
    setup_logging(settings.log_level, [settings.telegram_bot_token.get_secret_value()])
    application = build_application(settings, library)
    application.run_polling(allowed_updates=["message", "callback_query", "my_chat_member"],
                            timeout=settings.polling_timeout)


def export(settings: Settings, chat_id: int) -> None:
    """Write a chat's partner register on standard output, the very file /export sends."""
    import asyncio

    from bot.catalog import FlowCatalog
    from bot.export import register_csv
    from bot.storage.db import Database

    library = _library(settings)
    texts = library.register.export
    if not settings.database_path.exists():  # opening it would create an empty one
        print(texts.cli_no_database, file=sys.stderr)
        sys.exit(EXIT_NO_DATABASE)

    async def build() -> bytes:
        database = await Database.open(settings.database_path)
        try:
            catalog = FlowCatalog(database)
            await catalog.use(library)
            document = await register_csv(database, catalog, settings.zone, chat_id)
        finally:
            await database.close()
        if document.count == 0:
            print(texts.cli_empty, file=sys.stderr)
        return document.content

    sys.stdout.buffer.write(asyncio.run(build()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Telegram bot helping Colibris local groups discuss partnerships.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot with long polling (default)")
    exporter = commands.add_parser("export", help="write a chat's partner register as CSV (UTF-8, ';') on stdout")
    exporter.add_argument("--chat", type=int, required=True, metavar="CHAT_ID",
                          help="the Telegram chat id (a group's starts with -100)")
    arguments = parser.parse_args(argv)
    settings = Settings()
    if arguments.command in (None, "run"):
        run(settings)
    elif arguments.command == "export":
        export(settings, arguments.chat)


if __name__ == "__main__":
    main()
