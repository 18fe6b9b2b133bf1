"""Who decides and who follows: /cercle (the core circle) and /coordination.

A bot cannot list a group's members, so the group's admins name them: they reply to one of
the person's messages with ``/cercle ajouter`` (or ``retirer``). A member may ask to join with
``/cercle rejoindre``, which an admin confirms with a button.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatID

from bot.core.consent_rules import Member
from bot.core.consent_texts import CircleTexts, CoordinationTexts
from bot.core.texts import render
from bot.handlers import callback_data, consent, consent_views, keyboards, permissions
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
    message, chat = update.effective_message, update.effective_chat
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
    members = await circles.members(context.services.database, roster, update.effective_chat.id)
    text = (
        render(
            wording.roster,
            count=len(members),
            members=consent_views.plain_names(context.services.library.consent, members),
        )
        if members
        else wording.empty
    )
    await update.effective_message.reply_html(text)


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
    message, chat = update.effective_message, update.effective_chat
    circle_texts = context.services.library.consent.circle
    wording = _wording(context, roster)
    if not await permissions.is_chat_admin(context, chat, update.effective_user.id):
        await message.reply_html(circle_texts.admins_only)
        return
    replied = _replied_to(message)
    if replied is None or replied.from_user is None:
        command = " ".join(message.text.split()[:2])
        await message.reply_html(render(circle_texts.reply_needed, command=command))
        return
    target = replied.from_user
    if target.is_bot or target.id in NOT_PEOPLE or replied.sender_chat is not None:
        await message.reply_html(circle_texts.not_a_person)
        return
    member = Member(target.id, target.full_name)
    async with context.services.database.transaction(update.update_id) as connection:
        if add:
            changed = await circles.add(connection, roster, chat.id, member)
        else:
            changed = await circles.remove(connection, roster, chat.id, member.user_id)
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
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    texts = context.services.library.consent.circle
    database = context.services.database
    member = Member(user.id, user.full_name)
    mention = keyboards.mention(user.id, user.full_name)
    if await circles.contains(database, Roster.CIRCLE, chat.id, user.id):
        await message.reply_html(render(texts.already, member=mention))
        return
    async with database.transaction(update.update_id) as connection:
        asked = await circles.ask_to_join(connection, chat.id, member)
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
    query, chat = update.callback_query, update.effective_chat
    payload = callback_data.on_its_message(query, database_checks=True)  # the join request's row decides
    texts = context.services.library.consent.circle
    if payload is None:
        await query.answer(texts.join_gone, show_alert=True)
        return
    if not await permissions.is_chat_admin(context, chat, query.from_user.id):
        await query.answer(texts.join_admins_only, show_alert=True)
        return
    async with context.services.database.transaction(update.update_id) as connection:
        member = await circles.take_join_request(connection, chat.id, payload.user_id)
        if member is not None and payload.answer == "yes":
            await circles.add(connection, Roster.CIRCLE, chat.id, member)
    if member is None:
        await query.answer(texts.join_gone, show_alert=True)
        return
    await query.answer()
    template = texts.join_accepted if payload.answer == "yes" else texts.join_refused
    await unchanged_ok(
        edit_pressed(
            query,
            render(template, member=keyboards.mention(member.user_id, member.name), admin=query.from_user.full_name),
        )
    )
