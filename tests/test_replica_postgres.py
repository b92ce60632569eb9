"""End to end: two `python -m bot serve` replicas in webhook mode, one PostgreSQL, one Chroma server.

The test plays Telegram: it posts each chat's updates one at a time, waiting for the webhook's
answer before the next (as Telegram does), alternating replicas, many chats at once; replies go
to the fake Bot API. It checks every question answered in order, rate limits exact across
replicas, /forget effective everywhere, one setWebhook for both, and no personal data in either
replica's log or in the database. ``KYR_REPLICA_CHATS`` scales it (200 for issue 15's figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from telegram import Update

from bot.engine import Engine
from bot.settings import BotSettings
from bot.state import State
from bot.tg.app import build_application, webhook_options
from bot.tg.format import format_reply, format_text
from bot.tg.webhook import AnsweredQueue, SkipWebhookRegistration, registers_webhook
from bot.ui_texts import ui
from ingest.embedder import E5Embeddings
from tests.bench_telegram import QUESTIONS
from tests.conftest import KNOWLEDGE, HashingEmbeddings, free_port, running_chroma
from tests.fake_bot_api import TOKEN, FakeBotApi
from tests.telegram_harness import bot_settings, fake_api

STATE_SECRET = "replica-state-secret-0123456789"
WEBHOOK_SECRET = "replica-webhook-secret"
HOOK_URL = "https://kyr.example.org/telegram/hook"
CHATS = int(os.environ.get("KYR_REPLICA_CHATS", "40"))
MARKER = f"zqx{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def server_index(
    built_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotSettings]:
    """The session's index of knowledge/ served by its own `chroma run` (same on-disk format as
    the embedded store, so nothing is embedded again)."""
    path = tmp_path_factory.mktemp("replica-chroma") / "chroma"
    shutil.copytree(built_index_dir / "chroma", path)
    with running_chroma(path) as url:
        yield BotSettings(
            data_dir=tmp_path_factory.mktemp("replica-reader") / "var",
            knowledge_dir=KNOWLEDGE,
            chroma_url=url,
        )


@contextlib.contextmanager
def replicas(count: int, env: dict[str, str], tmp_path: Path) -> Iterator[list[tuple[str, Path]]]:
    """``count`` bot processes; yields (webhook URL, log file) for each."""
    procs: list[subprocess.Popen[bytes]] = []
    out: list[tuple[str, Path]] = []
    try:
        for i in range(count):
            port = free_port()
            log = tmp_path / f"replica{i}.log"
            with log.open("wb") as sink:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bot", "serve"],
                        env={
                            **env,
                            "KYR_DATA_DIR": str(tmp_path / f"replica{i}"),
                            "KYR_WEBHOOK_PORT": str(port),
                        },
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
            out.append((f"http://127.0.0.1:{port}/telegram/hook", log))
        yield out
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_ready(client: httpx.AsyncClient, url: str, log: Path) -> None:
    """Until the replica's webhook answers (403 without the secret)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await client.post(url, json={})).status_code == 403:
                return
        await asyncio.sleep(0.5)
    pytest.fail(f"replica did not start: {log.read_text()[-2000:]}")


@contextlib.asynccontextmanager
async def telegram(
    urls: list[str],
) -> AsyncIterator[Any]:
    """``post(update, replica)``: deliver one update and wait for the webhook's answer."""
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:
        gate = asyncio.Semaphore(40)  # Telegram's default max_connections per webhook

        async def post(update: dict[str, Any], replica: int) -> int:
            async with gate:
                response = await client.post(
                    urls[replica % len(urls)],
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                )
            return response.status_code

        yield post


def who(chat: int) -> dict[str, Any]:
    """A user with names that carry the marker, for the log check."""
    return {"username": f"u{MARKER}{chat}", "first_name": f"Name{MARKER}", "last_name": MARKER}


@pytest.mark.postgres
@pytest.mark.server
@pytest.mark.slow
async def test_two_replicas_on_postgres(
    server_index: BotSettings,
    postgres_url: str,
    real_embedder: E5Embeddings,
    tmp_path: Path,
) -> None:
    engine = Engine(server_index, embedder=real_embedder)
    engine.warm_up()
    expected = [format_reply(engine.answer(f"{q} {MARKER}")) for q in QUESTIONS]
    async with fake_api() as fake:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "KYR_TELEGRAM_API_URL": fake.base_url,
            "KYR_WEBHOOK_URL": HOOK_URL,
            "KYR_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "KYR_WEBHOOK_LISTEN": "127.0.0.1",
            "KYR_REPLICAS": "2",
            "KYR_STATE_URL": postgres_url,
            "KYR_STATE_SECRET": STATE_SECRET,
            "KYR_CHROMA_URL": server_index.chroma_url or "",
            "KYR_CONFIG_DIR": str(tmp_path / "no-config"),
            # order, limits and /forget are under test here, not latency: a loaded CI machine
            # must not turn a slow answer into the apology
            "KYR_ENGINE_TIMEOUT_S": "120",
            "ANONYMIZED_TELEMETRY": "False",
        }
        with replicas(2, env, tmp_path) as running:
            urls = [url for url, _ in running]
            async with httpx.AsyncClient() as client:
                await asyncio.gather(*(wait_ready(client, url, log) for url, log in running))
            async with telegram(urls) as post:
                await _answered_in_order(fake, post, expected)
                await _rate_limit_is_exact(fake, post)
                await _forget_everywhere(fake, post, postgres_url)
            # both replicas serve one webhook, registered once, with the shared secret
            assert len(fake.of("setWebhook")) == 1
            assert fake.of("setWebhook")[0].params["secret_token"] == WEBHOOK_SECRET
        logs = "\n".join(log.read_text(errors="replace") for _, log in running)
    assert "Traceback" not in logs, logs[-3000:]
    for needle in (MARKER, TOKEN.split(":")[1], *(str(1_900_000_000 + i) for i in range(CHATS))):
        assert needle not in logs
    _nothing_personal_in(postgres_url, [1_900_000_000 + i for i in range(CHATS)])


async def _answered_in_order(fake: FakeBotApi, post: Any, expected: list[list[str]]) -> None:
    """CHATS chats × 5 questions, each chat's questions alternating between the replicas."""
    chats = [1_900_000_000 + i for i in range(CHATS)]

    async def converse(chat: int) -> None:
        for n, question in enumerate(QUESTIONS):
            update = fake.message(chat, f"{question} {MARKER}", user_extra=who(chat))
            assert await post(update, chat + n) == 200

    started = time.monotonic()
    await asyncio.gather(*(converse(c) for c in chats))
    elapsed = time.monotonic() - started
    want = [text for reply in expected for text in reply]
    wrong = [c for c in chats if fake.texts(c) != want]
    print(f"\n{CHATS} chats x {len(QUESTIONS)} questions over 2 replicas: {elapsed:.1f} s")
    assert not wrong, f"{len(wrong)} chats not answered in order, e.g. {fake.texts(wrong[0])}"


async def _rate_limit_is_exact(fake: FakeBotApi, post: Any) -> None:
    """Fourteen messages per chat across both replicas: ten served, one notice, then silence."""
    chats = [1_900_100_000 + i for i in range(10)]
    photo = [{"file_id": "f", "file_unique_id": "f", "width": 1, "height": 1}]

    async def flood(chat: int) -> None:
        for n in range(14):
            update = fake.message(chat, None, photo=photo, user_extra=who(chat))
            assert await post(update, n) == 200

    await asyncio.gather(*(flood(c) for c in chats))
    please = format_text(ui("media_no_caption", "en"))  # a photo without a caption
    notice = format_text(ui("rate_limited", "en"))
    for chat in chats:
        assert fake.texts(chat) == please * 10 + notice, chat


async def _forget_everywhere(fake: FakeBotApi, post: Any, url: str) -> None:
    """A language chosen through one replica, /forget through the other: gone for both."""
    chat = 1_900_200_000
    state = State.open(
        BotSettings(state_url=url).model_copy(update={"state_secret": SecretStr(STATE_SECRET)})
    )
    try:
        assert await post(fake.message(chat, "/start es", user_extra=who(chat)), 0) == 200
        assert state.language(chat) == "es"
        assert await post(fake.message(chat, "/forget", user_extra=who(chat)), 1) == 200
        assert state.language(chat) is None
        assert fake.texts(chat)[-1:] == format_text(ui("forgotten", "es"))
        assert state.key(chat) not in _dump(url)
    finally:
        state.close()


def _dump(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return [
                str(v)
                for t in meta.sorted_tables
                for row in conn.execute(sa.select(t))
                for v in row
            ]
    finally:
        engine.dispose()


def _nothing_personal_in(url: str, chats: list[int]) -> None:
    values = _dump(url)
    assert values  # rate counters and the webhook claim are there
    for value in values:
        assert MARKER not in value
        assert not any(str(chat) in value for chat in chats[:50])


# -- the pieces, in one process ------------------------------------------------------------------


def test_several_replicas_need_a_webhook_secret(tmp_path: Path) -> None:
    settings = BotSettings(data_dir=tmp_path, webhook_url=HOOK_URL, replicas=2)
    with pytest.raises(ValueError, match="KYR_WEBHOOK_SECRET"):
        webhook_options(settings)
    one = settings.model_copy(update={"replicas": 1})
    assert len(webhook_options(one)["secret_token"]) >= 32  # one replica: generated is fine
    with pytest.raises(ValueError, match="1-256"):
        BotSettings(webhook_secret="has spaces and !")  # type: ignore[arg-type]


def test_who_registers_the_webhook(postgres_url: str, tmp_path: Path) -> None:
    base = BotSettings(data_dir=tmp_path, state_url=postgres_url, webhook_url=HOOK_URL).model_copy(
        update={"state_secret": SecretStr(STATE_SECRET), "replicas": 3}
    )
    first, second = State.open(base), State.open(base)
    try:
        assert [registers_webhook(base, s, "one") for s in (first, second, first)] == [
            True,
            False,
            False,
        ]
        assert registers_webhook(base, second, "two") is True  # a new secret is registered
        always = base.model_copy(update={"webhook_register": "always"})
        never = base.model_copy(update={"webhook_register": "never", "replicas": 1})
        assert registers_webhook(always, first, "two") is True
        assert registers_webhook(never, first, "two") is False
    finally:
        first.close()
        second.close()


async def test_the_webhook_is_answered_after_the_update_is_handled() -> None:
    queue = AnsweredQueue(deadline_s=5)
    update = Update(update_id=1)
    put = asyncio.create_task(queue.put(update))
    assert await queue.get() is update
    await asyncio.sleep(0.05)
    assert not put.done()  # still handling: Telegram gets no answer yet
    queue.handled(update)
    await asyncio.wait_for(put, 1)
    late = AnsweredQueue(deadline_s=0.1)
    await asyncio.wait_for(late.put(Update(update_id=2)), 2)  # the deadline answers anyway


async def test_only_one_of_two_replicas_calls_set_webhook(
    postgres_url: str, tmp_path: Path
) -> None:
    async with fake_api() as fake:
        base = bot_settings(
            BotSettings(data_dir=tmp_path, state_url=postgres_url),
            fake,
            webhook_url=HOOK_URL,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
            webhook_listen="127.0.0.1",
            replicas=2,
            state_secret=SecretStr(STATE_SECRET),
        )
        engine = Engine(base, embedder=HashingEmbeddings())
        async with contextlib.AsyncExitStack() as stack:
            urls = []
            for _ in range(2):
                port = free_port()
                settings = base.model_copy(update={"webhook_port": port})
                state = State.open(settings)
                stack.callback(state.close)
                options = webhook_options(settings)
                limiter = None
                if not registers_webhook(settings, state, options["secret_token"]):
                    from telegram.ext import AIORateLimiter

                    limiter = SkipWebhookRegistration(AIORateLimiter())
                app = build_application(settings, engine, state, rate_limiter=limiter)
                await stack.enter_async_context(app)
                assert app.updater is not None
                await app.updater.start_webhook(**options)
                stack.push_async_callback(app.updater.stop)
                await app.start()
                stack.push_async_callback(app.stop)
                urls.append(f"http://127.0.0.1:{port}/telegram/hook")
            assert len(fake.of("setWebhook")) == 1
            async with telegram(urls) as post:
                for replica, chat in enumerate((4101, 4102)):
                    assert await post(fake.message(chat, "/help"), replica) == 200
                    # answered after handling: the reply is already there
                    assert len(fake.texts(chat)) == 1 and "/topics" in fake.texts(chat)[0]
