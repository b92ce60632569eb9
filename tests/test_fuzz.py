"""Fuzz test: 10,000 generated updates through the fake Bot API into the real bot.

Well-formed and malformed updates are mixed: lone surrogates, zalgo, huge and empty texts, missing
chat/user/date, unknown update types, huge or nonsensical entities, forged and inline callback data,
non-text messages, group messages, updates the library cannot parse. Every one carries a marker in
its text or names. The run asserts: no error log line and no traceback, no marker in any log or in
stdout/stderr, the bot still serving at the end, and an answer to every well-formed text message.
Updates are cheap on purpose (most never reach the embedding model); it takes about a minute.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import AIORateLimiter

from bot.engine import Engine
from bot.settings import BotSettings
from tests.fake_bot_api import BOT_USERNAME, TOKEN, FakeBotApi
from tests.telegram_harness import fake_api, polling_bot
from tests.test_failsafe import assert_no_leak
from tests.test_telegram import index_settings, tg_engine

pytestmark = pytest.mark.slow
__all__ = ["index_settings", "tg_engine"]

UPDATES = 10_000
QUESTIONS = [
    "Can Chicago police ask about my immigration status?",
    "Do I have to open the door to immigration agents?",
    "¿Puedo sacar licencia de manejar sin papeles?",
    "What is a detainer?",
    "ICE is at my door right now",
    "How do I find a lawyer?",
    "Que faire si la police m'arrête ?",
    "help",
]
TEXT_CHATS = 50_000_000  # each well-formed text goes to its own chat, to check it got an answer
OTHER_CHATS = 60_000_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    """A fresh fake Bot API server."""
    async with fake_api() as server:
        yield server


class Generator:
    """Cheap random updates; ``expected`` holds the chats of well-formed text messages."""

    def __init__(self, fake: FakeBotApi, marker: str, seed: int = 13) -> None:
        self.fake = fake
        self.marker = marker
        self.rng = random.Random(seed)
        self.expected: list[int] = []
        self.kinds = [
            self.question,
            self.hostile_text,
            self.command,
            self.non_text,
            self.callback,
            self.inline_callback,
            self.unknown_type,
            self.unparseable,
            self.odd_entities,
            self.group,
            self.edited,
            self.no_sender,
        ]

    def chat(self) -> int:
        return OTHER_CHATS + self.rng.randrange(300)

    def person(self) -> dict[str, Any]:
        m = self.marker
        return {"username": f"u{m}", "first_name": f"F{m}", "last_name": f"L{m}"}

    def base(self, chat: int, chat_type: str = "private") -> dict[str, Any]:
        return {
            "message_id": self.fake.next_message_id(),
            "date": int(time.time()),
            "chat": self.fake.chat(chat, chat_type),
            "from": self.fake.user(
                chat, self.rng.choice(["en", "es", None, "zz"]), **self.person()
            ),
        }

    def push(self) -> None:
        """One random update (about one in ten is a well-formed question)."""
        self.rng.choice(self.kinds)()

    def question(self) -> None:
        chat = TEXT_CHATS + len(self.expected)
        self.expected.append(chat)
        text = f"{self.rng.choice(QUESTIONS)} {self.marker}"
        self.fake.message(chat, text, user_extra=self.person())

    def hostile_text(self) -> None:
        m = self.marker
        text = self.rng.choice(
            [
                f"police \udc80 status {m}",
                f"\ud800{m}\udfff",
                "a" + "\u0301" * 5000 + m,
                (m + " ") * 800,
                "   ",
                "🙂" * 300 + m,
                f"<b>{m}</b> [x](javascript:alert(1)) ``` {m}",
                f"\u202e{m}\u2028\u2029\x00\x0b{m}",
                "9" * 4500 + m,
            ]
        )
        self.fake.message(self.chat(), text, user_extra=self.person())

    def command(self) -> None:
        m = self.marker
        command = self.rng.choice(
            [
                *("/help", "/start", f"/start {m}", f"/start topic-{m}", "/topics", "/privacy"),
                *("/language", f"/{m}", "/urgent", "/start es", "/stats"),
            ]
        )
        self.fake.message(self.chat(), command, user_extra=self.person())

    def non_text(self) -> None:
        content = self.rng.choice(
            [
                {"voice": {"file_id": self.marker, "file_unique_id": "v", "duration": 1}},
                {
                    "sticker": {
                        "file_id": "s",
                        "file_unique_id": "s",
                        "width": 1,
                        "height": 1,
                        "is_animated": False,
                        "is_video": False,
                        "type": "regular",
                    }
                },
                {"location": {"latitude": 41.8, "longitude": -87.6}},
                {"contact": {"phone_number": self.marker, "first_name": self.marker}},
            ]
        )
        message = {**self.base(self.chat()), **content, "caption": self.marker}
        self.fake.push({"message": message})

    def callback(self) -> None:
        data = self.rng.choice(
            [
                "fb:n:en:urgent",
                f"fb:h:en:{self.marker.lower()}",
                "sec:en:agents-at-home:0",
                "sec:en:agents-at-home:999",
                "doc:en:agents-at-home",
                "top:es",
                "lang:fr",
                "x" * 64,
                f"\udc80{self.marker}",
                "",
            ]
        )
        self.fake.callback(self.chat(), data)

    def inline_callback(self) -> None:
        chat = self.chat()
        self.fake.push(
            {
                "callback_query": {
                    "id": str(self.fake.next_message_id()),
                    "from": self.fake.user(chat, "en", **self.person()),
                    "chat_instance": "ci",
                    "inline_message_id": f"im{self.marker}",
                    "data": "top:en",
                }
            }
        )

    def unknown_type(self) -> None:
        kind = self.rng.choice(["brand_new_kind", "poll", "chat_member", "message_reaction"])
        self.fake.push({kind: {"id": self.marker, "text": self.marker}})

    def unparseable(self) -> None:
        message = self.base(self.chat())
        broken = self.rng.choice(["date", "chat", "from"])
        if broken == "from":
            message["from"] = {"first_name": self.marker}  # no id
        else:
            del message[broken]
        message["text"] = f"Do I have to open the door? {self.marker}"
        self.fake.push({"message": message})

    def odd_entities(self) -> None:
        text = f"{self.rng.choice(QUESTIONS)} @{BOT_USERNAME} {self.marker}"
        entity = self.rng.choice(
            [
                {"type": "bold", "offset": 0, "length": 10**9},
                {"type": "mention", "offset": -5, "length": 3},
                {"type": "no_such_type", "offset": 1, "length": 1},
                {"type": "text_mention", "offset": 0, "length": 2, "user": {"id": 1}},
            ]
        )
        chat_type = self.rng.choice(["private", "group"])
        message = {**self.base(self.chat(), chat_type), "text": text}
        message["entities"] = [entity] * self.rng.choice([1, 50])
        self.fake.push({"message": message})

    def group(self) -> None:
        text = self.rng.choice(
            [f"{QUESTIONS[0]} {self.marker}", f"@{BOT_USERNAME} \udc80 {self.marker}"]
        )
        self.fake.message(-self.chat(), text, chat_type="supergroup", user_id=self.chat())

    def edited(self) -> None:
        message = {**self.base(self.chat()), "text": self.marker, "edit_date": 1}
        self.fake.push({"edited_message": message})

    def no_sender(self) -> None:
        message = self.base(self.chat())
        del message["from"]
        message["sender_chat"] = {"id": -1, "type": "channel", "title": self.marker}
        message["text"] = f"{QUESTIONS[1]} {self.marker}"
        self.fake.push({"message": message})


async def test_fuzzed_updates(
    fake: FakeBotApi,
    index_settings: BotSettings,
    tg_engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"ZQXJ{uuid.uuid4().hex[:10]}"
    settings = index_settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(TOKEN),
            "telegram_api_url": fake.base_url,
            "data_dir": tmp_path / "var",
            "rate_limit_messages": 10**6,
        }
    )
    gen = Generator(fake, marker)
    # no outgoing throttle: the run measures the bot, not Telegram's flood limits
    unthrottled = AIORateLimiter(overall_max_rate=0, group_max_rate=0)
    async with polling_bot(settings, tg_engine, rate_limiter=unthrottled):
        for i in range(UPDATES):
            gen.push()
            if i % 500 == 499:
                await fake.wait_for(lambda: len(fake.updates) < 200, timeout=120)
        for chat in gen.expected:
            await fake.wait_messages(chat, 1, timeout=180)
        await fake.wait_for(lambda: not fake.updates, timeout=120)
        fake.message(TEXT_CHATS - 1, "/help")
        [help_text] = await fake.wait_messages(TEXT_CHATS - 1, 1)
    assert "/topics" in help_text
    assert len(gen.expected) > 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors[:5]]
    assert_no_leak(caplog, capfd, marker, TOKEN)
