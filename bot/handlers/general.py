"""What the bot is: /start and /aide."""

from __future__ import annotations

from telegram import Chat, Message, Update
from telegram.constants import BotCommandLimit

from bot.core.texts import render
from bot.handlers import intake, updates
from bot.services import BotContext


def _command_for_this_bot(context: BotContext, message: Message) -> str | None:
    """The command a message begins with (``/x``, of ``/x@bot`` too) when it is this bot's to
    answer: always in private, in a group only when it names this bot, since a bare ``/x``
    there may be meant for another bot; None otherwise."""
    command, _, addressee = (message.text or "").split(maxsplit=1)[0].partition("@")
    if message.chat.type == Chat.PRIVATE or addressee.casefold() == (context.bot.username or "").casefold():
        return command
    return None


async def start(update: Update, context: BotContext) -> None:
    """Greet a member (in a group, when /start names this bot), or, in private, open the flow a
    deep link asks for."""
    message = updates.message(update)
    if _command_for_this_bot(context, message) is None:
        return
    if message.chat.type == Chat.PRIVATE and await intake.start_private(update, context):
        return
    await message.reply_html(context.services.messages.system.start)


async def help_command(update: Update, context: BotContext) -> None:
    """Explain what the bot does and its commands (/aide)."""
    await updates.message(update).reply_html(context.services.messages.system.help)


async def stale_button(update: Update, context: BotContext) -> None:
    """Answer a press no handler recognises (forged, or from an older version) as stale."""
    await updates.press(update).answer(context.services.messages.intake.stale_button, show_alert=True)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point to /aide on a command no handler knows, when it is this bot's to answer."""
    message = updates.message(update)
    command = _command_for_this_bot(context, message)
    if command is None:
        return
    # No command a bot can list is longer than this; a longer one (a forged update), echoed
    # whole, could pass the 4096 characters a message holds, and Telegram would refuse it.
    command = command[: BotCommandLimit.MAX_COMMAND + 1]
    await message.reply_html(render(context.services.messages.system.unknown_command, command=command))
