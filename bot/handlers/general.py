"""What the bot is: /start and /aide."""

from __future__ import annotations

from telegram import Chat, Update

from bot.core.texts import render
from bot.handlers import intake
from bot.services import BotContext


async def start(update: Update, context: BotContext) -> None:
    """Greet a member in private, or open the flow a deep link asks for."""
    if not await intake.start_private(update, context):
        await update.effective_message.reply_html(context.services.messages.system.start)


async def help_command(update: Update, context: BotContext) -> None:
    """Explain what the bot does and its commands (/aide)."""
    await update.effective_message.reply_html(context.services.messages.system.help)


async def stale_button(update: Update, context: BotContext) -> None:
    """Answer a press no handler recognises (forged, or from an older version) as stale."""
    await update.callback_query.answer(context.services.messages.intake.stale_button, show_alert=True)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point to /aide on a command no handler knows: always in private, in a group only when
    it names this bot (``/x@bot``), since a bare ``/x`` there may be meant for another bot."""
    message = update.effective_message
    command, _, addressee = message.text.split(maxsplit=1)[0].partition("@")
    if message.chat.type != Chat.PRIVATE and addressee.casefold() != (context.bot.username or "").casefold():
        return
    await message.reply_html(render(context.services.messages.system.unknown_command, command=command))
