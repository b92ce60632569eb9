"""Fast tests of the fail-safe pieces: normalising hostile text, the built-in urgent scripts,
skipping unparseable updates, redacting library logs, deadlines and in-memory limits."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import unicodedata
from pathlib import Path

import pytest
from telegram import Bot

from bot import texts
from bot.settings import BotSettings
from bot.state import State
from bot.tg.safety import (
    MAX_MARKS,
    Deadlines,
    EngineTimeout,
    OnceEach,
    RedactLibraryRecords,
    StateUnavailable,
    TapLimiter,
    error_summary,
    normalise,
)
from bot.tg.updates import sanitise_batch
from bot.tg.urgent import UrgentScripts, pattern_situation
from ingest.settings import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"
MARKER = "ZQXJMARKER123"


def test_normalise_bounds_hostile_text() -> None:
    zalgo = "a" + "\u0301" * 3000 + "b" * 3000
    out = normalise(zalgo, 600)
    assert len(out) <= 600
    assert sum(unicodedata.combining(c) > 0 for c in out) <= MAX_MARKS
    assert "b" in out  # the marks were dropped, not the text after them
    assert normalise("police \udc80 status \ud800", 600) == "police ? status ?"
    for ordinary in ("Tiếng Việt có dấu", "क्या पुलिस मेरी स्थिति पूछ सकती है", "¿Qué hago?"):
        assert normalise(ordinary, 600) == unicodedata.normalize("NFC", ordinary)
    assert normalise("x" * 10_000, 600) == "x" * 600


def test_pattern_urgency_is_cheap_and_careful() -> None:
    assert pattern_situation("ICE agents are at my door right now, what do I do?") == "door"
    assert pattern_situation("la migra está en mi trabajo ahorita") == "work"
    assert pattern_situation("What if ICE comes to my door someday?") is None
    assert pattern_situation("Can police ask about my immigration status?") is None
    started = time.perf_counter()
    pattern_situation(("ICE door now " + "\u0301" * 5) * 100)
    assert time.perf_counter() - started < 1.0


def test_urgent_scripts_come_from_the_knowledge_files() -> None:
    scripts = UrgentScripts.load(KNOWLEDGE)
    assert {"en", "es", "ar"} <= set(scripts.by_lang)
    door = scripts.reply("door", "en", "q")
    assert door is not None and door.kind == "urgent"
    assert "Do not open the door" in door.body and texts.HOTLINE in door.body
    assert door.citations[0].source == "knowledge/en/urgent.md"
    assert door.citations[0].url.startswith("https://")
    es = scripts.reply("work", "es")
    assert es is not None and es.language == "es" and texts.HOTLINE in es.body
    ar = scripts.reply("door", "ar")
    assert ar is not None and ar.notice == texts.text("translation_unreviewed", "ar")
    fr = scripts.reply("door", "fr")  # no French file: English steps
    assert fr is not None and fr.language == "en"
    every = scripts.every("en")
    assert every is not None and len(every.citations) == 5


def test_urgent_scripts_never_fail_start_up(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "urgent.md").write_text("---\nid: [broken\n---\n")
    assert UrgentScripts.load(tmp_path).by_lang == {}
    assert UrgentScripts.load(tmp_path / "missing").reply("door", "en") is None


def test_unparseable_updates_are_reduced_to_their_id() -> None:
    bot = Bot("123:abc")
    good = {
        "update_id": 5,
        "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "hi"},
    }
    bad = {"update_id": 6, "message": {"message_id": 2, "chat": {"id": 1}, "text": MARKER}}
    no_id = {"message": {"text": MARKER}}
    no_chat = {"update_id": 7, "message": {"message_id": 3, "date": 1, "text": MARKER}}
    batch = [good, bad, no_id, "junk", no_chat]
    assert sanitise_batch(batch, bot) == [good, {"update_id": 6}, {"update_id": 7}]
    assert sanitise_batch(True, bot) is True


def test_library_records_are_redacted() -> None:
    redact = RedactLibraryRecords()
    try:
        raise ValueError(MARKER)
    except ValueError as err:
        exc = (type(err), err, err.__traceback__)
    record = logging.LogRecord(
        "telegram.ext.ExtBot",
        logging.CRITICAL,
        __file__,
        1,
        "Error while parsing updates! Received data was %r",
        ([{"text": MARKER}],),
        exc,
    )
    assert redact.filter(record)
    assert MARKER not in record.getMessage() and record.exc_info is None
    assert "ValueError" in record.getMessage()
    debug = logging.LogRecord("telegram.Bot", logging.DEBUG, __file__, 1, "%s", (MARKER,), None)
    assert not redact.filter(debug)


def test_error_summary_names_places_not_values() -> None:
    try:
        {}[MARKER]
    except KeyError as err:
        summary = error_summary(err)
    assert summary.startswith("KeyError at ") and MARKER not in summary


def test_tap_limiter_and_once_each() -> None:
    taps = TapLimiter(3, 60)
    assert [taps.allow(1, now=0) for _ in range(5)] == [True, True, True, False, False]
    assert taps.allow(2, now=0) and taps.allow(1, now=61)
    once = OnceEach()
    assert once.first(1, "doc", "vote") and not once.first(1, "doc", "vote")
    assert once.first(2, "doc", "vote") and once.first(1, "doc", "person")


async def test_deadlines() -> None:
    deadlines = Deadlines(engine_s=0.2, state_s=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(EngineTimeout):
            await deadlines.engine(time.sleep, 3)
        assert time.monotonic() - started < 1.0
        assert await deadlines.engine(sum, [1, 2]) == 3

        def broken() -> None:
            raise sqlite3.OperationalError("database is locked")

        with pytest.raises(StateUnavailable):
            await deadlines.state(broken)
    finally:
        deadlines.shutdown()


async def test_locked_state_database_passes_the_deadline(tmp_path: Path) -> None:
    """MEDIUM-1 at the unit level: ``hit`` waits up to SQLite's 5 s busy timeout on the locked
    file; the deadline lets the event loop go on after 0.3 s."""
    data = tmp_path / "var"  # the state secret's folder may not sit inside the data folder
    state = State.open(BotSettings(data_dir=data, config_dir=tmp_path / "config"))
    deadlines = Deadlines(engine_s=1.0, state_s=0.3)
    locker = sqlite3.connect(data / "state.sqlite3", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # holds the write lock: ``hit`` waits for it
        started = time.monotonic()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        with pytest.raises(StateUnavailable):
            await deadlines.state(state.hit, 42, 60)
        ticker.cancel()
        assert time.monotonic() - started < 1.5
        assert ticks >= 3  # the loop kept running while the state call waited
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        deadlines.shutdown()
    state.close()
