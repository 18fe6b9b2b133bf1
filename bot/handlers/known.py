"""Recording a partner the group already has or had: the short flow of /partenaire_connu.

The seed's Strasbourg story: listing every organisation the group had cooperated with
changed how it saw itself. Those partners were never a request: they go into the register
as they are, marked as recorded without a consent round, and get no consent card.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from telegram import Update

from bot.core.flow_engine import FlowEngine
from bot.core.register_rules import FLOW_OF_ORIGIN, Origin, known_status
from bot.core.texts import render
from bot.handlers import flow_view, keyboards
from bot.rounds.ports import Acknowledge, acknowledge
from bot.services import BotContext
from bot.storage import chats, home_topics, requests
from bot.storage.requests import PartnershipRequest
from bot.storage.sessions import FlowSession

FLOW_ID = FLOW_OF_ORIGIN[Origin.KNOWN]


async def record(
    update: Update,
    context: BotContext,
    session: FlowSession,
    engine: FlowEngine,
    answers: Mapping[str, Any],
    answer: Acknowledge | None = None,
) -> None:
    """Store the known partner, end the flow, and tell the group it is in the register (and
    the member, when recorded in private)."""
    services = context.services
    flow = engine.flow

    def file(connection: sqlite3.Connection) -> tuple[PartnershipRequest, str | None]:
        # Recorded in private or in General: the message goes to the group's home topic, if any.
        thread_id = home_topics.destination(connection, session.origin_chat_id, flow_view.thread(session))
        entry = requests.file_session(
            connection,
            session,
            flow,
            answers,
            status=known_status(flow, answers),
            origin=Origin.KNOWN,
            thread_id=thread_id,
        )
        return entry, chats.title(connection, session.origin_chat_id)  # named to a member recording in private

    entry, group = await services.database.write(file, update.update_id)
    await acknowledge(answer)
    text = render(
        services.library.register.known.recorded,
        title=flow.title,
        number=entry.number,
        lines=engine.card_lines(answers),
        author=keyboards.mention(entry.author_id, entry.author_name),
    )
    message = await context.bot.send_message(entry.chat_id, text, message_thread_id=entry.thread_id)
    await services.database.write(
        lambda connection: requests.set_card_message(connection, entry.id, message.message_id)
    )
    if session.origin_chat_id != session.chat_id:
        await context.bot.send_message(
            session.chat_id,
            render(services.library.register.known.recorded_in_group, number=entry.number, group=group or ""),
        )
