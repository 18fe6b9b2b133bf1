"""The parts of an update that a handler's registration guarantees, typed as present.

python-telegram-bot types every part of an ``Update`` as optional, since an update carries
one kind of content. A handler registered for commands always has a message, a sender and a
chat; one registered for button presses always has a callback query. These accessors say so
in one place, and fail loudly (into the error handler) should a registration ever let
another kind of update in.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, Message, Update, User


class MissingPart(LookupError):
    """The update lacks what its handler's registration promised: a bug in app.py."""

    def __init__(self, update: Update, part: str) -> None:
        super().__init__(f"update {update.update_id} has no {part}")


def message(update: Update) -> Message:
    """The message of a command, an answer or a press (an inaccessible one included)."""
    if (found := update.effective_message) is None:
        raise MissingPart(update, "message")
    return found


def sender(update: Update) -> User:
    """Who sent the message or pressed the button."""
    if (found := update.effective_user) is None:
        raise MissingPart(update, "user")
    return found


def chat(update: Update) -> Chat:
    """The chat the update happened in."""
    if (found := update.effective_chat) is None:
        raise MissingPart(update, "chat")
    return found


def press(update: Update) -> CallbackQuery:
    """The button press of a CallbackQueryHandler's update."""
    if (found := update.callback_query) is None:
        raise MissingPart(update, "callback query")
    return found
