"""A bare python-telegram-bot application polling with one echo handler: the start-up floor.

Reads the same environment variables as the bot (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_BASE_URL``).
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send back the text of whatever arrived (a message, or the message under a pressed button)."""
    message = update.effective_message
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, (message.text if message else None) or "…")


def main() -> None:
    builder = ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"])
    if os.environ.get("TELEGRAM_BASE_URL"):
        builder = builder.base_url(os.environ["TELEGRAM_BASE_URL"])
    application = builder.build()
    application.add_handler(TypeHandler(Update, echo))
    application.run_polling(timeout=1)


if __name__ == "__main__":
    main()
