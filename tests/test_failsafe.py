"""Fault tests of the Telegram bot (reliability audit 2026-11): a frozen or dead Chroma server, a
locked state database, an update the library cannot parse, hostile text and forged buttons.

Each test runs the real PTB ``Application``, engine and index against the fake Bot API server, puts
a unique marker into what residents send, and checks that the marker never reaches a log line
(``caplog``) or the process's stdout/stderr (``capfd``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot import texts as texts_
from bot.engine import Engine
from bot.settings import BotSettings
from bot.state import State
from bot.tg.app import StartupError, build_application, run_bot, webhook_options
from bot.tg.format import esc
from bot.ui_texts import ui
from tests.fake_bot_api import TOKEN, FakeBotApi
from tests.telegram_harness import fake_api, polling_bot
from tests.test_telegram import index_settings, tg_engine

pytestmark = pytest.mark.slow
__all__ = ["index_settings", "tg_engine"]  # session fixtures shared with test_telegram

HOTLINE = texts_.HOTLINE
URGENT = "ICE agents are at my door right now, what do I do?"
QUESTION = "Can police ask about my immigration status?"
#: A line of the vetted door script (knowledge/en/urgent.md), not of any apology.
DOOR_STEP = "Do not open the door"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A fresh fake Bot API server."""
    async with fake_api() as server:
        yield server


@pytest.fixture
def marker() -> str:
    """A string that must never reach a log."""
    return f"ZQXJ{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(index_settings: BotSettings, fake: FakeBotApi, tmp_path: Path) -> BotSettings:
    """Bot settings for one test: the fake server, a fresh state dir, short deadlines."""
    return index_settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_api_url": fake.base_url,
            "data_dir": tmp_path / "var",
            "engine_timeout_s": 4.0,
            "state_timeout_s": 1.0,
        }
    )


def assert_no_leak(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], *needles: str
) -> None:
    """No needle in any log record, formatted log text or captured stdout/stderr."""
    out, err = capfd.readouterr()
    logged = "\n".join(
        [caplog.text, out, err, *(r.getMessage() for r in caplog.records)]
        + [str(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]]
    )
    for needle in needles:
        assert needle not in logged, f"{needle!r} reached the log"


def person(marker: str) -> dict[str, Any]:
    """A Telegram user's name fields carrying the marker."""
    return {"username": f"u_{marker}", "first_name": f"F{marker}", "last_name": f"L{marker}"}


class BlackHole:
    """A TCP listener that accepts connections and never answers (a frozen server)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.server.settimeout(0.2)
        self.port = int(self.server.getsockname()[1])
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.server.accept()
                self.held.append(conn)

    def close(self) -> None:
        """Thaw: close every held connection and the listener."""
        if self.stop.is_set():
            return
        self.stop.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.server.close()


def engine_at(url: str, base: Engine, index_settings: BotSettings) -> Engine:
    """An engine whose index is the Chroma server at ``url``."""
    settings = index_settings.model_copy(update={"chroma_url": url, "index_check_s": 0.0})
    return Engine(settings, embedder=base.embedder, detector=base.detector)


# -- deadlines ----------------------------------------------------------------------------------


async def test_frozen_chroma_server_gets_everyone_an_answer_within_10_s(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    index_settings: BotSettings,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """HIGH-1: a server that accepts and never answers left every resident in silence."""
    caplog.set_level(logging.DEBUG)
    hole = BlackHole()
    engine = engine_at(f"http://127.0.0.1:{hole.port}", tg_engine, index_settings)
    async with polling_bot(settings, engine):
        try:
            started = time.monotonic()
            for chat in range(4001, 4006):
                fake.message(chat, f"{QUESTION} {marker}", user_extra=person(marker))
            fake.message(4010, f"{URGENT} {marker}", user_extra=person(marker))
            fake.message(4011, "/topics", user_extra=person(marker))
            fake.message(4012, "/urgent", user_extra=person(marker))
            fake.callback(4012, "sit:en:door")  # the emergency menu's "agents at my door"
            for chat in (*range(4001, 4006), 4010, 4011):
                await fake.wait_messages(chat, 1, timeout=10)
            await fake.wait_messages(4012, 2, timeout=10)
            assert time.monotonic() - started < 10
            for chat in (*range(4001, 4006), 4011):
                [text] = fake.texts(chat)
                assert text == esc(texts_.text("unavailable", "en")) and HOTLINE in text
            urgent = fake.texts(4010)[0]
            assert DOOR_STEP in urgent and HOTLINE in urgent
            assert any(DOOR_STEP in t for t in fake.texts(4012))
        finally:
            hole.close()  # the server thaws before the bot stops, whatever the outcome
    assert_no_leak(caplog, capfd, marker, TOKEN)


async def test_dead_chroma_server_still_gives_urgent_steps(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    index_settings: BotSettings,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """MEDIUM-2: with the server down, an urgent message got the generic apology."""
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = engine_at(f"http://127.0.0.1:{port}", tg_engine, index_settings)
    async with polling_bot(settings, engine):
        fake.message(4101, f"{URGENT} {marker}")
        fake.message(
            4102, f"Hay agentes de ICE en mi puerta ahora mismo {marker}", language_code="es"
        )
        fake.message(4103, f"{QUESTION} {marker}")
        [urgent] = await fake.wait_messages(4101, 1, timeout=10)
        [urgente] = await fake.wait_messages(4102, 1, timeout=10)
        [other] = await fake.wait_messages(4103, 1, timeout=10)
    assert DOOR_STEP in urgent and HOTLINE in urgent
    assert "No abra la puerta" in urgente and HOTLINE in urgente
    assert other == esc(texts_.text("unavailable", "en"))
    assert_no_leak(caplog, capfd, marker)


async def test_urgent_message_is_answered_past_the_rate_limit(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """MEDIUM-2: an urgent message sent after the limit was silently dropped."""
    caplog.set_level(logging.DEBUG)
    limited = settings.model_copy(update={"rate_limit_messages": 2})
    async with polling_bot(limited, tg_engine):
        for _ in range(4):
            fake.message(4201, f"{QUESTION} {marker}")
        fake.message(4201, f"{URGENT} {marker}")
        texts = await fake.wait_messages(4201, 4, timeout=20)
        await asyncio.sleep(0.5)
    assert len(fake.texts(4201)) == 4
    assert texts[2] == esc(ui("rate_limited", "en"))
    assert DOOR_STEP in texts[3]
    assert_no_leak(caplog, capfd, marker)


async def test_locked_state_database_does_not_freeze_the_bot(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """MEDIUM-1: another process holding the state database froze every chat, then urgent
    messages got the apology."""
    caplog.set_level(logging.DEBUG)
    async with polling_bot(settings, tg_engine):
        fake.message(4300, "/help")
        await fake.wait_messages(4300, 1)
        locker = sqlite3.connect(settings.data_dir / "state.sqlite3", isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            locker.execute("INSERT INTO feedback VALUES ('x', 'helpful', 1)")
            started = time.monotonic()
            for chat in range(4301, 4306):
                fake.message(chat, f"{URGENT} {marker}", user_extra=person(marker))
            fake.message(4310, f"{QUESTION} {marker}", user_extra=person(marker))
            fake.message(4311, "/help")
            fake.callback(4312, "lang:es")
            for chat in (*range(4301, 4306), 4310, 4311):
                await fake.wait_messages(chat, 1, timeout=10)
            await fake.wait_for(lambda: bool(fake.of("answerCallbackQuery")), timeout=10)
            assert time.monotonic() - started < 10
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    for chat in range(4301, 4306):
        [text] = fake.texts(chat)
        assert DOOR_STEP in text, text
    assert "<b>Sources (" in fake.texts(4310)[0]
    assert "/topics" in fake.texts(4311)[0]
    assert_no_leak(caplog, capfd, marker)


# -- malformed updates --------------------------------------------------------------------------


def _malformed(fake: FakeBotApi, chat: int, marker: str) -> None:
    """An update PTB cannot parse (a message without ``date``), carrying a resident's data."""
    message = {
        "message_id": fake.next_message_id(),
        "chat": fake.chat(chat),
        "from": fake.user(chat, **person(marker)),
        "text": f"Do I have to open the door? {marker}",
    }
    fake.push({"message": message})


async def test_unparseable_update_is_skipped_without_logging_it(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """HIGH-2: one update the library cannot parse stopped polling (thousands of retries) and
    wrote residents' messages and names to the log."""
    caplog.set_level(logging.DEBUG)
    async with polling_bot(settings, tg_engine):
        fake.message(4401, "/help")
        _malformed(fake, 4402, marker)
        fake.message(4403, "/privacy")
        await fake.wait_messages(4401, 1, timeout=10)
        await fake.wait_messages(4403, 1, timeout=10)
        polls = len(fake.of("getUpdates"))
        await asyncio.sleep(2.0)
        fake.message(4404, QUESTION)
        await fake.wait_messages(4404, 1, timeout=10)
        assert len(fake.of("getUpdates")) - polls < 20  # long polling again, no hot loop
    assert fake.texts(4402) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert_no_leak(caplog, capfd, marker, TOKEN)


async def test_unparseable_update_on_the_webhook_is_not_logged(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """HIGH-2 (webhook) and LOW-9: a malformed update was logged in full; a huge unauthenticated
    body was read into memory before the secret was checked."""
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hooked = settings.model_copy(
        update={
            "webhook_url": "https://kyr.example.org/hook",
            "webhook_secret": SecretStr("s3cret"),
            "webhook_port": port,
            "webhook_max_body_bytes": 64_000,
        }
    )
    state = State.open(hooked)
    app = build_application(hooked, tg_engine, state)
    url = f"http://127.0.0.1:{port}/hook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    bad = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "chat": fake.chat(4501),
            "from": fake.user(4501, **person(marker)),
            "text": f"My name is Ana {marker}, ICE is at my door",
        },
    }
    good = {
        "update_id": 2,
        "message": {
            "message_id": 2,
            "date": 1,
            "chat": fake.chat(4502),
            "from": fake.user(4502),
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }
    try:
        async with app:
            assert app.updater is not None
            await app.updater.start_webhook(**webhook_options(hooked))
            await app.start()
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(url, json=bad, headers=headers)
                ok = await client.post(url, json=good, headers=headers)
                assert ok.status_code == 200
                await fake.wait_messages(4502, 1)
                huge = b'{"update_id": 3, "x": "' + b"a" * 5_000_000 + b'"}'
                with contextlib.suppress(httpx.HTTPError):
                    big = await client.post(
                        url, content=huge, headers={"X-Telegram-Bot-Api-Secret-Token": "no"}
                    )
                    assert big.status_code not in (200, 403)  # refused before the secret check
            await app.updater.stop()
            await app.stop()
    finally:
        state.close()
    assert fake.texts(4501) == []
    assert_no_leak(caplog, capfd, marker)


async def test_hostile_text_and_missing_fields(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """LOW-1: lone surrogates gave a traceback and a misleading apology; messages without a sender
    or with huge entities gave tracebacks."""
    caplog.set_level(logging.DEBUG)
    async with polling_bot(settings, tg_engine):
        fake.message(4601, f"Can police ask about my immigration \udc80 status? {marker}")
        fake.message(4602, f"\ud800 ICE is at my door right now \udfff {marker}")
        channelish = {
            "message_id": fake.next_message_id(),
            "date": 1,
            "chat": fake.chat(4603),
            "sender_chat": {"id": 4603, "type": "channel", "title": marker},
            "text": f"{QUESTION} {marker}",
        }
        fake.push({"message": channelish})
        text = f"{QUESTION} {marker}"
        entities = [{"type": "bold", "offset": 0, "length": 10**9}] * 200
        fake.message(4604, text, entities=entities)
        zalgo = "a" + "\u0301" * 30_000
        fake.message(4605, zalgo)
        fake.push({"unknown_kind": {"x": marker}})
        fake.message(4606, "/help")
        for chat in (4601, 4602, 4603, 4604, 4605, 4606):
            await fake.wait_messages(chat, 1, timeout=15)
    assert "<b>Sources (" in fake.texts(4601)[0]
    assert DOOR_STEP in fake.texts(4602)[0]
    for chat in (4601, 4602, 4603, 4604, 4605):
        assert fake.texts(chat)[0] != esc(texts_.text("unavailable", "en"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    assert_no_leak(caplog, capfd, marker)


# -- buttons --------------------------------------------------------------------------------------


async def test_feedback_counted_once_and_taps_rate_limited(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    marker: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """LOW-8: 50 forged feedback taps were all counted; 40 section taps got 40 replies; a tap on
    an inline message was never answered."""
    caplog.set_level(logging.DEBUG)
    taps = settings.model_copy(update={"rate_limit_taps": 10})
    doc = next(d for d in tg_engine.catalog("en") if d.id == "agents-at-home")
    async with polling_bot(taps, tg_engine):
        for _ in range(8):
            fake.callback(4701, "fb:n:en:urgent")
        fake.callback(4701, f"fb:h:en:{doc.id}")
        fake.callback(4701, f"fb:h:en:{doc.id}")
        await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 10, timeout=15)
        for _ in range(30):
            fake.callback(4702, f"sec:en:{doc.id}:0")
        await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 40, timeout=30)
        fake.push(
            {
                "callback_query": {
                    "id": "inline1",
                    "from": fake.user(4703, **person(marker)),
                    "chat_instance": "ci",
                    "inline_message_id": f"im{marker}",
                    "data": "top:en",
                }
            }
        )
        await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 41, timeout=10)
        await asyncio.sleep(0.5)
    state = State.open(settings)
    try:
        assert state.feedback() == {("urgent", "not_helpful"): 1, (doc.id, "helpful"): 1}
    finally:
        state.close()
    assert len(fake.texts(4702)) <= 10
    assert_no_leak(caplog, capfd, marker)


# -- start-up -------------------------------------------------------------------------------------


def test_start_up_failures_give_one_line_and_a_retry(
    index_settings: BotSettings,
    tg_engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """LOW-7: Telegram unreachable at start, or a corrupt state file, ended in a traceback."""
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = index_settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_api_url": f"http://127.0.0.1:{port}/bot",
            "data_dir": tmp_path / "var",
            "startup_retry_s": 0.1,
        }
    )
    with pytest.raises(StartupError) as failed:
        run_bot(dead, tg_engine, attempts=2)
    assert "\n" not in str(failed.value) and "NetworkError" in str(failed.value)
    retried = [r for r in caplog.records if "start-up failed" in r.getMessage()]
    assert len(retried) == 1
    assert not [r for r in caplog.records if r.exc_info or r.stack_info]

    corrupt = dead.model_copy(update={"data_dir": tmp_path / "corrupt"})
    corrupt.data_dir.mkdir()
    (corrupt.data_dir / "state.sqlite3").write_bytes(b"not a database " * 100)
    with pytest.raises(StartupError) as failed:
        run_bot(corrupt, tg_engine, attempts=1)
    assert "state database" in str(failed.value) and "\n" not in str(failed.value)
    assert_no_leak(caplog, capfd, TOKEN, TOKEN.split(":")[1])


def test_ask_does_not_hang_on_a_frozen_chroma_server(built_index_settings: BotSettings) -> None:
    """HIGH-1 (command line): `bot ask` against a frozen server hung for over 300 s."""
    from click.testing import CliRunner

    from bot.cli import cli

    hole = BlackHole()
    try:
        env = {
            "KYR_DATA_DIR": str(built_index_settings.data_dir),
            "KYR_CHROMA_URL": f"http://127.0.0.1:{hole.port}",
        }
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["ask", "--json", "status"], env=env)
        assert time.monotonic() - started < 20
    finally:
        hole.close()
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1
