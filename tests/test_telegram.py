"""End-to-end tests of the Telegram bot: the real PTB Application, engine and Chroma index, talking
HTTP to a fake Bot API server on loopback. Only Telegram is fake.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot import stats as maintainer
from bot import texts as texts_
from bot.engine import Engine, Trace, Turn
from bot.reply import Reply
from bot.settings import BotSettings
from bot.state import NO_TOPIC, REASONS, State
from bot.tg import keyboards
from bot.tg.app import TelegramApp, build_application, webhook_options
from bot.tg.format import esc, format_reply, format_sources
from bot.ui_texts import LEGAL_DIRECTORY, ui, ui_languages
from ingest.embedder import E5Embeddings
from ingest.settings import PROJECT_ROOT
from tests.fake_bot_api import BOT_USERNAME, TOKEN, Call, FakeBotApi
from tests.telegram_harness import ADMIN_ID, bot_settings, fake_api, polling_bot

pytestmark = pytest.mark.slow
KNOWLEDGE = PROJECT_ROOT / "knowledge"


@pytest.fixture(scope="session")
def index_settings(built_index_dir: Path) -> BotSettings:
    """Settings pointing at the session's built index of ``knowledge/`` (read only here)."""
    return BotSettings(data_dir=built_index_dir, knowledge_dir=KNOWLEDGE)


@pytest.fixture(scope="session")
def tg_engine(index_settings: BotSettings, real_embedder: E5Embeddings) -> Engine:
    """One warmed-up engine for the whole session."""
    engine = Engine(index_settings, embedder=real_embedder)
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


def topic_buttons(engine: Engine, lang: str = "en") -> list[str]:
    """The callback data of the first page of topic buttons."""
    markup = keyboards.topics(engine.catalog(lang), lang)
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row]


def conversation(engine: Engine, questions: list[str], app_language: str = "en") -> list[Reply]:
    """The replies one chat gets to ``questions`` in order (the bot remembers the last turns)."""
    replies: list[Reply] = []
    history: list[Turn] = []
    for q in questions:
        prior = history[-1].lang if history else app_language
        trace = engine.respond(q, None, history=history[-3:], prior=prior)
        history.append(Turn(trace.reply.question, trace.sections, trace.reply.language))
        replies.append(trace.reply)
    return replies


def keyboard(call: Call) -> list[str]:
    """The callback data of every button under a sent message."""
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def balanced(message: str) -> bool:
    """True when every tag in ``message`` is one Telegram accepts and is closed in order."""

    class Checker(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.stack: list[str] = []
            self.ok = True

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.ok &= tag in ("a", "b", "i")
            self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            self.ok &= bool(self.stack) and self.stack.pop() == tag

    checker = Checker()
    checker.feed(message)
    checker.close()
    return checker.ok and not checker.stack


async def settle(seconds: float = 0.6) -> None:
    """Give the bot time to (not) react."""
    await asyncio.sleep(seconds)


# -- /start, deep links and commands ------------------------------------------------------------


async def test_start_welcomes_in_the_app_language_with_buttons(
    fake: FakeBotApi, bot: TelegramApp
) -> None:
    fake.message(2001, "/start")
    fake.message(2002, "/start", language_code="es")
    [en] = await fake.wait_messages(2001, 1)
    [es] = await fake.wait_messages(2002, 1)
    assert en.startswith("Hello. I am KYR Bot") and "not end-to-end encrypted" in en
    assert "not legal advice" in en
    assert es.startswith("Hola. Soy KYR Bot") and "no tienen cifrado de extremo a extremo" in es
    # "I need help right now" comes first
    assert keyboard(fake.of("sendMessage", 2001)[0]) == ["sos:en", "wel:en", "wel:es", "top:en"]
    assert keyboard(fake.of("sendMessage", 2002)[0]) == ["sos:es", "wel:en", "wel:es", "top:es"]
    # the command menu was registered in both languages at start-up
    menus = fake.of("setMyCommands")
    others = {lang for lang in ui_languages() if lang != "en"}
    assert {"es", "pl", "zh", "ar", "uk", "ko", "tl"} <= others
    assert {c.params.get("language_code") for c in menus} == {None, *others}
    assert menus[0].params["commands"][0]["command"] == "start"


async def test_deep_link_language_is_remembered(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    fake.message(2101, "/start es", language_code="en")
    [welcome] = await fake.wait_messages(2101, 1)
    assert welcome.startswith("Hola")
    # a question in a language the bot does not speak is answered in the chosen one
    french = "Que dois-je faire si des agents de l'immigration viennent chez moi ?"
    assert tg_engine.detect_language(french) not in ("en", "es")
    fake.message(2101, french, language_code="en")
    answer = (await fake.wait_messages(2101, 2))[1]
    assert answer == format_reply(tg_engine.answer(french, "es"))[0]
    assert tg_engine.answer(french, "es").language == "es"
    # the chat's explicit choice wins over the language of the message
    english = "What can I do if immigration agents come to my home?"
    fake.message(2101, english, language_code="en")
    answer = (await fake.wait_messages(2101, 3))[2]
    assert answer == format_reply(tg_engine.answer(english, "es"))[0] and "Fuentes" in answer


async def test_deep_link_to_a_topic(fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine) -> None:
    fake.message(2201, "/start topic-agents-at-home")
    fake.message(2202, "/start topic-agents-at-home_es")
    fake.message(2203, "/start topic-no-such-topic")
    fake.message(2204, "/start " + "x" * 4000)
    sent = {
        chat: await fake.wait_messages(chat, 2 if chat != 2204 else 1)
        for chat in (2201, 2202, 2203, 2204)
    }
    doc_en = next(d for d in tg_engine.catalog("en") if d.id == "agents-at-home")
    doc_es = next(d for d in tg_engine.catalog("es") if d.id == "agents-at-home")
    assert esc(doc_en.title) in sent[2201][1]
    assert keyboard(fake.of("sendMessage", 2201)[1]) == [
        *(f"sec:en:agents-at-home:{s.index}" for s in doc_en.sections),
        "back:en",
    ]
    assert sent[2202][0].startswith("Hola") and esc(doc_es.title) in sent[2202][1]
    assert sent[2203][1] == "I couldn't find that topic. Here are all the topics:"
    assert keyboard(fake.of("sendMessage", 2203)[1]) == topic_buttons(tg_engine)
    assert sent[2204][0].startswith("Hello")
    await settle()
    assert len(fake.texts(2204)) == 1


async def test_fixed_commands(fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine) -> None:
    chat = 2301
    for command in ("/help", "/privacy", "/sources", "/language", "/topics", "/nonsense"):
        fake.message(chat, command)
    fake.message(chat, "/" + "a" * 4096)
    n = len(format_sources(ui("sources_header", "en"), tg_engine.catalog("en"), "en"))
    texts = await fake.wait_messages(chat, 6 + n)
    assert "/topics" in texts[0] and "1-855-435-7693" in texts[0]
    assert "not end-to-end encrypted" in texts[1]
    sources = "".join(texts[2 : 2 + n])  # the list is split to fit Telegram's message limit
    for doc in tg_engine.catalog("en"):
        assert esc(doc.title) in sources
    assert "(checked on " in sources and "<a href=" in sources
    assert keyboard(fake.of("sendMessage", chat)[2 + n]) == ["lang:en", "lang:es"]
    assert texts[3 + n] == "Choose a topic:"
    assert keyboard(fake.of("sendMessage", chat)[3 + n]) == topic_buttons(tg_engine)
    assert (
        texts[4 + n]
        == texts[5 + n]
        == ("I don't know that command. Send /help to see what I can do.")
    )


# -- questions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "lang", "label"),
    [
        ("Can Chicago police ask about my immigration status?", "en", "Sources"),
        ("¿La policía de Chicago me puede preguntar por mi estatus migratorio?", "es", "Fuentes"),
    ],
)
async def test_question_is_answered_with_citations(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine, question: str, lang: str, label: str
) -> None:
    chat = 2400 + len(lang) + len(question)
    fake.message(chat, question, language_code=None)
    [text] = await fake.wait_messages(chat, 1)
    reply = tg_engine.answer(question)
    assert reply.kind == "answer" and reply.language == lang and reply.citations
    assert text == format_reply(reply)[0]
    assert f"<b>{label} (" in text  # "Sources (checked on DATE)"
    for c in reply.citations:
        assert f'<a href="{esc(c.url)}">' in text
    assert balanced(text)
    call = fake.of("sendMessage", chat)[0]
    assert call.params["parse_mode"] == "HTML"
    first = reply.citations[0]
    doc, section = first.doc_id, f"{first.lang}/{first.doc_id}#{first.section_index}"
    assert keyboard(call) == [
        f"fb:h:{lang}:{section}",
        f"fb:n:{lang}:{section}",
        f"ppl:{lang}:{doc}",
    ]
    typing = fake.of("sendChatAction", chat)
    assert typing and typing[0].params["action"] == "typing" and typing[0].at <= call.at


async def test_urgent_message_gets_the_urgent_reply_first(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    chat = 2501
    question = "ICE agents are at my door right now, what do I do?"
    fake.message(chat, question)
    [text] = await fake.wait_messages(chat, 1)
    reply = tg_engine.answer(question)
    assert reply.kind == "urgent"
    assert text == format_reply(reply)[0]
    assert "1-855-435-7693" in text
    to_chat = [c.method for c in fake.calls if c.params.get("chat_id") == chat]
    assert to_chat == ["sendChatAction", "sendMessage"]


async def test_urgent_command_asks_which_situation_then_sends_that_script(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    fake.message(2502, "/urgent", language_code="es")
    [menu] = await fake.wait_messages(2502, 1)
    assert menu == esc(ui("urgent_menu", "es"))
    situations = ["door", "work", "school", "detained", "stopped"]
    assert keyboard(fake.of("sendMessage", 2502)[0]) == [f"sit:es:{s}" for s in situations]
    fake.callback(2502, "sit:es:work", message_id=60)
    texts = await fake.wait_messages(2502, 2)
    script = tg_engine.situation_reply("work", "es")
    assert script.citations[0].section_index == 1 and len(script.citations) == 1
    assert texts[1:] == format_reply(script) and balanced(texts[1])
    assert len(texts[1]) < 1500  # one script, not all five


@pytest.mark.parametrize(
    "content",
    [
        {"voice": {"file_id": "v1", "file_unique_id": "u1", "duration": 3}},
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u3",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "letter.pdf"}},
        {"location": {"latitude": 41.88, "longitude": -87.63}},
        {"contact": {"phone_number": "+13125550100", "first_name": "Ana"}},
    ],
    ids=["voice", "photo", "sticker", "document", "location", "contact"],
)
async def test_non_text_asks_to_type(
    fake: FakeBotApi, bot: TelegramApp, content: dict[str, Any]
) -> None:
    fake.message(2601, None, language_code="es", **content)
    fake.message(2602, None, language_code="en", **content)
    [es] = await fake.wait_messages(2601, 1)
    [en] = await fake.wait_messages(2602, 1)
    # a voice note gets the hotline; a photo or a file a warning not to send papers
    key = {"voice": "media_voice", "photo": "media_no_caption", "document": "media_no_caption"}
    expected = key.get(next(iter(content)), "type_question")
    assert es == esc(ui(expected, "es"))
    assert en == esc(ui(expected, "en"))
    if expected == "media_voice":
        assert "1-855-435-7693" in es


async def test_edited_messages_and_channel_posts_are_ignored(
    fake: FakeBotApi, bot: TelegramApp
) -> None:
    message = {
        "message_id": 5,
        "date": 1,
        "chat": fake.chat(2701),
        "from": fake.user(2701),
        "text": "Do I have to open the door?",
    }
    fake.push({"edited_message": {**message, "edit_date": 2}})
    channel = {**message, "chat": fake.chat(-100270, "channel")}
    del channel["from"]
    fake.push({"channel_post": channel})
    fake.message(2702, "/help")
    await fake.wait_messages(2702, 1)
    await settle()
    assert fake.of("sendMessage", 2701) == [] and fake.of("sendMessage", -100270) == []


async def test_reply_longer_than_telegram_limit_is_split(
    fake: FakeBotApi, settings: BotSettings, tg_engine: Engine
) -> None:
    engine = LongAnswers(tg_engine)
    async with polling_bot(settings, engine):
        fake.message(2801, "Tell me everything about agents at home")
        reply = engine.answer("x")
        assert len(reply.text) > 4096
        expected = format_reply(reply)
        texts = await fake.wait_messages(2801, len(expected))
    assert texts == expected and len(texts) >= 2
    assert all(len(t) <= 4096 and balanced(t) for t in texts)
    calls = fake.of("sendMessage", 2801)
    assert [bool(keyboard(c)) for c in calls] == [False] * (len(calls) - 1) + [True]
    assert all(f"[{c.n}]" in "".join(texts) for c in reply.citations)


class LongAnswers(Engine):
    """The real engine, but every answer quotes all sections of three documents (a long reply)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.settings, embedder=engine.embedder, detector=engine.detector)

    def respond(self, question: str, lang: str | None = None, *_: Any, **__: Any) -> Trace:  # type: ignore[override]
        """The long reply, as the handlers ask for it."""
        return Trace(self.answer(question, lang))

    def answer(self, question: str, lang: str | None = None, *_: Any, **__: Any) -> Reply:
        """Every section of three documents, renumbered, as one reply."""
        parts: list[Reply] = []
        for doc in self.catalog("en")[:3]:
            parts += [self.section_reply(doc.id, s.index, "en") for s in doc.sections]
        citations = tuple(dataclasses.replace(r.citations[0], n=i) for i, r in enumerate(parts, 1))
        body = "\n\n".join(r.body.replace("[1]", f"[{i}]") for i, r in enumerate(parts, 1))
        return dataclasses.replace(parts[0], body=body, citations=citations)


# -- groups, rate limit, order ---------------------------------------------------------------------


async def test_groups_only_when_addressed(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    group = -2901
    question = "Do I have to open the door to immigration agents?"
    kw: dict[str, Any] = {"chat_type": "supergroup", "user_id": 2901}
    fake.message(group, question, **kw)
    fake.message(group, "/help", **kw)
    fake.message(group, "/help@another_bot", **kw)
    fake.message(group, None, voice={"file_id": "v", "file_unique_id": "v", "duration": 1}, **kw)
    await settle(1.0)
    assert fake.of("sendMessage", group) == []
    fake.message(group, f"@{BOT_USERNAME} {question}", **kw)
    [answer] = await fake.wait_messages(group, 1)
    assert answer == format_reply(tg_engine.answer(question))[0]
    mention = fake.of("sendMessage", group)[0]
    assert mention.params["reply_parameters"]["message_id"] > 0
    fake.message(group, question, reply_to_bot=True, **kw)
    fake.message(group, f"/help@{BOT_USERNAME}", **kw)
    texts = await fake.wait_messages(group, 3)
    assert texts[1] == answer and "/topics" in texts[2]


async def test_rate_limit(fake: FakeBotApi, settings: BotSettings, tg_engine: Engine) -> None:
    limited = settings.model_copy(update={"rate_limit_messages": 3, "rate_limit_window_s": 60})
    async with polling_bot(limited, tg_engine):
        for _ in range(6):
            fake.message(3001, "Can police ask about my immigration status?")
        fake.message(3002, "Can police ask about my immigration status?")
        texts = await fake.wait_messages(3001, 4)
        await fake.wait_messages(3002, 1)
        await settle()
    assert len(fake.texts(3001)) == 4
    assert texts[3] == esc(ui("rate_limited", "en"))
    assert len(set(texts[:3])) == 1 and "<b>Sources (" in texts[0]


async def test_each_chat_keeps_its_order(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    questions = [
        "Do I have to open the door to immigration agents?",
        "Can Chicago police ask about my immigration status?",
        "Can I get a driver's license without papers?",
        "How do I find a lawyer for immigration?",
        "What is a detainer?",
    ]
    expected = [format_reply(r)[0] for r in conversation(tg_engine, questions)]
    assert len(set(expected)) == len(expected)
    chats = range(3100, 3120)
    for chat in chats:
        for q in questions:
            fake.message(chat, q)
    for chat in chats:
        assert await fake.wait_messages(chat, 5) == expected


# -- buttons --------------------------------------------------------------------------------------


async def test_every_button(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine, settings: BotSettings
) -> None:
    chat = 3201
    doc = next(d for d in tg_engine.catalog("en") if d.id == "agents-at-home")
    fake.callback(chat, "wel:es", message_id=50)
    await fake.wait_for(lambda: len(fake.of("editMessageText")) == 1)
    edit = fake.of("editMessageText")[0]
    assert edit.params["message_id"] == 50 and edit.params["text"].startswith("Hola")
    assert keyboard(edit) == ["sos:es", "wel:en", "wel:es", "top:es"]

    fake.callback(chat, "lang:en", message_id=51)
    await fake.wait_for(lambda: len(fake.of("editMessageText")) == 2)
    assert fake.of("editMessageText")[1].params["text"] == ui("language_chosen", "en")

    fake.callback(chat, "top:en", message_id=52)
    [topics] = await fake.wait_messages(chat, 1)
    first_page = keyboard(fake.of("sendMessage")[0])
    assert topics == "Choose a topic:" and first_page[0] == "sos:en" and "top:en:2" in first_page
    assert f"doc:en:{doc.id}" not in first_page  # the ninth topic is on the second page
    fake.callback(chat, "top:en:2", message_id=52)
    await fake.wait_for(lambda: len(fake.of("editMessageReplyMarkup")) == 1)
    second_page = keyboard(fake.of("editMessageReplyMarkup")[0])
    assert f"doc:en:{doc.id}" in second_page and "top:en:1" in second_page

    fake.callback(chat, f"doc:en:{doc.id}", message_id=53)
    await fake.wait_for(lambda: len(fake.of("editMessageText")) == 3)
    sections = fake.of("editMessageText")[2]
    assert esc(doc.title) in sections.params["text"]
    assert keyboard(sections)[0] == f"sec:en:{doc.id}:0"

    fake.callback(chat, "back:en", message_id=53)
    await fake.wait_for(lambda: len(fake.of("editMessageText")) == 4)
    assert fake.of("editMessageText")[3].params["text"] == "Choose a topic:"

    fake.callback(chat, f"sec:en:{doc.id}:0", message_id=53)
    texts = await fake.wait_messages(chat, 2)
    assert texts[1] == format_reply(tg_engine.section_reply(doc.id, 0, "en"))[0]
    assert keyboard(fake.of("sendMessage", chat)[1])[0] == f"fb:h:en:en/{doc.id}#0"

    fake.callback(chat, f"fb:h:en:{doc.id}", message_id=54)
    fake.callback(chat, f"fb:n:en:{doc.id}", message_id=55)
    await fake.wait_for(lambda: len(fake.of("editMessageReplyMarkup")) == 3)
    assert keyboard(fake.of("editMessageReplyMarkup")[1]) == [f"ppl:en:{doc.id}"]

    fake.callback(chat, f"ppl:en:{doc.id}", message_id=56)
    texts = await fake.wait_messages(chat, 3)
    for line in ("1-855-435-7693", "1-877-581-3692", "911", "311", LEGAL_DIRECTORY):
        assert line in texts[2]

    answers = {
        c.params["callback_query_id"]: c.params.get("text") for c in fake.of("answerCallbackQuery")
    }
    assert ui("feedback_thanks", "en") in answers.values()
    assert ui("feedback_sorry", "en") in answers.values()
    assert len(answers) == 10  # every tap was answered
    state = State.open(settings)
    try:
        # one vote per chat and document: the second ("not helpful") is answered, not counted
        assert state.feedback() == {(doc.id, "helpful"): 1, (doc.id, "person"): 1}
        assert state.language(chat) == "en"
    finally:
        state.close()


@pytest.mark.parametrize(
    "data",
    [
        "garbage",
        "sec:en:../../etc/passwd:0",
        "sec:en:agents-at-home:999",
        "doc:en:no-such-doc",
        "fb:x:en:agents-at-home",
        "fb:h:en:no-such-doc",
        "lang:fr",
        "sec:en:agents-at-home:1<b>",
        "x" * 64,
        "fw:w:en:en/agents-at-home#999",
        "fw:w:en:en/no-such-doc#0",
        "fw:z:en:en/agents-at-home#0",
        "fb:n:en:xx/agents-at-home#0",
        "fb:n:en:en/agents-at-home#0" + "0" * 40,
    ],
)
async def test_tampered_buttons(
    fake: FakeBotApi, bot: TelegramApp, settings: BotSettings, data: str
) -> None:
    fake.callback(3301, data)
    fake.message(3301, "/help")
    await fake.wait_messages(3301, 1)
    await fake.wait_for(lambda: bool(fake.of("answerCallbackQuery")))
    answer = fake.of("answerCallbackQuery")[0].params
    assert answer.get("text") in (None, ui("stale_button", "en"))
    assert len(fake.texts(3301)) == 1
    state = State.open(settings)
    try:
        assert state.feedback() == {} and state.section_feedback() == {}
    finally:
        state.close()


# -- /forget, admin -------------------------------------------------------------------------------


async def test_forget_deletes_the_chat_state(
    fake: FakeBotApi, bot: TelegramApp, settings: BotSettings
) -> None:
    fake.message(3401, "/start es")
    fake.message(3401, "Can police ask about my immigration status?")
    await fake.wait_messages(3401, 2)
    state = State.open(settings)
    try:
        key = state.key(3401)
        assert state.language(3401) == "es"
        fake.message(3401, "/forget")
        texts = await fake.wait_messages(3401, 3)
        assert texts[2] == esc(ui("forgotten", "es"))
        assert state.language(3401) is None
        db = sqlite3.connect(settings.data_dir / "state.sqlite3")
        rows = [r for t in ("language", "rate") for r in db.execute(f"SELECT * FROM {t}")]
        db.close()
        assert all(key not in map(str, row) for row in rows)
    finally:
        state.close()


async def test_admin_commands_only_for_admins(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine
) -> None:
    fake.message(ADMIN_ID, "/stats")
    fake.message(ADMIN_ID, "/reload")
    fake.message(3501, "/stats")
    fake.message(3501, "/reload")
    admin = await fake.wait_messages(ADMIN_ID, 2)
    other = await fake.wait_messages(3501, 2)
    stats = tg_engine.stats()
    assert f"{stats['documents']} documents, {stats['chunks']} chunks" in admin[0]
    assert admin[1] == ui("admin_unchanged", "en")
    assert other == [esc(ui("unknown_command", "en"))] * 2


# -- what maintainers see: counts of questions with no answer, feedback per section ---------------

#: Searched, and no section clears the bar (checked at the start of the test).
NO_ANSWER = "What is the best pizza in Chicago?"


async def test_a_question_with_no_answer_is_counted_never_stored(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine, settings: BotSettings
) -> None:
    gap = maintainer.unanswered(tg_engine.respond(NO_ANSWER))
    assert gap is not None and gap[0] == "en" and gap[1] != NO_TOPIC, gap
    fake.message(3601, NO_ANSWER)
    fake.message(3602, NO_ANSWER)
    fake.message(3603, "Can Chicago police ask about my immigration status?")  # answered
    fake.message(3604, "hello")  # small talk
    fake.message(3605, "ICE is at my door")  # an urgent script
    for chat in range(3601, 3606):
        await fake.wait_messages(chat, 1)
    state = State.open(settings)
    try:
        await fake.wait_for(lambda: sum(state.no_answers().values()) == 2)
        assert state.no_answers() == {gap: 2}
        fake.message(ADMIN_ID, "/stats")
        [report] = await fake.wait_messages(ADMIN_ID, 1)
        lines = report.split("\n")
        assert "Questions with no answer: 2" in lines
        assert f"  {gap[0]}: 2" in lines and f"  {gap[1].split('#')[0]}: 2" in lines
        fake.message(3601, "/forget")
        texts = await fake.wait_messages(3601, 2)
        assert texts[1] == esc(ui("forgotten", "en"))
        assert state.no_answers() == {gap: 2}  # about no one: /forget has nothing to take
        assert state.language(3601) is None
    finally:
        state.close()
    stored = b"".join(p.read_bytes() for p in settings.data_dir.glob("state.sqlite3*"))
    assert stored.count(gap[1].encode()) >= 1  # the bytes searched are the ones written
    for needle in [NO_ANSWER, *(w for w in NO_ANSWER.split() if len(w) > 4), "3601", "3602"]:
        assert needle.encode() not in stored, needle
        assert needle.lower().encode() not in stored, needle


async def test_not_helpful_asks_why_and_counts_the_reason_per_section(
    fake: FakeBotApi, bot: TelegramApp, tg_engine: Engine, settings: BotSettings
) -> None:
    questions = {
        "en": (3701, "Can Chicago police ask about my immigration status?"),
        "es": (3702, "¿La policía de Chicago me puede preguntar por mi estatus migratorio?"),
    }
    sections: dict[str, str] = {}
    for lang, (chat, question) in questions.items():
        fake.message(chat, question, language_code=lang)
        await fake.wait_messages(chat, 1)
        first = tg_engine.answer(question).citations[0]
        sections[lang] = f"{first.lang}/{first.doc_id}#{first.section_index}"
        assert keyboard(fake.of("sendMessage", chat)[0])[1] == f"fb:n:{lang}:{sections[lang]}"
    en, es = sections["en"], sections["es"]
    doc = en.split("/")[1].split("#")[0]

    fake.callback(3701, f"fb:n:en:{en}", message_id=60)
    await fake.wait_for(lambda: len(fake.of("editMessageReplyMarkup")) == 1)
    why = fake.of("editMessageReplyMarkup")[0]
    assert keyboard(why) == [f"fw:{code}:en:{en}" for code in "wuoq"] + [f"ppl:en:{doc}"]
    labels = [b["text"] for row in why.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:4] == [ui(f"btn_why_{reason}", "en") for reason in REASONS]
    fake.callback(3701, f"fw:u:en:{en}", message_id=60)
    fake.callback(3701, f"fw:w:en:{en}", message_id=60)  # a second reason is not counted
    fake.callback(3701, f"fw:w:en:{en.split('#')[0]}#99")  # no such section
    await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 4)
    answers = [c.params.get("text") for c in fake.of("answerCallbackQuery")]
    thanks, sorry = ui("feedback_thanks", "en"), ui("feedback_sorry", "en")
    assert answers == [sorry, thanks, thanks, ui("stale_button", "en")]
    assert keyboard(fake.of("editMessageReplyMarkup")[1]) == [f"ppl:en:{doc}"]

    fake.callback(3702, f"fb:n:es:{es}", message_id=61, language_code="es")
    await fake.wait_for(lambda: len(fake.of("editMessageReplyMarkup")) == 4)
    spanish = fake.of("editMessageReplyMarkup")[3]
    labels = [b["text"] for row in spanish.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [ui(f"btn_why_{r}", "es") for r in REASONS] + [ui("btn_person", "es")]
    fake.callback(3702, f"fw:o:es:{es}", message_id=61, language_code="es")
    await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 6)

    state = State.open(settings)
    try:
        expected = {(en, "not_helpful"): 1, (en, "unclear"): 1}
        expected.update({(es, "not_helpful"): 1, (es, "out_of_date"): 1})
        await fake.wait_for(lambda: state.section_feedback() == expected)
    finally:
        state.close()
    fake.message(ADMIN_ID, "/stats")
    [report] = await fake.wait_messages(ADMIN_ID, 1)
    assert f"  {en}: not_helpful=1 unclear=1" in report.split("\n")
    assert f"  {es}: not_helpful=1 out_of_date=1" in report.split("\n")


# -- faults ---------------------------------------------------------------------------------------


async def test_chroma_down_then_back(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    index_settings: BotSettings,
    tmp_path: Path,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = index_settings.model_copy(
        update={"chroma_url": f"http://127.0.0.1:{port}", "index_check_s": 0.0}
    )
    engine = Engine(down, embedder=tg_engine.embedder, detector=tg_engine.detector)
    question = "Can police ask about my immigration status?"
    async with polling_bot(settings, engine):
        fake.message(3601, question)
        fake.message(3601, "/topics", language_code="es")
        texts = await fake.wait_messages(3601, 2, timeout=60)
        assert texts[0] == esc(texts_.text("unavailable", "en"))
        assert texts[1] == esc(texts_.text("unavailable", "es"))
        assert "1-855-435-7693" in texts[0]

        shutil.copytree(index_settings.chroma_dir, tmp_path / "chroma")
        server = subprocess.Popen(
            [
                Path(sys.executable).parent / "chroma",
                "run",
                "--path",
                str(tmp_path / "chroma"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for attempt in range(60):
                fake.message(3602, question)
                await fake.wait_messages(3602, attempt + 1, timeout=60)
                if "<b>Sources (" in fake.texts(3602)[-1]:
                    break
                await asyncio.sleep(0.5)
            assert fake.texts(3602)[-1] == format_reply(tg_engine.answer(question))[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
        # The loaded generation is complete and vetted, so losing the server again does not
        # silence the bot: it keeps answering from memory until it can look for a newer index.
        for chat in (3603, 3604):  # the second comes after a background check has failed
            fake.message(chat, question)
            [after] = await fake.wait_messages(chat, 1, timeout=60)
            assert after == format_reply(tg_engine.answer(question))[0]
            engine._live.wait(30)


async def test_telegram_errors_are_retried_or_logged(
    fake: FakeBotApi,
    settings: BotSettings,
    tg_engine: Engine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PTB 22 warns about RetryAfter.retry_after's future type from inside its own constructor
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    fake.fail("setMyCommands", times=2, status=500)
    fake.fail("getUpdates", times=1, status=502)
    async with polling_bot(settings, tg_engine):
        assert any("command menu" in r.getMessage() for r in caplog.records)
        fake.fail("sendMessage", times=1, status=429, retry_after=1)
        fake.message(3701, "/help")
        await fake.wait_messages(3701, 2, timeout=30)  # the 429 and the retry
        fake.fail("sendMessage", times=1, status=500)
        fake.message(3702, "/help")
        fake.message(3702, "/privacy")
        texts = await fake.wait_messages(3702, 2, timeout=30)
        assert "not end-to-end encrypted" in texts[1]
        fake.fail("sendChatAction", times=1, status=500)
        fake.message(3703, "Can police ask about my immigration status?")
        [answer] = await fake.wait_messages(3703, 1)
        assert "<b>Sources (" in answer
    assert fake.texts(3701)[0] == fake.texts(3701)[1]
    assert any("Telegram error" in r.getMessage() for r in caplog.records)


async def test_webhook_checks_the_secret(
    fake: FakeBotApi, settings: BotSettings, tg_engine: Engine
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hooked = settings.model_copy(
        update={
            "webhook_url": "https://kyr.example.org/telegram/hook",
            "webhook_secret": SecretStr("s3cret-token"),
            "webhook_listen": "127.0.0.1",
            "webhook_port": port,
        }
    )
    state = State.open(hooked)
    app = build_application(hooked, tg_engine, state)
    options = webhook_options(hooked)
    url = f"http://127.0.0.1:{port}/telegram/hook"
    try:
        async with app:
            assert app.updater is not None
            await app.updater.start_webhook(**options)
            await app.start()
            assert fake.webhook_url == "https://kyr.example.org/telegram/hook"
            assert fake.of("setWebhook")[0].params["secret_token"] == "s3cret-token"
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": fake.chat(3801),
                    "from": fake.user(3801),
                    "text": "/help",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                },
            }
            async with httpx.AsyncClient() as client:
                missing = await client.post(url, json=update)
                wrong = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}
                )
                await settle()
                assert fake.texts(3801) == []
                right = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
                )
            assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
            [text] = await fake.wait_messages(3801, 1)
            assert "/topics" in text
            await app.updater.stop()
            await app.stop()
    finally:
        state.close()


# -- privacy --------------------------------------------------------------------------------------


async def test_nothing_personal_is_logged_or_stored(
    fake: FakeBotApi,
    settings: BotSettings,
    index_settings: BotSettings,
    tg_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = f"zq{uuid.uuid4().hex[:12]}"
    chat = 987_654_321_987
    person = {"username": f"user_{marker}", "first_name": f"Name{marker}", "last_name": marker}
    fake.fail("sendMessage", times=1, status=500)  # an error path must not leak either
    async with polling_bot(settings, tg_engine):
        fake.message(chat, f"/start topic-{marker}", user_extra=person)
        fake.message(chat, f"Can police ask about my status? {marker}", user_extra=person)
        fake.message(chat, f"ICE is at my door {marker}", user_extra=person)
        fake.message(
            chat,
            None,
            caption=marker,
            user_extra=person,
            photo=[{"file_id": marker, "file_unique_id": marker, "width": 1, "height": 1}],
        )
        fake.message(chat, f"/{marker}", user_extra=person)
        fake.callback(chat, f"fb:h:en:{marker}")
        fake.callback(chat, f"sec:en:{marker}:0")
        # welcome (fails: 500), answer, urgent reply, please-type, unknown command
        await fake.wait_for(lambda: len(fake.of("sendMessage", chat)) >= 5, timeout=60)
        await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) == 2)
    needles = [marker, str(chat), TOKEN, TOKEN.split(":")[1]]
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for needle in needles:
        assert needle not in logged
    dirs = (settings.data_dir, index_settings.data_dir)
    files = [p for d in dirs for p in d.rglob("*") if p.is_file()]
    assert any(p.name == "state.sqlite3" for p in files)
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, path
    secret = settings.config_dir / "state-secret"  # the HMAC key, never beside the data
    assert secret.stat().st_mode & 0o777 == 0o600
    assert not any("secret" in p.name or "salt" in p.name for p in files)
