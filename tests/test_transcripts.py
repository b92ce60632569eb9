"""Ten sample conversations through the real bot and the fake Bot API, written to Markdown so a
reviewer can read what residents see: ``var/transcripts.md`` (``make transcripts``)."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import pytest

from bot.engine import Engine
from bot.tg.app import TelegramApp
from ingest.settings import PROJECT_ROOT
from tests.fake_bot_api import Call, FakeBotApi
from tests.test_telegram import (  # noqa: F401  (fixtures)
    bot,
    fake,
    index_settings,
    settings,
    tg_engine,
)

pytestmark = pytest.mark.slow
OUT = PROJECT_ROOT / "var" / "transcripts.md"
PHOTO = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
VOICE = {"file_id": "v1", "file_unique_id": "u2", "duration": 4}

#: (title, Telegram app language, steps). A step is a typed message, ("tap", callback data),
#: ("photo", caption) or ("voice", None).
CONVERSATIONS: list[tuple[str, str, list[Any]]] = [
    ("First contact", "en", ["/start", "can chicago cops ask if im undocumented??"]),
    ("An emergency through the menu", "en", ["/start", ("tap", "sos:en"), ("tap", "sit:en:door")]),
    (
        "Follow-ups",
        "en",
        [
            "what should I do if ICE comes to my house someday",
            "and if they show me a paper?",
            "what about at work",
        ],
    ),
    ("Spanish", "es", ["me pueden arrestar en la corte de inmigracion?", "y en el hospital?"]),
    ("A photo with a caption", "es", [("photo", "¿es válida esta orden?")]),
    ("Small talk", "es", ["hola", "gracias!", "eres un robot?", "quiero hablar con una persona"]),
    ("Outside the area", "en", ["I live in Indiana, can the police ask for my papers?"]),
    (
        "Personal data",
        "en",
        ["my name is Ana Lopez and my A number is A123456789, ICE took my husband what do i do"],
    ),
    ("A voice note", "en", [("voice", None)]),
    ("No vetted answer", "en", ["who won the bears game last night", ("tap", "top:en:2")]),
]


def _plain(message: str) -> str:
    """Telegram HTML as a reader sees it: links as their text, tags gone."""
    text = re.sub(r'<a href="([^"]+)">(.*?)</a>', r"\2", message)
    return html.unescape(re.sub(r"</?[a-z]+>", "", text))


def _buttons(call: Call) -> str:
    markup = call.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", [])
    return " ".join(f"[{b['text']}]" for row in rows for b in row)


def _bot_lines(calls: list[Call]) -> list[str]:
    lines: list[str] = []
    for call in calls:
        text = call.params.get("text")
        if text:
            body = _plain(str(text)).replace("\n", "\n> ")
            lines.append(f"> {body}")
        buttons = _buttons(call)
        if buttons:
            lines.append(f"> _buttons:_ {buttons}")
        lines.append("")
    return lines


async def test_sample_conversations_are_written_for_review(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    out = ["# What residents see: ten sample conversations", ""]
    out.append("Written by `tests/test_transcripts.py` through the real bot and a fake Bot API.")
    out.append("")
    methods = ("sendMessage", "editMessageText", "editMessageReplyMarkup")
    for n, (title, lang, steps) in enumerate(CONVERSATIONS, 1):
        chat = 9000 + n
        out += [f"## {n}. {title}", ""]
        for step in steps:
            before = sum(len(fake.of(m, chat)) for m in methods)
            if isinstance(step, str):
                out.append(f"**Resident:** {step}")
                fake.message(chat, step, language_code=lang)
            elif step[0] == "tap":
                out.append(f"**Resident taps** `{step[1]}`")
                fake.callback(chat, step[1], message_id=1, language_code=lang)
            elif step[0] == "photo":
                out.append(f"**Resident sends a photo with the caption:** {step[1]}")
                fake.message(chat, None, language_code=lang, caption=step[1], photo=PHOTO)
            else:
                out.append("**Resident sends a voice note.**")
                fake.message(chat, None, language_code=lang, voice=VOICE)
            out.append("")
            await fake.wait_for(
                lambda c=chat, b=before: sum(len(fake.of(m, c)) for m in methods) > b
            )
            await asyncio.sleep(0.5)  # a reply may take more than one message
            calls = sorted((c for m in methods for c in fake.of(m, chat)), key=lambda c: c.at)
            out += _bot_lines(calls[before:])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(out), "utf-8")
    written = OUT.read_text("utf-8")
    assert written.count("\n## ") == 10
    assert written.count("Lopez") == 1 and written.count("A123456789") == 1  # never echoed
    assert "Do not open the door" in written and "_buttons:_ [🆘" in written
