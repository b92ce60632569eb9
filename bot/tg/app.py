"""The Telegram composition root: build the PTB ``Application`` and run it (polling or webhook)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlparse

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import NetworkError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from bot.engine import Engine, EngineUnavailable
from bot.settings import BotSettings
from bot.state import State
from bot.tg.handlers import NON_TEXT, AddressedToBot, Handlers
from bot.tg.order import ChatOrderedProcessor
from bot.tg.safety import quiet_library_logs
from bot.tg.updates import SafeApplicationBuilder, limit_webhook_body
from bot.tg.webhook import (
    AnsweredQueue,
    AnsweringProcessor,
    SkipWebhookRegistration,
    check_replicas,
    registers_webhook,
)

log = logging.getLogger(__name__)

#: Edited messages, channel posts and the rest are never even delivered.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
#: Retries after Telegram's 429 "retry after"; other errors are logged by the error handler.
MAX_RETRIES = 3

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def quiet_library_loggers() -> None:
    """Keep loggers that would print the token (httpx URLs) or message content (PTB debug) quiet."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext", "tornado.access"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    quiet_library_logs()


def build_application(
    settings: BotSettings,
    engine: Engine,
    state: State,
    *,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> TelegramApp:
    """The bot with every handler registered; nothing is contacted until it is started."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    quiet_library_loggers()
    if settings.webhook_url:
        limit_webhook_body(settings.webhook_max_body_bytes)
    handlers = Handlers(settings, engine, state)
    builder = SafeApplicationBuilder()
    processor = ChatOrderedProcessor()
    if settings.webhook_url:  # answer each webhook call once its update is handled
        queue = AnsweredQueue(settings.webhook_answer_s)
        builder = builder.update_queue(queue)
        processor = AnsweringProcessor(queue)
    app = (
        builder.token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_url)
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=MAX_RETRIES))
        .concurrent_updates(processor)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .pool_timeout(10.0)
        .post_init(handlers.post_init)
        .post_shutdown(lambda _app: _shutdown(handlers))
        .build()
    )
    register(app, handlers, settings)
    return app


async def _shutdown(handlers: Handlers) -> None:
    handlers.deadlines.shutdown()


#: Commands outside the tap limit: the urgent steps, and deleting one's data.
UNLIMITED_COMMANDS = ("urgent", "forget")


def register(app: TelegramApp, h: Handlers, settings: BotSettings) -> None:
    """Wire commands, buttons and messages to the handlers."""
    incoming = filters.UpdateType.MESSAGE & AddressedToBot()

    async def tap_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Commands past the chat's tap limit stop here (checked before every other handler)."""
        message, chat = update.effective_message, update.effective_chat
        command = (message.text or "").split(maxsplit=1)[0][1:].split("@")[0] if message else ""
        if chat is not None and command not in UNLIMITED_COMMANDS and not h.taps.allow(chat.id):
            raise ApplicationHandlerStop

    app.add_handler(MessageHandler(filters.COMMAND & incoming, tap_gate), group=-1)
    commands = {
        "start": h.start,
        "topics": h.topics,
        "language": h.choose_language,
        "help": h.help,
        "privacy": h.privacy,
        "sources": h.sources,
        "urgent": h.urgent,
        "forget": h.forget,
    }
    for name, callback in commands.items():
        app.add_handler(CommandHandler(name, callback, filters=incoming))
    admins = filters.User(user_id=settings.admin_ids)
    app.add_handler(CommandHandler("stats", h.stats, filters=incoming & admins))
    app.add_handler(CommandHandler("reload", h.reload, filters=incoming & admins))
    app.add_handler(MessageHandler(filters.COMMAND & incoming, h.unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & incoming, h.question))
    app.add_handler(MessageHandler(NON_TEXT & incoming, h.not_text))
    app.add_handler(CallbackQueryHandler(h.button))
    app.add_error_handler(h.on_error)


def webhook_options(settings: BotSettings) -> dict[str, Any]:
    """Arguments of ``run_webhook``/``start_webhook``: where to listen and the secret to check."""
    if not settings.webhook_url:
        raise ValueError("KYR_WEBHOOK_URL is not set")
    check_replicas(settings)
    secret = (
        settings.webhook_secret.get_secret_value()
        if settings.webhook_secret
        else secrets.token_urlsafe(32)
    )
    return {
        "listen": settings.webhook_listen,
        "port": settings.webhook_port,
        "url_path": urlparse(settings.webhook_url).path.lstrip("/"),
        "webhook_url": settings.webhook_url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
    }


#: What a start-up attempt may fail with that a later attempt can get past.
RETRYABLE = (NetworkError, TimedOut, OSError)


def run_bot(settings: BotSettings, engine: Engine, attempts: int | None = None) -> None:
    """Serve residents until stopped: long polling, or a webhook when ``webhook_url`` is set.

    Start-up failures (Telegram unreachable, state database unusable) give one line each and a
    retry every ``startup_retry_s`` seconds (``attempts``: how many before giving up; None = keep
    trying), so a network blip at boot does not need a supervisor restart."""
    try:
        engine.warm_up()
    except EngineUnavailable as err:
        log.warning(
            "index unavailable at start-up, residents get the apology until it is back: %s", err
        )
    try:
        options = webhook_options(settings) if settings.webhook_url else None
    except ValueError as err:  # a setting is wrong: retrying cannot help
        raise SystemExit(f"error: {err}") from None
    attempt = 0
    while True:
        attempt += 1
        try:
            _serve(settings, engine, options)
            return
        except (*RETRYABLE, StartupError) as err:
            if attempts is not None and attempt >= attempts:
                raise StartupError(_one_line(err)) from None
            log.error(
                "start-up failed (%s); retrying in %g s", _one_line(err), settings.startup_retry_s
            )
            time.sleep(settings.startup_retry_s)


class StartupError(Exception):
    """The bot could not start (one line, for the command line)."""


def _one_line(err: BaseException) -> str:
    text = str(err).splitlines()[0][:200] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _serve(settings: BotSettings, engine: Engine, options: dict[str, Any] | None) -> None:
    try:
        state = State.open(settings)
    except Exception as err:  # a corrupt or locked file, a database that is down, no secret
        raise StartupError(f"the state database cannot be opened ({_one_line(err)})") from err
    # PTB closes the event loop it ran on; a retry needs a fresh one
    asyncio.set_event_loop(asyncio.new_event_loop())
    try:
        limiter: BaseRateLimiter[Any] = AIORateLimiter(max_retries=MAX_RETRIES)
        claimed = False
        if options is not None:
            claimed = registers_webhook(settings, state, options["secret_token"])
            if not claimed:
                log.info("another replica registers the webhook; this one only serves it")
                limiter = SkipWebhookRegistration(limiter)
        app = build_application(settings, engine, state, rate_limiter=limiter)
        if options is not None:
            log.info(
                "starting the webhook server on %s:%s",
                settings.webhook_listen,
                settings.webhook_port,
            )
            try:
                app.run_webhook(**options)
            except BaseException:
                if claimed and settings.replicas > 1:
                    state.release_webhook()  # let the next replica to start register it
                raise
        else:
            log.info("starting long polling")
            app.run_polling(allowed_updates=ALLOWED_UPDATES)
    finally:
        state.close()
