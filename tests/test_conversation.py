"""Conversation care in the engine: small talk, personal details, places outside the area, and
phone-sized replies, on the real knowledge base, model and index."""

from __future__ import annotations

import statistics

import pytest

from bot import area, evaluate, personal, smalltalk
from bot.engine import Engine
from bot.settings import BotSettings
from ingest.embedder import E5Embeddings

HOTLINE = "1-855-435-7693"


@pytest.fixture
def engine(built_index_settings: BotSettings, real_embedder: E5Embeddings) -> Engine:
    return Engine(built_index_settings, embedder=real_embedder)


@pytest.mark.parametrize(
    ("message", "talk"),
    [
        ("hola", "greeting"),
        ("Holaaa 👋", "greeting"),
        ("thank you so much!!", "thanks"),
        ("Dziękuję", "thanks"),
        ("ok", "ack"),
        ("are you a bot?", "bot"),
        ("can I talk to a real person?", "person"),
        ("quiero hablar con una persona", "person"),
        ("ayuda", "help"),
        ("你好", "greeting"),
    ],
)
def test_small_talk_is_recognised(message: str, talk: str) -> None:
    assert smalltalk.classify(message) == talk


@pytest.mark.parametrize(
    "message",
    [
        "hola, me pueden arrestar en la corte?",
        "ok and at work?",
        "can i talk to a lawyer if im arrested",
        "thanks, but what if they have a warrant",
        "no tengo papeles",
    ],
)
def test_questions_are_never_small_talk(message: str) -> None:
    assert smalltalk.classify(message) is None


@pytest.mark.parametrize(
    ("message", "lang", "must"),
    [
        ("hola", "es", "pregunta"),
        ("hello!", "en", "question"),
        ("gracias", "es", HOTLINE),
        ("can i talk to a person", "en", "24 hours"),
        ("¿eres un robot?", "es", "abogado"),
    ],
)
def test_small_talk_gets_a_short_reply_in_the_chats_language(
    engine: Engine, message: str, lang: str, must: str
) -> None:
    reply = engine.answer(message)
    assert reply.kind == "smalltalk" and reply.language == lang
    assert len(reply.text) <= 300 and must in reply.text
    assert not reply.citations


def test_small_talk_in_a_chat_that_chose_spanish_is_spanish(engine: Engine) -> None:
    reply = engine.answer("ok", "es")
    assert reply.kind == "smalltalk" and reply.language == "es"


@pytest.mark.parametrize(
    ("message", "kinds"),
    [
        ("my name is Ana Lopez and my A number is A123456789", {"name", "a_number"}),
        ("call me at 312-555-0188 or ana.lopez@example.com", {"phone", "email"}),
        ("I live at 2145 W Cermak Rd apt 3, can ICE come in?", {"address"}),
        ("mi seguro social es 123-45-6789", {"ssn"}),
        ("me llamo Juan Pérez y vivo en calle Cermak 2145", {"name", "calle"}),
    ],
)
def test_personal_details_are_found_and_masked(message: str, kinds: set[str]) -> None:
    found = personal.redact(message)
    assert set(found.kinds) == kinds
    for secret in ("Lopez", "123456789", "555-0188", "example.com", "2145", "6789", "Pérez"):
        assert secret not in found.text


def test_help_line_numbers_and_laws_are_not_personal() -> None:
    message = "is 1-855-435-7693 the hotline? and what does 5 ILCS 805 say since 2025"
    assert personal.redact(message) == personal.Redaction(message, ())


def test_personal_details_get_a_warning_and_the_general_answer_never_an_echo(
    engine: Engine,
) -> None:
    message = "my name is Ana Lopez, A# 123-456-789, do I have to open the door to ICE?"
    reply = engine.answer(message)
    assert reply.kind == "answer" and reply.citations[0].doc_id in {
        "agents-at-home",
        "warrants-and-detainers",
    }
    assert "do not send names" in reply.notice
    assert "Lopez" not in reply.question and "456" not in reply.question
    assert "Lopez" not in str(reply.to_json()) and "123-456-789" not in str(reply.to_json())


@pytest.mark.parametrize(
    ("message", "outside"),
    [
        ("I live in Texas, can local police ask my status?", True),
        ("mi primo vive en Houston, tiene que abrir la puerta?", True),
        ("my sister is in new york and ice came", True),
        ("can chicago police ask my status", False),
        ("I moved from Florida to Chicago, what changes?", False),
        ("I am from Mexico, can police ask my status", False),
        ("ICE was on Washington street today", False),
    ],
)
def test_places_outside_illinois_are_recognised(message: str, outside: bool) -> None:
    assert area.outside(message) is outside


@pytest.mark.parametrize(
    "message",
    [
        "I live in Texas, can local police ask about my status?",
        "my cousin lives in Houston, does she have to open the door to ICE?",
        "im in florida and need a lawyer",
        "vivo en Indiana, la policía puede preguntar si tengo papeles?",
    ],
)
def test_outside_the_area_gets_the_caveat_and_never_chicago_or_illinois_rules(
    engine: Engine, message: str
) -> None:
    trace = engine.respond(message)
    reply = trace.reply
    assert reply.kind == "answer"
    assert "Illinois" in reply.text  # says what the service covers
    for cite in reply.citations:
        section = engine.corpus().section(cite.lang, cite.doc_id, cite.section_index)
        assert section is not None
        assert section.jurisdiction not in {"Chicago", "Cook County", "Illinois"}, cite.doc_id
    assert not any(c.doc_id in {"welcoming-city", "trust-act"} for c in reply.citations)


def test_replies_are_phone_sized(engine: Engine) -> None:
    """Over the dev items, the median reply as Telegram shows it (titles linked, so without the
    URLs) is at most 700 characters, and the no-answer and declined replies at most 450."""
    shown: list[int] = []
    for item in evaluate.load_items(evaluate.SPLITS["dev"]):
        if item.chat:
            continue
        reply = engine.answer(item.question, item.ui_lang)
        length = len(reply.text) - sum(len(c.url) + 2 for c in reply.citations)
        shown.append(length)
        if reply.kind in ("no_answer", "declined"):
            assert len(reply.text) <= 450, item.id
    assert statistics.median(shown) <= 700


@pytest.mark.parametrize(
    ("message", "skipped"),
    [
        ("in the kane county jail can they keep me extra days for ice", {"Chicago", "Cook County"}),
        ("la policia de los suburbios me puede parar", {"Chicago"}),
        ("and state police outside the city?", {"Chicago", "Cook County"}),
        ("can evanston police ask my status", {"Chicago"}),
        ("can cpd hold me for ice", set()),
        ("chicago police in evanston?", set()),
        ("what is a detainer", set()),
    ],
)
def test_places_in_illinois_outside_chicago_are_recognised(message: str, skipped: set[str]) -> None:
    assert set(area.local_limits(message)[0]) == skipped


@pytest.mark.parametrize(
    "message",
    [
        "can the police in aurora hold me for ice",
        "la policia de los suburbios puede preguntar si tengo papeles",
        "in the kane county jail can they keep me extra days for ice",
    ],
)
def test_a_suburb_is_never_answered_with_chicagos_own_rules(engine: Engine, message: str) -> None:
    """Chicago's ordinance binds the city's agencies only; outside Cook County, Cook County's too."""
    trace = engine.respond(message)
    assert trace.reply.kind == "answer"
    skipped = area.local_limits(message)[0]
    for cite in trace.reply.citations:
        section = engine.corpus().section(cite.lang, cite.doc_id, cite.section_index)
        assert section is not None
        assert section.jurisdiction not in skipped, cite.doc_id


def test_a_chain_of_follow_ups_keeps_the_first_questions_topic(engine: Engine) -> None:
    """ "and at school?" after "what about at work?" after a question about ICE is still about
    ICE: a follow-up read with the turn before remembers that turn's topic, not the fragment."""
    first = engine.respond("can ice come into my house without a warrant")
    second = engine.respond("what about at work?", history=[first.turn()])
    assert second.explain["decision"]["query"] == "with previous turn"
    assert second.turn().topic == first.turn().question
    third = engine.respond("and at school?", history=[first.turn(), second.turn()])
    assert third.explain["decision"]["query"] == "with previous turn"
    assert third.turn().topic == first.turn().question
    assert third.reply.kind == "answer"
