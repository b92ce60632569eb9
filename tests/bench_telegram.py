"""Load runs of the Telegram bot through the fake Bot API: a burst, and a steady rate.

``run_load()`` starts the real application (real engine and index from the environment's
settings, normally ``var/`` after ``make ingest``) against the fake server, pushes ``per_chat``
questions for each of ``chats`` chats in one burst, and reports how many were answered, whether
every chat got its answers in the order it asked, and the update-to-reply latency.
``run_steady()`` sends questions at a fixed rate (each from the next of many chats) and reports
the same figures. Both take ``batching``: True embeds questions that arrive together in one model
call (bot/batching.py, the default), False is the code path before it (one question at a time
behind the model's lock, four engine threads).

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


def _settings(settings: BotSettings, batching: bool) -> BotSettings:
    """``settings`` with batching on, or as before it (no batching, four engine threads)."""
    if batching:
        return settings.model_copy(update={"embed_batch": True})
    return settings.model_copy(update={"embed_batch": False, "engine_workers": 4})


def _batches(engine: Engine) -> dict[str, Any]:
    sizes = getattr(engine.embedder, "batch_sizes", None)
    if not sizes:
        return {}
    calls = sum(sizes.values())
    return {
        "embed_calls": calls,
        "mean_batch": round(sum(k * n for k, n in sizes.items()) / calls, 1),
    }


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
    batching: bool = True,
) -> dict[str, Any]:
    """Serve ``chats`` x ``per_chat`` questions at once; answered count, order, p50/p95 latency."""
    settings = _settings(settings or BotSettings(), batching)
    engine = Engine(settings)
    engine.warm_up()
    result = asyncio.run(_run(settings, engine, chats, per_chat, telegram_limits))
    answered_per_s = result["answered"] / result["wall_s"] if result["wall_s"] else None
    return {
        "batching": batching,
        **result,
        "answers_per_s": round(answered_per_s, 1) if answered_per_s else None,
        **_batches(engine),
    }


async def _steady(
    settings: BotSettings, engine: Engine, rate: float, seconds: float, chats: int
) -> dict[str, Any]:
    total = int(rate * seconds)
    expected = {q: len(format_reply(engine.answer(q))) for q in QUESTIONS}
    with tempfile.TemporaryDirectory() as state_dir:
        async with fake_api() as fake:
            app_settings = bot_settings(
                settings,
                fake,
                data_dir=Path(state_dir),
                rate_limit_messages=max(total, settings.rate_limit_messages),
            )
            async with polling_bot(app_settings, engine):
                sent: list[tuple[int, int, int]] = []  # (chat, update id, replies expected so far)
                seen: dict[int, int] = {}
                started = time.monotonic()
                for k in range(total):
                    # on a fixed schedule: a late push does not shift the ones after it
                    await asyncio.sleep(max(0.0, started + k / rate - time.monotonic()))
                    chat = 600_000 + k % chats
                    question = QUESTIONS[k % len(QUESTIONS)]
                    seen[chat] = seen.get(chat, 0) + expected[question]
                    sent.append((chat, fake.message(chat, question)["update_id"], seen[chat]))
                deadline = time.monotonic() + 60 + 2.0 * total
                while time.monotonic() < deadline:
                    if all(len(fake.of("sendMessage", c)) >= n for c, n in seen.items()):
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.monotonic() - started
    latencies = []
    for chat, update_id, upto in sent:
        calls = fake.of("sendMessage", chat)
        if upto - 1 < len(calls):
            latencies.append(calls[upto - 1].at - fake.pushed_at[update_id])
    return {
        "rate_per_s": rate,
        "questions": total,
        "answered": len(latencies),
        "p50_ms": round(1000 * percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1) if latencies else None,
        "max_ms": round(1000 * max(latencies), 1) if latencies else None,
        "wall_s": round(elapsed, 1),
    }


def run_steady(
    rate: float = 20.0,
    seconds: float = 30.0,
    settings: BotSettings | None = None,
    batching: bool = True,
    chats: int = 200,
) -> dict[str, Any]:
    """Send ``rate`` questions a second for ``seconds`` (each from the next of ``chats`` chats);
    p50/p95 update-to-reply latency."""
    settings = _settings(settings or BotSettings(), batching)
    engine = Engine(settings)
    engine.warm_up()
    result = asyncio.run(_steady(settings, engine, rate, seconds, chats))
    return {"batching": batching, **result, **_batches(engine)}


if __name__ == "__main__":
    print(
        json.dumps(
            {
                "burst": [run_load(batching=False), run_load(batching=True)],
                "steady": [run_steady(batching=False), run_steady(batching=True)],
            },
            indent=2,
        )
    )
