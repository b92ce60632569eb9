"""End-to-end tests of the Telegram bot: the real PTB Application, engine and Chroma index, talking
HTTP to a fake Bot API server on loopback. Only Telegram is fake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.settings import BotSettings
from bot.tg.app import TelegramApp
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import bot_settings, fake_api, polling_bot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def index_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> BotSettings:
    """Settings pointing at a built index of ``knowledge/`` (the shared fixture when present)."""
    try:
        return request.getfixturevalue("built_index_settings")  # type: ignore[no-any-return]
    except pytest.FixtureLookupError:
        data_dir = tmp_path_factory.mktemp("tg-index")
        env = {**os.environ, "KYR_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "ingest", "build"], env=env, check=True)
        return BotSettings(data_dir=data_dir)


@pytest.fixture(scope="session")
def tg_engine(index_settings: BotSettings) -> Engine:
    """One warmed-up engine for the whole session (loading the model takes seconds)."""
    engine = Engine(index_settings)
    engine.warm_up()
    return engine


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A fresh fake Bot API server."""
    async with fake_api() as server:
        yield server


@pytest.fixture
def settings(index_settings: BotSettings, fake: FakeBotApi, tmp_path: Path) -> BotSettings:
    """Bot settings for this test: the fake server, and a fresh state directory."""
    return bot_settings(index_settings, fake, data_dir=tmp_path / "var")


@pytest.fixture
async def bot(settings: BotSettings, tg_engine: Engine) -> AsyncIterator[TelegramApp]:
    """The bot, long polling the fake server."""
    async with polling_bot(settings, tg_engine) as app:
        yield app


async def test_smoke(fake: FakeBotApi, bot: TelegramApp) -> None:
    fake.message(1001, "/start")
    texts = await fake.wait_messages(1001, 1)
    assert "KYR Bot" in texts[0]
    fake.message(1001, "Do I have to open the door to immigration agents?")
    texts = await fake.wait_messages(1001, 2)
    print(texts[1])
    print(fake.of("sendMessage", 1001)[1].params)
