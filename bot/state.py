"""The bot's small shared state: language choice, rate-limit counters, feedback counts.

It lives in one database for every process of a deployment (``KYR_STATE_URL``: SQLite under
``data_dir`` by default, PostgreSQL for several processes or machines), so a rate limit is exact
and ``/forget`` forgets everywhere at once. Every change is one atomic statement.

Chats are stored only as an HMAC-SHA256 of the chat id under a secret that is never stored beside
the data (see ``load_secret``): without the secret, a copy of the database cannot be matched to
chat ids, not even by trying every id. Stored per chat: the language it chose, and its rate-limit
counter (a whole-second window start, deleted once the window is over). Feedback is kept as
anonymous totals per (document, kind) and per (section, kind or reason); the "already counted"
marks are an HMAC of chat, document and kind together, so they cannot be grouped by chat. Questions
the documents could not answer are counted by (language, nearest section): a number, never the
text. No message text, name, username or chat id is ever written.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bot.db import StateError, create_engine, database_url, migrate, sqlite_path
from bot.settings import BotSettings

log = logging.getLogger(__name__)

FEEDBACK_KINDS = ("helpful", "not_helpful", "person")
#: Why an answer was not helpful (the buttons under a "not helpful" vote).
REASONS = ("wrong", "unclear", "out_of_date", "not_my_question")
#: The nearest topic of a question with no candidate section at all.
NO_TOPIC = "none"
#: Shortest accepted secret: an HMAC key must not be guessable.
MIN_SECRET_CHARS = 16
SECRET_FILE_NAME = "state-secret"

metadata = sa.MetaData()
language_table = sa.Table(
    "language",
    metadata,
    sa.Column("chat", sa.String(64), primary_key=True),
    sa.Column("lang", sa.String(8), nullable=False),
)
rate_table = sa.Table(
    "rate",
    metadata,
    sa.Column("chat", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)
feedback_table = sa.Table(
    "feedback",
    metadata,
    sa.Column("doc_id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
feedback_seen_table = sa.Table(
    "feedback_seen", metadata, sa.Column("vote", sa.String(64), primary_key=True)
)
section_feedback_table = sa.Table(
    "section_feedback",
    metadata,
    sa.Column("section", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
no_answer_table = sa.Table(
    "no_answer",
    metadata,
    sa.Column("lang", sa.String(8), primary_key=True),
    sa.Column("topic", sa.String(200), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
webhook_table = sa.Table(
    "webhook",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
)
#: Every table that holds something about a chat (the ``/forget`` and privacy tests walk these).
CHAT_TABLES = (language_table, rate_table, feedback_seen_table)


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def load_secret(settings: BotSettings) -> bytes:
    """The HMAC key for chat ids; never a file inside ``data_dir``.

    In order: ``KYR_STATE_SECRET``; the file ``KYR_STATE_SECRET_FILE`` (a mounted secret); for a
    SQLite state only (one machine), ``config_dir/state-secret``, generated 0600 on first use.
    A PostgreSQL state needs one of the first two, since every replica must use the same key.
    """
    if settings.state_secret is not None:
        secret = settings.state_secret.get_secret_value()
        source = "KYR_STATE_SECRET"
    elif settings.state_secret_file is not None:
        path = settings.state_secret_file
        if _inside(path, settings.data_dir):
            raise StateError("KYR_STATE_SECRET_FILE must not be inside KYR_DATA_DIR")
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise StateError(f"cannot read KYR_STATE_SECRET_FILE: {err}") from None
        source = "KYR_STATE_SECRET_FILE"
    elif sqlite_path(database_url(settings.state_database_url)) is None:
        raise StateError(
            "a shared state database needs KYR_STATE_SECRET or KYR_STATE_SECRET_FILE, the same "
            "on every replica (for example: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    else:
        secret = _local_secret(settings)
        source = str(settings.config_dir / SECRET_FILE_NAME)
    if len(secret) < MIN_SECRET_CHARS:
        raise StateError(f"the state secret ({source}) needs {MIN_SECRET_CHARS}+ characters")
    return secret.encode()


def _local_secret(settings: BotSettings) -> str:
    """``config_dir/state-secret``, created once (dir 0700, file 0600)."""
    directory = settings.config_dir
    if _inside(directory, settings.data_dir):
        raise StateError(
            "KYR_CONFIG_DIR must not be inside KYR_DATA_DIR (the secret would sit "
            "beside the data it protects)"
        )
    path = directory / SECRET_FILE_NAME
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as err:
        raise StateError(f"cannot create the state secret in {directory}: {err}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
        log.info("generated the state secret in the config directory")
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise StateError(f"cannot read the state secret: {err}") from None


class State:
    """Per-chat preferences and counters. Every method is one short transaction, thread-safe."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self._engine = engine
        self._secret = secret
        self._postgres = engine.dialect.name == "postgresql"
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    @classmethod
    def open(cls, settings: BotSettings, *, counts_only: bool = False) -> State:
        """The state of this deployment (``settings.state_database_url``), migrated to the newest
        schema. Raises ``StateError`` with a message for the operator.

        ``counts_only`` is for reading the anonymous totals (``python -m bot stats``): it needs
        no secret, so a throwaway key stands in and no chat's rows can be found with it.
        """
        secret = secrets.token_bytes(32) if counts_only else load_secret(settings)
        engine = create_engine(settings.state_database_url, settings.state_timeout_s)
        try:
            migrate(engine)
        except sa.exc.SQLAlchemyError as err:
            engine.dispose()
            raise StateError(f"the state database cannot be opened: {type(err).__name__}") from err
        except BaseException:
            engine.dispose()
            raise
        old_salt = settings.data_dir / "state.salt"
        if old_salt.exists():
            # The salt of the earlier version sat beside the data; its keys were reset above.
            old_salt.unlink()
        return cls(engine, secret)

    def close(self) -> None:
        """Close every connection."""
        self._engine.dispose()

    def key(self, chat_id: int) -> str:
        """The stored stand-in for a chat id."""
        return self._mac(f"chat:{chat_id}")

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    def language(self, chat_id: int) -> str | None:
        """The language this chat chose, if any."""
        query = sa.select(language_table.c.lang).where(language_table.c.chat == self.key(chat_id))
        with self._engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return str(value) if value is not None else None

    def set_language(self, chat_id: int, lang: str) -> None:
        """Remember the chat's language."""
        insert = self._insert(language_table).values(chat=self.key(chat_id), lang=lang)
        statement = insert.on_conflict_do_update(
            index_elements=[language_table.c.chat], set_={"lang": insert.excluded.lang}
        )
        with self._engine.begin() as conn:
            conn.execute(statement)

    def hit(self, chat_id: int, window_s: float, now: float | None = None) -> int:
        """Count one message in the chat's current fixed window; returns the count so far.

        One upsert, atomic in the database: concurrent hits from any number of processes are all
        counted (a window starts at a chat's first message and lasts ``window_s``).
        """
        second = math.floor(time.time() if now is None else now)
        expired = rate_table.c.window_start <= second - window_s
        insert = self._insert(rate_table).values(
            chat=self.key(chat_id), window_start=second, count=1
        )
        statement = insert.on_conflict_do_update(
            index_elements=[rate_table.c.chat],
            set_={
                "count": sa.case((expired, 1), else_=rate_table.c.count + 1),
                "window_start": sa.case((expired, second), else_=rate_table.c.window_start),
            },
        ).returning(rate_table.c.count)
        with self._engine.begin() as conn:
            count = int(conn.execute(statement).scalar_one())
        self._purge_expired(second, window_s)
        return count

    def _purge_expired(self, second: int, window_s: float) -> None:
        """Delete counters whose window is over (at most once a window per process): no row
        outlives the minute it is needed for."""
        with self._purge_lock:
            if second < self._next_purge:
                return
            self._next_purge = second + window_s
        with self._engine.begin() as conn:
            conn.execute(
                sa.delete(rate_table).where(rate_table.c.window_start <= second - window_s)
            )

    def _count(self, table: sa.Table, **key: str) -> sa.Executable:
        """An upsert that adds one to ``table``'s count for ``key`` (one atomic statement)."""
        insert = self._insert(table).values(**key, count=1)
        return insert.on_conflict_do_update(
            index_elements=[table.c[name] for name in key], set_={"count": table.c.count + 1}
        )

    def add_feedback(
        self, doc_id: str, kind: str, chat_id: int | None = None, section: str | None = None
    ) -> bool:
        """Add one to the anonymous count of ``kind`` for ``doc_id`` (``""`` = no document), and
        for ``section`` (a section key, ``en/doc-id#2``) when the button named one.

        With ``chat_id``, a chat's vote is counted at most once per document and kind; returns
        whether this one was counted.
        """
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback kind {kind!r}")
        statement = self._count(feedback_table, doc_id=doc_id, kind=kind)
        with self._engine.begin() as conn:
            if chat_id is not None:
                vote = self._mac(f"vote:{chat_id}:{doc_id}:{kind}")
                mark = (
                    self._insert(feedback_seen_table)
                    .values(vote=vote)
                    .on_conflict_do_nothing()
                    .returning(feedback_seen_table.c.vote)
                )
                if conn.execute(mark).first() is None:
                    return False
            conn.execute(statement)
            if section is not None:
                conn.execute(self._count(section_feedback_table, section=section, kind=kind))
        return True

    def add_reason(self, section: str, reason: str) -> None:
        """Add one to the anonymous count of ``reason`` (one of ``REASONS``) for ``section``."""
        if reason not in REASONS:
            raise ValueError(f"unknown feedback reason {reason!r}")
        with self._engine.begin() as conn:
            conn.execute(self._count(section_feedback_table, section=section, kind=reason))

    def section_feedback(self) -> dict[tuple[str, str], int]:
        """Votes and reasons by (section key, kind)."""
        t = section_feedback_table
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.section, t.c.kind, t.c.count)).all()
        return {(str(s), str(k)): int(c) for s, k, c in rows}

    def add_no_answer(self, lang: str, topic: str) -> None:
        """Count one question the documents could not answer, by its language and the nearest
        section (``NO_TOPIC`` when there was none). Only the count is stored."""
        with self._engine.begin() as conn:
            conn.execute(self._count(no_answer_table, lang=lang[:8], topic=topic[:200]))

    def no_answers(self) -> dict[tuple[str, str], int]:
        """Questions with no answer by (language, nearest section)."""
        t = no_answer_table
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.lang, t.c.topic, t.c.count)).all()
        return {(str(lang), str(topic)): int(c) for lang, topic, c in rows}

    def feedback(self) -> dict[tuple[str, str], int]:
        """All feedback counts by (doc_id, kind)."""
        query = sa.select(feedback_table.c.doc_id, feedback_table.c.kind, feedback_table.c.count)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return {(str(d), str(k)): int(c) for d, k, c in rows}

    def chats(self) -> int:
        """How many chats have some stored state (for admin counts)."""
        union = sa.union(sa.select(language_table.c.chat), sa.select(rate_table.c.chat)).subquery()
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(union)).scalar_one())

    def forget(self, chat_id: int) -> None:
        """Delete every row about this chat, in one transaction, for every replica at once."""
        key = self.key(chat_id)
        with self._engine.begin() as conn:
            conn.execute(sa.delete(language_table).where(language_table.c.chat == key))
            conn.execute(sa.delete(rate_table).where(rate_table.c.chat == key))
            voted = conn.execute(sa.select(feedback_table.c.doc_id, feedback_table.c.kind)).all()
            votes = [self._mac(f"vote:{chat_id}:{d}:{k}") for d, k in voted]
            if votes:
                conn.execute(
                    sa.delete(feedback_seen_table).where(feedback_seen_table.c.vote.in_(votes))
                )
        if not self._postgres:
            with self._engine.connect() as conn:
                # Fold the WAL into the file and empty it, so the deleted key is gone from both.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def claim_webhook(self, url: str, secret: str) -> bool:
        """True for the one process that should register this webhook URL and secret.

        The first replica to start with a new configuration claims it; the others, and later
        restarts with the same configuration, get False. Only an HMAC of the two is stored.
        """
        fingerprint = self._mac(f"webhook:{url}\n{secret}")
        insert = self._insert(webhook_table).values(id=1, fingerprint=fingerprint)
        statement = insert.on_conflict_do_update(
            index_elements=[webhook_table.c.id],
            set_={"fingerprint": insert.excluded.fingerprint},
            where=webhook_table.c.fingerprint != insert.excluded.fingerprint,
        ).returning(webhook_table.c.id)
        with self._engine.begin() as conn:
            return conn.execute(statement).first() is not None

    def release_webhook(self) -> None:
        """Forget the registered configuration (registration failed: let the next start retry)."""
        with self._engine.begin() as conn:
            conn.execute(sa.delete(webhook_table))
