"""Conversation memory for chat front ends: the last few turns per chat, in process memory only.

A turn is the question (with personal details already masked by the engine) and the keys of the
sections it was answered with: what the engine needs for a follow-up, nothing else. Turns expire
after ``ttl_s`` seconds without a message, are never written to disk or logs, and ``forget``
drops a chat's turns at once. Chats are keyed by a hash of the chat id, so even a memory dump
does not list who talked to the bot.

A dozen lines of our own rather than a cache library: the two rules (keep the last N, expire on
idle) are all it needs, and the standard library's ``OrderedDict`` gives both cheaply.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.engine import Turn

#: A conversation is forgotten after this long without a message (issue: 15 minutes).
TTL_S = 15 * 60
#: Turns kept per chat (the engine reads the last one; more help nobody and cost memory).
TURNS = 3
#: Chats remembered at once; the least recently active is dropped first beyond this.
MAX_CHATS = 50_000


class Memory:
    """The last ``turns`` turns of each chat, expiring ``ttl_s`` seconds after its last message."""

    def __init__(
        self,
        ttl_s: float = TTL_S,
        turns: int = TURNS,
        max_chats: int = MAX_CHATS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.turns = turns
        self.max_chats = max_chats
        self.clock = clock
        self._salt = os.urandom(16)  # lives and dies with the process, like the turns
        self._chats: OrderedDict[bytes, tuple[float, list[Turn]]] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, chat_id: int | str) -> bytes:
        return hashlib.blake2b(str(chat_id).encode(), key=self._salt, digest_size=16).digest()

    def _expire(self, now: float) -> None:
        while self._chats:
            key, (seen, _) = next(iter(self._chats.items()))
            if now - seen < self.ttl_s and len(self._chats) <= self.max_chats:
                break
            del self._chats[key]

    def history(self, chat_id: int | str) -> list[Turn]:
        """The chat's remembered turns, oldest first (empty after expiry or ``forget``)."""
        with self._lock:
            self._expire(self.clock())
            entry = self._chats.get(self._key(chat_id))
            return list(entry[1]) if entry else []

    def add(self, chat_id: int | str, turn: Turn) -> None:
        """Remember a turn; the chat's idle clock restarts."""
        with self._lock:
            now = self.clock()
            key = self._key(chat_id)
            _, turns = self._chats.pop(key, (now, []))
            self._chats[key] = (now, [*turns, turn][-self.turns :])
            self._expire(now)

    def forget(self, chat_id: int | str) -> None:
        """Drop everything remembered about a chat."""
        with self._lock:
            self._chats.pop(self._key(chat_id), None)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._chats)
