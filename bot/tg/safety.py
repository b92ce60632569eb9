"""Fail-safe machinery for the Telegram handlers: deadlines, bounded work, limits, quiet logs.

- :class:`Deadlines` runs every engine and state call in its own bounded thread pool under a time
  limit, so a frozen Chroma server or a locked state database never blocks the event loop, and a
  stuck engine call never starves state calls (or the reverse).
- :func:`normalise` cuts and cleans a message *before* any detection: lone surrogates go, runs of
  combining marks are capped, and the text is cut to a fixed budget, so a hostile message costs
  about as much as an ordinary one.
- :class:`TapLimiter` and :class:`OnceEach` are small in-memory limits (taps per chat, one
  feedback count per chat and document). They hold chat ids only in memory, for a short time.
- :func:`quiet_library_logs` keeps PTB, httpx and tornado from ever logging update contents,
  request parameters or tracebacks (which may quote what a resident sent).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.engine import EngineUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A base character keeps at most this many combining marks (Vietnamese and Hindi need 2).
MAX_MARKS = 3


class EngineTimeout(EngineUnavailable):
    """An engine call passed its deadline (the index server may be frozen or overloaded)."""


class StateUnavailable(Exception):
    """A state call failed or passed its deadline; the caller goes on without it."""


def normalise(text: str, limit: int) -> str:
    """``text`` with lone surrogates replaced, at most :data:`MAX_MARKS` combining marks per
    character, NFC-composed, and cut to ``limit`` characters (the scan is bounded to a Telegram message
    (4096 characters) or eight times the limit)."""
    text = text[: max(limit * 8, 4096)].encode("utf-8", "replace").decode("utf-8")
    out: list[str] = []
    marks = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        out.append(ch)
        if len(out) >= limit * 2:
            break
    return unicodedata.normalize("NFC", "".join(out))[:limit]


class Deadlines:
    """Engine and state calls off the event loop, each under a deadline, in separate pools."""

    def __init__(self, engine_s: float, state_s: float, engine_workers: int = 4) -> None:
        self.engine_s = engine_s
        self.state_s = state_s
        self._engine = ThreadPoolExecutor(engine_workers, thread_name_prefix="kyr-engine")
        self._state = ThreadPoolExecutor(2, thread_name_prefix="kyr-state")
        self._state_warned = 0.0

    async def engine(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """``fn(*args)`` in the engine pool; :class:`EngineTimeout` when the deadline passes."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._engine, functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, timeout or self.engine_s)
        except TimeoutError as err:
            raise EngineTimeout(f"no answer from the index within {self.engine_s:g} s") from err

    async def state(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the state pool; :class:`StateUnavailable` on any failure or deadline.
        Logged at most once a minute, by exception type only."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._state, functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, self.state_s)
        except Exception as err:  # a locked, corrupt or missing database: go on without state
            now = time.monotonic()
            if now - self._state_warned > 60:
                self._state_warned = now
                log.warning("state unavailable (%s); answering without it", type(err).__name__)
            raise StateUnavailable(type(err).__name__) from err

    def shutdown(self) -> None:
        """Stop accepting work; running calls finish on their own (they have their own limits)."""
        self._engine.shutdown(wait=False, cancel_futures=True)
        self._state.shutdown(wait=False, cancel_futures=True)


class TapLimiter:
    """At most ``limit`` events per chat per ``window_s`` seconds, in memory (fixed window)."""

    def __init__(self, limit: int, window_s: float, max_chats: int = 100_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_chats = max_chats
        self._windows: OrderedDict[int, tuple[float, int]] = OrderedDict()

    def allow(self, chat_id: int, now: float | None = None) -> bool:
        """Count one event; False once the chat is past the limit in this window."""
        now = time.monotonic() if now is None else now
        start, count = self._windows.pop(chat_id, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        self._windows[chat_id] = (start, count + 1)
        while len(self._windows) > self.max_chats:
            self._windows.popitem(last=False)
        return count + 1 <= self.limit


class OnceEach:
    """Remembers (in memory, for ``ttl_s``) keys already seen, so an action counts once per key."""

    def __init__(self, ttl_s: float = 24 * 3600, max_keys: int = 200_000) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    def first(self, *key: Any) -> bool:
        """True the first time ``key`` is seen within the time to live."""
        now = time.monotonic()
        while self._seen and (
            len(self._seen) > self.max_keys or now - next(iter(self._seen.values())) > self.ttl_s
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def error_summary(err: BaseException) -> str:
    """An exception as its type and the code locations it passed, never its message or values
    (a message can quote what a resident sent, e.g. a ``KeyError`` of their text)."""
    frames = traceback.extract_tb(err.__traceback__)[-6:]
    where = " <- ".join(
        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames[::-1]
    )
    return f"{type(err).__name__} at {where}" if where else type(err).__name__


# -- library logs -------------------------------------------------------------------------------

#: Loggers of the libraries that may see update contents, request parameters or the token.
LIBRARY_LOGGERS = (
    "telegram",
    "telegram.Bot",
    "telegram.ext",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.Application",
    "telegram.ext.BaseUpdateProcessor",
    "telegram.ext.ConversationHandler",
    "telegram.ext.CallbackContext",
    "telegram.ext.JobQueue",
    "telegram.ext.AIORateLimiter",
    "telegram.request",
    "telegram.request.HTTPXRequest",
    "httpx",
    "httpcore",
    "tornado",
    "tornado.access",
    "tornado.application",
    "tornado.general",
)


class RedactLibraryRecords(logging.Filter):
    """Drops library records below WARNING (PTB's debug lines print whole updates and request
    parameters; httpx's info lines print URLs with the token) and reduces the rest to their
    fixed text: no arguments, no traceback, the exception's type only."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep only a content-free version of ``record``."""
        if record.levelno < logging.WARNING:
            return False
        if getattr(record, "_kyr_redacted", False):
            return True
        template = str(record.msg)
        if "%" in template:
            prefix = template.split("%", 1)[0].rstrip(" :!,.")
            template = f"{prefix or record.name} (details not logged)"
        if "Received data" in template or "received data" in template:
            template = "an update could not be parsed (content not logged)"
        if record.exc_info and record.exc_info[1] is not None:
            template += f" [{type(record.exc_info[1]).__name__}]"
        record.msg, record.args = template, ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record._kyr_redacted = True
        return True


_FILTER = RedactLibraryRecords()


def quiet_library_logs() -> None:
    """Install the redacting filter on every library logger that exists now or is named above
    (a logger's filters apply to records created on that logger, so each one gets it)."""
    names = set(LIBRARY_LOGGERS)
    names.update(
        name
        for name in logging.root.manager.loggerDict
        if name.split(".")[0] in ("telegram", "httpx", "httpcore", "tornado")
    )
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
