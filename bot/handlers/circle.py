"""Who decides and who follows: /cercle (the core circle) and /coordination.

A bot cannot list a group's members, so the group's admins name them: they reply to one of
the person's messages with ``/cercle ajouter`` (or ``retirer``). A member may ask to join with
``/cercle rejoindre``, which an admin confirms with a button.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatID

from bot.core.consent_rules import Member
from bot.core.consent_texts import CircleTexts, CoordinationTexts
from bot.core.texts import render
from bot.handlers import callback_data, consent, consent_views, keyboards, permissions, updates
from bot.handlers.edits import edit_pressed, unchanged_ok
from bot.services import BotContext
from bot.storage import chats, circles
from bot.storage.circles import Roster


def _wording(context: BotContext, roster: Roster) -> CircleTexts | CoordinationTexts:
    texts = context.services.library.consent
    return texts.circle if roster is Roster.CIRCLE else texts.coordination


async def cercle(update: Update, context: BotContext) -> None:
    """Show the core circle, ask to join it, or (admins) add or remove a member by reply."""
    await _roster_command(update, context, Roster.CIRCLE)


async def coordination(update: Update, context: BotContext) -> None:
    """Show the coordinators, or (admins) add or remove one by reply."""
    await _roster_command(update, context, Roster.COORDINATION)


async def _roster_command(update: Update, context: BotContext, roster: Roster) -> None:
    message, chat = updates.message(update), updates.chat(update)
    texts = context.services.library.consent
    words = texts.subcommands
    if not await consent.in_group(update, context):
        return
    await context.services.database.write(lambda connection: chats.remember(connection, chat.id, chat.type, chat.title))
    action = context.args[0].casefold() if context.args else None
    if action is None:
        await _show(update, context, roster)
    elif action in words.join and roster is Roster.CIRCLE:
        await _ask_to_join(update, context)
    elif action in words.add or action in words.remove:
        await _change(update, context, roster, add=action in words.add)
    else:
        await message.reply_html(_wording(context, roster).usage)


async def _show(update: Update, context: BotContext, roster: Roster) -> None:
    wording = _wording(context, roster)
    members = await context.services.database.read(
        partial(circles.listed, roster=roster, chat_id=updates.chat(update).id)
    )
    text = (
        render(
            wording.roster,
            count=len(members),
            members=consent_views.plain_names(context.services.library.consent, members),
        )
        if members
        else wording.empty
    )
    await updates.message(update).reply_html(text)


# Accounts Telegram uses as senders that are nobody: 777000 forwards a channel's posts into its
# discussion group (not flagged is_bot), the others stand for a channel or an anonymous admin.
NOT_PEOPLE = frozenset({ChatID.SERVICE_CHAT, ChatID.FAKE_CHANNEL, ChatID.ANONYMOUS_ADMIN})


def _replied_to(message: Message) -> Message | None:
    """The message an admin replied to, if they did: in a forum topic, Telegram makes every
    message that replies to nothing a reply to the topic's creation message."""
    replied = message.reply_to_message
    if (
        replied is None
        or replied.forum_topic_created is not None
        or (message.is_topic_message and replied.message_id == message.message_thread_id)
    ):
        return None
    return replied


async def _change(update: Update, context: BotContext, roster: Roster, *, add: bool) -> None:
    """Add or remove the author of the replied-to message (admins only)."""
    message, chat = updates.message(update), updates.chat(update)
    circle_texts = context.services.library.consent.circle
    wording = _wording(context, roster)
    if not await permissions.is_chat_admin(context, chat, updates.sender(update).id):
        await message.reply_html(circle_texts.admins_only)
        return
    replied = _replied_to(message)
    if replied is None or replied.from_user is None:
        command = " ".join((message.text or "").split()[:2])
        await message.reply_html(render(circle_texts.reply_needed, command=command))
        return
    target = replied.from_user
    if target.is_bot or target.id in NOT_PEOPLE or replied.sender_chat is not None:
        await message.reply_html(circle_texts.not_a_person)
        return
    member = Member(target.id, target.full_name)
    if add:
        change = partial(circles.add, roster=roster, chat_id=chat.id, member=member)
    else:
        change = partial(circles.remove, roster=roster, chat_id=chat.id, user_id=member.user_id)
    changed = await context.services.database.write(change, update.update_id)
    template = (
        (wording.added if changed else wording.already) if add else (wording.removed if changed else wording.not_member)
    )
    markup = None
    if add and changed and roster is Roster.COORDINATION:
        # Summaries go to a private chat, which only the coordinator can open.
        markup = consent_views.start_keyboard(context.services.library.consent, context.bot.username)
    await message.reply_html(
        render(template, member=keyboards.mention(member.user_id, member.name)), reply_markup=markup
    )


async def _ask_to_join(update: Update, context: BotContext) -> None:
    message, chat, user = updates.message(update), updates.chat(update), updates.sender(update)
    texts = context.services.library.consent.circle
    member = Member(user.id, user.full_name)
    mention = keyboards.mention(user.id, user.full_name)

    def ask(connection: sqlite3.Connection) -> bool | None:
        """None when they are in the circle already, else whether a new request to join was recorded."""
        if circles.contains(connection, Roster.CIRCLE, chat.id, user.id):
            return None
        return circles.ask_to_join(connection, chat.id, member)

    asked = await context.services.database.write(ask, update.update_id)
    if asked is None:
        await message.reply_html(render(texts.already, member=mention))
        return
    if not asked:
        await message.reply_html(render(texts.join_pending, member=mention))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [
                keyboards.button(texts.button_accept, callback_data.CircleJoin(user_id=user.id, answer="yes")),
                keyboards.button(texts.button_refuse, callback_data.CircleJoin(user_id=user.id, answer="no")),
            ]
        ]
    )
    await message.reply_html(render(texts.join_request, member=mention), reply_markup=keyboard)


async def join_press(update: Update, context: BotContext) -> None:
    """Accept or refuse a request to join the core circle (admins only)."""
    query, chat = updates.press(update), updates.chat(update)
    payload = callback_data.on_its_message(query, database_checks=True)  # the join request's row decides
    assert payload is None or isinstance(payload, callback_data.CircleJoin)  # the handler's pattern
    texts = context.services.library.consent.circle
    if payload is None:
        await query.answer(texts.join_gone, show_alert=True)
        return
    if not await permissions.is_chat_admin(context, chat, query.from_user.id):
        await query.answer(texts.join_admins_only, show_alert=True)
        return
    accepted = payload.answer == "yes"

    def answer(connection: sqlite3.Connection) -> Member | None:
        member = circles.take_join_request(connection, chat.id, payload.user_id)
        if member is not None and accepted:
            circles.add(connection, Roster.CIRCLE, chat.id, member)
        return member

    member = await context.services.database.write(answer, update.update_id)
    if member is None:
        await query.answer(texts.join_gone, show_alert=True)
        return
    await query.answer()
    template = texts.join_accepted if accepted else texts.join_refused
    await unchanged_ok(
        edit_pressed(
            query,
            render(template, member=keyboards.mention(member.user_id, member.name), admin=query.from_user.full_name),
        )
    )
