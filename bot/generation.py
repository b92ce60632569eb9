"""The index generation the bot answers from, and the swap to a newer one off the request path.

The first load happens when the first caller needs it (nothing to answer from before). After that
a caller always gets the loaded generation at once; every ``index_check_s`` seconds one background
thread looks at the pointer and, when ingest has switched it, loads the new generation and then
replaces the reference in one assignment. Questions keep being answered from the old one meanwhile;
a generation is never half-loaded for anyone.

A generation is loaded from its stored snapshot (:mod:`ingest.snapshot`), or, when there is none
here (built before snapshots existed, or ingested on another machine into a Chroma server), computed
from its chunks with one log line saying so, and kept for the next start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.corpus import Corpus
from bot.settings import BotSettings
from ingest import snapshot
from ingest.store import IndexError_, IndexInfo, IndexStore

log = logging.getLogger(__name__)


def load_corpus(store: IndexStore, info: IndexInfo, snapshot_dir: Path) -> Corpus:
    """The corpus of generation ``info``: from its stored snapshot, else computed from Chroma."""
    stored = None
    try:
        stored = snapshot.load(snapshot_dir, info.collection)
    except snapshot.SnapshotError as err:
        log.warning("the index snapshot is unusable (%s); computing it instead", err)
    if stored is not None:
        return Corpus.from_snapshot(info, stored)
    log.info(
        "index %s has no stored snapshot here: computing it from its chunks (and keeping it)",
        info.collection,
    )
    computed = snapshot.build_snapshot(info.collection, store.chunks(info, vectors=True))
    try:
        # a replica on another machine than ingest computes each generation once, not per start
        snapshot.save(computed, snapshot_dir)
    except OSError as err:
        log.warning("could not keep the computed index snapshot: %s", type(err).__name__)
    return Corpus.from_snapshot(info, computed)


class LiveCorpus:
    """Holds the loaded generation; checks for a new one in the background and swaps it in."""

    def __init__(self, settings: BotSettings, model_name: Callable[[], str]) -> None:
        self.settings = settings
        self.model_name = model_name
        self._current: Corpus | None = None
        self._store: IndexStore | None = None
        self._checked = 0.0
        self._lock = threading.Lock()  # one check or load at a time
        self._checking = False
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Corpus | None:
        """The loaded generation, if any (never blocks)."""
        return self._current

    def get(self, force: bool = False) -> Corpus:
        """The loaded generation; loads it first when there is none, or at once when ``force``.

        Raises :class:`~ingest.store.IndexError_` only when there is nothing to answer from.
        """
        current = self._current
        if current is None or force:
            with self._lock:
                if self._current is None or force:
                    self._refresh()
                assert self._current is not None
                return self._current
        if time.monotonic() - self._checked >= self.settings.index_check_s and not self._checking:
            self._checking = True
            self._thread = threading.Thread(
                target=self._check_in_background, name="kyr-index-check", daemon=True
            )
            self._thread.start()
        return current

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background check to finish (for tests and the benchmark)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _refresh(self) -> None:
        try:
            if self._store is None:
                self._store = IndexStore.connect(self.settings)
            info = self._store.require_active(self.model_name())
            if self._current is None or self._current.info.collection != info.collection:
                started = time.perf_counter()
                corpus = load_corpus(self._store, info, self.settings.snapshot_dir)
                self._current = corpus  # the swap: callers hold the old one until they finish
                log.info(
                    "Loaded index %s (%d chunks) in %.2f s",
                    info.collection,
                    info.chunks,
                    time.perf_counter() - started,
                )
            self._checked = time.monotonic()
        except IndexError_:
            self._store = None
            raise

    def _check_in_background(self) -> None:
        try:
            with self._lock:
                self._refresh()
        except IndexError_ as err:
            # the loaded generation is complete and vetted: keep answering from it
            log.warning("could not look for a new index (%s); keeping the loaded one", err)
            self._checked = time.monotonic()
        finally:
            self._checking = False
