"""Shared by the Telegram tests and the load run: settings for the fake server and a running bot."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pydantic import SecretStr

from bot.engine import Engine
from bot.settings import BotSettings
from bot.state import State
from bot.tg.app import ALLOWED_UPDATES, TelegramApp, build_application
from tests.fake_bot_api import TOKEN, FakeBotApi

ADMIN_ID = 777000111


def bot_settings(base: BotSettings, fake: FakeBotApi, **overrides: Any) -> BotSettings:
    """``base`` (which points at a built index) talking to ``fake``."""
    update: dict[str, Any] = {
        "telegram_bot_token": SecretStr(TOKEN),
        "telegram_api_url": fake.base_url,
        "admin_ids": [ADMIN_ID],
        **overrides,
    }
    return base.model_copy(update=update)


@contextlib.asynccontextmanager
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A started fake Bot API server."""
    fake = FakeBotApi()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def polling_bot(
    settings: BotSettings, engine: Engine, **build: Any
) -> AsyncIterator[TelegramApp]:
    """The real application, long polling the fake server, stopped cleanly at the end."""
    state = State.open(settings)
    app = build_application(settings, engine, state, **build)
    try:
        async with app:
            if app.post_init:
                await app.post_init(app)
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
            )
            await app.start()
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()
    finally:
        state.close()
