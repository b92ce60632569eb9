"""The shared state on a real database: SQLite files and a real PostgreSQL server (pgserver).

Both backends run the same tests: migrations from empty, exact rate limits under concurrent
processes, /forget removing everything, no chat id anywhere in the database, the HMAC secret kept
away from the data, and private SQLite files (WAL and SHM included).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from bot.db import StateError, create_engine, head_revision
from bot.settings import BotSettings
from bot.state import CHAT_TABLES, NO_TOPIC, State

SECRET = "test-secret-0123456789abcdef"
CHATS = (987_654_321_987, -1_001_234_567_890, 5_550_123_456)


def settings_for(url: str | None, data_dir: Path, **update: object) -> BotSettings:
    """Settings for a state at ``url`` (``None`` = SQLite under ``data_dir``) with ``SECRET``."""
    return BotSettings(data_dir=data_dir, state_url=url).model_copy(
        update={"state_secret": SecretStr(SECRET), **update}
    )


@pytest.fixture(params=["sqlite", "postgres"])
def state_settings(request: pytest.FixtureRequest, tmp_path: Path) -> BotSettings:
    """Settings of a fresh, empty state database of each kind."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return settings_for(url, tmp_path / "var")


@pytest.fixture
def state(state_settings: BotSettings) -> Iterator[State]:
    opened = State.open(state_settings)
    try:
        yield opened
    finally:
        opened.close()


def dump(settings: BotSettings) -> list[str]:
    """Every value in every table of the state database, as text."""
    engine = create_engine(settings.state_database_url, 5.0)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return [
                str(value)
                for table in meta.sorted_tables
                for row in conn.execute(sa.select(table))
                for value in row
            ]
    finally:
        engine.dispose()


def test_migrations_apply_from_empty(state_settings: BotSettings) -> None:
    first = State.open(state_settings)
    first.close()
    State.open(state_settings).close()  # a second start finds the schema current
    engine = create_engine(state_settings.state_database_url, 5.0)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert {"language", "rate", "feedback", "feedback_seen", "webhook"} <= tables
    assert {"no_answer", "section_feedback"} <= tables
    assert version == [(head_revision(),)]


def test_state_round_trip(state: State) -> None:
    chat, other = CHATS[:2]
    state.set_language(chat, "es")
    state.set_language(chat, "en")
    assert state.language(chat) == "en" and state.language(other) is None
    assert [state.hit(chat, 60, now=t) for t in (0, 30, 59.9, 60, 61)] == [1, 2, 3, 1, 2]
    assert state.hit(other, 60, now=61) == 1
    assert state.chats() == 2
    with pytest.raises(ValueError):
        state.add_feedback("doc", "<script>")
    assert state.add_feedback("doc", "helpful", chat) is True
    assert state.add_feedback("doc", "helpful", chat) is False  # counted once per chat
    assert state.add_feedback("doc", "helpful", other) is True
    assert state.add_feedback("doc", "person") is True
    assert state.feedback() == {("doc", "helpful"): 2, ("doc", "person"): 1}


def test_maintainer_counts_hold_no_text_and_no_chat(
    state: State, state_settings: BotSettings
) -> None:
    chat, other = CHATS[:2]
    state.add_no_answer("pl", "en/agents-at-home#2")
    state.add_no_answer("pl", "en/agents-at-home#2")
    state.add_no_answer("es", NO_TOPIC)
    section = "es/agents-at-home#1"
    assert state.add_feedback("agents-at-home", "not_helpful", chat, section) is True
    assert state.add_feedback("agents-at-home", "not_helpful", chat, section) is False
    assert state.add_feedback("agents-at-home", "helpful", other, section) is True
    state.add_reason(section, "out_of_date")
    state.add_reason(section, "out_of_date")
    state.add_reason("en/trust-act#0", "not_my_question")
    with pytest.raises(ValueError):
        state.add_reason(section, "rude")
    assert state.no_answers() == {("pl", "en/agents-at-home#2"): 2, ("es", NO_TOPIC): 1}
    assert state.section_feedback() == {
        (section, "not_helpful"): 1,
        (section, "helpful"): 1,
        (section, "out_of_date"): 2,
        ("en/trust-act#0", "not_my_question"): 1,
    }
    # the per-document totals are kept as before
    assert state.feedback() == {
        ("agents-at-home", "not_helpful"): 1,
        ("agents-at-home", "helpful"): 1,
    }
    # /forget removes the chat's marks and nothing of the anonymous counts
    state.forget(chat)
    assert state.no_answers()[("pl", "en/agents-at-home#2")] == 2
    assert state.section_feedback()[(section, "out_of_date")] == 2
    values = dump(state_settings)
    assert all(state.key(c) not in values for c in (chat, other))
    assert not [v for v in values for c in CHATS if str(abs(c)) in v]
    # a reader of the counts needs no secret, and cannot find any chat's rows
    reader = State.open(state_settings.model_copy(update={"state_secret": None}), counts_only=True)
    try:
        assert reader.no_answers() == state.no_answers()
        assert reader.section_feedback() == state.section_feedback()
        assert reader.key(other) != state.key(other)
    finally:
        reader.close()


def test_a_database_at_the_first_revision_is_upgraded(
    state_settings: BotSettings,
) -> None:
    """A deployment from before the counts: 0002 adds its tables and keeps every row."""
    from alembic import command
    from alembic.config import Config

    from bot.db import MIGRATIONS

    engine = create_engine(state_settings.state_database_url, 5.0)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            conn.execute(sa.text("INSERT INTO feedback VALUES ('trust-act', 'helpful', 4)"))
            assert "no_answer" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    state = State.open(state_settings)
    try:
        assert state.feedback() == {("trust-act", "helpful"): 4}
        state.add_no_answer("en", NO_TOPIC)
        assert state.no_answers() == {("en", NO_TOPIC): 1}
    finally:
        state.close()


def _hammer(url: str | None, data_dir: str, chat: int, hits: int, threads: int) -> list[int]:
    """In a separate process: ``hits`` rate-limit hits from ``threads`` threads; the counts."""
    opened = State.open(settings_for(url, Path(data_dir)))
    try:
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda _: opened.hit(chat, 3600), range(hits)))
    finally:
        opened.close()


def test_rate_limit_is_exact_across_processes(state: State, state_settings: BotSettings) -> None:
    """The audit lost 255 of 4,000 hits with two processes; an atomic upsert loses none."""
    chat, processes, hits = CHATS[0], 2, 300
    args = (state_settings.state_url, str(state_settings.data_dir), chat, hits, 4)
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_hammer, [args] * processes)
    counts = sorted(c for result in results for c in result)
    # every hit got its own number: none lost, none counted twice
    assert counts == list(range(1, processes * hits + 1))
    assert state.hit(chat, 3600) == processes * hits + 1


def test_forget_removes_everything_about_the_chat(
    state: State, state_settings: BotSettings
) -> None:
    chat, other = CHATS[:2]
    for who in (chat, other):
        state.set_language(who, "es")
        state.hit(who, 60)
        state.add_feedback("agents-at-home", "helpful", who)
        state.add_feedback("agents-at-home", "person", who)
    before = dump(state_settings)
    state.forget(chat)
    after = dump(state_settings)
    assert state.key(chat) in before and state.key(chat) not in after
    assert state.key(other) in after  # only this chat is forgotten
    assert state.language(chat) is None and state.chats() == 1
    assert state.feedback() == {("agents-at-home", "helpful"): 2, ("agents-at-home", "person"): 2}
    assert len(before) - len(after) == 2 + 3 + 2  # language, rate, two vote marks
    # the forgotten chat may vote again; the other one still may not
    assert state.add_feedback("agents-at-home", "helpful", chat) is True
    assert state.add_feedback("agents-at-home", "helpful", other) is False


def test_no_chat_id_anywhere_in_the_database(state: State, state_settings: BotSettings) -> None:
    for chat in CHATS:
        state.set_language(chat, "es")
        state.hit(chat, 60)
        state.add_feedback("doc", "helpful", chat)
    state.claim_webhook("https://example.org/hook", "webhook-secret")
    values = dump(state_settings)
    assert len(values) > 3 * len(CHATS)
    plain = {hashlib.sha256(str(c).encode()).hexdigest() for c in CHATS}
    for value in values:
        for chat in CHATS:
            assert str(chat) not in value and str(abs(chat)) not in value
        assert value not in plain and SECRET not in value and "webhook-secret" not in value
    stored = {row for table in CHAT_TABLES for row in values if len(row) == 64}
    assert {state.key(c) for c in CHATS} <= stored
    # a different secret gives unrelated keys: the secret, not the code, protects the ids
    other = State.open(state_settings.model_copy(update={"state_secret": SecretStr("z" * 32)}))
    try:
        assert all(other.key(c) != state.key(c) for c in CHATS)
        assert other.language(CHATS[0]) is None
    finally:
        other.close()


def test_webhook_is_claimed_once_per_configuration(state: State) -> None:
    assert state.claim_webhook("https://a.example/hook", "one") is True
    assert state.claim_webhook("https://a.example/hook", "one") is False
    assert state.claim_webhook("https://a.example/hook", "two") is True  # a new secret
    state.release_webhook()
    assert state.claim_webhook("https://a.example/hook", "two") is True


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    db = data / "state.sqlite3"
    # a WAL left world-readable by the earlier version is made private too
    (data / "state.sqlite3-wal").touch(mode=0o644)
    state = State.open(settings_for(None, data))
    try:
        state.set_language(CHATS[0], "es")
        state.hit(CHATS[0], 60)
        files = sorted(p.name for p in data.iterdir() if p.name.startswith("state.sqlite3"))
        assert {"state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"} <= set(files)
        for name in files:
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    finally:
        state.close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_the_secret_is_never_beside_the_data(tmp_path: Path) -> None:
    data, config = tmp_path / "var", tmp_path / "config"
    local = BotSettings(data_dir=data, config_dir=config)
    State.open(local).close()
    secret = config / "state-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert len(secret.read_text().strip()) >= 32
    assert not [p for p in data.rglob("*") if "secret" in p.name or "salt" in p.name]
    first = State.open(local)
    try:
        key = first.key(CHATS[0])
    finally:
        first.close()
    again = State.open(local)  # the generated secret is kept: keys are stable across restarts
    try:
        assert again.key(CHATS[0]) == key
    finally:
        again.close()
    with pytest.raises(StateError, match="inside KYR_DATA_DIR"):
        State.open(BotSettings(data_dir=data, config_dir=data / "config"))
    with pytest.raises(StateError, match="inside KYR_DATA_DIR"):
        State.open(BotSettings(data_dir=data, state_secret_file=data / "secret"))
    with pytest.raises(StateError, match="16"):
        State.open(local.model_copy(update={"state_secret": SecretStr("short")}))
    mounted = tmp_path / "run-secrets" / "kyr"
    mounted.parent.mkdir()
    mounted.write_text(SECRET + "\n")
    from_file = State.open(BotSettings(data_dir=data, state_secret_file=mounted))
    try:
        assert from_file.key(CHATS[0]) == State(from_file._engine, SECRET.encode()).key(CHATS[0])
    finally:
        from_file.close()


def test_a_shared_database_requires_a_configured_secret(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(StateError, match="KYR_STATE_SECRET"):
        State.open(BotSettings(data_dir=tmp_path / "var", state_url=postgres_url))
    assert not (tmp_path / "config").exists()  # no secret generated for a shared database


def test_bad_state_urls_are_explained(tmp_path: Path) -> None:
    for url in ("mysql://x/y", "not a url"):
        with pytest.raises(StateError, match="KYR_STATE_URL"):
            State.open(settings_for(url, tmp_path / "var"))
    down = "postgresql://nobody@/kyr?host=" + str(tmp_path)  # no server on this socket
    with pytest.raises(StateError, match="cannot be opened"):
        State.open(settings_for(down, tmp_path / "var", state_timeout_s=1.0))


def test_a_state_of_the_earlier_version_is_adopted(tmp_path: Path) -> None:
    """Old keys used a salt kept beside the data: they are reset, feedback totals are kept."""
    data = tmp_path / "var"
    data.mkdir()
    (data / "state.salt").write_text("old-salt")
    old = sqlite3.connect(data / "state.sqlite3")
    old.executescript(
        """
        CREATE TABLE language (chat TEXT PRIMARY KEY, lang TEXT NOT NULL);
        CREATE TABLE rate (chat TEXT PRIMARY KEY, window_start REAL NOT NULL, count INTEGER NOT NULL);
        CREATE TABLE feedback (doc_id TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
                               PRIMARY KEY (doc_id, kind));
        INSERT INTO language VALUES ('oldkey', 'es');
        INSERT INTO rate VALUES ('oldkey', 1.5, 3);
        INSERT INTO feedback VALUES ('agents-at-home', 'helpful', 7);
        """
    )
    old.close()
    settings = settings_for(None, data)
    state = State.open(settings)
    try:
        assert state.feedback() == {("agents-at-home", "helpful"): 7}
        assert state.chats() == 0
        assert "oldkey" not in dump(settings)
    finally:
        state.close()
    assert not (data / "state.salt").exists()
