"""Self-test of the fake Telegram Bot API server against the real python-telegram-bot stack."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.handlers import updates
from bot.services import BotApplication
from tests.fake_telegram import FakeTelegram, HtmlParseError, parse_html

# ------------------------------------------------------------------------------------------------
# a minimal bot
# ------------------------------------------------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = updates.message(update)
    assert message.text is not None  # registered for text messages
    await message.reply_text(f"<b>echo</b>: {html.escape(message.text)}", parse_mode="HTML")


async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await updates.message(update).reply_text("pong")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Oui", callback_data="yes"),
                InlineKeyboardButton("Non", callback_data="no"),
            ]
        ]
    )
    await updates.message(update).reply_text("Continuer ?", reply_markup=keyboard)


async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await updates.message(update).reply_text("Quel est le nom du partenaire ?", reply_markup=ForceReply(selective=True))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = updates.press(update)
    await query.answer(text=f"choisi : {query.data}")
    await query.edit_message_text(f"Vous avez choisi {query.data}")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = updates.message(update)
    document = message.document
    assert document is not None  # registered for documents
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    await message.reply_document(
        document=data.upper(),
        filename=f"echo-{document.file_name}",
        caption=f"{len(data)} octets",
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[BotApplication]:
    application: BotApplication = (
        ApplicationBuilder().token(fake.token).base_url(fake.base_url).base_file_url(fake.base_file_url).build()
    )
    application.add_handler(CommandHandler("ping", ping))
    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(CommandHandler("ask", ask))
    application.add_handler(MessageHandler(filters.Document.ALL, on_document))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    application.add_handler(CallbackQueryHandler(on_button))
    await application.initialize()
    await application.start()
    updater = application.updater
    assert updater is not None  # the builder makes one unless told not to
    await updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield application
    finally:
        await updater.stop()
        await application.stop()
        await application.shutdown()


# ------------------------------------------------------------------------------------------------
# tests through the Application
# ------------------------------------------------------------------------------------------------


async def test_private_message_is_echoed(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice", username="alice")
    fake.send(alice, fake.private_chat(alice), "Bonjour <toi> & moi")
    message = await fake.next_message(alice)
    assert message.text == "<b>echo</b>: Bonjour &lt;toi&gt; &amp; moi"
    assert message.plain_text == "echo: Bonjour <toi> & moi"
    assert message.parse_mode == "HTML"
    assert message.entities == [{"type": "bold", "offset": 0, "length": 4}]

    fake.send(alice, alice, "/ping")
    assert (await fake.next_message(alice)).text == "pong"
    assert ("getMe", {}) in fake.calls
    assert [m.text for m in fake.messages_in(alice)] == [message.text, "pong"]


async def test_privacy_mode_in_groups(fake: FakeTelegram, app: BotApplication) -> None:
    alice, bob = fake.add_user("Alice"), fake.add_user("Bob")
    group = fake.add_group("Colibris Lyon", members=[alice, bob], creator=alice)

    plain = fake.send(bob, group, "juste une discussion")
    await fake.idle()
    assert fake.messages_in(group) == []
    assert fake.dropped[-1]["message_id"] == plain["message_id"]

    fake.send(alice, group, "/ping@colibris_test_bot")
    pong = await fake.next_message(group)
    assert pong.text == "pong"
    assert pong.reply_to_message_id is not None  # PTB quotes in groups

    fake.send(alice, group, "/ping@other_bot")  # for another bot: not delivered
    fake.send(bob, group, "réponse au bot", reply_to=pong)
    echoed = await fake.next_message(group)
    assert echoed.plain_text == "echo: réponse au bot"
    await fake.idle()
    assert len(fake.messages_in(group)) == 2


async def test_button_press_is_answered_and_message_edited(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice")
    fake.send(alice, alice, "/menu")
    message = await fake.next_message(alice)
    assert message.button_texts() == ["Oui", "Non"]
    assert message.buttons()[0][1] == {"text": "Non", "callback_data": "no"}

    query_id = fake.press(alice, message, "Oui")
    answer = await fake.callback_answer(query_id)
    assert answer["text"] == "choisi : yes"
    await fake.wait_edit(message)
    assert message.text == "Vous avez choisi yes"
    assert message.buttons() == []  # edit without reply_markup removes the keyboard
    assert message.edits[-1]["method"] == "editMessageText"

    with pytest.raises(AssertionError, match="no button"):
        fake.press(alice, message, "Peut-être")


async def test_force_reply_then_answer_in_group(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("Colibris", members=[alice])
    fake.send(alice, group, "/ask")
    question = await fake.next_message(group)
    assert question.is_force_reply()
    assert question.reply_markup == {"force_reply": True, "selective": True}
    fake.send(alice, group, "La Ruche", reply_to=question)
    assert (await fake.next_message(group)).plain_text == "echo: La Ruche"


async def test_document_round_trip(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice")
    fake.send_document(alice, alice, "notes.txt", b"hello world", caption="mes notes")
    reply = await fake.next_message(alice)
    assert reply.document is not None
    assert reply.document["file_name"] == "echo-notes.txt"
    assert reply.document["content"] == b"HELLO WORLD"
    assert reply.document["caption"] == "11 octets"
    methods = [method for method, _ in fake.calls]
    assert methods.index("getFile") < methods.index("sendDocument")


# PTB itself warns about RetryAfter.retry_after becoming a timedelta (unless PTB_TIMEDELTA=1)
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_bot_api_errors(fake: FakeTelegram, app: BotApplication) -> None:
    bot = app.bot
    alice, stranger = fake.add_user("Alice"), fake.add_user("Stranger")
    fake.send(alice, alice, "/ping")
    await fake.next_message(alice)

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: unsupported start tag"):
        await bot.send_message(alice.id, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(alice.id, "Tom & Jerry", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(alice.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(42, "hello")
    with pytest.raises(Forbidden, match=r"(?i)bot can't initiate conversation with a user"):
        await bot.send_message(stranger.id, "hello")
    fake.block_bot(alice)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(alice.id, "hello")
    fake.unblock_bot(alice)

    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "hello")
    sent = await bot.send_message(alice.id, "1 &lt; 2", parse_mode="HTML")
    assert sent.text == "1 < 2"
    assert fake.errors[-1][2]["error_code"] == 429

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("1 &lt; 2", alice.id, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", alice.id, 9999)


async def test_migration_raises_chat_migrated(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice")
    group = fake.add_group("Vieux groupe", members=[], creator=alice, supergroup=False)
    assert group.type == "group"
    new = fake.migrate_to_supergroup(group)
    assert new.type == "supergroup" and new.id < -1000000000000
    with pytest.raises(ChatMigrated) as excinfo:
        await app.bot.send_message(group.id, "hello")
    assert excinfo.value.new_chat_id == new.id
    await app.bot.send_message(new.id, "hello")
    await fake.idle()  # both service messages were delivered despite privacy mode
    kinds = [u["message"] for u in fake.updates if "message" in u]
    assert kinds[0]["migrate_to_chat_id"] == new.id
    assert kinds[1]["migrate_from_chat_id"] == group.id


async def test_members_and_admins(fake: FakeTelegram, app: BotApplication) -> None:
    alice, bob, carol = fake.add_user("Alice"), fake.add_user("Bob"), fake.add_user("Carol")
    group = fake.add_group("G", members=[carol], admins=[bob], creator=alice)
    bot = app.bot
    assert (await bot.get_chat_member(group.id, alice.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, bob.id)).status == "administrator"
    assert (await bot.get_chat_member(group.id, carol.id)).status == "member"
    assert (await bot.get_chat_member(group.id, bot.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert [a.user.id for a in admins] == [alice.id, bob.id]
    chat = await bot.get_chat(group.id)
    assert chat.title == "G" and chat.type == "supergroup"
    await bot.set_my_commands([("ping", "Ping")])
    assert [c.command for c in await bot.get_my_commands()] == ["ping"]


async def test_next_message_timeout_lists_calls(fake: FakeTelegram, app: BotApplication) -> None:
    alice = fake.add_user("Alice")
    with pytest.raises(AssertionError, match="getMe"):
        await fake.next_message(alice, timeout=0.2)


# ------------------------------------------------------------------------------------------------
# pure unit tests of the HTML parser
# ------------------------------------------------------------------------------------------------


def test_parse_html_entities_and_errors() -> None:
    text, entities = parse_html('<b>gras <i>ita</i></b> <a href="https://x.org/?a=1&amp;b=2">lien</a>')
    assert text == "gras ita lien"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 8},
        {"type": "italic", "offset": 5, "length": 3},
        {"type": "text_link", "offset": 9, "length": 4, "url": "https://x.org/?a=1&b=2"},
    ]
    assert parse_html("&#128512; &lt;3 😀")[0] == "😀 <3 😀"
    for bad in ("<b>unclosed", "<b>x</i>", "</b>", "<script>", "a <3", '<span class="x">y</span>'):
        with pytest.raises(HtmlParseError):
            parse_html(bad)
    assert parse_html("AT&T", strict_ampersand=False)[0] == "AT&T"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_always_parses_back(text: str) -> None:
    assert parse_html(html.escape(text))[0] == text


async def test_photos_are_uploaded_and_refused_as_telegram_does(fake: FakeTelegram, app: BotApplication) -> None:
    import io

    from PIL import Image

    def image(width: int, height: int, file_format: str) -> bytes:
        buffer = io.BytesIO()
        Image.new("L", (width, height), 255).save(buffer, format=file_format)
        return buffer.getvalue()

    bot = app.bot
    alice = fake.add_user("Alice")
    fake.send(alice, alice, "/ping")
    await fake.next_message(alice)
    png = image(1080, 2000, "png")
    sent = await bot.send_photo(alice.id, png, caption="<b>Registre</b>", parse_mode="HTML")
    assert (sent.photo[-1].width, sent.photo[-1].height, sent.caption) == (1080, 2000, "Registre")
    (message,) = [m for m in fake.messages_in(alice) if m.document and m.document.get("photo")]
    assert message.document is not None
    assert message.document["content"] == png and message.plain_text == "Registre"
    jpeg = image(1080, 1500, "jpeg")
    sent = await bot.send_photo(alice.id, jpeg)
    assert (sent.photo[-1].width, sent.photo[-1].height) == (1080, 1500)
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(alice.id, image(1080, 9000, "png"))
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(alice.id, image(100, 2100, "jpeg"))
    for no_image in (b"not an image at all", jpeg[: len(jpeg) // 2], png[: len(png) // 2]):  # cut short
        with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
            await bot.send_photo(alice.id, no_image)
