"""After a crash Telegram sends again the updates the bot had not confirmed: they change nothing twice.

The bot confirms an update only once it is handled (see ``bot/handlers/redelivery.py``), so
an update whose changes were committed just before a crash comes again after the restart.
Here the same update is handed to the running application a second time, as the restarted
bot would receive it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

from telegram import Update

from tests.fake_telegram import BotMessage, FakeTelegram
from tests.integration.circle_scene import scene
from tests.integration.conftest import RunningBot
from tests.integration.test_admin_flows import reworded


async def redeliver(fake: FakeTelegram, bot: RunningBot, update: dict[str, Any]) -> list[BotMessage]:
    """Handle an already handled update again; what the bot sent for it."""
    sent = len(fake.sent)
    await bot.application.process_update(Update.de_json(update, bot.application.bot))
    await fake.idle()
    return fake.sent[sent:]


def stored(bot: RunningBot, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(bot.settings.database_path)) as database:
        return database.execute(sql).fetchall()


async def test_a_redelivered_extension_moves_the_deadline_once(fake: FakeTelegram, bot: RunningBot) -> None:
    staged = await scene(fake)
    await staged.file_request()
    await staged.open_round(staged.circle[0])
    fake.send(staged.admin, staged.group, "/prolonger 1 3")
    await staged.containing("prolongé de 3 jour(s)")
    extended = stored(bot, "SELECT deadline_at FROM consent_rounds")

    assert await redeliver(fake, bot, fake.updates[-1]) == []
    assert stored(bot, "SELECT deadline_at FROM consent_rounds") == extended


async def test_a_redelivered_upload_installs_one_version(fake: FakeTelegram, bot: RunningBot) -> None:
    chair = fake.add_user("Claude")
    group = fake.add_group("GL Gard", [chair], admins=[chair])
    fake.send_document(chair, group, "demande_partenariat.yaml", reworded(), caption="/flux")
    assert "Version 2" in (await fake.next_message(group)).plain_text

    assert await redeliver(fake, bot, fake.updates[-1]) == []
    assert stored(bot, "SELECT version FROM flow_versions WHERE source = 'upload'") == [(2,)]
