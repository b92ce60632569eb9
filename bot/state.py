"""The bot's small persistent state in SQLite: language choice, rate-limit counters, feedback counts.

Chats are stored only as an HMAC-SHA256 of the chat id under a secret salt, so the file alone does
not say who used the bot. Feedback is kept as anonymous totals per (document, kind), with nothing
that links a count to a chat. No message text, name, username or chat id is ever written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from bot.settings import BotSettings

FEEDBACK_KINDS = ("helpful", "not_helpful", "person")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS language (chat TEXT PRIMARY KEY, lang TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rate (
    chat TEXT PRIMARY KEY, window_start REAL NOT NULL, count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    doc_id TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (doc_id, kind)
);
"""


def load_salt(settings: BotSettings) -> bytes:
    """The salt from settings, else the one kept in ``data_dir/state.salt`` (created 0600 once)."""
    if settings.state_salt is not None:
        return settings.state_salt.get_secret_value().encode()
    path = settings.data_dir / "state.salt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_bytes().strip()


class State:
    """Per-chat preferences and counters. Every method is one short query, safe from any thread."""

    def __init__(self, path: Path, salt: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._salt = salt
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten, not left in free pages, so /forget really forgets.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
        os.chmod(path, 0o600)

    @classmethod
    def open(cls, settings: BotSettings) -> State:
        """The state of this deployment, under ``settings.data_dir``."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.data_dir / "state.sqlite3", load_salt(settings))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def key(self, chat_id: int) -> str:
        """The stored stand-in for a chat id."""
        return hmac.new(self._salt, str(chat_id).encode(), hashlib.sha256).hexdigest()

    def language(self, chat_id: int) -> str | None:
        """The language this chat chose, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT lang FROM language WHERE chat = ?", (self.key(chat_id),)
            ).fetchone()
        return str(row[0]) if row else None

    def set_language(self, chat_id: int, lang: str) -> None:
        """Remember the chat's language."""
        with self._lock:
            self._db.execute(
                "INSERT INTO language (chat, lang) VALUES (?, ?) "
                "ON CONFLICT (chat) DO UPDATE SET lang = excluded.lang",
                (self.key(chat_id), lang),
            )

    def hit(self, chat_id: int, window_s: float, now: float | None = None) -> int:
        """Count one message in the chat's current fixed window; returns the count so far."""
        now = time.time() if now is None else now
        key = self.key(chat_id)
        with self._lock:
            row = self._db.execute(
                "SELECT window_start, count FROM rate WHERE chat = ?", (key,)
            ).fetchone()
            if row is None or now - float(row[0]) >= window_s:
                start, count = now, 1
            else:
                start, count = float(row[0]), int(row[1]) + 1
            self._db.execute(
                "INSERT INTO rate (chat, window_start, count) VALUES (?, ?, ?) "
                "ON CONFLICT (chat) DO UPDATE SET window_start = excluded.window_start, "
                "count = excluded.count",
                (key, start, count),
            )
        return count

    def add_feedback(self, doc_id: str, kind: str) -> None:
        """Add one to the anonymous count of ``kind`` for ``doc_id`` (``""`` = no document)."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"unknown feedback kind {kind!r}")
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (doc_id, kind, count) VALUES (?, ?, 1) "
                "ON CONFLICT (doc_id, kind) DO UPDATE SET count = count + 1",
                (doc_id, kind),
            )

    def feedback(self) -> dict[tuple[str, str], int]:
        """All feedback counts by (doc_id, kind)."""
        with self._lock:
            rows = self._db.execute("SELECT doc_id, kind, count FROM feedback").fetchall()
        return {(str(d), str(k)): int(c) for d, k, c in rows}

    def chats(self) -> int:
        """How many chats have some stored state (for admin counts)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM (SELECT chat FROM language UNION SELECT chat FROM rate)"
            ).fetchone()
        return int(row[0])

    def forget(self, chat_id: int) -> None:
        """Delete every row about this chat."""
        key = self.key(chat_id)
        with self._lock:
            self._db.execute("DELETE FROM language WHERE chat = ?", (key,))
            self._db.execute("DELETE FROM rate WHERE chat = ?", (key,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
