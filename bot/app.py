"""Build the Telegram application: settings, services and every handler, in one place."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from pydantic import SecretStr
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.catalog import FlowCatalog
from bot.config import Settings
from bot.core.library import Library
from bot.handlers import (
    admin,
    amend,
    attach,
    callback_data,
    circle,
    consent,
    errors,
    general,
    groups,
    intake,
    migration,
    outbox_sender,
    practices,
    privacy,
    redelivery,
    register,
    replies,
    request_lists,
    reviews,
    topics,
)
from bot.services import BotApplication, BotContext, Services, jobs
from bot.storage import outbox
from bot.storage.db import Database

logger = logging.getLogger(__name__)

COMMANDS_JOB = "command-menu"
PURGE_JOB, PURGE_EVERY = "purge", timedelta(days=1)

# Edited messages and channel posts are not answers: handlers only see new messages.
NEW = filters.UpdateType.MESSAGE
PRIVATE = filters.ChatType.PRIVATE
GROUPS = filters.ChatType.GROUPS
# In groups the bot sees (privacy mode) only replies to its messages: those are answers.
ANSWER = NEW & ~filters.COMMAND & (PRIVATE | (GROUPS & filters.REPLY))
# An admin's flow upload: a document captioned /flux (not an answer to a question).
UPLOAD_CAPTION = filters.CaptionRegex(r"^/flux(@\w+)?(\s|$)")
NOT_TEXT = ANSWER & ~filters.TEXT & ~filters.StatusUpdate.ALL & ~UPLOAD_CAPTION


def _pressed(kind: type) -> Callable[[object], bool]:
    """A CallbackQueryHandler pattern matching one kind of payload of ``render.decode``."""
    return lambda data: isinstance(callback_data.decode(data), kind)


# What Telegram sends the bot, in both modes: nothing it has no handler for.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


class ConstantTimeSecret(str):
    """The webhook secret, compared in constant time.

    python-telegram-bot checks each request's X-Telegram-Bot-Api-Secret-Token header with
    ``header != secret``: a plain string comparison stops at the first differing character,
    so its timing tells a patient attacker how much of a guess is right. When the right-hand
    operand's type is a subclass of the left one's, Python calls the subclass's method first:
    PTB's comparison comes here, to ``hmac.compare_digest``. Sent to Telegram (setWebhook), it
    is the plain string it holds.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and hmac.compare_digest(self.encode(), other.encode())

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


def _secret(value: SecretStr | None, name: str) -> str:
    """A setting Settings requires where it is used (the token always, the secret with a webhook)."""
    if value is None:
        raise ValueError(f"{name} is not set")
    return value.get_secret_value()


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Where the webhook server listens and what Telegram is told (run_webhook's arguments)."""
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": settings.webhook_path,
        "webhook_url": settings.webhook_url,
        "secret_token": ConstantTimeSecret(_secret(settings.webhook_secret, "WEBHOOK_SECRET")),
        "allowed_updates": ALLOWED_UPDATES,
    }


# At start-up Telegram may be out of reach for a while (the network not up yet after a
# reboot, a 5xx, a timeout): getMe, then deleteWebhook or setWebhook, are tried again and
# again, waiting longer each time (up to 30 s, python-telegram-bot's network retry loop).
# A rejected token (InvalidToken) is never retried.
RETRY_FOR_EVER = -1


def serve(application: BotApplication, settings: Settings) -> None:
    """Run until interrupted: webhook when WEBHOOK_URL is set, long polling otherwise."""
    if settings.webhook_url:
        application.run_webhook(**webhook_options(settings), bootstrap_retries=RETRY_FOR_EVER)
    else:
        application.run_polling(
            allowed_updates=ALLOWED_UPDATES, timeout=settings.polling_timeout, bootstrap_retries=RETRY_FOR_EVER
        )


class StartingApplication(BotApplication):
    """The Application, saying why Telegram could not be reached at start-up: the bootstrap's
    retry loop tries again but logs the reason at DEBUG only."""

    async def initialize(self) -> None:
        try:
            await super().initialize()
        except InvalidToken:
            raise
        except TelegramError as error:
            logger.warning("Telegram cannot be reached at start-up (%s); trying again", error)
            raise

    async def stop(self) -> None:
        # PTB's JobQueue.stop waits for the running jobs, then APScheduler's shutdown cancels
        # any job that fell due meanwhile, logging it as an error. Held from now on, such a
        # job's work is done at the next start: Rounds.recover redraws the open rounds and
        # the outbox sends what is pending.
        if self.job_queue is not None and self.job_queue.scheduler.running:
            self.job_queue.scheduler.pause()
        await super().stop()


def _bot(
    settings: Settings,
    ledger: redelivery.HandledQueue,
    limiter: migration.FollowingRateLimiter,
    request: BaseRequest | None,
) -> ExtBot[Any]:
    """The bot, built here rather than by ApplicationBuilder: its polls confirm only finished updates."""
    get_updates_request: BaseRequest
    if request is None:
        # One TLS context for both clients, each of which would load the certificate
        # authorities again: 40 ms of start-up apiece.
        shared_tls = {"verify": httpx.create_ssl_context()}
        # A call that hangs ends in TimedOut (the outbox sends its message again); tests shorten it.
        timeout = settings.telegram_timeout_seconds
        request = HTTPXRequest(
            connection_pool_size=256,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            httpx_kwargs=shared_tls,
        )
        get_updates_request = HTTPXRequest(connection_pool_size=1, httpx_kwargs=shared_tls)  # PTB's own for polling
    else:
        get_updates_request = request
    urls = {
        name: value
        for name, value in (
            ("base_url", settings.telegram_base_url),
            ("base_file_url", settings.telegram_base_file_url),
        )
        if value
    }
    return redelivery.AcknowledgingBot(
        ledger,
        token=_secret(settings.telegram_bot_token, "TELEGRAM_BOT_TOKEN"),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            tzinfo=settings.zone,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            allow_sending_without_reply=True,
        ),
        rate_limiter=limiter,
        request=request,
        get_updates_request=get_updates_request,
        **urls,
    )


def build_application(settings: Settings, library: Library, *, request: BaseRequest | None = None) -> BotApplication:
    """The bot's application; ``request`` replaces HTTP to Telegram (the benchmark answers in process)."""
    # Telegram's updates are confirmed only once handled: a crash loses none of them. Different
    # chats' updates run concurrently, each chat's in order (bot/handlers/redelivery.py).
    ledger = redelivery.HandledQueue(acknowledge_each=bool(settings.webhook_url))
    limiter = migration.FollowingRateLimiter(
        overall_max_rate=settings.rate_limit_overall_per_second,
        group_max_rate=settings.rate_limit_group_per_minute,
        max_retries=settings.rate_limit_max_retries,
    )
    application = (
        ApplicationBuilder()
        .application_class(StartingApplication)
        .bot(_bot(settings, ledger, limiter, request))
        .context_types(ContextTypes(context=BotContext))
        .update_queue(ledger)
        .concurrent_updates(redelivery.ChatOrderedProcessor(ledger, settings.concurrent_updates))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    redelivery.require_acknowledgement(application)
    # A group that became a supergroup: the limiter moves its rows before calling again.
    limiter.on_migrated = partial(migration.follow, application)
    # A forum topic deleted or closed: forgotten, and the limiter sends to General instead.
    limiter.on_topic_lost = partial(topics.topic_lost, application)
    application.bot_data["settings"] = settings
    application.bot_data["library"] = library
    # Every kind of outbox delivery and who hears of its fate; each registered once.
    outbox_sender.register_kinds(application, [*consent.OUTBOX_KINDS, *reviews.OUTBOX_KINDS])

    # --- every handler, in one place --------------------------------------------------
    # First of all: an update redelivered after a crash whose changes are stored stops here.
    application.add_handler(TypeHandler(Update, redelivery.skip_handled), group=-2)
    # Help and deep links.
    application.add_handler(CommandHandler("start", general.start, filters=NEW))
    application.add_handler(CommandHandler(["aide", "help"], general.help_command, filters=NEW))
    # Logging a request: start, answer, go back, cancel, buttons.
    application.add_handler(CommandHandler("partenariat", intake.partenariat, filters=NEW))
    application.add_handler(CommandHandler("retour", intake.back, filters=NEW))
    application.add_handler(CommandHandler("annuler", intake.cancel, filters=NEW))
    # A typed answer: to a consent round's reason prompt, else to the member's flow.
    application.add_handler(MessageHandler(ANSWER & filters.TEXT, replies.typed))
    application.add_handler(MessageHandler(NOT_TEXT, intake.answer_not_text))
    application.add_handler(CallbackQueryHandler(intake.answer_here, pattern=_pressed(callback_data.AnswerHere)))
    application.add_handler(CallbackQueryHandler(intake.press, pattern=_pressed(callback_data.FlowPress)))
    # The chat's requests.
    application.add_handler(CommandHandler("demandes", request_lists.list_requests, filters=NEW))
    application.add_handler(CommandHandler("demande", request_lists.show_request, filters=NEW))
    application.add_handler(CallbackQueryHandler(request_lists.turn_page, pattern=_pressed(callback_data.ListPage)))
    # Personal data: what is kept about me, and erasing it.
    application.add_handler(CommandHandler("mes_donnees", privacy.my_data, filters=NEW))
    application.add_handler(CommandHandler("oublier", privacy.forget_me, filters=NEW))
    application.add_handler(CallbackQueryHandler(privacy.confirm_forget, pattern=_pressed(callback_data.ForgetMe)))
    # Good practices.
    application.add_handler(CommandHandler("bonnes_pratiques", practices.catalogue, filters=NEW))
    application.add_handler(CallbackQueryHandler(practices.show, pattern=_pressed(callback_data.PracticePage)))
    # The partner register, its CSV export, review dates and the follow-ups' buttons.
    application.add_handler(CommandHandler("partenaires", register.partners, filters=NEW))
    application.add_handler(CallbackQueryHandler(register.turn_page, pattern=_pressed(callback_data.RegisterPage)))
    application.add_handler(CommandHandler("export", register.export, filters=NEW))
    application.add_handler(CommandHandler("revision", reviews.revision, filters=NEW))
    application.add_handler(CallbackQueryHandler(reviews.answer, pattern=_pressed(callback_data.ReviewPress)))
    # Admins change flows: reload the files, upload a version (caption /flux), list, roll back.
    application.add_handler(CommandHandler("recharger", admin.reload_files, filters=NEW))
    application.add_handler(CommandHandler("flux", admin.flows_command, filters=NEW))
    application.add_handler(MessageHandler(NEW & filters.Document.ALL & UPLOAD_CAPTION, admin.upload))
    # The core circle and the coordinators (admins change them by replying to a member).
    application.add_handler(CommandHandler("cercle", circle.cercle, filters=NEW))
    application.add_handler(CommandHandler("coordination", circle.coordination, filters=NEW))
    application.add_handler(CallbackQueryHandler(circle.join_press, pattern=_pressed(callback_data.CircleJoin)))
    # Consent rounds: open, take a position, give its reason, close, extend, remind, review.
    application.add_handler(CommandHandler("consentement", consent.open_command, filters=NEW))
    application.add_handler(CallbackQueryHandler(consent.open_press, pattern=_pressed(callback_data.OpenConsent)))
    application.add_handler(CallbackQueryHandler(consent.press, pattern=_pressed(callback_data.ConsentPress)))
    application.add_handler(CommandHandler("clore", consent.close_command, filters=NEW))
    application.add_handler(CommandHandler("prolonger", consent.extend_command, filters=NEW))
    application.add_handler(CommandHandler("relancer", consent.remind_command, filters=NEW))
    application.add_handler(CommandHandler("bilan", consent.bilan, filters=NEW))
    application.add_handler(CommandHandler("modifier", amend.modifier, filters=NEW))
    # The register at a glance and in the calendar (issue 12): a partner the group already
    # has or had, recorded without a consent round; the group's dates as an .ics file.
    application.add_handler(CommandHandler("partenaire_connu", intake.known_partner, filters=NEW))
    application.add_handler(CommandHandler("calendrier", register.calendar, filters=NEW))
    # Issue 10: confirm an early close, read the whole request in private, withdraw, decline.
    application.add_handler(CallbackQueryHandler(consent.close_press, pattern=_pressed(callback_data.CloseConfirm)))
    application.add_handler(
        CallbackQueryHandler(consent.full_request_press, pattern=_pressed(callback_data.FullRequest))
    )
    application.add_handler(
        CallbackQueryHandler(consent.withdraw_press, pattern=_pressed(callback_data.WithdrawRequest))
    )
    application.add_handler(CommandHandler("retirer", consent.withdraw_command, filters=NEW))
    application.add_handler(CommandHandler("decliner", consent.decline_command, filters=NEW))
    # A group became a supergroup: its rows, rounds and jobs follow it to the new chat id.
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migration.chat_migrated))
    # Every request reaches its group: the groups the bot knows (any update from one, the bot
    # added or removed), the group picked for a request started in private, attaching a
    # request filed without a group, and the forum topic cards and proposals go to.
    # Group -3 runs before anything else, even an update redelivered after a crash.
    application.add_handler(TypeHandler(Update, groups.note), group=-3)
    application.add_handler(ChatMemberHandler(groups.bot_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(CallbackQueryHandler(intake.choose_group, pattern=_pressed(callback_data.ChooseGroup)))
    application.add_handler(CommandHandler("rattacher", attach.rattacher, filters=NEW))
    application.add_handler(CallbackQueryHandler(attach.press, pattern=_pressed(callback_data.AttachRequest)))
    application.add_handler(CommandHandler("sujet", topics.sujet, filters=NEW))
    # Any other button (forged, or from an older version of the bot): say it is stale.
    application.add_handler(CallbackQueryHandler(general.stale_button))
    # Any other command (a typo, one this version lacks): one line pointing to /aide. Keep it
    # the last handler of group 0: a command any handler above knows never reaches it.
    application.add_handler(MessageHandler(NEW & filters.COMMAND, general.unknown_command))

    application.add_error_handler(errors.on_error)
    return application


async def _post_init(application: BotApplication) -> None:
    """Open the database, record the flow files as versions, register the commands."""
    settings: Settings = application.bot_data["settings"]
    library: Library = application.bot_data["library"]
    database = await Database.open(settings.database_path)
    catalog = FlowCatalog(database)
    await catalog.use(library)
    application.bot_data["services"] = Services(settings, database, catalog)
    # The groups recorded before this start are not written again by their first update.
    await groups.recall(database, application.bot_data)
    # Before anything is sent: a pending delivery nobody registered stops the start, loudly.
    await application.bot_data[outbox_sender.KINDS].check_pending(database)
    # Round deadlines and reminders live in the database; their jobs are rebuilt at each start.
    await consent.reschedule(application)
    # Review dates live in the database; this job finds them again after every start.
    reviews.schedule(application)
    # Outcomes, summaries, reminders and follow-ups still pending when the bot stopped go now.
    outbox_sender.schedule(application)
    # So does the card of a request stored just before a stop.
    jobs(application).run_once(intake.post_missing_cards, 0, name="missing-cards")
    # Sent messages and the marks of handled updates hold what members wrote: forgotten
    # after a week, by a job that runs now and every day (the bot may run for months).
    jobs(application).run_repeating(_purge, PURGE_EVERY, first=0, name=PURGE_JOB)

    try:
        await _register_commands(application, library, settings)
    except TelegramError as error:  # only the command menu: the bot works without it
        _retry_commands_later(jobs(application), 1, error)


async def _purge(context: BotContext) -> None:
    database = context.services.database
    await database.forget_old_updates()
    await database.write(partial(outbox.forget_delivered, kept=outbox_sender.KEPT))


def _retry_commands_later(job_queue: JobQueue[Any], attempts: int, error: TelegramError) -> None:
    settings: Settings = job_queue.application.bot_data["settings"]
    wait = outbox.backoff(attempts, timedelta(seconds=settings.outbox_retry_seconds))
    logger.warning("Could not set the command menu (%s); trying again in %s", error, wait)
    job_queue.run_once(_register_commands_job, wait, data=attempts, name=COMMANDS_JOB)


async def _register_commands_job(context: BotContext) -> None:
    try:
        await _register_commands(context.application, context.services.library, context.services.settings)
    except TelegramError as error:
        failed_before = context.job.data if context.job is not None and isinstance(context.job.data, int) else 0
        _retry_commands_later(context.job_queue, failed_before + 1, error)


async def _register_commands(application: BotApplication, library: Library, settings: Settings) -> None:
    """Show each audience its commands in Telegram's menu: members, chat admins, bot admins."""
    descriptions = library.messages.commands
    member_commands = [
        BotCommand("partenariat", descriptions.partenariat),
        BotCommand("demandes", descriptions.demandes),
        BotCommand("demande", descriptions.demande),
        BotCommand("bonnes_pratiques", descriptions.bonnes_pratiques),
        BotCommand("partenaires", descriptions.partenaires),
        BotCommand("partenaire_connu", descriptions.partenaire_connu),
        BotCommand("calendrier", descriptions.calendrier),
        BotCommand("revision", descriptions.revision),
        BotCommand("retour", descriptions.retour),
        BotCommand("annuler", descriptions.annuler),
        BotCommand("mes_donnees", descriptions.mes_donnees),
        BotCommand("oublier", descriptions.oublier),
        BotCommand("aide", descriptions.aide),
        BotCommand("rattacher", descriptions.rattacher),
    ]
    admin_commands = [
        BotCommand("export", descriptions.export),
        BotCommand("flux", descriptions.flux),
        BotCommand("sujet", descriptions.sujet),
    ]
    consent_members, consent_admins = consent.bot_commands(library)
    member_commands += consent_members
    admin_commands += consent_admins
    bot = application.bot
    bot_admin_commands = member_commands + admin_commands + [BotCommand("recharger", descriptions.recharger)]

    async def for_bot_admin(admin_id: int) -> None:
        try:
            await bot.set_my_commands(bot_admin_commands, scope=BotCommandScopeChat(admin_id))
        except TelegramError as error:  # an admin who never opened the bot's private chat
            logger.warning("Could not set the admin commands of %s: %s", admin_id, error)

    # Independent calls, sent together: start-up waits for one answer of Telegram, not each.
    await asyncio.gather(
        bot.set_my_commands(member_commands, scope=BotCommandScopeAllPrivateChats()),
        bot.set_my_commands(member_commands, scope=BotCommandScopeAllGroupChats()),
        bot.set_my_commands(member_commands + admin_commands, scope=BotCommandScopeAllChatAdministrators()),
        *(for_bot_admin(admin_id) for admin_id in settings.admin_user_ids),
    )


async def _post_shutdown(application: BotApplication) -> None:
    consent.drop_timers(application)
    services: Services | None = application.bot_data.get("services")
    if services is not None:
        services.pictures.close()
        await services.database.close()
