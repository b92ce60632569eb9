"""The build use case: validate, plan, embed what changed, and switch the index atomically."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest.check import CheckReport, check
from ingest.chunking import chunk_documents
from ingest.embedder import create_embeddings, model_label
from ingest.lock import ingest_lock
from ingest.settings import IndexSettings
from ingest.store import IndexInfo, IndexStore, SyncPlan


class InvalidDocuments(Exception):
    """Validation failed; nothing was changed. ``report.errors`` lists each bad file."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(f"{len(report.errors)} document(s) have errors; the index was not changed")
        self.report = report


@dataclass
class BuildResult:
    """What a build did."""

    plan: SyncPlan
    info: IndexInfo | None  # the new index, or None when nothing was written
    seconds: float
    dry_run: bool = False


def question_embedder(embedder: Embeddings) -> Callable[[list[str]], list[list[float]]]:
    """Batch-embed texts on the model's question side (E5's "query:"), for question entries."""
    batch = getattr(embedder, "embed_queries", None)
    if callable(batch):
        return batch
    return lambda texts: [embedder.embed_query(t) for t in texts]


def default_embedder(settings: IndexSettings) -> Embeddings:
    """The configured local embedding model."""
    return create_embeddings(
        settings.embedding_model, settings.embedding_backend, settings.model_cache_dir
    )


def build(
    settings: IndexSettings,
    folder: Path | None = None,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    embedder: Embeddings | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: IndexStore | None = None,
) -> BuildResult:
    """Validate every document, then sync the index; the model loads only if something changed."""
    started = time.perf_counter()
    report = check(folder or settings.knowledge_dir, settings)
    if not report.ok:
        raise InvalidDocuments(report)
    model_name = (
        str(embedder.model_name)
        if embedder is not None and hasattr(embedder, "model_name")
        else model_label(settings.embedding_model)
    )
    with ExitStack() as held:
        # one ingest at a time: a file lock on this machine, and in server mode a lease kept in
        # the server itself, which every host ingesting into it sees
        held.enter_context(ingest_lock(settings.lock_path))
        store = store or IndexStore.connect(settings)
        guard = None
        if settings.chroma_url:
            guard = held.enter_context(store.ingest_lease()).check
        chunks = chunk_documents(report.documents)
        plan = store.plan(chunks, model_name, rebuild=rebuild)
        if dry_run or not plan.has_changes:
            return BuildResult(plan, None, time.perf_counter() - started, dry_run)
        embedder = embedder or default_embedder(settings)
        info = store.apply(
            plan,
            chunks,
            embedder.embed_documents,
            model_name,
            progress,
            question_embedder(embedder),
            guard,
        )
    return BuildResult(plan, info, time.perf_counter() - started)
