"""A conversation on Telegram, end to end through the fake Bot API: memory for follow-ups, the
emergency menu, small talk, places outside the area, personal details, photos with captions, and
topic buttons under a reply that had no answer."""

from __future__ import annotations

import logging
import uuid

import pytest

from bot.engine import Engine, Turn
from bot.tg.app import TelegramApp
from bot.tg.format import esc, format_reply
from bot.ui_texts import ui
from tests.fake_bot_api import FakeBotApi
from tests.test_telegram import (  # noqa: F401  (fixtures)
    bot,
    fake,
    index_settings,
    keyboard,
    settings,
    tg_engine,
)

pytestmark = pytest.mark.slow
HOTLINE = "1-855-435-7693"


async def test_a_follow_up_is_answered_with_the_previous_turn_and_forget_ends_it(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    chat = 4101
    first, follow = (
        "what should I do if ICE comes to my house someday",
        "and if they show me a paper?",
    )
    fake.message(chat, first)
    await fake.wait_messages(chat, 1)
    fake.message(chat, follow)
    texts = await fake.wait_messages(chat, 2)
    earlier = tg_engine.respond(first, None)
    with_context = tg_engine.respond(
        follow, None, history=[Turn(first, earlier.sections, "en")], prior="en"
    )
    assert with_context.explain["decision"]["query"] == "with previous turn"
    assert texts[1] == format_reply(with_context.reply)[0]
    fake.message(chat, "/forget")
    fake.message(chat, follow)
    texts = await fake.wait_messages(chat, 4)
    alone = tg_engine.respond(follow, None, prior="en")
    assert texts[3] == format_reply(alone.reply)[0]


async def test_start_offers_the_emergency_menu_first(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    chat = 4201
    fake.message(chat, "/start")
    await fake.wait_messages(chat, 1)
    assert keyboard(fake.of("sendMessage", chat)[0])[0] == "sos:en"
    fake.callback(chat, "sos:en", message_id=1)
    [_, menu] = await fake.wait_messages(chat, 2)
    assert menu == esc(ui("urgent_menu", "en"))
    fake.callback(chat, "sit:en:door", message_id=2)
    texts = await fake.wait_messages(chat, 3)
    assert texts[2] == format_reply(tg_engine.situation_reply("door", "en"))[0]
    assert "Do not open the door" in texts[2] and HOTLINE in texts[2]


@pytest.mark.parametrize(
    ("message", "lang", "must"),
    [("hola", "es", "Escriba su pregunta"), ("thanks!", "en", HOTLINE), ("ok", "en", "question")],
)
async def test_small_talk_gets_a_short_reply_without_buttons(
    fake: FakeBotApi, bot: TelegramApp, message: str, lang: str, must: str
) -> None:
    chat = 4301
    fake.message(chat, message, language_code=None)
    [reply] = await fake.wait_messages(chat, 1)
    assert len(reply) <= 300 and must in reply
    assert keyboard(fake.of("sendMessage", chat)[0]) == []


async def test_asking_for_a_person_gets_the_help_lines_with_hours(
    fake: FakeBotApi, bot: TelegramApp
) -> None:
    fake.message(4302, "can I talk to a real person please")
    [reply] = await fake.wait_messages(4302, 1)
    assert HOTLINE in reply and "24 hours" in reply and len(reply) <= 300


async def test_outside_the_area_gets_the_caveat(fake: FakeBotApi, bot: TelegramApp) -> None:
    fake.message(4401, "I live in Texas, can the local police ask about my status?")
    [reply] = await fake.wait_messages(4401, 1)
    assert reply.startswith("<i>This service covers Chicago, Cook County and Illinois.")
    assert "Welcoming City" not in reply


async def test_personal_details_get_a_warning_and_are_never_echoed_or_logged(
    fake: FakeBotApi, bot: TelegramApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    surname = f"Zq{uuid.uuid4().hex[:8]}"
    fake.message(
        4501, f"my name is Ana {surname}, A# 204-118-377, do I have to open the door to ICE?"
    )
    [reply] = await fake.wait_messages(4501, 1)
    assert reply.startswith("<i>Please do not send names") and "door" in reply.lower()
    for secret in (surname, "204-118-377", "204118377"):
        assert secret not in reply and secret not in caplog.text


async def test_a_photo_with_a_caption_is_answered_from_the_caption(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    caption = "¿es válida esta orden que me dejaron en la puerta?"
    photo = [{"file_id": "p9", "file_unique_id": "u9", "width": 90, "height": 90}]
    fake.message(4601, None, language_code="es", caption=caption, photo=photo)
    [reply] = await fake.wait_messages(4601, 1)
    expected = tg_engine.answer(caption, None, prior="es")
    assert expected.kind == "answer" and expected.language == "es"
    assert reply == format_reply(expected)[0]


async def test_no_answer_offers_the_topics_as_buttons_and_a_person(
    fake: FakeBotApi, bot: TelegramApp
) -> None:
    fake.message(4701, "who won the bears game last night")
    [reply] = await fake.wait_messages(4701, 1)
    buttons = keyboard(fake.of("sendMessage", 4701)[0])
    assert len(reply) <= 450 and "- " not in reply  # no text list of topics
    assert buttons[0] == "sos:en" and any(b.startswith("doc:en:") for b in buttons)
    assert "top:en:2" in buttons and buttons[-1] == "ppl:en:"
