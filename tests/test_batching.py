"""Batched question embeddings: each caller gets its own vector, the same as embedding it alone; a
failing batch fails only its callers; a full queue says so at once instead of hanging."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bot.batching import BatchingEmbeddings, EmbeddingBusy
from ingest.embedder import E5Embeddings

QUESTIONS = [
    "Can Chicago police ask about my immigration status?",
    "¿Qué es una orden de detención (detainer)?",
    "Do I have to open the door to immigration agents?",
    "移民局在我家门口怎么办",
    "hola",
    "How do I find a lawyer for immigration? " * 40,  # longer than one model window
]


class FailingOn(E5Embeddings):
    """The real model, except that a batch holding ``poison`` raises (a model failure)."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if self.poison in texts:
            raise RuntimeError("the model failed on this batch")
        return super().embed_queries(texts)


class Held(E5Embeddings):
    """The real model, held at the door until the test opens it (a slow batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.entered.set()
        assert self.release.wait(60)
        return super().embed_queries(texts)


def _all_at_once(batcher: BatchingEmbeddings, texts: list[str]) -> list[list[float]]:
    start = threading.Barrier(len(texts))

    def ask(text: str) -> list[float]:
        start.wait()
        return batcher.embed_query(text)

    with ThreadPoolExecutor(len(texts)) as pool:
        futures = [pool.submit(ask, t) for t in texts]
        return [f.result(timeout=120) for f in futures]


def test_each_caller_gets_its_own_vector_identical_to_embedding_alone(
    real_embedder: E5Embeddings,
) -> None:
    texts = QUESTIONS * 4
    batcher = BatchingEmbeddings(E5Embeddings(), window_s=0.2, max_batch=64)
    got = _all_at_once(batcher, texts)
    alone = [real_embedder.embed_query(t) for t in texts]
    assert np.array_equal(np.asarray(got), np.asarray(alone))
    # they were embedded together, not one by one
    assert max(batcher.batch_sizes) > 1
    assert sum(size * n for size, n in batcher.batch_sizes.items()) == len(texts)


def test_batches_are_cut_at_the_limit(real_embedder: E5Embeddings) -> None:
    batcher = BatchingEmbeddings(real_embedder, window_s=0.2, max_batch=3)
    got = _all_at_once(batcher, QUESTIONS)
    assert max(batcher.batch_sizes) <= 3
    assert np.array_equal(np.asarray(got), np.asarray(real_embedder.embed_queries(QUESTIONS)))


def test_a_failing_batch_fails_only_its_callers_and_the_next_batches_work(
    real_embedder: E5Embeddings,
) -> None:
    batcher = BatchingEmbeddings(FailingOn("poison"), window_s=0.0)
    with pytest.raises(RuntimeError, match="failed on this batch"):
        batcher.embed_query("poison")
    # the collector survived: later questions are answered, with the right vectors
    after = _all_at_once(batcher, QUESTIONS[:3])
    assert np.array_equal(np.asarray(after), np.asarray(real_embedder.embed_queries(QUESTIONS[:3])))


def test_callers_batched_with_a_failure_get_the_error_not_a_hang() -> None:
    batcher = BatchingEmbeddings(FailingOn("poison"), window_s=0.5, max_batch=8)
    texts = ["poison", *QUESTIONS[:3]]
    start = threading.Barrier(len(texts))

    def ask(text: str) -> object:
        start.wait()
        try:
            return batcher.embed_query(text)
        except RuntimeError as err:
            return err

    with ThreadPoolExecutor(len(texts)) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(ask, t) for t in texts]]
    assert isinstance(results[0], RuntimeError)
    # whoever shared the poisoned batch got the same error; anyone in another batch a vector
    for result in results[1:]:
        assert isinstance(result, RuntimeError) or len(result) == 384  # type: ignore[arg-type]
    assert batcher.embed_query("hola") is not None


def test_a_full_queue_refuses_at_once_and_the_waiting_questions_still_finish(
    real_embedder: E5Embeddings,
) -> None:
    model = Held()
    batcher = BatchingEmbeddings(model, window_s=0.0, max_batch=1, max_waiting=2)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.embed_query, QUESTIONS[0])
        assert model.entered.wait(60)  # the collector holds the first question in the model
        waiting = [pool.submit(batcher.embed_query, q) for q in QUESTIONS[1:3]]
        while batcher._queue.qsize() < 2:  # both are in the queue
            threading.Event().wait(0.01)
        with pytest.raises(EmbeddingBusy, match="2 questions are already waiting"):
            batcher.embed_query(QUESTIONS[3])
        model.release.set()
        vectors = [f.result(timeout=120) for f in [first, *waiting]]
    assert np.array_equal(
        np.asarray(vectors), np.asarray(real_embedder.embed_queries(QUESTIONS[:3]))
    )


def test_batches_of_passages_and_many_questions_go_straight_to_the_model(
    real_embedder: E5Embeddings,
) -> None:
    batcher = BatchingEmbeddings(real_embedder)
    assert batcher.model_name == real_embedder.model_name
    assert batcher.embed_documents(QUESTIONS[:2]) == real_embedder.embed_documents(QUESTIONS[:2])
    assert batcher.embed_queries(QUESTIONS[:2]) == real_embedder.embed_queries(QUESTIONS[:2])
    assert not batcher.batch_sizes
