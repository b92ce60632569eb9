"""Load run of the Telegram bot through the fake Bot API: many chats asking at once.

``run_load()`` starts the real application (real engine and index from the environment's
settings, normally ``var/`` after ``make ingest``) against the fake server, pushes ``per_chat``
questions for each of ``chats`` chats in one burst, and reports how many were answered, whether
every chat got its answers in the order it asked, and the update-to-reply latency.

Telegram's own flood limits (30 messages a second) are switched off by default, so the figures
measure the bot; pass ``telegram_limits=True`` to include them.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram.ext import AIORateLimiter

from bot.engine import Engine
from bot.settings import BotSettings
from bot.tg.format import format_reply
from tests.telegram_harness import bot_settings, fake_api, polling_bot

QUESTIONS = (
    "Do I have to open the door to immigration agents?",
    "Can Chicago police ask about my immigration status?",
    "Can I get a driver's license without papers?",
    "How do I find a lawyer for immigration?",
    "¿Qué es una orden de detención (detainer)?",
)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _run(
    settings: BotSettings, engine: Engine, chats: int, per_chat: int, telegram_limits: bool
) -> dict[str, Any]:
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(per_chat)]
    expected = [format_reply(engine.answer(q)) for q in questions]
    limiter = (
        AIORateLimiter(max_retries=3)
        if telegram_limits
        else AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    )
    with tempfile.TemporaryDirectory() as state_dir:
        async with fake_api() as fake:
            app_settings = bot_settings(
                settings,
                fake,
                data_dir=Path(state_dir),
                rate_limit_messages=max(per_chat, settings.rate_limit_messages),
            )
            async with polling_bot(app_settings, engine, rate_limiter=limiter):
                ids = range(500_000, 500_000 + chats)
                pushed: dict[int, list[int]] = {chat: [] for chat in ids}
                started = time.monotonic()
                for q in questions:
                    for chat in ids:
                        pushed[chat].append(fake.message(chat, q)["update_id"])
                total = sum(len(e) for e in expected)
                deadline = started + 60 + 2.0 * chats * per_chat
                while time.monotonic() < deadline:
                    if all(len(fake.of("sendMessage", c)) >= total for c in ids):
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.monotonic() - started

    answered = 0
    in_order = True
    latencies: list[float] = []
    ends = [sum(len(e) for e in expected[: k + 1]) - 1 for k in range(per_chat)]
    for chat in ids:
        calls = fake.of("sendMessage", chat)
        texts = [c.params["text"] for c in calls]
        for k, end in enumerate(ends):
            if end < len(calls):
                answered += 1
                latencies.append(calls[end].at - fake.pushed_at[pushed[chat][k]])
        in_order &= texts == [m for e in expected for m in e]
    return {
        "chats": chats,
        "questions": chats * per_chat,
        "answered": answered,
        "order_held": in_order,
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1) if latencies else None,
        "max_ms": round(1000 * max(latencies), 1) if latencies else None,
        "wall_s": round(elapsed, 1),
        "telegram_limits": telegram_limits,
        "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
    }


def run_load(
    chats: int = 200,
    per_chat: int = 5,
    settings: BotSettings | None = None,
    telegram_limits: bool = False,
) -> dict[str, Any]:
    """Serve ``chats`` x ``per_chat`` questions at once; answered count, order, p50/p95 latency."""
    settings = settings or BotSettings()
    engine = Engine(settings)
    engine.warm_up()
    return asyncio.run(_run(settings, engine, chats, per_chat, telegram_limits))


if __name__ == "__main__":
    print(json.dumps(run_load(), indent=2))
