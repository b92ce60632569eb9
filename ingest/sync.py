"""The build use case: validate, plan, embed what changed, and switch the index atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest import snapshot
from ingest.check import CheckReport, check
from ingest.chunking import chunk_documents
from ingest.embedder import create_embeddings, model_label
from ingest.lock import ingest_lock
from ingest.settings import IndexSettings
from ingest.store import IndexInfo, IndexStore, SyncPlan

log = logging.getLogger(__name__)


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
            if not dry_run:
                backfill_snapshot(settings, store)
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
            prepare=lambda new: write_snapshot(settings, store, new),
        )
        snapshot.remove_others(settings.snapshot_dir, {info.collection, info.previous})
    return BuildResult(plan, info, time.perf_counter() - started)


def write_snapshot(settings: IndexSettings, store: IndexStore, info: IndexInfo) -> None:
    """Store what the bot precomputes of a generation; without it the bot computes it on load.

    Built from the chunks as Chroma gives them back (it normalises stored vectors), exactly what
    the bot would compute from them, so both paths rank the same."""
    chunks = store.chunks(info, vectors=True)
    try:
        snapshot.save(snapshot.build_snapshot(info.collection, chunks), settings.snapshot_dir)
    except OSError as err:  # a full or read-only disk: the generation itself is complete
        log.warning("could not store the index snapshot (%s); the bot will compute it", err)


def backfill_snapshot(settings: IndexSettings, store: IndexStore) -> None:
    """Give the active generation its snapshot when it was built without one."""
    info = store.active()
    if info is None or snapshot.snapshot_path(settings.snapshot_dir, info.collection).is_file():
        return
    write_snapshot(settings, store, info)
